"""The TikTok connector and platform sync, against a real HTTP server on 127.0.0.1 (tests/campaigns/fake_tiktok.py)."""

import datetime as dt
import json
import logging
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from campaigns import services
from campaigns.models import (
    Action,
    Campaign,
    ContentItem,
    DailyMetric,
    EndReason,
    Notification,
    NotificationKind,
    Source,
    Status,
    StatusChange,
    SyncState,
)
from campaigns.platforms import connector_for, pull, push
from campaigns.platforms.tiktok import number_parse, report_windows
from tests.campaigns.fake_tiktok import TOKEN, fake_tiktok_fixture, tiktok_account_fixture  # noqa: F401
from tests.factories import CampaignFactory, DailyMetricFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def linked(tiktok_account, fake_tiktok):
    """A campaign in the connected account that also exists on the fake platform."""
    campaign = CampaignFactory(account=tiktok_account, name="Spring Glow", platform_id="1800000000000001")
    fake_tiktok.add_campaign(campaign.platform_id, campaign.name)
    return campaign


def transition(campaign, action, actor, capture, **kwargs):
    if action == Action.END:
        kwargs.setdefault("reason_code", EndReason.OBJECTIVES_MET)
    with capture(execute=True):
        services.campaign_transition(campaign=campaign, action=action, actor=actor, source=Source.UI, **kwargs)
    campaign.refresh_from_db()


# Push -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "action", "delete", "operation", "status"),
    [
        (Status.ACTIVE, Action.PAUSE, False, "DISABLE", Status.PAUSED),
        (Status.PAUSED, Action.RESUME, False, "ENABLE", Status.ACTIVE),
        (Status.ACTIVE, Action.END, False, "DISABLE", Status.ENDED),
        (Status.PAUSED, Action.END, True, "DELETE", Status.ENDED),
    ],
)
def test_push_status_change_round_trips_to_platform_and_confirms(
    linked, fake_tiktok, manager, django_capture_on_commit_callbacks, start, action, delete, operation, status
):
    Campaign.objects.filter(pk=linked.pk).update(status=start)
    linked.refresh_from_db()

    transition(linked, action, manager, django_capture_on_commit_callbacks, delete_on_platform=delete)

    assert linked.status == status
    assert linked.sync_state == SyncState.SYNCED
    assert linked.platform_status == operation
    assert linked.display_status == status.label
    assert fake_tiktok.campaigns[linked.platform_id]["operation_status"] == operation
    (call,) = fake_tiktok.calls("campaign/status/update")
    assert call["token"] == TOKEN
    assert call["content_type"] == "application/json"
    assert call["body"] == {
        "advertiser_id": fake_tiktok.advertiser_id,
        "campaign_ids": [linked.platform_id],
        "operation_status": operation,
    }
    sync = StatusChange.objects.get(campaign=linked, action=Action.SYNC)
    assert sync.details == {"event": "confirmed", "operation": operation, "platform": "tiktok"}


def test_push_before_worker_runs_shows_pausing(linked, manager):
    services.campaign_transition(campaign=linked, action=Action.PAUSE, actor=manager, source=Source.UI)

    assert linked.sync_state == SyncState.PENDING
    assert linked.display_status == "Pausing…"
    assert fake_tiktok_untouched(linked)


def fake_tiktok_untouched(campaign):
    return not StatusChange.objects.filter(campaign=campaign, action=Action.SYNC).exists()


