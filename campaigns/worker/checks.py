"""Campaigns' periodic jobs and reconcile checks, registered by `CampaignsConfig.ready()` (`register`).

Periodic jobs: the lost-task sweep (every heartbeat), the reconciler, wind-down daily (07:00 UTC), the list
totals' fold (every 5 minutes), the guardrail rules (hourly), content-rights expiry (hourly) and, when
PLATFORM_SYNC_EVERY_MINUTES is set, the platform sync. Checks: emails neither sent nor given up on, end
notifications never made, pushes pending past their deadline, scheduled actions past due, imports stuck reading or
committing."""

import datetime as dt

from django.conf import settings
from django.core import checks as system_checks

from .. import tasks
from ..listing import tasks as listing_tasks
from ..models import (
    Action,
    Campaign,
    EmailState,
    Notification,
    ScheduledAction,
    ScheduledState,
    StatusChange,
    SyncState,
    WindDownStep,
    WindDownStepKind,
)
from ..platforms.push import PUSH_STALE_MINUTES
from ..services.metric_imports import metric_import_rows_cleanup, metric_imports_stuck
from ..services.notifications import NOTIFICATION_EMAIL_MAX_ATTEMPTS
from . import periodic, reconcile, recovery

# Work younger than this is the normal path's (its task was queued on commit and may simply wait in the queue).
SCHEDULED_ACTION_GRACE = dt.timedelta(minutes=2)
EMAIL_GRACE = dt.timedelta(minutes=10)
END_NOTIFY_GRACE = dt.timedelta(minutes=2)
END_NOTIFY_WITHIN = dt.timedelta(days=2)  # older ends are not announced late
# At most this many items per check and reconcile: a backlog drains over a few periods, each run stays short.
RECONCILE_AT_MOST = 1000
RULES_EVALUATE_EVERY = dt.timedelta(hours=1)
RIGHTS_EXPIRY_EVERY = dt.timedelta(hours=1)
# An import's task writes its progress every second or so while it works.
IMPORT_STUCK_AFTER = dt.timedelta(minutes=2)


def emails_unsent_check(*, now) -> int:
    """Notification emails still waiting (PENDING) or failed and not given up on, older than EMAIL_GRACE, that
    no `notification_emails_send` run holds: a lost send, or a lost retry."""
    ids = Notification.objects.filter(
        email_state__in=[EmailState.PENDING, EmailState.FAILED],
        email_attempts__lt=NOTIFICATION_EMAIL_MAX_ATTEMPTS,
        created_at__lte=now - EMAIL_GRACE,
    ).values_list("pk", flat=True)[:RECONCILE_AT_MOST]
    return reconcile.task_enqueue_missing(
        task=tasks.notification_emails_send, ids=ids, kwarg="notification_ids", batch=100
    )


def end_notifications_missing_check(*, now) -> int:
    """Ends whose notifications were never made: the "team notified" step of an end is done, or marked
    `nobody_told`, by `notifications_for_status_changes`; still blank END_NOTIFY_GRACE after the end, its
    `notify_status_changes` task was lost (queuing it failed, or its worker died). Ends older than
    END_NOTIFY_WITHIN are left alone: the checklist still offers "notify the team"."""
    campaign_ids = (
        WindDownStep.objects.filter(
            kind=WindDownStepKind.TEAM_NOTIFIED,
            done_at__isnull=True,
            campaign__ended_at__lte=now - END_NOTIFY_GRACE,
            campaign__ended_at__gt=now - END_NOTIFY_WITHIN,
        )
        .exclude(data__has_key="nobody_told")
        .values("campaign_id")
    )
    ids = StatusChange.objects.filter(campaign_id__in=campaign_ids, action=Action.END).values_list("pk", flat=True)
    return reconcile.task_enqueue_missing(
        task=tasks.notify_status_changes, ids=ids[:RECONCILE_AT_MOST], kwarg="change_ids", batch=200
    )


def pushes_pending_check(*, now) -> int:
    """Campaigns awaiting the platform for PUSH_STALE_MINUTES with no push queued (the pending sweep of
    `sync_platform`, without queuing twice)."""
    ids = Campaign.objects.filter(
        sync_state=SyncState.PENDING, updated_at__lte=now - dt.timedelta(minutes=PUSH_STALE_MINUTES)
    ).values_list("pk", flat=True)[:RECONCILE_AT_MOST]
    return reconcile.task_enqueue_missing(task=tasks.platform_push_task, ids=ids, kwarg="campaign_ids", batch=1000)


