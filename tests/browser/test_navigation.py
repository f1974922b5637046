"""Finding your way (issue 16, point 10) and the list's layout (point 11) in Chromium: the Accounts page, each
row's own action menu (also without JavaScript), the selection bar within reach of the keyboard, focus back on the
changed row, no checkboxes for viewers, the admin's End, the pause dialog that counts only what changes."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from campaigns.models import BudgetMode, Campaign, Connector, Status, StatusChange, SyncState
from tests.factories import AccountFactory, CampaignFactory, MembershipFactory

pytestmark = pytest.mark.django_db(transaction=True)


def agency(account, n=12):
    """A list like an agency's: long names, every status, money in two currencies."""
    account.currency = "EUR"
    account.save(update_fields=["currency"])
    today = dt.date.today()
    names = [
        "Spring Glow — Creator Collab Wave 2",
        "Summer Drop Countdown",
        "Night Serum Retarget (lookalike 3%)",
        "Back to School Bundle",
        "Holiday Teaser Takeover",
        "Fresh Fitness Challenge",
    ]
    campaigns = []
    for i in range(n):
        status = [Status.ACTIVE, Status.ACTIVE, Status.PAUSED, Status.ENDED][i % 4]
        campaigns.append(
            CampaignFactory(
                account=account,
                name=f"{names[i % len(names)]} {i + 1}",
                status=status,
                budget_amount=Decimal("300") if i % 2 else Decimal("1250.50"),
                budget_mode=BudgetMode.DAILY if i % 3 else BudgetMode.LIFETIME,
                start_date=today - dt.timedelta(days=40 - i),
                end_date=today + dt.timedelta(days=20 + i),
                total_spend=Decimal("12345.67") + i,
                total_video_views=1_234_567 + i,
                total_follows=12_345 + i,
                status_changed_at=timezone.now() - dt.timedelta(hours=i),
                winddown_done=3 if status == Status.ENDED else None,
                ended_at=timezone.now() if status == Status.ENDED else None,
                still_delivering_since=today if i == 3 else None,
                sync_state=SyncState.PENDING if i == 6 else SyncState.SYNCED,
            )
        )
    return campaigns


def test_accounts_page_is_in_the_navigation(login_page, live_server, account, editor, axe, screenshot):
    connected = AccountFactory(
        name="Northwind Sports", connector=Connector.TIKTOK, last_synced_at=timezone.now(), currency="EUR"
    )
    MembershipFactory(user=editor, account=connected, role="manager")
    CampaignFactory.create_batch(3, account=account)
    page = login_page(editor)

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Accounts").click()

    expect(page).to_have_url(f"{live_server.url}/campaigns/accounts/")
    table = page.locator("#account-table")
    expect(table.get_by_role("row", name="Northwind Sports")).to_contain_text("TikTok Marketing API")
    expect(table.get_by_role("row", name="Acme Beauty")).to_contain_text("Editor")
    assert axe(page) == []
    screenshot(page, "accounts")
    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    assert axe(page) == []
    screenshot(page, "accounts-phone")

    page.get_by_role("link", name="Import export into Acme Beauty").click()
    expect(page.get_by_role("heading", name="Import an Ads Manager export")).to_be_in_viewport()


def test_each_row_has_its_own_action_menu_and_focus_returns_to_the_row(login_page, live_server, account, editor):
    campaigns = agency(account, n=8)
    target = campaigns[1]
    page = login_page(editor)
    page.goto(f"{live_server.url}/campaigns/")
    row = page.locator(f"#campaign-{target.pk}")

    menu = row.locator("[data-row-menu] summary")
    expect(menu).to_have_accessible_name(f"Actions for {target.name}")
    menu.focus()
    page.keyboard.press("Enter")
    expect(row.get_by_role("link", name=f"Pause… {target.name}")).to_be_visible()
    assert row.get_by_role("link", name=f"Resume… {target.name}").count() == 0  # active: only what it allows
    row.get_by_role("link", name=f"Pause… {target.name}").press("Enter")
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("Pause 1 campaign?")
    dialog.get_by_role("button", name="Pause 1 campaign").press("Enter")

    page.get_by_text("Paused 1 campaign.").wait_for()
    expect(page.locator(f"#campaign-{target.pk}")).to_have_attribute("data-status", "paused")
    # Focus moves after htmx settles (HX-Trigger-After-Settle), a moment after the row is swapped: wait for it.
    page.wait_for_function(
        "id => document.activeElement && document.activeElement.closest('tr') "
        "&& document.activeElement.closest('tr').id === id",
        arg=f"campaign-{target.pk}",
        timeout=5000,
    )


def test_row_menu_works_without_javascript(nojs_login, live_server, account, editor):
    target = agency(account, n=4)[0]
    page = nojs_login(editor, viewport={"width": 1366, "height": 900})
    page.goto(f"{live_server.url}/campaigns/?sort=name")

    row = page.locator(f"#campaign-{target.pk}")
    row.locator("[data-row-menu] summary").click()
    row.get_by_role("link", name=f"Pause… {target.name}").click()
    expect(page.get_by_role("heading", name="Pause 1 campaign?")).to_be_visible()
    page.get_by_role("button", name="Pause 1 campaign").click()

    expect(page).to_have_url(f"{live_server.url}/campaigns/?sort=name#campaign-{target.pk}")
    assert Campaign.objects.get(pk=target.pk).status == Status.PAUSED