def test_push_bulk_500_campaigns_makes_25_calls_of_at_most_20_ids(
    tiktok_account, fake_tiktok, manager, django_capture_on_commit_callbacks
):
    campaigns = Campaign.objects.bulk_create(
        [CampaignFactory.build(account=tiktok_account, platform_id=f"19{n:014d}", name=f"Bulk {n}") for n in range(500)]
    )
    for c in campaigns:
        fake_tiktok.add_campaign(c.platform_id, c.name)
    ids = list(Campaign.objects.filter(account=tiktok_account).values_list("pk", flat=True))

    with django_capture_on_commit_callbacks(execute=True):
        services.campaigns_transition(campaign_ids=ids, action=Action.PAUSE, actor=manager, source=Source.UI)

    calls = fake_tiktok.calls("campaign/status/update")
    assert len(calls) == 25
    assert all(len(c["body"]["campaign_ids"]) <= 20 for c in calls)
    assert (
        Campaign.objects.filter(account=tiktok_account, sync_state=SyncState.SYNCED, status=Status.PAUSED).count()
        == 500
    )
    assert {c["operation_status"] for c in fake_tiktok.campaigns.values()} == {"DISABLE"}


def test_push_bulk_queries_do_not_grow_with_campaign_count(
    tiktok_account, fake_tiktok, manager, django_assert_max_num_queries
):
    campaigns = Campaign.objects.bulk_create(
        [CampaignFactory.build(account=tiktok_account, platform_id=f"29{n:014d}") for n in range(60)]
    )
    for c in campaigns:
        fake_tiktok.add_campaign(c.platform_id, c.name)
    ids = [c.pk for c in Campaign.objects.filter(account=tiktok_account)]
    Campaign.objects.filter(pk__in=ids).update(status=Status.PAUSED, sync_state=SyncState.PENDING)

    # 3 calls, a handful of queries each (two of them the shared rate limiter's slot, without a shared cache)
    with django_assert_max_num_queries(26):
        counts = push.platform_push(campaign_ids=ids)

    assert counts == {"calls": 3, "confirmed": 60, "retrying": 0, "failed": 0}


def test_push_rate_limited_40100_retries_then_succeeds(
    linked, fake_tiktok, manager, django_capture_on_commit_callbacks
):
    fake_tiktok.fail("campaign/status/update", code=40100, message="App reaches the QPS limit.")

    transition(linked, Action.PAUSE, manager, django_capture_on_commit_callbacks)

    assert linked.sync_state == SyncState.PENDING
    assert linked.display_status == "Pausing…"
    assert linked.sync_attempts == 1
    assert "QPS limit" in linked.sync_error
    # The retry (a deferred task in production; the sweep here, where tasks run immediately) succeeds.
    assert push.platform_push_pending_sweep(older_than_minutes=0) == 1
    linked.refresh_from_db()
    assert linked.sync_state == SyncState.SYNCED
    assert fake_tiktok.campaigns[linked.platform_id]["operation_status"] == "DISABLE"
    assert len(fake_tiktok.calls("campaign/status/update")) == 2


def test_push_retry_is_queued_with_backoff_on_a_deferring_backend(linked, fake_tiktok, settings):
    from django_tasks_db.models import DBTaskResult

    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    fake_tiktok.fail("campaign/status/update", code=50002, message="System timeout.")
    Campaign.objects.filter(pk=linked.pk).update(status=Status.PAUSED, sync_state=SyncState.PENDING)
    before = timezone.now()

    push.platform_push(campaign_ids=[linked.pk])

    queued = DBTaskResult.objects.get()
    assert queued.task_path.endswith("platform_push_task")
    assert queued.args_kwargs["kwargs"] == {"campaign_ids": [linked.pk]}
    # First retry: 30 s × jitter 0.5–1.0.
    assert before + dt.timedelta(seconds=14) <= queued.run_after <= timezone.now() + dt.timedelta(seconds=31)


