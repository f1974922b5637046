"""Soak test: `make soak` (SOAK_SECONDS=300 by default, bounded to 10–3600).

Builds a throw-away SQLite database with the demo data (`manage.py seed_demo`), starts gunicorn with 2 workers on
127.0.0.1, and drives it with threads of logged-in viewers and editors for SOAK_SECONDS: the campaign list, a
filter, a detail page, a report, the reports index, the shared page when the route exists, and pause/resume POSTs
with CSRF. Prints errors (must be 0), requests/s, p50/p99 latency and the RSS of the gunicorn workers at the start
and the end (growth must stay below SOAK_RSS_BOUND_MB, default 50), and writes the "## Soak" section of
docs/benchmarks.md. Exit status 1 when a bound is broken.

Stdlib only (urllib, threads); nothing leaves 127.0.0.1.
"""

import http.cookiejar
import os
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
SECONDS = max(10, min(int(os.environ.get("SOAK_SECONDS", "300")), 3600))
THREADS = max(1, min(int(os.environ.get("SOAK_THREADS", "8")), 32))
RSS_BOUND_MB = float(os.environ.get("SOAK_RSS_BOUND_MB", "50"))
PASSWORD = "closeout-demo"  # noqa: S105 -- the demo data's published password
BENCHMARKS = ROOT / "docs" / "benchmarks.md"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def django_env(db_path: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_URL"))}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "config.settings.local",
            "DJANGO_DEBUG": "false",
            "DATABASE_URL": f"sqlite:///{db_path}",
            "TASKS_BACKEND": "django.tasks.backends.immediate.ImmediateBackend",  # no separate worker
            "EMAIL_URL": "dummymail://",
            "DJANGO_LOG_LEVEL": "WARNING",
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


def manage(env, *args, capture=False):
    return subprocess.run(  # noqa: S603 -- our own interpreter and manage.py
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True, capture_output=capture, text=True
    )


TARGETS_SCRIPT = """
import json, django
django.setup()
from django.urls import get_resolver
from campaigns.models import Campaign, Status
from reports.models import CloseReport
from django.contrib.auth import get_user_model
editor = get_user_model().objects.get(username="editor")
accounts = list(editor.memberships.values_list("account_id", flat=True))
names = [n for n in get_resolver().reverse_dict.keys() if isinstance(n, str)]
from reports.services import share_link_create
shares = [share_link_create(report=r, actor=None, label="Soak stakeholders")[1]
          for r in CloseReport.objects.order_by("pk")[:3]]
print(json.dumps({
    "campaigns": list(Campaign.objects.values_list("pk", flat=True)),
    "actionable": list(Campaign.objects.filter(account_id__in=accounts, status__in=[Status.ACTIVE, Status.PAUSED])
        .values_list("pk", flat=True)[:20]),
    "reports": list(CloseReport.objects.values_list("campaign_id", flat=True)),
    "share_routes": sorted(n for n in names if "share" in n),
    "shares": shares,
}))
"""


def worker_pids(master: int) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == master:
                pids.append(int(entry.name))
    return sorted(pids)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class Session:
    """One logged-in browser: a cookie jar, the CSRF token, no redirects followed (a 302 is an answer)."""

    class _NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    def __init__(self, base: str, username: str):
        self.base = base
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar), self._NoRedirect)
        self.request("GET", "/accounts/login/")
        status, _ = self.request("POST", "/accounts/login/", {"username": username, "password": PASSWORD})
        if status != 302:
            raise RuntimeError(f"login as {username} failed: HTTP {status}")

    def csrf(self) -> str:
        return next((c.value for c in self.jar if c.name == "csrftoken"), "")

    def request(self, method: str, path: str, data: dict | None = None) -> tuple[int, bytes]:
        body = None
        headers = {}
        if method == "POST":
            body = urllib.parse.urlencode({**(data or {}), "csrfmiddlewaretoken": self.csrf()}, doseq=True).encode()
            headers = {"Content-Type": "application/x-www-form-urlencoded", "X-CSRFToken": self.csrf()}
        req = urllib.request.Request(self.base + path, data=body, method=method, headers=headers)  # noqa: S310
        try:
            with self.opener.open(req, timeout=30) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()


