"""Security headers and cookies: what a browser gets on every HTML page, and what production settings turn on."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def pages(campaign):
    return [
        reverse("campaigns:list"),
        reverse("campaigns:detail", args=[campaign.pk]),
        reverse("campaigns:calendar"),
        reverse("campaigns:winddown_list"),
        reverse("campaigns:notifications"),
        reverse("reports:index"),
        reverse("campaigns:account_detail", args=[campaign.account_id]),
    ]


def test_html_pages_send_csp_without_unsafe_inline(login, manager, pages):
    client = login(manager)
    for url in pages:
        response = client.get(url)
        assert response.status_code == 200, url
        csp = response.headers["Content-Security-Policy"]
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp, url
        directives = dict(part.strip().split(" ", 1) for part in csp.split(";") if part.strip())
        assert directives["script-src"] == "'self'", url
        assert directives["style-src"] == "'self'", url
        assert directives["frame-ancestors"] == "'none'", url
        assert directives["object-src"] == "'none'", url


def test_html_pages_forbid_framing_and_sniffing(login, manager, pages):
    client = login(manager)
    for url in pages:
        response = client.get(url)
        assert response.headers["X-Frame-Options"] == "DENY", url
        assert response.headers["X-Content-Type-Options"] == "nosniff", url
        assert response.headers["Referrer-Policy"] == "same-origin", url
        assert response.headers["Cross-Origin-Opener-Policy"] == "same-origin", url


def test_login_page_has_headers_for_anonymous_visitors(client):
    response = client.get(reverse("login"))
    assert response.status_code == 200
    assert "unsafe-inline" not in response.headers["Content-Security-Policy"]
    assert response.headers["X-Frame-Options"] == "DENY"


def test_html_pages_contain_no_inline_script_or_style(login, manager, pages):
    client = login(manager)
    for url in pages:
        html = client.get(url).content.decode()
        # Every <script> has a src (json_script data blocks are type="application/json", not executed).
        for chunk in html.split("<script")[1:]:
            tag = chunk.split(">", 1)[0]
            assert "src=" in tag or 'type="application/json"' in tag, f"{url}: inline <script{tag}>"
        assert " style=" not in html, f"{url}: inline style attribute"
        assert " onclick=" not in html and " onload=" not in html, url


def test_session_cookie_httponly_and_samesite_after_login(client, manager, password):
    response = client.post(reverse("login"), {"username": manager.username, "password": password})
    assert response.status_code == 302
    cookie = response.cookies["sessionid"]
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Lax"
    assert int(cookie["max-age"]) <= 60 * 60 * 12  # sessions expire


def test_csrf_cookie_samesite_and_csrf_enforced(client, manager, campaign):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    strict.force_login(manager)
    response = strict.post(reverse("campaigns:bulk_action"), {"ids": campaign.pk, "action": "pause"})
    assert response.status_code == 403  # no CSRF token: refused, nothing changed
    campaign.refresh_from_db()
    assert campaign.status == "active"


PRODUCTION_PROBE = """
import json
import django
from django.conf import settings
django.setup()
print(json.dumps({
    "SESSION_COOKIE_SECURE": settings.SESSION_COOKIE_SECURE,
    "CSRF_COOKIE_SECURE": settings.CSRF_COOKIE_SECURE,
    "SESSION_COOKIE_HTTPONLY": settings.SESSION_COOKIE_HTTPONLY,
    "SECURE_HSTS_SECONDS": settings.SECURE_HSTS_SECONDS,
    "SECURE_HSTS_INCLUDE_SUBDOMAINS": settings.SECURE_HSTS_INCLUDE_SUBDOMAINS,
    "SECURE_SSL_REDIRECT": settings.SECURE_SSL_REDIRECT,
    "DEBUG": settings.DEBUG,
    "X_FRAME_OPTIONS": settings.X_FRAME_OPTIONS,
    "CSP": " ".join(" ".join(v) for v in settings.SECURE_CSP.values()),
}))
"""


def _production(env_overrides):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_URL", "EMAIL_URL"))}
    env.update({"DJANGO_SETTINGS_MODULE": "config.settings.production", **env_overrides})
    return subprocess.run(  # noqa: S603 -- fixed argv, our own interpreter
        [sys.executable, "-c", PRODUCTION_PROBE], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )


def test_production_settings_secure_cookies_and_hsts():
    result = _production(
        {
            "DJANGO_SECRET_KEY": "x" * 60,
            "DJANGO_ALLOWED_HOSTS": "closeout.example",
            "DATABASE_URL": "sqlite:///:memory:",
            "EMAIL_URL": "smtp+tls://mailer@smtp.example:587",
            "CACHE_URL": "rediscache://cache.example:6379/0",
        }
    )
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout.strip().splitlines()[-1])
    assert values["SESSION_COOKIE_SECURE"] and values["CSRF_COOKIE_SECURE"] and values["SESSION_COOKIE_HTTPONLY"]
    assert values["SECURE_HSTS_SECONDS"] >= 60 * 60 * 24 * 365
    assert values["SECURE_HSTS_INCLUDE_SUBDOMAINS"] and values["SECURE_SSL_REDIRECT"]
    assert values["DEBUG"] is False and values["X_FRAME_OPTIONS"] == "DENY"
    assert "unsafe-inline" not in values["CSP"]


def test_production_settings_refuse_to_start_without_a_secret_key():
    result = _production({"DJANGO_ALLOWED_HOSTS": "closeout.example", "DATABASE_URL": "sqlite:///:memory:"})
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY" in result.stderr


def test_production_settings_refuse_to_start_without_a_shared_cache_url():
    result = _production(
        {
            "DJANGO_SECRET_KEY": "x" * 60,
            "DJANGO_ALLOWED_HOSTS": "closeout.example",
            "DATABASE_URL": "sqlite:///:memory:",
            "EMAIL_URL": "smtp+tls://mailer@smtp.example:587",
        }
    )
    assert result.returncode != 0
    assert "CACHE_URL" in result.stderr


@pytest.mark.parametrize("backend", ["locmem.LocMemCache", "dummy.DummyCache"])
def test_system_check_refuses_a_per_process_cache_where_a_shared_one_is_required(settings, backend):
    from django.core.management import call_command
    from django.core.management.base import SystemCheckError

    settings.CLOSEOUT_REQUIRE_SHARED_CACHE = True
    settings.CACHES = {"default": {"BACKEND": f"django.core.cache.backends.{backend}"}}
    with pytest.raises(SystemCheckError, match="closeout.E001"):
        call_command("check", "--deploy")


def test_system_check_accepts_redis_memcached_and_database_caches(settings):
    from config.checks import shared_cache_check

    settings.CLOSEOUT_REQUIRE_SHARED_CACHE = True
    for backend in ("redis.RedisCache", "memcached.PyMemcacheCache", "db.DatabaseCache"):
        settings.CACHES = {"default": {"BACKEND": f"django.core.cache.backends.{backend}"}}
        assert shared_cache_check() == [], backend
    settings.CLOSEOUT_REQUIRE_SHARED_CACHE = False  # local and test settings: one process, local memory is fine
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    assert shared_cache_check() == []


# --- Permissions-Policy and Cache-Control (issue 14) ---


def _policy(response) -> dict:
    return dict(part.strip().split("=", 1) for part in response.headers["Permissions-Policy"].split(","))


def test_pages_switch_off_browser_features_they_do_not_use(login, manager, pages, client):
    responses = [login(manager).get(url) for url in pages]
    client.logout()
    responses.append(client.get(reverse("login")))
    for response in responses:
        policy = _policy(response)
        for feature in ("camera", "microphone", "geolocation", "payment", "usb"):
            assert policy[feature] == "()", (response.request["PATH_INFO"], feature)
        assert policy["clipboard-write"] == "(self)"  # "copy the announcement" on the wind-down page


def test_authenticated_pages_are_private_and_not_stored(login, manager, pages):
    client = login(manager)
    for url in pages:
        assert client.get(url).headers["Cache-Control"] == "private, no-store", url
    htmx = client.get(reverse("campaigns:list"), headers={"HX-Request": "true"})
    assert htmx.headers["Cache-Control"] == "private, no-store"


def test_anonymous_pages_without_their_own_caching_get_no_cache_control(client):
    assert "Cache-Control" not in client.get(reverse("healthz")).headers
    assert "no-store" in client.get(reverse("login")).headers["Cache-Control"]  # Django's own never_cache


def test_report_exports_are_private_and_not_stored(login, manager, ended_campaign):
    client = login(manager)
    for name in ("reports:export_daily", "reports:export_content", "reports:export_metrics", "reports:export_pdf"):
        response = client.get(reverse(name, args=[ended_campaign.pk]))
        assert response.status_code == 200, name
        assert response.headers["Cache-Control"] == "private, no-store", name


def test_share_link_downloads_are_not_stored_and_the_page_keeps_its_revalidation(manager, ended_campaign, client):
    from reports import services as report_services

    _, secret = report_services.share_link_create(report=ended_campaign.close_report, actor=manager, label="Brand")
    for name in ("share:daily_csv", "share:content_csv", "share:pdf"):
        response = client.get(reverse(name, args=[secret]))
        assert response.status_code == 200, name
        assert response.headers["Cache-Control"] == "private, no-store", name

    page = client.get(reverse("share:page", args=[secret]))
    assert page.headers["Cache-Control"] == "private, no-cache"  # kept, so the browser revalidates
    again = client.get(reverse("share:page", args=[secret]), headers={"If-None-Match": page.headers["ETag"]})
    assert again.status_code == 304
    # A signed-in manager previewing the link gets the page's own caching too.
    client.force_login(manager)
    assert client.get(reverse("share:page", args=[secret])).headers["Cache-Control"] == "private, no-cache"
