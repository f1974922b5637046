"""`python -m tests.bench generate [options]` and `python -m tests.bench run [options]`, without manage.py:
Django is set up here (DJANGO_SETTINGS_MODULE, default config.settings.local; DATABASE_URL picks the database),
then the command runs with Django's own argument parsing (`--help` works)."""

import os
import sys

import django

USAGE = "usage: python -m tests.bench {generate|run} [options]   (--help after the command for its options)"


def main(argv: list[str]) -> None:
    if len(argv) < 2 or argv[1] not in ("generate", "run"):
        sys.exit(USAGE)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    if argv[1] == "generate":
        # Not manage.py, so the settings take this for a web process with its 20 s statement limit; loading millions
        # of rows is a command's work (the worker's limits: config/settings/base.py).
        os.environ.setdefault("DATABASE_STATEMENT_TIMEOUT", os.environ.get("DATABASE_WORKER_STATEMENT_TIMEOUT", "0"))
        os.environ.setdefault("DATABASE_LOCK_TIMEOUT", os.environ.get("DATABASE_WORKER_LOCK_TIMEOUT", "60"))
    django.setup()
    # The commands import models, so only after setup.
    from tests.bench import generate, run  # noqa: PLC0415

    command = {"generate": generate.Command, "run": run.Command}[argv[1]]()
    command.run_from_argv(["python -m tests.bench", argv[1], *argv[2:]])


if __name__ == "__main__":
    main(sys.argv)
