"""Benchmark data: 50 accounts, 100,000 campaigns, 200,000 content items and 3,000,000 daily metric rows.

Fast by construction: the rows are computed column-wise with numpy, written with one `executemany` per table
inside one transaction on SQLite and with `COPY … FROM STDIN` on PostgreSQL, and the denormalised
`Campaign.total_*` columns are summed in memory while generating (no per-campaign loop against the database).

Reused: when the database already holds exactly the requested bench data, the command does nothing. Otherwise
the old bench data (accounts named "Bench account …" and everything hanging off them) is deleted first.

Only for a dedicated benchmark database (see `make bench`): the rows bypass `campaigns.services` on purpose.
Run it as `python -m tests.bench generate [--campaigns N …]` (the bulk writer is `loader`).
"""

import datetime as dt
import json
import time
from pathlib import Path

import numpy as np
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import connections, transaction
from django.utils import timezone

from campaigns.listing.stats import campaign_list_stats_rebuild
from campaigns.models import (
    Action,
    AdAccount,
    BudgetMode,
    Campaign,
    ContentItem,
    ContentKind,
    DailyMetric,
    EndReason,
    Membership,
    Objective,
    Role,
    Source,
    Status,
    StatusChange,
    SyncState,
)

from .loader import Loader, analyze, delete_tree, indexes_dropped, next_id, sequences_reset

ACCOUNT_PREFIX = "Bench account "
ACCOUNT_COUNT = 50
BENCH_USERNAME = "bench-manager"
REPORT_CAMPAIGN_NAME = "Bench 365x50"
# Every tenth campaign (besides the report campaign) also has per-content daily rows.
CONTENT_METRICS_EVERY = 10

NAME_FIRST = [
    "Spring", "Summer", "Autumn", "Winter", "Holiday", "Glow", "Fresh", "Urban", "Creator", "Flash",
    "Launch", "Brand", "Retarget", "Promo", "Viral", "Night", "Street", "Travel", "Beauty", "Fitness",
]  # fmt: skip
NAME_SECOND = [
    "Sale", "Drop", "Challenge", "Collab", "Boost", "Push", "Reset", "Edit", "Week", "Series",
    "Blast", "Moment", "Story", "Bundle", "Countdown", "Teaser", "Takeover", "Remix",
]  # fmt: skip
STATUS_SHARES = [(Status.ACTIVE, 0.55), (Status.PAUSED, 0.25), (Status.ENDED, 0.20)]
SYNC_SHARES = [(SyncState.SYNCED, 0.95), (SyncState.PENDING, 0.03), (SyncState.FAILED, 0.02)]
HISTORY_DAYS = 1100  # metric dates fall within this many days before today


class Command(BaseCommand):
    help = "Generate (or reuse) the benchmark data set in a dedicated database. See docs/benchmarks.md."

    def add_arguments(self, parser):
        parser.add_argument("--campaigns", type=int, default=100_000)
        parser.add_argument("--metrics", type=int, default=3_000_000, help="DailyMetric rows in all.")
        parser.add_argument("--content", type=int, default=200_000, help="ContentItem rows in all.")
        parser.add_argument("--report-days", type=int, default=365, help="Days of the 'Bench 365x50' campaign.")
        parser.add_argument("--report-items", type=int, default=50, help="Content items of that campaign.")
        parser.add_argument("--database", default="default", help="Database alias (DATABASE_URL picks it).")
        parser.add_argument("--seed", type=int, default=9)
        parser.add_argument("--timings-file", help="Also write the timings here as JSON (for docs/benchmarks.md).")

    def handle(self, *args, **options):
        alias = options["database"]
        spec = BenchSpec.build(
            campaigns=options["campaigns"],
            metrics=options["metrics"],
            content=options["content"],
            report_days=options["report_days"],
            report_items=options["report_items"],
        )
        started, cpu_started = time.perf_counter(), time.process_time()
        if bench_data_present(alias=alias, spec=spec):
            self.stdout.write(f"Bench data already present ({spec}); nothing to do.")
            if options["timings_file"] and Path(options["timings_file"]).exists():
                info = json.loads(Path(options["timings_file"]).read_text())
                info["reused"] = f"{timezone.now():%Y-%m-%d %H:%M} UTC"
                Path(options["timings_file"]).write_text(json.dumps(info, indent=2))
            return
        timings = bench_generate(alias=alias, spec=spec, seed=options["seed"], log=self.stdout.write)
        total, cpu = time.perf_counter() - started, time.process_time() - cpu_started
        steps = ", ".join(f"{k} {v:.1f}s" for k, v in timings.items())
        self.stdout.write(self.style.SUCCESS(f"Generated {spec} in {total:.1f}s ({steps})."))
        if options["timings_file"]:
            info = {
                "seconds": total,
                "steps": timings,
                "date": f"{timezone.now():%Y-%m-%d %H:%M} UTC",
                "spec": str(spec),
            }
            info["cpu_seconds"] = cpu
            Path(options["timings_file"]).write_text(json.dumps(info, indent=2))


