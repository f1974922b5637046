"""Background work run by the task worker (`manage.py db_worker`). Tasks are thin: the rules live in services."""

from django.tasks import task
from django.utils import timezone

# Tasks import the services inside their bodies, never at module level: the services queue tasks (only from
# campaigns/services/effects.py, which imports this module), so a module-level import here would be a circle.
# This lazy tasks → services (and tasks → platforms) edge is the one allowed exception to "no import circles".


@task
def notify_status_changes(*, change_ids: list[int]) -> int:
    """Queued on commit of every status change: in-app notifications, grouped per recipient, then emails."""
    from . import services

    return len(services.notifications_for_status_changes(change_ids=change_ids))


@task
def notification_emails_send(*, notification_ids: list[int]) -> dict:
    """Send notification emails; failures re-queue themselves with backoff (see the service)."""
    from . import services

    return services.notification_emails_send_now(notification_ids=notification_ids)


WINDDOWN_DAILY_HOUR_UTC = 7


def winddown_daily_next_run(now=None):
    """The next 07:00 UTC after `now`."""
    now = now or timezone.now()
    run = now.replace(hour=WINDDOWN_DAILY_HOUR_UTC, minute=0, second=0, microsecond=0)
    return run if run > now else run + timezone.timedelta(days=1)


@task
def winddown_daily(*, reschedule: bool = True) -> dict:
    """Once a day: notify overdue wind-down steps, retry failed emails, then queue itself for tomorrow
    (only on a backend that can defer, and only if no run is already waiting)."""
    from . import services

    result = {
        "overdue_steps": services.winddown_overdue_notify(),
        "emails_retried": services.notification_emails_retry_due(),
    }
    if reschedule:
        winddown_daily_schedule()
    return result


def winddown_daily_schedule() -> bool:
    """Queue the next daily run unless the backend cannot defer or one is already queued. Returns True if queued."""
    backend = winddown_daily.get_backend()
    if not backend.supports_defer:
        return False
    try:
        from django_tasks_db.models import DBTaskResult
    except ImportError:  # another deferring backend: trust the caller not to double-schedule
        DBTaskResult = None  # noqa: N806
    if DBTaskResult is not None and (
        DBTaskResult.objects.filter(task_path=winddown_daily.module_path, status="READY").exists()
    ):
        return False
    winddown_daily.using(run_after=winddown_daily_next_run()).enqueue(reschedule=True)
    return True


# --- Platform sync (issue 7) ---
# The worker pushes status changes to the platform and pulls campaigns and metrics. The pull runs every
# PLATFORM_SYNC_EVERY_MINUTES as the workers' periodic job `campaigns.platform_sync` (campaigns/worker/checks.py), or
# from cron as `manage.py sync_platform`; the reconciler re-queues pushes a killed worker dropped.


@task()
def platform_push_task(*, campaign_ids: list[int]) -> dict:
    from .platforms import push

    return push.platform_push(campaign_ids=campaign_ids)


@task()
def platform_pull_account_task(*, account_id: int, days: int = 30) -> dict:
    from .models import AdAccount
    from .platforms import pull

    account = AdAccount.objects.filter(pk=account_id).first()
    if account is None:
        return {"skipped": "account gone"}
    return pull.platform_pull_account(account=account, days=days)


@task()
def platform_backfill_task(*, pull_id: int) -> dict:
    """Pull the whole history a backfill asks for (queued when an account is connected and when a pull finds new
    campaigns); resumes where an earlier run stopped, re-queues itself with backoff on a transient failure."""
    from .platforms import history

    return history.platform_backfill_run(pull_id=pull_id)


@task()
def platform_sync_all_task(*, days: int = 30) -> dict:
    """The periodic sweep: re-queue stale pending pushes, then pull every connected account."""
    from .models import AdAccount, Connector
    from .platforms import pull, push

    requeued = push.platform_push_pending_sweep()
    pulled = {}
    for account in AdAccount.objects.exclude(connector=Connector.NONE).filter(needs_reconnect=False):
        pulled[str(account.pk)] = pull.platform_pull_account(account=account, days=days)
    return {"requeued": requeued, "accounts": pulled}


# --- scheduled actions (issue 3) ---


@task
def run_scheduled_action(*scheduled_action_ids: int) -> dict[int, str]:
    """Enqueued with `run_after` = the actions' time (one task for the schedules created together). Runs them
    through the same idempotent service as the `run_due_actions` sweep, so a duplicate delivery or a race with
    the sweep does each once."""
    from . import services

    return services.scheduled_actions_run_due(ids=list(scheduled_action_ids))


# --- guardrail rules (issue 17) ---


@task
def rules_evaluate_task(*, account_ids: list[int] | None = None) -> dict:
    """Evaluate the enabled rules of these accounts (all accounts when None): queued on commit of every metrics
    import or pull, and hourly by the workers' periodic job `campaigns.rules_evaluate`."""
    from .rules import evaluate

    results = evaluate.rules_evaluate(account_ids=account_ids)
    return {str(pk): {"acted": r.acted, "held": sorted(r.held)} for pk, r in results.items()}


# --- content-rights expiry (issue 17) ---


@task
def content_rights_task() -> dict:
    """Warn about content whose usage rights expire soon and take out what expired (`services.content_rights`):
    hourly, by the workers' periodic job `campaigns.rights_expiry`."""
    from .services import content_rights

    run = content_rights.content_rights_run()
    return {"warned": run.warned, "expired": run.expired, "paused": run.paused, "notified": run.notified}


# --- metric imports (issue 19) ---


@task
def metric_import_preview_task(import_id: int) -> str:
    """Read a stored upload into its preview (queued by the upload). Idempotent; re-queued by the reconciler
    when it was lost. The id is positional, as `reconcile.task_enqueue_missing(kwarg=None)` reads it."""
    from . import services

    return services.metric_import_preview_run(import_id=import_id)


@task
def metric_import_commit_task(import_id: int) -> str:
    """Commit a previewed import, all or nothing (queued by "Import"). Idempotent; re-queued when lost."""
    from . import services

    return services.metric_import_commit_run(import_id=import_id)
