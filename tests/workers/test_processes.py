"""Real worker processes on PostgreSQL: SIGKILL one mid-task and the work still gets done, exactly once, with
nobody pressing a button; and the workers do the periodic work and the reconciling themselves, no cron.

Each test starts `manage.py db_worker` subprocesses (tests/workers/worker_settings.py) against the test database,
bounds every wait, and stops every process it started by its pid."""

import os
import pathlib
import signal
import subprocess
import sys
import time

import pytest
from django.conf import settings
from django.db import connection
from django.tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from campaigns import tasks
from campaigns.listing import tasks as listing_tasks
from campaigns.models import (
    WINDDOWN_STEP_COUNT,
    Action,
    Campaign,
    EmailState,
    Notification,
    NotificationKind,
    PeriodicJob,
    Role,
    ScheduledAction,
    ScheduledState,
    Status,
    WindDownStep,
    WindDownStepKind,
    WorkerHeartbeat,
)
from reports.models import CloseReport
from reports.tasks import close_reports_build
from tests.factories import CampaignFactory, MembershipFactory, UserFactory

from .conftest import DB_TASKS, ago, campaigns_end

pytestmark = pytest.mark.postgres

NOTIFY = "campaigns.services.notifications_for_status_changes"
REPORTS = "reports.services.reports_close"  # the build task's service: the final pull, then the freeze
WORKER_ENV = {
    "DJANGO_SETTINGS_MODULE": "tests.workers.worker_settings",
    "WORKER_HEARTBEAT_SECONDS": "0.5",
    "WORKER_LOST_AFTER_SECONDS": "3",
    "RECONCILE_EVERY_SECONDS": "600",
    "PYTHONUNBUFFERED": "1",
}


