"""XSS: payloads in every free-text field, rendered on every page that shows them → escaped, never raw; content
URLs never become `javascript:` links; the CSV exports neutralise formulas; the PDF holds the text literally."""

import csv
import io
import re

import pytest
from django.urls import reverse
from pypdf import PdfReader

from campaigns import services
from campaigns.models import Action, Campaign, EndReason, Notification, NotificationKind, Source, Status
from campaigns.platforms import pull
from reports import services as report_services
from reports.models import CloseReport
from tests.campaigns.fake_tiktok import fake_tiktok_fixture, tiktok_account_fixture  # noqa: F401
from tests.factories import CampaignFactory, ContentItemFactory, DailyMetricFactory

pytestmark = pytest.mark.django_db

SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(1)>'
RTL = "\u202egnp.exe"
PAYLOAD = f"{SCRIPT}{IMG}{RTL}"
FORMULA = '=HYPERLINK("http://evil.example","x")'
JS_URL = "javascript:alert(document.cookie)"

RAW_MARKERS = ("<script>alert", "<img src=x", "onerror=alert(1)>")
ESCAPED_SCRIPT = "&lt;script&gt;alert(1)&lt;/script&gt;"


def assert_escaped(html: str, where: str, *, shown: bool = True):
    for marker in RAW_MARKERS:
        assert marker not in html, f"{where}: raw {marker!r}"
    if shown:
        assert ESCAPED_SCRIPT in html, f"{where}: payload not shown (escaped)"
    assert not re.search(r"""href\s*=\s*["']?\s*javascript:""", html, re.I), f"{where}: javascript: link"


@pytest.fixture
def hostile(account, manager, editor, django_capture_on_commit_callbacks, settings, tmp_path):
    """Payloads in every free-text field a user or the platform can fill, through the real services."""
    settings.MEDIA_ROOT = tmp_path
    account.name = f"Acme {PAYLOAD}"
    account.save(update_fields=["name"])
    live = CampaignFactory(account=account, name=f"Live {PAYLOAD}", audience=f"Teens {PAYLOAD}")
    ended = CampaignFactory(account=account, name=f"{FORMULA} {PAYLOAD}", audience=PAYLOAD)
    ContentItemFactory(campaign=ended, title=f"{FORMULA} {PAYLOAD}", url=JS_URL)
    ContentItemFactory(campaign=live, title=f"Clip {PAYLOAD}", url="JaVaScRiPt:alert(2)")
    DailyMetricFactory(campaign=ended)
    with django_capture_on_commit_callbacks(execute=True):
        services.campaigns_transition(
            campaign_ids=[ended.pk],
            action=Action.END,
            actor=None,
            source=Source.COMMAND,
            reason_code=EndReason.OTHER,
            reason_note=f"Because {PAYLOAD}",
            enforce_role=False,
        )
    ended.refresh_from_db()
    report = CloseReport.objects.get(campaign=ended)
    report_services.lessons_save(
        report=report,
        author=editor,
        what_worked=f"Worked {PAYLOAD}",
        what_to_change=FORMULA,
        next_steps=PAYLOAD,
        base_revision_id=None,
    )
    services.winddown_announcement_posted(campaign=ended, actor=manager, text=f"Bye {PAYLOAD}", where=PAYLOAD)
    services.winddown_step_complete(
        campaign=ended, kind="platform_confirmed", actor=manager, automatic=False, note=f"Note {PAYLOAD}"
    )
    Notification.objects.create(
        recipient=manager, kind=NotificationKind.STATUS_CHANGED, title=f"Hey {PAYLOAD}", body=f"Body {PAYLOAD}"
    )
    return {"live": live, "ended": ended, "report": report, "account": account}


def test_payloads_render_escaped_on_every_page(login, manager, hostile):
    client = login(manager)
    live, ended, account = hostile["live"], hostile["ended"], hostile["account"]
    pages = {
        "list": reverse("campaigns:list"),
        "list-search": reverse("campaigns:list") + "?q=" + "%3Cscript%3E",
        "detail-live": reverse("campaigns:detail", args=[live.pk]),
        "detail-ended": reverse("campaigns:detail", args=[ended.pk]),
        "edit": reverse("campaigns:edit", args=[live.pk]),
        "end-confirm": reverse("campaigns:end_confirm") + f"?ids={live.pk}",
        "calendar": reverse("campaigns:calendar"),
        "winddown-list": reverse("campaigns:winddown_list"),
        "winddown": reverse("campaigns:winddown", args=[ended.pk]),
        "notifications": reverse("campaigns:notifications"),
        "reports-index": reverse("reports:index"),
        "report": reverse("reports:detail", args=[ended.pk]),
        "report-edit-lessons": reverse("reports:detail", args=[ended.pk]) + "?edit=lessons",
        "compare": reverse("reports:compare") + f"?ids={ended.pk}",
        "account": reverse("campaigns:account_detail", args=[account.pk]),
    }
    for where, url in pages.items():
        response = client.get(url)
        assert response.status_code == 200, where
        assert_escaped(response.content.decode(), where, shown=where != "list-search")

    # The pause confirmation dialog (htmx partial) names the campaigns too.
    response = client.post(
        reverse("campaigns:bulk_action"), {"ids": live.pk, "action": "pause"}, headers={"HX-Request": "true"}
    )
    assert_escaped(response.content.decode(), "pause-dialog")


