"""Settings of the worker processes that tests/workers/test_processes.py starts: the test settings, the database
task backend, emails written to files the test counts, and the fault app (faults/) that can stall a task."""

from config.settings.test import *  # noqa: F403
from config.settings.test import INSTALLED_APPS, env

TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
INSTALLED_APPS = [*INSTALLED_APPS, "tests.workers.faults"]
MAILERS = {
    "default": {
        "BACKEND": "django.core.mail.backends.filebased.EmailBackend",
        "OPTIONS": {"file_path": env("CLOSEOUT_TEST_MAIL_DIR")},
    }
}
