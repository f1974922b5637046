"""Timeline notes in the close report (issue 18): frozen at close with the status changes, on the report's charts
and beside their numbers, in the PDF; a note written after close is shown too, marked "added after close", on the
report page and the shared page at once although both are cached."""

import datetime as dt
import io
import json
import re
from types import SimpleNamespace

import pytest
from django.urls import reverse
from pypdf import PdfReader

from campaigns import services as campaign_services
from campaigns.models import Action, Campaign, Source
from reports import services, tasks

from .conftest import START, campaign_end, metrics_generate

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("cache_cleared")]

NOTE_DAY = START + dt.timedelta(days=2)


def _pdf_text(content: bytes) -> str:
    return " ".join(" ".join(page.extract_text().split()) for page in PdfReader(io.BytesIO(content)).pages)


def _chart(html: str, chart_id: str = "chart-daily-data") -> dict:
    match = re.search(rf'<script id="{chart_id}" type="application/json">(.*?)</script>', html, re.S)
    assert match, f"no {chart_id} in the page"
    return json.loads(match.group(1))


def _timeline(html: str) -> str:
    return html.split('id="timeline"')[1].split("</section>")[0]


@pytest.fixture
def noted_report(campaign, editor, manager, django_capture_on_commit_callbacks):
    """14 days of metrics from START, a note on the third day, paused and resumed by the manager, then ended."""
    Campaign.objects.filter(pk=campaign.pk).update(start_date=START)
    campaign.refresh_from_db()
    metrics_generate(campaign, days=14)
    with django_capture_on_commit_callbacks(execute=True):
        campaign_services.annotation_create(campaign=campaign, actor=editor, day=NOTE_DAY, text="Creator posted")
        campaign_services.campaign_transition(campaign=campaign, action=Action.PAUSE, actor=manager, source=Source.UI)
        campaign_services.campaign_transition(campaign=campaign, action=Action.RESUME, actor=manager, source=Source.UI)
        campaign_end(campaign, manager)
    campaign.refresh_from_db()
    return campaign, campaign.close_report


def _note_after_close(campaign, editor, capture, *, text="Client asked for a recap", day=None):
    with capture(execute=True):
        return campaign_services.annotation_create(
            campaign=campaign, actor=editor, day=day or START + dt.timedelta(days=5), text=text
        )


def test_notes_and_status_changes_are_frozen_into_the_snapshot(noted_report):
    _, report = noted_report
    timeline = report.snapshot["timeline"]
    assert report.snapshot["version"] == 2
    note = next(m for m in timeline if m["kind"] == "note")
    assert (note["day"], note["label"], note["by"]) == (NOTE_DAY.isoformat(), "Creator posted", "eddie-editor")
    assert [m["label"] for m in timeline if m["kind"] == "status"] == [
        "Paused by mona-manager",
        "Resumed by mona-manager",
        "Ended by mona-manager",
    ]
    assert [m["public_label"] for m in timeline if m["kind"] == "status"] == ["Paused", "Resumed", "Ended"]


def test_report_page_shows_notes_on_the_chart_and_beside_the_numbers(noted_report, login, viewer):
    campaign, _ = noted_report
    html = login(viewer).get(reverse("reports:detail", args=[campaign.pk])).content.decode()
    items = _chart(html)["options"]["plugins"]["markers"]["items"]
    assert [(i["label"], i["day"], i["number"]) for i in items] == [("Creator posted", NOTE_DAY.isoformat(), 1)]
    assert _chart(html, "chart-spend-data")["options"]["plugins"]["markers"]["items"] == items
    table = html.split('aria-label="Daily views, likes, shares and comments: numbers"')[1].split("</table>")[0]
    assert '<th scope="col" class="num">Notes</th>' in table
    assert f'<tr><th scope="row">{NOTE_DAY.isoformat()}</th>' in table
    assert "<td>1 Creator posted</td></tr>" in table
    listed = _timeline(html)
    assert "Creator posted" in listed and "Paused by mona-manager" in listed and "added after close" not in listed


def test_frozen_note_shows_as_it_was_after_an_edit(
    noted_report, editor, login, manager, django_capture_on_commit_callbacks
):
    campaign, _ = noted_report
    note = campaign.annotations.get()
    with django_capture_on_commit_callbacks(execute=True):
        campaign_services.annotation_edit(annotation=note, actor=editor, day=NOTE_DAY, text="Creator posted late")
    html = login(manager).get(reverse("reports:detail", args=[campaign.pk])).content.decode()
    assert "Creator posted late" not in html and "Creator posted" in _timeline(html)


