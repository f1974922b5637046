"""`make bench`: measure Closeout on the benchmark data set (`generate`) and check the targets of issue 9.

Server-side with the Django test client (warm, median and p95 of ≥ 30 requests, SQL queries counted with
CaptureQueriesContext), side by side with the Django admin changelist on the same rows and the raw SQL floor
(the page's own queries run bare through a DB-API cursor); then bulk transitions, the close snapshot, a streaming
CSV export (in a subprocess, for a clean memory figure) and gunicorn + wrk under load on 127.0.0.1.

The database is the default one (DATABASE_URL). Writes (bulk transitions, snapshots) run inside a transaction
that is rolled back, so every run starts from the same data. Scenario URLs are tables at the top of this file:
adjust them when the pages they point at change. Run it as `python -m tests.bench run [--quick] [--write-docs]`;
the helpers are `probes` (measuring), `server` (gunicorn + wrk) and `results` (the table, docs/benchmarks.md).
"""

import contextlib
import functools
import json
import os
import shutil
import subprocess
import sys
import time

from django.conf import settings
from django.contrib import admin
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from campaigns import services
from campaigns.models import Action, AdAccount, Campaign, DailyMetric, EndReason, Source, Status, StatusChange

from .generate import ACCOUNT_PREFIX, bench_user, report_campaign
from .imports import imports_section
from .probes import (
    NotAvailable,
    Row,
    admin_overridden,
    call_with,
    export_probe,
    first_service,
    median_p95,
    resolve_or_unavailable,
    rolled_back,
    vacuum_written_tables,
)
from .results import BASE_DIR, DOCS, docs_write, rows_markdown
from .series import RULES_MAX_CAMPAIGNS, SERIES_1M_VARIABLE, point_rows, rows_dump, series_docs_write, series_section
from .server import gunicorn_server, wrk_run

# --- Scenarios: adjust these to the pages' parameter names ---------------------------------------------------
# {deep_page} is 80 % of the way through the pages of 50 rows; {search} is SEARCH_TERM.
SEARCH_TERM = "glow"
LIST_URL = "/campaigns/"
LIST_SCENARIOS = {
    "page 1": "per_page=50",
    "deep page": "per_page=50&page={deep_page}",
    "text search": "per_page=50&q={search}",
    "status filter": "per_page=50&status=paused",
    "sorted by total spend": "per_page=50&sort=-total_spend",
}
# The admin changelist on the same rows (see ADMIN_OVERRIDES below) ({spend_column} is the admin's
# ordering index of total_spend, computed from CampaignAdmin.list_display).
ADMIN_URL = "/admin/campaigns/campaign/"
ADMIN_SCENARIOS = {
    "page 1": "",
    "deep page": "p={deep_page}",
    "text search": "q={search}",
    "status filter": "status__exact=paused",
    "sorted by total spend": "o=-{spend_column}",
}
# The admin is made comparable for the run: the same 50 rows per page, and no date_hierarchy (the list page has
# no year/month drill-down; on SQLite its SELECT DISTINCT django_date_trunc(...) over every row costs more than
# the rest of the page). One extra row measures page 1 with the admin exactly as configured.
ADMIN_OVERRIDES = {"list_per_page": 50, "date_hierarchy": None}
# The baseline searches as Django's own changelist does (`ModelAdmin.get_search_results`: icontains per word and
# field); Closeout's CampaignAdmin searches through the list's own index since issue 19, which would make the
# baseline the thing measured.
STOCK_ADMIN_SEARCH = "get_search_results"
# The report page and the public shared page of the "Bench 365x50" campaign.
REPORT_PATH = "/reports/{campaign_id}/"
SHARED_PATH = "/s/{secret}/"
# Services of the reports app, tried in order; the first that exists is used. Called with the keyword arguments
# their signature accepts among: campaign, campaign_id, report, actor, user, created_by, source, label.
SNAPSHOT_SERVICES = [
    "reports.services.close_report_create",
    "reports.services.report_snapshot_create",
    "reports.services.close_report_snapshot",
    "reports.services.report_create",
    "reports.services.snapshot_create",
]
SHARE_SERVICES = [
    "reports.services.share_link_create",
    "reports.services.report_share_create",
    "reports.services.share_create",
]
# The CSV export: if the reports app has a streaming view over this many rows, point EXPORT_PATH at it;
# until then the benchmark streams the same shape from DailyMetric.iterator() through csv.writer.
EXPORT_ROWS = 1_000_000
EXPORT_PATH = ""
BULK_SIZE = 1_000
LOAD_SECONDS = 20  # wrk's connections and timeout: `server`

