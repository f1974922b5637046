"""Issue 16, points 1, 2, 3, 6 and 7 as a marketing team meets them, in Chromium at 1366 px and 390 px: an honest
"team notified", one time-zone rule, money with its currency, validated campaign data, a complete compliance PDF.
Every page visited is checked with axe (no serious or critical violation)."""

import datetime as dt
import io
import os
import re
import shutil
import subprocess
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from playwright.sync_api import expect
from pypdf import PdfReader

from campaigns import services
from campaigns.models import Action, AdAccount, EndReason, Role, Source, StatusChange, WindDownStepKind
from reports import services as report_services
from tests.factories import AccountFactory, CampaignFactory, MembershipFactory, UserFactory
from tests.reports.conftest import metrics_generate

from .conftest import SCREENSHOTS

pytestmark = pytest.mark.django_db(transaction=True)

PHONE = {"width": 390, "height": 844}


def _phone(page, screenshot, axe, name):
    page.set_viewport_size(PHONE)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"), name
    assert axe(page) == []
    screenshot(page, f"{name}-phone")
    page.set_viewport_size({"width": 1366, "height": 900})


def test_nobody_told_then_one_click_notifies_the_team(login_page, live_server, account, manager, axe, screenshot):
    campaign = CampaignFactory(account=account, name="Solo Launch")
    services.campaign_transition(
        campaign=campaign, action=Action.END, actor=manager, source=Source.UI, reason_code=EndReason.OBJECTIVES_MET
    )
    step = campaign.winddown_steps.get(kind=WindDownStepKind.TEAM_NOTIFIED)
    assert not step.is_done  # only the manager, who ended it, was in the account
    editor = UserFactory(username="eddie-editor")
    MembershipFactory(user=editor, account=account, role=Role.EDITOR)

    page = login_page(manager)
    page.goto(f"{live_server.url}/campaigns/{campaign.pk}/wind-down/")
    team = page.locator("#winddown-step-team_notified")
    expect(team).to_contain_text("Nobody was told — notify the team.")
    expect(page.locator("#winddown-progress")).to_contain_text("1 of 7")
    assert axe(page) == []
    screenshot(page, "winddown-nobody-told")
    _phone(page, screenshot, axe, "winddown-nobody-told")

    team.get_by_role("button", name="Notify the team").click()
    expect(team).to_contain_text("Done by mona-manager")
    expect(team).to_contain_text("Closeout told 1 person")
    expect(page.locator("#winddown-progress")).to_contain_text("2 of 7")
    assert axe(page) == []
    assert editor.notifications.get().title == "mona-manager: “Solo Launch” has ended"

    # The default audience is adjustable per member on the preferences page.
    page.goto(f"{live_server.url}/campaigns/notifications/preferences/")
    ends = page.get_by_label(re.compile("Every end in this account"))
    expect(ends).to_be_checked()  # a manager's default
    assert axe(page) == []
    screenshot(page, "notification-preferences")
    _phone(page, screenshot, axe, "notification-preferences")
    ends.uncheck()
    page.get_by_role("button", name="Save preferences").click()
    page.get_by_text("Notification preferences saved.").wait_for()
    expect(page.get_by_label(re.compile("Every end in this account"))).not_to_be_checked()


