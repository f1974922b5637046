"""Login throttling (django-axes): five wrong passwords lock that username from that address, even for the right
password; other usernames are unaffected."""

import pytest
from axes.models import AccessAttempt
from django.urls import reverse

pytestmark = pytest.mark.django_db


@pytest.fixture
def throttled(settings):
    settings.AXES_ENABLED = True
    settings.AXES_FAILURE_LIMIT = 5
    yield
    AccessAttempt.objects.all().delete()


def _login(client, username, password):
    return client.post(reverse("login"), {"username": username, "password": password})


def test_login_five_wrong_passwords_locks_even_the_right_password(throttled, client, manager, password):
    for _ in range(4):
        response = _login(client, manager.username, "wrong-password")
        assert response.status_code == 200  # the form again, with its error
    locked = _login(client, manager.username, "wrong-password")
    assert locked.status_code == 429
    assert "Too many failed log-ins" in locked.content.decode()

    response = _login(client, manager.username, password)
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session
    assert client.get(reverse("campaigns:list")).status_code == 302  # still logged out


def test_login_lockout_does_not_lock_another_username(throttled, client, manager, editor, password):
    for _ in range(5):
        _login(client, manager.username, "wrong-password")

    response = _login(client, editor.username, password)
    assert response.status_code == 302
    assert client.get(reverse("campaigns:list")).status_code == 200


def test_login_success_before_the_limit_resets_the_count(throttled, client, manager, password):
    for _ in range(4):
        _login(client, manager.username, "wrong-password")
    assert _login(client, manager.username, password).status_code == 302
    client.post(reverse("logout"))
    for _ in range(4):
        assert _login(client, manager.username, "wrong-password").status_code == 200
