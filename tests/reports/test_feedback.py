"""Feedback: the public and internal forms, validation, honeypot, rate limits, refusal on dead links, the summary
by role, moderation, XSS, and "request feedback" with its invitation mail."""

import re
from urllib.parse import urlsplit

import pytest
from django.core import mail
from django.core.cache import cache
from django.urls import reverse

from reports import services
from reports.models import Feedback, ShareLink
from reports.tasks import feedback_invitations_send

pytestmark = pytest.mark.django_db

XSS = '<script>alert("pwn")</script><img src=x onerror=alert(1)>'


@pytest.fixture(autouse=True)
def _clear_cache():
    cache.clear()
    yield
    cache.clear()


def _answer(**overrides):
    data = {
        "role": "influencer",
        "name": "Ivy",
        "rating": "4",
        "what_worked": "Fast payouts",
        "what_to_improve": "Clearer brief",
        "would_take_part_again": "yes",
        "comment": "Thanks!",
        "website": "",
    }
    return data | overrides


@pytest.fixture
def shared(ended_report, manager):
    campaign, report = ended_report
    link, secret = services.share_link_create(report=report, actor=manager, label="Creators")
    return campaign, report, link, secret


def test_public_feedback_is_saved_and_thanked(shared, client):
    _, report, link, secret = shared
    response = client.post(reverse("share:feedback", args=[secret]), _answer())
    assert response.status_code == 302 and "sent=1" in response["Location"]
    thanks = client.get(response["Location"]).content.decode()
    assert "Thank you! Your feedback was sent" in thanks
    fb = Feedback.objects.get()
    assert (fb.report, fb.link, fb.role, fb.rating, fb.would_take_part_again) == (report, link, "influencer", 4, True)


def test_public_feedback_needs_csrf(shared):
    from django.test import Client

    _, _, _, secret = shared
    strict = Client(enforce_csrf_checks=True)
    assert strict.post(reverse("share:feedback", args=[secret]), _answer()).status_code == 403
    page = strict.get(reverse("share:page", args=[secret]))
    token = page.content.decode().split('name="csrfmiddlewaretoken" value="')[1].split('"')[0]
    response = strict.post(reverse("share:feedback", args=[secret]), _answer(csrfmiddlewaretoken=token))
    assert response.status_code == 302 and Feedback.objects.count() == 1


def test_public_feedback_invalid_shows_inline_errors(shared, client):
    _, _, _, secret = shared
    response = client.post(
        reverse("share:feedback", args=[secret]),
        _answer(rating="9", role="", would_take_part_again="", comment="x" * 2001),
    )
    html = response.content.decode()
    assert response.status_code == 400
    assert "Please check the fields marked below." in html
    assert html.count('class="errorlist') >= 4
    assert "Ensure this value has at most 2000 characters" in html
    assert not Feedback.objects.exists()


def test_honeypot_looks_successful_but_stores_nothing(shared, client):
    _, _, _, secret = shared
    response = client.post(reverse("share:feedback", args=[secret]), _answer(website="http://spam.example"))
    assert response.status_code == 302 and "sent=1" in response["Location"]
    assert not Feedback.objects.exists()


def test_feedback_rate_limited_per_ip_per_link(shared, client, ratelimit_clock):
    _, _, _, secret = shared
    url = reverse("share:feedback", args=[secret])
    statuses = [client.post(url, _answer()).status_code for _ in range(6)]
    assert statuses == [302] * 5 + [429]
    assert Feedback.objects.count() == 5
    # Another address may still answer.
    assert client.post(url, _answer(), REMOTE_ADDR="10.0.0.9").status_code == 302


def test_feedback_rate_limited_per_link(shared, client, ratelimit_clock):
    _, _, _, secret = shared
    url = reverse("share:feedback", args=[secret])
    for i in range(50):
        assert client.post(url, _answer(), REMOTE_ADDR=f"10.1.{i // 200}.{i % 200}").status_code == 302
    assert client.post(url, _answer(), REMOTE_ADDR="10.9.9.9").status_code == 429
    assert Feedback.objects.count() == 50


def test_feedback_refused_on_revoked_expired_or_disabled_link(shared, client, manager, ended_report):
    _, report, link, secret = shared
    services.share_link_revoke(link=link, actor=manager)
    response = client.post(reverse("share:feedback", args=[secret]), _answer())
    assert response.status_code == 404 and b"expired or was revoked" in response.content
    quiet, quiet_secret = services.share_link_create(
        report=report, actor=manager, label="Read only", allow_feedback=False
    )
    assert b'id="feedback-form"' not in client.get(reverse("share:page", args=[quiet_secret])).content
    assert client.post(reverse("share:feedback", args=[quiet_secret]), _answer()).status_code == 302
    assert not Feedback.objects.exists()
    # The service re-checks too (a form shown before the revoke, posted after).
    with pytest.raises(services.ReportError):
        services.feedback_create(
            report=report, link=link, author=None, role="participant", rating=3, would_take_part_again=False
        )


