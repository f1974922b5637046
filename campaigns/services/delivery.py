"""Still delivering after an end: spend or impressions reported for days after the end was confirmed."""

import datetime as dt
from collections.abc import Iterable
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.db.models import Max, Q
from django.urls import reverse

from ..models import Action, Campaign, DailyMetric, NotificationKind, Status, StatusChange
from ..platforms.registry import platform_label
from .notifications import platform_notify_managers


def still_delivering_detect(*, campaign_ids: Iterable[int]) -> list[int]:
    """Flag ended campaigns whose metrics show spend or impressions on a day more than
    CLOSEOUT_DELIVERY_GRACE_DAYS after the end was confirmed (reporting delay is not delivery); tell the
    managers once per episode. Clears the flag when no such day remains (e.g. after a re-sent end).
    Called after every metrics pull and import. Returns the ids newly flagged."""
    grace = dt.timedelta(days=settings.CLOSEOUT_DELIVERY_GRACE_DAYS)
    ended = {
        c.pk: c
        for c in Campaign.objects.filter(
            pk__in=list(campaign_ids), status=Status.ENDED, ended_at__isnull=False
        ).select_related("account")
    }
    if not ended:
        return []
    confirmed = dict(
        StatusChange.objects.filter(
            campaign_id__in=list(ended), action=Action.SYNC, to_status=Status.ENDED, details__event="confirmed"
        )
        .values("campaign_id")
        .annotate(last=Max("created_at"))
        .values_list("campaign_id", "last")
    )
    thresholds = {}
    for pk, c in ended.items():
        try:
            zone = ZoneInfo(c.account.timezone)
        except (ValueError, KeyError, OSError):
            zone = dt.UTC
        stopped = max(c.ended_at, confirmed.get(pk, c.ended_at))
        thresholds[pk] = stopped.astimezone(zone).date() + grace
    first_after: dict[int, dt.date] = {}
    for pk, day in (
        DailyMetric.objects.filter(
            campaign_id__in=list(ended), content_item__isnull=True, date__gt=min(thresholds.values())
        )
        .filter(Q(spend__gt=0) | Q(impressions__gt=0))
        .order_by("date")
        .values_list("campaign_id", "date")
    ):
        if day > thresholds[pk] and pk not in first_after:
            first_after[pk] = day
    newly = [pk for pk, day in first_after.items() if ended[pk].still_delivering_since is None]
    cleared = [pk for pk, c in ended.items() if c.still_delivering_since and pk not in first_after]
    with transaction.atomic():
        for pk in newly:
            Campaign.objects.filter(pk=pk).update(still_delivering_since=first_after[pk])
        if cleared:
            Campaign.objects.filter(pk__in=cleared).update(still_delivering_since=None)
    for pk in newly:
        c = ended[pk]
        platform_notify_managers(
            account=c.account,
            kind=NotificationKind.STILL_DELIVERING,
            title=f"“{c.name}” is still delivering after its end",
            body=(
                f"Metrics show spend or impressions on {first_after[pk]:%d %b %Y}, after the campaign ended. "
                f"Check it in {platform_label(c.account)} Ads Manager or re-send the end."
            ),
            url=reverse("campaigns:detail", args=[pk]),
            campaign_ids=[pk],
            dedupe_key=f"still-delivering:{pk}:{first_after[pk]:%Y%m%d}",
        )
    return newly
