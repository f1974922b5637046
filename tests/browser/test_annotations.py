"""Issue 18 in the browser: an editor puts a note on the campaign's timeline with the keyboard and sees its marker
on the chart; once the campaign ends the report shows it on its charts and in its list, and a note added after
close is marked so. Screenshots at desktop and phone width."""

import datetime as dt

import pytest
from playwright.sync_api import expect

from campaigns.models import Action, EndReason, Source
from campaigns.services import campaign_transition
from tests.factories import CampaignFactory
from tests.reports.conftest import metrics_generate

pytestmark = pytest.mark.django_db(transaction=True)

MARKERS = """(id) => {
  const chart = window.Chart && window.Chart.getChart(document.querySelector(`canvas[data-chart="${id}"]`));
  return chart ? ((chart.options.plugins.markers || {}).items || []).map(i => i.label) : null;
}"""


def _add_note_with_the_keyboard(page, day: dt.date, text: str):
    page.get_by_label("Day", exact=True).focus()
    page.keyboard.type(day.strftime("%m%d%Y"))  # Chromium's en-US date field: month, day, year
    note = page.get_by_label("Note", exact=True)
    for _ in range(3):  # out of the date field (its parts, then its calendar button) to the note
        page.keyboard.press("Tab")
        if note.evaluate("el => el === document.activeElement"):
            break
    expect(note).to_be_focused()
    page.keyboard.type(text)
    page.keyboard.press("Enter")


def test_editor_notes_the_timeline_and_the_report_shows_it(
    login_page, live_server, account, editor, manager, screenshot, axe
):
    start = dt.date.today() - dt.timedelta(days=20)
    campaign = CampaignFactory(account=account, name="Glow Drop", start_date=start)
    metrics_generate(campaign, days=20, content=2, start=start)
    day = start + dt.timedelta(days=6)

    page = login_page(editor)
    page.goto(f"{live_server.url}/campaigns/{campaign.pk}/")
    page.wait_for_function('document.querySelector(\'canvas[data-chart="daily-chart"][data-drawn="1"]\')')
    _add_note_with_the_keyboard(page, day, "Creator posted")

    panel = page.locator("#annotations")
    expect(panel.get_by_role("status")).to_contain_text(f"Note added for {day.day} {day:%b %Y}: “Creator posted”.")
    expect(panel.locator("li[data-marker-kind=note]")).to_contain_text("Creator posted")
    expect(page.get_by_label("Note", exact=True)).to_be_focused()  # ready for the next note
    page.wait_for_function(f"({MARKERS})('daily-chart').includes('Creator posted')")
    assert axe(page, "#annotations") == []
    page.locator("#chart-title").scroll_into_view_if_needed()
    screenshot(page, "annotations-campaign", full_page=False)
    page.set_viewport_size({"width": 390, "height": 844})
    page.locator("#annotations").scroll_into_view_if_needed()
    screenshot(page, "annotations-campaign-phone", full_page=False)
    page.set_viewport_size({"width": 1366, "height": 900})

    campaign_transition(
        campaign=campaign, action=Action.END, actor=manager, source=Source.UI, reason_code=EndReason.OBJECTIVES_MET
    )
    page.goto(f"{live_server.url}/campaigns/{campaign.pk}/")
    _add_note_with_the_keyboard(page, day + dt.timedelta(days=2), "Client asked for a recap")
    expect(page.locator("#annotations").get_by_role("status")).to_contain_text("Client asked for a recap")

    page.goto(f"{live_server.url}/reports/{campaign.pk}/")
    page.wait_for_function("document.querySelectorAll('canvas[data-chart][data-drawn=\"1\"]').length === 4")
    labels = page.evaluate(MARKERS, "chart-daily-data")
    assert "Creator posted" in labels and "Client asked for a recap (added after close)" in labels
    timeline = page.locator("#timeline")
    expect(timeline.locator("li", has_text="Creator posted")).not_to_contain_text("added after close")
    expect(timeline.locator("li", has_text="Client asked for a recap")).to_contain_text("added after close")
    assert axe(page, "#timeline") == []
    page.locator("#charts-title").scroll_into_view_if_needed()
    screenshot(page, "annotations-report", full_page=False)
    page.set_viewport_size({"width": 390, "height": 844})
    page.locator("#timeline").scroll_into_view_if_needed()
    screenshot(page, "annotations-report-phone", full_page=False)
