"""The series section of `make bench` (issue 19, "pages flat as the data grows"): the same probes as the main run
(the list page's five scenarios beside the admin changelist, the report page, a full rule evaluation) plus the home
page, measured on data sets of 10,000, 100,000 and (with BENCH_SERIES_1M=1) 1,000,000 campaigns, 30 daily rows and
2 content items a campaign, so 30,000,000 daily rows at the top.

Each size has its own database, generated once and kept: SQLite `bench/closeout_series_<label>.sqlite3`,
PostgreSQL `closeout_series_<label>` on the server of DATABASE_URL (created when missing). The size the running
database already holds (`make bench`'s 100,000 in `bench/closeout_bench.sqlite3` / `closeout_bench`) is measured
there instead: the generator is deterministic (seed 9), so it is the same data set. Each size is migrated,
generated (a no-op when present) and measured in its own process — `python -m tests.bench run --series-point`,
which runs the probes of `run.Bench` and hands its rows back as JSON — so every size is measured the same way.

Targets: at the largest size each page within 1.5× its time at the size before (100,000); the list scenarios and
the home and report pages within 8 queries at every size, the rule evaluation with no more queries than at the size
before; the list within 0.5× the admin changelist at every size. The rule evaluation is left out above
RULES_MAX_CAMPAIGNS (below)."""

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings
from django.contrib import admin
from django.db import connection

from campaigns.models import Campaign

from .probes import Row, admin_overridden
from .results import docs_write, rows_markdown

BASE_DIR = Path(settings.BASE_DIR)
SERIES_SIZES = (10_000, 100_000)
SERIES_SIZE_1M = 1_000_000
SERIES_1M_VARIABLE = "BENCH_SERIES_1M"
METRICS_PER_CAMPAIGN = 30
CONTENT_PER_CAMPAIGN = 2
GROWTH_MAX = 1.5  # a page's time at the largest size over its time at the size before
HOME_URL = "/"
PAGE_MAX_QUERIES = 8  # the home and report pages (the "≤ 8 queries" for each page)
# Above this many campaigns the rule evaluation is left out (`--series-rules-max`; 0: run at every size). It was
# 100,000 while a rule's condition summed its campaigns' whole history (one query past the 20 s statement timeout at
# 1,000,000); the sums now come from the stored totals, so it runs at every size. See docs/benchmarks.md.
RULES_MAX_CAMPAIGNS = 0
RULES_NOT_RUN = "not run above {limit:,} campaigns (--series-rules-max)"
STEP_TIMEOUT = 3 * 3600  # seconds: generating 1,000,000 campaigns on a busy machine


@dataclass
class SeriesRow(Row):
    """A series row; `skipped` replaces the Result column for a size that was not run."""

    skipped: str = ""

    @property
    def result(self) -> str:
        return self.skipped or super().result


def size_label(size: int) -> str:
    for unit, suffix in ((1_000_000, "m"), (1_000, "k")):
        if size >= unit and size % unit == 0:
            return f"{size // unit}{suffix}"
    return str(size)


def series_sizes(*, explicit: str = "", with_1m: bool = False) -> list[int]:
    if explicit:
        return sorted({int(s.replace("_", "")) for s in explicit.split(",") if s.strip()})
    return [*SERIES_SIZES, SERIES_SIZE_1M] if with_1m else list(SERIES_SIZES)


def default_url_template(vendor: str, base_url: str) -> str:
    """Where each size's data set lives ({label}: 10k, 100k, 1m): beside the bench's own database."""
    if vendor == "sqlite":
        return f"sqlite:///{BASE_DIR / 'bench'}/closeout_series_{{label}}.sqlite3"
    parts = urlsplit(base_url)
    return urlunsplit(parts._replace(path="/closeout_series_{label}"))


# The point: one size, in its own process ------------------------------------------------------------------


