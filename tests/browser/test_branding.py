"""Branding in a real browser (issue 18): a manager reaches the branding page from the account page, sets the accent
colour, uploads a logo and writes a footer; a too-light colour is refused first, with the ratio. A stranger then
opens a share link of that account and sees the branded page, at desktop and phone width; the manager's own report
page stays Closeout's."""

import re

import pytest
from PIL import Image, ImageDraw

from reports import services
from tests.factories import CampaignFactory
from tests.reports.conftest import campaign_end, metrics_generate

pytestmark = pytest.mark.django_db(transaction=True)


def _logo(path):
    image = Image.new("RGBA", (360, 120), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle((4, 4, 116, 116), radius=24, fill=(10, 95, 60, 255))
    draw.ellipse((30, 30, 90, 90), fill=(255, 255, 255, 255))
    draw.rectangle((136, 40, 352, 58), fill=(10, 95, 60, 255))
    draw.rectangle((136, 70, 300, 84), fill=(90, 101, 115, 255))
    image.save(path, format="PNG")
    return path


def test_a_manager_brands_the_account_and_a_stranger_sees_it_on_the_share_link(
    login_page, live_server, browser, account, manager, axe, screenshot, tmp_path
):
    campaign = CampaignFactory(account=account, name="Harbour Lights Launch")
    metrics_generate(campaign, days=10, content=2)
    campaign_end(campaign, manager)
    _, secret = services.share_link_create(report=campaign.close_report, actor=manager, label="Client")

    page = login_page(manager)
    page.goto(f"{live_server.url}/campaigns/accounts/{account.pk}/")
    page.get_by_role("link", name="Report branding").click()
    page.get_by_role("heading", name=re.compile("Report branding")).wait_for()
    assert page.get_by_text("Not branded").is_visible()

    page.get_by_label("Display name").fill("Northwind Creative")
    page.get_by_label("Accent colour").fill("#9ccc65")  # light green: white text on it is unreadable
    page.get_by_label("White text").check()
    page.get_by_label("Footer").fill("Northwind Creative Ltd · hello@northwind.example")
    page.get_by_label("Logo").set_input_files(str(_logo(tmp_path / "northwind.png")))
    page.get_by_role("button", name="Save branding").click()
    error = page.locator("#id_branding-accent_color_error")
    error.wait_for()
    assert re.search(r"White text \(#ffffff\) on #9ccc65 has a contrast of 1\.\d\d:1", error.inner_text())
    assert axe(page) == []

    page.get_by_label("Accent colour").fill("#0a5f3c")
    page.get_by_label("Logo").set_input_files(str(tmp_path / "northwind.png"))  # a refused form keeps no file
    page.get_by_role("button", name="Save branding").click()
    page.get_by_text("Branding saved").wait_for()
    preview = page.locator("#branding-preview")
    assert "Northwind Creative" in preview.inner_text()
    assert preview.locator("img.brand-logo").evaluate("img => img.naturalWidth") > 0
    assert "logo (360×120 PNG)" in page.locator("#branding-history").inner_text()
    assert axe(page) == []
    screenshot(page, "branding-settings")

    # Closeout's own report page stays Closeout's.
    page.goto(f"{live_server.url}/reports/{campaign.pk}/")
    assert "Northwind" not in page.locator("header").first.inner_text()

    # A stranger with the link: the branded page, at desktop then phone width.
    guest = browser.new_context(viewport={"width": 1366, "height": 900})
    public = guest.new_page()
    public.goto(f"{live_server.url}/s/{secret}/")
    header = public.locator("header.brand-header")
    assert header.locator(".brand-name").inner_text() == "Northwind Creative"
    assert header.locator("img.brand-logo").evaluate("img => img.complete && img.naturalWidth") > 0
    assert header.evaluate("h => getComputedStyle(h).backgroundColor") == "rgb(10, 95, 60)"
    assert header.evaluate("h => getComputedStyle(h).color") == "rgb(255, 255, 255)"
    assert public.get_by_role("link", name="PDF").evaluate("a => getComputedStyle(a).backgroundColor") == (
        "rgb(10, 95, 60)"
    )
    assert "Northwind Creative Ltd · hello@northwind.example" in public.locator("footer").inner_text()
    assert "Closeout" not in header.inner_text()
    assert public.title() == "Harbour Lights Launch · Northwind Creative"
    assert axe(public) == []
    screenshot(public, "branding-shared-page", full_page=False)
    public.set_viewport_size({"width": 390, "height": 844})
    public.reload()  # the charts size themselves at load
    assert public.locator("header.brand-header img.brand-logo").is_visible()
    assert public.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(public, "branding-shared-page-phone", full_page=False)
    guest.close()