def test_push_gives_up_after_max_attempts_and_notifies_managers(linked, fake_tiktok, manager, editor):
    fake_tiktok.fail("campaign/status/update", code=50000, times=10, message="System error.")
    Campaign.objects.filter(pk=linked.pk).update(status=Status.PAUSED, sync_state=SyncState.PENDING)

    for _ in range(push.PUSH_MAX_ATTEMPTS):
        push.platform_push(campaign_ids=[linked.pk])

    linked.refresh_from_db()
    assert linked.sync_state == SyncState.FAILED
    assert linked.display_status == "Paused · sync failed"
    assert linked.sync_error.startswith(f"Gave up after {push.PUSH_MAX_ATTEMPTS} attempts")
    assert "System error" in linked.sync_error
    assert len(fake_tiktok.calls("campaign/status/update")) == push.PUSH_MAX_ATTEMPTS
    notification = Notification.objects.get(kind=NotificationKind.SYNC_FAILED)
    assert notification.recipient == manager  # managers only
    assert list(notification.campaigns.all()) == [linked]
    # Once failed, more pushes do nothing until someone retries.
    push.platform_push(campaign_ids=[linked.pk])
    assert len(fake_tiktok.calls("campaign/status/update")) == push.PUSH_MAX_ATTEMPTS


def test_push_timeout_is_retried_with_a_readable_error(linked, fake_tiktok):
    fake_tiktok.fail("campaign/status/update", code=0, delay=1.5)
    Campaign.objects.filter(pk=linked.pk).update(status=Status.PAUSED, sync_state=SyncState.PENDING)

    counts = push.platform_push(campaign_ids=[linked.pk])

    linked.refresh_from_db()
    assert counts["retrying"] == 1
    assert linked.sync_state == SyncState.PENDING
    assert "no answer within 0.5 s" in linked.sync_error


def test_push_http_500_is_retried(linked, fake_tiktok):
    fake_tiktok.fail("campaign/status/update", http=502)
    Campaign.objects.filter(pk=linked.pk).update(status=Status.PAUSED, sync_state=SyncState.PENDING)

    assert push.platform_push(campaign_ids=[linked.pk])["retrying"] == 1


def test_push_auth_error_stops_at_once_and_asks_managers_to_reconnect(
    tiktok_account, fake_tiktok, manager, monkeypatch
):
    monkeypatch.setenv("CLOSEOUT_TEST_TIKTOK_TOKEN", "revoked-token-value")
    campaigns = [CampaignFactory(account=tiktok_account, platform_id=f"39{n:014d}") for n in range(30)]
    for c in campaigns:
        fake_tiktok.add_campaign(c.platform_id, c.name)
    ids = [c.pk for c in campaigns]
    Campaign.objects.filter(pk__in=ids).update(status=Status.PAUSED, sync_state=SyncState.PENDING)

    counts = push.platform_push(campaign_ids=ids)

    assert counts["failed"] == 30
    assert len(fake_tiktok.calls("campaign/status/update")) == 1  # no second batch, no retries
    tiktok_account.refresh_from_db()
    assert tiktok_account.needs_reconnect
    assert "incorrect or has been revoked" in tiktok_account.sync_error
    assert set(Campaign.objects.filter(pk__in=ids).values_list("sync_state", flat=True)) == {SyncState.FAILED}
    (notification,) = Notification.objects.filter(kind=NotificationKind.RECONNECT)
    assert notification.recipient == manager
    assert "revoked-token-value" not in notification.body


def test_push_missing_token_variable_is_an_auth_error(linked, monkeypatch):
    monkeypatch.delenv("CLOSEOUT_TEST_TIKTOK_TOKEN")
    Campaign.objects.filter(pk=linked.pk).update(status=Status.PAUSED, sync_state=SyncState.PENDING)

    push.platform_push(campaign_ids=[linked.pk])

    linked.refresh_from_db()
    assert linked.sync_state == SyncState.FAILED
    assert "CLOSEOUT_TEST_TIKTOK_TOKEN is empty" in linked.sync_error
    assert linked.account.__class__.objects.get(pk=linked.account_id).needs_reconnect


def test_push_partial_confirmation_confirms_some_and_retries_the_rest(tiktok_account, fake_tiktok):
    first = CampaignFactory(account=tiktok_account, platform_id="4900000000000001")
    second = CampaignFactory(account=tiktok_account, platform_id="4900000000000002")
    for c in (first, second):
        fake_tiktok.add_campaign(c.platform_id, c.name)
    fake_tiktok.unconfirmed.add(second.platform_id)
    Campaign.objects.filter(pk__in=[first.pk, second.pk]).update(status=Status.PAUSED, sync_state=SyncState.PENDING)

    counts = push.platform_push(campaign_ids=[first.pk, second.pk])

    assert counts == {"calls": 1, "confirmed": 1, "retrying": 1, "failed": 0}
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.sync_state == SyncState.SYNCED
    assert second.sync_state == SyncState.PENDING
    assert "did not confirm" in second.sync_error