def point_rows(bench) -> list[Row]:
    """What `run --series-point` measures on the default database: the main run's probes (list and admin pages
    in alternation, the report page, the rules), then the home page."""
    model_admin = admin.site._registry[Campaign]
    from .run import ADMIN_OVERRIDES, RULES_COUNT, STOCK_ADMIN_SEARCH  # noqa: PLC0415 — run imports this module

    stock_search = admin.ModelAdmin.get_search_results.__get__(model_admin)
    with admin_overridden(**ADMIN_OVERRIDES, **{STOCK_ADMIN_SEARCH: stock_search}):
        bench._pages()
    bench.report_pages()
    limit = bench.options["series_rules_max"]
    if limit and bench.total > limit:
        note = RULES_NOT_RUN.format(limit=limit)
        bench.rows.append(Row("rules", f"{RULES_COUNT} rules, first evaluation (acts)", note=note))
    else:
        bench.rules()
    bench.rows.append(bench.page_row("home", "home page", HOME_URL))
    return bench.rows


def rows_dump(rows: list[Row], path: str) -> None:
    keep = [f.name for f in fields(Row) if f.name != "sql"]
    Path(path).write_text(json.dumps([{k: asdict(r)[k] for k in keep} for r in rows], indent=1))


def rows_load(path: Path) -> list[Row]:
    return [Row(**data) for data in json.loads(path.read_text())]


# The section: every size, then the table ------------------------------------------------------------------


