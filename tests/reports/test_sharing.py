"""Share links: the public page, expiry, revoke, rotate, password and its cookie, no oracle, no leaks, headers,
conditional GET and query counts, and the manager's share panel."""

import datetime as dt

import pytest
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone

from reports import services
from reports.models import ShareLink, ShareLinkEvent, ShareLinkView
from reports.views.public import UNLOCK_COOKIE
from tests.factories import CampaignFactory

from .conftest import campaign_end, metrics_generate

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _clear_cache():
    cache.clear()  # rate limits and cached bodies are kept in the cache
    yield
    cache.clear()


def _link(report, manager, **kwargs):
    return services.share_link_create(report=report, actor=manager, label=kwargs.pop("label", "Brand team"), **kwargs)


def _page(secret):
    return reverse("share:page", args=[secret])


def test_share_link_secret_is_long_and_stored_hashed(ended_report, manager):
    _, report = ended_report
    link, secret = _link(report, manager)
    assert len(secret) >= 32  # 256 random bits, url-safe base64
    assert link.secret_hash == services.share_secret_hash(secret)
    assert secret not in str(ShareLink.objects.filter(pk=link.pk).values().get())
    assert ShareLinkEvent.objects.filter(link=link, kind="created", actor=manager).exists()


def test_public_page_shows_report_without_login_with_safe_headers(ended_report, manager, client):
    campaign, report = ended_report
    _, secret = _link(report, manager)
    response = client.get(_page(secret))
    html = response.content.decode()
    assert response.status_code == 200
    assert "Spring Glow" in html and f"{report.video_views:,}" in html
    assert 'name="robots" content="noindex' in html
    assert response["X-Robots-Tag"].startswith("noindex")
    # same-origin, not no-referrer, because the page has a form (see reports.views.public._public_headers)
    assert response["Referrer-Policy"] == "same-origin"
    assert "private" in response["Cache-Control"]
    for chart in ("chart-daily-data", "chart-followers-data", "chart-spend-data", "chart-mix-data"):
        assert f'data-chart="{chart}"' in html and f'id="{chart}"' in html
    # No navigation into the app, no edit controls, nothing of the comparison.
    assert "/campaigns/" not in html and "/reports/" not in html and "/admin/" not in html
    assert "Edit lessons" not in html and "Log out" not in html
    assert "Compared with the account" not in html


def test_public_page_shows_no_other_campaign_data(ended_report, manager, client, django_capture_on_commit_callbacks):
    campaign, report = ended_report
    sibling = CampaignFactory(account=campaign.account, name="Sibling Winter Drop")
    metrics_generate(sibling, days=3, content=1, seed=7)
    with django_capture_on_commit_callbacks(execute=True):
        campaign_end(sibling, manager)
    CampaignFactory(name="Secret Other Launch")
    services.lessons_save(
        report=report, author=manager, base_revision_id=None, what_worked="Duets", what_to_change="", next_steps=""
    )
    _, secret = _link(report, manager)
    html = client.get(_page(secret)).content.decode()
    assert "Sibling Winter Drop" not in html and "Secret Other Launch" not in html
    assert "Duets" not in html  # team notes are off unless the link shows them
    _, with_notes = _link(report, manager, show_team_notes=True)
    assert "Duets" in client.get(_page(with_notes)).content.decode()


def test_public_page_escapes_campaign_name(campaign, manager, client, django_capture_on_commit_callbacks):
    campaign.name = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    campaign.save(update_fields=["name"])
    metrics_generate(campaign, days=3, content=1)
    with django_capture_on_commit_callbacks(execute=True):
        campaign_end(campaign, manager)
    campaign.refresh_from_db()
    _, secret = _link(campaign.close_report, manager)
    html = client.get(_page(secret)).content.decode()
    assert "<script>alert" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert" in html


def test_wrong_secret_unknown_revoked_expired_are_identical(ended_report, manager, client):
    _, report = ended_report
    revoked, revoked_secret = _link(report, manager, label="Revoked")
    services.share_link_revoke(link=revoked, actor=manager)
    _, expired_secret = _link(report, manager, label="Expired", expires_at=timezone.now() - dt.timedelta(seconds=1))
    responses = [client.get(_page(s)) for s in (revoked_secret, expired_secret, "x" * 43, "nope", "a" * 500)]
    assert {r.status_code for r in responses} == {404}
    assert len({r.content for r in responses}) == 1
    assert b"expired or was revoked" in responses[0].content
    assert responses[0]["Referrer-Policy"] == "no-referrer"
    assert len({tuple(sorted((k, v) for k, v in r.headers.items() if k != "Date")) for r in responses}) == 1
    assert "Set-Cookie" not in responses[0].headers
    for name in ("share:daily_csv", "share:content_csv", "share:pdf"):
        assert client.get(reverse(name, args=[revoked_secret])).content == responses[0].content


