"""Fixtures for the worker tests: the database task backend (tasks wait in the queue instead of running at once)
and a worker that runs what is queued, in this process, like `db_worker --batch`."""

import datetime as dt
import threading
from unittest import mock

import pytest
from django.db import connection
from django.tasks import TaskResultStatus
from django.utils import timezone
from django_tasks_db.management.commands.db_worker import Worker
from django_tasks_db.models import DBTaskResult

from campaigns import services
from campaigns.models import Action, EndReason, Source

DB_TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}


@pytest.fixture
def db_tasks(db, settings):
    """Queue tasks in the database, with the worker timings of the defaults."""
    settings.TASKS = DB_TASKS
    settings.WORKER_HEARTBEAT_SECONDS = 10
    settings.WORKER_LOST_AFTER_SECONDS = 60
    settings.WORKER_UNTRACKED_TIMEOUT_SECONDS = 3600
    settings.WORKER_TASK_MAX_ATTEMPTS = 3
    return settings


def tasks_run_queued() -> int:
    """Run every task that is ready (and those they queue), as one worker would. Returns how many ran."""
    before = DBTaskResult.objects.exclude(status=TaskResultStatus.READY).count()
    # The worker closes "old" connections between tasks, and in a test's transaction that is every connection.
    with mock.patch("django_tasks_db.management.commands.db_worker.close_old_connections"):
        Worker(**batch_worker_options(worker_id="in-test")).run()
    return DBTaskResult.objects.exclude(status=TaskResultStatus.READY).count() - before


def batch_worker_options(*, worker_id: str) -> dict:
    """What `db_worker --batch --no-startup-delay --queue-name '*'` passes to its Worker."""
    return {
        "queue_names": ["*"],
        "excluded_queue_names": [],
        "interval": 0,
        "batch": True,
        "backend_name": "default",
        "startup_delay": False,
        "max_tasks": None,
        "worker_id": worker_id,
    }


def at_once(count: int, function) -> list:
    """Call `function()` in `count` threads released together (each thread its own database connection, as hosts
    would have), and return what they returned."""
    barrier = threading.Barrier(count)
    results = []

    def run():
        try:
            barrier.wait(timeout=10)
            results.append(function())
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    assert len(results) == count
    return results


def campaigns_end(campaigns, actor) -> None:
    services.campaigns_transition(
        campaign_ids=[c.pk for c in campaigns],
        action=Action.END,
        actor=actor,
        source=Source.UI,
        reason_code=EndReason.OBJECTIVES_MET,
    )


def queued(task) -> list[DBTaskResult]:
    """The READY rows of `task`."""
    return list(DBTaskResult.objects.filter(task_path=task.module_path, status=TaskResultStatus.READY))


def ago(**delta) -> dt.datetime:
    return timezone.now() - dt.timedelta(**delta)
