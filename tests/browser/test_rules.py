"""The rules journey (issue 17): a manager creates a rule, reads its preview, imports metrics that trip it, and the
campaign shows "Paused by rule <name>" with the numbers."""

import datetime as dt
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from campaigns.models import BudgetMode, Campaign, DailyMetric, Status
from campaigns.services import campaign_totals_refresh
from campaigns.timezones import today_in
from tests.factories import CampaignFactory

pytestmark = pytest.mark.django_db(transaction=True)

HEADER = (
    "Campaign name,By Day,Cost,Impressions,Reach,Clicks (destination),Video views,Paid likes,Paid comments,"
    "Paid shares,Paid follows,Profile visits"
)


def lifetime(account, name, spends, today):
    campaign = CampaignFactory(
        account=account,
        name=name,
        platform_id="",
        budget_mode=BudgetMode.LIFETIME,
        budget_amount=Decimal("1000"),
        start_date=today - dt.timedelta(days=20),
        end_date=today + dt.timedelta(days=20),
    )
    for offset, spend in spends:
        DailyMetric.objects.create(
            campaign=campaign, date=today - dt.timedelta(days=offset), spend=Decimal(spend), impressions=4000
        )
    campaign_totals_refresh(campaign_ids=[campaign.pk])
    return campaign


def test_create_rule_read_preview_import_and_see_the_pause(
    login_page, live_server, account, manager, settings, tmp_path, axe, screenshot
):
    settings.MEDIA_ROOT = tmp_path / "media"
    today = today_in(account)
    glow = lifetime(account, "Glow Drop #12", [(5, 200), (4, 200)], today)
    teaser = lifetime(account, "Winter Teaser", [(8, 500), (7, 450)], today)

    page = login_page(manager)
    page.goto(f"{live_server.url}/campaigns/accounts/")
    page.get_by_role("link", name=f"Rules of {account.name}").click()
    expect(page.get_by_role("heading", name="Rules")).to_be_visible()
    page.get_by_role("link", name="New rule").click()

    page.get_by_label("Name").fill("Budget guard")
    page.get_by_label("When").select_option("budget_spent")
    expect(page.get_by_label("Days", exact=True)).to_be_hidden()  # only what the condition uses shows (with JavaScript)
    page.get_by_label("Threshold").fill("90")
    page.get_by_label("End", exact=True).check()
    expect(page.get_by_label("End reason")).to_be_visible()
    page.get_by_label("Pause", exact=True).check()
    expect(page.get_by_label("End reason")).to_be_hidden()
    page.get_by_role("button", name="Preview").click()

    preview = page.locator("#rule-preview")
    day = today - dt.timedelta(days=7)
    expect(preview).to_contain_text("Pause when spend reaches 90 % of the lifetime budget")
    expect(preview).to_contain_text(f"Winter Teaser on {day.day} {day:%b}: spend 95 % of the lifetime budget")
    expect(preview).to_contain_text("Today it would act on 1 campaign: Winter Teaser.")
    assert axe(page) == []
    screenshot(page, "rule-preview")
    page.set_viewport_size({"width": 390, "height": 844})
    assert axe(page) == []
    screenshot(page, "rule-preview-phone")
    page.set_viewport_size({"width": 1366, "height": 900})

    page.get_by_role("button", name="Save rule").click()
    expect(page.locator("#messages")).to_contain_text("Rule “Budget guard” saved")
    expect(page.locator("#rule-table")).to_contain_text("Pause when spend reaches 90 % of the lifetime budget")
    screenshot(page, "rule-list")

    export = tmp_path / "export.csv"
    yesterday = today - dt.timedelta(days=1)
    export.write_text(f"{HEADER}\nGlow Drop #12,{yesterday.isoformat()},560,9000,7000,60,3000,10,1,1,1,2\n")
    page.goto(f"{live_server.url}/campaigns/accounts/{account.pk}/")
    page.get_by_label("CSV or XLSX file").set_input_files(str(export))
    page.get_by_role("button", name="Upload and preview").click()
    page.get_by_role("button", name="Import 1 daily row").click()
    expect(page.locator("#messages")).to_contain_text("1 new and 0 updated daily rows")

    assert Campaign.objects.get(pk=glow.pk).status == Status.PAUSED
    assert Campaign.objects.get(pk=teaser.pk).status == Status.PAUSED
    page.goto(f"{live_server.url}/campaigns/{glow.pk}/")
    history = page.get_by_role("region", name="History")
    expect(history).to_contain_text("Paused by rule Budget guard")
    expect(history).to_contain_text("spend 96 % of the lifetime budget (960.00 USD of 1,000.00 USD)")
    screenshot(page, "rule-paused-campaign")

    page.goto(f"{live_server.url}/campaigns/accounts/{account.pk}/rules/log/")
    log = page.locator("#rule-log")
    expect(log).to_contain_text("Paused “Glow Drop #12” on")
    expect(log).to_contain_text("Created Pause when spend reaches 90 % of the lifetime budget")
    assert axe(page) == []
    screenshot(page, "rule-log")
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot(page, "rule-log-phone")
