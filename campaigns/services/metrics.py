"""Daily metrics and the campaign totals kept from them."""

from collections.abc import Iterable
from datetime import date
from decimal import Decimal

from django.db import connection, transaction
from django.db.models import Count, Max, Sum
from django.utils import timezone

from ..models import (
    COUNT_METRIC_FIELDS,
    METRIC_FIELDS,
    Campaign,
    DailyMetric,
)


def campaign_totals_refresh(*, campaign_ids: Iterable[int]) -> int:
    """Recompute the denormalised totals of these campaigns from their campaign-level daily metrics.

    Called by everything that writes DailyMetric (seed, CSV import, platform sync). One aggregate query
    plus one bulk update, whatever the number of campaigns. Returns the number of campaigns updated."""
    ids = list({int(pk) for pk in campaign_ids})
    if not ids:
        return 0
    aggregates = {
        row["campaign_id"]: row
        for row in DailyMetric.objects.filter(campaign_id__in=ids, content_item__isnull=True)
        .values("campaign_id")
        .annotate(**{f"t_{f}": Sum(f) for f in METRIC_FIELDS}, last=Max("date"), n=Count("id"))
    }
    campaigns = []
    for pk in ids:
        agg = aggregates.get(pk, {})
        campaign = Campaign(pk=pk)
        campaign.total_spend = agg.get("t_spend") or Decimal("0")
        for field in COUNT_METRIC_FIELDS:
            setattr(campaign, f"total_{field}", agg.get(f"t_{field}") or 0)
        campaign.last_metric_date = agg.get("last")
        campaigns.append(campaign)
    fields = [f"total_{f}" for f in METRIC_FIELDS] + ["last_metric_date"]
    Campaign.objects.bulk_update(campaigns, fields, batch_size=500)
    return len(campaigns)


def daily_metrics_upsert(*, rows: list[dict], refresh_totals: bool = True) -> tuple[int, int]:
    """Insert or update daily metric rows, keyed by (campaign_id, content_item_id or None, date).

    Each row is a dict with `campaign_id`, `content_item_id` (may be None), `date` and metric fields.
    Idempotent: the same rows again change nothing. Returns (created, updated)."""
    if not rows:
        return (0, 0)
    campaign_ids = {r["campaign_id"] for r in rows}
    dates = [r["date"] for r in rows]
    existing = {
        (m.campaign_id, m.content_item_id, m.date): m
        for m in DailyMetric.objects.filter(campaign_id__in=campaign_ids, date__gte=min(dates), date__lte=max(dates))
    }
    to_create, to_update = [], []
    for row in rows:
        key = (row["campaign_id"], row.get("content_item_id"), row["date"])
        values = {f: row.get(f, 0) or 0 for f in METRIC_FIELDS}
        values["spend"] = Decimal(str(values["spend"]))
        metric = existing.get(key)
        if metric is None:
            to_create.append(DailyMetric(campaign_id=key[0], content_item_id=key[1], date=key[2], **values))
            existing[key] = to_create[-1]
        elif any(getattr(metric, f) != v for f, v in values.items()):
            for f, v in values.items():
                setattr(metric, f, v)
            metric.updated_at = timezone.now()
            to_update.append(metric)
    with transaction.atomic():
        DailyMetric.objects.bulk_create(to_create, batch_size=1000)
        DailyMetric.objects.bulk_update(to_update, [*METRIC_FIELDS, "updated_at"], batch_size=1000)
        if refresh_totals:
            campaign_totals_refresh(campaign_ids=campaign_ids)
    return (len(to_create), len(to_update))


DAILY_ROW_COLUMNS = ("campaign_id", "content_item_id", "date", *METRIC_FIELDS)
_STAGE = "closeout_daily_metric_stage"
_STAGE_BATCH = 10_000