class BenchSpec:
    """The requested sizes, with the report campaign shrunk to fit tiny smoke runs."""

    def __init__(self, *, campaigns, metrics, content, report_days, report_items):
        self.campaigns, self.metrics, self.content = campaigns, metrics, content
        self.report_days, self.report_items = report_days, report_items

    @classmethod
    def build(cls, *, campaigns, metrics, content, report_days=365, report_items=50):
        if campaigns < 2 or content < campaigns or metrics < 2 * campaigns:
            raise CommandError("Need ≥ 2 campaigns, ≥ 1 content item and ≥ 2 metric rows per campaign.")
        report_items = min(report_items, content // 4)
        while report_days > 1 and report_days * (1 + report_items) > metrics // 4:
            report_days = max(1, report_days // 2)
        return cls(
            campaigns=campaigns, metrics=metrics, content=content, report_days=report_days, report_items=report_items
        )

    def __str__(self):
        return (
            f"{self.campaigns:,} campaigns, {self.metrics:,} metric rows, {self.content:,} content items, "
            f"report campaign {self.report_days}×{self.report_items}"
        )


def bench_accounts(*, alias: str = "default"):
    return AdAccount.objects.using(alias).filter(name__startswith=ACCOUNT_PREFIX)


def bench_data_present(*, alias: str, spec: BenchSpec) -> bool:
    accounts = bench_accounts(alias=alias)
    campaigns = Campaign.objects.using(alias).filter(account__in=accounts)
    return (
        accounts.count() == ACCOUNT_COUNT
        and campaigns.count() == spec.campaigns
        and ContentItem.objects.using(alias).filter(campaign__in=campaigns).count() == spec.content
        and DailyMetric.objects.using(alias).filter(campaign__in=campaigns).count() == spec.metrics
        and campaigns.filter(name=REPORT_CAMPAIGN_NAME).exists()
    )


def bench_user(*, alias: str = "default"):
    """The benchmark's user: a manager in every bench account, and staff + superuser for the admin changelist."""
    User = get_user_model()
    user, created = User.objects.using(alias).get_or_create(
        username=BENCH_USERNAME,
        defaults={"email": "bench@closeout.example", "is_staff": True, "is_superuser": True},
    )
    if created:
        user.set_unusable_password()
        user.save(using=alias, update_fields=["password"])
    return user


def report_campaign(*, alias: str = "default") -> Campaign:
    return Campaign.objects.using(alias).get(name=REPORT_CAMPAIGN_NAME, account__name__startswith=ACCOUNT_PREFIX)


# Generation ------------------------------------------------------------------------------------------------


def bench_generate(*, alias: str, spec: BenchSpec, seed: int = 9, log=print) -> dict[str, float]:
    """Delete any old bench data, then write the data set described by `spec`. Returns seconds per step."""
    conn = connections[alias]
    rng = np.random.default_rng(seed)
    timings: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(name):
        nonlocal clock
        now = time.perf_counter()
        timings[name] = now - clock
        clock = now
        log(f"  {name}: {timings[name]:.1f}s")

    # Outside any transaction (the command), the load may relax constraint triggers and refresh statistics;
    # inside one (a test) it leaves both alone.
    owns_transaction = not conn.in_atomic_block
    bench_delete(alias=alias)
    lap("delete old")
    plan = _Plan(spec=spec, rng=rng, today=timezone.localdate(), vendor=conn.vendor)
    lap("plan")
    with conn.constraint_checks_disabled(), transaction.atomic(using=alias):
        user = bench_user(alias=alias)
        accounts = AdAccount.objects.using(alias).bulk_create(
            AdAccount(name=f"{ACCOUNT_PREFIX}{n + 1:02d}", advertiser_id=f"7900000000000{n + 1:06d}", currency="USD")
            for n in range(ACCOUNT_COUNT)
        )
        Membership.objects.using(alias).bulk_create(
            Membership(user=user, account=a, role=Role.MANAGER) for a in accounts
        )
        account_ids = np.array([a.pk for a in accounts], dtype=np.int64)
        with Loader(conn, relax_triggers=owns_transaction) as loader:
            first_campaign = next_id(conn, Campaign)
            first_item = next_id(conn, ContentItem)
            plan.write_campaigns(loader, first_id=first_campaign, account_ids=account_ids, user_id=user.pk)
            lap("campaigns")
            plan.write_content(loader, first_campaign=first_campaign, first_item=first_item)
            lap("content items")
            plan.write_history(loader, first_campaign=first_campaign, user_id=user.pk)
            lap("status changes")
            with indexes_dropped(conn, DailyMetric):
                plan.write_metrics(loader, first_campaign=first_campaign, first_item=first_item)
                lap("daily metrics")
            lap("daily metric indexes")
        sequences_reset(conn)
    lap("commit")
    # The load may have bypassed the triggers (PostgreSQL: session_replication_role): recompute what they keep.
    campaign_list_stats_rebuild(using=alias)
    lap("list totals, search index")
    if owns_transaction:
        analyze(conn)
        lap("analyze")
    return timings


class _Plan:
    """Every generated value, column-wise. Index 0 is the report campaign."""

    def __init__(self, *, spec: BenchSpec, rng: np.random.Generator, today: dt.date, vendor: str):
        self.spec, self.rng, self.today, self.vendor = spec, rng, today, vendor
        n = spec.campaigns
        self.day0 = today - dt.timedelta(days=HISTORY_DAYS)
        self.day_str = [(self.day0 + dt.timedelta(days=d)).isoformat() for d in range(HISTORY_DAYS + 400)]
        self.status = _pick(rng, STATUS_SHARES, n)
        self.status[0] = Status.ENDED

        # Content items per campaign: the report campaign gets its 50, the rest share the remainder evenly.
        items = np.zeros(n, dtype=np.int64)
        items[0] = spec.report_items
        rest = spec.content - spec.report_items
        base, extra = divmod(rest, n - 1)
        items[1:] = base
        items[1 : 1 + extra] += 1
        if base >= 2:  # vary it a little (1..3 for the default sizes) without changing the sum
            half = (n - 1) // 2 * 2
            items[1 : 1 + half : 2] -= 1
            items[2 : 2 + half : 2] += 1
        self.items = items

        # Metric days per campaign so that the rows add up to exactly spec.metrics.
        with_content = np.zeros(n, dtype=bool)
        with_content[1::CONTENT_METRICS_EVERY] = True
        with_content[0] = True
        weight = 1 + items * with_content
        days = np.zeros(n, dtype=np.int64)
        days[0] = spec.report_days
        remaining = spec.metrics - spec.report_days * weight[0]
        average = remaining / weight[1:].sum()
        days[1:] = np.maximum(1, np.rint(average * rng.uniform(0.3, 1.7, n - 1))).astype(np.int64)
        simple = np.flatnonzero(weight == 1)
        simple = simple[simple != 0]
        diff = remaining - int((days[1:] * weight[1:]).sum())
        while diff:
            # Fix the total on campaigns with one row per day: each day there is exactly one row.
            step = np.sign(diff)
            movable = simple if step > 0 else simple[days[simple] > 1]
            if not len(movable):
                raise CommandError("Cannot fit the metric rows; ask for more metrics per campaign.")
            chunk = movable[: abs(diff)]
            days[chunk] += step
            diff -= step * len(chunk)
        self.with_content, self.days = with_content, days
        self.max_days = min(int(days.max()), HISTORY_DAYS - 10)
        self.days = np.minimum(days, self.max_days)
        if (self.days * weight).sum() != spec.metrics:
            raise CommandError("A campaign needs more days than the history holds; ask for fewer metric rows.")

        # Last day with metrics: yesterday for active campaigns, some time ago for paused and ended ones.
        gap = rng.integers(1, 700, n)
        gap[self.status == Status.ACTIVE] = 1
        gap[0] = 10
        last = np.minimum(HISTORY_DAYS - gap, HISTORY_DAYS - 1)
        self.first_day = np.maximum(0, last - self.days + 1)
        self.last_day = self.first_day + self.days - 1

    # Campaigns -------------------------------------------------------------------------------------------

    def write_campaigns(self, loader, *, first_id, account_ids, user_id):
        _spec, rng, n = self.spec, self.rng, self.spec.campaigns
        ids = np.arange(first_id, first_id + n)
        account = account_ids[np.arange(n) % len(account_ids)]
        first_words = rng.integers(0, len(NAME_FIRST), n)
        second_words = rng.integers(0, len(NAME_SECOND), n)
        names = [
            f"{NAME_FIRST[a]} {NAME_SECOND[b]} {self.today.year - (i % 3)} #{i}"
            for i, (a, b) in enumerate(zip(first_words.tolist(), second_words.tolist(), strict=True))
        ]
        names[0] = REPORT_CAMPAIGN_NAME
        objectives = np.array(Objective.values, dtype=object)[rng.integers(0, len(Objective.values), n)]
        budget_mode = np.where(rng.random(n) < 0.7, BudgetMode.DAILY, BudgetMode.LIFETIME)
        budget = rng.choice([50, 80, 120, 200, 300, 500], n) * np.where(budget_mode == BudgetMode.DAILY, 1, 40)

        planned_end = self.last_day + rng.integers(10, 90, n)
        end_day = np.where(self.status == Status.ENDED, self.last_day, planned_end)
        no_end = (self.status != Status.ENDED) & (rng.random(n) < 0.3)
        changed = self.status != Status.ACTIVE
        sync = _pick(rng, SYNC_SHARES, n)
        reasons = np.array(EndReason.values, dtype=object)[rng.integers(0, len(EndReason.values), n)]

        dates, dts = self.day_str, self._datetimes()
        last_days = self.last_day.tolist()
        self.change_at = [dts[d + 1] if c else None for d, c in zip(last_days, changed.tolist(), strict=True)]
        ended = (self.status == Status.ENDED).tolist()
        totals = self._totals()
        self.totals = totals

        columns = {
            "id": ids.tolist(),
            "account_id": account.tolist(),
            "platform_id": [f"19{i:010d}" for i in range(n)],
            "name": names,
            "objective": objectives.tolist(),
            "status": self.status.tolist(),
            "sync_state": sync.tolist(),
            "sync_error": ["Platform said: rate limited" if s == SyncState.FAILED else "" for s in sync.tolist()],
            "budget_mode": budget_mode.tolist(),
            "budget_amount": budget.tolist(),
            "start_date": [dates[d] for d in self.first_day.tolist()],
            "end_date": [None if x else dates[d] for d, x in zip(end_day.tolist(), no_end.tolist(), strict=True)],
            "audience": "Broad 18+, interest: skincare",
            "target_views": (budget * 4000).tolist(),
            "owner_id": user_id,
            "created_at": [dts[d] for d in self.first_day.tolist()],
            "updated_at": loader.now,
            "status_changed_at": self.change_at,
            "status_changed_by_id": [user_id if c else None for c in changed.tolist()],
            "ended_at": [a if e else None for a, e in zip(self.change_at, ended, strict=True)],
            "end_reason": [r if e else "" for r, e in zip(reasons.tolist(), ended, strict=True)],
            "last_metric_date": [dates[d] for d in self.last_day.tolist()],
            **{f"total_{name}": values for name, values in totals.items()},
        }
        loader.insert(Campaign, columns, n)

    def _datetimes(self) -> list[str]:
        """10:30 UTC on each day, written the way each backend stores an aware datetime."""
        suffix = "" if self.vendor == "sqlite" else "+00"
        return [f"{d} 10:30:00{suffix}" for d in self.day_str]

    # Content items ---------------------------------------------------------------------------------------

    def write_content(self, loader, *, first_campaign, first_item):
        n_items = int(self.items.sum())
        self.item_campaign = np.repeat(np.arange(self.spec.campaigns), self.items)
        position = np.arange(n_items) - np.repeat(np.cumsum(self.items) - self.items, self.items)
        kinds = np.array([ContentKind.VIDEO, ContentKind.VIDEO, ContentKind.POST, ContentKind.HASHTAG], dtype=object)
        kind = kinds[position % 4].tolist()
        camp = (self.item_campaign + first_campaign).tolist()
        pos = position.tolist()
        columns = {
            "id": list(range(first_item, first_item + n_items)),
            "campaign_id": camp,
            "kind": kind,
            "title": [f"{k.capitalize()} {p + 1} of campaign {c}" for k, p, c in zip(kind, pos, camp, strict=True)],
            "url": [f"https://www.tiktok.com/@bench/video/{c}{p:03d}" for c, p in zip(camp, pos, strict=True)],
            "platform_id": [f"{c}{p:03d}" for c, p in zip(camp, pos, strict=True)],
            "created_at": loader.now,
        }
        loader.insert(ContentItem, columns, n_items)

    # History ---------------------------------------------------------------------------------------------

    def write_history(self, loader, *, first_campaign, user_id):
        """One audit row for each paused or ended campaign, matching its status."""
        changed = np.flatnonzero(self.status != Status.ACTIVE)
        status = self.status[changed].tolist()
        # Some ended campaigns were paused first; their audit row says so.
        from_paused = (self.rng.random(len(changed)) < 0.3).tolist()
        columns = {
            "campaign_id": (changed + first_campaign).tolist(),
            "action": [Action.PAUSE if s == Status.PAUSED else Action.END for s in status],
            "from_status": [
                Status.PAUSED if s == Status.ENDED and p else Status.ACTIVE
                for s, p in zip(status, from_paused, strict=True)
            ],
            "to_status": status,
            "reason_code": [EndReason.OBJECTIVES_MET if s == Status.ENDED else "" for s in status],
            "actor_id": user_id,
            "source": Source.UI,
            "created_at": [self.change_at[i] for i in changed.tolist()],
        }
        loader.insert(StatusChange, columns, len(changed))

    # Metrics ---------------------------------------------------------------------------------------------

    def _campaign_rows(self):
        """(campaign index, day index) of every campaign-level row."""
        camp = np.repeat(np.arange(self.spec.campaigns), self.days)
        offset = np.arange(len(camp)) - np.repeat(np.cumsum(self.days) - self.days, self.days)
        return camp, self.first_day[camp] + offset

    def _values(self, camp: np.ndarray, seed: int) -> dict[str, np.ndarray]:
        """Plausible metric values for rows of these campaigns (deterministic per seed)."""
        rng = np.random.default_rng(seed)
        n = len(camp)
        quality = self._quality[camp]
        spend_cents = (self._daily_cents[camp] * rng.uniform(0.5, 1.0, n)).astype(np.int64)
        impressions = (spend_cents * 1.6 * quality).astype(np.int64)
        noise = rng.uniform(0.8, 1.2, n)
        views = (impressions * 0.35 * noise).astype(np.int64)
        return {
            "spend": spend_cents,
            "impressions": impressions,
            "reach": (impressions * 0.7 * noise).astype(np.int64),
            "clicks": (impressions * 0.01 * noise).astype(np.int64),
            "video_views": views,
            "likes": (views * 0.05 * quality).astype(np.int64),
            "comments": (views * 0.004).astype(np.int64),
            "shares": (views * 0.006 * noise).astype(np.int64),
            "follows": (views * 0.002 * quality).astype(np.int64),
            "profile_visits": (views * 0.01).astype(np.int64),
        }

    def _totals(self) -> dict[str, list]:
        """Campaign.total_* from the campaign-level rows, computed from the same values that are written."""
        n = self.spec.campaigns
        self._quality = self.rng.uniform(0.6, 1.6, n)
        self._daily_cents = self.rng.choice([4000, 8000, 12000, 20000, 30000], n).astype(np.int64)
        camp, _ = self._campaign_rows()
        values = self._values(camp, seed=1)
        totals = {}
        for name, column in values.items():
            # float64 sums of integers are exact below 2**53, far above any total here.
            totals[name] = np.bincount(camp, weights=column, minlength=n).round().astype(np.int64)
        totals["spend"] = [f"{c // 100}.{c % 100:02d}" for c in totals["spend"].tolist()]
        return {k: (v if isinstance(v, list) else v.tolist()) for k, v in totals.items()}

    def write_metrics(self, loader, *, first_campaign, first_item):
        camp, day = self._campaign_rows()
        self._write_metric_rows(loader, camp, day, None, self._values(camp, seed=1), first_campaign)
        # Per-content rows: every day of the campaign, once per content item, for the chosen campaigns.
        item_idx = np.flatnonzero(self.with_content[self.item_campaign])
        item_camp = self.item_campaign[item_idx]
        item_days = self.days[item_camp]
        rows_item = np.repeat(item_idx, item_days)
        rows_camp = np.repeat(item_camp, item_days)
        offset = np.arange(len(rows_item)) - np.repeat(np.cumsum(item_days) - item_days, item_days)
        values = self._values(rows_camp, seed=2)
        for k in values:  # a content item's share of the campaign's day
            values[k] = values[k] // np.maximum(1, self.items[rows_camp])
        self._write_metric_rows(
            loader, rows_camp, self.first_day[rows_camp] + offset, rows_item + first_item, values, first_campaign
        )

    def _write_metric_rows(self, loader, camp, day, item_ids, values, first_campaign, chunk=250_000):
        day_str = np.array(self.day_str, dtype=object)
        for start in range(0, len(camp), chunk):
            part = slice(start, start + chunk)
            size = len(camp[part])
            spend = values["spend"][part]
            columns = {
                "campaign_id": (camp[part] + first_campaign).tolist(),
                "content_item_id": None if item_ids is None else item_ids[part].tolist(),
                "date": day_str[day[part]].tolist(),
                "spend": (spend / 100).tolist(),
                **{k: v[part].tolist() for k, v in values.items() if k != "spend"},
                "updated_at": loader.now,
            }
            loader.insert(DailyMetric, columns, size)


def _pick(rng, shares, n) -> np.ndarray:
    values = np.array([v for v, _ in shares], dtype=object)
    return values[rng.choice(len(shares), size=n, p=[p for _, p in shares])].astype(str)


# Deleting old bench data -----------------------------------------------------------------------------------


def bench_delete(*, alias: str = "default") -> None:
    """Delete the bench accounts and everything hanging off them with set-based SQL (no per-row signals)."""
    conn = connections[alias]
    if not bench_accounts(alias=alias).exists():
        return
    where = f"name LIKE '{ACCOUNT_PREFIX}%'"
    with conn.constraint_checks_disabled(), transaction.atomic(using=alias), conn.cursor() as cursor:
        delete_tree(cursor, AdAccount, where, seen=())