class Series:
    def __init__(self, *, sizes, url_for, requests, warmup, log, not_run=(), reuse=None, timings_dir=None, rules_max=0):
        """`url_for(size)`: the DATABASE_URL of that size; `not_run`: sizes listed as not run; `reuse`: a
        {size: url} of databases that already hold that size (measured there, not generated); `timings_dir`: where
        each generation's timings go (default bench/)."""
        self.sizes, self.url_for, self.not_run = sizes, url_for, set(not_run)
        self.timings_dir = Path(timings_dir or BASE_DIR / "bench")
        self.rules_max = rules_max  # 0: the rules at every size
        self.requests, self.warmup, self.log = requests, warmup, log
        self.reuse = reuse or {}
        self.generated: dict[int, dict] = {}

    def run(self) -> list[SeriesRow]:
        measured: dict[int, dict[str, Row]] = {}
        for size in self.sizes:
            if size in self.not_run:
                continue
            url = self.reuse.get(size) or self.url_for(size)
            self.log(f"  series {size:,} campaigns: {_redacted(url)}")
            measured[size] = self.measure(size, url)
        return series_table(self.sizes, measured, not_run=self.not_run)

    def measure(self, size: int, url: str) -> dict[str, Row]:
        env = os.environ | {"DATABASE_URL": url, "DJANGO_DEBUG": "0"}
        env.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
        database_create(url)
        self._step([sys.executable, "manage.py", "migrate", "--noinput", "-v0"], env)
        if size not in self.reuse:
            vendor = "sqlite" if url.startswith("sqlite") else "postgresql"
            timings = self.timings_dir / f"generate-series-{size_label(size)}-{vendor}.json"
            timings.parent.mkdir(parents=True, exist_ok=True)
            self._step(
                [sys.executable, "-m", "tests.bench", "generate", "--campaigns", str(size),
                 "--metrics", str(size * METRICS_PER_CAMPAIGN), "--content", str(size * CONTENT_PER_CAMPAIGN),
                 "--timings-file", str(timings)],
                env,
            )  # fmt: skip
            if timings.exists():
                self.generated[size] = json.loads(timings.read_text())
        with tempfile.TemporaryDirectory(prefix="closeout-series-") as tmp:
            out = Path(tmp) / "rows.json"
            self._step(
                [sys.executable, "-m", "tests.bench", "run", "--series-point", "--rows-json", str(out),
                 "--requests", str(self.requests), "--warmup", str(self.warmup),
                 "--series-rules-max", str(self.rules_max)],
                env,
            )  # fmt: skip
            return point_pages(rows_load(out))

    def _step(self, command: list[str], env: dict) -> None:
        process = subprocess.Popen(  # noqa: S603
            command, cwd=BASE_DIR, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        tail = []
        for line in process.stdout:
            tail = [*tail[-40:], line]
            self.log("    " + line.rstrip())
        if process.wait(timeout=STEP_TIMEOUT):
            raise RuntimeError(f"{' '.join(command[1:4])} failed:\n{''.join(tail)}")


def database_create(url: str) -> None:
    """PostgreSQL: create the size's database when missing (SQLite creates its file on connect)."""
    if url.startswith("sqlite"):
        path = url.removeprefix("sqlite:///")
        if path and path != ":memory:":
            Path("/" + path.lstrip("/") if url.startswith("sqlite:////") else path).parent.mkdir(
                parents=True, exist_ok=True
            )
        return
    import psycopg  # noqa: PLC0415 — only for PostgreSQL
    from psycopg import sql  # noqa: PLC0415

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin_url = urlunsplit(parts._replace(scheme="postgresql", path="/postgres"))
    with psycopg.connect(admin_url, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def _redacted(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        parts = parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":…@"))
    return urlunsplit(parts)


# Which rows of a point are the series' pages ---------------------------------------------------------------

LIST_PAGES = ("page 1", "deep page", "text search", "status filter", "sorted by total spend")
PAGES = (*(f"list {key}" for key in LIST_PAGES), "report page", "rules evaluation", "home page")


def point_pages(rows: list[Row]) -> dict[str, Row]:
    """{series page name: its row}, plus "admin <scenario>" for the list's comparison."""
    pages = {}
    for row in rows:
        if row.section in ("list", "admin") and row.scenario in LIST_PAGES:
            pages[f"{row.section} {row.scenario}"] = row
        elif row.section == "report" and row.scenario.startswith("report page"):
            pages["report page"] = row
        elif row.section == "rules" and "first evaluation" in row.scenario:
            pages["rules evaluation"] = row
        elif row.section == "home":
            pages["home page"] = row
    return pages


def series_table(sizes: list[int], measured: dict[int, dict[str, Row]], *, not_run=()) -> list[SeriesRow]:
    """One row per page and size: its time, queries, the list/admin ratio, and at the largest size its growth
    over the size before."""
    from .run import LIST_MAX_QUERIES, LIST_VS_ADMIN_MAX  # noqa: PLC0415 — run imports this module

    top, reference = sizes[-1], (sizes[-2] if len(sizes) > 1 else None)
    rows = []
    for page in PAGES:
        for size in sizes:
            scenario = f"{page} @ {size:,}"
            if size in not_run:
                rows.append(
                    SeriesRow("series", scenario, target=_target(page, size == top, reference),
                              skipped=f"not run ({SERIES_1M_VARIABLE}=1)", note=f"{size:,} campaigns not measured")
                )  # fmt: skip
                continue
            point = measured.get(size, {})
            row = point.get(page)
            if row is not None and row.median_ms is None and row.note.startswith("not run"):
                rows.append(SeriesRow("series", scenario, skipped="not run", note=row.note))
                continue
            if row is None or row.median_ms is None:
                rows.append(SeriesRow("series", scenario, ok=False, note=row.note if row else "not measured"))
                continue
            out = SeriesRow("series", scenario, row.median_ms, row.p95_ms, row.queries, note=row.note)
            compare, checks = [], []
            if page.startswith("list "):
                admin_row = point.get("admin " + page.removeprefix("list "))
                if admin_row is not None and admin_row.median_ms:
                    ratio = row.median_ms / admin_row.median_ms
                    compare.append(f"{ratio:.2f}× admin ({admin_row.median_ms:,.1f} ms)")
                    checks.append(ratio <= LIST_VS_ADMIN_MAX)
                else:
                    checks.append(False)
                checks.append(row.queries is not None and row.queries <= LIST_MAX_QUERIES)
            elif page in ("home page", "report page"):
                checks.append(row.queries is not None and row.queries <= PAGE_MAX_QUERIES)
            previous = _previous(sizes, size, measured, page)
            if previous is not None:
                growth = row.median_ms / max(previous[1].median_ms, 0.001)
                compare.append(f"{growth:.2f}× at {previous[0]:,}")
                if page == "rules evaluation":
                    compare.append(f"{previous[1].queries} queries at {previous[0]:,}")
                if size == top and previous[0] == reference:
                    checks.append(growth <= GROWTH_MAX)
                    if page == "rules evaluation":
                        checks.append((row.queries or 0) <= (previous[1].queries or 0))
            out.compare = ", ".join(compare)
            out.target = _target(page, size == top, reference)
            out.ok = all(checks) if checks else None
            rows.append(out)
    return rows


def _previous(sizes, size, measured, page):
    index = sizes.index(size)
    if index == 0:
        return None
    before = sizes[index - 1]
    row = measured.get(before, {}).get(page)
    return (before, row) if row is not None and row.median_ms is not None else None


def _target(page: str, at_top: bool, reference: int | None) -> str:
    from .run import LIST_MAX_QUERIES, LIST_VS_ADMIN_MAX  # noqa: PLC0415

    parts = []
    if at_top and reference is not None:
        parts.append(f"≤ {GROWTH_MAX:g}× at {reference:,}")
    if page.startswith("list "):
        parts += [f"≤ {LIST_VS_ADMIN_MAX:g}× admin", f"≤ {LIST_MAX_QUERIES} queries"]
    elif page in ("home page", "report page"):
        parts.append(f"≤ {PAGE_MAX_QUERIES} queries")
    elif at_top and reference is not None:
        parts.append(f"queries ≤ at {reference:,}")
    return ", ".join(parts)


def series_section(bench) -> list[Row]:
    """The `series` section of `run`: sizes from --series-sizes (default 10,000 and 100,000, and 1,000,000 with
    --series-1m / BENCH_SERIES_1M=1)."""
    options = bench.options
    if options["series_sizes"]:
        sizes, not_run = series_sizes(explicit=options["series_sizes"]), set()
    else:
        sizes = series_sizes(with_1m=True)
        not_run = set() if options["series_1m"] else {SERIES_SIZE_1M}
    template = options["series_url"] or default_url_template(connection.vendor, os.environ.get("DATABASE_URL", ""))
    reuse = {}
    if os.environ.get("DATABASE_URL") and not options["series_url"] and bench.total in sizes:
        reuse[bench.total] = os.environ["DATABASE_URL"]  # e.g. make bench's 100,000 in closeout_bench
    series = Series(
        sizes=sizes,
        url_for=lambda size: template.format(label=size_label(size)),
        requests=bench.n,
        warmup=bench.warmup,
        log=bench.log,
        not_run=not_run,
        reuse=reuse,
        rules_max=options["series_rules_max"],
    )
    rows = series.run()
    bench.series_generated = series.generated
    return rows


def series_docs_write(*, rows: list[Row], bench, summary: str) -> None:
    """The series table in its own section of docs/benchmarks.md (`series-sqlite`, `series-postgresql`), with how
    each size's data was generated; the database's main table is left as it is."""
    passed, failed = sum(r.ok is True for r in rows), sum(r.ok is False for r in rows)
    skipped = sum(bool(getattr(r, "skipped", "")) for r in rows)
    generated = []
    for size, info in sorted(getattr(bench, "series_generated", {}).items()):
        reused = f", reused by this run ({info['reused']})" if info.get("reused") else ""
        generated.append(
            f"{size:,} campaigns generated in {info['seconds']:.0f} s wall on {info['date']} ({info['spec']}){reused}"
        )
    docs_write(
        vendor=connection.vendor,
        section=f"series-{connection.vendor}",
        label=f"Series: pages as the data grows, {bench.vendor_label}",
        table=rows_markdown(rows),
        total=bench.total,
        requests=bench.n,
        summary=f"Series rows: {passed} PASS, {failed} FAIL, {skipped} not run. Whole run: {summary}",
        generator="; ".join(generated) + ("." if generated else ""),
    )
