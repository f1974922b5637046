"""Production smoke: the README's Deploy section, run for real, then every page type crawled.

    python -m tests.smoke.prod_smoke [--database-url URL] [--redis-db N]

Only the required variables (DJANGO_SETTINGS_MODULE=config.settings.production, DJANGO_SECRET_KEY,
DJANGO_ALLOWED_HOSTS, DATABASE_URL, EMAIL_URL, CACHE_URL); `check --deploy`, `migrate`, `collectstatic`,
gunicorn with 2 workers on 127.0.0.1 and one `db_worker`, the cron
commands once. Then demo data (`seed_demo`, and share links made through the services: valid, password, revoked)
and a crawl of every page type reachable by link, as manager, editor, viewer, staff (Django admin: every
registered model's changelist and a change page) and a stranger on the share links, sent as the TLS proxy would
(`X-Forwarded-Proto: https`, `Host: closeout.example`).

Fails on any 5xx, any static file a page references (`<link href>`, `<script src>`, `<img src>` under /static/)
that does not answer 200, and any page that answers a plain-http request without the redirect to https. Prints a
summary; stops everything it started by pid. DATABASE_URL: a SQLite file in a temporary folder by default; a
PostgreSQL URL names a database this script creates afresh and drops after (its name must contain "smoke").
Redis: db --redis-db (default 9) on 127.0.0.1:6379, flushed before and after (it is the smoke's own).
"""

import argparse
import collections
import json
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

from tests.smoke import live

HOST = "closeout.example"
ORIGIN = f"https://{HOST}"
BEHIND_PROXY = {"X-Forwarded-Proto": "https", "Host": HOST}
PLAIN_HTTP = {"Host": HOST}
STATIC_URL = "/static/"
DEMO_PASSWORD = "closeout-demo"  # noqa: S105 -- seed_demo's published password
ROLES = ("manager", "editor", "viewer")
STAFF = "admin"
# Pages crawled per page type: a URL's path with ids and secrets replaced, and its set of query keys (a filter, a
# sort, a page). Two of each path, one of each query variant. The admin's filter and sort links are Django's own:
# there a path is one page type whatever its query.
PATH_LIMIT, QUERY_LIMIT = 2, 1  # downloads: one
PAGE_LIMIT = 300  # per visitor, a backstop

LINK = re.compile(r"""<a\b[^>]*?\bhref="([^"#][^"]*)\"""", re.I)
HX_GET = re.compile(r"""\bhx-get="([^"]+)\"""", re.I)
ASSET = re.compile(r"""<(?:link|script|img)\b[^>]*?\b(?:href|src)="([^"]+)\"""", re.I)
ID = re.compile(r"/\d+(?=/|$|\.)")
TOKEN = re.compile(r"/[A-Za-z0-9_-]{20,}(?=/|$)")
DOWNLOAD = re.compile(r"\.(csv|pdf|xlsx)$")  # one of each: a PDF is rendered once per report, then stored
# Not pages: logging out is a POST; static files are checked on their own (check_assets).
SKIP = re.compile(r"^/(accounts/logout|static/|media/)")


def shape(path: str, *, queries: bool = True) -> tuple[str, tuple[str, ...]]:
    """A URL's page type: ids and secrets replaced, the set of query keys (unless `queries` is off)."""
    parts = urllib.parse.urlsplit(path)
    keys = tuple(sorted(urllib.parse.parse_qs(parts.query))) if queries else ()
    return TOKEN.sub("/<token>", ID.sub("/<id>", parts.path)), keys


