"""Periodic jobs: run by the workers themselves, once per period across every host."""

import datetime as dt
import logging

import pytest
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from campaigns import tasks
from campaigns.listing import tasks as listing_tasks
from campaigns.models import PeriodicJob
from campaigns.worker import periodic

from .conftest import at_once, queued, tasks_run_queued


@pytest.fixture
def jobs(monkeypatch):
    """An empty registry for the test's own jobs (the real one is restored afterwards)."""
    monkeypatch.setattr(periodic, "_jobs", {})
    return periodic


def counting_job(name="test.count", seconds=60, **options):
    runs = []
    job = periodic.RegisteredJob(
        name=name, run=lambda: runs.append(1), next_run=periodic.every(lambda: seconds), **options
    )
    return job, runs


def test_a_due_job_runs_once_however_many_workers_look(db_tasks, jobs):
    job, runs = counting_job()
    jobs.periodic_job_register(job)
    now = timezone.now()
    assert jobs.periodic_jobs_run_due(worker_id="host-a", now=now) == ["test.count"]  # a new job is due at once
    assert jobs.periodic_jobs_run_due(worker_id="host-b", now=now) == []
    assert jobs.periodic_jobs_run_due(worker_id="host-a", now=now + dt.timedelta(seconds=59)) == []
    assert len(runs) == 1
    row = PeriodicJob.objects.get(name="test.count")
    assert (row.last_worker_id, row.next_run_at) == ("host-a", now + dt.timedelta(seconds=60))
    # The next period: whoever looks first runs it.
    assert jobs.periodic_jobs_run_due(worker_id="host-b", now=now + dt.timedelta(seconds=61)) == ["test.count"]
    assert jobs.periodic_jobs_run_due(worker_id="host-a", now=now + dt.timedelta(seconds=61)) == []
    assert len(runs) == 2


def test_a_task_job_is_not_queued_again_while_its_last_run_waits_or_runs(db_tasks, jobs):
    jobs.periodic_job_register(
        periodic.RegisteredJob(
            name="test.winddown",
            task=tasks.winddown_daily,
            kwargs={"reschedule": False},
            next_run=periodic.every(lambda: 1),
        )
    )
    now = timezone.now()
    assert jobs.periodic_jobs_run_due(worker_id="a", now=now) == ["test.winddown"]
    [row] = queued(tasks.winddown_daily)
    assert row.args_kwargs["kwargs"] == {"reschedule": False}
    assert jobs.periodic_jobs_run_due(worker_id="a", now=now + dt.timedelta(seconds=2)) == []  # still waiting
    DBTaskResult.objects.filter(pk=row.pk).update(status="RUNNING")
    assert jobs.periodic_jobs_run_due(worker_id="a", now=now + dt.timedelta(seconds=4)) == []  # still running
    DBTaskResult.objects.filter(pk=row.pk).update(status="READY")
    assert tasks_run_queued() == 1
    assert jobs.periodic_jobs_run_due(worker_id="a", now=now + dt.timedelta(seconds=6)) == ["test.winddown"]
    assert DBTaskResult.objects.filter(task_path=tasks.winddown_daily.module_path).count() == 2


def test_a_failing_job_is_logged_and_the_others_still_run(db_tasks, jobs, caplog):
    def broken():
        raise RuntimeError("boom")

    jobs.periodic_job_register(
        periodic.RegisteredJob(name="test.broken", run=broken, next_run=periodic.every(lambda: 60))
    )
    job, runs = counting_job()
    jobs.periodic_job_register(job)
    with caplog.at_level(logging.ERROR, logger="campaigns.worker"):
        assert jobs.periodic_jobs_run_due(worker_id="a") == ["test.count"]
    assert runs == [1]
    assert "Periodic job test.broken failed; it runs again next period." in caplog.text


def test_a_disabled_job_does_not_run(db_tasks, jobs):
    enabled = []
    job, runs = counting_job(enabled=lambda: bool(enabled))
    jobs.periodic_job_register(job)
    now = timezone.now()
    assert jobs.periodic_jobs_run_due(worker_id="a", now=now) == []
    enabled.append(True)
    assert jobs.periodic_jobs_run_due(worker_id="a", now=now + dt.timedelta(seconds=61)) == ["test.count"]
    assert runs == [1]


def test_campaigns_registers_the_periodic_jobs_that_used_to_need_cron(db_tasks, settings):
    registered = periodic.periodic_jobs()
    assert set(registered) == {
        "worker.recover",
        "worker.reconcile",
        "campaigns.winddown_daily",
        "campaigns.list_stats_compact",
        "campaigns.platform_sync",
        "campaigns.rules_evaluate",
        "campaigns.rights_expiry",
    }
    monday_noon = dt.datetime(2026, 3, 2, 12, 0, tzinfo=dt.UTC)
    assert registered["campaigns.winddown_daily"].next_run(monday_noon) == dt.datetime(2026, 3, 3, 7, 0, tzinfo=dt.UTC)
    assert registered["campaigns.winddown_daily"].task is tasks.winddown_daily
    compact = registered["campaigns.list_stats_compact"]
    assert compact.task is listing_tasks.list_stats_compact
    assert compact.next_run(monday_noon) == monday_noon + listing_tasks.LIST_STATS_COMPACT_EVERY
    assert registered["worker.recover"].next_run(monday_noon) == monday_noon + dt.timedelta(seconds=10)
    settings.RECONCILE_EVERY_SECONDS = 120
    assert registered["worker.reconcile"].next_run(monday_noon) == monday_noon + dt.timedelta(seconds=120)
    rules = registered["campaigns.rules_evaluate"]
    assert rules.task is tasks.rules_evaluate_task
    assert rules.next_run(monday_noon) == monday_noon + dt.timedelta(hours=1)
    sync = registered["campaigns.platform_sync"]
    assert sync.task is tasks.platform_sync_all_task
    assert not sync.enabled()  # off unless the operator asks
    settings.PLATFORM_SYNC_EVERY_MINUTES = 10
    assert sync.enabled()
    assert sync.next_run(monday_noon) == monday_noon + dt.timedelta(minutes=10)


def test_workers_queue_each_periodic_task_once_at_start(db_tasks):
    """Two workers start: wind-down daily and the list totals' fold are each queued once, with no chain."""
    now = timezone.now()
    first = periodic.periodic_jobs_run_due(worker_id="a", now=now)
    second = periodic.periodic_jobs_run_due(worker_id="b", now=now)
    assert set(first) == {
        "worker.recover",
        "worker.reconcile",
        "campaigns.winddown_daily",
        "campaigns.list_stats_compact",
        "campaigns.rules_evaluate",
        "campaigns.rights_expiry",
    }
    assert second == []
    for task in (tasks.winddown_daily, listing_tasks.list_stats_compact):
        [row] = queued(task)
        assert row.args_kwargs["kwargs"] == {"reschedule": False}


@pytest.mark.postgres
def test_hosts_claiming_a_due_job_at_once_run_it_once(transactional_db, db_tasks, jobs):
    job, runs = counting_job()
    jobs.periodic_job_register(job)
    PeriodicJob.objects.create(name=job.name, next_run_at=timezone.now())
    claimed = at_once(8, lambda: jobs.periodic_job_claim(job=job, worker_id="host", now=timezone.now()))
    assert claimed.count(True) == 1
