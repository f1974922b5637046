"""Soak test of two hosts: `make soak` (SOAK_SECONDS=300 by default, bounded to 10–3600; SOAK_SECONDS=30 for a
short run).

Production settings (config.settings.production: DEBUG off, a random DJANGO_SECRET_KEY shared by every process,
collectstatic) on a fresh PostgreSQL database `closeout_soak` (created, migrated, seeded with `seed_demo` plus an
account of SOAK_BULK active campaigns, dropped at the end), Redis database 12 as the cache (flushed before and
after), the default task backend (django_tasks_db) with two `manage.py db_worker --no-reload` processes, mail to an
SMTP sink on 127.0.0.1, REPORT_PDF_PRERENDER off unless SOAK_PDF_PRERENDER=1. Two gunicorn instances with 2 sync
workers each, on two free ports, stand for two web hosts behind one TLS proxy: the client plays the proxy
(X-Forwarded-Proto, Host, X-Forwarded-For, which the servers trust) and sends every request of every visitor
alternately to the two servers.

SOAK_THREADS (default 8) logged-in viewers and editors browse (list, filters, detail, report, reports index,
notifications), editors pause and resume, strangers open share links. Half way through, the manager ends all
SOAK_BULK campaigns of one account through the bulk end form ("select all matching"), then the throttles are
tripped across both servers: wrong share-link passwords and wrong log-in passwords, alternating. After the
traffic the queue must drain within SOAK_DRAIN_SECONDS, and the database must hold one close report and 7
wind-down steps per ended campaign, one notification per recipient of the bulk end (exactly the recipients the
rules name), no task failed.

Prints every figure beside its target with PASS/FAIL, writes the Soak section of docs/benchmarks.md, exits 1 on a
FAIL. Everything started is stopped by its process group, also on Ctrl-C. Stdlib HTTP client (tests/smoke/live.py);
nothing leaves 127.0.0.1.
"""

import contextlib
import json
import os
import random
import re
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid
from pathlib import Path

if __package__ in (None, ""):  # run as a script (make soak): the repository root on the path for tests.smoke
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.smoke import live  # noqa: E402

ROOT = live.ROOT
SECONDS = max(10, min(int(os.environ.get("SOAK_SECONDS", "300")), 3600))
THREADS = max(2, min(int(os.environ.get("SOAK_THREADS", "8")), 32))
BULK = max(1, int(os.environ.get("SOAK_BULK", "1000")))
DATABASE_URL = os.environ.get("SOAK_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/closeout_soak")
REDIS_URL = os.environ.get("SOAK_REDIS_URL", "redis://127.0.0.1:6379/12")
DRAIN_SECONDS = float(os.environ.get("SOAK_DRAIN_SECONDS", "120"))
# Off by default: a report's PDF takes ~1.7 s of a worker here, so prerendering 1,000 would outlast any drain bound
# (it renders on the first download instead). SOAK_PDF_PRERENDER=1 measures it anyway.
PDF_PRERENDER = os.environ.get("SOAK_PDF_PRERENDER", "0").lower() in ("1", "true", "yes")
BENCHMARKS = ROOT / "docs" / "benchmarks.md"
PASSWORD = "closeout-demo"  # noqa: S105 -- the demo data's published password
HOST = "closeout.example"
ORIGIN = f"https://{HOST}"
SERVERS, WEB_WORKERS, TASK_WORKERS = 2, 2, 2

# Targets: what a run must meet (env overrides for another machine).
P50_MS = float(os.environ.get("SOAK_P50_MS", "500"))
P99_MS = float(os.environ.get("SOAK_P99_MS", "3000"))
MIN_RPS = float(os.environ.get("SOAK_MIN_RPS", "10"))
RSS_BOUND_MB = float(os.environ.get("SOAK_RSS_BOUND_MB", "50"))
BULK_END_MS = float(os.environ.get("SOAK_BULK_END_MS", "5000"))
UNLOCK_LIMIT, LOGIN_LIMIT = 5, 5  # reports.views.public.UNLOCK_RATE "5/15m"; AXES_FAILURE_LIMIT