class Crawl:
    """One visitor following every same-site link (and htmx `hx-get`) from its start pages, a few pages per page
    type. Records each answer, fails on a 5xx, and collects the static files the pages reference."""

    def __init__(
        self, name: str, browser: live.Browser, base: str, *, starts: list[str], within: str = "/", queries=True
    ):
        self.name, self.browser, self.base, self.within, self.queries = name, browser, base, within, queries
        self.queue = collections.deque((path, False) for path in starts)
        self.seen: set[str] = set(starts)
        self.per_shape: collections.Counter = collections.Counter()
        self.statuses: collections.Counter = collections.Counter()
        self.pages: list[tuple[str, int, float]] = []
        self.assets: set[str] = set()
        self.failures: list[str] = []
        self.notes: list[str] = []

    def _local(self, href: str) -> str | None:
        href = href.replace("&amp;", "&")
        parts = urllib.parse.urlsplit(href)
        if parts.scheme and (parts.scheme != "https" or parts.netloc != HOST):
            return None  # another site, mailto:, javascript:
        path = parts.path or "/"
        if not path.startswith("/"):
            return None
        return path + (f"?{parts.query}" if parts.query else "")

    def _enqueue(self, href: str, htmx: bool = False) -> None:
        path = self._local(href)
        if path is None or SKIP.search(path.split("?")[0]) or not path.startswith(self.within):
            return
        kind = shape(path, queries=self.queries)
        limit = QUERY_LIMIT if kind[1] or "?" in path or DOWNLOAD.search(kind[0]) else PATH_LIMIT
        if path in self.seen or self.per_shape[kind] >= limit:
            return
        self.seen.add(path)
        self.per_shape[kind] += 1
        self.queue.append((path, htmx))

    def visit(self, path: str, htmx: bool = False) -> live.Response:
        response = self.browser.get(path, headers={"HX-Request": "true"} if htmx else None)
        self.statuses[response.status] += 1
        self.pages.append((path, response.status, response.elapsed))
        if response.status >= 500:
            self.failures.append(f"{self.name}: GET {path} → {response.status}")
        elif response.status >= 400:
            self.notes.append(f"{self.name}: GET {path} → {response.status}")
        if response.status in (301, 302, 303) and (location := response.headers.get("location")):
            self._enqueue(urllib.parse.urljoin(ORIGIN + path, location))
        for href in LINK.findall(response.html):
            self._enqueue(urllib.parse.urljoin(ORIGIN + path, href))
        for href in HX_GET.findall(response.html):
            self._enqueue(urllib.parse.urljoin(ORIGIN + path, href), htmx=True)
        for ref in ASSET.findall(response.html):
            asset = self._local(urllib.parse.urljoin(ORIGIN + path, ref))
            if asset and asset.startswith(STATIC_URL):
                self.assets.add(asset)
        return response

    def run(self) -> "Crawl":
        while self.queue and len(self.pages) < PAGE_LIMIT:
            path, htmx = self.queue.popleft()
            self.seen.add(path)
            self.visit(path, htmx)
        return self


def check_plain_http(base: str, paths: set[str]) -> tuple[int, list[str]]:
    """Every page asked for without X-Forwarded-Proto must be a redirect to the same URL on https."""
    browser = live.Browser(base, headers=PLAIN_HTTP)
    failures = []
    for path in sorted(paths):
        response = browser.get(path)
        if response.status not in (301, 308) or response.headers.get("location") != ORIGIN + path:
            failures.append(f"plain http GET {path} → {response.status} {response.headers.get('location', '')}")
    return len(paths), failures


def check_assets(base: str, assets: set[str]) -> list[str]:
    browser = live.Browser(base, headers=BEHIND_PROXY)
    failures = []
    for asset in sorted(assets):
        response = browser.get(asset)
        if response.status != 200 or not response.body:
            failures.append(f"static GET {asset} → {response.status}")
    return failures


def logged_in(base: str, username: str, failures: list[str]) -> live.Browser:
    browser = live.Browser(base, headers=BEHIND_PROXY, origin=ORIGIN)
    response = browser.login(username, DEMO_PASSWORD)
    if response.status != 302:
        failures.append(f"{username}: login through the form → {response.status}")
    return browser