def test_note_added_after_close_shows_on_the_cached_report_and_shared_page(
    noted_report, editor, manager, login, client, django_capture_on_commit_callbacks
):
    campaign, report = noted_report
    _, secret = services.share_link_create(report=report, actor=manager, label="Client")
    team = login(manager)
    report_url, share_url = reverse("reports:detail", args=[campaign.pk]), reverse("share:page", args=[secret])
    assert "Client asked for a recap" not in team.get(report_url).content.decode()  # both pages are now cached
    shared = client.__class__()
    first = shared.get(share_url)
    assert "Client asked for a recap" not in first.content.decode()

    _note_after_close(campaign, editor, django_capture_on_commit_callbacks)

    for html in (team.get(report_url).content.decode(), shared.get(share_url).content.decode()):
        listed = _timeline(html)
        assert "Client asked for a recap" in listed
        assert listed.count("added after close") == 1
        items = _chart(html)["options"]["plugins"]["markers"]["items"]
        assert "Client asked for a recap (added after close)" in [i["label"] for i in items]
    # The browser's copy of the shared page is stale too: its ETag changed.
    assert shared.get(share_url, headers={"if-none-match": first["ETag"]}).status_code == 200


def test_note_removed_after_close_leaves_the_report(
    noted_report, editor, manager, login, django_capture_on_commit_callbacks
):
    campaign, _ = noted_report
    note = _note_after_close(campaign, editor, django_capture_on_commit_callbacks)
    team = login(manager)
    url = reverse("reports:detail", args=[campaign.pk])
    assert "Client asked for a recap" in team.get(url).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        campaign_services.annotation_delete(annotation=note, actor=editor)
    assert "Client asked for a recap" not in team.get(url).content.decode()


def test_shared_page_without_team_notes_names_nobody(noted_report, manager, client):
    _, report = noted_report
    _, secret = services.share_link_create(report=report, actor=manager, label="Client")
    listed = _timeline(client.get(reverse("share:page", args=[secret])).content.decode())
    assert "Creator posted" in listed and "Paused" in listed
    assert "mona-manager" not in listed and "eddie-editor" not in listed


def test_pdf_lists_the_notes_and_marks_the_later_one(
    noted_report, editor, login, manager, django_capture_on_commit_callbacks
):
    campaign, _ = noted_report
    _note_after_close(campaign, editor, django_capture_on_commit_callbacks)
    text = _pdf_text(login(manager).get(reverse("reports:export_pdf", args=[campaign.pk])).content)
    assert "Timeline notes" in text
    assert "5 Mar 2025 · Creator posted — eddie-editor" in text
    assert "8 Mar 2025 · Client asked for a recap (added after close) — eddie-editor" in text
    assert "Paused by mona-manager" in text


def test_report_page_reads_no_notes_while_none_changed_after_close(
    noted_report, manager, login, django_assert_num_queries, django_capture_on_commit_callbacks, editor
):
    campaign, _ = noted_report
    client = login(manager)
    url = reverse("reports:detail", args=[campaign.pk])
    client.get(url)
    with django_assert_num_queries(3):  # as tests/reports/test_views.py counts them
        client.get(url)
    _note_after_close(campaign, editor, django_capture_on_commit_callbacks)
    client.get(url)  # renders the body again, with the later note
    with django_assert_num_queries(3):  # and serves it from the cache after that
        assert "Client asked for a recap" in client.get(url).content.decode()


def test_note_after_close_queues_the_stored_pdfs_again(
    noted_report, editor, settings, monkeypatch, django_capture_on_commit_callbacks
):
    campaign, report = noted_report
    settings.REPORT_PDF_PRERENDER = True
    queued = []
    monkeypatch.setattr(tasks, "report_pdfs_render", SimpleNamespace(enqueue=lambda **kw: queued.append(kw)))
    _note_after_close(campaign, editor, django_capture_on_commit_callbacks)
    assert queued == [{"report_ids": [report.pk]}]
    report.refresh_from_db()
    assert report.timeline_changed_at is not None


def test_note_on_a_live_campaign_touches_no_report(campaign, editor, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        campaign_services.annotation_create(campaign=campaign, actor=editor, day=dt.date.today(), text="Live")
    assert services.report_timeline_changed(campaign_ids=[campaign.pk]) == []
