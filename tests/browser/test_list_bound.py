"""The list past its count bound, in a browser (issue 19): a search matching more campaigns than
`LIST_COUNT_BOUND` (patched to 5 here; 10,000 in production) says "5+" on its tab, says on the count line that it
pages through the first matches only and how to see the rest, shows no totals but says why, and a page number
beyond what was counted shows the last counted page. The search is a plain GET form: it works from the keyboard
and without JavaScript."""

from decimal import Decimal

import pytest
from playwright.sync_api import expect

from campaigns.listing import summary
from campaigns.models import Status
from tests.factories import CampaignFactory

from .test_content_rights import keep

pytestmark = pytest.mark.django_db(transaction=True)
STATUSES = (Status.ACTIVE, Status.PAUSED, Status.ENDED)


@pytest.fixture
def bound_5(monkeypatch):
    monkeypatch.setattr(summary, "LIST_COUNT_BOUND", 5)  # the live server runs in this process


def test_a_search_past_the_bound_says_so_and_pages_the_first_matches(
    login_page, live_server, account, viewer, bound_5, axe, screenshot
):
    for i in range(12):
        CampaignFactory(account=account, name=f"Glow drop {i:02d}", status=STATUSES[i % 3], total_spend=Decimal("2"))
    CampaignFactory(account=account, name="Spring sale", total_spend=Decimal("500"))
    page = login_page(viewer)
    page.goto(f"{live_server.url}/campaigns/")

    search = page.get_by_role("searchbox").first
    search.fill("glow")
    search.press("Enter")  # the keyboard submits the plain form

    count = page.locator("#result-count")
    expect(count).to_contain_text("5+ campaigns · the first 5 shown")
    expect(count).to_contain_text("narrow the search or the filters to see the rest")
    expect(page.locator('a[aria-current="page"] .count')).to_have_text("5+")
    expect(page.get_by_text("Totals are shown for up to 5 matching campaigns")).to_be_visible()
    expect(page.locator("main")).not_to_contain_text("Spring sale")
    axe(page)
    keep(screenshot(page, "list-bound"))
    page.set_viewport_size({"width": 390, "height": 844})
    keep(screenshot(page, "list-bound-phone"))
    page.set_viewport_size({"width": 1366, "height": 900})

    # A page past the counted ones (an old link, a typed URL) shows the last counted page, not an error.
    response = page.goto(f"{live_server.url}/campaigns/?q=glow&page=99")
    assert response.status == 200
    expect(page.locator("#result-count")).to_contain_text("5+ campaigns · the first 5 shown")
    expect(page.locator("tbody tr")).to_have_count(5)


def test_the_capped_search_works_without_javascript(nojs_login, live_server, account, viewer, bound_5):
    for i in range(8):
        CampaignFactory(account=account, name=f"Glow drop {i:02d}")
    page = nojs_login(viewer)
    page.goto(f"{live_server.url}/campaigns/")
    page.get_by_role("searchbox").first.fill("glow")
    page.get_by_role("searchbox").first.press("Enter")
    expect(page.locator("#result-count")).to_contain_text("5+ campaigns")