def test_internal_feedback_form_and_summary_by_role(shared, client, login, viewer):
    campaign, report, _, secret = shared
    url = reverse("share:feedback", args=[secret])
    client.post(url, _answer(rating="5", would_take_part_again="yes"))
    client.post(url, _answer(rating="2", would_take_part_again="no"))
    member = login(viewer)
    response = member.post(
        reverse("reports:feedback_create", args=[campaign.pk]), _answer(role="team_member", rating="3")
    )
    assert response.status_code == 302
    html = member.get(reverse("reports:detail", args=[campaign.pk])).content.decode()
    influencer = html.split('data-role="influencer"')[1].split("</tr>")[0]
    assert '<td class="num">2</td>' in influencer and "3.5 / 5" in influencer and "50%" in influencer
    team = html.split('data-role="team_member"')[1].split("</tr>")[0]
    assert "3.0 / 5" in team and "100%" in team
    assert Feedback.objects.get(role="team_member").author == viewer
    assert "Fast payouts" in html


def test_internal_feedback_invalid_rerenders_report(ended_report, login, viewer):
    campaign, _ = ended_report
    response = login(viewer).post(reverse("reports:feedback_create", args=[campaign.pk]), _answer(rating=""))
    assert response.status_code == 400 and "Please check the fields marked below." in response.content.decode()


def test_xss_in_feedback_renders_escaped(shared, client, login, manager):
    campaign, _, _, secret = shared
    client.post(reverse("share:feedback", args=[secret]), _answer(name=XSS, what_worked=XSS, comment=XSS))
    html = login(manager).get(reverse("reports:detail", args=[campaign.pk])).content.decode()
    assert "<script>alert" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(&quot;pwn&quot;)&lt;/script&gt;" in html
    # Bounced back with errors on the public page: still escaped.
    bad = client.post(reverse("share:feedback", args=[secret]), _answer(rating="", name=XSS, what_worked=XSS))
    assert b"<script>alert" not in bad.content


def test_manager_hides_and_shows_feedback(shared, client, login, manager, viewer):
    campaign, _, _, secret = shared
    client.post(reverse("share:feedback", args=[secret]), _answer(comment="Rude words here"))
    fb = Feedback.objects.get()
    hide = reverse("reports:feedback_hide", args=[campaign.pk, fb.pk])
    assert login(viewer).post(hide).status_code == 403
    response = login(manager).post(hide, HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and "feedbackChanged" in response["HX-Trigger"]
    assert "Show again" in response.content.decode()
    fb.refresh_from_db()
    assert fb.hidden_by == manager and fb.hidden_at is not None
    viewer_html = login(viewer).get(reverse("reports:detail", args=[campaign.pk])).content.decode()
    assert "Rude words here" not in viewer_html and "No feedback yet" in viewer_html
    assert login(manager).post(hide, {"hidden": "0"}).status_code == 302
    fb.refresh_from_db()
    assert fb.hidden_at is None


def test_request_feedback_creates_link_invitation_and_mails(
    ended_report, login, manager, django_capture_on_commit_callbacks
):
    campaign, report = ended_report
    with django_capture_on_commit_callbacks(execute=True):
        response = login(manager).post(
            reverse("reports:feedback_request", args=[campaign.pk]),
            {
                "ask-role": "participant",
                "ask-expiry": "30",
                "ask-emails": "a@example.com, b@example.com\nA@example.com",
            },
        )
    html = response.content.decode()
    assert response.status_code == 200 and "Feedback invitation ready" in html and "Copy text" in html
    link = ShareLink.objects.get()
    assert link.feedback_role == "participant" and link.allow_feedback
    assert sorted(m.to[0] for m in mail.outbox) == ["a@example.com", "b@example.com"]
    url = html.split("data-share-url")[0].rsplit('value="', 1)[1].split('"')[0]
    assert url in mail.outbox[0].body and "Spring Glow" in mail.outbox[0].subject
    assert link.events.filter(kind="invited").exists()
    # The page opened from the invitation preselects the role.
    page = login(manager).get(urlsplit(url).path).content.decode()
    assert re.search(r'<input[^>]*value="participant"[^>]*checked', page)


def test_request_feedback_rejects_bad_and_too_many_addresses(ended_report, login, manager):
    campaign, _ = ended_report
    client = login(manager)
    url = reverse("reports:feedback_request", args=[campaign.pk])
    bad = client.post(url, {"ask-role": "stakeholder", "ask-expiry": "", "ask-emails": "ok@example.com, not-an-email"})
    assert bad.status_code == 400 and "Not an email address: not-an-email" in bad.content.decode()
    many = ", ".join(f"p{i}@example.com" for i in range(51))
    too_many = client.post(url, {"ask-role": "stakeholder", "ask-expiry": "", "ask-emails": many})
    assert too_many.status_code == 400 and "At most 50 addresses" in too_many.content.decode()
    assert not ShareLink.objects.exists() and not mail.outbox


def test_invitation_task_arguments_do_not_reveal_the_link():
    sealed = services.invitation_seal("Open https://closeout.example/s/SECRET123/")
    assert "SECRET123" not in sealed
    assert feedback_invitations_send.call(emails=["x@example.com"], subject="Hi", sealed_body=sealed) == 1
    assert "SECRET123" in mail.outbox[0].body
