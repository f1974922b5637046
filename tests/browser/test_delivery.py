"""Stakeholder delivery in a real browser (issue 18): a manager adds a default stakeholder on the account's recipient
page, ends a campaign, the close email arrives with a personal link, the stakeholder opens it in a fresh browser
and leaves feedback on the account's branded page, and the manager's share panel shows that recipient's email, view
and feedback."""

import datetime as dt
import re

import pytest
from django.core import mail

from reports.services import account_branding_save
from tests.factories import CampaignFactory
from tests.reports.conftest import metrics_generate

pytestmark = pytest.mark.django_db(transaction=True)


def test_ending_a_campaign_emails_the_stakeholder_who_opens_it_and_leaves_feedback(
    login_page, live_server, browser, account, manager, axe, screenshot, settings
):
    settings.CLOSEOUT_PUBLIC_BASE_URL = live_server.url
    start = dt.date.today() - dt.timedelta(days=14)
    campaign = CampaignFactory(account=account, name="Autumn Glow Launch", start_date=start, target_views=1000)
    metrics_generate(campaign, days=14, content=2, start=start)

    account_branding_save(
        account=account,
        actor=manager,
        display_name="Northwind Creative",
        accent_color="#0a5f3c",
        footer_text="Northwind Creative Ltd",
    )
    page = login_page(manager)
    page.goto(f"{live_server.url}/reports/accounts/{account.pk}/recipients/")
    page.get_by_label("Email address").fill("sam@brand.example")
    page.get_by_label("Name").fill("Sam Rivera")
    page.get_by_label("Role").select_option("stakeholder")
    page.get_by_role("button", name="Add recipient").click()
    page.get_by_text("sam@brand.example will receive every new report").wait_for()
    assert axe(page) == []

    page.goto(f"{live_server.url}/campaigns/{campaign.pk}/")
    page.get_by_role("link", name="End campaign…").click()
    dialog = page.get_by_role("dialog")
    dialog.wait_for()
    dialog.get_by_label("Why is it ending?").select_option("objectives_met")
    dialog.get_by_label("Type the campaign’s name to confirm").fill("autumn glow launch")
    dialog.get_by_role("button", name="End 1 campaign").click()
    page.get_by_text("Ended 1 campaign.").wait_for()

    # The close report is frozen and mailed by the (inline) worker once the end commits.
    (message,) = mail.outbox
    assert message.to == ["sam@brand.example"] and message.subject == "Northwind Creative · Report: Autumn Glow Launch"
    assert "Video views" in message.body and message.attachments[0][2] == "application/pdf"
    html = message.alternatives[0][0]
    assert "Northwind Creative" in html and "Northwind Creative Ltd" in message.body  # the account's branding
    url = re.search(r'href="([^"]+/s/[^"]+/)"', html).group(1)
    assert url.startswith(f"{live_server.url}/s/")

    # The stakeholder, without an account, in a fresh browser: the email as a phone shows it, then its link.
    guest = browser.new_context(viewport={"width": 390, "height": 844})
    public = guest.new_page()
    public.set_content(html)
    assert public.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(public, "delivery-email-phone")
    public.set_viewport_size({"width": 1366, "height": 900})
    public.goto(url)
    assert public.get_by_role("heading", name=re.compile("Autumn Glow Launch")).first.is_visible()
    header = public.locator("header.brand-header")  # the branded page, not Closeout's
    assert header.locator(".brand-name").inner_text() == "Northwind Creative"
    assert header.evaluate("h => getComputedStyle(h).backgroundColor") == "rgb(10, 95, 60)"
    form = public.locator("#feedback-form")
    assert form.get_by_label("Stakeholder").is_checked()  # the link asks in the recipient's role
    form.locator("input[name=rating][value='4']").check()
    form.get_by_label("What went well?").fill("Clear numbers, thanks")
    form.locator("input[name=would_take_part_again][value='yes']").check()
    form.get_by_role("button", name="Send feedback").click()
    public.get_by_text("Thank you! Your feedback was sent").wait_for()
    guest.close()

    # The manager's share panel: that recipient's email, view and feedback.
    page.goto(f"{live_server.url}/reports/{campaign.pk}/#delivery")
    row = page.locator("#delivery-recipients tr[data-recipient='sam@brand.example']")
    assert "Sam Rivera" in row.inner_text() and "At close: sent" in row.inner_text()
    assert "PDF attached" in row.inner_text()
    assert row.locator("td.num").all_inner_texts() == ["1", "1"]  # one view, one feedback
    assert page.get_by_text("Clear numbers, thanks").is_visible()
    assert axe(page, "#share-panel") == []
    page.locator("#delivery").scroll_into_view_if_needed()
    screenshot(page, "delivery-panel", full_page=False)
    page.set_viewport_size({"width": 390, "height": 844})
    page.locator("#delivery").scroll_into_view_if_needed()
    screenshot(page, "delivery-panel-phone", full_page=False)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390

    # Keyboard: "Send now" is reachable and sends again (a new occasion), with a message that says so.
    page.set_viewport_size({"width": 1366, "height": 900})
    send = page.get_by_role("button", name="Send now")
    send.focus()
    page.keyboard.press("Enter")
    page.get_by_text("The report is being emailed to 1 recipient.").wait_for()
    assert len(mail.outbox) == 2 and mail.outbox[1].to == ["sam@brand.example"]