# --- Targets (issue 9) -------------------------------------------------------------------------------------
LIST_VS_ADMIN_MAX = 0.5
LIST_MAX_QUERIES = 8
BULK_END_MAX_SECONDS_SQLITE = 1.0
BACKFILL_ACCOUNTS = 50  # issue 15 §3
RULES_COUNT = 100  # issue 17: 100 rules over the 100,000 campaigns
RULES_EVALUATE_MAX_SECONDS = 5.0
RULE_PREVIEW_MAX_SECONDS = 1.0
BULK_END_MAX_MS_POSTGRESQL = 250  # issue 19: was 613 ms with the same 8 queries
SNAPSHOT_MAX_SECONDS = 2.0
EXPORT_MAX_GROWTH_MB = 100
LOAD_LIST_VS_ADMIN_MIN = 1.0
LOAD_SHARED_VS_LIST_MIN = 5.0

SECTIONS = ("pages", "report_pages", "bulk", "snapshot", "rules", "export", "backfill", "imports", "load", "series")


class Command(BaseCommand):
    help = "Benchmark the default database's bench data (`python -m tests.bench generate`); print a markdown table."

    def add_arguments(self, parser):
        parser.add_argument("--requests", type=int, default=30, help="Measured requests per scenario (≥ 30).")
        parser.add_argument("--warmup", type=int, default=3)
        parser.add_argument("--quick", action="store_true", help="Smoke run: few requests, small export, no load.")
        parser.add_argument("--skip-load", action="store_true", help="Skip gunicorn + wrk.")
        parser.add_argument("--load-seconds", type=int, default=LOAD_SECONDS)
        parser.add_argument("--export-rows", type=int, default=EXPORT_ROWS)
        parser.add_argument("--show-sql", action="store_true", help="Print each admin/list query with its time.")
        parser.add_argument(
            "--only", default="", help=f"Comma-separated sections to run (default all): {', '.join(SECTIONS)}."
        )
        parser.add_argument("--write-docs", action="store_true", help=f"Write this run into {DOCS}.")
        # The series section (issue 19): `series`.
        parser.add_argument(
            "--series-1m",
            action="store_true",
            default=os.environ.get(SERIES_1M_VARIABLE) == "1",
            help=f"Also measure 1,000,000 campaigns (default: {SERIES_1M_VARIABLE}=1 in the environment).",
        )
        parser.add_argument("--series-sizes", default="", help="Comma-separated campaign counts instead.")
        parser.add_argument("--series-url", default="", help="DATABASE_URL of each size, with {label} (10k, 1m).")
        parser.add_argument(
            "--series-rules-max",
            type=int,
            default=RULES_MAX_CAMPAIGNS,
            help="Leave the rule evaluation out of the series above this many campaigns (0: never).",
        )
        parser.add_argument("--series-point", action="store_true", help="Internal: one size of the series.")
        parser.add_argument("--rows-json", help="Also write the result rows here as JSON.")

    def handle(self, *args, **options):
        if options["quick"]:
            options |= {"requests": 2, "warmup": 0, "skip_load": True, "export_rows": min(options["export_rows"], 5000)}
        started = time.perf_counter()
        bench = Bench(options=options, out=self.stdout)
        rows = bench.run()
        if options["rows_json"]:
            rows_dump(rows, options["rows_json"])
        table = rows_markdown(rows)
        if options["series_point"]:
            return  # the series section prints its own table of every size
        self.stdout.write("\n" + table)
        passed = sum(r.ok is True for r in rows)
        failed = sum(r.ok is False for r in rows)
        summary = f"{passed} PASS, {failed} FAIL, {time.perf_counter() - started:.0f}s on {bench.vendor_label}."
        self.stdout.write(summary)
        if options["write_docs"]:
            main = [r for r in rows if r.section != "series"]
            series_rows = [r for r in rows if r.section == "series"]
            if main:
                docs_write(
                    vendor=connection.vendor,
                    label=bench.vendor_label,
                    table=rows_markdown(main) if series_rows else table,
                    total=bench.total,
                    requests=bench.n,
                    summary=summary,
                )
            if series_rows:
                series_docs_write(rows=series_rows, bench=bench, summary=summary)
            self.stdout.write(f"Wrote {DOCS.relative_to(BASE_DIR)}.")