def test_expiry_in_the_future_works_until_it_passes(ended_report, manager, client):
    _, report = ended_report
    link, secret = _link(report, manager, expires_at=timezone.now() + dt.timedelta(days=1))
    assert client.get(_page(secret)).status_code == 200
    ShareLink.objects.filter(pk=link.pk).update(expires_at=timezone.now() - dt.timedelta(minutes=1))
    assert client.get(_page(secret)).status_code == 404


def test_rotate_kills_old_secret_and_audits(ended_report, manager, login):
    campaign, report = ended_report
    link, old = _link(report, manager)
    response = login(manager).post(reverse("reports:share_rotate", args=[campaign.pk, link.pk]))
    assert response.status_code == 200
    new = (
        response.content.decode()
        .split("data-share-url")[0]
        .rsplit('value="', 1)[1]
        .split('"')[0]
        .rsplit("/s/", 1)[1]
        .strip("/")
    )
    assert new != old
    assert login(manager).get(_page(old)).status_code == 404
    assert login(manager).get(_page(new)).status_code == 200
    link.refresh_from_db()
    assert link.rotated_by == manager and link.rotated_at is not None
    assert list(link.events.values_list("kind", flat=True)) == ["rotated", "created"]


def test_revoke_in_the_panel_stops_the_link(ended_report, manager, login):
    campaign, report = ended_report
    link, secret = _link(report, manager)
    client = login(manager)
    response = client.post(reverse("reports:share_revoke", args=[campaign.pk, link.pk]))
    assert response.status_code == 302
    assert client.get(_page(secret)).status_code == 404
    link.refresh_from_db()
    assert link.revoked_by == manager
    # A second click is a quiet no-op: still one audit row.
    client.post(reverse("reports:share_revoke", args=[campaign.pk, link.pk]), HTTP_HX_REQUEST="true")
    assert link.events.filter(kind="revoked").count() == 1


