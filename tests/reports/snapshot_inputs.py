"""Fixed, in-memory inputs for `snapshot_build` (no database): the golden tests build and render the same
campaigns every time, so any change to what a frozen report shows is seen as a diff of the golden files."""

import datetime as dt
import random
from decimal import Decimal

from django.contrib.auth.models import User

from campaigns.models import (
    AdAccount,
    BudgetMode,
    Campaign,
    ContentKind,
    ContentState,
    EndReason,
    Objective,
    Source,
    Status,
    StatusChange,
)

START = dt.date(2025, 3, 3)


def day_metrics(rng: random.Random, *, zero: bool = False) -> dict:
    """One day's random campaign figures (also what `conftest.metrics_generate` writes)."""
    views = 0 if zero else rng.randint(100, 5000)
    return {
        "spend": Decimal(rng.randint(0, 20000)) / 100,
        "impressions": 0 if zero else views * 2 + rng.randint(0, 100),
        "reach": 0 if zero else views + rng.randint(0, 50),
        "clicks": 0 if zero else rng.randint(0, 200),
        "video_views": views,
        "likes": 0 if zero else rng.randint(0, views // 10 + 1),
        "comments": 0 if zero else rng.randint(0, 30),
        "shares": 0 if zero else rng.randint(0, 20),
        "follows": 0 if zero else rng.randint(0, 15),
        "profile_visits": 0 if zero else rng.randint(0, 40),
    }


def _daily(days: int, *, seed: int, zero: bool = False) -> list[dict]:
    rng = random.Random(seed)
    return [{"date": START + dt.timedelta(days=i), **day_metrics(rng, zero=zero)} for i in range(days)]


def _at(day: int, hour: int = 10) -> dt.datetime:
    return dt.datetime.combine(START + dt.timedelta(days=day), dt.time(hour, 15), tzinfo=dt.UTC)


def full_campaign() -> dict:
    """20 days, four content items, targets met and missed, a lifetime budget, two pauses, a note."""
    account = AdAccount(id=7, name="Glow & Co", currency="EUR", timezone="Europe/Berlin")
    alice = User(id=3, username="alice", first_name="Alice", last_name="Martin")
    bob = User(id=4, username="bob")
    campaign = Campaign(
        id=42,
        account=account,
        name="Spring <Glow> Serum",
        platform_id="1790000000042",
        objective=Objective.ENGAGEMENT,
        status=Status.ENDED,
        budget_mode=BudgetMode.LIFETIME,
        budget_amount=Decimal("2500.00"),
        start_date=START,
        end_date=START + dt.timedelta(days=25),
        target_views=20000,
        target_followers=10**6,
        target_engagement_rate=Decimal("3.5"),
        target_cost_per_result=Decimal("0.9"),
        ended_at=_at(19, 17),
        end_reason=EndReason.OBJECTIVES_MET,
    )
    changes = [
        StatusChange(id=1, from_status=Status.ACTIVE, to_status=Status.PAUSED, created_at=_at(4), actor=bob),
        StatusChange(id=2, from_status=Status.PAUSED, to_status=Status.ACTIVE, created_at=_at(6), actor=alice),
        StatusChange(id=3, from_status=Status.ACTIVE, to_status=Status.PAUSED, created_at=_at(15, 23), actor=alice),
        StatusChange(
            id=4,
            from_status=Status.PAUSED,
            to_status=Status.ENDED,
            created_at=_at(19, 17),
            actor=alice,
            reason_code=EndReason.OBJECTIVES_MET,
            reason_note="Launch goals reached early; budget moved to the summer drop",
            source=Source.UI,
        ),
    ]
    daily = _daily(20, seed=5)
    kinds = [ContentKind.VIDEO, ContentKind.POST, ContentKind.HASHTAG, ContentKind.VIDEO]
    items = [
        {
            "id": 100 + i,
            "title": title,
            "kind": kinds[i],
            "url": url,
            "state": ContentState.choices[i % len(ContentState.choices)][0],
        }
        for i, (title, url) in enumerate(
            [
                ("Duet with @mira", "https://www.tiktok.com/@glow/video/1"),
                ("Before/after post", "javascript:alert(1)"),
                ("#GlowChallenge", ""),
                ("Unboxing", "http://example.com/unboxing"),
            ]
        )
    ]
    content_totals = {}
    for i, item in enumerate(items[:3]):  # the fourth item has no metrics
        share = i + 2
        content_totals[item["id"]] = {
            "spend": sum((r["spend"] / share).quantize(Decimal("0.01")) for r in daily),
            **{f: sum(r[f] // share for r in daily) for f in daily[0] if f not in ("date", "spend")},
        }
    return {
        "campaign": campaign,
        "daily_rows": daily,
        "content_items": items,
        "content_totals": content_totals,
        "changes": changes,
        "now": _at(19, 18),
    }


def _plain(campaign: Campaign, *, days: int, zero: bool, now: dt.datetime) -> dict:
    """A campaign without content items or history (a report rebuilt for a campaign ended long ago)."""
    return {
        "campaign": campaign,
        "daily_rows": _daily(days, seed=9, zero=zero),
        "content_items": [],
        "content_totals": {},
        "changes": [],
        "now": now,
    }


def zero_views_campaign() -> dict:
    """Five days of spend without a single view (every rate is "—"), a daily budget, no targets, an unknown zone."""
    account = AdAccount(id=8, name="Quiet Ltd", currency="USD", timezone="Not/AZone")
    campaign = Campaign(id=43, account=account, name="Quiet Week", objective=Objective.TRAFFIC, start_date=START)
    campaign.budget_mode, campaign.budget_amount = BudgetMode.DAILY, Decimal("40.00")
    campaign.status, campaign.ended_at, campaign.end_reason = Status.ENDED, _at(5), EndReason.BUDGET_CONSTRAINTS
    return _plain(campaign, days=5, zero=True, now=_at(5, 12))


def empty_campaign() -> dict:
    """Ended without any metric (budget fields left at their defaults)."""
    account = AdAccount(id=9, name="Old Account", currency="GBP", timezone="UTC")
    campaign = Campaign(id=44, account=account, name="Old Campaign", objective=Objective.REACH, start_date=START)
    campaign.status, campaign.end_reason = Status.ENDED, EndReason.OTHER
    return _plain(campaign, days=0, zero=False, now=_at(0, 12))


CASES = {"full": full_campaign, "zero_views": zero_views_campaign, "empty": empty_campaign}