def scheduled_actions_due_check(*, now) -> int:
    """Scheduled pauses and ends past due by SCHEDULED_ACTION_GRACE and still pending, with no run queued (the
    `run_due_actions` sweep, as a task)."""
    ids = ScheduledAction.objects.filter(
        state=ScheduledState.PENDING, run_at__lte=now - SCHEDULED_ACTION_GRACE
    ).values_list("pk", flat=True)[:RECONCILE_AT_MOST]
    return reconcile.task_enqueue_missing(task=tasks.run_scheduled_action, ids=ids, kwarg=None, batch=200)


def imports_stuck_check(*, now) -> int:
    """Imports queued, reading or committing whose progress has not moved for IMPORT_STUCK_AFTER and that no
    pending run of their task holds: the enqueue failed, or the worker died and its task was given up on. Both
    tasks are idempotent (the commit is one transaction), so running one again never stores a row twice. The
    staged rows no import needs any more are deleted on the way (`metric_import_rows_cleanup`)."""
    metric_import_rows_cleanup(now=now)
    stuck = metric_imports_stuck(older_than=now - IMPORT_STUCK_AFTER)
    return reconcile.task_enqueue_missing(
        task=tasks.metric_import_preview_task, ids=stuck["preview"][:RECONCILE_AT_MOST], kwarg=None, batch=1
    ) + reconcile.task_enqueue_missing(
        task=tasks.metric_import_commit_task, ids=stuck["commit"][:RECONCILE_AT_MOST], kwarg=None, batch=1
    )


def worker_timings_check(app_configs=None, **kwargs) -> list[system_checks.CheckMessage]:
    """A worker is judged lost after WORKER_LOST_AFTER_SECONDS without a beat: that must span a few beats, or a
    live worker's task would be queued twice."""
    beat, lost = settings.WORKER_HEARTBEAT_SECONDS, settings.WORKER_LOST_AFTER_SECONDS
    if beat > 0 and lost >= 3 * beat:
        return []
    return [
        system_checks.Error(
            f"WORKER_LOST_AFTER_SECONDS ({lost:g}) must be at least 3 × WORKER_HEARTBEAT_SECONDS ({beat:g}), "
            "and the heartbeat more than 0.",
            hint="A task of a live worker would be taken for lost and run twice. E.g. 10 and 60 (the defaults).",
            id="campaigns.E001",
        )
    ]


def register() -> None:
    system_checks.register(worker_timings_check)
    for name, check in (
        ("campaigns.emails", emails_unsent_check),
        ("campaigns.end_notifications", end_notifications_missing_check),
        ("campaigns.pushes", pushes_pending_check),
        ("campaigns.scheduled_actions", scheduled_actions_due_check),
        ("campaigns.imports", imports_stuck_check),
    ):
        reconcile.reconcile_check_register(name, check)
    for job in (
        periodic.RegisteredJob(
            name="worker.recover",
            run=recovery.tasks_lost_requeue,
            next_run=periodic.every(lambda: settings.WORKER_HEARTBEAT_SECONDS),
        ),
        periodic.RegisteredJob(
            name="worker.reconcile",
            run=reconcile.reconcile_run,
            next_run=periodic.every(lambda: settings.RECONCILE_EVERY_SECONDS),
        ),
        periodic.RegisteredJob(
            name="campaigns.winddown_daily",
            task=tasks.winddown_daily,
            kwargs={"reschedule": False},
            next_run=tasks.winddown_daily_next_run,
        ),
        periodic.RegisteredJob(
            name="campaigns.list_stats_compact",
            task=listing_tasks.list_stats_compact,
            kwargs={"reschedule": False},
            next_run=periodic.every(listing_tasks.LIST_STATS_COMPACT_EVERY.total_seconds),
        ),
        periodic.RegisteredJob(
            name="campaigns.platform_sync",
            task=tasks.platform_sync_all_task,
            next_run=periodic.every(lambda: settings.PLATFORM_SYNC_EVERY_MINUTES * 60),
            enabled=lambda: settings.PLATFORM_SYNC_EVERY_MINUTES > 0,
        ),
        # Guardrail rules (issue 17): also queued after every import and pull; hourly so a rule on the calendar
        # (the end date passed) or on a quiet campaign (no impressions) acts without new metrics.
        periodic.RegisteredJob(
            name="campaigns.rules_evaluate",
            task=tasks.rules_evaluate_task,
            next_run=periodic.every(lambda: RULES_EVALUATE_EVERY.total_seconds()),
        ),
        # Content-rights expiry (issue 17): warnings N days ahead and the take-out on the day, each once.
        periodic.RegisteredJob(
            name="campaigns.rights_expiry",
            task=tasks.content_rights_task,
            next_run=periodic.every(lambda: RIGHTS_EXPIRY_EVERY.total_seconds()),
        ),
    ):
        periodic.periodic_job_register(job)
