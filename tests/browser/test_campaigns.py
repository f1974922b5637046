import datetime as dt
import re
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.utils import timezone
from playwright.sync_api import expect

from campaigns.models import Action, BudgetMode, ScheduledAction, Status, StatusChange, SyncState
from tests.factories import CampaignFactory, DailyMetricFactory

pytestmark = pytest.mark.django_db(transaction=True)


def seed(account):
    today = dt.date.today()
    specs = [
        ("Promo Spring Glow", Status.ACTIVE, {}),
        ("Promo Summer Drop", Status.ACTIVE, {}),
        ("Promo Night Serum", Status.ACTIVE, {"budget_mode": BudgetMode.LIFETIME, "budget_amount": Decimal("5000")}),
        ("Back to School", Status.PAUSED, {}),
        ("Holiday Teaser", Status.ENDED, {"winddown_done": 3, "ended_at": timezone.now()}),
        ("Creator Collab", Status.PAUSED, {"sync_state": SyncState.PENDING}),
    ]
    campaigns = []
    for i, (name, status, extra) in enumerate(specs):
        campaign = CampaignFactory(
            account=account,
            name=name,
            status=status,
            start_date=today - dt.timedelta(days=20 - i),
            end_date=today + dt.timedelta(days=5 + 3 * i),
            total_spend=Decimal(120 * (i + 1)),
            total_video_views=15000 * (i + 1),
            total_follows=40 * (i + 1),
            status_changed_at=timezone.now() - dt.timedelta(hours=i),
            **extra,
        )
        campaigns.append(campaign)
    ScheduledAction.objects.create(
        campaign=campaigns[1],
        action=Action.END,
        run_at=timezone.now() + dt.timedelta(hours=3, minutes=10),
        reason_code="objectives_met",
    )
    return campaigns


def rows_with_status(page, status):
    return page.locator(f"#campaign-table tbody tr[data-status='{status}']")


def test_search_select_two_pause_and_undo(login_page, live_server, account, editor, axe, screenshot):
    seed(account)
    page = login_page(editor)
    page.goto(f"{live_server.url}/campaigns/")
    screenshot(page, "campaign-list")
    assert axe(page) == []

    page.get_by_label("Search").fill("promo")
    expect(page.locator("#campaign-table tbody tr")).to_have_count(3)
    assert "q=promo" in page.url  # pushed: reload and links restore this view

    page.get_by_label("Select Promo Spring Glow").check()
    page.get_by_label("Select Promo Summer Drop").check()
    assert page.locator("[data-selection-count]").inner_text() == "2 selected"
    page.get_by_role("button", name="Pause…").click()

    dialog = page.get_by_role("dialog")
    dialog.wait_for()
    assert "Promo Spring Glow" in dialog.inner_text() and "per day" in dialog.inner_text()
    assert axe(page) == []
    dialog.get_by_role("button", name="Pause 2 campaigns").click()

    page.get_by_text("Paused 2 campaigns.").wait_for()
    assert page.get_by_role("dialog").count() == 0
    assert rows_with_status(page, "paused").count() == 2
    assert "q=promo" in page.url

    page.get_by_role("button", name="Undo (resume 2)").click()
    page.get_by_text("Resumed 2 campaigns.").wait_for()
    assert rows_with_status(page, "paused").count() == 0
    assert rows_with_status(page, "active").count() == 3


def test_list_on_a_phone(login_page, live_server, account, manager, screenshot, axe):
    seed(account)
    page = login_page(manager)
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{live_server.url}/campaigns/")
    screenshot(page, "campaign-list-phone")
    assert axe(page) == []


def test_end_one_with_a_reason_and_history_shows_it(login_page, live_server, account, manager, axe, screenshot):
    campaign = seed(account)[2]
    for day in range(14):
        DailyMetricFactory(
            campaign=campaign,
            date=dt.date.today() - dt.timedelta(days=14 - day),
            video_views=400 + 37 * day,
            spend=Decimal(30 + day),
        )
    for days_ago, frm, to, action in ((8, "active", "paused", "pause"), (5, "paused", "active", "resume")):
        change = StatusChange.objects.create(
            campaign=campaign, action=action, from_status=frm, to_status=to, source="ui", actor=manager
        )
        StatusChange.objects.filter(pk=change.pk).update(created_at=timezone.now() - dt.timedelta(days=days_ago))
    page = login_page(manager)
    page.goto(f"{live_server.url}/campaigns/{campaign.pk}/")
    assert "Shaded: days the campaign was paused." in page.content()
    page.get_by_role("link", name="End campaign…").click()

    dialog = page.get_by_role("dialog")
    dialog.wait_for()
    assert "cannot be undone" in dialog.inner_text()
    screenshot(page, "end-dialog", full_page=False)
    assert axe(page) == []
    dialog.get_by_label("Why is it ending?").select_option("budget_constraints")
    dialog.get_by_label("Note").fill("Budget moved to Q4")
    dialog.get_by_label("Type the campaign’s name to confirm").fill("promo night serum")
    dialog.get_by_role("button", name="End 1 campaign").click()

    page.get_by_text("Ended 1 campaign.").wait_for()
    history = page.locator(".timeline").inner_text()
    assert "Active → Ended" in history and "Budget constraints" in history and "Budget moved to Q4" in history
    assert "post-close report" in page.content()
    assert StatusChange.objects.filter(campaign=campaign, action=Action.END, actor=manager).exists()
    screenshot(page, "campaign-detail")


