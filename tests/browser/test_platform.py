"""Browser journeys for platform sync: a pause that TikTok confirms, and an Ads Manager import."""

import datetime as dt

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from campaigns.models import Campaign, Status, SyncState
from tests.campaigns.fake_tiktok import fake_tiktok_fixture, tiktok_account_fixture  # noqa: F401
from tests.factories import CampaignFactory

pytestmark = pytest.mark.django_db(transaction=True)

IMMEDIATE = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}
# No worker yet: tasks are recorded, not run, so the page can show the state before TikTok confirms.
NO_WORKER = {"default": {"BACKEND": "django.tasks.backends.dummy.DummyBackend"}}


def test_pause_of_connected_campaign_shows_pausing_until_worker_confirms(
    login_page, live_server, tiktok_account, fake_tiktok, manager, settings, axe, screenshot
):
    settings.TASKS = NO_WORKER
    campaign = CampaignFactory(account=tiktok_account, name="Spring Glow", platform_id="1800000000000001")
    fake_tiktok.add_campaign(campaign.platform_id, campaign.name)
    failed = CampaignFactory(account=tiktok_account, name="Summer Teaser", platform_id="1800000000000002")
    Campaign.objects.filter(pk=failed.pk).update(
        status=Status.PAUSED,
        sync_state=SyncState.FAILED,
        sync_error="Gave up after 6 attempts. Last error: TikTok campaign/status/update: System error. (code 50000).",
    )
    delivering = CampaignFactory(account=tiktok_account, name="Winter Sale", platform_id="1800000000000003")
    Campaign.objects.filter(pk=delivering.pk).update(
        status=Status.ENDED, ended_at=dt.datetime(2026, 5, 1, tzinfo=dt.UTC), still_delivering_since=dt.date(2026, 5, 4)
    )
    page = login_page(manager)

    # The user pauses from the campaign page and confirms.
    page.goto(f"{live_server.url}/campaigns/{campaign.pk}/")
    page.get_by_role("button", name="Pause…").click()
    page.get_by_role("button", name="Pause 1 campaign").click()
    expect(page.locator(".page-head .badge")).to_have_text("Pausing…")
    assert fake_tiktok.campaigns[campaign.platform_id]["operation_status"] != "DISABLE"  # not confirmed yet
    page.goto(f"{live_server.url}/campaigns/accounts/{tiktok_account.pk}/")
    row = page.get_by_role("row", name="Spring Glow")
    expect(row).to_contain_text("Pausing…")
    expect(page.get_by_role("button", name="Retry sync of Summer Teaser")).to_be_visible()
    expect(page.get_by_role("button", name="Re-send end of Winter Sale")).to_be_visible()
    assert axe(page) == []
    screenshot(page, "account")
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot(page, "account-phone")
    page.set_viewport_size({"width": 1366, "height": 900})

    # The worker (re)starts and resumes pending pushes; the page polls and sees TikTok's confirmation.
    settings.TASKS = IMMEDIATE
    call_command("sync_platform", "--push-pending", "--older-than", "0")

    expect(page.get_by_role("row", name="Spring Glow")).to_have_count(0, timeout=10_000)
    assert fake_tiktok.campaigns[campaign.platform_id]["operation_status"] == "DISABLE"
    page.goto(f"{live_server.url}/campaigns/{campaign.pk}/")
    expect(page.locator(".page-head .badge")).to_have_text("Paused")


def test_retry_sync_button_pushes_again(login_page, live_server, tiktok_account, fake_tiktok, editor):
    campaign = CampaignFactory(account=tiktok_account, name="Summer Teaser", platform_id="1800000000000002")
    fake_tiktok.add_campaign(campaign.platform_id, campaign.name)
    Campaign.objects.filter(pk=campaign.pk).update(status=Status.PAUSED, sync_state=SyncState.FAILED, sync_error="x")
    page = login_page(editor)
    page.goto(f"{live_server.url}/campaigns/accounts/{tiktok_account.pk}/")

    page.get_by_role("button", name="Retry sync of Summer Teaser").click()

    expect(page.get_by_text("Everything is in sync.")).to_be_visible()
    expect(page.locator("#messages")).to_contain_text("Summer Teaser")
    campaign.refresh_from_db()
    assert campaign.sync_state == SyncState.SYNCED


CSV = """Campaign name,By Day,Cost,Impressions,Reach,Clicks (destination),Video views,Paid likes,Paid follows
Spring Glow,2026-05-01,"1,234.50","12,000",9000,120,4000,300,5
Spring Glow,2026-05-02,80.10,"6,400",5100,64,2100,120,2
Autumn Drop,2026-05-01,5,100,80,2,50,1,0
Total of 3 results,-,"1,319.60","18,500",-,-,-,-,-
"""
BAD_CSV = CSV.replace("2026-05-02", "02.05.").replace("Autumn Drop,2026-05-01,5,100", "Autumn Drop,2026-05-01,5,lots")