def test_times_in_the_account_zone_with_the_viewers_on_hover(browser, live_server, password, manager, axe, screenshot):
    account = AdAccount.objects.get(memberships__user=manager)
    AdAccount.objects.filter(pk=account.pk).update(timezone="America/New_York")
    editor = UserFactory(username="editor")
    MembershipFactory(user=editor, account=account, role=Role.EDITOR)
    campaign = CampaignFactory(account=account, name="Glow Drop")
    services.campaign_transition(campaign=campaign, action=Action.PAUSE, actor=editor, source=Source.UI)
    moment = dt.datetime(2030, 12, 3, 21, 17, tzinfo=dt.UTC)  # 16:17 EST, 22:17 CET
    StatusChange.objects.filter(campaign=campaign).update(created_at=moment)
    services.scheduled_action_create(
        campaign=campaign, action=Action.END, run_at=moment, actor=manager, reason_code=EndReason.OBJECTIVES_MET
    )

    def campaign_page_in_berlin(**options):
        context = browser.new_context(timezone_id="Europe/Berlin", viewport={"width": 1366, "height": 900}, **options)
        page = context.new_page()
        page.goto(f"{live_server.url}/accounts/login/")
        page.get_by_label("Username").fill(manager.username)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Log in").click()
        page.goto(f"{live_server.url}/campaigns/{campaign.pk}/")
        return context, page

    # A browser in Berlin: its zone reaches the server in a cookie set by app.js on the first page.
    context, page = campaign_page_in_berlin()
    history = page.locator(".timeline li", has_text="Paused by editor")
    expect(history).to_contain_text(re.compile(r"Paused by editor at 16:17 EST, 3 Dec( 2030)?"))
    time = history.locator("time")
    expect(time).to_have_attribute("title", re.compile(r"22:17 CET, 3 Dec( 2030)? in your time zone"))
    expect(page.locator(".timeline")).to_contain_text(re.compile(r"Scheduled by mona-manager: end at 16:17 EST"))
    schedule = page.locator("#schedule-title").locator("xpath=..")
    expect(schedule).to_contain_text(re.compile(r"at 16:17 EST, 3 Dec"))
    assert "UTC" not in schedule.inner_text()
    assert axe(page) == []
    screenshot(page, "campaign-history")
    _phone(page, screenshot, axe, "campaign-history")
    context.close()

    # Without JavaScript: no cookie, the account's zone only.
    context, page = campaign_page_in_berlin(java_script_enabled=False)
    time = page.locator(".timeline li", has_text="Paused by editor").locator("time")
    expect(time).to_contain_text("16:17 EST")
    assert time.get_attribute("title") is None
    context.close()


def test_list_totals_one_row_per_currency(login_page, live_server, account, manager, axe, screenshot):
    euro = AccountFactory(name="Maison Paris", currency="EUR", timezone="Europe/Paris")
    MembershipFactory(user=manager, account=euro, role=Role.MANAGER)
    for i, (acct, spend) in enumerate([(account, "1200.00"), (account, "340.50"), (euro, "980.00"), (euro, "15.25")]):
        CampaignFactory(account=acct, name=f"Drop {i}", total_spend=Decimal(spend), total_video_views=1000 * (i + 1))
    page = login_page(manager)
    page.goto(f"{live_server.url}/campaigns/")
    foot = page.locator("#campaign-table tfoot tr")
    expect(foot).to_have_count(2)
    expect(foot.nth(0)).to_contain_text("Total in EUR")
    expect(foot.nth(0)).to_contain_text("995.25\u00a0EUR")
    expect(foot.nth(1)).to_contain_text("Total in USD")
    expect(foot.nth(1)).to_contain_text("1,540.50\u00a0USD")
    assert "2,535.75" not in page.content()
    row = page.locator("#campaign-table tbody tr", has_text="Drop 2")
    expect(row.locator("td.num").nth(1)).to_have_text("980.00\u00a0EUR")
    assert axe(page) == []
    screenshot(page, "campaign-list-currencies")
    _phone(page, screenshot, axe, "campaign-list-currencies")


