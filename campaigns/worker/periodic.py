"""Periodic jobs, run by the workers themselves (no cron) once per period across every host.

An app registers a job in its `AppConfig.ready()` (`periodic_job_register`). Each worker's housekeeping thread
calls `periodic_jobs_run_due` after every heartbeat; a job is due when its `PeriodicJob` row's `next_run_at` has
passed, and the worker whose conditional UPDATE moves `next_run_at` forward is the one that runs it (everyone
else's UPDATE matches no row). A new job's row is written due at once.

A job either runs in the housekeeping thread (`run`: short and idempotent, such as the lost-task sweep and the
reconciler) or, usually, queues a task (`task`): then it is not queued while a run of that task is still READY or
RUNNING, and the task itself is covered by the lost-task recovery. A job that fails is logged and runs again next
period."""

import dataclasses
import datetime as dt
import logging
from collections.abc import Callable

from django.tasks import Task, TaskResultStatus
from django.utils import timezone

from ..models import PeriodicJob

logger = logging.getLogger("campaigns.worker")


@dataclasses.dataclass(frozen=True)
class RegisteredJob:
    """`next_run(now)` says when the job runs after a run at `now`; exactly one of `run` (called in the
    housekeeping thread) and `task` (queued with `kwargs`) is set; `enabled()` is asked at every due time."""

    name: str
    next_run: Callable[[dt.datetime], dt.datetime]
    run: Callable[[], object] | None = None
    task: Task | None = None
    kwargs: dict = dataclasses.field(default_factory=dict)
    enabled: Callable[[], bool] = lambda: True


_jobs: dict[str, RegisteredJob] = {}


def every(seconds: Callable[[], float]) -> Callable[[dt.datetime], dt.datetime]:
    """A `next_run` for a fixed interval, read when the job runs (so a setting can change it)."""
    return lambda now: now + dt.timedelta(seconds=seconds())


def periodic_job_register(job: RegisteredJob) -> None:
    """Add (or replace, by name) a periodic job. Called from `AppConfig.ready()`."""
    if (job.run is None) == (job.task is None):
        raise ValueError(f"Periodic job {job.name!r} needs exactly one of run and task.")
    _jobs[job.name] = job


def periodic_jobs() -> dict[str, RegisteredJob]:
    return dict(_jobs)


def task_pending(task: Task) -> bool:
    """Whether a run of `task` waits (READY, deferred or not) or runs now. False on a backend without a queue
    to ask (the immediate backend runs a task when it is queued)."""
    from django_tasks_db.backend import DatabaseBackend
    from django_tasks_db.models import DBTaskResult

    if not isinstance(task.get_backend(), DatabaseBackend):
        return False
    return DBTaskResult.objects.filter(
        task_path=task.module_path, status__in=[TaskResultStatus.READY, TaskResultStatus.RUNNING]
    ).exists()


def periodic_job_claim(*, job: RegisteredJob, worker_id: str, now) -> bool:
    """Move the job's next run forward if it is due: True for the one caller whose UPDATE did."""
    return bool(
        PeriodicJob.objects.filter(name=job.name, next_run_at__lte=now).update(
            next_run_at=job.next_run(now), last_run_at=now, last_worker_id=worker_id[:64]
        )
    )


def periodic_jobs_run_due(*, worker_id: str, now=None) -> list[str]:
    """Run (or queue) every registered job that is due and that this worker claims. Returns the names of those it
    ran or queued."""
    now = now or timezone.now()
    known = set(PeriodicJob.objects.filter(name__in=list(_jobs)).values_list("name", flat=True))
    missing = [PeriodicJob(name=name, next_run_at=now) for name in _jobs if name not in known]
    if missing:
        PeriodicJob.objects.bulk_create(missing, ignore_conflicts=True)  # another host may write them too
    ran = []
    for job in list(_jobs.values()):
        if not periodic_job_claim(job=job, worker_id=worker_id, now=now):
            continue
        if not job.enabled():
            continue
        try:
            if job.run is not None:
                job.run()
            elif task_pending(job.task):
                continue  # the last run has not finished: one at a time
            else:
                job.task.enqueue(**job.kwargs)
        except Exception:
            logger.exception("Periodic job %s failed; it runs again next period.", job.name)
            continue
        ran.append(job.name)
    return ran
