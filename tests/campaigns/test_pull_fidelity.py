"""Pulls that equal TikTok's numbers (issue 15): retried like pushes, committed window by window, resumed where
they stopped, history backfilled; against the real HTTP fake on 127.0.0.1 (tests/campaigns/fake_tiktok.py)."""

import datetime as dt
import json
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db.models import Sum
from django.urls import reverse

from campaigns.models import AdAccount, Campaign, DailyMetric, MetricPull, PullKind, PullState
from campaigns.platforms import history, pull
from tests.campaigns.fake_tiktok import fake_tiktok_fixture, tiktok_account_fixture  # noqa: F401
from tests.factories import CampaignFactory

pytestmark = pytest.mark.django_db

TODAY = dt.date(2026, 6, 30)


def add_days(fake, campaign_id, first: dt.date, days: int, *, ad_id="", ad_name="", spend="12.34", views=100):
    for n in range(days):
        fake.add_metrics(
            campaign_id,
            first + dt.timedelta(days=n),
            ad_id=ad_id,
            ad_name=ad_name,
            spend=spend,
            impressions=str(views * 3),
            video_play_actions=str(views + n),
        )


def stored(campaign, *, ads=False):
    rows = DailyMetric.objects.filter(campaign=campaign, content_item__isnull=not ads)
    return rows.count(), rows.aggregate(s=Sum("spend"))["s"] or Decimal("0")


def report_calls(fake, level=None):
    calls = fake.calls("report/integrated/get")
    return [c for c in calls if level is None or c["query"]["data_level"] == level]


@pytest.fixture
def linked(tiktok_account, fake_tiktok):
    campaign = CampaignFactory(
        account=tiktok_account, name="Spring Glow", platform_id="1800000000000001", start_date=dt.date(2026, 6, 1)
    )
    fake_tiktok.add_campaign(campaign.platform_id, campaign.name)
    # The account's history has been backfilled already: these tests are about the periodic sync.
    MetricPull.objects.create(
        account=tiktok_account, kind=PullKind.BACKFILL, state=PullState.DONE, start_date=TODAY, end_date=TODAY
    )
    return campaign


# Retries -----------------------------------------------------------------------------------------------------


def test_sync_rate_limited_every_4th_call_and_a_failing_ad_report_still_stores_every_row(linked, fake_tiktok):
    add_days(fake_tiktok, linked.platform_id, TODAY - dt.timedelta(days=6), 7)
    add_days(fake_tiktok, linked.platform_id, TODAY - dt.timedelta(days=6), 7, ad_id="7100000000000001", ad_name="Hero")
    fake_tiktok.rate_limit_every = 4
    fake_tiktok.fail("report/integrated/get", code=50002, message="System timeout.", when={"data_level": "AUCTION_AD"})

    summary = pull.platform_pull_account(account=linked.account, days=7, today=TODAY)

    assert "error" not in summary
    assert stored(linked) == (7, Decimal("86.38"))
    assert stored(linked, ads=True) == (7, Decimal("86.38"))
    answered = [r for r in fake_tiktok.requests if r["path"] == "report/integrated/get"]
    assert len(answered) > 2  # the throttled and failed calls were tried again


def test_pull_auth_error_is_not_retried(linked, fake_tiktok, monkeypatch):
    monkeypatch.setenv("CLOSEOUT_TEST_TIKTOK_TOKEN", "revoked")

    summary = pull.platform_pull_account(account=linked.account, days=7, today=TODAY)

    assert "revoked" in summary["error"]
    assert len(fake_tiktok.requests) == 1


def test_pull_gives_up_on_a_call_after_the_push_policys_attempts(linked, fake_tiktok):
    fake_tiktok.fail("campaign/get", code=40100, times=50)

    summary = pull.platform_pull_account(account=linked.account, days=7, today=TODAY)

    assert "QPS" in summary["error"] or "40100" in summary["error"]
    assert len(fake_tiktok.calls("campaign/get")) == history.PULL_MAX_ATTEMPTS


# Per-window commits and resuming -----------------------------------------------------------------------------


def test_ad_report_failure_keeps_the_campaign_rows_and_the_next_sync_resumes_at_the_ad_level(linked, fake_tiktok):
    add_days(fake_tiktok, linked.platform_id, TODAY - dt.timedelta(days=6), 7)
    add_days(fake_tiktok, linked.platform_id, TODAY - dt.timedelta(days=6), 7, ad_id="7100000000000001", ad_name="Hero")
    fake_tiktok.fail("report/integrated/get", code=40002, message="Bad.", when={"data_level": "AUCTION_AD"})

    first = pull.platform_pull_account(account=linked.account, days=7, today=TODAY)

    assert "Bad." in first["error"]
    assert stored(linked) == (7, Decimal("86.38"))  # not thrown away
    assert stored(linked, ads=True) == (0, Decimal("0"))
    progress = MetricPull.objects.get(account=linked.account, kind=PullKind.SYNC)
    assert progress.through("campaign") == TODAY and progress.through("ad") is None
    fake_tiktok.requests.clear()

    second = pull.platform_pull_account(account=linked.account, days=7, today=TODAY)

    assert "error" not in second
    assert stored(linked, ads=True) == (7, Decimal("86.38"))
    assert [c["query"]["data_level"] for c in report_calls(fake_tiktok)] == ["AUCTION_AD"]