class Bench:
    def __init__(self, *, options, out):
        self.options, self.out = options, out
        self.n, self.warmup = options["requests"], options["warmup"]
        self.vendor_label = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}.get(connection.vendor, connection.vendor)
        self.rows: list[Row] = []

    def log(self, message):
        self.out.write(message)
        self.out.flush()

    def run(self) -> list[Row]:
        campaigns = Campaign.objects.filter(account__name__startswith=ACCOUNT_PREFIX)
        self.total = campaigns.count()
        if not self.total:
            raise CommandError("No bench data in this database: run `python -m tests.bench generate` first.")
        self.user = bench_user()
        self.report = report_campaign()
        self.client = Client(HTTP_HOST="localhost")
        self.client.force_login(self.user)
        self.values = {
            "deep_page": max(1, int(self.total / 50 * 0.8)),
            "search": SEARCH_TERM,
            "spend_column": self._admin_spend_column(),
        }
        self.log(f"Benchmarking {self.total:,} campaigns on {self.vendor_label} ({self.n} requests per scenario)")
        only = {s.strip() for s in self.options["only"].split(",") if s.strip()} or set(SECTIONS)
        if unknown := only - set(SECTIONS):
            raise CommandError(f"Unknown sections: {', '.join(sorted(unknown))}.")
        if self.options["skip_load"]:
            only.discard("load")
        if self.options["series_point"]:
            return point_rows(self)
        for section in SECTIONS:
            if section in only:
                getattr(self, section)()
        return self.rows

    # 1 + 2: list page, admin changelist, raw SQL floor -------------------------------------------------------

    def pages(self):
        model_admin = admin.site._registry[Campaign]
        stock_search = functools.partial(admin.ModelAdmin.get_search_results, model_admin)
        with admin_overridden(**ADMIN_OVERRIDES, **{STOCK_ADMIN_SEARCH: stock_search}):
            self._pages()
        with admin_overridden(list_per_page=ADMIN_OVERRIDES["list_per_page"]):
            as_configured = self.page_row("admin", "page 1, date_hierarchy on", ADMIN_URL)
        if as_configured.median_ms is not None:
            floor = self.floor_row("admin SQL floor", "page 1, date_hierarchy on", as_configured.sql)
            as_configured.compare = f"{as_configured.median_ms / max(floor.median_ms, 0.001):.1f}× its floor"
            floor.compare = f"{floor.median_ms / as_configured.median_ms:.0%} of the admin page"
            self.rows += [as_configured, floor]
            if self.options["show_sql"]:
                self.show_sql("admin page 1, date_hierarchy on", as_configured.sql)

    def _pages(self):
        keys = list(LIST_SCENARIOS)
        for key in keys[:: len(keys) - 1] if self.options["quick"] else keys:  # quick: the first and the last
            list_url = LIST_URL + "?" + LIST_SCENARIOS[key].format(**self.values)
            admin_url = ADMIN_URL + ("?" + ADMIN_SCENARIOS[key].format(**self.values) if ADMIN_SCENARIOS[key] else "")
            listed, admin_row = self.page_pair(key, list_url, admin_url)
            self.rows += [listed, admin_row]
            if listed.median_ms is None or admin_row.median_ms is None:
                continue
            floor = self.floor_row("list SQL floor", key, listed.sql)
            admin_floor = self.floor_row("admin SQL floor", key, admin_row.sql)
            self.rows += [floor, admin_floor]
            ratio = listed.median_ms / admin_row.median_ms
            listed.compare = f"{ratio:.2f}× admin, {listed.median_ms / max(floor.median_ms, 0.001):.1f}× floor"
            listed.target = f"≤ {LIST_VS_ADMIN_MAX}× admin, ≤ {LIST_MAX_QUERIES} queries"
            listed.ok = ratio <= LIST_VS_ADMIN_MAX and listed.queries <= LIST_MAX_QUERIES
            admin_row.compare = f"{admin_row.median_ms / max(admin_floor.median_ms, 0.001):.1f}× its floor"
            floor.compare = f"{floor.median_ms / listed.median_ms:.0%} of the list page"
            admin_floor.compare = f"{admin_floor.median_ms / admin_row.median_ms:.0%} of the admin page"
            if self.options["show_sql"]:
                self.show_sql(f"list {key}", listed.sql)
                self.show_sql(f"admin {key}", admin_row.sql)

    def page_row(self, section, scenario, url, *, client=None) -> Row:
        client = client or self.client
        row = Row(section, scenario, note=url)
        response = client.get(url)
        if response.status_code != 200:
            row.note = f"{url} → HTTP {response.status_code}"
            row.ok = False
            return row
        with CaptureQueriesContext(connection) as ctx:
            client.get(url)
        row.queries, row.sql = len(ctx.captured_queries), [q["sql"] for q in ctx.captured_queries]
        row.median_ms, row.p95_ms = self.timed(lambda: client.get(url))
        self.log(f"  {section:>6} {scenario:<22} {row.median_ms:8.1f} ms  {row.queries} queries  {url}")
        return row

    def page_pair(self, scenario, list_url, admin_url) -> tuple[Row, Row]:
        """The list page and the admin changelist measured in alternation (list, admin, list, admin, …), so a
        burst of noise on a shared machine lands on both sides of the ratio, not on one."""
        rows = []
        for section, url in (("list", list_url), ("admin", admin_url)):
            row = Row(section, scenario, note=url)
            response = self.client.get(url)
            if response.status_code != 200:
                row.note, row.ok = f"{url} → HTTP {response.status_code}", False
            else:
                with CaptureQueriesContext(connection) as ctx:
                    self.client.get(url)
                row.queries, row.sql = len(ctx.captured_queries), [q["sql"] for q in ctx.captured_queries]
            rows.append(row)
        if any(row.ok is False for row in rows):
            return rows[0], rows[1]
        for _ in range(self.warmup):
            self.client.get(list_url)
            self.client.get(admin_url)
        samples: dict[str, list[float]] = {"list": [], "admin": []}
        for _ in range(self.n):
            for section, url in (("list", list_url), ("admin", admin_url)):
                t0 = time.perf_counter()
                self.client.get(url)
                samples[section].append((time.perf_counter() - t0) * 1000)
        for row in rows:
            row.median_ms, row.p95_ms = median_p95(samples[row.section])
            self.log(f"  {row.section:>6} {scenario:<22} {row.median_ms:8.1f} ms  {row.queries} queries  {row.note}")
        return rows[0], rows[1]

    def timed(self, call, n=None, warmup=None) -> tuple[float, float]:
        for _ in range(self.warmup if warmup is None else warmup):
            call()
        samples = []
        for _ in range(self.n if n is None else n):
            t0 = time.perf_counter()
            call()
            samples.append((time.perf_counter() - t0) * 1000)
        return median_p95(samples)

    def floor_row(self, section, scenario, sql: list[str]) -> Row:
        """The same statements through the bare DB-API cursor: what the SQL alone costs."""
        raw = connection.connection

        def run():
            cursor = raw.cursor()
            for statement in sql:
                cursor.execute(statement)
                if cursor.description:
                    cursor.fetchall()
            cursor.close()

        # SQL only and much repeated already: a third of the requests (≥ 10) is enough for a stable median.
        median, p95 = self.timed(run, n=max(10, self.n // 3) if self.n >= 10 else self.n, warmup=min(1, self.warmup))
        return Row(section, scenario, median, p95, len(sql))

    def show_sql(self, title, sql):
        raw = connection.connection
        self.log(f"    SQL of {title}:")
        for statement in sql:
            cursor = raw.cursor()
            t0 = time.perf_counter()
            cursor.execute(statement)
            if cursor.description:
                cursor.fetchall()
            ms = (time.perf_counter() - t0) * 1000
            cursor.close()
            self.log(f"    {ms:8.2f} ms  {statement[:400]}")

    def _admin_spend_column(self) -> int:
        model_admin = admin.site._registry[Campaign]
        return list(model_admin.list_display).index("total_spend") + (1 if model_admin.actions else 0)

    # 3: report page and shared page --------------------------------------------------------------------------

    def report_pages(self):
        report_path = REPORT_PATH.format(campaign_id=self.report.pk)
        for scenario, get_path in (
            ("report page (365×50)", lambda: report_path),
            ("shared page (365×50)", self.shared_path),
        ):
            try:
                self.ensure_snapshot()
                path = get_path()
                resolve_or_unavailable(path)
                client = self.client if scenario.startswith("report") else Client(HTTP_HOST="localhost")
                row = self.page_row("report", scenario, path, client=client)
            except NotAvailable as exc:
                self.rows.append(Row("report", scenario, note=f"not available: {exc}"))
                continue
            touches_metrics = any(DailyMetric._meta.db_table in q for q in row.sql)
            row.target = "constant queries; never reads raw metrics"
            if row.ok is None:
                row.ok = not touches_metrics
            row.compare = "reads campaigns_dailymetric" if touches_metrics else "no raw-metric reads"
            self.rows.append(row)

    def shared_path(self) -> str:
        if getattr(self, "_shared_path", None) is None:
            service = first_service(SHARE_SERVICES)
            created = call_with(service, campaign=self.report, campaign_id=self.report.pk, report=self._report_object(),
                                actor=self.user, user=self.user, created_by=self.user, label="bench")  # fmt: skip
            parts = created if isinstance(created, tuple) else (created,)
            secret = next((x for x in parts if isinstance(x, str)), None)
            secret = secret or getattr(created, "secret", None) or getattr(created, "url", None)
            if not secret:
                raise NotAvailable(f"{service.__module__}.{service.__name__} returned no secret")
            self._shared_path = secret if secret.startswith("/") else SHARED_PATH.format(secret=secret)
        return self._shared_path

    def _report_object(self):
        with contextlib.suppress(Exception):
            from reports.models import CloseReport  # noqa: PLC0415 — the reports app may not have it yet

            return CloseReport.objects.filter(campaign=self.report).first()
        return None

    def ensure_snapshot(self):
        """The report page shows the frozen snapshot: make sure the 365×50 campaign has one (kept)."""
        with contextlib.suppress(NotAvailable):
            if self._report_object() is None:
                call_with(first_service(SNAPSHOT_SERVICES), campaign=self.report, campaign_id=self.report.pk,
                          actor=self.user, user=self.user, source=Source.COMMAND)  # fmt: skip
        report = self._report_object()
        if report is not None:
            self._report_sections_fill(report)

    def _report_sections_fill(self, report) -> None:
        """Every section of the report page with something in it (kept), as a busy report has: lessons, a share
        link with feedback (comments too), and people on the delivery list. An empty section costs the page no
        query (issue 19), so the page is measured with all of them."""
        from reports import services as report_services  # noqa: PLC0415
        from reports.models import LessonRevision, ReportRecipient, ShareLink  # noqa: PLC0415

        if not LessonRevision.objects.filter(report=report).exists():
            report_services.lessons_save(report=report, author=self.user, what_worked="Duets on day one",
                                         what_to_change="Start the teaser earlier", next_steps="Brief two creators",
                                         base_revision_id=None)  # fmt: skip
        link = ShareLink.objects.filter(report=report, label="bench feedback").first()
        if link is None:
            link = report_services.share_link_create(report=report, actor=self.user, label="bench feedback")[0]
            for n in range(12):
                report_services.feedback_create(report=report, link=link, author=None, role="influencer",
                                                rating=3 + n % 3, would_take_part_again=n % 2 == 0,
                                                comment=f"Bench feedback {n}")  # fmt: skip
        if not ReportRecipient.objects.filter(report=report).exists():
            for email in ("ana@client.example", "ben@client.example"):
                report_services.report_recipient_add(report=report, actor=None, email=email)

    # 4: bulk pause and end of 1,000 --------------------------------------------------------------------------

    def bulk(self):
        active = list(
            Campaign.objects.filter(account__name__startswith=ACCOUNT_PREFIX, status=Status.ACTIVE)
            .order_by("id")
            .values_list("id", flat=True)[:BULK_SIZE]
        )
        reps = 1 if self.options["quick"] else 5
        for action in (Action.PAUSE, Action.END):
            samples, queries, after = [], set(), []
            for _ in range(reps):
                ms, n_queries, audited, after_ms, after_q = self.transition_once(active, action)
                samples.append(ms)
                queries.add(n_queries)
                after.append((after_ms, after_q))
            small = self.transition_once(active[:10], action)[1]
            median, p95 = median_p95(samples)
            row = Row("bulk", f"bulk {action} of {len(active):,}", median, p95, max(queries))
            row.compare = f"{small} queries for 10; {audited:,} audited"
            constant = max(queries) == small
            all_audited = audited == len(active)
            if action == Action.END:
                if connection.vendor == "sqlite":
                    row.target = "constant queries, all audited, < 1 s"
                    fast = median / 1000 < BULK_END_MAX_SECONDS_SQLITE
                else:
                    row.target = f"constant queries, all audited, ≤ {BULK_END_MAX_MS_POSTGRESQL} ms"
                    fast = median <= BULK_END_MAX_MS_POSTGRESQL
                row.ok = constant and all_audited and fast
            else:
                row.target = "constant queries, all audited"
                row.ok = constant and all_audited
            self.rows.append(row)
            after_ms, after_q = after[-1]
            self.rows.append(
                Row(
                    "bulk",
                    f"  after-commit work of the {action}",
                    after_ms,
                    None,
                    after_q,
                    note="signal receivers run on commit (task enqueues, notifications)",
                )  # fmt: skip
            )
            self.log(f"  bulk   {action:<22} {median:8.1f} ms  {max(queries)} queries (10: {small}), audited {audited}")

    def transition_once(self, ids, action):
        """One bulk transition through the service, rolled back; also runs its on-commit callbacks inside."""
        kwargs = {"reason_code": EndReason.OBJECTIVES_MET} if action == Action.END else {}
        vacuum_written_tables()
        with rolled_back():
            first_callback = len(connection.run_on_commit)
            with CaptureQueriesContext(connection) as ctx:
                t0 = time.perf_counter()
                result = services.campaigns_transition(
                    campaign_ids=ids, action=action, actor=self.user, source=Source.COMMAND, **kwargs
                )
                ms = (time.perf_counter() - t0) * 1000
            audited = StatusChange.objects.filter(pk__in=result.change_ids, campaign_id__in=ids, action=action).count()
            callbacks = connection.run_on_commit[first_callback:]
            with CaptureQueriesContext(connection) as after:
                t0 = time.perf_counter()
                for _sids, callback, _robust in callbacks:
                    callback()
                after_ms = (time.perf_counter() - t0) * 1000
        return ms, len(ctx.captured_queries), audited, after_ms, len(after.captured_queries)

    # 5: close snapshot of 365×50 -----------------------------------------------------------------------------

    def snapshot(self):
        scenario = f"close snapshot ({self.report.daily_metrics.filter(content_item=None).count()}"
        scenario += f"×{self.report.content_items.count()})"
        try:
            service = first_service(SNAPSHOT_SERVICES)
        except NotAvailable as exc:
            self.rows.append(Row("snapshot", scenario, note=f"not available: {exc}"))
            return
        samples, queries = [], 0
        for _ in range(1 if self.options["quick"] else 5):
            with rolled_back():
                # A fresh snapshot each time: the kept one (for the report page) is deleted inside the rollback.
                report = self._report_object()
                if report is not None:
                    type(report).objects.filter(pk=report.pk).delete()
                with CaptureQueriesContext(connection) as ctx:
                    t0 = time.perf_counter()
                    call_with(service, campaign=self.report, campaign_id=self.report.pk, actor=self.user,
                              user=self.user, source=Source.COMMAND)  # fmt: skip
                    samples.append((time.perf_counter() - t0) * 1000)
                queries = len(ctx.captured_queries)
        median, p95 = median_p95(samples)
        self.rows.append(
            Row(
                "snapshot",
                scenario,
                median,
                p95,
                queries,
                note=f"{service.__module__}.{service.__name__}",
                target=f"< {SNAPSHOT_MAX_SECONDS:g} s",
                ok=median / 1000 < SNAPSHOT_MAX_SECONDS,
            )  # fmt: skip
        )

    # 5b: guardrail rules: a full evaluation of 100 rules, and one rule's 30-day preview (issue 17) ------------

    def rules(self):
        from campaigns.models import Rule, RuleAction, RuleCondition  # noqa: PLC0415
        from campaigns.rules import evaluate, preview  # noqa: PLC0415

        numbers = {
            RuleCondition.BUDGET_SPENT: {"threshold": 90},
            RuleCondition.DAILY_OVERSPEND: {"threshold": "1.5"},
            RuleCondition.COST_PER_RESULT: {"days": 3},
            RuleCondition.NO_IMPRESSIONS: {"days": 3},
            RuleCondition.END_DATE_PASSED: {},
            RuleCondition.LOW_CTR: {"threshold": "0.5", "impressions": 1000},
        }
        conditions = list(numbers)
        accounts = list(
            AdAccount.objects.filter(name__startswith=ACCOUNT_PREFIX).order_by("pk").values_list("pk", flat=True)
        )
        with rolled_back():
            Rule.objects.bulk_create(
                [
                    Rule(account_id=accounts[i % len(accounts)], name=f"Bench rule {i}", action=RuleAction.NOTIFY,
                         condition=conditions[i % len(conditions)], **numbers[conditions[i % len(conditions)]])
                    for i in range(RULES_COUNT)
                ]
            )  # fmt: skip
            runs = []
            for label in ("first evaluation (acts)", "next evaluation (nothing new)"):
                with CaptureQueriesContext(connection) as ctx:
                    t0 = time.perf_counter()
                    results = evaluate.rules_evaluate()
                    ms = (time.perf_counter() - t0) * 1000
                acted = sum(len(r.acted) for r in results.values())
                runs.append((label, ms, len(ctx.captured_queries), acted))
            rule = Rule.objects.filter(name="Bench rule 0").get()
            samples = []
            for _ in range(1 if self.options["quick"] else 5):
                with CaptureQueriesContext(connection) as preview_ctx:
                    t0 = time.perf_counter()
                    shown = preview.rule_preview(rule=rule)
                    samples.append((time.perf_counter() - t0) * 1000)
        for label, ms, queries, acted in runs:
            self.rows.append(
                Row(
                    "rules",
                    f"{RULES_COUNT} rules, {label}",
                    ms,
                    None,
                    queries,
                    compare=f"{queries / RULES_COUNT:.1f} queries a rule; {acted:,} campaigns acted on",
                    target=f"< {RULES_EVALUATE_MAX_SECONDS:g} s",
                    ok=ms / 1000 < RULES_EVALUATE_MAX_SECONDS,
                    note="notify-only rules, six conditions, two per bench account; rolled back",
                )  # fmt: skip
            )
        median, p95 = median_p95(samples)
        self.rows.append(
            Row(
                "rules",
                "one rule's 30-day preview",
                median,
                p95,
                len(preview_ctx.captured_queries),
                compare=f"{len(shown.events):,} events, {len(shown.would_act_today):,} today",
                target=f"< {RULE_PREVIEW_MAX_SECONDS:g} s",
                ok=median / 1000 < RULE_PREVIEW_MAX_SECONDS,
                note=f"{rule.get_condition_display()}",
            )  # fmt: skip
        )
        self.log(f"  rules  {runs[0][1]:8.0f} ms first, {runs[1][1]:8.0f} ms next; preview {median:.0f} ms")

    # 6: streaming CSV export ---------------------------------------------------------------------------------

    def export(self):
        rows = self.options["export_rows"]
        if self.options["quick"]:
            result = export_probe(rows=rows)  # the test database is not visible to a subprocess
        else:
            code = (
                "import json, django; django.setup(); "
                "from tests.bench.probes import export_probe; "
                f"print(json.dumps(export_probe(rows={rows})))"
            )
            env = os.environ | {
                "DJANGO_SETTINGS_MODULE": os.environ.get("DJANGO_SETTINGS_MODULE", "config.settings.local")
            }
            done = subprocess.run(  # noqa: S603
                [sys.executable, "-c", code], cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=600
            )
            if done.returncode:
                raise CommandError(f"export probe failed:\n{done.stderr[-2000:]}")
            result = json.loads(done.stdout.strip().splitlines()[-1])
        growth, baseline = result["rss_growth_mb"], result["rss_baseline_mb"]
        self.rows.append(
            Row(
                "export",
                f"streaming CSV of {result['rows']:,} metric rows",
                result["seconds"] * 1000,
                None,
                result["queries"],
                compare=f"peak RSS +{growth:.1f} MB over {baseline:.0f} MB, {result['mb']:.0f} MB of CSV",
                target=f"peak memory growth < {EXPORT_MAX_GROWTH_MB} MB",
                ok=growth < EXPORT_MAX_GROWTH_MB,
                note=result["how"],
            )  # fmt: skip
        )
        self.log(f"  export {result['rows']:,} rows in {result['seconds']:.1f}s, peak RSS +{growth:.1f} MB")

    # 7: platform backfill of 50 accounts through one rate limiter (issue 15 §3) ------------------------------

    def backfill(self):
        if self.options["quick"]:
            self.rows.append(Row("backfill", "backfill of 50 accounts", note="skipped with --quick (about 4 minutes)"))
            return
        if connection.vendor != "sqlite":
            self.rows.append(
                Row(
                    "backfill",
                    "backfill of 50 accounts",
                    note="measured in the SQLite run: the probe has its own database",
                )
            )
            return
        done = subprocess.run(  # noqa: S603
            [sys.executable, "-m", "tests.bench.backfill", "--accounts", str(BACKFILL_ACCOUNTS)],
            cwd=BASE_DIR, env=os.environ.copy(), capture_output=True, text=True, timeout=1800,
        )  # fmt: skip
        if done.returncode:
            raise CommandError(f"backfill probe failed:\n{done.stderr[-2000:]}")
        result = json.loads(done.stdout.strip().splitlines()[-1])
        qps, held = result["options"]["qps"], result["rows_held"]
        enforced, throttled = result["enforced"], result["throttled"]
        how = (
            f"{result['options']['accounts']} accounts × {result['options']['campaigns']} campaigns × "
            f"{result['options']['days']} days, campaign and ad level ({held:,} rows on the fake), "
            f"{result['options']['workers']} workers, TIKTOK_API_QPS={qps:g}"
        )
        self.rows.append(
            Row(
                "backfill",
                "calls/s against a server enforcing the limit",
                enforced["seconds"] * 1000,
                compare=f"{enforced['calls_per_second']:.2f} calls/s of {qps:g}; "
                f"{enforced['over_limit']} over the limit; {enforced['rows_stored']:,} of {held:,} rows",
                target=f"≥ 90 % of the limit ({0.9 * qps:g}/s), 0 over it, 0 rows lost",
                ok=enforced["calls_per_second"] >= 0.9 * qps
                and enforced["over_limit"] == 0
                and enforced["rows_stored"] == held,
                note=how,
            )  # fmt: skip
        )
        self.rows.append(
            Row(
                "backfill",
                "every 4th call answered 40100",
                throttled["seconds"] * 1000,
                compare=f"{throttled['rows_stored']:,} of {held:,} rows stored, "
                f"{throttled['rows_per_second']:.0f} rows/s, {throttled['calls_per_second']:.2f} calls/s "
                "(each 40100 backs every caller off)",
                target="0 rows lost",
                ok=throttled["rows_stored"] == held,
                note=how,
            )  # fmt: skip
        )
        self.log(f"  backfill {enforced['calls_per_second']:.2f} calls/s, {enforced['over_limit']} over; lost "
                 f"{held - throttled['rows_stored']} of {held} with every 4th call throttled")  # fmt: skip

    imports = imports_section  # issue 19: tests/bench/imports.py

    # 9: the same pages at 10,000, 100,000 and 1,000,000 campaigns (issue 19): `series` ------------------------

    def series(self):
        if self.options["quick"] and not self.options["series_sizes"]:
            self.rows.append(Row("series", "pages per data size", note="skipped with --quick (sizes of their own)"))
            return
        self.rows += series_section(self)

    # 8: under load: gunicorn + wrk ---------------------------------------------------------------------------

    def load(self):
        targets = {
            "list page": LIST_URL + "?" + LIST_SCENARIOS["page 1"].format(**self.values),
            "admin changelist": ADMIN_URL + ("?" + ADMIN_SCENARIOS["page 1"] if ADMIN_SCENARIOS["page 1"] else ""),
            "shared page": None,
        }
        with contextlib.suppress(NotAvailable):
            self.ensure_snapshot()
            targets["shared page"] = self.shared_path()
            resolve_or_unavailable(targets["shared page"])
        wrk = shutil.which("wrk")
        if wrk is None:
            for name in targets:
                self.rows.append(Row("load", name, note="not available: wrk is not installed (apt-get install wrk)"))
            return
        results = {}
        with gunicorn_server(log=self.log, admin_overrides=ADMIN_OVERRIDES) as (base, access_log):
            cookie = f"{settings.SESSION_COOKIE_NAME}={self.client.cookies[settings.SESSION_COOKIE_NAME].value}"
            for name, url in targets.items():
                if url is None:
                    self.rows.append(Row("load", name, note="not available: no shared page yet"))
                    continue
                results[name] = wrk_run(
                    wrk, base + url, cookie, seconds=self.options["load_seconds"], access_log=access_log
                )
                r = results[name]
                self.log(f"  load   {name:<22} {r['rps']:8.1f} req/s  p50 {r['p50']:.0f} ms  p99 {r['p99']:.0f} ms")
        for name, r in results.items():
            note = f"p99 {r['p99']:.0f} ms, {r['requests']:,} requests; statuses from the access log ({r['logged']:,})"
            row = Row("load", name, r["p50"], None, None, note=note)
            row.compare = f"{r['rps']:.1f} req/s, {r['non2xx']} non-2xx, {r['errors']} timeouts/socket errors"
            checks = [r["non2xx"] == 0, r["errors"] == 0]
            row.target = "0 non-2xx, 0 errors"
            if name == "list page" and "admin changelist" in results:
                ratio = r["rps"] / max(results["admin changelist"]["rps"], 0.001)
                row.compare += f", {ratio:.2f}× admin req/s"
                row.target += f"; ≥ {LOAD_LIST_VS_ADMIN_MIN:g}× admin req/s"
                checks.append(ratio >= LOAD_LIST_VS_ADMIN_MIN)
            if name == "shared page" and "list page" in results:
                ratio = r["rps"] / max(results["list page"]["rps"], 0.001)
                row.compare += f", {ratio:.1f}× list req/s"
                row.target += f"; ≥ {LOAD_SHARED_VS_LIST_MIN:g}× list req/s"
                checks.append(ratio >= LOAD_SHARED_VS_LIST_MIN)
            row.ok = all(checks)
            self.rows.append(row)
