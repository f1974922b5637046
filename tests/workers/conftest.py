"""Fixtures for the worker tests: the database task backend (tasks wait in the queue instead of running at once)
and a worker that runs what is queued, in this process, like `db_worker --batch`."""

import datetime as dt
from unittest import mock

import pytest
from django.tasks import TaskResultStatus
from django.utils import timezone
from django_tasks_db.management.commands.db_worker import Worker
from django_tasks_db.models import DBTaskResult

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
        _worker().run()
    return DBTaskResult.objects.exclude(status=TaskResultStatus.READY).count() - before


def _worker() -> Worker:
    return Worker(
        queue_names=["*"],
        excluded_queue_names=[],
        interval=0,
        batch=True,
        backend_name="default",
        startup_delay=False,
        max_tasks=None,
        worker_id="in-test",
    )


def queued(task) -> list[DBTaskResult]:
    """The READY rows of `task`."""
    return list(DBTaskResult.objects.filter(task_path=task.module_path, status=TaskResultStatus.READY))


def ago(**delta) -> dt.datetime:
    return timezone.now() - dt.timedelta(**delta)
