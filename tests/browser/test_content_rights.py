"""The content-rights journey (issue 17): an expiring content item shows on the home page with its warning; an
editor moves its date into the past on the campaign page; once the hourly job has run, the wind-down page shows
the "content removed" step opened with the expiry as the reason."""

import datetime as dt
import os
import shutil

import pytest
from playwright.sync_api import expect

from campaigns import services
from campaigns.models import Role
from campaigns.text import day_text
from campaigns.timezones import today_in
from tests.factories import CampaignFactory, ContentItemFactory, MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


def keep(path):
    """Copy a screenshot where a person can look at it after the run (SCREENSHOTS_DIR), when asked."""
    folder = os.environ.get("SCREENSHOTS_DIR")
    if folder:
        os.makedirs(folder, exist_ok=True)
        shutil.copy(path, folder)


def test_expiring_content_warns_on_home_then_opens_its_winddown_step(
    login_page, live_server, account, manager, axe, screenshot
):
    owner = UserFactory(username="olga-owner", first_name="Olga", last_name="Owner")
    MembershipFactory(user=owner, account=account, role=Role.EDITOR)
    today = today_in(account)
    campaign = CampaignFactory(account=account, name="Glow Drop #12", owner=owner, platform_id="")
    soon = today + dt.timedelta(days=2)
    ContentItemFactory(campaign=campaign, title="Glow reel", creator_name="Ana Ruiz", rights_expire_on=soon)
    ContentItemFactory(campaign=campaign, title="Behind the scenes")

    page = login_page(owner)
    page.goto(f"{live_server.url}/")
    line = page.locator('[data-attention="rights_expiring"]')
    expect(line).to_be_visible()
    expect(line.get_by_role("heading", name="1 Content item whose usage rights end soon")).to_be_visible()
    expect(line).to_contain_text(f"usage rights expire on {day_text(soon)} · Glow Drop #12")
    axe(page)
    keep(screenshot(page, "rights-home"))
    page.set_viewport_size({"width": 390, "height": 844})
    keep(screenshot(page, "rights-home-phone"))
    page.set_viewport_size({"width": 1366, "height": 900})

    # The campaign page says it too, and an editor changes the date there (no JavaScript needed: a plain form).
    line.get_by_role("link", name="Glow reel").click()
    expect(page.get_by_role("heading", name="Glow Drop #12")).to_be_visible()
    row = page.locator("tr", has_text="Glow reel")
    expect(row).to_contain_text("Expires soon")
    expect(row).to_contain_text("(in 2 days)")
    page.get_by_text("Change usage rights").click()
    yesterday = today - dt.timedelta(days=1)
    form = page.locator("form.rights-form", has_text="Glow reel")
    form.get_by_label("Usage rights expire on").fill(yesterday.isoformat())
    form.get_by_role("button", name="Save usage rights of Glow reel").click()
    expect(page.get_by_text(f"Saved: usage rights of “Glow reel” expire on {day_text(yesterday)}.")).to_be_visible()
    expect(page.locator("tr", has_text="Glow reel")).to_contain_text("Expired")
    page.set_viewport_size({"width": 390, "height": 844})
    page.get_by_text("Change usage rights").click()
    page.locator("#content").scroll_into_view_if_needed()
    keep(screenshot(page, "rights-campaign-content-phone", full_page=False))
    page.set_viewport_size({"width": 1366, "height": 900})

    services.content_rights_run()  # what the workers' hourly job campaigns.rights_expiry does

    page.goto(f"{live_server.url}/")
    line = page.locator('[data-attention="rights_expiring"]')
    expect(line).to_contain_text(f"usage rights expired on {day_text(yesterday)}")
    line.get_by_role("link", name="Glow reel").click()
    expect(page.get_by_role("heading", name="Wind-down: Glow Drop #12")).to_be_visible()
    step = page.locator("#winddown-step-content_removed")
    expect(step).to_contain_text("Open")
    reason = f"Usage rights of “Glow reel” (creator Ana Ruiz) expired on {day_text(yesterday)}"
    expect(step.locator(".rights-reason")).to_contain_text(reason)
    expect(step).not_to_contain_text("Behind the scenes")  # other live content is not this step's business
    expect(page.get_by_text("its full checklist starts when it ends")).to_be_visible()
    axe(page)
    keep(screenshot(page, "rights-winddown"))
    page.set_viewport_size({"width": 390, "height": 844})
    keep(screenshot(page, "rights-winddown-phone"))
    page.set_viewport_size({"width": 1366, "height": 900})

    # Marking it taken down completes the step (keyboard: the button is a real button in a form).
    step.get_by_role("button", name="Mark removed").press("Enter")
    expect(page.locator("#winddown-step-content_removed")).to_contain_text("Done")
