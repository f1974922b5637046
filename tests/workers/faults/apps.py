import functools
import importlib
import os
import pathlib
import time

from django.apps import AppConfig

STALL_SECONDS = 120  # long enough for any test to kill the process; short enough that a leaked one ends itself


def _stalling(function, dotted: str, marks: pathlib.Path):
    @functools.wraps(function)
    def stalled(*args, **kwargs):
        result = function(*args, **kwargs)
        (marks / dotted).write_text(str(os.getpid()))  # tells the test: the work is done, kill me now
        time.sleep(STALL_SECONDS)
        return result

    return stalled


class FaultsConfig(AppConfig):
    name = "tests.workers.faults"
    label = "worker_faults"

    def ready(self) -> None:
        """CLOSEOUT_TEST_STALL_AFTER: comma-separated dotted names of module-level functions to stall after
        (e.g. reports.services.reports_close); CLOSEOUT_TEST_MARK_DIR: where to say so."""
        marks = pathlib.Path(os.environ.get("CLOSEOUT_TEST_MARK_DIR", "."))
        for dotted in filter(None, os.environ.get("CLOSEOUT_TEST_STALL_AFTER", "").split(",")):
            module_name, name = dotted.rsplit(".", 1)
            module = importlib.import_module(module_name)
            setattr(module, name, _stalling(getattr(module, name), dotted, marks))
