"""The reconciler: each check finds its gap, queues it once, and the next run queues nothing."""

import logging

from django.core import mail
from django.tasks import TaskResultStatus
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from campaigns import tasks
from campaigns.models import (
    Action,
    Campaign,
    EmailState,
    Notification,
    NotificationKind,
    ScheduledAction,
    ScheduledState,
    Status,
    SyncState,
)
from campaigns.worker import checks, reconcile
from reports import reconcile as reports_reconcile
from reports.models import CloseReport, ReportPdf
from reports.services import reports_create
from reports.tasks import close_reports_build, report_pdfs_render
from tests.factories import CampaignFactory

from .conftest import ago, campaigns_end, queued, tasks_run_queued


def held_ids(task, kwarg=None) -> list[int]:
    return sorted(reconcile.task_pending_ids(task=task, kwarg=kwarg))


# In a test's transaction nothing after commit runs: a campaign ended here has no report task, as if it was lost.


def test_ended_campaigns_without_report_are_queued_once(db_tasks, account, manager):
    lost = CampaignFactory.create_batch(3, account=account)
    just_ended = CampaignFactory(account=account)
    campaigns_end([*lost, just_ended], manager)
    Campaign.objects.filter(pk__in=[c.pk for c in lost]).update(ended_at=ago(minutes=10))

    assert reports_reconcile.reports_missing_check(now=ago(seconds=0)) == 3
    assert held_ids(close_reports_build, "campaign_ids") == sorted(c.pk for c in lost)
    assert reports_reconcile.reports_missing_check(now=ago(seconds=0)) == 0  # a run already holds them
    tasks_run_queued()
    assert set(CloseReport.objects.values_list("campaign_id", flat=True)) == {c.pk for c in lost}
    assert reports_reconcile.reports_missing_check(now=ago(seconds=0)) == 0


def test_a_failed_report_task_does_not_hide_the_gap(db_tasks, account, manager):
    campaign = CampaignFactory(account=account)
    campaigns_end([campaign], manager)
    Campaign.objects.filter(pk=campaign.pk).update(ended_at=ago(minutes=10))
    close_reports_build.enqueue(campaign_ids=[campaign.pk])
    DBTaskResult.objects.update(status=TaskResultStatus.FAILED)
    assert reports_reconcile.reports_missing_check(now=ago(seconds=0)) == 1


def test_reports_without_pdf_are_queued_once_when_prerendering(db_tasks, account, manager, settings):
    campaign, fresh = CampaignFactory(account=account), CampaignFactory(account=account)
    campaigns_end([campaign, fresh], manager)
    reports_create(campaign_ids=[campaign.pk, fresh.pk])
    CloseReport.objects.filter(campaign=campaign).update(created_at=ago(minutes=10))
    report = CloseReport.objects.get(campaign=campaign)

    settings.REPORT_PDF_PRERENDER = False
    assert reports_reconcile.report_pdfs_missing_check(now=ago(seconds=0)) == 0  # the first download renders it
    settings.REPORT_PDF_PRERENDER = True
    assert reports_reconcile.report_pdfs_missing_check(now=ago(seconds=0)) == 1
    assert held_ids(report_pdfs_render, "report_ids") == [report.pk]
    assert reports_reconcile.report_pdfs_missing_check(now=ago(seconds=0)) == 0
    tasks_run_queued()
    assert set(ReportPdf.objects.values_list("report_id", flat=True)) == {report.pk}  # one per prerendered audience
    assert reports_reconcile.report_pdfs_missing_check(now=ago(seconds=0)) == 0


def notification(user, *, state, created, attempts=0):
    n = Notification.objects.create(
        recipient=user, kind=NotificationKind.STATUS_CHANGED, title="A change", email_state=state
    )
    Notification.objects.filter(pk=n.pk).update(created_at=created, email_attempts=attempts)
    return n


def test_emails_neither_sent_nor_given_up_are_queued_once(db_tasks, manager):
    waiting = notification(manager, state=EmailState.PENDING, created=ago(hours=1))
    failed = notification(manager, state=EmailState.FAILED, created=ago(hours=1), attempts=2)
    notification(manager, state=EmailState.PENDING, created=ago(minutes=1))  # its task may still be queued
    notification(manager, state=EmailState.SENT, created=ago(hours=1))
    notification(manager, state=EmailState.GAVE_UP, created=ago(hours=1), attempts=5)

    assert checks.emails_unsent_check(now=ago(seconds=0)) == 2
    assert held_ids(tasks.notification_emails_send, "notification_ids") == sorted([waiting.pk, failed.pk])
    assert checks.emails_unsent_check(now=ago(seconds=0)) == 0
    tasks_run_queued()
    assert len(mail.outbox) == 2
    assert set(Notification.objects.filter(email_state=EmailState.SENT).values_list("pk", flat=True)) >= {
        waiting.pk,
        failed.pk,
    }
    assert checks.emails_unsent_check(now=ago(seconds=0)) == 0


def test_an_email_whose_retry_waits_in_the_queue_is_not_queued_again(db_tasks, manager):
    failed = notification(manager, state=EmailState.FAILED, created=ago(hours=1), attempts=1)
    tasks.notification_emails_send.using(run_after=ago(minutes=-5)).enqueue(notification_ids=[failed.pk])
    assert checks.emails_unsent_check(now=ago(seconds=0)) == 0


