"""The sharing journey in a real browser: a manager creates a link, someone without an account opens it in a fresh
browser, sees the charts and leaves feedback, the manager sees it, revokes the link, and the link stops working."""

import datetime as dt
import os
from pathlib import Path

import pytest

from campaigns.models import Action, EndReason, Source
from campaigns.services import campaign_transition
from tests.factories import CampaignFactory
from tests.reports.conftest import metrics_generate

pytestmark = pytest.mark.django_db(transaction=True)

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def _ended_campaign(account, manager):
    start = dt.date.today() - dt.timedelta(days=21)
    campaign = CampaignFactory(account=account, name="Autumn Glow Launch", start_date=start, target_views=20000)
    metrics_generate(campaign, days=21, content=4, start=start)
    campaign_transition(
        campaign=campaign,
        action=Action.END,
        actor=manager,
        source=Source.UI,
        reason_code=EndReason.OBJECTIVES_MET,
    )
    CampaignFactory(account=account, name="Hidden Sibling Campaign")
    return campaign


def test_manager_shares_report_and_stakeholder_gives_feedback(
    login_page, live_server, browser, account, manager, axe, screenshot, settings
):
    settings.CLOSEOUT_PUBLIC_BASE_URL = live_server.url
    campaign = _ended_campaign(account, manager)

    page = login_page(manager)
    page.goto(f"{live_server.url}/reports/{campaign.pk}/#share-panel")
    page.get_by_text("New share link").click()
    page.get_by_label("Who is it for?").fill("Brand team at Acme")
    page.get_by_label("Allow feedback").check()
    page.get_by_role("button", name="Create link").click()
    url = page.locator("[data-share-url]").input_value()
    assert url.startswith(f"{live_server.url}/s/")
    assert page.get_by_role("button", name="Copy link").is_visible()
    assert axe(page) == []

    # Someone without an account, in a fresh browser.
    guest = browser.new_context(viewport={"width": 1366, "height": 900})
    public = guest.new_page()
    public.goto(url)
    public.wait_for_function("document.querySelectorAll('canvas[data-chart][data-drawn=\"1\"]').length === 4")
    drawn = public.evaluate(
        "() => Array.from(document.querySelectorAll('canvas[data-chart]')).every(c => !!window.Chart.getChart(c))"
    )
    assert drawn
    html = public.content()
    assert "Hidden Sibling Campaign" not in html and "Log out" not in html
    assert public.locator("a[href^='/campaigns'], a[href^='/reports']").count() == 0
    assert axe(public) == []
    screenshot(public, "public-report")
    public.set_viewport_size({"width": 390, "height": 844})
    screenshot(public, "public-report-phone")
    public.set_viewport_size({"width": 1366, "height": 900})

    form = public.locator("#feedback-form")
    form.get_by_label("Stakeholder").check()
    form.get_by_label("Your name (optional)").fill("Sasha")
    form.locator("input[name=rating][value='5']").check()
    form.get_by_label("What went well?").fill("The creator duets")
    form.locator("input[name=would_take_part_again][value='yes']").check()
    form.get_by_role("button", name="Send feedback").click()
    public.get_by_text("Thank you! Your feedback was sent").wait_for()

    # The manager sees it in the summary.
    page.goto(f"{live_server.url}/reports/{campaign.pk}/#feedback")
    row = page.locator("#feedback-by-role tr[data-role='stakeholder']")
    assert "5.0 / 5" in row.inner_text() and "100%" in row.inner_text()
    assert page.get_by_text("The creator duets").is_visible()
    panel = page.locator("#share-panel")
    assert panel.locator("tr[data-share-link] td.num").first.inner_text() == "1"
    assert axe(page, "#share-panel") == []
    panel.scroll_into_view_if_needed()
    if os.environ.get("UPDATE_SCREENSHOTS") == "1":  # like the `screenshot` fixture: docs only when asked
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        panel.screenshot(path=str(SCREENSHOTS / "share-panel.png"))

    # Revoke (htmx) → the link stops working.
    panel.get_by_text("Revoke…").click()  # revoking asks first (issue 16)
    panel.get_by_role("button", name="Revoke link for Brand team at Acme").click()
    page.get_by_text("is revoked: the link no longer works").wait_for()
    public.reload()
    assert public.get_by_role("heading", name="This link has expired or was revoked").is_visible()
    guest.close()
