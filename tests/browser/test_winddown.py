import re
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from campaigns import services
from campaigns.models import Action, Campaign, CampaignWatch, EndReason, Source
from tests.factories import CampaignFactory, ContentItemFactory

pytestmark = pytest.mark.django_db(transaction=True)


def test_end_then_work_through_checklist_without_reload(
    login_page, live_server, account, manager, editor, axe, screenshot
):
    campaign = CampaignFactory(
        account=account, name="Spring Glow", owner=editor, budget_amount=Decimal("120.00"), total_spend=Decimal("2150")
    )
    ContentItemFactory(campaign=campaign, title="Launch video")
    services.campaign_transition(
        campaign=campaign, action=Action.END, actor=manager, source=Source.UI, reason_code=EndReason.OBJECTIVES_MET
    )

    page = login_page(manager)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    page.goto(f"{live_server.url}/campaigns/{campaign.pk}/wind-down/")
    progress = page.locator("#winddown-progress")
    expect(progress).to_contain_text("2 of 7")  # calendar updated + team notified, both automatic
    assert axe(page) == []
    page.evaluate("window.__sameDocument = true")

    content = page.locator("#winddown-step-content_removed")
    content.get_by_role("button", name="Mark removed").click()
    expect(content).to_contain_text("Done by mona-manager")
    expect(progress).to_contain_text("3 of 7")

    audience = page.locator("#winddown-step-audience_informed")
    draft = audience.get_by_label(re.compile("Announcement"))
    expect(draft).to_have_value(re.compile("“Spring Glow” ended on .* It did everything we hoped it would"))
    audience.get_by_role("button", name="Copy text").click()
    expect(audience.locator("[data-copy-status]")).to_have_text("Copied to the clipboard.")
    assert "Spring Glow" in page.evaluate("navigator.clipboard.readText()")
    draft.fill(draft.input_value() + "\nSee you soon!")
    audience.get_by_label(re.compile("Where you posted it")).fill("TikTok post")
    audience.get_by_role("button", name="Mark as posted").click()
    expect(audience).to_contain_text("Posted on: TikTok post")
    expect(progress).to_contain_text("4 of 7")

    budget = page.locator("#winddown-step-budget_followup")
    expect(budget).to_contain_text("Estimated unused budget: 5,170.00 USD")
    budget.get_by_label("No refund needed").check()
    budget.get_by_role("button", name="Record follow-up").click()
    expect(budget).to_contain_text("No refund needed")
    expect(progress).to_contain_text("5 of 7")

    assert page.evaluate("window.__sameDocument") is True  # no reload happened
    assert axe(page) == []
    screenshot(page, "winddown")
    campaign.refresh_from_db()
    assert campaign.winddown_done == 5

    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    assert axe(page) == []
    screenshot(page, "winddown-phone")


def test_bulk_end_shows_grouped_notification_with_bell(
    login_page, live_server, account, manager, editor, axe, screenshot
):
    campaigns = [CampaignFactory(account=account, owner=editor, name=f"Summer drop {i}") for i in range(3)]
    CampaignWatch.objects.create(user=editor, campaign=CampaignFactory(account=account, name="Autumn teaser"))
    services.campaigns_transition(
        campaign_ids=[c.pk for c in campaigns],
        action=Action.END,
        actor=manager,
        source=Source.UI,
        reason_code=EndReason.BUDGET_CONSTRAINTS,
    )
    watched = Campaign.objects.get(name="Autumn teaser")
    services.campaign_transition(campaign=watched, action=Action.PAUSE, actor=manager, source=Source.UI)

    page = login_page(editor)
    bell = page.locator("#notification-bell")
    expect(bell).to_contain_text("2")
    bell.click()
    expect(page.get_by_role("heading", name="mona-manager ended 3 campaigns")).to_be_visible()
    expect(page.get_by_role("heading", name="mona-manager paused “Autumn teaser”")).to_be_visible()
    assert axe(page) == []
    screenshot(page, "notifications")

    page.get_by_role("button", name="Mark all as read").click()
    expect(page.locator("#notification-bell .bell-count")).to_have_count(0)
    expect(page.locator(".notification.unread")).to_have_count(0)


def test_winddown_list_and_preferences_are_accessible(login_page, live_server, account, manager, axe, screenshot):
    for i in range(3):
        c = CampaignFactory(account=account, name=f"Ended {i}")
        services.campaign_transition(
            campaign=c, action=Action.END, actor=manager, source=Source.UI, reason_code=EndReason.STRATEGY_CHANGE
        )
    page = login_page(manager)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Wind-down").click()
    expect(page.get_by_role("link", name="Ended 0")).to_be_visible()
    assert axe(page) == []
    screenshot(page, "winddown-list")
    page.goto(f"{live_server.url}/campaigns/notifications/preferences/")
    page.get_by_label("Every status change in this account").check()
    page.get_by_role("button", name="Save preferences").click()
    expect(page.get_by_text("Notification preferences saved.")).to_be_visible()
    assert axe(page) == []
