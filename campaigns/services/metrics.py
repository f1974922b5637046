"""Daily metrics and the campaign totals kept from them."""

from collections.abc import Iterable
from datetime import date
from decimal import Decimal

from django.db import transaction
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


def average_daily_spend(*, campaign: Campaign, days: int = 7, today: date | None = None) -> Decimal:
    """Average spend per day over the last `days` days with data (for "about how much spend stops")."""
    qs = DailyMetric.objects.filter(campaign=campaign, content_item__isnull=True).order_by("-date")[:days]
    spends = [m.spend for m in qs.only("spend")]
    if not spends:
        return Decimal("0")
    return (sum(spends, Decimal("0")) / len(spends)).quantize(Decimal("0.01"))
