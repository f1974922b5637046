"""The sign-in backend (campaigns.auth, issue 19): the user comes from the session with the bell's unread count, so
no signed-in page counts notifications in a query of its own; sessions made by Django's ModelBackend still work;
a wrong password is checked once."""

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from campaigns.models import Notification, NotificationKind

pytestmark = pytest.mark.django_db
BELL = '<span class="bell-count">{}<span class="visually-hidden"> unread</span>'


@pytest.fixture
def unread_two(editor):
    for title in ("One", "Two"):
        Notification.objects.create(recipient=editor, kind=NotificationKind.STATUS_CHANGED, title=title)
    Notification.objects.create(
        recipient=editor, kind=NotificationKind.STATUS_CHANGED, title="Read", read_at=timezone.now()
    )


COUNT_UNREAD = 'SELECT COUNT(*) AS "__count" FROM "campaigns_notification"'


def _notification_counts(queries) -> list[str]:
    return [q["sql"] for q in queries if q["sql"].startswith(COUNT_UNREAD)]


def test_the_bell_count_comes_with_the_user_not_a_query_of_its_own(client, editor, account, unread_two, password):
    assert client.login(username=editor.username, password=password)
    with CaptureQueriesContext(connection) as queries:
        html = client.get(reverse("home")).content.decode()
    assert BELL.format(2) in html
    assert _notification_counts(queries) == []  # the count is a subquery of the user's query
    user_queries = [q["sql"] for q in queries if 'FROM "auth_user"' in q["sql"]]
    assert len(user_queries) == 1 and "campaigns_notification" in user_queries[0]


def test_a_session_made_by_djangos_model_backend_still_signs_in_and_counts(client, editor, account, unread_two):
    client.force_login(editor, backend="django.contrib.auth.backends.ModelBackend")
    with CaptureQueriesContext(connection) as queries:
        html = client.get(reverse("home")).content.decode()
    assert BELL.format(2) in html and "Log in" not in html
    assert len(_notification_counts(queries)) == 1  # the lazy COUNT, as before


def test_a_wrong_password_is_checked_once_and_refused(client, editor, password, monkeypatch):
    checked = []
    original = User.check_password
    monkeypatch.setattr(User, "check_password", lambda self, raw: checked.append(raw) or original(self, raw))
    response = client.post(reverse("login"), {"username": editor.username, "password": "not the password"})
    assert response.status_code == 200 and "_auth_user_id" not in client.session
    assert checked == ["not the password"]  # ModelBackend, listed after UserBackend for old sessions, never re-hashes
    assert client.login(username=editor.username, password=password)
    assert client.session["_auth_user_backend"] == "campaigns.auth.UserBackend"


def test_a_deactivated_user_is_signed_out(client, editor, account):
    client.force_login(editor)
    User.objects.filter(pk=editor.pk).update(is_active=False)
    response = client.get(reverse("home"))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