def test_push_to_deleted_platform_campaign_fails_at_once_with_platform_message(linked, fake_tiktok):
    fake_tiktok.campaigns[linked.platform_id]["operation_status"] = "DELETE"
    Campaign.objects.filter(pk=linked.pk).update(status=Status.PAUSED, sync_state=SyncState.PENDING)

    counts = push.platform_push(campaign_ids=[linked.pk])

    linked.refresh_from_db()
    assert counts["failed"] == 1
    assert linked.sync_state == SyncState.FAILED
    assert "deleted campaign cannot be modified" in linked.sync_error
    assert "(code 40002" in linked.sync_error


def test_push_does_not_confirm_an_intent_that_changed_meanwhile(linked, fake_tiktok, manager):
    Campaign.objects.filter(pk=linked.pk).update(status=Status.PAUSED, sync_state=SyncState.PENDING)
    stale = list(Campaign.objects.filter(pk=linked.pk).select_related("account"))
    # The user resumes while the DISABLE is in flight: a newer request time and status.
    Campaign.objects.filter(pk=linked.pk).update(status=Status.ACTIVE, sync_requested_at=timezone.now())

    push._push_confirmed(stale, platform_status="DISABLE", connector_name="tiktok")

    linked.refresh_from_db()
    assert linked.sync_state == SyncState.PENDING
    assert linked.status == Status.ACTIVE


def test_token_never_appears_in_errors_logs_or_notifications(linked, fake_tiktok, manager, caplog):
    caplog.set_level(logging.DEBUG)
    fake_tiktok.fail("campaign/status/update", code=40001, message=f"Permission error for token {TOKEN}.")
    fake_tiktok.fail("campaign/get", code=0, delay=1.5)
    Campaign.objects.filter(pk=linked.pk).update(status=Status.PAUSED, sync_state=SyncState.PENDING)

    push.platform_push(campaign_ids=[linked.pk])
    summary = pull.platform_pull_account(account=linked.account)

    linked.refresh_from_db()
    linked.account.refresh_from_db()
    assert "[redacted]" in linked.sync_error
    texts = [
        caplog.text,
        linked.sync_error,
        linked.account.sync_error,
        json.dumps(summary),
        *Notification.objects.values_list("body", flat=True),
        *(json.dumps(d) for d in StatusChange.objects.values_list("details", flat=True)),
    ]
    assert not any(TOKEN in t for t in texts)


def test_unlinked_campaign_in_connected_account_fails_with_advice(tiktok_account):
    campaign = CampaignFactory(account=tiktok_account, platform_id="")
    Campaign.objects.filter(pk=campaign.pk).update(status=Status.PAUSED, sync_state=SyncState.PENDING)

    push.platform_push(campaign_ids=[campaign.pk])

    campaign.refresh_from_db()
    assert campaign.sync_state == SyncState.FAILED
    assert "Sync now" in campaign.sync_error


def test_pending_sweep_requeues_only_stale_pushes(linked, fake_tiktok):
    Campaign.objects.filter(pk=linked.pk).update(status=Status.PAUSED, sync_state=SyncState.PENDING)

    assert push.platform_push_pending_sweep() == 0  # just touched: its own task is still coming

    Campaign.objects.filter(pk=linked.pk).update(updated_at=timezone.now() - dt.timedelta(minutes=20))
    call_command("sync_platform", "--push-pending")
    linked.refresh_from_db()
    assert linked.sync_state == SyncState.SYNCED


# Pull -------------------------------------------------------------------------------------------------------