def test_each_free_text_field_is_shown_escaped_where_it_belongs(login, manager, hostile):
    client = login(manager)
    ended = hostile["ended"]
    detail = client.get(reverse("campaigns:detail", args=[ended.pk])).content.decode()
    assert "Because &lt;script&gt;" in detail  # reason note in the history
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&quot;&gt;&lt;img" in detail  # audience
    winddown = client.get(reverse("campaigns:winddown", args=[ended.pk])).content.decode()
    assert "Bye &lt;script&gt;" in winddown  # announcement
    assert "Note &lt;script&gt;" in winddown  # step note
    report = client.get(reverse("reports:detail", args=[ended.pk])).content.decode()
    assert "Worked &lt;script&gt;" in report  # lessons learned
    notifications = client.get(reverse("campaigns:notifications")).content.decode()
    assert "Hey &lt;script&gt;" in notifications and "Body &lt;script&gt;" in notifications
    assert RTL in detail  # unicode (RTL override) is kept as text, not stripped or broken


def test_content_javascript_urls_are_never_links(login, manager, hostile):
    client = login(manager)
    for name in ("campaigns:detail", "campaigns:winddown"):
        for campaign in (hostile["live"], hostile["ended"]):
            html = client.get(reverse(name, args=[campaign.pk])).content.decode()
            assert not re.search(r"href\s*=\s*[\"']?\s*javascript:", html, re.I), (name, campaign)
    # An http(s) link still is one.
    safe = ContentItemFactory(campaign=hostile["live"], url="https://www.tiktok.com/@brand/video/1")
    html = client.get(reverse("campaigns:detail", args=[hostile["live"].pk])).content.decode()
    assert f'href="{safe.url}"' in html


def test_htmx_fragments_escape_payloads(login, manager, hostile):
    client = login(manager)
    response = client.get(reverse("campaigns:list"), headers={"HX-Request": "true", "HX-Target": "table-region"})
    assert_escaped(response.content.decode(), "list-fragment")
    response = client.get(reverse("reports:lessons", args=[hostile["ended"].pk]), headers={"HX-Request": "true"})
    assert_escaped(response.content.decode(), "lessons-fragment")
    response = client.get(reverse("campaigns:notifications_bell"), headers={"HX-Request": "true"})
    assert_escaped(response.content.decode(), "bell", shown=False)


def test_csv_exports_neutralise_formulas_and_keep_text(login, manager, hostile):
    client = login(manager)
    ended = hostile["ended"]
    response = client.get(reverse("reports:export_content", args=[ended.pk]))
    assert response.status_code == 200
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    cells = [cell for row in csv.reader(io.StringIO(text)) for cell in row]
    assert not any(cell.startswith(("=", "+", "-", "@")) for cell in cells), cells
    assert f"'{FORMULA} {PAYLOAD}" in cells  # the title, literally, behind an apostrophe
    for name in ("reports:export_daily", "reports:export_metrics"):
        body = b"".join(client.get(reverse(name, args=[ended.pk])).streaming_content).decode("utf-8-sig")
        for row in csv.reader(io.StringIO(body)):
            assert not any(cell.startswith(("=", "+", "@")) for cell in row), row


def test_pdf_contains_the_payload_as_literal_text(login, manager, hostile):
    client = login(manager)
    ended = hostile["ended"]
    response = client.get(reverse("reports:export_pdf", args=[ended.pk]))
    assert response.status_code == 200
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(response.content)).pages)
    flat = re.sub(r"\s+", "", text)
    assert "<script>alert(1)</script>" in flat  # shown as text, not interpreted as markup
    assert "&lt;" not in text  # and not double-escaped


def test_campaign_name_from_the_platform_renders_escaped(tiktok_account, fake_tiktok, login, manager):
    fake_tiktok.add_campaign("6000000000000666", f"Platform {PAYLOAD}")

    pull.platform_pull_account(account=tiktok_account, days=1)

    campaign = Campaign.objects.get(platform_id="6000000000000666")
    assert campaign.name == f"Platform {PAYLOAD}"  # stored as given
    client = login(manager)
    for url in (reverse("campaigns:list"), reverse("campaigns:detail", args=[campaign.pk])):
        assert_escaped(client.get(url).content.decode(), url)
    assert campaign.status in (Status.ACTIVE, Status.PAUSED)
