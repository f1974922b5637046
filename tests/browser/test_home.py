"""The home page in Chromium (issue 16, point 9): where a login lands, what needs attention with links to the
fix, the navigation's count, desktop and phone, axe."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from campaigns import services
from campaigns.models import (
    Action,
    BudgetMode,
    Connector,
    EndReason,
    Role,
    ScheduledAction,
    Source,
    Status,
    SyncState,
)
from tests.factories import AccountFactory, CampaignFactory, MembershipFactory

pytestmark = pytest.mark.django_db(transaction=True)


def attention(account, manager):
    """A morning at an agency: one of every kind of thing that needs attention, in two accounts."""
    now = timezone.now()
    second = AccountFactory(
        name="Northwind Sports", currency="EUR", connector=Connector.TIKTOK, sync_error="Token expired"
    )
    MembershipFactory(user=manager, account=second, role=Role.MANAGER)
    CampaignFactory(
        account=account,
        name="Holiday Teaser",
        status=Status.ENDED,
        ended_at=now - dt.timedelta(days=2),
        winddown_done=7,
        still_delivering_since=dt.date.today() - dt.timedelta(days=1),
    )
    CampaignFactory(account=second, name="Summer Drop", sync_state=SyncState.FAILED, status=Status.PAUSED)
    for name, days in (("Back to School", 12), ("Creator Collab", 9)):
        CampaignFactory(
            account=account, name=name, status=Status.ENDED, ended_at=now - dt.timedelta(days=days), winddown_done=4
        )
    soon = CampaignFactory(account=account, name="Promo Night Serum")
    ScheduledAction.objects.create(
        campaign=soon,
        action=Action.END,
        run_at=now + dt.timedelta(hours=5),
        reason_code=EndReason.OBJECTIVES_MET,
        created_by=manager,
    )
    CampaignFactory(
        account=second,
        name="Spring Glow Lifetime",
        budget_mode=BudgetMode.LIFETIME,
        budget_amount=Decimal("5000"),
        total_spend=Decimal("4710.50"),
    )
    ended = CampaignFactory(account=account, name="Autumn Launch")
    services.campaign_transition(
        campaign=ended, action=Action.END, actor=manager, source=Source.UI, reason_code=EndReason.OBJECTIVES_MET
    )
    return {"soon": soon, "ended": ended, "second": second}


def test_login_lands_on_the_home_which_links_each_line_to_its_fix(
    login_page, live_server, account, manager, axe, screenshot
):
    made = attention(account, manager)

    page = login_page(manager)

    assert page.url == f"{live_server.url}/"
    main = page.locator("main")
    expect(main.get_by_role("heading", name="Needs attention")).to_be_visible()
    for title in (
        "1 campaign still delivering after its end",
        "2 sync failures",
        "2 wind-downs overdue",
        "1 scheduled action in the next 24\u00a0h",
        "1 report waiting for lessons",
        "1 lifetime budget nearly spent",
    ):
        expect(main.get_by_role("link", name=title)).to_be_visible()
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="Home")).to_have_attribute("aria-current", "page")
    expect(nav.locator(".nav-count")).to_have_text("8 need attention")
    assert axe(page) == []
    screenshot(page, "home")

    main.get_by_role("link", name="Promo Night Serum").click()
    expect(page).to_have_url(f"{live_server.url}/campaigns/{made['soon'].pk}/")
    expect(page.get_by_role("button", name="Unschedule")).to_be_visible()  # where it is fixed
    page.go_back()
    main.get_by_role("link", name="Account Northwind Sports").click()
    expect(page).to_have_url(f"{live_server.url}/campaigns/accounts/{made['second'].pk}/#sync-status")


def test_home_on_a_phone(login_page, live_server, account, manager, axe, screenshot):
    attention(account, manager)
    page = login_page(manager)
    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()

    expect(page.locator("main").get_by_role("link", name="2 sync failures")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    assert axe(page) == []
    screenshot(page, "home-phone")


def test_other_pages_fetch_the_navigation_count_and_update_it_after_a_change(login_page, live_server, account, editor):
    CampaignFactory(account=account, name="Promo Spring Glow")
    CampaignFactory(account=account, name="Failing", sync_state=SyncState.FAILED)
    page = login_page(editor)
    page.goto(f"{live_server.url}/campaigns/")
    badge = page.get_by_role("navigation", name="Main").locator(".nav-count")
    expect(badge).to_have_text("1 need attention")

    # Pausing the failed one in Closeout (a manual account) settles its sync: nothing needs attention any more.
    page.get_by_label("Select Failing").check()
    page.get_by_role("button", name="Pause…").click()
    page.get_by_role("dialog").get_by_role("button", name="Pause 1 campaign").click()
    expect(badge).to_have_count(0)  # re-fetched on campaignStatusChanged


def test_home_when_all_is_clear(login_page, live_server, account, viewer, axe):
    CampaignFactory(account=account, name="Quiet one")

    page = login_page(viewer)

    expect(page.get_by_role("heading", name="All clear")).to_be_visible()
    expect(page.get_by_text("Nothing needs attention right now in your 1 account.")).to_be_visible()
    assert page.get_by_role("navigation", name="Main").locator(".nav-count").count() == 0
    assert axe(page) == []