def test_pull_campaigns_pages_and_includes_deleted(tiktok_account, fake_tiktok):
    for n in range(2500):
        fake_tiktok.add_campaign(f"5{n:015d}", f"Imported {n}", operation_status="DISABLE" if n % 2 else "ENABLE")
    fake_tiktok.add_campaign("5999999999999999", "Gone", deleted=True)

    summary = pull.platform_pull_account(account=tiktok_account, days=1)

    assert summary["campaigns"]["created"] == 2501
    calls = fake_tiktok.calls("campaign/get")
    assert [c["query"]["page"] for c in calls] == ["1", "2", "3"]
    assert {c["query"]["page_size"] for c in calls} == {"1000"}
    assert json.loads(calls[0]["query"]["filtering"])["secondary_status"] == "CAMPAIGN_STATUS_ALL"
    gone = Campaign.objects.get(platform_id="5999999999999999")
    assert (gone.status, gone.platform_status) == (Status.ENDED, "DELETE")
    assert Campaign.objects.get(platform_id=f"5{1:015d}").status == Status.PAUSED
    tiktok_account.refresh_from_db()
    assert tiktok_account.last_synced_at is not None
    assert tiktok_account.sync_error == ""


def test_pull_maps_objective_budget_and_name(tiktok_account, fake_tiktok):
    fake_tiktok.add_campaign(
        "6000000000000001", "Reach Summer", objective_type="REACH", budget=2500.5, budget_mode="BUDGET_MODE_TOTAL"
    )

    pull.platform_pull_account(account=tiktok_account, days=1)

    campaign = Campaign.objects.get(platform_id="6000000000000001")
    assert (campaign.name, campaign.objective, campaign.budget_mode) == ("Reach Summer", "reach", "lifetime")
    assert campaign.budget_amount == Decimal("2500.50")
    assert campaign.start_date == dt.date(2026, 5, 1)


def test_pull_metrics_parses_strings_and_dashes_and_is_idempotent(linked, fake_tiktok):
    today = dt.date(2026, 6, 30)
    fake_tiktok.add_metrics(linked.platform_id, today, spend="14.68", impressions="1079", reach="-", clicks="1,234")
    fake_tiktok.add_metrics(
        linked.platform_id, today, ad_id="7100000000000001", ad_name="Hero video", spend="4.00", impressions="300"
    )

    first = pull.platform_pull_account(account=linked.account, days=7, today=today)
    second = pull.platform_pull_account(account=linked.account, days=7, today=today)

    row = DailyMetric.objects.get(campaign=linked, content_item=None, date=today)
    assert (row.spend, row.impressions, row.reach, row.clicks) == (Decimal("14.68"), 1079, 0, 1234)
    ad = ContentItem.objects.get(campaign=linked, platform_id="7100000000000001")
    assert ad.title == "Hero video"
    assert DailyMetric.objects.get(content_item=ad).spend == Decimal("4.00")
    linked.refresh_from_db()
    assert linked.total_impressions == 1079
    assert (first["metrics"]["created"], second["metrics"]["created"], second["metrics"]["updated"]) == (2, 0, 0)


def test_pull_metrics_requests_30_day_windows_with_status_all(linked, fake_tiktok):
    today = dt.date(2026, 6, 30)

    pull.platform_pull_account(account=linked.account, days=45, today=today)

    calls = fake_tiktok.calls("report/integrated/get")
    levels = [c["query"]["data_level"] for c in calls]
    assert levels == ["AUCTION_CAMPAIGN", "AUCTION_CAMPAIGN", "AUCTION_AD", "AUCTION_AD"]
    windows = [(c["query"]["start_date"], c["query"]["end_date"]) for c in calls[:2]]
    assert windows == [("2026-05-17", "2026-06-15"), ("2026-06-16", "2026-06-30")]
    assert json.loads(calls[0]["query"]["dimensions"]) == ["campaign_id", "stat_time_day"]
    assert json.loads(calls[2]["query"]["dimensions"]) == ["ad_id", "stat_time_day"]
    filters = {f["field_name"]: f["filter_value"] for f in json.loads(calls[0]["query"]["filtering"])}
    assert json.loads(filters["campaign_status"]) == ["STATUS_ALL"]
    assert {c["query"]["page_size"] for c in calls} == {"1000"}


