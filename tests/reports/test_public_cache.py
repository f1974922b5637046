"""What a stranger sees on a shared page follows the link's options at once, with the page and body caches on
(issue 13: the cache key covers every option), and internal details follow the team-notes setting, on the page
and in its PDF (issue 14 §5)."""

import datetime as dt
import io
import re

import pytest
from django.contrib.auth.hashers import make_password
from django.urls import reverse
from django.utils import timezone
from pypdf import PdfReader

from campaigns.models import Action, Source
from campaigns.services import campaign_transition
from reports import services
from reports.models import ShareLink
from reports.views.public import UNLOCK_COOKIE

from .conftest import campaign_end, metrics_generate

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("cache_cleared")]

NOTE = "Moved budget to the reshuffle7431 drop"
LESSON = "Creator duets on day one"


@pytest.fixture
def report(campaign, manager, editor, django_capture_on_commit_callbacks):
    """Paused by the editor, resumed, ended by the manager with an internal note; lessons written."""
    metrics_generate(campaign, days=7, content=2)
    with django_capture_on_commit_callbacks(execute=True):
        campaign_transition(campaign=campaign, action=Action.PAUSE, actor=editor, source=Source.UI)
        campaign_transition(campaign=campaign, action=Action.RESUME, actor=editor, source=Source.UI)
        campaign_end(campaign, manager, note=NOTE)
    campaign.refresh_from_db()
    report = campaign.close_report
    services.lessons_save(
        report=report, author=manager, base_revision_id=None, what_worked=LESSON, what_to_change="", next_steps=""
    )
    return report


def _page(secret):
    return reverse("share:page", args=[secret])


def _pdf_text(content: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)


def _internal_details(html: str) -> set[str]:
    return {text for text in ("mona-manager", "eddie-editor", "reshuffle7431") if text in html}


def test_team_notes_off_shows_no_person_and_no_note_on_the_page_or_in_the_pdf(report, manager, client, login):
    _, secret = services.share_link_create(report=report, actor=manager, label="Brand team")
    html = client.get(_page(secret)).content.decode()
    assert "Spring Glow" in html and "Objectives met" in html  # the report and its reason are there
    assert _internal_details(html) == set()
    assert LESSON not in html
    pdf = client.get(reverse("share:pdf", args=[secret]))
    assert pdf.status_code == 200
    text = _pdf_text(pdf.content)
    assert "Spring Glow" in text and "Objectives met" in text
    assert "mona-manager" not in text and "eddie-editor" not in text and "reshuffle7431" not in text
    # The team's own page still shows who did what and why.
    internal = login(manager).get(reverse("reports:detail", args=[report.campaign_id])).content.decode()
    assert _internal_details(internal) == {"mona-manager", "eddie-editor", "reshuffle7431"}


def test_team_notes_on_shows_the_internal_details_with_the_lessons(report, manager, client):
    _, secret = services.share_link_create(report=report, actor=manager, label="Agency", show_team_notes=True)
    html = client.get(_page(secret)).content.decode()
    assert _internal_details(html) == {"mona-manager", "eddie-editor", "reshuffle7431"}
    assert LESSON in html


def test_the_cached_body_of_one_link_never_reaches_a_link_with_other_options(report, manager, client):
    """Both links show the same report: the body rendered for the first must not be reused for the second."""
    _, with_notes = services.share_link_create(report=report, actor=manager, label="A", show_team_notes=True)
    _, without = services.share_link_create(report=report, actor=manager, label="B")
    for _ in range(2):
        assert "mona-manager" in client.get(_page(with_notes)).content.decode()
        assert _internal_details(client.get(_page(without)).content.decode()) == set()
        sorted_page = client.get(_page(without) + "?sort=title").content.decode()
        assert _internal_details(sorted_page) == set()