def test_pull_interrupted_half_way_resumes_from_the_window_it_stopped_at(linked, fake_tiktok):
    add_days(fake_tiktok, linked.platform_id, dt.date(2026, 4, 1), 91)
    backfill = MetricPull.objects.create(
        account=linked.account, kind=PullKind.BACKFILL, start_date=dt.date(2026, 4, 1), end_date=TODAY
    )
    # The second 30-day window keeps failing (every try of the push policy).
    fake_tiktok.fail(
        "report/integrated/get", code=50000, times=history.PULL_MAX_ATTEMPTS, when={"start_date": "2026-05-01"}
    )

    result = history.platform_backfill_run(pull_id=backfill.pk)

    backfill.refresh_from_db()
    assert "error" in result
    assert backfill.through("campaign") == dt.date(2026, 4, 30)
    assert (backfill.windows_done, backfill.windows_total) == (1, 8)
    assert stored(linked) == (30, Decimal("370.20"))
    fake_tiktok.requests.clear()

    history.platform_backfill_run(pull_id=backfill.pk)

    backfill.refresh_from_db()
    assert backfill.state == PullState.DONE and backfill.error == ""
    starts = [c["query"]["start_date"] for c in report_calls(fake_tiktok, "AUCTION_CAMPAIGN")]
    assert starts == ["2026-05-01", "2026-05-31", "2026-06-30"]  # April is not asked again
    assert stored(linked) == (91, Decimal("12.34") * 91)


# Backfill ----------------------------------------------------------------------------------------------------


def test_first_sync_backfills_every_campaigns_whole_history_with_progress_on_the_account_page(
    tiktok_account, fake_tiktok, viewer, login, django_capture_on_commit_callbacks
):
    fake_tiktok.add_campaign("1900000000000001", "Old launch", create_time="2026-03-01 09:00:00")
    add_days(fake_tiktok, "1900000000000001", dt.date(2026, 3, 1), 75, spend="2.00")

    with django_capture_on_commit_callbacks(execute=True):
        pull.platform_pull_account(account=tiktok_account, days=7, today=dt.date(2026, 5, 14))

    campaign = Campaign.objects.get(platform_id="1900000000000001")
    assert stored(campaign) == (75, Decimal("150.00"))
    backfill = MetricPull.objects.get(account=tiktok_account, kind=PullKind.BACKFILL)
    assert backfill.state == PullState.DONE
    assert backfill.start_date == dt.date(2026, 3, 1)
    page = login(viewer).get(reverse("campaigns:account_detail", args=[tiktok_account.pk])).content.decode()
    assert "History backfill" in page and "done" in page


def test_a_new_campaign_in_a_later_pull_gets_its_history_backfilled(
    linked, fake_tiktok, django_capture_on_commit_callbacks
):
    fake_tiktok.add_campaign("1900000000000002", "Found later", create_time="2026-04-10 09:00:00")
    add_days(fake_tiktok, "1900000000000002", dt.date(2026, 4, 10), 60, spend="1.50")

    with django_capture_on_commit_callbacks(execute=True):
        pull.platform_pull_account(account=linked.account, days=7, today=dt.date(2026, 6, 8))

    found = Campaign.objects.get(platform_id="1900000000000002")
    assert stored(found) == (60, Decimal("90.00"))
    backfill = MetricPull.objects.filter(account=linked.account, kind=PullKind.BACKFILL).first()
    assert backfill.platform_ids == ["1900000000000002"]
    filters = [json.loads(c["query"]["filtering"]) for c in report_calls(fake_tiktok, "AUCTION_CAMPAIGN")]
    assert any(f["field_name"] == "campaign_ids" for fs in filters for f in fs)


def test_account_page_shows_a_backfill_in_progress(linked, viewer, login):
    MetricPull.objects.create(
        account=linked.account,
        kind=PullKind.BACKFILL,
        start_date=dt.date(2026, 1, 1),
        end_date=TODAY,
        levels_through={"campaign": "2026-03-01"},
        windows_done=2,
        windows_total=14,
        error="TikTok report/integrated/get: System error. (code 50000).",
    )

    page = login(viewer).get(reverse("campaigns:account_detail", args=[linked.account_id])).content.decode()

    assert "2 of 14" in page
    assert "System error" in page


# Who is called -----------------------------------------------------------------------------------------------


def test_sync_platform_command_skips_accounts_that_need_reconnecting(linked, fake_tiktok):
    AdAccount.objects.filter(pk=linked.account_id).update(needs_reconnect=True, sync_error="Token revoked.")

    call_command("sync_platform", "--days", "7")

    assert fake_tiktok.requests == []