class Load:
    def __init__(self, base: str, targets: dict, deadline: float):
        self.base, self.targets, self.deadline = base, targets, deadline
        self.lock = threading.Lock()
        self.latencies: dict[str, list[float]] = {}
        self.errors: list[str] = []

    def record(self, kind: str, seconds: float, status: int, path: str, ok=(200, 302)):
        with self.lock:
            self.latencies.setdefault(kind, []).append(seconds)
            if status not in ok:
                self.errors.append(f"{kind} {path}: HTTP {status}")

    def timed(self, session: Session, kind: str, method: str, path: str, data=None):
        start = time.perf_counter()
        try:
            status, _ = session.request(method, path, data)
        except Exception as error:  # noqa: BLE001 -- any failure to get an answer is an error of the run
            status = 0
            with self.lock:
                self.errors.append(f"{kind} {path}: {type(error).__name__}: {error}")
        self.record(kind, time.perf_counter() - start, status, path)

    def run(self, username: str, seed: int):
        rng = random.Random(seed)  # noqa: S311 -- traffic mix, not security
        session = Session(self.base, username)
        t = self.targets
        while time.monotonic() < self.deadline:
            roll = rng.random()
            if roll < 0.25:
                self.timed(session, "list", "GET", "/campaigns/")
            elif roll < 0.40:
                query = rng.choice(["?tab=active", "?tab=paused&sort=-name", "?q=glow", "?sort=-total_spend&page=2"])
                self.timed(session, "filter", "GET", "/campaigns/" + query)
            elif roll < 0.60:
                self.timed(session, "detail", "GET", f"/campaigns/{rng.choice(t['campaigns'])}/")
            elif roll < 0.72 and t["reports"]:
                self.timed(session, "report", "GET", f"/reports/{rng.choice(t['reports'])}/")
            elif roll < 0.78:
                self.timed(session, "reports index", "GET", "/reports/")
            elif roll < 0.86 and t.get("shares"):
                self.timed(session, "shared page", "GET", f"/s/{rng.choice(t['shares'])}/")
            elif username == "editor" and t["actionable"]:
                pk = rng.choice(t["actionable"])
                action = rng.choice(["pause", "resume"])
                data = {"ids": pk, "action": action, "confirmed": "1", "idempotency_key": uuid.uuid4().hex}
                self.timed(session, action, "POST", "/campaigns/actions/", data)
            else:
                self.timed(session, "notifications", "GET", "/campaigns/notifications/")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


def write_section(text: str):
    heading = "## Soak"
    if BENCHMARKS.exists():
        current = BENCHMARKS.read_text()
        if heading in current:
            before, _, rest = current.partition(heading)
            following = re.search(r"^## ", rest[1:], re.M)
            after = rest[following.start() + 1 :] if following else ""
            current = before.rstrip() + "\n\n" + text + ("\n" + after if after else "")
        else:
            current = current.rstrip() + "\n\n" + text
    else:
        current = (
            "# Benchmarks\n\n_Only the soak section so far; the performance benchmark (`make bench`) adds the "
            "rest._\n\n" + text
        )
    BENCHMARKS.write_text(current.rstrip() + "\n")


