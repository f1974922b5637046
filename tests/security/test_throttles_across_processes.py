"""Every throttle holds across processes: two gunicorn servers (one worker each, so every other request is counted
by another process) share one Redis cache and one database, and the requests alternate between them.

- share-link password guesses: 5 per link and client address in 15 minutes (reports.views.public.UNLOCK_RATE);
- feedback: 5 per link and address in 10 minutes, 50 per link an hour (FEEDBACK_RATE_PER_IP / _PER_LINK);
- log-ins: 5 failures lock that username from that address (django-axes, AXES_FAILURE_LIMIT).

The servers trust X-Forwarded-For (CLOSEOUT_TRUSTED_PROXY_HEADER), as behind the documented proxy: the test plays
the proxy, each simulated client has its own address, and one client's lockout is not another's."""

import json
import os
import subprocess
import sys
import time
import uuid

import pytest
from django.conf import settings

from reports.views.public import FEEDBACK_RATE_PER_IP, FEEDBACK_RATE_PER_LINK, UNLOCK_RATE
from tests.smoke import live

REDIS_URL = os.environ.get("CLOSEOUT_TEST_REDIS_URL", "redis://127.0.0.1:6379/13")
DEMO_PASSWORD = "closeout-demo"  # noqa: S105 -- seed_demo's published password


def _redis():
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as error:
        if os.environ.get("CI") == "true":
            pytest.fail(f"Redis is needed at {REDIS_URL}: {error}")
        pytest.skip(f"needs Redis at {REDIS_URL} ({error})")
    return client


def _database_url(tmp_path):
    """The suite's vendor: a SQLite file, or a PostgreSQL database beside the suite's (<name>_live)."""
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        return f"sqlite:///{tmp_path / 'live.sqlite3'}", None
    import psycopg

    db = settings.DATABASES["default"]
    name = f"{db['NAME'].removeprefix('test_')}_live"
    admin = psycopg.connect(
        dbname="postgres", user=db["USER"], password=db["PASSWORD"], host=db["HOST"], port=db["PORT"] or 5432
    )
    admin.autocommit = True
    admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.execute(f'CREATE DATABASE "{name}"')
    return url.rsplit("/", 1)[0] + f"/{name}", (admin, name)


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    redis_client = _redis()
    tmp_path = tmp_path_factory.mktemp("live")
    prefix = f"closeout-throttle-{uuid.uuid4().hex[:12]}"
    database_url, postgres = _database_url(tmp_path)
    env = live.clean_env(
        DJANGO_SETTINGS_MODULE="tests.smoke.live_settings",
        DATABASE_URL=database_url,
        CACHE_URL=REDIS_URL,
        CACHE_KEY_PREFIX=prefix,
        CLOSEOUT_TRUSTED_PROXY_HEADER="X-Forwarded-For",
        RATELIMIT_FROZEN_TIME=str(time.time()),
        DJANGO_LOG_LEVEL="WARNING",
    )
    processes = []
    try:
        live.manage(env, "migrate", "--noinput", "-v0")
        live.manage(env, "seed_demo", "-v0")
        seeded = subprocess.run(  # noqa: S603 -- our own interpreter and module
            [sys.executable, "-m", "tests.smoke.seed"], cwd=live.ROOT, env=env, capture_output=True, text=True
        )
        assert seeded.returncode == 0, seeded.stderr
        links = json.loads(seeded.stdout.strip().splitlines()[-1])
        bases = []
        for n in range(2):
            port = live.free_port()
            server = live.gunicorn(
                env=env, port=port, workers=1, log=tmp_path / f"gunicorn-{n}.log", app="tests.smoke.live_wsgi"
            )
            processes.append(server)
            bases.append(f"http://127.0.0.1:{port}")
        for server, base in zip(processes, bases, strict=True):
            live.wait_until_serving(server, base + "/healthz")
        yield bases, links
    finally:
        for server in processes:
            server.stop()
        for key in redis_client.scan_iter(match=f"{prefix}:*"):
            redis_client.delete(key)
        if postgres:
            admin, name = postgres
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.close()


def _limit(rate: str) -> int:
    return int(rate.split("/")[0])


def _client(bases, address):
    return live.Browser(bases[0], headers={"X-Forwarded-For": address})


def _alternating(bases, count):
    return [bases[i % 2] for i in range(count)]


def test_share_password_guesses_are_limited_across_processes(servers):
    bases, links = servers
    secret = links["password"]
    guesser = _client(bases, "198.51.100.7")
    assert guesser.get(f"/s/{secret}/").status == 200  # the password form (and its CSRF cookie)
    limit = _limit(UNLOCK_RATE)
    statuses = [
        guesser.post(f"/s/{secret}/unlock/", {"password": f"guess-{i}"}, base=base).status
        for i, base in enumerate(_alternating(bases, limit + 3))
    ]
    assert statuses == [400] * limit + [429] * 3
    # Still refused with the right password, on either server: every attempt counts.
    for base in bases:
        assert guesser.post(f"/s/{secret}/unlock/", {"password": links["share_password"]}, base=base).status == 429

    # Another stakeholder (another address behind the same proxy) is not locked out by the guesser.
    colleague = _client(bases, "198.51.100.8")
    colleague.get(f"/s/{secret}/")
    assert colleague.post(f"/s/{secret}/unlock/", {"password": links["share_password"]}, base=bases[1]).status == 302
    assert colleague.get(f"/s/{secret}/", base=bases[0]).status == 200


# The required answers only; the rest of the form is optional.
FEEDBACK = {"role": "influencer", "rating": "4", "would_take_part_again": "yes", "website": ""}


def test_feedback_limits_per_address_and_per_link_hold_across_processes(servers):
    bases, links = servers
    per_ip, per_link = _limit(FEEDBACK_RATE_PER_IP), _limit(FEEDBACK_RATE_PER_LINK)

    secret = links["feedback"]
    one = _client(bases, "203.0.113.1")
    one.get(f"/s/{secret}/")
    statuses = [one.post(f"/s/{secret}/feedback/", FEEDBACK, base=b).status for b in _alternating(bases, per_ip + 2)]
    assert statuses == [302] * per_ip + [429] * 2

    # 60 answers to one link from 12 addresses, 5 each (within each address's limit): exactly 50 get through.
    secret = links["valid"]
    accepted = refused = 0
    for n in range(12):
        visitor = _client(bases, f"203.0.114.{n + 1}")
        visitor.get(f"/s/{secret}/")
        for base in _alternating(bases, per_ip):
            status = visitor.post(f"/s/{secret}/feedback/", FEEDBACK, base=base).status
            accepted += status == 302
            refused += status == 429
    assert (accepted, refused) == (per_link, 60 - per_link)


def test_login_lockout_holds_across_processes_and_stays_per_client(servers):
    bases, _ = servers
    attacker = _client(bases, "192.0.2.10")
    statuses = [
        attacker.login("manager", f"wrong-{i}", base=base).status for i, base in enumerate(_alternating(bases, 5))
    ]
    assert statuses == [200] * 4 + [429]  # the form again with its error, then locked
    for base in bases:
        assert attacker.login("manager", DEMO_PASSWORD, base=base).status == 429

    # The real manager, from another address behind the same proxy, still logs in (on either server).
    manager = _client(bases, "192.0.2.11")
    assert manager.login("manager", DEMO_PASSWORD, base=bases[1]).status == 302
    assert manager.get("/campaigns/", base=bases[0]).status == 200