def admin_models(browser: live.Browser) -> list[str]:
    """The changelist URL of every model registered in the admin, from its index page."""
    index = browser.get("/admin/").html
    return sorted(set(re.findall(r'href="(/admin/[a-z_]+/[a-z_]+/)"', index)))


def check_admin_coverage(crawl: Crawl, changelists: list[str]) -> list[str]:
    """Every changelist was crawled, and a change page of every model that has rows."""
    failures = []
    crawled = {path.split("?")[0] for path, status, _ in crawl.pages if status == 200}
    for changelist in changelists:
        if changelist not in crawled:
            failures.append(f"admin: changelist {changelist} not crawled")
            continue
        if not any(re.fullmatch(re.escape(changelist) + r"[^/]+/change/", path) for path in crawled):
            crawl.notes.append(f"admin: {changelist} has no row to open")
    if not changelists:
        failures.append("admin: the index lists no model")
    return failures


def stranger_on_share_links(base: str, links: dict) -> tuple[Crawl, list[str]]:
    """A stakeholder without an account: the valid link (page, downloads, feedback, conditional GET), the
    password link (form, wrong and right password), the revoked link and an unknown one (the same 404)."""
    browser = live.Browser(base, headers=BEHIND_PROXY, origin=ORIGIN)
    valid, protected, revoked = (f"/s/{links[k]}/" for k in ("valid", "password", "revoked"))
    crawl = Crawl("stranger", browser, base, starts=[valid], within=valid)
    crawl.run()
    failures = []

    def expect(what: str, response: live.Response, status: int):
        if response.status != status:
            failures.append(f"stranger: {what} → {response.status}, expected {status}")

    page = browser.get(valid)
    expect("valid link again, If-None-Match", browser.get(valid, headers={"If-None-Match": page.headers["etag"]}), 304)
    feedback = {"role": "stakeholder", "rating": "5", "would_take_part_again": "yes", "comment": "Smoke", "website": ""}
    expect("feedback on the valid link", browser.post(valid + "feedback/", feedback), 302)
    expect("password link", crawl.visit(protected), 200)
    expect("wrong password", browser.post(protected + "unlock/", {"password": "not-it"}), 400)
    expect("right password", browser.post(protected + "unlock/", {"password": links["share_password"]}), 302)
    expect("password link, unlocked", crawl.visit(protected), 200)
    expect("PDF of the password link", crawl.visit(protected + "report.pdf"), 200)
    expect("revoked link", crawl.visit(revoked), 404)
    expect("revoked link's PDF", crawl.visit(revoked + "report.pdf"), 404)
    expect("unknown link", crawl.visit("/s/" + secrets.token_urlsafe(32) + "/"), 404)
    crawl.notes = [n for n in crawl.notes if "→ 404" not in n]  # the dead links above are meant to be 404
    return crawl, failures


def prepare_database(url: str | None, workdir: Path) -> tuple[str, object]:
    """(DATABASE_URL, a cleanup callable). PostgreSQL: the named database, created afresh."""
    if not url:
        return f"sqlite:///{workdir / 'smoke.sqlite3'}", lambda: None
    if not url.startswith(("postgres://", "postgresql://")):
        return url, lambda: None
    import psycopg

    parts = urllib.parse.urlsplit(url)
    name = parts.path.lstrip("/")
    if "smoke" not in name:
        raise SystemExit(f"refusing to recreate {name!r}: the smoke's database name must contain 'smoke'")
    admin = psycopg.connect(urllib.parse.urlunsplit(parts._replace(path="/postgres")), autocommit=True)

    def drop():
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    drop()
    admin.execute(f'CREATE DATABASE "{name}"')
    return url, lambda: (drop(), admin.close())


def flush_redis(url: str) -> None:
    import redis

    redis.Redis.from_url(url).flushdb()


