"""What follows a write: the one place that says which side effects a change has, and when they run.

A status change (`campaigns_transition`) calls `status_changes_recorded` inside its transaction, after the
audit rows. That runs, in order:

1. **In the transaction** — the wind-down checklist of every campaign that just ended
   (`winddown_checklists_create`). It is the one subscriber that is not deferred, on purpose: an ended campaign
   without its checklist must never be visible (the wind-down page, the list's progress column and the overdue
   reminders read the steps), and a failure here must roll the END back rather than leave it half done.
2. **On commit** — the event `campaigns.signals.status_changed` (`change_ids`, `action`, `campaign_ids`), sent
   once per transition batch with `send_robust`, from an `on_commit(robust=True)` callback. Its subscribers:
   - notifications (`campaigns.receivers.notify_on_status_changed` → task `notify_status_changes`);
   - the platform push (`campaigns.receivers.push_on_status_changed` → `platforms.push.platform_push_enqueue`);
   - the close report (`reports.receivers.on_status_changed` → task `close_reports_build`).
   A subscriber that raises is logged here and never reaches the user, who sees the committed change as done;
   the others still run. Subscribers only queue tasks, so their real work (and its retries) runs in the worker;
   the platform push also has its pending sweep (`sync_platform`).

Schedules follow the same rule. `scheduled_actions_created` (in the creating transaction) queues, on commit,
the deferred run (`run_scheduled_action`) and sends `schedules_created` (→ `notify_on_schedules_created`: the
team is told); `scheduled_action_failed` sends `schedule_failed` on commit (→ `notify_on_schedule_failed`: the
managers and the creator are told why). Notification emails are queued on commit by
`notification_emails_on_commit`. Every callback is `robust=True`, every event `send_robust`.

This is the only services module that imports `campaigns.tasks` (the task bodies import the services lazily:
that `tasks → services` edge is the one allowed the other way).
"""

import functools
import logging

from django.db import transaction
from django.dispatch import Signal

from .. import signals, tasks
from ..models import Action, Campaign, Rule, ScheduledAction
from .winddown import winddown_checklists_create

logger = logging.getLogger(__name__)


# Status changes -------------------------------------------------------------------------------------------


def status_changes_recorded(*, action: str, campaign_ids: list[int], change_ids: list[int], now) -> None:
    """Called by `campaigns_transition` inside its transaction, once per batch, after the campaigns were updated
    and the StatusChange rows written. Runs the in-transaction subscriber (wind-down), then sends the
    `status_changed` event once the transaction commits. Errors of the in-transaction part propagate (and
    roll the change back); errors after commit are logged, never raised."""
    if action == Action.END:
        # Atomic with the END on purpose (see the module docstring): never an ended campaign without checklist.
        # The END's UPDATE set winddown_done to what the new checklist holds (transitions).
        winddown_checklists_create(campaign_ids=campaign_ids, now=now, done_counted=True)
    event_on_commit(
        signals.status_changed, action=str(action), campaign_ids=list(campaign_ids), change_ids=list(change_ids)
    )


def event_on_commit(signal: Signal, **kwargs) -> None:
    """Send `signal` with `kwargs` once the current transaction commits (at once outside one)."""
    # robust: the change is committed; whatever follows must not turn it into an error page.
    transaction.on_commit(functools.partial(event_send, signal, **kwargs), robust=True)


def event_send(signal: Signal, **kwargs) -> None:
    """Tell every subscriber, each on its own (`send_robust`: one that raises does not stop the others), and
    log the ones that failed."""
    for receiver, response in signal.send_robust(sender=Campaign, **kwargs):
        if isinstance(response, Exception):
            logger.error(
                "Subscriber %s failed (%s); the change it follows stays committed.",
                getattr(receiver, "__qualname__", receiver),
                kwargs,
                exc_info=response,
            )


def status_change_notifications_enqueue(*, change_ids: list[int]) -> None:
    """Queue the in-app notifications (and their emails) of a committed status change: they are built by the
    task worker, not in the request."""
    tasks.notify_status_changes.enqueue(change_ids=change_ids)