class Group:
    """A background process in its own process group (gunicorn's workers, a worker's children go with it), its
    output in a log file; stopped by its group id: TERM, then KILL."""

    def __init__(self, name: str, argv: list[str], *, env: dict, log: Path):
        self.name, self.log = name, log
        self._log = log.open("w")
        self.popen = subprocess.Popen(  # noqa: S603 -- our own interpreter and gunicorn
            argv, cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.pid = self.popen.pid

    def children(self) -> list[int]:
        try:
            return sorted(int(p) for p in Path(f"/proc/{self.pid}/task/{self.pid}/children").read_text().split())
        except OSError:
            return []

    def stop(self, timeout: float = 20) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout=timeout)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, signal.SIGKILL)  # whatever of the group is left
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout=10)
        self._log.close()

    def tail(self, lines: int = 30) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


def rss_mb(pid: int) -> float:
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


def data(env: dict, *args: str, timeout: float = 600) -> dict:
    """tests/soak/data.py in its own process with the soak's settings; its JSON answer."""
    result = subprocess.run(  # noqa: S603 -- our own interpreter and module
        [sys.executable, "-m", "tests.soak.data", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if result.returncode:
        raise RuntimeError(f"tests.soak.data {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def database_create(url: str):
    """Create the soak's database afresh; returns the function that drops it."""
    import psycopg

    parts = urllib.parse.urlsplit(url)
    name = parts.path.lstrip("/")
    if "soak" not in name:
        raise SystemExit(f"refusing to recreate {name!r}: the soak's database name must contain 'soak'")
    admin = psycopg.connect(urllib.parse.urlunsplit(parts._replace(path="/postgres")), autocommit=True)
    admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.execute(f'CREATE DATABASE "{name}"')

    def drop():
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()

    return drop


def redis_flush(url: str) -> None:
    import redis

    redis.Redis.from_url(url, socket_connect_timeout=3).flushdb()


class Visitor(live.Browser):
    """One visitor behind the pretend proxy, with its own client address, sending each request to the next server
    in turn."""

    def __init__(self, bases: list[str], address: str):
        super().__init__(bases[0], headers={"X-Forwarded-Proto": "https", "Host": HOST, "X-Forwarded-For": address})
        self.origin = ORIGIN
        self.bases = bases
        self.turn = random.randrange(len(bases))  # noqa: S311 -- which server first

    def login(self, username: str, password: str, *, base: str = ""):
        response = super().login(username, password, base=base)
        self.form_token = ""  # a log-in rotates the CSRF secret: the login form's token is stale, the cookie is new
        return response

    def next_base(self) -> str:
        self.turn += 1
        return self.bases[self.turn % len(self.bases)]


class Load:
    """The traffic threads' shared record: latencies per kind of request, requests per server, errors."""

    def __init__(self, bases: list[str], targets: dict, deadline: float):
        self.bases, self.targets, self.deadline = bases, targets, deadline
        self.lock = threading.Lock()
        self.latencies: dict[str, list[float]] = {}
        self.per_server = dict.fromkeys(bases, 0)
        self.errors: list[str] = []
        self.stopped = threading.Event()
        self.last = 0.0  # when the last answer came: the traffic's end

    def timed(self, visitor: Visitor, kind: str, method: str, path: str, data=None, ok=(200, 302, 304)):
        base = visitor.next_base()
        started = time.perf_counter()
        try:
            status = visitor.request(method, path, data, base=base).status
            error = "" if status in ok else f"HTTP {status}"
        except Exception as exc:  # noqa: BLE001 -- any failure to get an answer is an error of the run
            status, error = 0, f"{type(exc).__name__}: {exc}"
        seconds = time.perf_counter() - started
        with self.lock:
            self.latencies.setdefault(kind, []).append(seconds)
            self.per_server[base] += 1
            self.last = max(self.last, time.monotonic())
            if error:
                self.errors.append(f"{kind} {method} {base}{path}: {error}")
        return status

    def run(self, username: str, n: int):
        rng = random.Random(n)  # noqa: S311 -- traffic mix, not security
        visitor = Visitor(self.bases, f"10.8.{n // 250}.{n % 250 + 1}")
        if visitor.login(username, PASSWORD, base=visitor.next_base()).status != 302:
            with self.lock:
                self.errors.append(f"login as {username} failed")
            return
        t = self.targets
        while time.monotonic() < self.deadline and not self.stopped.is_set():
            roll = rng.random()
            if roll < 0.25:
                self.timed(visitor, "list", "GET", "/campaigns/")
            elif roll < 0.40:
                query = rng.choice(["?tab=active", "?tab=paused&sort=-name", "?q=glow", "?sort=-total_spend&page=2"])
                self.timed(visitor, "filter", "GET", "/campaigns/" + query)
            elif roll < 0.60:
                self.timed(visitor, "detail", "GET", f"/campaigns/{rng.choice(t['campaigns'])}/")
            elif roll < 0.72:
                self.timed(visitor, "report", "GET", f"/reports/{rng.choice(t['reports'])}/")
            elif roll < 0.78:
                self.timed(visitor, "reports index", "GET", "/reports/")
            elif roll < 0.86:
                self.timed(visitor, "shared page", "GET", f"/s/{rng.choice(t['shares'])}/")
            elif username == "editor" and t["actionable"]:
                action = rng.choice(["pause", "resume"])
                form = {
                    "ids": rng.choice(t["actionable"]),
                    "action": action,
                    "confirmed": "1",
                    "idempotency_key": uuid.uuid4().hex,
                }
                self.timed(visitor, action, "POST", "/campaigns/actions/", form)
            else:
                self.timed(visitor, "notifications", "GET", "/campaigns/notifications/")


def bulk_end(bases: list[str], targets: dict) -> dict:
    """The manager ends every active campaign of the bulk account through the list's bulk end form: "select all
    N matching" (the server re-runs the filter), the confirmation, then the confirmed POST."""
    manager = Visitor(bases, "10.9.0.1")
    if manager.login("manager", PASSWORD, base=bases[0]).status != 302:
        return {"error": "manager login failed"}
    list_qs = f"account={targets['bulk_account']}&tab=active"
    manager.get(f"/campaigns/?{list_qs}", base=bases[1])
    form = {"action": "end", "all_matching": "on", "list_qs": list_qs}
    confirm = manager.post("/campaigns/actions/", form, base=bases[0])
    confirmed = {
        **form,
        "confirmed": "1",
        "idempotency_key": uuid.uuid4().hex,
        "reason_code": "strategy_change",
        "confirm_text": str(targets["bulk_count"]),
    }
    end = manager.post("/campaigns/actions/", confirmed, base=bases[1])
    return {
        "confirm_status": confirm.status,
        "confirm_ms": confirm.elapsed * 1000,
        "status": end.status,
        "ms": end.elapsed * 1000,
    }


def throttles(bases: list[str], targets: dict) -> dict:
    """Trip the share-link password limit and the log-in lockout with requests alternating between the servers;
    neither may let a request more through, and neither may lock out another client."""
    alternating = [bases[i % 2] for i in range(UNLOCK_LIMIT + 3)]
    secret = f"/s/{targets['password_share']}/"
    guesser = Visitor(bases, "198.51.100.7")
    guesser.get(secret, base=bases[0])
    share = [
        guesser.post(secret + "unlock/", {"password": f"guess-{i}"}, base=b).status for i, b in enumerate(alternating)
    ]
    share_right = [
        guesser.post(secret + "unlock/", {"password": targets["share_password"]}, base=b).status for b in bases
    ]
    colleague = Visitor(bases, "198.51.100.8")
    colleague.get(secret, base=bases[1])
    share_other = colleague.post(secret + "unlock/", {"password": targets["share_password"]}, base=bases[1]).status

    attacker = Visitor(bases, "192.0.2.10")
    login = [attacker.login("viewer", f"wrong-{i}", base=bases[i % 2]).status for i in range(LOGIN_LIMIT)]
    login_right = [attacker.login("viewer", PASSWORD, base=b).status for b in bases]
    login_other = Visitor(bases, "192.0.2.11").login("viewer", PASSWORD, base=bases[1]).status
    return {
        "share": share,
        "share_ok": share == [400] * UNLOCK_LIMIT + [429] * 3 and share_right == [429, 429] and share_other == 302,
        "share_right": share_right,
        "share_other": share_other,
        "login": login,
        "login_ok": login == [200] * (LOGIN_LIMIT - 1) + [429] and login_right == [429, 429] and login_other == 302,
        "login_right": login_right,
        "login_other": login_other,
    }


def section_write(text: str) -> None:
    """Replace the soak's part of docs/benchmarks.md (between its markers, which `make bench` keeps), or append it;
    the rest of the file stays as it is."""
    start, end = "<!-- bench:soak:start -->", "<!-- bench:soak:end -->"
    block = f"{start}\n{text.strip()}\n{end}"
    current = BENCHMARKS.read_text() if BENCHMARKS.exists() else "# Benchmarks\n"
    if start in current and end in current:
        current = re.sub(re.escape(start) + r".*?" + re.escape(end), lambda _: block, current, flags=re.S)
    else:
        current = current.rstrip() + "\n\n" + block
    BENCHMARKS.write_text(current.rstrip() + "\n")


def _stop_on_term(*_):
    raise KeyboardInterrupt  # a TERM (e.g. to make) runs the same clean-up as Ctrl-C


def main() -> int:  # noqa: C901, PLR0915 -- one run, step by step
    signal.signal(signal.SIGTERM, _stop_on_term)
    started_all = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="closeout-soak-"))
    mail = live.SmtpSink()
    env = live.clean_env(
        DJANGO_SETTINGS_MODULE="config.settings.production",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50),  # one key for every process: sessions and signatures travel
        DJANGO_ALLOWED_HOSTS=HOST,
        DJANGO_MEDIA_ROOT=str(workdir / "media"),
        DATABASE_URL=DATABASE_URL,
        CACHE_URL=REDIS_URL.replace("redis://", "rediscache://", 1),
        EMAIL_URL=f"smtp://soak@127.0.0.1:{mail.port}",
        CLOSEOUT_TRUSTED_PROXY_HEADER="X-Forwarded-For",
        DJANGO_LOG_LEVEL="WARNING",
        REPORT_PDF_PRERENDER=str(PDF_PRERENDER).lower(),
    )
    processes: list[Group] = []
    drop = None
    load = None
    result: dict = {"bulk": {}, "throttles": {}, "drain": {}, "check": {}}
    failures: list[str] = []
    rss_start: dict[int, float] = {}
    rss_end: dict[int, float] = {}
    elapsed = 0.0
    try:
        print(f"soak: {SECONDS} s, {THREADS} client threads, bulk end of {BULK}; database {DATABASE_URL}", flush=True)
        drop = database_create(DATABASE_URL)
        redis_flush(REDIS_URL)
        live.manage(env, "migrate", "--noinput", "-v0")
        live.manage(env, "collectstatic", "--noinput", "-v0")
        for n in range(TASK_WORKERS):
            argv = [sys.executable, "manage.py", "db_worker", "--no-reload", "--worker-id", f"soak-worker-{n + 1}"]
            processes.append(Group(f"db_worker {n + 1}", argv, env=env, log=workdir / f"worker-{n + 1}.log"))
        bases = []
        for n in range(SERVERS):
            port = live.free_port()
            argv = [str(live.BIN / "gunicorn"), "config.wsgi", "--workers", str(WEB_WORKERS)]
            argv += ["--bind", f"127.0.0.1:{port}", "--timeout", "60", "--log-level", "warning"]
            processes.append(Group(f"gunicorn {n + 1}", argv, env=env, log=workdir / f"gunicorn-{n + 1}.log"))
            bases.append(f"http://127.0.0.1:{port}")
        servers = [p for p in processes if p.name.startswith("gunicorn")]
        live.manage(env, "seed_demo", "-v0")
        targets = data(env, "prepare", str(BULK))
        for server, base in zip(servers, bases, strict=True):
            live.wait_until_serving(server, base + "/healthz", headers={"X-Forwarded-Proto": "https", "Host": HOST})
        # Warm every worker (imports, template caches, first queries) before the first memory reading.
        warm = Visitor(bases, "10.7.0.1")
        warm.login("viewer", PASSWORD)
        for _ in range(20):
            for path in ("/campaigns/", f"/campaigns/{targets['campaigns'][0]}/", "/reports/", "/campaigns/?q=glow"):
                for base in bases:
                    warm.get(path, base=base)
        web_pids = [pid for server in servers for pid in server.children()]
        rss_start = {pid: rss_mb(pid) for pid in web_pids}
        print(f"soak: servers {bases}, web workers {web_pids}; traffic for {SECONDS} s …", flush=True)

        load = Load(bases, targets, time.monotonic() + SECONDS)
        users = ["viewer" if n % 2 else "editor" for n in range(THREADS)]
        threads = [threading.Thread(target=load.run, args=(u, n), daemon=True) for n, u in enumerate(users)]
        started = time.monotonic()
        for thread in threads:
            thread.start()
        time.sleep(SECONDS / 2)
        print("soak: bulk end …", flush=True)
        result["bulk"] = bulk_end(bases, targets)
        result["throttles"] = throttles(bases, targets)
        print(f"soak: bulk end {result['bulk']}; throttles {result['throttles']}", flush=True)
        for thread in threads:
            thread.join()
        elapsed = load.last - started
        rss_end = {pid: rss_mb(pid) for server in servers for pid in server.children()}
        print(f"soak: traffic done; waiting up to {DRAIN_SECONDS:.0f} s for the task queue …", flush=True)
        result["drain"] = data(env, "idle", str(DRAIN_SECONDS))
        result["check"] = data(env, "check")
        for process in processes:
            if process.popen.poll() is not None:
                failures.append(f"{process.name} exited early ({process.popen.returncode}):\n{process.tail()}")
    except KeyboardInterrupt:
        failures.append("interrupted")
        if load:
            load.stopped.set()
    except Exception as error:  # noqa: BLE001 -- a failed step fails the soak, with its output
        failures.append(f"{type(error).__name__}: {error}")
    finally:
        for process in reversed(processes):
            process.stop()
        if failures:
            for process in processes:
                print(f"--- {process.name} log (tail) ---\n{process.tail(20)}", flush=True)
        if drop:
            drop()
        with contextlib.suppress(Exception):
            redis_flush(REDIS_URL)
        mail.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    if "interrupted" in failures or load is None or not elapsed:
        print("soak: did not finish:", *failures, sep="\n", flush=True)
        return 1
    result["mail"] = mail.messages
    rows, text = report(load, result, rss_start, rss_end, elapsed, time.monotonic() - started_all)
    print(text, flush=True)
    for error in load.errors[:20]:
        print("error:", error)
    for failure in failures:
        print("failure:", failure)
    section_write(text)
    return 0 if all(ok for *_, ok in rows) and not failures else 1


