"""A worker's heartbeat row, and the thread that keeps it fresh and runs the periodic jobs that are due."""

import logging
import os
import socket
import threading

from django.conf import settings
from django.db import close_old_connections, connections
from django.utils import timezone

from ..models import WorkerHeartbeat
from . import periodic

logger = logging.getLogger("campaigns.worker")


def worker_heartbeat_beat(*, worker_id: str, now=None) -> None:
    """Record that the worker `worker_id` (this process) is alive now: refresh its row, or write it."""
    now = now or timezone.now()
    if WorkerHeartbeat.objects.filter(pk=worker_id).update(beat_at=now):
        return
    WorkerHeartbeat.objects.update_or_create(
        worker_id=worker_id,
        defaults={"hostname": socket.gethostname()[:255], "pid": os.getpid(), "started_at": now, "beat_at": now},
    )


def worker_heartbeat_forget(*, worker_id: str) -> None:
    """A clean stop: the worker holds no task any more, so its row goes (nothing of it is left to recover)."""
    WorkerHeartbeat.objects.filter(pk=worker_id).delete()


class Housekeeper(threading.Thread):
    """Beats every WORKER_HEARTBEAT_SECONDS while the worker's main thread runs tasks (a task of any length keeps
    its worker alive), and after each beat runs the periodic jobs that are due (`periodic.periodic_jobs_run_due`):
    so a worker busy with a long task still sweeps, and a single worker (`make run`) needs no cron.

    A daemon thread with its own database connection. Errors (a database restart) are logged and retried at the
    next beat; they never stop the worker."""

    def __init__(self, *, worker_id: str, interval: float | None = None):
        super().__init__(name=f"heartbeat-{worker_id[:8]}", daemon=True)
        self.worker_id = worker_id
        self.interval = settings.WORKER_HEARTBEAT_SECONDS if interval is None else interval
        self._stopping = threading.Event()

    def run(self) -> None:
        try:
            while not self._stopping.is_set():
                self.tick()
                self._stopping.wait(self.interval)
        finally:
            connections.close_all()  # this thread's connections only

    def tick(self) -> None:
        close_old_connections()
        try:
            worker_heartbeat_beat(worker_id=self.worker_id)
            periodic.periodic_jobs_run_due(worker_id=self.worker_id)
        except Exception:
            logger.exception(
                "Worker %s: heartbeat or periodic jobs failed; trying again in %ss.", self.worker_id, self.interval
            )

    def stop(self, *, timeout: float = 5.0) -> None:
        self._stopping.set()
        self.join(timeout)
