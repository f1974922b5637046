"""The calendar at agency scale in Chromium (issue 16, point 8): bars across the days a campaign runs, filters,
keyboard, an agenda on a phone, axe."""

import datetime as dt

import pytest
from playwright.sync_api import expect

from campaigns.models import Objective, Role, Status
from tests.factories import AccountFactory, CampaignFactory, MembershipFactory

pytestmark = pytest.mark.django_db(transaction=True)

FIRST = ["Spring", "Summer", "Glow", "Creator", "Flash", "Launch", "Brand", "Retarget", "Promo", "Viral", "Night"]
SECOND = ["Sale", "Drop", "Challenge", "Collab", "Boost", "Push", "Countdown", "Teaser", "Takeover", "Remix"]


def agency_month(account, manager, n=48):
    """48 campaigns in a month across two accounts, the way the issue found it: most of them overlapping."""
    second = AccountFactory(name="Northwind Sports")
    MembershipFactory(user=manager, account=second, role=Role.MANAGER)
    today = dt.date.today()
    first = today.replace(day=1)
    statuses = [Status.ACTIVE, Status.ACTIVE, Status.PAUSED, Status.ENDED]
    objectives = [Objective.VIDEO_VIEWS, Objective.REACH, Objective.TRAFFIC]
    for i in range(n):
        start = first + dt.timedelta(days=(i * 3) % 27 - 5)
        CampaignFactory(
            account=account if i % 3 else second,
            name=f"{FIRST[i % len(FIRST)]} {SECOND[i % len(SECOND)]} {i + 1}",
            status=statuses[i % 4],
            objective=objectives[i % 3],
            start_date=start,
            end_date=start + dt.timedelta(days=4 + (i * 5) % 20),
        )
    return second


def test_calendar_reads_at_agency_scale(login_page, live_server, account, manager, axe, screenshot):
    second = agency_month(account, manager)
    page = login_page(manager)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Calendar").click()

    table = page.locator("table.calendar-table")
    expect(table).to_be_visible()
    bars = table.locator("a.event")
    # Each campaign is one bar per week it runs in, never one label per day.
    names = bars.evaluate_all("els => els.map(e => e.textContent.replace(/[◂▸]/g, '').split(',')[0].trim())")
    assert len(names) < 48 * 3 and "+44 more" not in page.content()
    widest = bars.evaluate_all("els => Math.max(...els.map(e => e.closest('td').colSpan))")
    assert widest >= 5
    assert axe(page) == []
    screenshot(page, "calendar-agency")

    # Keyboard: the bars are links in reading order.
    page.locator("#cal-objective").focus()
    for _ in range(12):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.matches('a.event')"):
            break
    assert page.evaluate("document.activeElement.matches('table.calendar-table a.event')")

    page.get_by_label("Account").select_option(str(second.pk))
    page.get_by_label("Status").select_option("paused")
    page.get_by_role("button", name="Show").click()
    expect(page).to_have_url(
        f"{live_server.url}/campaigns/calendar/?month={dt.date.today():%Y-%m}&account={second.pk}&status=paused&objective="
    )
    statuses = table.locator("a.event").evaluate_all("els => [...new Set(els.map(e => e.className))]")
    assert statuses == ["event event-paused"]
    page.get_by_role("link", name=f"{(dt.date.today().replace(day=1) + dt.timedelta(days=32)):%b %Y}").click()
    expect(page.get_by_label("Status")).to_have_value("paused")  # the filters follow the month


def test_calendar_on_a_phone_is_an_agenda(login_page, live_server, account, manager, axe, screenshot):
    agency_month(account, manager, n=16)
    page = login_page(manager)
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{live_server.url}/campaigns/calendar/")

    expect(page.locator("table.calendar-table")).to_be_hidden()
    agenda = page.locator("#agenda")
    expect(agenda.get_by_role("heading", level=3).first).to_be_visible()
    assert agenda.locator("li").count() >= 10
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    assert axe(page) == []
    screenshot(page, "calendar-agency-phone")
