"""The close report of a connected campaign equals the platform's whole history (issue 15 §1): a final pull before
the freeze, a visible wait when it cannot complete, an incomplete mark after a bounded time. Against the real HTTP
fake on 127.0.0.1 (tests/campaigns/fake_tiktok.py), through the real flow: status change → on-commit signal →
report task."""

import datetime as dt
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from campaigns import services
from campaigns.models import Action, Campaign, EndReason, MetricPull, Notification, NotificationKind, PullKind, Source
from campaigns.platforms import history, pull
from reports import pdf
from reports import reconcile as reports_reconcile
from reports.models import CloseReport, CloseReportWait
from reports.services import pdf_store, share_link_create
from reports.tasks import close_reports_build
from tests.campaigns.fake_tiktok import fake_tiktok_fixture, tiktok_account_fixture  # noqa: F401
from tests.factories import CampaignFactory

pytestmark = pytest.mark.django_db

AD = "7100000000000001"


@pytest.fixture
def today(tiktok_account):
    return history.account_today(tiktok_account)


@pytest.fixture
def long_campaign(tiktok_account, fake_tiktok, today):
    """A campaign with 65 days of history on TikTok (and one ad), whose account has been backfilled long ago."""
    start = today - dt.timedelta(days=64)
    campaign = CampaignFactory(
        account=tiktok_account, name="Long Run", platform_id="1800000000000009", start_date=start
    )
    fake_tiktok.add_campaign(campaign.platform_id, campaign.name)
    for n in range(65):
        day = start + dt.timedelta(days=n)
        spend = Decimal(n % 17) + Decimal("0.37") + Decimal(n % 3) / 100
        views = 900 + 37 * n
        fake_tiktok.add_metrics(
            campaign.platform_id, day, spend=str(spend), impressions=str(views * 4), video_play_actions=str(views)
        )
        fake_tiktok.add_metrics(
            campaign.platform_id,
            day,
            ad_id=AD,
            ad_name="Hero",
            spend=str((spend / 2).quantize(Decimal("0.01"))),
            video_play_actions=str(views // 2),
        )
    MetricPull.objects.create(
        account=tiktok_account, kind=PullKind.BACKFILL, state="done", start_date=today, end_date=today
    )
    return campaign


def end(campaign, manager, capture):
    with capture(execute=True):
        services.campaign_transition(
            campaign=campaign, action=Action.END, actor=manager, source=Source.UI, reason_code=EndReason.OBJECTIVES_MET
        )
    campaign.refresh_from_db()


def test_report_of_a_campaign_ended_after_a_7_day_sync_equals_the_platforms_whole_history(
    long_campaign, fake_tiktok, manager, django_capture_on_commit_callbacks
):
    pull.platform_pull_account(account=long_campaign.account, days=7)
    long_campaign.refresh_from_db()
    whole = fake_tiktok.history(long_campaign.platform_id)
    assert long_campaign.total_spend < whole["spend"]  # the sync alone holds a week

    end(long_campaign, manager, django_capture_on_commit_callbacks)

    report = CloseReport.objects.get(campaign=long_campaign)
    assert Decimal(report.snapshot["totals"]["spend"]) == whole["spend"]  # to the cent
    assert report.spend == whole["spend"]
    assert report.video_views == whole["video_play_actions"]
    assert report.snapshot["totals"]["impressions"] == whole["impressions"]
    assert len(report.snapshot["daily"]) == 65
    (hero,) = report.snapshot["content"]
    assert hero["video_views"] == sum(
        int(r["metrics"]["video_play_actions"]) for r in fake_tiktok.report_rows if r["ad_id"]
    )
    assert not report.numbers_incomplete
    assert not CloseReportWait.objects.exists()


def test_report_waits_visibly_while_the_final_pull_fails_then_freezes_marked_incomplete_and_tells_managers(
    long_campaign, fake_tiktok, manager, login, django_capture_on_commit_callbacks, settings, today
):
    settings.REPORT_FINAL_PULL_MAX_WAIT_HOURS = 2
    settings.REPORT_FINAL_PULL_RETRY_SECONDS = 3600  # the next try in 30–60 minutes
    second_window = (long_campaign.start_date + dt.timedelta(days=30)).isoformat()
    fake_tiktok.fail(
        "report/integrated/get",
        code=50000,
        message="System error.",
        times=10_000,
        when={"data_level": "AUCTION_AD", "start_date": second_window},
    )

    end(long_campaign, manager, django_capture_on_commit_callbacks)

    assert not CloseReport.objects.filter(campaign=long_campaign).exists()  # never a silently short report
    wait = CloseReportWait.objects.get(campaign=long_campaign)
    assert wait.attempts == 1 and "System error" in wait.last_error
    assert wait.next_try_at > timezone.now()
    client = login(manager)
    page = client.get(reverse("reports:detail", args=[long_campaign.pk])).content.decode()
    assert "Waiting for final numbers from TikTok, last tried" in page
    assert "System error" in page
    campaign_page = client.get(reverse("campaigns:detail", args=[long_campaign.pk])).content.decode()
    assert "waiting for final numbers from TikTok, last tried" in campaign_page
    # The reconciler keeps the backoff: nothing to queue before the next try is due.
    assert reports_reconcile.reports_missing_check(now=timezone.now() + dt.timedelta(minutes=3)) == 0

    CloseReportWait.objects.filter(pk=wait.pk).update(since=timezone.now() - dt.timedelta(hours=3))
    close_reports_build.enqueue(campaign_ids=[long_campaign.pk])

    report = CloseReport.objects.get(campaign=long_campaign)
    assert report.numbers_incomplete
    assert report.numbers_through == long_campaign.start_date + dt.timedelta(days=29)
    assert not CloseReportWait.objects.exists()
    page = client.get(reverse("reports:detail", args=[long_campaign.pk])).content.decode()
    assert f"Incomplete: numbers up to {report.numbers_through:%-d %b %Y}" in page
    campaign_page = client.get(reverse("campaigns:detail", args=[long_campaign.pk])).content.decode()
    assert "Report incomplete: numbers up to" in campaign_page
    (notification,) = Notification.objects.filter(kind=NotificationKind.REPORT_INCOMPLETE)
    assert notification.recipient == manager
    assert "incomplete" in notification.title
    # What travels says it too: the shared page and every audience's PDF.
    mark = f"Incomplete: numbers up to {report.numbers_through:%-d %b %Y}"
    _link, secret = share_link_create(report=report, actor=manager, label="Client")
    assert mark in Client().get(f"/s/{secret}/").content.decode()
    for audience in ("team", "public"):
        extras = pdf_store.pdf_extras(report=report, audience=audience)
        assert mark in pdf.report_pdf_html(snapshot=report.snapshot, images=[], extras=extras)


def test_a_waiting_report_resumes_its_final_pull_and_freezes_complete_once_the_platform_answers(
    long_campaign, fake_tiktok, manager, django_capture_on_commit_callbacks
):
    fake_tiktok.fail("report/integrated/get", code=40002, message="Bad window.", when={"data_level": "AUCTION_AD"})

    end(long_campaign, manager, django_capture_on_commit_callbacks)

    assert CloseReportWait.objects.filter(campaign=long_campaign).exists()
    fake_tiktok.requests.clear()
    assert reports_reconcile.reports_missing_check(now=timezone.now() + dt.timedelta(hours=2)) == 1

    report = CloseReport.objects.get(campaign=long_campaign)
    assert report.spend == fake_tiktok.history(long_campaign.platform_id)["spend"]
    assert not report.numbers_incomplete
    levels = {c["query"]["data_level"] for c in fake_tiktok.calls("report/integrated/get")}
    assert levels == {"AUCTION_AD"}  # the campaign level was committed on the first try


def test_a_waiting_reports_next_try_is_queued_with_backoff_on_a_deferring_backend(long_campaign, fake_tiktok, settings):
    from django_tasks_db.models import DBTaskResult

    fake_tiktok.fail("report/integrated/get", code=40002, times=100)
    Campaign.objects.filter(pk=long_campaign.pk).update(status="ended", ended_at=timezone.now())
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    settings.REPORT_FINAL_PULL_RETRY_SECONDS = 60

    close_reports_build.call(campaign_ids=[long_campaign.pk])

    queued = DBTaskResult.objects.get(task_path=close_reports_build.module_path)
    assert queued.args_kwargs["kwargs"] == {"campaign_ids": [long_campaign.pk]}
    assert timezone.now() + dt.timedelta(seconds=25) <= queued.run_after <= timezone.now() + dt.timedelta(seconds=61)


def test_manual_accounts_report_freezes_at_once_without_a_pull(campaign, manager, django_capture_on_commit_callbacks):
    end(campaign, manager, django_capture_on_commit_callbacks)

    assert CloseReport.objects.filter(campaign=campaign, numbers_incomplete=False).exists()
    assert not CloseReportWait.objects.exists()