def test_end_dialog_keyboard_escape_returns_focus(login_page, live_server, account, manager):
    campaign = seed(account)[0]
    page = login_page(manager)
    page.goto(f"{live_server.url}/campaigns/{campaign.pk}/")
    trigger = page.get_by_role("link", name="End campaign…")
    trigger.focus()
    page.keyboard.press("Enter")
    page.get_by_role("dialog").wait_for()
    assert page.evaluate("document.activeElement.closest('dialog') !== null")
    for _ in range(12):  # Tab never leaves the dialog
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.closest('dialog') !== null")

    page.keyboard.press("Escape")

    expect(page.locator("dialog")).to_have_count(0)
    assert page.evaluate("document.activeElement.textContent.trim()") == "End campaign…"


def test_end_works_without_javascript(nojs_login, live_server, account, manager):
    campaign = seed(account)[0]
    page = nojs_login(manager)
    page.goto(f"{live_server.url}/campaigns/{campaign.pk}/")
    page.get_by_role("link", name="End campaign…").click()

    assert "/campaigns/end/" in page.url
    page.get_by_label("Why is it ending?").select_option("objectives_met")
    page.get_by_label("Type the campaign’s name to confirm").fill(campaign.name)
    page.get_by_role("button", name="End 1 campaign").click()

    assert page.get_by_text("Ended 1 campaign.").is_visible()
    campaign.refresh_from_db()
    assert campaign.status == Status.ENDED


def test_schedule_an_end_then_run_due_actions(login_page, live_server, account, manager):
    campaign = seed(account)[0]
    page = login_page(manager)
    page.goto(f"{live_server.url}/campaigns/{campaign.pk}/")
    page.get_by_label("Action").select_option("end")
    page.get_by_label("At").fill("2099-05-01T09:30")
    page.get_by_label("Reason (for an end)").select_option("objectives_met")
    page.get_by_role("button", name="Schedule").click()

    page.get_by_text("Scheduled: end").wait_for()
    assert page.get_by_role("button", name="Unschedule").is_visible()
    ScheduledAction.objects.filter(campaign=campaign).update(run_at=timezone.now() - dt.timedelta(minutes=1))
    call_command("run_due_actions")
    page.reload()

    assert "Ended" in page.locator(".status-line").inner_text()
    assert "Schedule" in page.locator(".timeline").inner_text()


def test_calendar_desktop_and_phone(login_page, live_server, account, manager, axe, screenshot):
    seed(account)
    page = login_page(manager)
    page.goto(f"{live_server.url}/campaigns/calendar/")
    assert page.locator(".calendar .event").count() > 0
    assert axe(page) == []
    screenshot(page, "calendar")
    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    screenshot(page, "calendar-phone")
    assert axe(page) == []


def test_sorting_paging_and_page_size_change_the_address(login_page, live_server, account, viewer):
    """Sort, page and page-size links swap only the table and push the address, so reload and back restore the
    same view (they sit inside the bulk form, whose POST must not push)."""
    for i in range(30):
        CampaignFactory(account=account, name=f"Campaign {i:02d}", total_spend=Decimal(i * 10))
    page = login_page(viewer)
    page.goto(f"{live_server.url}/campaigns/")

    page.locator("#campaign-table thead a", has_text="Spend").click()
    expect(page).to_have_url(f"{live_server.url}/campaigns/?sort=total_spend")
    expect(page.locator("#campaign-table")).to_have_count(1)  # replaced in place, not added to the dialog slot
    expect(page.locator("#dialog-slot")).to_be_empty()
    expect(page.locator("#campaign-table tbody tr").first).to_contain_text("Campaign 00")
    page.locator("nav.table-pages a[rel=next]").click()
    expect(page).to_have_url(f"{live_server.url}/campaigns/?sort=total_spend&page=2")
    expect(page.locator("#result-count")).to_contain_text("page 2 of 2")
    page.reload()
    expect(page.locator("#result-count")).to_contain_text("page 2 of 2")
    expect(page.locator("#campaign-table th[aria-sort=ascending]")).to_contain_text("Spend")
    page.go_back()
    expect(page).to_have_url(f"{live_server.url}/campaigns/?sort=total_spend")
    # htmx restores the page with a request of its own: wait for it before the next click.
    expect(page.locator("#result-count")).to_contain_text("page 1 of 2")
    page.locator(".per-page a", has_text="50").click()
    expect(page).to_have_url(f"{live_server.url}/campaigns/?sort=total_spend&per_page=50")
    expect(page.locator("#campaign-table tbody tr")).to_have_count(30)


def test_calendar_feed_address_is_shown_once_on_its_page(login_page, live_server, account, manager, axe, screenshot):
    page = login_page(manager)
    page.goto(f"{live_server.url}/campaigns/calendar/")

    page.get_by_role("button", name="Publish feed").click()

    address = page.get_by_label("Calendar feed address (ICS)")
    expect(address).to_have_value(re.compile(rf"^{re.escape(live_server.url)}/campaigns/ics/[\w-]+\.ics$"))
    expect(page.get_by_role("button", name="Copy address")).to_be_visible()
    assert axe(page) == []
    screenshot(page, "calendar-feed")
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot(page, "calendar-feed-phone")
    assert axe(page) == []
    feed_url = address.input_value()

    page.get_by_role("link", name="Back to the calendar").click()

    expect(page.get_by_role("button", name="Rotate address")).to_be_visible()
    assert feed_url not in page.content()