def test_campaign_data_is_validated_and_read_for_people(
    login_page, live_server, account, manager, axe, screenshot, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path
    page = login_page(manager)
    page.goto(f"{live_server.url}/campaigns/new/")
    page.get_by_label("Account").select_option(label="Acme Beauty")
    page.get_by_label("Name").fill("Careless Entry")
    page.get_by_label("Budget amount").fill("0")
    page.get_by_label("Target engagement rate").fill("150")
    page.get_by_label("Target cost per result").fill("-1")
    start = dt.date.today() + dt.timedelta(days=10)
    page.get_by_label("Start date").fill(start.isoformat())
    page.get_by_role("button", name=re.compile("Create|Save")).click()
    expect(page.get_by_text("The budget must be more than 0.")).to_be_visible()
    expect(page.get_by_text("An engagement rate is a percentage from 0 to 100.")).to_be_visible()
    expect(page.get_by_text("A cost per result cannot be negative.")).to_be_visible()
    assert axe(page) == []
    screenshot(page, "campaign-form-errors")
    _phone(page, screenshot, axe, "campaign-form-errors")

    page.get_by_label("Budget amount").fill("50")
    page.get_by_label("Target engagement rate").fill("4.5")
    page.get_by_label("Target cost per result").fill("0.20")
    page.get_by_role("button", name=re.compile("Create|Save")).click()
    status = page.locator(".status-line")
    expect(status).to_contain_text(f"Starts {start.day} {start:%b}")
    assert "Active" not in status.inner_text()
    expect(page.locator(".timeline")).to_contain_text("Created by mona-manager")
    page.get_by_role("link", name="Edit").click()
    page.get_by_label("Target views").fill("20000")
    page.get_by_role("button", name=re.compile("Save")).click()
    expect(page.locator(".timeline")).to_contain_text("Video views target: — → 20,000")
    assert "target_views" not in page.locator(".timeline").inner_text()
    assert axe(page) == []

    # An import names a campaign Closeout does not know: it needs details, and the importer owns it.
    csv = (
        "Campaign name,By Day,Cost,Impressions,Reach,Clicks (destination),Video views,Paid likes,Paid comments,"
        "Paid shares,Paid follows,Profile visits\nMystery Drop,2026-05-01,5,100,80,2,50,1,0,0,0,1\n"
    )
    services.metric_import_commit(
        metric_import=services.metric_import_preview(
            account=account, upload=SimpleUploadedFile("export.csv", csv.encode()), actor=manager
        ),
        actor=manager,
    )
    page.goto(f"{live_server.url}/campaigns/?q=Mystery")
    expect(page.locator("#campaign-table tbody tr", has_text="Mystery Drop")).to_contain_text("needs details")
    page.get_by_role("link", name="Mystery Drop").click()
    expect(page.locator("#needs-details")).to_contain_text("Needs details.")
    expect(page.locator("#needs-details")).to_contain_text("owner: mona-manager")
    assert axe(page) == []


def test_compliance_pdf_holds_lessons_benchmark_and_feedback(login_page, live_server, account, manager, axe):
    other = CampaignFactory(account=account, name="Earlier Drop")
    metrics_generate(other, days=6)
    services.campaign_transition(
        campaign=other, action=Action.END, actor=manager, source=Source.UI, reason_code=EndReason.OBJECTIVES_MET
    )
    campaign = CampaignFactory(account=account, name="Compliance Check")
    metrics_generate(campaign, days=12)
    services.campaign_transition(
        campaign=campaign,
        action=Action.END,
        actor=manager,
        source=Source.UI,
        reason_code=EndReason.OTHER,
        reason_note="Creator left",
    )
    report = campaign.close_report
    link, _ = report_services.share_link_create(report=report, actor=manager, label="Client")
    for name, comment, hide in (("Sam", "Loved the duets", False), ("Spammer", "cheap followers here", True)):
        feedback = report_services.feedback_create(
            report=report, link=link, author=None, role="stakeholder", rating=4, would_take_part_again=True,
            name=name, comment=comment,
        )  # fmt: skip
        if hide:
            report_services.feedback_set_hidden(feedback=feedback, actor=manager, hidden=True)

    page = login_page(manager)
    page.goto(f"{live_server.url}/reports/{campaign.pk}/")
    page.get_by_role("link", name="Edit lessons").click()
    page.get_by_label("What worked").fill("Duets on day one")
    page.get_by_label("What to change").fill("Brief earlier")
    page.get_by_label("Next steps").fill("Two creators next time")
    page.get_by_role("button", name="Save lessons").click()
    page.get_by_text("Lessons saved.").wait_for()
    assert axe(page) == []
    with page.expect_download() as info:
        page.get_by_role("link", name="PDF").click()
    data = Path(info.value.path()).read_bytes()
    text = " ".join(" ".join(p.extract_text().split()) for p in PdfReader(io.BytesIO(data)).pages)
    assert text.index("What this PDF shows") < text.index("Results")
    assert "by mona-manager" in text and "Creator left" in text
    assert "Duets on day one" in text and "Median of 1 other" in text and "Loved the duets" in text
    assert "cheap followers" not in text
    if os.environ.get("UPDATE_SCREENSHOTS") == "1" and shutil.which("pdftoppm"):
        # docs/screenshots/report-pdf-team.png: the first page and the page with lessons, benchmark and feedback.
        pdf_file = SCREENSHOTS / "report-team.pdf.tmp"
        pdf_file.write_bytes(data)
        try:
            pages = len(PdfReader(io.BytesIO(data)).pages)
            for number, name in ((1, "report-pdf-team"), (pages, "report-pdf-team-last")):
                subprocess.run(
                    ["pdftoppm", "-png", "-r", "80", "-f", str(number), "-l", str(number), "-singlefile",
                     str(pdf_file), str(SCREENSHOTS / name)],
                    check=True,
                )  # fmt: skip
        finally:
            pdf_file.unlink(missing_ok=True)