def daily_metrics_bulk_upsert(
    *, rows=None, select: tuple[str, list] | None = None, created: int | None = None, refresh_totals: bool = True
) -> tuple[int, int]:
    """Insert or update many daily metric rows at database speed, keyed as in `daily_metrics_upsert`, each key at
    most once: `rows`, tuples in DAILY_ROW_COLUMNS order (campaign id, content item id or None, day, the
    METRIC_FIELDS), or `select`, (a SELECT giving those columns by those names, its params) — the rows staged
    by an import (`imports.plan_apply`). `created`, when the caller knows how many of the rows are new (an
    import's plan, made in the same transaction), spares counting them.

    Tuples go into a temporary staging table first (PostgreSQL: COPY through psycopg's `cursor.copy()`;
    otherwise `executemany`); then into campaigns_dailymetric with one INSERT … SELECT … ON CONFLICT per partial
    unique constraint (campaign days, content days). A row whose values are already stored is left as it is
    (its `updated_at` too): the same rows again change nothing. Runs in the caller's transaction (one is opened
    if there is none), so a failure stores nothing; the staging table is dropped before it returns. Returns
    (created, updated)."""
    columns = ", ".join(DAILY_ROW_COLUMNS)
    metric_types = ", ".join(f"{f} {'numeric(14, 2)' if f == 'spend' else 'bigint'} NOT NULL" for f in METRIC_FIELDS)
    now = timezone.now()
    with transaction.atomic(), connection.cursor() as cursor:
        if select is None:
            cursor.execute(f"DROP TABLE IF EXISTS {_STAGE}")
            cursor.execute(
                f"CREATE TEMPORARY TABLE {_STAGE} (campaign_id bigint NOT NULL, content_item_id bigint, "
                f"date date NOT NULL, {metric_types})"
            )
            _rows_stage(cursor, rows)
            source, params = f"{_STAGE} AS s", []
        else:
            source, params = f"({select[0]}) AS s", list(select[1])
        if created is None:
            created = 0
            for condition in (
                "s.content_item_id IS NULL AND m.content_item_id IS NULL",
                "s.content_item_id IS NOT NULL AND m.content_item_id = s.content_item_id",
            ):
                cursor.execute(
                    f"SELECT COUNT(*) FROM {source} WHERE NOT EXISTS (SELECT 1 FROM campaigns_dailymetric m "  # noqa: S608  # nosec B608
                    f"WHERE m.campaign_id = s.campaign_id AND m.date = s.date AND {condition}) "
                    f"AND s.content_item_id IS {'' if 'NOT' not in condition else 'NOT '}NULL",
                    params,
                )
                created += cursor.fetchone()[0]
        changed = " OR ".join(f"campaigns_dailymetric.{f} <> excluded.{f}" for f in METRIC_FIELDS)
        assign = ", ".join(f"{f} = excluded.{f}" for f in (*METRIC_FIELDS, "updated_at"))
        written = 0
        for condition, target in (
            ("content_item_id IS NULL", "(campaign_id, date) WHERE content_item_id IS NULL"),
            ("content_item_id IS NOT NULL", "(campaign_id, content_item_id, date) WHERE content_item_id IS NOT NULL"),
        ):
            # The SELECT's WHERE also keeps SQLite from reading ON CONFLICT as a join's ON.
            cursor.execute(
                f"INSERT INTO campaigns_dailymetric ({columns}, updated_at) SELECT {columns}, %s FROM {source} "  # noqa: S608  # nosec B608
                f"WHERE {condition} ON CONFLICT {target} DO UPDATE SET {assign} WHERE {changed}",
                [now, *params],
            )
            written += cursor.rowcount
        campaign_ids = []
        if refresh_totals:
            cursor.execute(f"SELECT DISTINCT campaign_id FROM {source}", params)  # noqa: S608  # nosec B608
            campaign_ids = [pk for (pk,) in cursor.fetchall()]
        if select is None:
            cursor.execute(f"DROP TABLE {_STAGE}")
        if campaign_ids:
            campaign_totals_refresh(campaign_ids=campaign_ids)
    return created, written - created


def _rows_stage(cursor, rows) -> None:
    columns = ", ".join(DAILY_ROW_COLUMNS)
    raw = cursor.cursor
    if hasattr(raw, "copy"):  # psycopg 3: COPY, the fastest way in
        with raw.copy(f"COPY {_STAGE} ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        return
    insert = f"INSERT INTO {_STAGE} ({columns}) VALUES ({', '.join(['%s'] * len(DAILY_ROW_COLUMNS))})"  # noqa: S608  # nosec B608
    batch = []
    for row in rows:
        # Days and money as text: what Django stores on SQLite, and no adapter per value.
        batch.append((row[0], row[1], row[2].isoformat(), str(row[3]), *row[4:]))
        if len(batch) >= _STAGE_BATCH:
            cursor.executemany(insert, batch)
            batch.clear()
    if batch:
        cursor.executemany(insert, batch)


def average_daily_spend(*, campaign: Campaign, days: int = 7, today: date | None = None) -> Decimal:
    """Average spend per day over the last `days` days with data (for "about how much spend stops")."""
    qs = DailyMetric.objects.filter(campaign=campaign, content_item__isnull=True).order_by("-date")[:days]
    spends = [m.spend for m in qs.only("spend")]
    if not spends:
        return Decimal("0")
    return (sum(spends, Decimal("0")) / len(spends)).quantize(Decimal("0.01"))