def test_password_page_names_nothing_before_unlock(report, manager, client):
    _, secret = services.share_link_create(report=report, actor=manager, label="Board", password="open sesame")
    locked = client.get(_page(secret))
    assert locked.status_code == 200 and b'name="password"' in locked.content
    assert b"Spring Glow" not in locked.content and b"Acme Beauty" not in locked.content
    assert b"A shared report" in locked.content
    wrong = client.post(reverse("share:unlock", args=[secret]), {"password": "nope"})
    assert wrong.status_code == 400 and b"Spring Glow" not in wrong.content
    client.post(reverse("share:unlock", args=[secret]), {"password": "open sesame"})
    assert b"Spring Glow" in client.get(_page(secret)).content


def _without_token(response) -> str:
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", response.content.decode())


def _checked(role: str):
    return lambda html: re.search(rf'value="{role}"[^>]*\bchecked\b', html) is not None


# (option, the change a manager or the admin makes, what a stranger sees before, and after it)
OPTION_CHANGES = [
    pytest.param(
        {"show_team_notes": True},
        lambda html: LESSON not in html and "mona-manager" not in html,
        lambda html: LESSON in html and "mona-manager" in html and "reshuffle7431" in html,
        id="team-notes-on",
    ),
    pytest.param(
        {"allow_feedback": False},
        lambda html: 'id="feedback-form"' in html,
        lambda html: 'id="feedback-form"' not in html,
        id="feedback-off",
    ),
    pytest.param(
        {"feedback_role": "influencer"},
        lambda html: not _checked("influencer")(html),
        _checked("influencer"),
        id="feedback-role",
    ),
    pytest.param(
        {"password_hash": make_password("open sesame")},
        lambda html: "chart-daily" in html,
        lambda html: 'name="password"' in html and "chart-daily" not in html and "Spring Glow" not in html,
        id="password-set",
    ),
    pytest.param(
        {"expires_at": timezone.now() - dt.timedelta(minutes=1)},
        lambda html: "chart-daily" in html,
        lambda html: "expired or was revoked" in html,
        id="expired",
    ),
]


@pytest.mark.parametrize(("change", "before", "after"), OPTION_CHANGES)
def test_changing_an_option_changes_what_a_stranger_sees_at_once(report, manager, client, change, before, after):
    link, secret = services.share_link_create(report=report, actor=manager, label="Stakeholders")
    first = client.get(_page(secret))
    cached = client.get(_page(secret))  # served from the page cache
    assert before(first.content.decode()) and _without_token(cached) == _without_token(first)
    # Written as any writer might, without moving `changed_at`: the keys must not depend on it.
    ShareLink.objects.filter(pk=link.pk).update(**change)
    now = client.get(_page(secret))
    assert after(now.content.decode())
    # A browser holding the old copy is not told "not modified".
    revalidated = client.get(_page(secret), HTTP_IF_NONE_MATCH=first["ETag"])
    assert revalidated.status_code != 304 and after(revalidated.content.decode())


def test_changing_the_password_and_unlocking_changes_what_a_stranger_sees(report, manager, client):
    link, secret = services.share_link_create(report=report, actor=manager, label="Board", password="first one!")
    client.post(reverse("share:unlock", args=[secret]), {"password": "first one!"})
    assert b"chart-daily" in client.get(_page(secret)).content
    # A new password locks the page again for everyone who unlocked the old one ...
    ShareLink.objects.filter(pk=link.pk).update(password_hash=make_password("second one"))
    assert b'name="password"' in client.get(_page(secret)).content
    client.post(reverse("share:unlock", args=[secret]), {"password": "second one"})
    assert b"chart-daily" in client.get(_page(secret)).content
    # ... and removing it opens the page without a cookie.
    ShareLink.objects.filter(pk=link.pk).update(password_hash="")
    client.cookies.pop(UNLOCK_COOKIE, None)
    assert b"chart-daily" in client.get(_page(secret)).content


def test_a_new_secret_changes_the_download_links(report, manager, client):
    link, secret = services.share_link_create(report=report, actor=manager, label="Board")
    assert f"/s/{secret}/report.pdf" in client.get(_page(secret)).content.decode()
    new = "n" * 43
    ShareLink.objects.filter(pk=link.pk).update(secret_hash=services.share_secret_hash(new))
    html = client.get(_page(new)).content.decode()
    assert f"/s/{new}/report.pdf" in html and f"/s/{new}/daily.csv" in html and secret not in html
