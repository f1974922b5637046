"""Lost tasks: a task RUNNING on a worker that stopped beating is queued again, once, and not for ever."""

import logging

import pytest
from django.tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from campaigns import tasks
from campaigns.models import WorkerHeartbeat
from campaigns.worker import recovery
from campaigns.worker.heartbeat import worker_heartbeat_beat

from .conftest import ago, at_once, tasks_run_queued


def running_task(*, worker_ids: list[str], started) -> DBTaskResult:
    """A queued run of a real task, claimed by `worker_ids[-1]` at `started` (as the worker's claim does)."""
    result = tasks.winddown_daily.enqueue(reschedule=False)
    DBTaskResult.objects.filter(pk=result.id).update(
        status=TaskResultStatus.RUNNING, started_at=started, worker_ids=worker_ids
    )
    return DBTaskResult.objects.get(pk=result.id)


def beat(worker_id: str, at) -> None:
    worker_heartbeat_beat(worker_id=worker_id, now=at)


def status_of(row: DBTaskResult) -> str:
    row.refresh_from_db()
    return row.status


def test_task_of_a_worker_whose_heartbeat_went_stale_is_queued_again_once(db_tasks, caplog):
    beat("dead", ago(minutes=5))
    row = running_task(worker_ids=["dead"], started=ago(minutes=6))
    with caplog.at_level(logging.WARNING, logger="campaigns.worker"):
        assert recovery.tasks_lost_requeue() == {"requeued": 1, "failed": 0}
        assert recovery.tasks_lost_requeue() == {"requeued": 0, "failed": 0}
    assert status_of(row) == TaskResultStatus.READY
    assert row.args_kwargs == {"args": [], "kwargs": {"reschedule": False}}
    assert [r.getMessage() for r in caplog.records if "queued again" in r.getMessage()] == [
        f"Task {row.id} (campaigns.tasks.winddown_daily) was running on worker dead, which stopped beating: "
        "queued again (attempt 2 of 3 next)."
    ]
    # It runs again on the next worker, which appends its id: the claims count the attempts.
    assert tasks_run_queued() == 1
    assert status_of(row) == TaskResultStatus.SUCCESSFUL
    assert row.worker_ids == ["dead", "in-test"]


def test_task_of_a_live_worker_is_left_running_however_long_it_takes(db_tasks):
    beat("busy", ago(seconds=5))
    row = running_task(worker_ids=["busy"], started=ago(hours=3))
    assert recovery.tasks_lost_requeue() == {"requeued": 0, "failed": 0}
    assert status_of(row) == TaskResultStatus.RUNNING


def test_task_claimed_by_a_worker_without_heartbeat_waits_for_the_untracked_timeout(db_tasks):
    """django-tasks-db's own worker (or one from before this upgrade) never beats: its task is judged by how
    long it has run. This is what frees the RUNNING rows a stock worker left behind."""
    recent = running_task(worker_ids=["stock-worker"], started=ago(minutes=30))
    stuck = running_task(worker_ids=["stock-worker"], started=ago(hours=2))
    assert recovery.tasks_lost_requeue() == {"requeued": 1, "failed": 0}
    assert status_of(recent) == TaskResultStatus.RUNNING
    assert status_of(stuck) == TaskResultStatus.READY


def test_two_sweepers_requeue_a_lost_task_once(db_tasks, caplog):
    beat("dead", ago(minutes=5))
    row = running_task(worker_ids=["dead"], started=ago(minutes=6))
    # Two hosts read the same lost task, then both try to queue it again.
    seen_by_a, seen_by_b = recovery.tasks_lost_find(), recovery.tasks_lost_find()
    with caplog.at_level(logging.WARNING, logger="campaigns.worker"):
        assert [recovery.task_lost_requeue(lost=lost) for lost in seen_by_a] == ["requeued"]
        assert [recovery.task_lost_requeue(lost=lost) for lost in seen_by_b] == [None]
    assert status_of(row) == TaskResultStatus.READY
    assert len([r for r in caplog.records if "queued again" in r.getMessage()]) == 1


def test_lost_task_reclaimed_meanwhile_is_left_to_its_new_worker(db_tasks):
    beat("dead", ago(minutes=5))
    row = running_task(worker_ids=["dead"], started=ago(minutes=6))
    [lost] = recovery.tasks_lost_find()
    recovery.task_lost_requeue(lost=lost)
    beat("alive", ago(seconds=1))
    DBTaskResult.objects.filter(pk=row.pk).update(
        status=TaskResultStatus.RUNNING, started_at=ago(seconds=1), worker_ids=["dead", "alive"]
    )
    assert recovery.task_lost_requeue(lost=lost) is None  # a stale view of the old claim changes nothing
    assert status_of(row) == TaskResultStatus.RUNNING


def test_task_that_keeps_killing_its_worker_fails_after_the_last_attempt(db_tasks, caplog):
    for worker_id in ("w1", "w2", "w3"):
        beat(worker_id, ago(minutes=5))
    row = running_task(worker_ids=["w1", "w2", "w3"], started=ago(minutes=6))
    with caplog.at_level(logging.ERROR, logger="campaigns.worker"):
        assert recovery.tasks_lost_requeue() == {"requeued": 0, "failed": 1}
        assert recovery.tasks_lost_requeue() == {"requeued": 0, "failed": 0}
    assert status_of(row) == TaskResultStatus.FAILED
    assert row.finished_at is not None
    [error] = row.task_result.errors
    assert error.exception_class is recovery.WorkerLost
    assert "died 3 times" in error.traceback
    assert [r.getMessage() for r in caplog.records] == [
        f"Task {row.id} (campaigns.tasks.winddown_daily) gave up: The worker running this task died 3 times "
        "(last: w3); it is not tried again."
    ]
    assert tasks_run_queued() == 0


def test_heartbeats_silent_past_the_untracked_timeout_are_forgotten(db_tasks):
    beat("long-gone", ago(hours=2))
    beat("recently-dead", ago(minutes=5))
    recovery.tasks_lost_requeue()
    assert set(WorkerHeartbeat.objects.values_list("pk", flat=True)) == {"recently-dead"}


@pytest.mark.postgres
def test_sweepers_on_many_hosts_at_once_requeue_a_lost_task_once(transactional_db, db_tasks):
    """Eight hosts sweep at the same moment."""
    beat("dead", ago(minutes=5))
    row = running_task(worker_ids=["dead"], started=ago(minutes=6))
    [lost] = recovery.tasks_lost_find()  # what every host's sweep found
    outcomes = at_once(8, lambda: recovery.task_lost_requeue(lost=lost))
    assert outcomes.count("requeued") == 1
    assert outcomes.count(None) == 7
    assert status_of(row) == TaskResultStatus.READY
