"""Measuring helpers of the benchmark runner (`run`): the result row, median/p95, a block rolled back, the admin
reconfigured for a run, optional services found by name, and the CSV export probe (also run in a subprocess)."""

import contextlib
import csv
import importlib
import inspect
import statistics
import time
from dataclasses import dataclass, field

from django.contrib import admin
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import Resolver404, resolve

from campaigns.models import Campaign, DailyMetric


@dataclass
class Row:
    section: str
    scenario: str
    median_ms: float | None = None
    p95_ms: float | None = None
    queries: int | None = None
    compare: str = ""
    target: str = ""
    ok: bool | None = None  # None: no target, or not measured
    note: str = ""
    sql: list[str] = field(default_factory=list, repr=False)

    @property
    def result(self) -> str:
        return {True: "PASS", False: "FAIL", None: ""}[self.ok]


class NotAvailable(Exception):
    """The page or service this scenario measures does not exist (yet)."""


def median_p95(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


class _Rollback(Exception):
    pass


@contextlib.contextmanager
def rolled_back():
    """Run the block in a transaction that is always rolled back (its on-commit callbacks never fire)."""
    try:
        with transaction.atomic():
            yield
            raise _Rollback
    except _Rollback:
        pass


# What a bulk transition writes. Each rolled-back repetition leaves its rows dead in these tables and their
# indexes; PostgreSQL's autovacuum would clear them between real bulk actions, so the bench does before each one
# (otherwise the fifth END of the same 1,000 campaigns reads four ENDs' dead checklist rows: 260 → 410 ms).
WRITTEN_TABLES = ("campaigns_campaign", "campaigns_campaign_search", "campaigns_statuschange", "campaigns_winddownstep")


def vacuum_written_tables() -> None:
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        return
    with connection.cursor() as cursor:
        for table in WRITTEN_TABLES:
            cursor.execute(f"VACUUM {table}")  # constant table names


@contextlib.contextmanager
def admin_overridden(**attributes):
    """CampaignAdmin with these attributes for the duration (it is one shared instance per process)."""
    model_admin = admin.site._registry[Campaign]
    before = {name: getattr(model_admin, name) for name in attributes}
    for name, value in attributes.items():
        setattr(model_admin, name, value)
    try:
        yield
    finally:
        for name, value in before.items():
            setattr(model_admin, name, value)


def resolve_or_unavailable(path: str) -> None:
    try:
        resolve(path.split("?")[0])
    except Resolver404:
        raise NotAvailable(f"{path.split('?')[0]} does not resolve yet") from None


def first_service(dotted_paths: list[str]):
    for dotted in dotted_paths:
        module_name, _, name = dotted.rpartition(".")
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        if callable(getattr(module, name, None)):
            return getattr(module, name)
    raise NotAvailable(f"none of {', '.join(p.rpartition('.')[2] for p in dotted_paths)} in reports.services")


def call_with(func, **available):
    """Call `func` with the keyword arguments its signature names (and that are not None)."""
    params = inspect.signature(func).parameters
    return func(**{k: v for k, v in available.items() if k in params and v is not None})


def export_probe(*, rows: int) -> dict:
    """Stream `rows` daily metrics as CSV the way a StreamingHttpResponse would, measuring time and the growth
    of the process's peak resident memory (ru_maxrss) over a warm baseline."""
    import resource  # noqa: PLC0415 — Unix only, like the benchmark

    from django.db import reset_queries  # noqa: PLC0415

    class Echo:
        def write(self, value):
            return value

    columns = ("date", "campaign_id", "campaign__name", "content_item_id", "spend", "impressions", "reach",
               "clicks", "video_views", "likes", "comments", "shares", "follows", "profile_visits")  # fmt: skip
    queryset = DailyMetric.objects.order_by("pk").values_list(*columns)[:rows]
    list(queryset[:100])  # warm: connection open, models loaded
    reset_queries()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    writer = csv.writer(Echo())
    written, count = 0, 0
    t0 = time.perf_counter()
    with CaptureQueriesContext(connection) as ctx:
        written += len(writer.writerow(["date", "campaign_id", "campaign", "content_item_id", *columns[4:]]))
        for row in queryset.iterator(chunk_size=2000):
            written += len(writer.writerow(row))
            count += 1
    seconds = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "rows": count,
        "seconds": seconds,
        "mb": written / 1e6,
        "rss_growth_mb": (after - before) / 1024,
        "rss_baseline_mb": before / 1024,
        "queries": len(ctx.captured_queries),
        "how": "no export view yet: DailyMetric.values_list().iterator(chunk_size=2000) → csv.writer, in a subprocess",
    }