def seed(env: dict, *args: str) -> dict:
    """tests/smoke/seed.py in its own process (the production settings of `env`); its JSON answer."""
    result = subprocess.run(  # noqa: S603 -- our own interpreter and module
        [sys.executable, "-m", "tests.smoke.seed", *args], cwd=live.ROOT, env=env, capture_output=True, text=True
    )
    if result.returncode:
        raise RuntimeError(f"tests.smoke.seed {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])


class Steps:
    def __init__(self):
        self.timings: list[tuple[str, float]] = []

    def run(self, name: str, func, *args, **kwargs):
        print(f"smoke: {name} …", flush=True)
        started = time.monotonic()
        result = func(*args, **kwargs)
        self.timings.append((name, time.monotonic() - started))
        return result


def summary(crawls: list[Crawl], checks: dict, failures: list[str], steps: Steps, vendor: str, total: float) -> str:
    lines = [f"==== production smoke on {vendor}: {'PASS' if not failures else 'FAIL'} in {total:.0f} s ===="]
    lines.append("steps: " + ", ".join(f"{name} {seconds:.1f} s" for name, seconds in steps.timings))
    lines.append(f"{'visitor':<9} {'pages':>5} {'types':>5}  statuses{'':<24} slowest")
    for crawl in crawls:
        statuses = " ".join(f"{status}×{n}" for status, n in sorted(crawl.statuses.items()))
        path, _, seconds = max(crawl.pages, key=lambda page: page[2], default=("-", 0, 0.0))
        types = len({shape(p) for p, _, _ in crawl.pages})
        lines.append(f"{crawl.name:<9} {len(crawl.pages):>5} {types:>5}  {statuses:<32} {seconds:.2f} s {path}")
    if "plain" not in checks:
        lines.append("crawl: not reached")
    else:
        answered = "all answered 200" if not checks["asset_failures"] else "NOT all answered 200"
        lines.append(f"static files referenced: {checks['assets']}, {answered}")
        redirected = "all redirected to https" if not checks["plain_failures"] else "NOT all redirected"
        lines.append(f"plain http: {checks['plain']} pages asked without X-Forwarded-Proto, {redirected}")
        covered = "every changelist crawled" if not checks["admin_failures"] else "NOT every changelist crawled"
        lines.append(f"admin: {checks['admin_models']} registered models, {covered}")
    lines.append(
        f"task worker: {checks.get('tasks_done', '?')} tasks done, {checks.get('tasks_failed', '?')} failed; "
        f"mail: {checks['mail']} messages sent over SMTP"
    )
    notes = [note for crawl in crawls for note in crawl.notes]
    if notes:
        lines.append(f"notes ({len(notes)}, not failures):")
        lines.extend(f"  {note}" for note in notes[:30])
    if failures:
        lines.append(f"FAILURES ({len(failures)}):")
        lines.extend(f"  {failure}" for failure in failures[:100])
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default="", help="default: a SQLite file in a temporary folder")
    parser.add_argument("--redis-db", type=int, default=9)
    options = parser.parse_args()

    started = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="closeout-smoke-"))
    database_url, drop_database = prepare_database(options.database_url, workdir)
    vendor = "PostgreSQL" if database_url.startswith("postgres") else "SQLite"
    cache_url = f"redis://127.0.0.1:6379/{options.redis_db}"
    mail = live.SmtpSink()
    env = live.clean_env(
        DJANGO_SETTINGS_MODULE="config.settings.production",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
        DJANGO_ALLOWED_HOSTS=HOST,
        DATABASE_URL=database_url,
        EMAIL_URL=f"smtp://smoke@127.0.0.1:{mail.port}",
        CACHE_URL=cache_url,
    )
    steps = Steps()
    processes: list[live.Process] = []
    failures: list[str] = []
    crawls: list[Crawl] = []
    checks: dict = {}
    try:
        flush_redis(cache_url)
        steps.run("check --deploy", live.manage, env, "check", "--deploy", "--fail-level", "WARNING")
        steps.run("migrate", live.manage, env, "migrate", "--noinput")
        steps.run("collectstatic", live.manage, env, "collectstatic", "--noinput")
        port = live.free_port()
        base = f"http://127.0.0.1:{port}"
        processes.append(live.Process([sys.executable, "manage.py", "db_worker"], env=env, log=workdir / "worker.log"))
        web = live.gunicorn(env=env, port=port, workers=2, log=workdir / "gunicorn.log")
        processes.append(web)
        steps.run("gunicorn up", live.wait_until_serving, web, base + "/healthz", headers=BEHIND_PROXY)
        steps.run("seed_demo", live.manage, env, "seed_demo")
        links = steps.run("share links", seed, env)
        # Let the worker render the reports' PDFs first: downloads then come from the store, as they do in use,
        # instead of three visitors rendering the same PDF at once while the worker renders it too.
        steps.run("worker idle", seed, env, "idle")
        steps.run("run_due_actions", live.manage, env, "run_due_actions")
        steps.run("sync_platform", live.manage, env, "sync_platform")

        def crawl_as(username: str) -> Crawl:
            browser = logged_in(base, username, failures)
            if username == STAFF:
                checks["changelists"] = admin_models(browser)
                starts = ["/admin/", *checks["changelists"]]
                return Crawl("staff", browser, base, starts=starts, within="/admin/", queries=False)
            return Crawl(username, browser, base, starts=["/campaigns/", "/reports/"])

        def crawl_all():
            visitors = [crawl_as(username) for username in (*ROLES, STAFF)]
            threads = [threading.Thread(target=visitor.run) for visitor in visitors]
            stranger: list = []
            threads.append(threading.Thread(target=lambda: stranger.append(stranger_on_share_links(base, links))))
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            share_crawl, share_failures = stranger[0]
            failures.extend(share_failures)
            return [*visitors, share_crawl]

        crawls = steps.run("crawl", crawl_all)
        for crawl in crawls:
            failures.extend(crawl.failures)
        checks["admin_failures"] = check_admin_coverage(crawls[len(ROLES)], checks["changelists"])
        failures.extend(checks["admin_failures"])
        checks["admin_models"] = len(checks["changelists"])
        assets = set().union(*(crawl.assets for crawl in crawls))
        checks["assets"] = len(assets)
        checks["asset_failures"] = steps.run("static files", check_assets, base, assets)
        failures.extend(checks["asset_failures"])
        pages = {path for crawl in crawls for path, status, _ in crawl.pages}
        checks["plain"], checks["plain_failures"] = steps.run("plain http", check_plain_http, base, pages)
        failures.extend(checks["plain_failures"])
        worker = steps.run("worker idle again", seed, env, "idle")
        checks["tasks_failed"], checks["tasks_done"] = worker["tasks_failed"], worker["tasks_done"]
        if worker["tasks_failed"]:
            failures.append(f"task worker: {worker['tasks_failed']} tasks failed:\n{processes[0].tail()}")
        for process in processes:
            if process.popen.poll() is not None:
                failures.append(f"{process.popen.args[1]} exited early ({process.popen.returncode}):\n{process.tail()}")
    except Exception as error:  # noqa: BLE001 -- any failure of a deploy step fails the smoke, with its output
        failures.append(f"{type(error).__name__}: {error}")
    finally:
        for process in reversed(processes):
            process.stop()
        if failures and processes:
            print(f"--- gunicorn log (tail) ---\n{processes[-1].tail(60)}", flush=True)
        drop_database()
        try:
            flush_redis(cache_url)
        except Exception as error:  # noqa: BLE001 -- cleanup only
            print(f"smoke: could not flush {cache_url}: {error}")
        shutil.rmtree(workdir, ignore_errors=True)
        mail.stop()
    checks["mail"] = mail.messages
    print(summary(crawls, checks, failures, steps, vendor, time.monotonic() - started), flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
