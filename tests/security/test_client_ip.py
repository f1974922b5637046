"""The client's address behind a proxy (config.client_ip): one function for the login lockout and the rate limits.
Off by default, so a header any client can send is never believed unless the operator says a proxy sets it."""

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.core.cache import cache
from django.test import RequestFactory
from django.urls import reverse

from config.client_ip import client_ip


def _request(remote="10.0.0.1", **headers):
    return RequestFactory().get("/", REMOTE_ADDR=remote, headers=headers)


@pytest.fixture
def behind_proxy(settings):
    settings.CLOSEOUT_TRUSTED_PROXY_HEADER = "X-Forwarded-For"
    settings.CLOSEOUT_TRUSTED_PROXY_COUNT = 1
    return settings


def test_both_throttles_ask_the_same_function():
    assert settings.AXES_CLIENT_IP_CALLABLE == "config.client_ip.client_ip"
    assert settings.RATELIMIT_IP_META_KEY == "config.client_ip.client_ip"


def test_forwarded_header_is_ignored_by_default():
    assert settings.CLOSEOUT_TRUSTED_PROXY_HEADER == ""
    assert client_ip(_request(x_forwarded_for="203.0.113.9")) == "10.0.0.1"


def test_one_trusted_proxy_takes_the_address_it_appended(behind_proxy):
    assert client_ip(_request(x_forwarded_for="203.0.113.9")) == "203.0.113.9"
    # A client sending its own X-Forwarded-For only adds entries to the left of what the proxy appended.
    assert client_ip(_request(x_forwarded_for="1.2.3.4, 203.0.113.9")) == "203.0.113.9"
    assert client_ip(_request(x_forwarded_for="2001:db8::1")) == "2001:db8::1"


def test_two_trusted_proxies_count_two_from_the_right(behind_proxy):
    behind_proxy.CLOSEOUT_TRUSTED_PROXY_COUNT = 2
    assert client_ip(_request(x_forwarded_for="1.2.3.4, 203.0.113.9, 10.0.0.2")) == "203.0.113.9"
    assert client_ip(_request(x_forwarded_for="203.0.113.9")) == "203.0.113.9"  # came in past the outer proxy


def test_missing_or_malformed_header_falls_back_to_the_connection(behind_proxy):
    assert client_ip(_request()) == "10.0.0.1"
    assert client_ip(_request(x_forwarded_for="")) == "10.0.0.1"
    assert client_ip(_request(x_forwarded_for="not-an-address")) == "10.0.0.1"
    behind_proxy.CLOSEOUT_TRUSTED_PROXY_HEADER = "X-Real-IP"
    assert client_ip(_request(x_real_ip="198.51.100.4")) == "198.51.100.4"


@pytest.fixture
def throttled(settings):
    settings.AXES_ENABLED = True
    settings.AXES_FAILURE_LIMIT = 5
    cache.clear()
    yield
    AccessAttempt.objects.all().delete()
    cache.clear()


def _login(client, username, password, address):
    return client.post(
        reverse("login"), {"username": username, "password": password}, headers={"x-forwarded-for": address}
    )


def _fail_five_times(client, username, address):
    for _ in range(5):
        _login(client, username, "wrong", address)


@pytest.mark.django_db
def test_behind_the_proxy_one_client_cannot_lock_a_username_for_everybody(
    throttled, behind_proxy, client, manager, password
):
    # Every request comes from the proxy's address; the lockout follows the client's.
    _fail_five_times(client, manager.username, "203.0.113.66")
    assert AccessAttempt.objects.get().ip_address == "203.0.113.66"
    assert _login(client, manager.username, password, "198.51.100.5").status_code == 302


@pytest.mark.django_db
def test_without_the_setting_a_forged_header_does_not_escape_the_lockout(throttled, client, manager, password):
    _fail_five_times(client, manager.username, "203.0.113.66")
    assert _login(client, manager.username, password, "198.51.100.5").status_code == 429


@pytest.mark.django_db
def test_share_password_limit_follows_the_same_client_address(
    throttled, behind_proxy, ratelimit_clock, client, ended_campaign, manager
):
    from reports import services

    _, secret = services.share_link_create(
        report=ended_campaign.close_report, actor=manager, label="Brand", password="open-sesame-42"
    )
    url = reverse("share:unlock", args=[secret])
    for _ in range(5):
        client.post(url, {"password": "wrong"}, headers={"x-forwarded-for": "203.0.113.66"})
    assert client.post(url, {"password": "wrong"}, headers={"x-forwarded-for": "203.0.113.66"}).status_code == 429
    assert (
        client.post(url, {"password": "open-sesame-42"}, headers={"x-forwarded-for": "198.51.100.5"}).status_code == 302
    )
