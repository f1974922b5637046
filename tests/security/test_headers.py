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
