"""Closeout's task worker: django-tasks-db's `db_worker`, plus a heartbeat, lost-task recovery and the periodic
jobs (campaigns/worker/). It takes the name `db_worker` because campaigns is listed before django_tasks_db in
INSTALLED_APPS (the earlier app wins a command's name), so every documented `manage.py db_worker` runs it.

manage.py db_worker                       # one per host, or several; any number of hosts on one database
manage.py db_worker --batch               # run what is queued, then exit
manage.py db_worker --reload              # restart on code changes (development only; off by default)
"""

import logging
import os

from django.core.management.base import CommandError
from django.utils.autoreload import DJANGO_AUTORELOAD_ENV, run_with_reloader
from django_tasks_db.management.commands import db_worker

from campaigns.worker.heartbeat import Housekeeper, worker_heartbeat_beat, worker_heartbeat_forget

logger = logging.getLogger("campaigns.worker")


class Worker(db_worker.Worker):
    """django-tasks-db's worker loop, with a heartbeat written before the first claim and kept fresh (plus the
    periodic jobs) by a `Housekeeper` thread; a clean exit deletes the heartbeat."""

    def run(self) -> None:
        worker_heartbeat_beat(worker_id=self.worker_id)
        housekeeper = Housekeeper(worker_id=self.worker_id)
        housekeeper.start()
        try:
            super().run()
        finally:
            housekeeper.stop()
            try:
                worker_heartbeat_forget(worker_id=self.worker_id)
            except Exception:  # the database went away: the row goes stale, and nothing is held
                logger.exception("Worker %s could not remove its heartbeat.", self.worker_id)


class Command(db_worker.Command):
    help = "Run a database task worker with a heartbeat, lost-task recovery and Closeout's periodic jobs."

    def add_arguments(self, parser) -> None:
        super().add_arguments(parser)
        # Off unless asked: the reloader's child outlives a killed parent, and a reload drops the running task.
        parser.set_defaults(reload=False)

    def handle(self, *, verbosity, queue_name, exclude_queues, reload, batch, **options) -> None:
        self.configure_logging(verbosity)
        queue_names = queue_name.split(",")
        excluded = exclude_queues.split(",") if exclude_queues else []
        if excluded and "*" not in queue_names:
            raise CommandError("--exclude-queues can only be used with --queue-name=*")
        worker = Worker(
            queue_names=queue_names,
            excluded_queue_names=excluded,
            batch=batch,
            interval=options["interval"],
            backend_name=options["backend_name"],
            startup_delay=options["startup_delay"],
            max_tasks=options["max_tasks"],
            worker_id=options["worker_id"],
        )
        if reload and not batch:
            if os.environ.get(DJANGO_AUTORELOAD_ENV) == "true":  # only the reloader's child handles signals
                worker.configure_signals()
            run_with_reloader(worker.run)
        else:
            worker.configure_signals()
            worker.run()
