"""Faults: the platform API misbehaving, the database failing in the middle of a bulk action, a task run twice
after a worker died, the mail server down. The user's intent is never lost and never applied twice.

(Mail retries are covered in tests/campaigns/test_notifications.py; the race tests on PostgreSQL in
tests/campaigns/test_concurrency.py.)"""

import contextlib
import json
import socket

import pytest
from django.core import mail
from django.db import DatabaseError
from django.urls import reverse

from campaigns import services
from campaigns import tasks as campaign_tasks
from campaigns.models import (
    Action,
    Campaign,
    EndReason,
    Notification,
    Source,
    Status,
    StatusChange,
    SyncState,
    WindDownStep,
)
from campaigns.platforms import history, pull, push
from campaigns.services import effects
from reports import services as report_services
from reports.models import CloseReport
from tests.campaigns.fake_tiktok import FakeTikTok, tiktok_account_fixture  # noqa: F401
from tests.factories import CampaignFactory, DailyMetricFactory

pytestmark = pytest.mark.django_db


# Platform API -----------------------------------------------------------------------------------------------


class MalformedTikTok(FakeTikTok):
    """The fake server, answering the next `malformed[path]` requests to `path` with truncated JSON (HTTP 200)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.malformed: dict[str, int] = {}

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "").rstrip("/").rsplit("v1.3/", 1)[-1]
        if self.malformed.get(path, 0) > 0:
            self.malformed[path] -= 1
            self.requests.append({"path": path, "malformed": True})
            body = b'{"code": 0, "message": "OK", "data": {"campaign_ids": ['
            start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
            return [body]
        return super().__call__(environ, start_response)


@pytest.fixture
def fake_tiktok():  # overrides the imported fixture: the same server, able to answer malformed JSON
    server = MalformedTikTok().start()
    yield server
    server.stop()


@pytest.fixture
def linked(tiktok_account, fake_tiktok):
    campaign = CampaignFactory(account=tiktok_account, name="Spring Glow", platform_id="1800000000000001")
    fake_tiktok.add_campaign(campaign.platform_id, campaign.name)
    return campaign


def _closed_port_url():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/open_api/v1.3/"  # nothing listens here any more: connection refused


@pytest.mark.parametrize("fault", ["down", "slow", "rate_limited", "malformed_json", "http_500"])
def test_platform_fault_keeps_intent_pending_visible_and_retried(
    fault, linked, fake_tiktok, tiktok_account, login, editor, django_capture_on_commit_callbacks
):
    real_url = tiktok_account.api_base_url
    if fault == "down":
        tiktok_account.api_base_url = _closed_port_url()
        tiktok_account.save(update_fields=["api_base_url"])
    elif fault == "slow":
        fake_tiktok.fail("campaign/status/update", code=0, delay=1.0)  # client timeout is 0.5 s
    elif fault == "rate_limited":
        fake_tiktok.fail("campaign/status/update", code=40100, message="App reaches the QPS limit.")
    elif fault == "malformed_json":
        fake_tiktok.malformed["campaign/status/update"] = 1
    else:
        fake_tiktok.fail("campaign/status/update", http=500)

    client = login(editor)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("campaigns:bulk_action"),
            {"ids": linked.pk, "action": "pause", "confirmed": "1", "idempotency_key": f"fault-{fault}"},
        )
    assert response.status_code == 302

    # Kept: our status is the user's intent, marked pending, with a readable error.
    linked.refresh_from_db()
    assert linked.status == Status.PAUSED
    assert linked.sync_state == SyncState.PENDING
    assert linked.sync_error
    assert StatusChange.objects.filter(campaign=linked, action=Action.PAUSE).count() == 1
    # Visible: the detail page says the pause is still on its way.
    page = client.get(reverse("campaigns:detail", args=[linked.pk])).content.decode()
    assert "Pausing…" in page

    # Retried: once the platform is back, the sweep (a periodic task in production) delivers it, once.
    if fault == "down":
        tiktok_account.api_base_url = real_url
        tiktok_account.save(update_fields=["api_base_url"])
    assert push.platform_push_pending_sweep(older_than_minutes=0) == 1
    linked.refresh_from_db()
    assert linked.sync_state == SyncState.SYNCED
    assert fake_tiktok.campaigns[linked.platform_id]["operation_status"] == "DISABLE"
    assert StatusChange.objects.filter(campaign=linked, action=Action.PAUSE).count() == 1


def test_malformed_json_on_pull_is_a_readable_sync_error(tiktok_account, fake_tiktok):
    fake_tiktok.add_campaign("5000000000000001", "Imported")
    # Every try of the call gets a broken body (one broken answer alone is retried, issue 15).
    fake_tiktok.malformed["campaign/get"] = history.PULL_MAX_ATTEMPTS

    # A domain error is fine; a crash with a JSONDecodeError traceback is not.
    with contextlib.suppress(services.CampaignError):
        pull.platform_pull_account(account=tiktok_account, days=1)
    tiktok_account.refresh_from_db()
    assert tiktok_account.sync_error
    assert "Traceback" not in tiktok_account.sync_error
    # The next sync works.
    pull.platform_pull_account(account=tiktok_account, days=1)
    assert Campaign.objects.filter(platform_id="5000000000000001").exists()


# Database error in the middle of a bulk action --------------------------------------------------------------


def _boom(*args, **kwargs):
    raise DatabaseError("simulated: connection lost in the middle of the write")


def _snapshot(ids):
    return (
        dict(Campaign.objects.filter(pk__in=ids).values_list("pk", "status")),
        StatusChange.objects.filter(campaign_id__in=ids).count(),
        WindDownStep.objects.filter(campaign_id__in=ids).count(),
    )


@pytest.mark.parametrize(
    ("target", "action"),
    [
        ("campaigns.models.StatusChange.objects.bulk_create", Action.PAUSE),  # statuses updated, audit fails
        # statuses + audit written, checklist fails
        ("campaigns.services.effects.winddown_checklists_create", Action.END),
    ],
)
def test_database_error_mid_bulk_action_applies_nothing(account, monkeypatch, target, action):
    campaigns = CampaignFactory.create_batch(5, account=account, status=Status.ACTIVE)
    ids = [c.pk for c in campaigns]
    before = _snapshot(ids)
    module, _, attr = target.rpartition(".")
    if module.endswith(".objects"):
        monkeypatch.setattr(StatusChange.objects, attr, _boom)
    else:
        monkeypatch.setattr(effects, attr, _boom)

    with pytest.raises(DatabaseError):
        services.campaigns_transition(
            campaign_ids=ids,
            action=action,
            actor=None,
            source=Source.COMMAND,
            reason_code=EndReason.OBJECTIVES_MET,
            enforce_role=False,
        )

    assert _snapshot(ids) == before  # no status without its audit row, no audit row without its status


def test_database_error_through_the_view_is_a_clear_message(login, manager, account, monkeypatch):
    campaigns = CampaignFactory.create_batch(3, account=account, status=Status.ACTIVE)
    ids = [c.pk for c in campaigns]
    monkeypatch.setattr(StatusChange.objects, "bulk_create", _boom)
    client = login(manager)

    response = client.post(
        reverse("campaigns:bulk_action"),
        {"ids": ids, "action": "pause", "confirmed": "1", "idempotency_key": "db-fault"},
        follow=True,
    )

    assert response.status_code == 200
    page = response.content.decode()
    assert "Nothing was changed" in page
    assert set(Campaign.objects.filter(pk__in=ids).values_list("status", flat=True)) == {Status.ACTIVE}
    assert not StatusChange.objects.filter(campaign_id__in=ids).exists()
    # Once the database is back, the same confirmation (same idempotency key) goes through, once.
    monkeypatch.undo()
    client.post(
        reverse("campaigns:bulk_action"),
        {"ids": ids, "action": "pause", "confirmed": "1", "idempotency_key": "db-fault"},
    )
    assert set(Campaign.objects.filter(pk__in=ids).values_list("status", flat=True)) == {Status.PAUSED}
    assert StatusChange.objects.filter(campaign_id__in=ids).count() == 3


# A task run again after its worker died ---------------------------------------------------------------------


@pytest.fixture
def ended_change(account, manager, editor, viewer):
    campaign = CampaignFactory(account=account, status=Status.ACTIVE, owner=manager)
    DailyMetricFactory(campaign=campaign)
    result = services.campaigns_transition(  # on_commit callbacks not run: as if the worker died before them
        campaign_ids=[campaign.pk],
        action=Action.END,
        actor=None,
        source=Source.COMMAND,
        reason_code=EndReason.OBJECTIVES_MET,
        enforce_role=False,
    )
    return campaign, result.change_ids


def test_report_snapshot_task_run_twice_builds_one_snapshot(ended_change):
    campaign, _ = ended_change
    first = report_services.reports_create(campaign_ids=[campaign.pk])
    snapshot = CloseReport.objects.get(campaign=campaign).snapshot
    second = report_services.reports_create(campaign_ids=[campaign.pk])  # the redelivered task

    assert first == [campaign.pk] and second == []
    assert CloseReport.objects.filter(campaign=campaign).count() == 1
    assert CloseReport.objects.get(campaign=campaign).snapshot == snapshot


def test_notification_task_run_twice_notifies_each_recipient_once(ended_change, manager, editor, viewer):
    campaign, change_ids = ended_change
    campaign_tasks.notify_status_changes.call(change_ids=change_ids)
    count = Notification.objects.count()
    assert count >= 1  # the owner at least

    campaign_tasks.notify_status_changes.call(change_ids=change_ids)  # the task redelivered after a crash

    assert Notification.objects.count() == count
    assert Notification.objects.filter(recipient=manager).count() == 1


def test_email_task_run_twice_after_a_crash_sends_each_mail_once(ended_change, manager, settings):
    campaign, change_ids = ended_change
    services.notifications_for_status_changes(change_ids=change_ids)
    ids = list(Notification.objects.values_list("pk", flat=True))
    mail.outbox.clear()

    campaign_tasks.notification_emails_send.call(notification_ids=ids)
    sent = len(mail.outbox)
    campaign_tasks.notification_emails_send.call(notification_ids=ids)

    assert len(mail.outbox) == sent
    assert json.dumps(sent)  # at least zero, and never doubled