def test_import_csv_preview_then_commit(login_page, live_server, account, editor, tmp_path, settings, axe, screenshot):
    settings.MEDIA_ROOT = tmp_path / "media"
    CampaignFactory(account=account, name="Spring Glow", platform_id="")
    good, bad = tmp_path / "ads-manager-export.csv", tmp_path / "broken-export.csv"
    good.write_text(CSV, encoding="utf-8-sig")
    bad.write_text(BAD_CSV, encoding="utf-8")
    page = login_page(editor)
    page.goto(f"{live_server.url}/campaigns/accounts/{account.pk}/")

    page.get_by_label("CSV or XLSX file").set_input_files(str(bad))
    page.get_by_role("button", name="Upload and preview").click()
    expect(page.get_by_role("heading", name="2 row errors")).to_be_visible()
    expect(page.get_by_role("row", name="3 By Day: “02.05.” is not a date")).to_be_visible()
    expect(page.get_by_role("button", name="Import")).to_have_count(0)
    screenshot(page, "import-preview-errors")
    page.get_by_role("button", name="Discard").click()

    page.get_by_label("CSV or XLSX file").set_input_files(str(good))
    page.get_by_role("button", name="Upload and preview").click()
    expect(page.get_by_role("heading", name="Check before importing")).to_be_visible()
    expect(page.get_by_role("heading", name="Campaigns to create (1)")).to_be_visible()
    assert axe(page) == []
    screenshot(page, "import-preview")
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot(page, "import-preview-phone")
    page.set_viewport_size({"width": 1366, "height": 900})

    page.get_by_role("button", name="Import 3 daily rows").click()

    expect(page.locator("#messages")).to_contain_text("3 new and 0 updated daily rows, 1 campaign created")
    spring = Campaign.objects.get(account=account, name="Spring Glow")
    assert str(spring.total_spend) == "1314.60"
    assert Campaign.objects.filter(account=account, name="Autumn Drop").exists()


def test_big_import_is_read_and_committed_in_the_background_and_the_page_follows(
    login_page, live_server, account, editor, tmp_path, settings, screenshot
):
    """Issue 19: the upload returns at once; the page shows where the task is (htmx polling), becomes the preview
    when the reading is done, and shows the result once the commit task has run."""
    from campaigns import services  # noqa: PLC0415
    from campaigns.models import ImportState, MetricImport  # noqa: PLC0415

    settings.MEDIA_ROOT = tmp_path / "media"
    settings.TASKS = NO_WORKER  # the test plays the worker
    settings.IMPORT_INLINE_MAX_BYTES = 0
    CampaignFactory(account=account, name="Spring Glow", platform_id="")
    good = tmp_path / "ads-manager-export.csv"
    good.write_text(CSV, encoding="utf-8-sig")
    page = login_page(editor)
    page.goto(f"{live_server.url}/campaigns/accounts/{account.pk}/")

    page.get_by_label("CSV or XLSX file").set_input_files(str(good))
    page.get_by_role("button", name="Upload and preview").click()
    expect(page.locator("[data-import-progress]")).to_contain_text("Waiting for a worker to read the file")
    metric_import = MetricImport.objects.get()
    MetricImport.objects.filter(pk=metric_import.pk).update(
        state=ImportState.PARSING, progress={"step": "reading", "done": 420_000, "total": 1_000_000}
    )
    expect(page.locator("[data-import-progress]")).to_contain_text("Reading the file: 420,000 of ~1,000,000 rows.")
    screenshot(page, "import-progress")
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot(page, "import-progress-phone")
    page.set_viewport_size({"width": 1366, "height": 900})

    MetricImport.objects.filter(pk=metric_import.pk).update(state=ImportState.QUEUED)
    services.metric_import_preview_run(import_id=metric_import.pk)
    expect(page.get_by_role("heading", name="Check before importing")).to_be_visible()
    page.get_by_role("button", name="Import 3 daily rows").click()
    expect(page.locator("#messages")).to_contain_text("This page shows how far it is")
    expect(page.locator("[data-import-progress]")).to_contain_text("Importing: writing 0 of 3 rows.")

    services.metric_import_commit_run(import_id=metric_import.pk)
    expect(page.get_by_text("3 new and 0 updated daily rows")).to_be_visible()
    screenshot(page, "import-committed")
    assert str(Campaign.objects.get(account=account, name="Spring Glow").total_spend) == "1314.60"
