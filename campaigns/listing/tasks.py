"""The list totals' background work: folding the delta rows the triggers append, every few minutes, so that no page
ever writes (a page sums whatever deltas there are; listing/summary.py).

Started once by `list_stats_compact_schedule()` (`manage.py list_stats_compact --schedule`, at deploy or `make run`);
each run queues the next before it works, so a run killed half-way (a worker restart) has already queued its
successor, and folding twice is harmless. On a backend that cannot defer (the tests' immediate one), cron runs
`manage.py list_stats_compact` instead."""

import datetime as dt

from django.tasks import task
from django.utils import timezone

from . import stats

LIST_STATS_COMPACT_EVERY = dt.timedelta(minutes=5)


@task
def list_stats_compact(*, reschedule: bool = True) -> dict:
    """Queue the next run (with `reschedule`, on a deferring backend, unless one is already waiting), then fold the
    deltas if enough have piled up (`stats.campaign_list_stats_compact_due`)."""
    if reschedule:
        list_stats_compact_schedule()
    return stats.campaign_list_stats_compact_due()


def list_stats_compact_schedule() -> bool:
    """Queue a run of `list_stats_compact` LIST_STATS_COMPACT_EVERY from now, unless the backend cannot defer or a run
    is already waiting. Returns True if it queued one. Two callers racing may both queue: the chains merge, since a
    run that finds another waiting queues nothing."""
    if not list_stats_compact.get_backend().supports_defer:
        return False
    try:
        from django_tasks_db.models import DBTaskResult
    except ImportError:  # another deferring backend: it cannot be asked what waits; trust the caller
        DBTaskResult = None  # noqa: N806
    if DBTaskResult is not None:
        waiting = DBTaskResult.objects.filter(task_path=list_stats_compact.module_path, status="READY")
        if waiting.exists():
            return False
    list_stats_compact.using(run_after=timezone.now() + LIST_STATS_COMPACT_EVERY).enqueue(reschedule=True)
    return True