def test_pull_metrics_of_deleted_campaign_are_kept(tiktok_account, fake_tiktok):
    fake_tiktok.add_campaign("6100000000000001", "Deleted launch", deleted=True)
    fake_tiktok.add_metrics("6100000000000001", dt.date(2026, 6, 1), spend="20.00", impressions="500")

    pull.platform_pull_account(account=tiktok_account, days=30, today=dt.date(2026, 6, 10))

    campaign = Campaign.objects.get(platform_id="6100000000000001")
    assert campaign.total_spend == Decimal("20.00")


def test_pull_status_drift_is_applied_with_source_platform_and_not_pushed_back(linked, fake_tiktok):
    fake_tiktok.campaigns[linked.platform_id]["operation_status"] = "DISABLE"

    summary = pull.platform_pull_account(account=linked.account, days=1)

    linked.refresh_from_db()
    assert summary["campaigns"]["drifted"] == 1
    assert (linked.status, linked.sync_state, linked.platform_status) == (Status.PAUSED, SyncState.SYNCED, "DISABLE")
    change = StatusChange.objects.get(campaign=linked, action=Action.PAUSE)
    assert (change.source, change.actor) == (Source.PLATFORM, None)
    assert fake_tiktok.calls("campaign/status/update") == []


def test_pull_deleted_on_platform_ends_campaign(linked, fake_tiktok):
    fake_tiktok.campaigns[linked.platform_id]["operation_status"] = "DELETE"

    pull.platform_pull_account(account=linked.account, days=1)

    linked.refresh_from_db()
    assert linked.status == Status.ENDED
    assert StatusChange.objects.get(campaign=linked, action=Action.END).reason_note == "Deleted in TikTok Ads Manager."


def test_pull_does_not_fight_a_pending_push(linked, fake_tiktok, manager):
    services.campaign_transition(campaign=linked, action=Action.PAUSE, actor=manager, source=Source.UI)
    # TikTok still says ENABLE because the push has not happened yet.

    pull.platform_pull_account(account=linked.account, days=1)

    linked.refresh_from_db()
    assert (linked.status, linked.sync_state) == (Status.PAUSED, SyncState.PENDING)


def test_pull_auth_error_marks_account_for_reconnect(tiktok_account, fake_tiktok, manager, monkeypatch):
    monkeypatch.setenv("CLOSEOUT_TEST_TIKTOK_TOKEN", "expired")
    fake_tiktok.token = "something-else"

    summary = pull.platform_pull_account(account=tiktok_account)

    tiktok_account.refresh_from_db()
    assert "revoked" in summary["error"]
    assert tiktok_account.needs_reconnect
    assert Notification.objects.filter(kind=NotificationKind.RECONNECT, recipient=manager).count() == 1


def test_pull_campaign_final_pull_fetches_all_days_since_start(linked, fake_tiktok):
    Campaign.objects.filter(pk=linked.pk).update(start_date=dt.date(2026, 4, 1))
    linked.refresh_from_db()
    fake_tiktok.add_metrics(linked.platform_id, dt.date(2026, 4, 2), spend="3.00", impressions="10")

    summary = pull.platform_pull_campaign(campaign=linked, today=dt.date(2026, 6, 30))

    assert "error" not in summary
    assert linked.total_spend == Decimal("3.00")
    campaign_calls = [
        c for c in fake_tiktok.calls("report/integrated/get") if c["query"]["data_level"] == "AUCTION_CAMPAIGN"
    ]
    assert len(campaign_calls) == 4  # 91 days → four windows of at most 30
    assert all(linked.platform_id in c["query"]["filtering"] for c in campaign_calls)


# Still delivering -------------------------------------------------------------------------------------------


