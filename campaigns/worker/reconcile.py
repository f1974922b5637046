"""The reconciler: finds work whose task never ran, or ran and was lost, and queues it once.

A status change queues its consequences on commit; a worker that dies, an enqueue that fails, a task that
FAILED can leave one undone for good (an ended campaign without its report, an email neither sent nor failed).
Each app registers checks for its own work in `AppConfig.ready()` (`reconcile_check_register`: campaigns never
imports reports, so reports registers its own); the periodic job `worker.reconcile` runs them all every
RECONCILE_EVERY_SECONDS on one worker.

A check looks only at work older than a grace period (so it never races the normal path), and queues a finding
with `task_enqueue_missing`, which leaves out every id that a READY or RUNNING run of the same task already
holds: a finding is queued once, and the next reconcile queues nothing until that run has finished. The tasks
are idempotent, so a finding fixed meanwhile costs one no-op run. A check that raises is logged; the others
still run."""

import logging
from collections.abc import Callable, Iterable

from django.tasks import Task, TaskResultStatus
from django.utils import timezone

logger = logging.getLogger("campaigns.worker")

# A check: `check(now=...)` queues what it finds and returns how many items it queued.
Check = Callable[..., int]

_checks: dict[str, Check] = {}


def reconcile_check_register(name: str, check: Check) -> None:
    """Add (or replace, by name) a check. Called from `AppConfig.ready()`."""
    _checks[name] = check


def reconcile_checks() -> dict[str, Check]:
    return dict(_checks)


def reconcile_run(*, now=None) -> dict[str, int]:
    """Run every registered check. Returns {check name: items queued} (-1 for a check that raised)."""
    now = now or timezone.now()
    queued = {}
    for name, check in list(_checks.items()):
        try:
            queued[name] = check(now=now)
        except Exception:
            logger.exception("Reconcile check %s failed; the next reconcile tries again.", name)
            queued[name] = -1
            continue
        if queued[name]:
            logger.warning("Reconcile: %s queued %d item(s) whose work had been lost.", name, queued[name])
    return queued


def task_pending_ids(*, task: Task, kwarg: str | None = None) -> set[int]:
    """The ids that READY or RUNNING runs of `task` hold: in the list keyword argument `kwarg`, or in the
    positional arguments when `kwarg` is None. Empty on a backend without a queue to ask (the immediate backend
    runs a task when it is queued)."""
    from django_tasks_db.backend import DatabaseBackend
    from django_tasks_db.models import DBTaskResult

    if not isinstance(task.get_backend(), DatabaseBackend):
        return set()
    held: set[int] = set()
    pending = DBTaskResult.objects.filter(
        task_path=task.module_path, status__in=[TaskResultStatus.READY, TaskResultStatus.RUNNING]
    ).values_list("args_kwargs", flat=True)
    for args_kwargs in pending.iterator():
        values = args_kwargs.get("args", []) if kwarg is None else args_kwargs.get("kwargs", {}).get(kwarg, [])
        held.update(int(v) for v in values)
    return held


def task_enqueue_missing(*, task: Task, ids: Iterable[int], kwarg: str | None, batch: int) -> int:
    """Queue `task` for the `ids` that no pending run of it holds, `batch` ids a run (as keyword `kwarg`, or
    positionally when None). Returns how many ids it queued."""
    todo = sorted(set(ids) - task_pending_ids(task=task, kwarg=kwarg))
    for start in range(0, len(todo), batch):
        chunk = todo[start : start + batch]
        if kwarg is None:
            task.enqueue(*chunk)
        else:
            task.enqueue(**{kwarg: chunk})
    return len(todo)
