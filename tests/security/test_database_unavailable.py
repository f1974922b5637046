"""A locked or unreachable database: every connection carries its timeouts, and when one fires the user gets a
clear 503 page with Retry-After (not a 500, not a page that hangs), `/healthz` included."""

import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.db import OperationalError, connection
from django.test import Client
from django.urls import reverse

from config.settings.base import _process_kind
from config.unavailable import RETRY_AFTER_SECONDS
from config.views import server_error

ROOT = Path(__file__).resolve().parents[2]
BUSY_TEXT = "Closeout is busy for a moment"


def _raise_on_campaigns(exc_factory):
    def wrapper(execute, sql, params, many, context):
        if "campaigns_campaign" in sql:
            raise exc_factory()
        return execute(sql, params, many, context)

    return wrapper


def _assert_busy_page(response):
    assert response.status_code == 503
    assert response.headers["Retry-After"] == str(RETRY_AFTER_SECONDS)
    assert "no-store" in response.headers["Cache-Control"]
    assert BUSY_TEXT in response.content.decode()


def _locked_error():
    try:
        raise sqlite3.OperationalError("database is locked")
    except sqlite3.OperationalError as cause:
        error = OperationalError("database is locked")
        error.__cause__ = cause
        return error


@pytest.mark.django_db
def test_connection_has_the_configured_timeouts():
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SHOW lock_timeout")
            assert cursor.fetchone()[0] == f"{settings.DATABASE_LOCK_TIMEOUT:g}s"
            cursor.execute("SHOW statement_timeout")
            assert cursor.fetchone()[0] == f"{settings.DATABASE_STATEMENT_TIMEOUT:g}s"
        else:
            cursor.execute("PRAGMA busy_timeout")
            assert cursor.fetchone()[0] == settings.DATABASE_LOCK_TIMEOUT * 1000
    assert (settings.DATABASE_LOCK_TIMEOUT, settings.DATABASE_STATEMENT_TIMEOUT) == (5.0, 20.0)  # web defaults


def test_management_commands_get_the_longer_worker_timeouts():
    assert _process_kind(["manage.py", "db_worker"]) == "worker"
    assert _process_kind(["/srv/closeout/manage.py", "run_due_actions"]) == "worker"
    assert _process_kind(["manage.py", "runserver"]) == "web"
    assert _process_kind(["/venv/bin/gunicorn", "config.wsgi"]) == "web"
    assert _process_kind(["/venv/bin/pytest"]) == "web"
    probe = (
        "from django.conf import settings; print(settings.DATABASE_LOCK_TIMEOUT, settings.DATABASE_STATEMENT_TIMEOUT)"
    )
    env = {"PATH": "/usr/bin:/bin", "DJANGO_SETTINGS_MODULE": "config.settings.test", "DATABASE_URL": "sqlite://"}

    def worker_timeouts(**extra):
        result = subprocess.run(  # noqa: S603 -- our own interpreter and manage.py
            [sys.executable, "manage.py", "shell", "-v", "0", "-c", probe],
            cwd=ROOT,
            env={**env, **extra},
            capture_output=True,
            text=True,
        )
        return result.stdout.split(), result.stderr

    assert worker_timeouts() == (["60.0", "600.0"], "")
    assert worker_timeouts(DATABASE_WORKER_LOCK_TIMEOUT="7") == (["7.0", "600.0"], "")


@pytest.mark.django_db
def test_database_locked_in_a_view_is_a_503_page(login, manager, campaign):
    client = login(manager)
    with connection.execute_wrapper(_raise_on_campaigns(_locked_error)):
        response = client.get(reverse("campaigns:list"))
    _assert_busy_page(response)
    assert client.get(reverse("campaigns:list")).status_code == 200  # and fine again once it answers


@pytest.mark.django_db
def test_a_sqlite_bug_is_not_mistaken_for_a_busy_database(login, manager, campaign):
    def no_such_table():
        error = OperationalError("no such table: campaigns_campaign")
        error.__cause__ = sqlite3.OperationalError("no such table: campaigns_campaign")
        return error

    client = Client(raise_request_exception=False)
    client.force_login(manager)
    with connection.execute_wrapper(_raise_on_campaigns(no_such_table)):
        response = client.get(reverse("campaigns:list"))
    assert response.status_code == 500


@pytest.mark.django_db
def test_healthz_checks_the_database(client):
    response = client.get(reverse("healthz"))
    assert response.status_code == 200 and response.content == b"ok"

    def refuse(execute, sql, params, many, context):
        raise OperationalError("connection to server at 127.0.0.1 failed: Connection refused")

    with connection.execute_wrapper(refuse):
        _assert_busy_page(client.get(reverse("healthz")))


def test_database_error_outside_a_view_gets_the_503_page_too(rf):
    request = rf.get("/campaigns/")
    try:
        raise _locked_error()
    except OperationalError:
        response = server_error(request)  # as Django calls handler500: while handling the exception
    _assert_busy_page(response)
    try:
        raise ValueError("a bug")
    except ValueError:
        assert server_error(request).status_code == 500


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_postgres_table_locked_by_another_connection_answers_503_quickly(manager, campaign):
    """A second connection holds ACCESS EXCLUSIVE on the campaigns table (a migration, a stuck script): the list
    page answers 503 once lock_timeout fires, and /healthz still answers at once."""
    import psycopg

    db = connection.settings_dict
    locker = psycopg.connect(
        dbname=db["NAME"], user=db["USER"], password=db["PASSWORD"], host=db["HOST"], port=db["PORT"] or 5432
    )
    client = Client()
    client.force_login(manager)
    lock_timeout = 1.0
    try:
        locker.execute("LOCK TABLE campaigns_campaign IN ACCESS EXCLUSIVE MODE")
        with connection.cursor() as cursor:  # the configured 5 s, shortened so the test is quick
            cursor.execute(f"SET lock_timeout = '{lock_timeout:g}s'")
        started = time.monotonic()
        response = client.get(reverse("campaigns:list"))
        elapsed = time.monotonic() - started
        _assert_busy_page(response)
        assert lock_timeout <= elapsed < lock_timeout + 3
        started = time.monotonic()
        assert client.get(reverse("healthz")).status_code == 200
        assert time.monotonic() - started < 1
    finally:
        locker.rollback()
        locker.close()
        connection.close()  # the next test reconnects with the configured timeouts
    assert client.get(reverse("campaigns:list")).status_code == 200


@pytest.mark.django_db(transaction=True)
def test_sqlite_table_locked_by_another_connection_answers_503(manager, campaign):
    """SQLite: another connection holds the write lock mid-transaction; the page says busy instead of failing."""
    if connection.vendor != "sqlite":
        pytest.skip("SQLite's locking")
    name = connection.settings_dict["NAME"]
    if not str(name).startswith("file:"):
        pytest.skip("needs the shared-cache test database")
    locker = sqlite3.connect(name, uri=True, check_same_thread=False, isolation_level=None)
    client = Client()
    client.force_login(manager)
    try:
        locker.execute("BEGIN IMMEDIATE")
        locker.execute("UPDATE campaigns_campaign SET name = name")
        _assert_busy_page(client.get(reverse("campaigns:list")))
    finally:
        locker.execute("ROLLBACK")
        locker.close()
    assert client.get(reverse("campaigns:list")).status_code == 200
