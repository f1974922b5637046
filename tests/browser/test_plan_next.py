"""Plan the next campaign (issue 18) in a real browser: from an ended campaign's report to the new campaign's page."""

import datetime as dt
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from campaigns.models import Action, Campaign, EndReason, Source
from campaigns.services import campaign_transition
from reports.services import lessons_save
from tests.factories import CampaignFactory
from tests.reports.conftest import metrics_generate

pytestmark = pytest.mark.django_db(transaction=True)


def _ended_with_lessons(account, manager):
    start = dt.date.today() - dt.timedelta(days=21)
    campaign = CampaignFactory(
        account=account,
        name="Summer Serum Launch",
        start_date=start,
        end_date=start + dt.timedelta(days=27),
        budget_amount=Decimal("120.00"),
        target_views=20_000,
        target_engagement_rate=Decimal("3.00"),
        audience="Women 25-34 who follow skincare creators",
    )
    metrics_generate(campaign, days=21, content=3, start=start)
    campaign_transition(
        campaign=campaign, action=Action.END, actor=manager, source=Source.UI, reason_code=EndReason.OBJECTIVES_MET
    )
    campaign.refresh_from_db()
    report = campaign.close_report  # built by the task after the end committed
    lessons_save(
        report=report,
        author=manager,
        base_revision_id=None,
        what_worked="Creator duets on day one.",
        what_to_change="Start the hashtag challenge later.",
        next_steps="Book the creators two weeks ahead.",
    )
    return campaign


def test_manager_plans_the_next_campaign_from_the_report(login_page, live_server, account, manager, axe, screenshot):
    campaign = _ended_with_lessons(account, manager)
    page = login_page(manager)
    page.goto(f"{live_server.url}/reports/{campaign.pk}/")

    # Keyboard: the link is reached and followed without a mouse.
    link = page.get_by_role("link", name="Plan the next one…")
    expect(link).to_be_visible()
    screenshot(page, "plan-next-offer", full_page=False)
    link.focus()
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/reports/{campaign.pk}/plan-next/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Plan the next campaign")
    carried = page.locator("#plan-from")
    expect(carried).to_contain_text("Carried over from “Summer Serum Launch”")
    expect(carried).to_contain_text("Creator duets on day one.")
    expect(carried).to_contain_text("reached")
    expect(page.get_by_label("Budget amount")).to_have_value("120.00")
    views = campaign.close_report.snapshot["targets"][0]
    assert views["key"] == "video_views"
    suggested = int(page.get_by_label("Target views").input_value())
    assert suggested >= views["actual"] and f"{suggested:,}" in carried.inner_text()
    assert Campaign.objects.count() == 1  # opening the form saved nothing
    assert axe(page) == []
    screenshot(page, "plan-next-form")

    # A mistake keeps everything typed and says what is wrong.
    page.get_by_label("Name").fill("Autumn Serum Launch")
    page.get_by_label("Budget amount").fill("0")
    page.get_by_role("button", name="Create campaign").click()
    expect(page.get_by_text("The budget must be more than 0.")).to_be_visible()
    expect(page.get_by_label("Name")).to_have_value("Autumn Serum Launch")
    expect(page.get_by_label("Target views")).to_have_value(str(suggested))
    expect(page.locator("#plan-from")).to_contain_text("Creator duets on day one.")
    assert Campaign.objects.count() == 1

    page.get_by_label("Budget amount").fill("150.00")
    page.get_by_role("button", name="Create campaign").click()
    expect(page.get_by_text("Planned “Autumn Serum Launch” from “Summer Serum Launch”.")).to_be_visible()
    planned = Campaign.objects.get(planned_from=campaign)
    assert planned.budget_amount == Decimal("150.00") and planned.platform_id == ""
    assert page.url.endswith(f"/campaigns/{planned.pk}/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Autumn Serum Launch")
    panel = page.locator("#plan-from")
    expect(panel.get_by_role("heading", level=2)).to_have_text("Planned from “Summer Serum Launch”")
    for text in (
        "Creator duets on day one.",
        "Start the hashtag challenge later.",
        "Book the creators two weeks ahead.",
    ):
        expect(panel).to_contain_text(text)
    expect(page.locator(".status-line .badge-starts")).to_be_visible()  # scheduled to start, not delivering
    expect(page.locator(".timeline")).to_contain_text("Planned from “Summer Serum Launch” by mona-manager")
    assert axe(page) == []
    screenshot(page, "plan-next-campaign")

    # At phone width: the form and the new page fit, nothing scrolls sideways.
    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    screenshot(page, "plan-next-campaign-phone")
    page.goto(f"{live_server.url}/reports/{campaign.pk}/plan-next/")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    assert axe(page) == []
    screenshot(page, "plan-next-form-phone")