def test_revoke_by_htmx_returns_panel_and_event(ended_report, manager, login):
    campaign, report = ended_report
    link, _ = _link(report, manager, label="For the CMO")
    response = login(manager).post(reverse("reports:share_revoke", args=[campaign.pk, link.pk]), HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert response.status_code == 200 and "shareLinksChanged" in response["HX-Trigger"]
    assert 'id="share-panel"' in html and "revoked" in html and "<html" not in html


def test_create_link_shows_url_once_and_panel_lists_it(ended_report, manager, login):
    campaign, report = ended_report
    client = login(manager)
    response = client.post(
        reverse("reports:share_create", args=[campaign.pk]),
        {"share-label": "Brand team", "share-expiry": "7", "share-allow_feedback": "on"},
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "/s/" in html and "Copy link" in html
    link = ShareLink.objects.get(report=report)
    assert link.created_by == manager and link.allow_feedback and not link.has_password
    assert abs(link.expires_at - (timezone.now() + dt.timedelta(days=7))) < dt.timedelta(minutes=1)
    detail = client.get(reverse("reports:detail", args=[campaign.pk])).content.decode()
    assert "Brand team" in detail and 'id="share-links"' in detail
    assert "/s/" not in detail  # the secret is never shown again


def test_create_link_bad_input_is_a_clear_message(ended_report, manager, login):
    campaign, _ = ended_report
    response = login(manager).post(
        reverse("reports:share_create", args=[campaign.pk]),
        {"share-label": "", "share-expiry": "date", "share-expires_on": "2001-01-01", "share-password": "short"},
    )
    html = response.content.decode()
    assert response.status_code == 400
    assert "This field is required." in html and "Pick today or a later day." in html
    assert "at least 8 characters" in html
    assert not ShareLink.objects.exists()


def test_share_panel_is_for_managers_only(ended_report, manager, viewer, login):
    campaign, report = ended_report
    _link(report, manager)
    html = login(viewer).get(reverse("reports:detail", args=[campaign.pk])).content.decode()
    assert 'id="share-panel"' not in html
    response = login(viewer).post(reverse("reports:share_create", args=[campaign.pk]), {"share-label": "x"})
    assert response.status_code == 403


def test_password_form_then_cookie_scoped_to_link(ended_report, manager, client):
    _, report = ended_report
    link_a, secret_a = _link(report, manager, label="A", password="open sesame")
    link_b, secret_b = _link(report, manager, label="B", password="open sesame")
    locked = client.get(_page(secret_a))
    assert locked.status_code == 200 and b'name="password"' in locked.content and b"chart-daily" not in locked.content
    assert client.get(reverse("share:daily_csv", args=[secret_a])).status_code == 302

    wrong = client.post(reverse("share:unlock", args=[secret_a]), {"password": "nope"})
    assert wrong.status_code == 400 and b"not right" in wrong.content
    ok = client.post(reverse("share:unlock", args=[secret_a]), {"password": "open sesame"})
    assert ok.status_code == 302
    cookie = ok.cookies[UNLOCK_COOKIE]
    assert cookie["path"] == _page(secret_a) and cookie["httponly"] and int(cookie["max-age"]) == 24 * 3600
    assert b"chart-daily" in client.get(_page(secret_a)).content
    # The test client sends every cookie whatever its path: link A's cookie still must not open link B.
    assert b'name="password"' in client.get(_page(secret_b)).content
    # Rotating A kills its cookie too.
    new_a = services.share_link_rotate(link=link_a, actor=manager)
    assert b'name="password"' in client.get(_page(new_a)).content


def test_wrong_passwords_are_throttled(ended_report, manager, client, ratelimit_clock):
    _, report = ended_report
    _, secret = _link(report, manager, password="open sesame")
    url = reverse("share:unlock", args=[secret])
    statuses = [client.post(url, {"password": f"guess {i}"}).status_code for i in range(6)]
    assert statuses == [400] * 5 + [429]
    # Even the right password waits out the cool-off.
    assert client.post(url, {"password": "open sesame"}).status_code == 429


def test_views_are_counted_with_coarse_agent_and_no_ip(ended_report, manager, client, login):
    campaign, report = ended_report
    link, secret = _link(report, manager)
    android = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 Chrome/130.0 Mobile Safari/537.36"
    client.get(_page(secret), HTTP_USER_AGENT=android)
    client.get(
        _page(secret),
        HTTP_USER_AGENT="Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) Mobile/15E148 Safari/604.1",
    )
    link.refresh_from_db()
    assert link.view_count == 2 and link.last_viewed_at is not None
    assert sorted(ShareLinkView.objects.values_list("agent", flat=True)) == ["Chrome on Android", "Safari on iOS"]
    assert {f.name for f in ShareLinkView._meta.fields} == {"id", "link", "viewed_at", "agent"}
    panel = login(manager).get(reverse("reports:detail", args=[campaign.pk])).content.decode()
    row = panel.split(f'data-share-link="{link.pk}"')[1].split("</tr>")[0]
    assert '<td class="num">2</td>' in row


@pytest.mark.parametrize(
    ("agent", "family"),
    [
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/130.0 Safari/537.36 Edg/130.0",
            "Edge on Windows",
        ),
        ("Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0; rv:131.0) Gecko/20100101 Firefox/131.0", "Firefox on macOS"),
        ("Googlebot/2.1 (+http://www.google.com/bot.html)", "Bot or script"),
        ("", "Unknown"),
    ],
)
def test_user_agent_family(agent, family):
    assert services.user_agent_family(agent) == family


def test_conditional_get_answers_304_in_one_query(ended_report, manager, client, django_assert_num_queries):
    _, report = ended_report
    link, secret = _link(report, manager)
    first = client.get(_page(secret))
    etag, last_modified = first["ETag"], first["Last-Modified"]
    with django_assert_num_queries(1):
        again = client.get(_page(secret), HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 304 and again["ETag"] == etag
    assert client.get(_page(secret), HTTP_IF_MODIFIED_SINCE=last_modified).status_code == 304
    link.refresh_from_db()
    assert link.view_count == 1  # revalidations are not new views
    # A change to the link (rotate, revoke, settings) changes the validators.
    services.share_link_revoke(link=link, actor=manager)
    assert client.get(_page(secret), HTTP_IF_NONE_MATCH=etag).status_code == 404


@pytest.mark.parametrize("days", [10, 120])
def test_public_page_query_count_is_constant(
    days, campaign, manager, client, django_capture_on_commit_callbacks, django_assert_num_queries
):
    metrics_generate(campaign, days=days, content=5)
    with django_capture_on_commit_callbacks(execute=True):
        campaign_end(campaign, manager)
    campaign.refresh_from_db()
    _, secret = _link(campaign.close_report, manager)
    # link+report, snapshot (body cache miss), view row, view counter
    with django_assert_num_queries(4):
        assert client.get(_page(secret)).status_code == 200
    # The body is cached: link+report, view row, view counter
    with django_assert_num_queries(3):
        assert client.get(_page(secret)).status_code == 200


def test_public_downloads_work(ended_report, manager, client):
    _, report = ended_report
    _, secret = _link(report, manager)
    daily = client.get(reverse("share:daily_csv", args=[secret]))
    assert daily.status_code == 200 and daily["Content-Type"].startswith("text/csv")
    assert daily["X-Robots-Tag"].startswith("noindex")
    assert b"".join(daily.streaming_content).decode().count("\n") == 15  # header + 14 days
    assert client.get(reverse("share:content_csv", args=[secret])).status_code == 200
    pdf = client.get(reverse("share:pdf", args=[secret]))
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")


def test_admin_lists_and_revokes_links(ended_report, manager, staff, login):
    _, report = ended_report
    link, secret = _link(report, manager, label="Agency partner")
    client = login(staff)
    changelist = client.get(reverse("admin:reports_sharelink_changelist"))
    assert changelist.status_code == 200 and "Agency partner" in changelist.content.decode()
    response = client.post(
        reverse("admin:reports_sharelink_changelist"),
        {"action": "revoke_links", "_selected_action": [link.pk]},
    )
    assert response.status_code == 302
    link.refresh_from_db()
    assert link.revoked_at is not None and link.revoked_by == staff
    assert client.get(_page(secret)).status_code == 404


def test_cached_public_page_gives_each_visitor_a_working_csrf_token(ended_report, manager, client):
    """The rendered page is cached per link state; the CSRF token in its feedback form is each visitor's own."""
    from django.test import Client

    from reports.models import Feedback
    from reports.public_cache import CSRF_MARKER

    _, report = ended_report
    link, secret = _link(report, manager)
    visitors = [Client(enforce_csrf_checks=True) for _ in range(2)]
    pages = [visitor.get(_page(secret)).content.decode() for visitor in visitors]
    tokens = [page.split('name="csrfmiddlewaretoken" value="')[1].split('"')[0] for page in pages]
    assert all(CSRF_MARKER not in page for page in pages)
    assert tokens[0] != tokens[1]
    answer = {"role": "participant", "rating": "5", "would_take_part_again": "yes", "website": ""}
    feedback_url = reverse("share:feedback", args=[secret])
    # Each token works for its own visitor only.
    assert visitors[0].post(feedback_url, answer | {"csrfmiddlewaretoken": tokens[1]}).status_code == 403
    for visitor, token in zip(visitors, tokens, strict=True):
        assert visitor.post(feedback_url, answer | {"csrfmiddlewaretoken": token}).status_code == 302
    assert Feedback.objects.count() == 2
    # Each full page is still counted, cached or not.
    link.refresh_from_db()
    assert link.view_count == 2
    # A rotated link serves the page again under its new secret only.
    new_secret = services.share_link_rotate(link=link, actor=manager)
    assert client.get(_page(secret)).status_code == 404
    assert f"/s/{new_secret}/report.pdf" in client.get(_page(new_secret)).content.decode()


def test_views_written_behind_in_batches(ended_report, manager, client, settings, django_assert_max_num_queries):
    """With a flush interval set, page views wait in memory and are written together: on the timer, when the
    batch is full, or at exit, all with their own time and browser family."""
    import threading

    from reports.services.sharing import _view_buffer

    _, report = ended_report
    link, secret = _link(report, manager)
    settings.SHARE_VIEW_FLUSH_SECONDS = 30
    try:
        for agent in ("Mozilla/5.0 (iPhone) Safari/604.1", "curl/8.0"):
            assert client.get(_page(secret), HTTP_USER_AGENT=agent).status_code == 200
        assert not ShareLinkView.objects.exists()  # not yet written
        assert isinstance(_view_buffer._timer, threading.Timer)
        with django_assert_max_num_queries(2):  # one INSERT of both rows, one UPDATE of the link
            _view_buffer.flush()
        assert _view_buffer._timer is None
        link.refresh_from_db()
        assert link.view_count == 2 and link.last_viewed_at is not None
        assert sorted(ShareLinkView.objects.values_list("agent", flat=True)) == ["Bot or script", "Safari on iOS"]
        # A full batch is written at once, without waiting for the timer.
        _view_buffer.max_pending = 3
        for _ in range(3):
            client.get(_page(secret))
        assert ShareLinkView.objects.count() == 5
    finally:
        _view_buffer.max_pending = type(_view_buffer).max_pending
        _view_buffer.flush()


def test_page_compaction_keeps_text_and_preformatted_content():
    from reports.public_cache import compact as _compact

    html = "<div>\n    <a>x</a> <b>y</b>\n  </div>\n<textarea>\n  keep  \n</textarea>\n<pre> a\n  b </pre>"
    assert _compact(html) == "<div>\n<a>x</a> <b>y</b>\n</div>\n<textarea>\n  keep  \n</textarea>\n<pre> a\n  b </pre>"