def main() -> int:
    workdir = Path(tempfile.mkdtemp(prefix="closeout-soak-"))
    db_path = workdir / "soak.sqlite3"
    env = django_env(db_path)
    env["DJANGO_MEDIA_ROOT"] = str(workdir / "media")
    print(f"soak: building demo database in {db_path} …", flush=True)
    manage(env, "migrate", "--noinput", "-v0")
    manage(env, "seed_demo")
    import json

    targets = json.loads(
        subprocess.run(  # noqa: S603
            [sys.executable, "-c", TARGETS_SCRIPT], cwd=ROOT, env=env, check=True, capture_output=True, text=True
        )
        .stdout.strip()
        .splitlines()[-1]
    )
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    gunicorn = subprocess.Popen(  # noqa: S603
        [
            str(BIN / "gunicorn"),
            "config.wsgi",
            "--workers",
            "2",
            "--bind",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
            "--timeout",
            "60",
        ],
        cwd=ROOT,
        env=env,
    )
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(base + "/healthz", timeout=2).read()  # noqa: S310
                break
            except OSError:
                time.sleep(0.2)
        else:
            raise RuntimeError("gunicorn did not start")
        # Warm up every worker before the first memory reading (imports, template caches, first queries).
        warm = Session(base, "viewer")
        for _ in range(40):
            for path in ("/campaigns/", f"/campaigns/{targets['campaigns'][0]}/", "/reports/"):
                warm.request("GET", path)
        pids = worker_pids(gunicorn.pid)
        rss_start = {pid: rss_mb(pid) for pid in pids}
        share_note = f"{len(targets.get('shares', []))} share links" if targets.get("shares") else "skipped"
        print(
            f"soak: gunicorn pid {gunicorn.pid}, workers {pids}, {THREADS} client threads, {SECONDS} s; "
            f"shared page: {share_note}",
            flush=True,
        )
        load = Load(base, targets, time.monotonic() + SECONDS)
        users = ["viewer" if n % 2 else "editor" for n in range(THREADS)]
        threads = [threading.Thread(target=load.run, args=(u, n)) for n, u in enumerate(users)]
        started = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.monotonic() - started
        rss_end = {pid: rss_mb(pid) for pid in worker_pids(gunicorn.pid)}
    finally:
        gunicorn.terminate()
        gunicorn.wait(timeout=30)
        shutil.rmtree(workdir, ignore_errors=True)

    all_latencies = [s for values in load.latencies.values() for s in values]
    total = len(all_latencies)
    growth = {pid: rss_end.get(pid, 0) - rss_start[pid] for pid in rss_start}
    restarted = set(rss_end) != set(rss_start)
    max_growth = max(growth.values(), default=0)
    ok = not load.errors and max_growth < RSS_BOUND_MB and not restarted
    rows = [
        f"| {kind} | {len(values)} | {statistics.median(values) * 1000:.0f} | {percentile(values, 0.99) * 1000:.0f} |"
        for kind, values in sorted(load.latencies.items())
    ]
    rss_rows = [
        f"| {pid} | {rss_start[pid]:.1f} | {rss_end.get(pid, 0):.1f} | {growth[pid]:+.1f} |"
        for pid in sorted(rss_start)
    ]
    text = "\n".join(
        [
            "## Soak",
            "",
            f"`make soak` (tests/soak/soak.py), last run {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}: "
            f"**{SECONDS} s** of mixed traffic from {THREADS} client threads (logged-in viewers and editors) against "
            "gunicorn with 2 sync workers on 127.0.0.1, SQLite (WAL) with the demo data (`seed_demo`), tasks run "
            "in-process. Traffic: campaign list, filtered list, detail, report, reports index, notifications, "
            "pause/resume POSTs with CSRF (editors). "
            + (
                f"Shared page: {len(targets['shares'])} share links of ended campaigns' reports."
                if targets.get("shares")
                else "Shared page: skipped (the share route is not on this branch)."
            ),
            "",
            f"- Result: **{'PASS' if ok else 'FAIL'}** · errors: **{len(load.errors)}** · requests: {total} · "
            f"**{total / elapsed:.1f} req/s** · p50 {statistics.median(all_latencies) * 1000:.0f} ms · "
            f"p99 {percentile(all_latencies, 0.99) * 1000:.0f} ms",
            f"- Worker memory (RSS) bound: growth < {RSS_BOUND_MB:.0f} MB per worker; max growth "
            f"{max_growth:+.1f} MB{' · a worker was restarted' if restarted else ''}",
            "",
            "| request | count | p50 ms | p99 ms |",
            "|---|---:|---:|---:|",
            *rows,
            "",
            "| worker pid | RSS start MB | RSS end MB | growth MB |",
            "|---|---:|---:|---:|",
            *rss_rows,
            "",
            "Run it: `make soak` (5 minutes) or `make soak SOAK_SECONDS=60`; `SOAK_THREADS` (default 8). The "
            "numbers depend on the machine; the bounds (0 errors, RSS growth) are what the run checks.",
        ]
    )
    print(text)
    for error in load.errors[:20]:
        print("error:", error)
    write_section(text)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