def report(load: Load, result: dict, rss_start, rss_end, elapsed: float, total: float) -> tuple[list, str]:
    """(figures, the Soak section): each figure with its measured value, its target and whether it met it."""
    latencies = [s for values in load.latencies.values() for s in values]
    count = len(latencies)
    p50, p99 = statistics.median(latencies) * 1000, percentile(latencies, 0.99) * 1000
    growth = {pid: rss_end.get(pid, 0.0) - rss_start[pid] for pid in rss_start}
    restarted = set(rss_end) != set(rss_start)
    max_growth = max(growth.values(), default=0.0)
    share = min(load.per_server.values()) / count if count else 0.0
    bulk, thr, drain, check = result["bulk"], result["throttles"], result["drain"], result["check"]
    workers = check.get("tasks_by_worker", {})
    told = check.get("notifications_per_recipient", [])
    rows = [
        ("errors (non-2xx/3xx or no answer)", f"{len(load.errors)}", "0", not load.errors),
        ("requests/s (both servers)", f"{count / elapsed:.1f}", f"≥ {MIN_RPS:.0f}", count / elapsed >= MIN_RPS),
        ("p50 latency", f"{p50:.0f} ms", f"≤ {P50_MS:.0f} ms", p50 <= P50_MS),
        ("p99 latency", f"{p99:.0f} ms", f"≤ {P99_MS:.0f} ms", p99 <= P99_MS),
        ("share of requests on the less-used server", f"{share:.0%}", "≥ 45 %", share >= 0.45),
        (
            "RSS growth per web worker (max)",
            f"{max_growth:+.1f} MB" + (" (a worker restarted)" if restarted else ""),
            f"< {RSS_BOUND_MB:.0f} MB, none restarted",
            max_growth < RSS_BOUND_MB and not restarted,
        ),
        (
            f"bulk end of {BULK:,} (confirmed POST)",
            f"{bulk.get('ms', 0):.0f} ms, HTTP {bulk.get('status')}",
            f"≤ {BULK_END_MS:.0f} ms, 302",
            bulk.get("status") == 302 and bulk.get("ms", 1e9) <= BULK_END_MS,
        ),
        (
            "campaigns the bulk end ended",
            f"{check.get('bulk_ended', 0):,}",
            f"{BULK:,}",
            check.get("bulk_ended") == BULK,
        ),
        (
            "task queue drained after the traffic",
            f"{drain.get('seconds', 0):.0f} s" + ("" if drain.get("drained") else " (not drained)"),
            f"≤ {DRAIN_SECONDS:.0f} s",
            bool(drain.get("drained")) and check.get("tasks_left") == 0,
        ),
        (
            f"ended campaigns ({check.get('ended', 0):,}) without exactly one close report",
            f"{check.get('without_report', '?')}",
            "0",
            check.get("without_report") == 0,
        ),
        (
            "ended campaigns without exactly 7 wind-down steps",
            f"{check.get('wrong_steps', '?')}",
            "0",
            check.get("wrong_steps") == 0,
        ),
        (
            "bulk end: (recipient, campaign) told missing / unexpected / twice",
            " / ".join(str(check.get(k, "?")) for k in ("pairs_missing", "pairs_unexpected", "pairs_twice"))
            + f" of {check.get('pairs_expected', 0):,}",
            "0 / 0 / 0",
            check.get("pairs_expected", 0) > 0
            and check.get("pairs_missing") == check.get("pairs_unexpected") == check.get("pairs_twice") == 0,
        ),
        (
            "bulk end: notifications per recipient",
            ", ".join(map(str, told)) or "none",
            f"1 each, {check.get('recipients_expected', 0)} recipients",
            bool(told) and set(told) == {1} and len(told) == check.get("recipients_expected"),
        ),
        (
            "notifications with the same dedupe key twice",
            f"{check.get('dedupe_duplicates', '?')}",
            "0",
            check.get("dedupe_duplicates") == 0,
        ),
        (
            "notification emails not sent",
            f"{check.get('emails_unsent', '?')} ({check.get('emails_sent', 0)} sent, "
            f"{result['mail']} at the SMTP sink)",
            "0",
            check.get("emails_unsent") == 0,
        ),
        (
            "tasks FAILED",
            f"{check.get('tasks_failed', '?')} of {check.get('tasks_done', 0):,} done",
            "0",
            check.get("tasks_failed") == 0,
        ),
        (
            "tasks run per db_worker",
            ", ".join(f"{n:,}" for n in workers.values()) or "none",
            f"each of {TASK_WORKERS} > 0",
            len(workers) == TASK_WORKERS and all(workers.values()),
        ),
        (
            "share-link wrong passwords, alternating servers",
            f"{' '.join(map(str, thr.get('share', [])))}; right one: {' '.join(map(str, thr.get('share_right', [])))};"
            f" other client: {thr.get('share_other')}",
            f"{UNLOCK_LIMIT}×400 then 429; 429 on both; 302",
            bool(thr.get("share_ok")),
        ),
        (
            "log-in failures, alternating servers",
            f"{' '.join(map(str, thr.get('login', [])))}; right one: {' '.join(map(str, thr.get('login_right', [])))};"
            f" other client: {thr.get('login_other')}",
            f"{LOGIN_LIMIT - 1}×200 then 429; 429 on both; 302",
            bool(thr.get("login_ok")),
        ),
    ]
    ok = all(row[3] for row in rows)
    kinds = [
        f"| {kind} | {len(values):,} | {statistics.median(values) * 1000:.0f} | {percentile(values, 0.99) * 1000:.0f} |"
        for kind, values in sorted(load.latencies.items())
    ]
    rss_rows = [
        f"| {pid} | {rss_start[pid]:.1f} | {rss_end.get(pid, 0):.1f} | {growth[pid]:+.1f} |"
        for pid in sorted(rss_start)
    ]
    text = "\n".join(
        [
            "## Soak: two web hosts, two task workers",
            "",
            "Written by `make soak` (tests/soak/soak.py), last run "
            f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
            f"**{SECONDS} s** of traffic ({total / 60:.0f} min in all with set-up and the drain), result "
            f"**{'PASS' if ok else 'FAIL'}**. Production settings on PostgreSQL (`closeout_soak`, `seed_demo` plus "
            f"{BULK:,} active campaigns in one account) and Redis (the cache, db 12); {SERVERS} gunicorn instances "
            f"with {WEB_WORKERS} sync workers each stand for two web hosts, {TASK_WORKERS} `db_worker` processes for "
            "the worker hosts, all on this one 2-core machine together with the client. "
            f"{THREADS} client threads (logged-in viewers and editors, each request to the other server than the "
            "last): list, filters, detail, report, reports index, notifications, share links, pause/resume POSTs. "
            f"Half way through, the manager ends the {BULK:,} campaigns through the bulk end form (select all "
            "matching), then the share-link password limit and the log-in lockout are tripped alternating between "
            "the servers. After the traffic the queue drains and the database is checked. "
            + (
                "Report PDFs are prerendered (SOAK_PDF_PRERENDER=1)."
                if PDF_PRERENDER
                else "Report PDFs are not prerendered (`REPORT_PDF_PRERENDER=false`: 1,000 would outlast the drain "
                "bound here; SOAK_PDF_PRERENDER=1 includes them)."
            ),
            "",
            "| figure | measured | target | |",
            "|---|---|---|---|",
            *[
                f"| {name} | {value} | {target} | {'PASS' if passed else '**FAIL**'} |"
                for name, value, target, passed in rows
            ],
            "",
            f"{count:,} requests in {elapsed:.0f} s; per server: "
            + ", ".join(f"{n:,}" for n in load.per_server.values())
            + f". The bulk end's confirmation page ({BULK:,} rows listed) took {bulk.get('confirm_ms', 0):.0f} ms.",
            "",
            "| request | count | p50 ms | p99 ms |",
            "|---|---:|---:|---:|",
            *kinds,
            "",
            "| web worker pid | RSS start MB | RSS end MB | growth MB |",
            "|---|---:|---:|---:|",
            *rss_rows,
            "",
            "Run it: `make soak` (5 minutes of traffic) or `make soak SOAK_SECONDS=30`; `SOAK_THREADS` (default 8), "
            "`SOAK_BULK` (1000). Needs PostgreSQL on 127.0.0.1:5432 and Redis on 127.0.0.1:6379. Latency and "
            "requests/s depend on the machine (here it is shared with other work); the other figures must hold "
            "anywhere.",
        ]
    )
    return rows, text


if __name__ == "__main__":
    sys.exit(main())
