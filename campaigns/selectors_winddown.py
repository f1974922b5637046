"""Reads for the wind-down checklist, the pause impact monitor and notifications, scoped to what a user may see."""

import dataclasses
import datetime as dt
from decimal import Decimal

from django.db.models import Prefetch, Q, QuerySet
from django.utils import timezone

from .models import (
    WINDDOWN_STEP_COUNT,
    Action,
    Campaign,
    CampaignWatch,
    DailyMetric,
    Notification,
    Status,
    StatusChange,
    WindDownStep,
)
from .selectors import User, campaigns_for_user


def winddown_steps_for(*, campaign: Campaign) -> list[WindDownStep]:
    """The campaign's checklist in order (empty when it has none)."""
    return list(WindDownStep.objects.filter(campaign=campaign).select_related("done_by").order_by("position"))


def winddown_incomplete(queryset: QuerySet[Campaign]) -> QuerySet[Campaign]:
    """Ended campaigns whose checklist has open steps (or was never started): the list's "wind-down
    incomplete" filter."""
    return queryset.filter(status=Status.ENDED).filter(
        Q(winddown_done__lt=WINDDOWN_STEP_COUNT) | Q(winddown_done__isnull=True)
    )


def winddown_open_campaigns_for_user(*, user: User) -> QuerySet[Campaign]:
    """Every ended campaign of the user's accounts with open steps, oldest end first, each with its open
    steps prefetched (`open_steps`). Three queries whatever the number of campaigns."""
    return (
        winddown_incomplete(campaigns_for_user(user=user))
        .select_related("account")
        .prefetch_related(
            Prefetch(
                "winddown_steps",
                queryset=WindDownStep.objects.filter(done_at__isnull=True).order_by("position"),
                to_attr="open_steps",
            )
        )
        .order_by("ended_at", "pk")
    )


def campaign_is_watched(*, user: User, campaign: Campaign) -> bool:
    if not user.is_authenticated:
        return False
    return CampaignWatch.objects.filter(user=user, campaign=campaign).exists()


def notifications_for_user(*, user: User) -> QuerySet[Notification]:
    """The user's notifications, newest first, with their campaigns' account zones (one more query for a page), so
    each is dated in its account's time zone (`Notification.account_zone`)."""
    if not user.is_authenticated:
        return Notification.objects.none()
    zones = Campaign.objects.select_related("account").only("id", "account__timezone")
    return (
        Notification.objects.filter(recipient=user)
        .prefetch_related(Prefetch("campaigns", queryset=zones))
        .order_by("-created_at", "-id")
    )


def notifications_unread_count(*, user: User) -> int:
    if not user.is_authenticated:
        return 0
    return Notification.objects.filter(recipient=user, read_at__isnull=True).count()


# Pause impact -------------------------------------------------------------------------------------------------


@dataclasses.dataclass
class PeriodAverages:
    days: int
    spend: Decimal
    views: Decimal
    followers: Decimal


@dataclasses.dataclass
class PauseImpact:
    paused_at: dt.datetime
    resumed_at: dt.datetime | None
    before: PeriodAverages
    during: PeriodAverages
    daily: list[dict]  # {date, spend, views, followers, period: "before"|"during"|"pause day"}
    spend_after_pause: Decimal
    still_delivering: bool

    def change(self, field: str) -> Decimal | None:
        """Percent change per day, during vs before (None when there was nothing before)."""
        before, during = getattr(self.before, field), getattr(self.during, field)
        if not before:
            return None
        return ((during - before) / before * 100).quantize(Decimal("1"))

    @property
    def rows(self) -> list[dict]:
        return [
            {
                "label": label,
                "field": field,
                "before": getattr(self.before, field),
                "during": getattr(self.during, field),
                "change": self.change(field),
            }
            for label, field in (
                ("Spend per day", "spend"),
                ("Views per day", "views"),
                ("New followers per day", "followers"),
            )
        ]


def _averages(rows: list[DailyMetric], days: int) -> PeriodAverages:
    def avg(total) -> Decimal:
        return (Decimal(total) / days).quantize(Decimal("0.01")) if days else Decimal("0")

    return PeriodAverages(
        days=days,
        spend=avg(sum((r.spend for r in rows), Decimal("0"))),
        views=avg(sum(r.video_views for r in rows)),
        followers=avg(sum(r.follows for r in rows)),
    )


def pause_impact_for(*, campaign: Campaign, today: dt.date | None = None) -> PauseImpact | None:
    """The latest pause's impact: spend, views and followers per day for the 7 days before the pause and
    during it (until the resume, the end, or today), and whether delivery really stopped: any spend on a day
    after the pause day flags it. None if never paused. Three queries."""
    pause = (
        StatusChange.objects.filter(campaign=campaign, action=Action.PAUSE, to_status=Status.PAUSED)
        .order_by("-created_at", "-id")
        .first()
    )
    if pause is None:
        return None
    after = (
        StatusChange.objects.filter(campaign=campaign, created_at__gt=pause.created_at, from_status=Status.PAUSED)
        .exclude(to_status=Status.PAUSED)
        .order_by("created_at", "id")
        .first()
    )
    today = today or timezone.localdate()
    pause_day = timezone.localtime(pause.created_at).date()
    stop_day = timezone.localtime(after.created_at).date() if after else today
    metrics = list(
        DailyMetric.objects.filter(
            campaign=campaign,
            content_item__isnull=True,
            date__gte=pause_day - dt.timedelta(days=7),
            date__lte=max(stop_day, pause_day),
        ).only("date", "spend", "video_views", "follows")
    )
    before = [m for m in metrics if m.date < pause_day]
    during = [m for m in metrics if m.date > pause_day]
    during_days = max((stop_day - pause_day).days, 0)
    # Daily rows cannot tell hours apart: the pause day itself is expected to carry spend, any later day
    # with spend means delivery did not stop.
    spend_after = sum((m.spend for m in during), Decimal("0"))
    return PauseImpact(
        paused_at=pause.created_at,
        resumed_at=after.created_at if after else None,
        before=_averages(before, 7),
        during=_averages(during, during_days),
        daily=[
            {
                "date": m.date,
                "spend": m.spend,
                "views": m.video_views,
                "followers": m.follows,
                "period": "before" if m.date < pause_day else "pause day" if m.date == pause_day else "during",
            }
            for m in sorted(metrics, key=lambda m: m.date)
        ],
        spend_after_pause=spend_after,
        still_delivering=spend_after > 0,
    )
