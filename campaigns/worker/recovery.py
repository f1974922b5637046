"""Lost tasks: RUNNING rows whose worker died (SIGKILL, the OOM killer, a host gone) are queued again.

django-tasks-db marks a task RUNNING when a worker claims it and never looks at it again, so a worker that dies
mid-task leaves it RUNNING for ever. Here a RUNNING task counts as lost when the worker that claimed it last
(`worker_ids[-1]`) has a heartbeat row older than WORKER_LOST_AFTER_SECONDS, or, for a worker that never wrote
one (django-tasks-db's own worker, or a task claimed before this upgrade), when it has been running for
WORKER_UNTRACKED_TIMEOUT_SECONDS.

A lost task goes back to READY, keeping its id, arguments and priority, and runs again on any worker: every task
is idempotent, so work it had done before it died is not done twice. Every claim appends the worker's id to
`worker_ids`, so their number counts the attempts: after WORKER_TASK_MAX_ATTEMPTS a task that keeps taking its
worker down (a PDF that exhausts memory) is FAILED with a `WorkerLost` error and an error in the log, never looped.

Safe on many hosts at once: each row changes with a conditional UPDATE (still RUNNING, still the claim that was
judged lost), so one sweeper wins and the others change nothing."""

import dataclasses
import datetime as dt
import logging

from django.conf import settings
from django.tasks import TaskResultStatus
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from ..models import WorkerHeartbeat

logger = logging.getLogger("campaigns.worker")


class WorkerLost(Exception):
    """The error a task is FAILED with when its workers died under it WORKER_TASK_MAX_ATTEMPTS times."""


@dataclasses.dataclass(frozen=True)
class LostTask:
    id: str
    task_path: str
    started_at: dt.datetime
    worker_id: str
    attempts: int


def tasks_lost_find(*, now=None) -> list[LostTask]:
    """The RUNNING tasks whose worker is gone (see the module docstring). Reads only."""
    now = now or timezone.now()
    lost_before = now - dt.timedelta(seconds=settings.WORKER_LOST_AFTER_SECONDS)
    untracked_before = now - dt.timedelta(seconds=settings.WORKER_UNTRACKED_TIMEOUT_SECONDS)
    # A task claimed after lost_before cannot be lost yet: its worker beat before it claimed.
    running = list(
        DBTaskResult.objects.filter(status=TaskResultStatus.RUNNING, started_at__lte=lost_before)
        .order_by("started_at")
        .values_list("id", "task_path", "started_at", "worker_ids")
    )
    worker_of = {pk: (ids[-1] if ids else "") for pk, _, _, ids in running}
    beats = dict(WorkerHeartbeat.objects.filter(pk__in=set(worker_of.values())).values_list("worker_id", "beat_at"))
    lost = []
    for pk, task_path, started_at, worker_ids in running:
        worker_id = worker_of[pk]
        beat_at = beats.get(worker_id)
        if (beat_at is not None and beat_at <= lost_before) or (beat_at is None and started_at <= untracked_before):
            lost.append(LostTask(str(pk), task_path, started_at, worker_id, len(worker_ids)))
    return lost


def task_lost_requeue(*, lost: LostTask, now=None) -> str | None:
    """Queue `lost` again, or FAIL it when it has had its WORKER_TASK_MAX_ATTEMPTS. Returns "requeued",
    "failed", or None when another sweeper (or a late worker) changed the row first."""
    now = now or timezone.now()
    # Only the claim that was judged lost: still RUNNING, started at the same moment.
    claim = DBTaskResult.objects.filter(pk=lost.id, status=TaskResultStatus.RUNNING, started_at=lost.started_at)
    if lost.attempts < settings.WORKER_TASK_MAX_ATTEMPTS:
        if not claim.update(status=TaskResultStatus.READY, started_at=None):
            return None
        logger.warning(
            "Task %s (%s) was running on worker %s, which stopped beating: queued again (attempt %d of %d next).",
            lost.id,
            lost.task_path,
            lost.worker_id or "unknown",
            lost.attempts + 1,
            settings.WORKER_TASK_MAX_ATTEMPTS,
        )
        return "requeued"
    message = (
        f"The worker running this task died {lost.attempts} times (last: {lost.worker_id or 'unknown'}); "
        "it is not tried again."
    )
    if not claim.update(
        status=TaskResultStatus.FAILED,
        finished_at=now,
        return_value=None,
        exception_class_path=f"{WorkerLost.__module__}.{WorkerLost.__qualname__}",
        traceback=f"{WorkerLost.__module__}.{WorkerLost.__qualname__}: {message}\n",
    ):
        return None
    logger.error("Task %s (%s) gave up: %s", lost.id, lost.task_path, message)
    return "failed"


def tasks_lost_requeue(*, now=None) -> dict[str, int]:
    """The sweep: queue every lost task again (or FAIL it), then forget heartbeats silent for longer than
    WORKER_UNTRACKED_TIMEOUT_SECONDS (their tasks, if any, are judged by the untracked rule from then on).
    Returns {"requeued": n, "failed": n}."""
    now = now or timezone.now()
    counts = {"requeued": 0, "failed": 0}
    for lost in tasks_lost_find(now=now):
        outcome = task_lost_requeue(lost=lost, now=now)
        if outcome:
            counts[outcome] += 1
    forget_before = now - dt.timedelta(seconds=settings.WORKER_UNTRACKED_TIMEOUT_SECONDS)
    WorkerHeartbeat.objects.filter(beat_at__lt=forget_before).delete()
    return counts
