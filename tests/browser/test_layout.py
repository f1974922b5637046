"""Wording and layout in Chromium (issue 16, point 11): the campaign page right after a pause, what a budget is
out of, the Watch button beside its neighbours, schedule errors at the top and focused, empty charts, at desktop
and phone width with axe."""

import datetime as dt
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from tests.factories import CampaignFactory, DailyMetricFactory

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_campaign_page_right_after_a_pause(login_page, live_server, account, manager, axe, screenshot):
    campaign = CampaignFactory(
        account=account,
        name="Promo Night Serum",
        budget_amount=Decimal("80"),
        start_date=dt.date.today() - dt.timedelta(days=14),
        end_date=dt.date.today() + dt.timedelta(days=20),
    )
    for day in range(14):
        DailyMetricFactory(
            campaign=campaign, date=dt.date.today() - dt.timedelta(days=14 - day), video_views=400 + 37 * day
        )
    from campaigns import services

    services.campaign_totals_refresh(campaign_ids=[campaign.pk])
    page = login_page(manager)
    page.goto(f"{live_server.url}/campaigns/{campaign.pk}/")
    page.get_by_role("button", name="Pause…").click()
    page.get_by_role("dialog").get_by_role("button", name="Pause 1 campaign").click()
    page.get_by_text("Paused 1 campaign.").wait_for()

    expect(page.locator("[data-pause-note]")).to_contain_text("Paused since")
    assert "has not been paused" not in page.content()
    expect(page.locator(".kpi", has_text="Budget remaining")).to_contain_text("of 2,800.00 USD planned (80.00 a day")
    actions = page.locator(".page-head .actions")
    heights = {
        name: actions.get_by_role(role, name=name).bounding_box()["height"]
        for role, name in (("button", "Resume…"), ("button", "Watch"), ("link", "Edit"))
    }
    assert max(heights.values()) - min(heights.values()) < 1, heights
    assert axe(page) == []
    screenshot(page, "campaign-paused")
    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    assert axe(page) == []
    screenshot(page, "campaign-paused-phone")


def test_schedule_errors_are_at_the_top_and_focused(login_page, live_server, account, manager, axe):
    campaign = CampaignFactory(account=account, name="Spring Glow")
    page = login_page(manager)
    page.set_viewport_size({"width": 1366, "height": 700})
    page.goto(f"{live_server.url}/campaigns/{campaign.pk}/")
    page.get_by_label("Action").select_option("end")
    page.get_by_label("At").fill("2001-05-01T09:30")
    page.get_by_role("button", name="Schedule").click()

    summary = page.locator("#schedule-errors")
    expect(summary).to_be_focused()
    expect(summary).to_be_in_viewport()
    expect(summary).to_contain_text("Nothing was scheduled.")
    expect(summary).to_contain_text("At: Choose a time in the future.")
    expect(summary).to_contain_text("Choose why the campaign is ending.")
    summary.get_by_role("link", name="At: Choose a time in the future.").click()
    expect(page.get_by_label("At")).to_be_in_viewport()
    assert axe(page) == []


def test_a_chart_without_data_says_so(login_page, live_server, account, viewer):
    campaign = CampaignFactory(account=account, name="Quiet")
    for day in range(5):
        DailyMetricFactory(campaign=campaign, date=dt.date.today() - dt.timedelta(days=day + 1), video_views=0, spend=0)
    page = login_page(viewer)
    page.goto(f"{live_server.url}/campaigns/{campaign.pk}/")

    expect(page.locator("[data-chart-empty]")).to_contain_text("Nothing to chart yet")
    assert page.locator("canvas").count() == 0


@pytest.mark.parametrize("width", [1366, 390], ids=["desktop", "phone"])
def test_demo_data_pages_have_no_serious_axe_violation(login_page, live_server, axe, width):
    """With `make run`'s demo data (60 campaigns, unread notifications): the list where axe once found a serious
    colour-contrast problem, the home, the accounts page and the calendar."""
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    call_command("seed_demo")
    from tests.factories import PASSWORD

    manager = get_user_model().objects.get(username="manager")
    manager.set_password(PASSWORD)  # the login fixture's password, not the demo's
    manager.save(update_fields=["password"])
    page = login_page(manager)
    page.set_viewport_size({"width": width, "height": 900})
    problems = {}
    for path in ("/", "/campaigns/", "/campaigns/?tab=paused", "/campaigns/accounts/", "/campaigns/calendar/"):
        page.goto(f"{live_server.url}{path}")
        page.wait_for_load_state("networkidle")
        if path == "/campaigns/":
            page.locator("#campaign-table tbody [data-select-row]").first.check()
        if violations := axe(page):
            problems[path] = violations
    assert problems == {}


def test_a_report_without_data_does_not_run_backwards(login_page, live_server, account, manager):
    from campaigns import services
    from campaigns.models import Action, EndReason, Source
    from reports.services import report_create

    campaign = CampaignFactory(account=account, start_date=dt.date.today() + dt.timedelta(days=4), end_date=None)
    services.campaign_transition(
        campaign=campaign,
        action=Action.END,
        actor=manager,
        source=Source.UI,
        reason_code=EndReason.OTHER,
        reason_note="Cancelled before launch",
    )
    report_create(campaign=campaign)
    page = login_page(manager)
    page.goto(f"{live_server.url}/reports/{campaign.pk}/")

    facts = page.locator(".report-facts")
    expect(facts).to_contain_text("No delivery recorded")
    expect(facts).not_to_contain_text("metrics for 0 days")
