"""Generated campaign data for report tests: metrics written through the real service (totals maintained)."""

import datetime as dt
import random
from decimal import Decimal

import pytest
from django.core.cache import cache

from campaigns.models import COUNT_METRIC_FIELDS, Action, ContentKind, EndReason, Source
from campaigns.services import campaign_transition, daily_metrics_upsert
from tests.factories import ContentItemFactory

from .snapshot_inputs import day_metrics

START = dt.date(2025, 3, 3)  # a Monday


def metrics_generate(campaign, *, days, seed=1, content=3, zero_views=False, start=START):
    """`days` days of campaign-level metrics plus per-content rows for `content` items; returns the rows."""
    rng = random.Random(seed)
    kinds = [ContentKind.VIDEO, ContentKind.POST, ContentKind.HASHTAG]
    items = [ContentItemFactory(campaign=campaign, title=f"Clip {i + 1}", kind=kinds[i % 3]) for i in range(content)]
    rows = []
    for i in range(days):
        row = {
            "campaign_id": campaign.pk,
            "content_item_id": None,
            "date": start + dt.timedelta(days=i),
            **day_metrics(rng, zero=zero_views),
        }
        rows.append(row)
        for item in items:
            share = rng.randint(1, 3)
            rows.append(
                {
                    **row,
                    **{f: row[f] // (share + 1) for f in COUNT_METRIC_FIELDS},
                    "spend": (row["spend"] / (share + 1)).quantize(Decimal("0.01")),
                    "content_item_id": item.pk,
                }
            )
    daily_metrics_upsert(rows=rows)
    campaign.refresh_from_db()
    return rows


def campaign_end(campaign, actor, *, reason=EndReason.OBJECTIVES_MET, note=""):
    return campaign_transition(
        campaign=campaign, action=Action.END, actor=actor, source=Source.UI, reason_code=reason, reason_note=note
    )


@pytest.fixture
def ended_report(campaign, manager, django_capture_on_commit_callbacks):
    """The fixture campaign with 14 days of metrics, ended by the manager; returns (campaign, report)."""
    metrics_generate(campaign, days=14)
    with django_capture_on_commit_callbacks(execute=True):
        campaign_end(campaign, manager)
    campaign.refresh_from_db()
    return campaign, campaign.close_report


@pytest.fixture
def cache_cleared():
    """An empty cache before and after (rate limits and cached pages live there)."""
    cache.clear()
    yield
    cache.clear()