class Workers:
    """Starts `db_worker` processes and stops them, each by its pid."""

    def __init__(self, tmp_path: pathlib.Path):
        self.dir = tmp_path
        self.marks = tmp_path / "marks"
        self.mail = tmp_path / "mail"
        self.marks.mkdir()
        self.mail.mkdir()
        db = connection.settings_dict
        self.database_url = f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
        self.processes: dict[str, subprocess.Popen] = {}

    def start(self, worker_id: str, *, stall_after: tuple[str, ...] = ()) -> subprocess.Popen:
        env = {k: v for k, v in os.environ.items() if k != "TASKS_BACKEND"}
        env.update(
            WORKER_ENV,
            DATABASE_URL=self.database_url,
            CLOSEOUT_TEST_MAIL_DIR=str(self.mail),
            CLOSEOUT_TEST_MARK_DIR=str(self.marks),
            CLOSEOUT_TEST_STALL_AFTER=",".join(stall_after),
        )
        command = [sys.executable, "manage.py", "db_worker", "--worker-id", worker_id, "--interval", "0.2"]
        with open(self.dir / f"{worker_id}.log", "w") as log:
            process = subprocess.Popen(
                [*command, "--no-startup-delay"], cwd=settings.BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT
            )
        self.processes[worker_id] = process
        return process

    def kill(self, worker_id: str) -> None:
        process = self.processes[worker_id]
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=10)

    def stop(self, worker_id: str) -> int:
        """A clean stop (SIGTERM, as a deploy sends): the worker finishes its task and exits."""
        process = self.processes[worker_id]
        os.kill(process.pid, signal.SIGTERM)
        try:
            return process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.kill(worker_id)
            raise

    def stop_all(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                os.kill(process.pid, signal.SIGKILL)
                process.wait(timeout=10)

    def logs(self) -> str:
        return "\n".join(f"--- {path.name}\n{path.read_text()[-3000:]}" for path in sorted(self.dir.glob("*.log")))

    def wait_for(self, what: str, predicate, *, timeout: float):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(0.2)
        raise AssertionError(f"Not within {timeout} s: {what}\n{self.logs()}")

    def stalled(self) -> list[str]:
        return sorted(path.name for path in self.marks.iterdir())

    def emails_sent(self) -> int:
        return sum(
            line.startswith("Message-ID: ")
            for path in self.mail.iterdir()
            for line in path.read_text(errors="replace").splitlines()
        )


@pytest.fixture
def workers(transactional_db, settings, tmp_path):
    settings.TASKS = DB_TASKS
    started = Workers(tmp_path)
    try:
        yield started
    finally:
        started.stop_all()


def team(account):
    """The manager who acts, and two people told about every change by email (owner, and a viewer who asked)."""
    manager = UserFactory(username="mona-manager")
    owner = UserFactory(username="olga-owner")
    MembershipFactory(user=manager, account=account, role=Role.MANAGER)
    MembershipFactory(user=owner, account=account, role=Role.EDITOR)
    MembershipFactory(user=UserFactory(username="vic-viewer"), account=account, role=Role.VIEWER, notify_all=True)
    return manager, owner


def pending_tasks() -> int:
    return DBTaskResult.objects.filter(status__in=[TaskResultStatus.READY, TaskResultStatus.RUNNING]).count()


def test_a_worker_killed_mid_task_loses_nothing_and_repeats_nothing(workers, account):
    manager, owner = team(account)
    campaigns = CampaignFactory.create_batch(20, account=account, owner=owner)
    ids = sorted(c.pk for c in campaigns)

    # Worker A stalls after whichever task comes first has done its work: killed there.
    workers.start("worker-a", stall_after=(NOTIFY, REPORTS))
    workers.wait_for("worker A beats", lambda: WorkerHeartbeat.objects.filter(pk="worker-a").exists(), timeout=30)
    campaigns_end(campaigns, manager)
    [first] = workers.wait_for("worker A stalls in a task", workers.stalled, timeout=30)
    workers.kill("worker-a")
    lost_a = DBTaskResult.objects.get(status=TaskResultStatus.RUNNING, worker_ids=["worker-a"])
    time.sleep(1)
    assert DBTaskResult.objects.get(pk=lost_a.pk).status == TaskResultStatus.RUNNING  # nothing else frees it

    # Worker B stalls in the other one: killed there too.
    [second] = {NOTIFY, REPORTS} - {first}
    workers.start("worker-b", stall_after=(second,))
    workers.wait_for("worker B stalls in the other task", lambda: len(workers.stalled()) == 2, timeout=30)
    workers.kill("worker-b")

    # Worker C, and nobody else, finishes everything.
    started = time.monotonic()
    workers.start("worker-c")
    workers.wait_for(
        "every campaign has its report and nothing is left queued",
        lambda: CloseReport.objects.count() == 20 and pending_tasks() == 0 and workers.emails_sent() == 2,
        timeout=60,
    )
    recovered_in = time.monotonic() - started

    assert sorted(CloseReport.objects.values_list("campaign_id", flat=True)) == ids
    assert WindDownStep.objects.filter(campaign_id__in=ids).count() == 20 * WINDDOWN_STEP_COUNT
    assert WindDownStep.objects.filter(kind=WindDownStepKind.TEAM_NOTIFIED, done_at__isnull=False).count() == 20
    notifications = list(Notification.objects.filter(kind=NotificationKind.STATUS_CHANGED))
    assert sorted(n.recipient.username for n in notifications) == ["olga-owner", "vic-viewer"]
    for n in notifications:
        assert sorted(n.campaigns.values_list("pk", flat=True)) == ids
        assert (n.email_state, n.email_attempts) == (EmailState.SENT, 1)
    assert workers.emails_sent() == 2  # one each, none twice
    # Each lost task ran again once: A's on B (if B's sweep freed it before B took the other task) or on C.
    task_of = {NOTIFY: tasks.notify_status_changes, REPORTS: close_reports_build}
    lost_on_a = DBTaskResult.objects.get(task_path=task_of[first].module_path)
    lost_on_b = DBTaskResult.objects.get(task_path=task_of[second].module_path)
    assert lost_on_a.status == lost_on_b.status == TaskResultStatus.SUCCESSFUL
    assert lost_on_a.worker_ids in (["worker-a", "worker-b"], ["worker-a", "worker-c"])
    assert lost_on_b.worker_ids == ["worker-b", "worker-c"]
    assert not DBTaskResult.objects.filter(status=TaskResultStatus.FAILED).exists()
    assert recovered_in < 60

    assert workers.stop("worker-c") == 0
    assert not WorkerHeartbeat.objects.filter(pk="worker-c").exists()  # a clean stop holds nothing
    assert set(WorkerHeartbeat.objects.values_list("pk", flat=True)) == {"worker-a", "worker-b"}


def test_workers_run_the_periodic_jobs_and_reconcile_without_cron(workers, account, settings):
    manager, owner = team(account)
    ended, scheduled = CampaignFactory(account=account, owner=owner), CampaignFactory(account=account, owner=owner)
    # Work whose task was lost before any worker ran: ended with no task queued (a backend that keeps nothing)…
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.dummy.DummyBackend"}}
    campaigns_end([ended], manager)
    settings.TASKS = DB_TASKS
    Campaign.objects.filter(pk=ended.pk).update(ended_at=ago(minutes=10))
    # … a scheduled pause past due whose run was never queued, and an email still waiting after 15 minutes.
    action = ScheduledAction.objects.create(
        campaign=scheduled, action=Action.PAUSE, run_at=ago(minutes=10), created_by=manager
    )
    email = Notification.objects.create(
        recipient=owner, kind=NotificationKind.STATUS_CHANGED, title="Paused", email_state=EmailState.PENDING
    )
    Notification.objects.filter(pk=email.pk).update(created_at=ago(minutes=15))
    DBTaskResult.objects.all().delete()

    # Two hosts start at once.
    workers.start("host-1")
    workers.start("host-2")

    def healed():
        action.refresh_from_db()
        email.refresh_from_db()
        return (
            CloseReport.objects.filter(campaign=ended).exists()
            and action.state == ScheduledState.DONE
            and email.email_state == EmailState.SENT
            and pending_tasks() == 0
        )

    workers.wait_for("the reconciler's work is done", healed, timeout=45)
    scheduled.refresh_from_db()
    assert scheduled.status == Status.PAUSED
    told = Notification.objects.filter(kind=NotificationKind.SCHEDULE_EXECUTED, email_state=EmailState.SENT).count()
    assert told == 2  # the pause that ran tells the owner and the viewer
    # The end whose notify task was never queued is announced by the reconciler, once, to the same two.
    ended_told = Notification.objects.filter(
        kind=NotificationKind.STATUS_CHANGED, campaigns=ended, email_state=EmailState.SENT
    ).count()
    assert ended_told == 2
    assert workers.emails_sent() == 1 + told + ended_told
    # Every job ran once across both hosts; every finding was queued once.
    assert set(PeriodicJob.objects.values_list("name", flat=True)) == {
        "worker.recover",
        "worker.reconcile",
        "campaigns.winddown_daily",
        "campaigns.list_stats_compact",
        "campaigns.platform_sync",
        "campaigns.rules_evaluate",
        "campaigns.rights_expiry",
    }
    for task in (
        tasks.winddown_daily,
        listing_tasks.list_stats_compact,
        close_reports_build,
        tasks.run_scheduled_action,
    ):
        assert DBTaskResult.objects.filter(task_path=task.module_path).count() == 1, task.module_path
    sends = DBTaskResult.objects.filter(task_path=tasks.notification_emails_send.module_path)
    assert [row.args_kwargs["kwargs"]["notification_ids"] for row in sends].count([email.pk]) == 1
    assert set(WorkerHeartbeat.objects.values_list("pk", flat=True)) == {"host-1", "host-2"}
    assert (workers.stop("host-1"), workers.stop("host-2")) == (0, 0)
    assert not WorkerHeartbeat.objects.exists()