def ended_campaign(linked, ended_on):
    ended_at = dt.datetime.combine(ended_on, dt.time(12), tzinfo=dt.UTC)
    Campaign.objects.filter(pk=linked.pk).update(status=Status.ENDED, ended_at=ended_at, end_reason="objectives_met")
    linked.refresh_from_db()
    return linked


def test_still_delivering_flags_spend_after_grace_and_notifies_once(linked, fake_tiktok, manager, settings):
    settings.CLOSEOUT_DELIVERY_GRACE_DAYS = 1
    ended_campaign(linked, dt.date(2026, 6, 1))
    fake_tiktok.add_metrics(linked.platform_id, dt.date(2026, 6, 2), spend="5.00", impressions="100")  # within grace
    fake_tiktok.add_metrics(linked.platform_id, dt.date(2026, 6, 5), spend="9.00", impressions="400")

    pull.platform_pull_account(account=linked.account, days=30, today=dt.date(2026, 6, 10))
    pull.platform_pull_account(account=linked.account, days=30, today=dt.date(2026, 6, 10))

    linked.refresh_from_db()
    assert linked.still_delivering_since == dt.date(2026, 6, 5)
    (notification,) = Notification.objects.filter(kind=NotificationKind.STILL_DELIVERING)
    assert notification.recipient == manager
    assert "still delivering" in notification.title


def test_still_delivering_ignores_reporting_delay_within_grace(linked, settings):
    settings.CLOSEOUT_DELIVERY_GRACE_DAYS = 2
    ended_campaign(linked, dt.date(2026, 6, 1))
    DailyMetricFactory(campaign=linked, date=dt.date(2026, 6, 3), spend=Decimal("5"), impressions=50)

    assert pull.still_delivering_detect(campaign_ids=[linked.pk]) == []


def test_resend_end_confirmed_clears_still_delivering(
    linked, fake_tiktok, manager, login, django_capture_on_commit_callbacks
):
    ended_campaign(linked, dt.date(2026, 6, 1))
    Campaign.objects.filter(pk=linked.pk).update(still_delivering_since=dt.date(2026, 6, 5))
    fake_tiktok.add_metrics(linked.platform_id, dt.date(2026, 6, 5), spend="9.00", impressions="400")

    with django_capture_on_commit_callbacks(execute=True):
        response = login(manager).post(reverse("campaigns:resend_end", args=[linked.pk]))

    assert response.status_code == 302
    linked.refresh_from_db()
    assert linked.still_delivering_since is None
    assert linked.sync_state == SyncState.SYNCED
    assert fake_tiktok.calls("campaign/status/update")[0]["body"]["operation_status"] == "DISABLE"
    # The old day no longer counts: the end was confirmed after it.
    pull.platform_pull_account(account=linked.account, days=30, today=dt.date(2026, 6, 10))
    linked.refresh_from_db()
    assert linked.still_delivering_since is None


def test_resend_end_needs_manager(linked, editor, login):
    ended_campaign(linked, dt.date(2026, 6, 1))

    response = login(editor).post(reverse("campaigns:resend_end", args=[linked.pk]))

    assert response.status_code == 403


# Retry sync -------------------------------------------------------------------------------------------------


def test_retry_sync_by_editor_pushes_again(linked, fake_tiktok, editor, login, django_capture_on_commit_callbacks):
    Campaign.objects.filter(pk=linked.pk).update(status=Status.PAUSED, sync_state=SyncState.FAILED, sync_error="x")

    with django_capture_on_commit_callbacks(execute=True):
        response = login(editor).post(reverse("campaigns:retry_sync", args=[linked.pk]), follow=True)

    linked.refresh_from_db()
    assert linked.sync_state == SyncState.SYNCED
    assert "Sending “Spring Glow” to TikTok again" in response.content.decode()
    assert StatusChange.objects.filter(campaign=linked, details__event="retry_requested", actor=editor).exists()