# Metrics arrived -------------------------------------------------------------------------------------------


def metrics_stored(*, account_ids) -> None:
    """Called inside the transaction that stored new metrics (an import, a platform pull): on commit, queue the
    evaluation of the accounts' guardrail rules (`rules_evaluate_task`), so a rule acts on the numbers that just
    arrived. Robust: the hourly evaluation catches up when the queue is down."""
    ids = sorted({int(pk) for pk in account_ids})
    if ids:
        transaction.on_commit(functools.partial(rules_evaluate_enqueue, account_ids=ids), robust=True)


def rules_evaluate_enqueue(*, account_ids: list[int]) -> None:
    """Queue the evaluation for the accounts among these that have an enabled rule (nothing for the others)."""
    with_rules = sorted(
        set(Rule.objects.filter(enabled=True, account_id__in=account_ids).values_list("account_id", flat=True))
    )
    if with_rules:
        tasks.rules_evaluate_task.enqueue(account_ids=with_rules)


# Imports (issue 19) ----------------------------------------------------------------------------------------


def metric_import_preview_enqueue(*, import_id: int) -> None:
    """Queue the reading of a stored upload (`metric_imports.metric_import_preview_run`)."""
    tasks.metric_import_preview_task.enqueue(import_id)


def metric_import_commit_enqueue(*, import_id: int) -> None:
    """Queue the commit of a previewed import (`metric_imports.metric_import_commit_run`)."""
    tasks.metric_import_commit_task.enqueue(import_id)


# Notification emails --------------------------------------------------------------------------------------


def notification_emails_enqueue(*, notification_ids: list[int], run_after=None) -> None:
    """Queue the emails of these notifications now (or at `run_after`, when the backend can defer; otherwise
    they stay "failed (will retry)" and the daily sweep `notification_emails_retry_due` sends them)."""
    task = tasks.notification_emails_send
    if run_after is not None:
        if not task.get_backend().supports_defer:
            return
        task = task.using(run_after=run_after)
    task.enqueue(notification_ids=notification_ids)


def notification_emails_on_commit(*, notification_ids: list[int], run_after=None) -> None:
    """Queue the emails after the notifications commit. Robust: a queue outage leaves them pending, and the
    daily sweep sends pending emails older than half an hour."""
    transaction.on_commit(
        functools.partial(notification_emails_enqueue, notification_ids=list(notification_ids), run_after=run_after),
        robust=True,
    )


# Schedules ------------------------------------------------------------------------------------------------


def scheduled_actions_created(*, scheduled_ids: list[int], run_at, actor_id: int | None) -> None:
    """Called inside the transaction that created these scheduled actions (all at `run_at`). On commit, each on
    its own and robustly: queue their run for `run_at`; send `schedules_created` (the team is notified)."""
    ids = sorted(scheduled_ids)
    transaction.on_commit(
        functools.partial(scheduled_actions_run_enqueue, scheduled_ids=ids, run_at=run_at), robust=True
    )
    event_on_commit(signals.schedules_created, scheduled_ids=ids, actor_id=actor_id)


def scheduled_actions_run_enqueue(*, scheduled_ids: list[int], run_at) -> None:
    """One deferred `run_scheduled_action` task for all of them, its id stored on each. Nothing to queue when the
    backend cannot defer (e.g. the immediate backend): the `run_due_actions` sweep runs them when due."""
    task = tasks.run_scheduled_action
    if not task.get_backend().supports_defer:
        return
    result = task.using(run_after=run_at).enqueue(*scheduled_ids)
    ScheduledAction.objects.filter(pk__in=scheduled_ids).update(task_id=str(result.id)[:64])


def scheduled_action_failed(*, scheduled: ScheduledAction) -> None:
    """Called inside the transaction that marked `scheduled` FAILED: on commit, send `schedule_failed` (the
    account's managers and the schedule's creator are told why)."""
    event_on_commit(signals.schedule_failed, scheduled=scheduled)