def test_ends_whose_notifications_were_never_made_are_notified_once(db_tasks, account, manager, editor):
    lost = CampaignFactory.create_batch(2, account=account)
    just_ended, long_ago = CampaignFactory(account=account), CampaignFactory(account=account)
    campaigns_end([*lost, just_ended, long_ago], manager)  # nothing after commit runs here: as if the task was lost
    Campaign.objects.filter(pk__in=[c.pk for c in lost]).update(ended_at=ago(minutes=10))
    Campaign.objects.filter(pk=long_ago.pk).update(ended_at=ago(days=3))
    assert not Notification.objects.exists()

    assert checks.end_notifications_missing_check(now=ago(seconds=0)) == 2
    assert checks.end_notifications_missing_check(now=ago(seconds=0)) == 0  # a run already holds them
    tasks_run_queued()

    told = Notification.objects.filter(recipient=editor, kind=NotificationKind.STATUS_CHANGED)
    assert told.count() == 1 and "2 campaigns" in told.get().title
    assert set(told.get().campaigns.values_list("pk", flat=True)) == {c.pk for c in lost}
    assert checks.end_notifications_missing_check(now=ago(seconds=0)) == 0  # the step is done now


def test_pushes_pending_past_their_deadline_are_queued_once(db_tasks, account):
    stale, recent = CampaignFactory.create_batch(2, account=account, status=Status.PAUSED)
    Campaign.objects.filter(pk__in=[stale.pk, recent.pk]).update(sync_state=SyncState.PENDING)
    Campaign.objects.filter(pk=stale.pk).update(updated_at=ago(minutes=20))

    assert checks.pushes_pending_check(now=ago(seconds=0)) == 1
    assert held_ids(tasks.platform_push_task, "campaign_ids") == [stale.pk]
    assert checks.pushes_pending_check(now=ago(seconds=0)) == 0
    tasks_run_queued()  # the account has no connector: the push confirms at once
    stale.refresh_from_db()
    assert stale.sync_state == SyncState.SYNCED
    assert checks.pushes_pending_check(now=ago(seconds=0)) == 0


def test_scheduled_actions_past_due_are_queued_once(db_tasks, account, manager):
    due, soon = CampaignFactory.create_batch(2, account=account)
    overdue = ScheduledAction.objects.create(
        campaign=due, action=Action.PAUSE, run_at=ago(minutes=10), created_by=manager
    )
    ScheduledAction.objects.create(campaign=soon, action=Action.PAUSE, run_at=ago(seconds=30), created_by=manager)

    assert checks.scheduled_actions_due_check(now=ago(seconds=0)) == 1
    assert held_ids(tasks.run_scheduled_action) == [overdue.pk]  # its ids are positional arguments
    assert checks.scheduled_actions_due_check(now=ago(seconds=0)) == 0
    tasks_run_queued()
    overdue.refresh_from_db()
    due.refresh_from_db()
    assert (overdue.state, due.status) == (ScheduledState.DONE, Status.PAUSED)
    assert checks.scheduled_actions_due_check(now=ago(seconds=0)) == 0


def test_every_app_registers_its_checks_and_a_failing_one_does_not_stop_the_others(
    db_tasks, account, manager, monkeypatch, caplog
):
    assert set(reconcile.reconcile_checks()) == {
        "campaigns.emails",
        "campaigns.end_notifications",
        "campaigns.pushes",
        "campaigns.scheduled_actions",
        "campaigns.imports",
        "reports.final",
        "reports.missing",
        "reports.pdfs",
        "reports.deliveries",
    }
    campaign = CampaignFactory(account=account)
    campaigns_end([campaign], manager)
    Campaign.objects.filter(pk=campaign.pk).update(ended_at=ago(minutes=10))

    def broken(*, now):
        raise RuntimeError("boom")

    monkeypatch.setitem(reconcile._checks, "campaigns.emails", broken)
    with caplog.at_level(logging.WARNING, logger="campaigns.worker"):
        found = reconcile.reconcile_run()
    assert found == {
        "campaigns.emails": -1,
        "campaigns.end_notifications": 1,  # the same lost end: its notifications were never made either
        "campaigns.pushes": 0,
        "campaigns.scheduled_actions": 0,
        "campaigns.imports": 0,
        "reports.final": 0,
        "reports.missing": 1,
        "reports.pdfs": 0,
        "reports.deliveries": 0,
    }
    assert "Reconcile check campaigns.emails failed" in caplog.text
    assert "Reconcile: reports.missing queued 1 item(s) whose work had been lost." in caplog.text
    assert [row.args_kwargs["kwargs"] for row in queued(close_reports_build)] == [{"campaign_ids": [campaign.pk]}]


def test_on_a_backend_without_queue_nothing_counts_as_pending(db, settings):
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}
    assert reconcile.task_pending_ids(task=close_reports_build, kwarg="campaign_ids") == set()


def test_failed_report_emails_past_their_backoff_are_queued_once(db_tasks, account, manager):
    """Issue 18: a failed delivery whose retry was never queued (or was lost) is found once its backoff passed."""
    from reports import services as report_services
    from reports.models import DeliveryState, ReportDelivery
    from reports.reconcile import report_deliveries_retry_check
    from reports.tasks import report_deliveries_send

    campaign = CampaignFactory(account=account)
    campaigns_end([campaign], manager)
    report_services.reports_create(campaign_ids=[campaign.pk])
    report = campaign.__class__.objects.get(pk=campaign.pk).close_report
    recipient = report_services.report_recipient_add(report=report, actor=None, email="ana@client.example")
    late = ReportDelivery.objects.create(
        report=report, recipient=recipient, occasion="close", state=DeliveryState.FAILED, attempts=1
    )
    ReportDelivery.objects.filter(pk=late.pk).update(claimed_at=ago(hours=1))
    assert report_deliveries_retry_check(now=timezone.now()) == 1
    assert report_deliveries_retry_check(now=timezone.now()) == 0  # the queued run holds it
    assert [row.args_kwargs["kwargs"] for row in queued(report_deliveries_send)] == [{"delivery_ids": [late.pk]}]
