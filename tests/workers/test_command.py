"""`manage.py db_worker` is Closeout's worker: a heartbeat before the first task, none left after a clean exit."""

import logging
from unittest import mock

from django.core.management import get_commands, load_command_class
from django.tasks.signals import task_started

from campaigns import tasks
from campaigns.management.commands.db_worker import Worker
from campaigns.models import WorkerHeartbeat
from campaigns.worker.heartbeat import Housekeeper

from .conftest import DB_TASKS, batch_worker_options


def test_db_worker_is_closeouts_worker_and_does_not_reload_unless_asked(settings):
    """campaigns is listed before django_tasks_db, so its command wins the name every doc and deploy uses."""
    assert get_commands()["db_worker"] == "campaigns"
    settings.TASKS = DB_TASKS  # the command only accepts a database backend
    parser = load_command_class("campaigns", "db_worker").create_parser("manage.py", "db_worker")
    assert parser.parse_args([]).reload is False
    assert parser.parse_args(["--reload"]).reload is True


def test_worker_beats_before_its_first_task_and_forgets_its_heartbeat_on_exit(db_tasks):
    seen = []

    def on_started(sender, task_result, **kwargs):
        seen.append(list(WorkerHeartbeat.objects.values_list("pk", flat=True)))

    tasks.winddown_daily.enqueue(reschedule=False)
    task_started.connect(on_started)
    try:
        with (
            mock.patch("campaigns.management.commands.db_worker.Housekeeper") as housekeeper,
            mock.patch("django_tasks_db.management.commands.db_worker.close_old_connections"),
        ):
            Worker(**batch_worker_options(worker_id="w1")).run()
    finally:
        task_started.disconnect(on_started)
    assert seen == [["w1"]]
    housekeeper.assert_called_once_with(worker_id="w1")
    housekeeper.return_value.start.assert_called_once_with()
    housekeeper.return_value.stop.assert_called_once_with()
    assert not WorkerHeartbeat.objects.exists()


def test_housekeeping_beats_then_runs_the_due_jobs_and_survives_errors(db_tasks, caplog):
    housekeeper = Housekeeper(worker_id="w1", interval=1)
    with (
        mock.patch("campaigns.worker.heartbeat.close_old_connections"),
        mock.patch("campaigns.worker.periodic.periodic_jobs_run_due") as run_due,
    ):
        housekeeper.tick()
        run_due.assert_called_once_with(worker_id="w1")
        assert WorkerHeartbeat.objects.get().pk == "w1"
        run_due.side_effect = RuntimeError("database restarting")
        with caplog.at_level(logging.ERROR, logger="campaigns.worker"):
            housekeeper.tick()
    assert "Worker w1: heartbeat or periodic jobs failed; trying again in 1s." in caplog.text


def test_worker_timings_that_would_run_a_live_task_twice_fail_the_checks(settings):
    from django.core.checks import registry

    from campaigns.worker.checks import worker_timings_check

    assert worker_timings_check in registry.registry.registered_checks
    assert worker_timings_check() == []
    settings.WORKER_HEARTBEAT_SECONDS, settings.WORKER_LOST_AFTER_SECONDS = 10, 15
    [error] = worker_timings_check()
    assert (error.id, error.level) == ("campaigns.E001", 40)
    assert error.msg.startswith("WORKER_LOST_AFTER_SECONDS (15) must be at least 3 × WORKER_HEARTBEAT_SECONDS (10)")