def test_the_selection_bar_is_a_few_keys_from_the_rows(login_page, live_server, account, editor):
    agency(account, n=25)
    page = login_page(editor)
    page.goto(f"{live_server.url}/campaigns/")
    first_box = page.locator("#campaign-table tbody [data-select-row]").first
    first_box.check()

    presses = 0
    while not page.evaluate("!!document.activeElement.closest('[data-selection-bar]')") and presses < 60:
        page.keyboard.press("Shift+Tab")
        presses += 1

    assert presses <= 16, presses  # it was 52 Tabs forward past every row
    assert page.evaluate("document.activeElement.textContent").strip() in ("End…", "Resume…", "Pause…")


def test_viewers_see_no_checkboxes_or_menus(login_page, live_server, account, viewer, axe):
    agency(account, n=4)
    page = login_page(viewer)
    page.goto(f"{live_server.url}/campaigns/")

    expect(page.locator("#campaign-table tbody tr")).to_have_count(4)
    assert page.locator("#campaign-table input[type=checkbox]").count() == 0
    assert page.locator("[data-row-menu], [data-selection-bar]").count() == 0
    assert axe(page) == []


def test_pause_dialog_counts_only_what_will_change(login_page, live_server, account, editor, axe, screenshot):
    campaigns = agency(account, n=4)  # active, active, paused, ended
    page = login_page(editor)
    page.goto(f"{live_server.url}/campaigns/")
    page.locator("[data-select-page]").check()
    assert page.locator("#campaign-table tbody [data-select-row]").count() == 3  # the ended row has none
    page.get_by_role("button", name="Pause…").click()

    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_role("heading", level=2)).to_have_text("Pause 2 of 3 selected campaigns?")
    expect(dialog).to_contain_text("In all, about 300.00 EUR per day of spend stops")
    expect(dialog.locator("[data-confirm-unchanged]")).to_contain_text("already paused")
    assert axe(page) == []
    screenshot(page, "pause-dialog", full_page=False)
    dialog.get_by_role("button", name="Pause 2 campaigns").click()
    page.get_by_text("Paused 2 campaigns").wait_for()
    assert {c.status for c in Campaign.objects.filter(pk__in=[c.pk for c in campaigns[:2]])} == {Status.PAUSED}


def test_list_fits_at_1366_and_has_no_contrast_problem(login_page, live_server, account, manager, axe, screenshot):
    agency(account, n=12)
    page = login_page(manager)
    page.goto(f"{live_server.url}/campaigns/")

    wrap = page.locator("#campaign-table").locator("xpath=..")
    overflow = wrap.evaluate("el => el.scrollWidth - el.clientWidth")
    assert overflow <= 0, f"the table is {overflow}px wider than its box"
    expect(page.locator("#campaign-table thead")).to_contain_text("Last change")
    assert page.locator("#campaign-table thead th").last.bounding_box()["x"] + 10 < 1366
    # The totals sit under their own columns (a hidden column's footer cell is hidden too).
    spend_head = page.locator("#campaign-table thead th", has_text="Spend").bounding_box()
    spend_total = page.locator("#campaign-table tfoot td", has_text="EUR").bounding_box()
    assert abs(spend_head["x"] + spend_head["width"] - spend_total["x"] - spend_total["width"]) < 2
    page.locator(f"#campaign-{Campaign.objects.filter(status=Status.ACTIVE).first().pk} [data-select-row]").check()
    assert axe(page) == []  # including a selected row and the bar
    screenshot(page, "campaign-list-agency")


def test_admin_end_asks_for_an_explicit_reason_then_ends(login_page, live_server, staff, account):
    campaign = CampaignFactory(account=account, name="Admin Ends This")
    page = login_page(staff)
    page.goto(f"{live_server.url}/admin/campaigns/campaign/")
    page.get_by_role("row", name="Admin Ends This").get_by_role("checkbox").check()
    page.get_by_label("Action:").select_option("end_campaigns")
    page.get_by_role("button", name="Run").click()

    expect(page.get_by_text("This cannot be undone.")).to_be_visible()
    expect(page.get_by_label("Reason:")).to_have_value("")
    page.get_by_role("button", name="End 1 campaign").click()  # the browser refuses: a reason is required
    assert page.get_by_label("Reason:").evaluate("el => el.validity.valueMissing")
    assert Campaign.objects.get(pk=campaign.pk).status == Status.ACTIVE

    page.get_by_label("Reason:").select_option("budget_constraints")
    page.get_by_role("button", name="End 1 campaign").click()
    expect(page.get_by_text("Ended 1 campaign.")).to_be_visible()
    change = StatusChange.objects.get(campaign=campaign)
    assert (change.source, change.reason_code) == ("admin", "budget_constraints")


def test_the_list_with_row_menus_does_not_widen_a_phone_page(login_page, live_server, account, editor, axe):
    agency(account, n=6)
    page = login_page(editor)
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{live_server.url}/campaigns/")

    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    assert axe(page) == []