def test_retry_sync_with_htmx_returns_status_partial_and_event(linked, fake_tiktok, editor, login):
    Campaign.objects.filter(pk=linked.pk).update(status=Status.PAUSED, sync_state=SyncState.FAILED)

    response = login(editor).post(reverse("campaigns:retry_sync", args=[linked.pk]), headers={"HX-Request": "true"})

    assert response.status_code == 200
    assert 'id="sync-status"' in response.content.decode()
    assert "campaignSyncRequested" in response["HX-Trigger"]


def test_retry_sync_viewer_forbidden_outsider_not_found(linked, viewer, outsider, login, client):
    Campaign.objects.filter(pk=linked.pk).update(sync_state=SyncState.FAILED)

    assert login(viewer).post(reverse("campaigns:retry_sync", args=[linked.pk])).status_code == 403
    client.logout()
    assert login(outsider).post(reverse("campaigns:retry_sync", args=[linked.pk])).status_code == 404


def test_retry_sync_of_a_synced_campaign_says_nothing_to_retry(linked, editor, login):
    response = login(editor).post(reverse("campaigns:retry_sync", args=[linked.pk]), follow=True)

    assert "no failed sync to retry" in response.content.decode()


# Account page -----------------------------------------------------------------------------------------------


def test_account_sync_now_pulls_and_reports(linked, fake_tiktok, editor, login):
    fake_tiktok.add_campaign("6200000000000001", "New on TikTok")

    response = login(editor).post(reverse("campaigns:account_sync", args=[linked.account_id]), follow=True)

    assert "Synced 2 campaigns (1 new" in response.content.decode()
    assert Campaign.objects.filter(platform_id="6200000000000001").exists()


def test_account_page_shows_connection_without_the_token(linked, viewer, login, django_assert_max_num_queries):
    Campaign.objects.filter(pk=linked.pk).update(status=Status.PAUSED, sync_state=SyncState.FAILED, sync_error="Boom")
    client = login(viewer)

    with django_assert_max_num_queries(12):
        response = client.get(reverse("campaigns:account_detail", args=[linked.account_id]))

    html = response.content.decode()
    assert "CLOSEOUT_TEST_TIKTOK_TOKEN" in html
    assert TOKEN not in html
    assert "Paused · sync failed" in html
    assert "Boom" in html
    assert "Retry sync" not in html  # viewers read only


def test_account_page_of_other_account_is_404(tiktok_account, outsider, login):
    assert login(outsider).get(reverse("campaigns:account_detail", args=[tiktok_account.pk])).status_code == 404


# Small pure helpers -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "integer", "expected"),
    [("1079", True, 1079), ("14.68", False, Decimal("14.68")), ("-", True, None), ("<5", True, None),
     (12, True, 12), ("1,234", True, 1234), ("", True, None), ("abc", True, None), ("-3", True, None)],
)  # fmt: skip
def test_number_parse_is_defensive(raw, integer, expected):
    assert number_parse(raw, integer=integer) == expected


def test_report_windows_never_exceed_30_days():
    windows = list(report_windows(dt.date(2026, 1, 1), dt.date(2026, 3, 31)))
    assert windows[0] == (dt.date(2026, 1, 1), dt.date(2026, 1, 30))
    assert windows[-1][1] == dt.date(2026, 3, 31)
    assert all((end - start).days < 30 for start, end in windows)


def test_registry_gives_manual_accounts_the_none_connector(account):
    assert connector_for(account).capabilities.talks_to_platform is False


def test_confirmed_end_ticks_the_platform_confirmed_winddown_step(
    linked, fake_tiktok, manager, django_capture_on_commit_callbacks
):
    from campaigns.models import WindDownStep, WindDownStepKind

    transition(linked, Action.END, manager, django_capture_on_commit_callbacks, reason_code="objectives_met")

    assert linked.sync_state == SyncState.SYNCED
    step = WindDownStep.objects.get(campaign=linked, kind=WindDownStepKind.PLATFORM_CONFIRMED)
    assert step.done_at is not None and step.automatic
