"""Pull: the platform's campaigns (and status drift) and daily metrics into Closeout; the still-delivering check."""

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.db.models import Max, Q
from django.urls import reverse
from django.utils import timezone

from ..models import (
    Action,
    AdAccount,
    BudgetMode,
    Campaign,
    ContentItem,
    DailyMetric,
    EndReason,
    NotificationKind,
    Objective,
    Source,
    Status,
    StatusChange,
    SyncState,
)
from ..services.metrics import daily_metrics_upsert
from ..services.notifications import platform_notify_managers
from ..services.transitions import campaigns_transition
from .base import DELETE, ConnectorError
from .push import OBJECTIVE_FROM_PLATFORM, PLATFORM_STATUS_TO_OURS, account_reconnect_needed, platform_logger
from .registry import connector_for

# Pull ------------------------------------------------------------------------------------------------------


def _account_today(account: AdAccount) -> dt.date:
    try:
        zone = ZoneInfo(account.timezone)
    except (ValueError, KeyError, OSError):
        zone = dt.UTC
    return timezone.now().astimezone(zone).date()


def platform_campaigns_pull(*, account: AdAccount, connector, platform_ids: list[str] | None = None) -> dict:
    """Create campaigns the platform has and we do not, update names/objectives/budgets of the others, and
    reflect status changes made on the platform (drift) with source=platform. Campaigns with a push pending or
    failed are left alone: our recorded intent wins until the platform confirms it."""
    records = list(connector.campaigns_list(platform_ids=platform_ids))
    ours = {c.platform_id: c for c in Campaign.objects.filter(account=account).exclude(platform_id="")}
    now = timezone.now()
    to_create, to_update = [], []
    drift: dict[str, list[int]] = defaultdict(list)
    drift_status: dict[int, str] = {}
    for record in records:
        if not record.platform_id:
            continue
        operation = DELETE if record.is_deleted else record.operation_status
        objective = OBJECTIVE_FROM_PLATFORM.get(record.objective_type)
        budget_mode = BudgetMode.LIFETIME if record.budget_mode == "BUDGET_MODE_TOTAL" else BudgetMode.DAILY
        campaign = ours.get(record.platform_id)
        if campaign is None:
            status = PLATFORM_STATUS_TO_OURS.get(operation, Status.ACTIVE)
            to_create.append(
                Campaign(
                    account=account,
                    platform_id=record.platform_id,
                    name=record.name or f"TikTok campaign {record.platform_id}",
                    objective=objective or Objective.VIDEO_VIEWS,
                    budget_mode=budget_mode,
                    budget_amount=record.budget,
                    start_date=(record.created or now).date(),
                    status=status,
                    platform_status=operation[:40],
                    sync_state=SyncState.SYNCED,
                    ended_at=(record.modified or now) if status == Status.ENDED else None,
                    end_reason=EndReason.OTHER if status == Status.ENDED else "",
                )
            )
            continue
        changed = False
        for field, value in (
            ("name", record.name or campaign.name),
            ("objective", objective or campaign.objective),
            ("budget_mode", budget_mode),
            ("budget_amount", record.budget),
            ("platform_status", operation[:40]),
        ):
            if getattr(campaign, field) != value:
                setattr(campaign, field, value)
                changed = True
        if changed:
            campaign.updated_at = now
            to_update.append(campaign)
        wanted = PLATFORM_STATUS_TO_OURS.get(operation)
        if campaign.sync_state != SyncState.SYNCED or wanted is None or wanted == campaign.status:
            continue
        action = {
            (Status.ACTIVE, Status.PAUSED): Action.PAUSE,
            (Status.PAUSED, Status.ACTIVE): Action.RESUME,
            (Status.ACTIVE, Status.ENDED): Action.END,
            (Status.PAUSED, Status.ENDED): Action.END,
        }.get((campaign.status, wanted))
        if action:
            drift[action].append(campaign.pk)
            drift_status[campaign.pk] = operation
    with transaction.atomic():
        Campaign.objects.bulk_create(to_create, batch_size=500)
        Campaign.objects.bulk_update(
            to_update, ["name", "objective", "budget_mode", "budget_amount", "platform_status", "updated_at"], 500
        )
        drifted = 0
        for action, ids in drift.items():
            # Re-check under lock: a user's pause/resume recorded since we read is not overridden.
            still_synced = list(
                Campaign.objects.select_for_update(of=("self",))
                .filter(pk__in=ids, sync_state=SyncState.SYNCED)
                .values_list("pk", flat=True)
            )
            if not still_synced:
                continue
            extra = (
                {"reason_code": EndReason.OTHER, "reason_note": "Deleted in TikTok Ads Manager."}
                if action == Action.END
                else {}
            )
            result = campaigns_transition(
                campaign_ids=still_synced,
                action=action,
                actor=None,
                source=Source.PLATFORM,
                enforce_role=False,
                **extra,
            )
            # The platform is where the change came from: nothing to push back.
            Campaign.objects.filter(pk__in=result.changed_ids).update(sync_state=SyncState.SYNCED)
            drifted += len(result.changed_ids)
    return {"campaigns_seen": len(records), "created": len(to_create), "updated": len(to_update), "drifted": drifted}


def platform_metrics_pull(
    *, account: AdAccount, connector, start: dt.date, end: dt.date, platform_ids: list[str] | None = None
) -> dict:
    """Daily metrics at campaign and ad level into DailyMetric (idempotent). Ads we do not know yet become
    content items of their campaign. Returns counts."""
    campaigns = dict(Campaign.objects.filter(account=account).exclude(platform_id="").values_list("platform_id", "pk"))
    rows: list[dict] = []
    skipped = 0
    for record in connector.daily_metrics(start=start, end=end, level="campaign", platform_ids=platform_ids):
        pk = campaigns.get(record.campaign_id)
        if pk is None:
            skipped += 1
            continue
        rows.append({"campaign_id": pk, "content_item_id": None, "date": record.date, **record.metrics})
    ad_records = [
        r
        for r in connector.daily_metrics(start=start, end=end, level="ad", platform_ids=platform_ids)
        if r.campaign_id in campaigns and r.ad_id
    ]
    items = {
        (campaign_id, platform_id): pk
        for pk, campaign_id, platform_id in ContentItem.objects.filter(campaign__account=account)
        .exclude(platform_id="")
        .values_list("pk", "campaign_id", "platform_id")
    }
    new_items = {}
    for r in ad_records:
        key = (campaigns[r.campaign_id], r.ad_id)
        if key not in items and key not in new_items:
            new_items[key] = ContentItem(campaign_id=key[0], platform_id=r.ad_id, title=r.ad_name or f"Ad {r.ad_id}")
    with transaction.atomic():
        ContentItem.objects.bulk_create(list(new_items.values()), batch_size=500)
        items |= {key: item.pk for key, item in new_items.items()}
        for r in ad_records:
            item_pk = items[(campaigns[r.campaign_id], r.ad_id)]
            rows.append(
                {"campaign_id": campaigns[r.campaign_id], "content_item_id": item_pk, "date": r.date, **r.metrics}
            )
        created, updated = daily_metrics_upsert(rows=rows)
    return {
        "metric_rows": len(rows),
        "created": created,
        "updated": updated,
        "unknown_campaign_rows": skipped,
        "new_content_items": len(new_items),
        "campaign_ids": sorted({r["campaign_id"] for r in rows}),
    }


def still_delivering_detect(*, campaign_ids: Iterable[int]) -> list[int]:
    """Flag ended campaigns whose metrics show spend or impressions on a day more than
    CLOSEOUT_DELIVERY_GRACE_DAYS after the end was confirmed (reporting delay is not delivery); tell the
    managers once per episode. Clears the flag when no such day remains (e.g. after a re-sent end).
    Returns the ids newly flagged."""
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
                "Check it in TikTok Ads Manager or re-send the end."
            ),
            url=reverse("campaigns:detail", args=[pk]),
            campaign_ids=[pk],
            dedupe_key=f"still-delivering:{pk}:{first_after[pk]:%Y%m%d}",
        )
    return newly


def platform_pull_account(*, account: AdAccount, days: int = 30, today: dt.date | None = None) -> dict:
    """Sync one connected account: campaigns (and drift), then daily metrics for the last `days` days, then
    the still-delivering check. Records the outcome on the account; returns a summary (with "error" when the
    platform refused; auth errors also mark the account "needs reconnect")."""
    connector = connector_for(account)
    if not connector.talks_to_platform:
        return {"skipped": "manual account"}
    end = today or _account_today(account)
    start = end - dt.timedelta(days=max(days, 1) - 1)
    try:
        summary = {"campaigns": platform_campaigns_pull(account=account, connector=connector)}
        metrics = platform_metrics_pull(account=account, connector=connector, start=start, end=end)
    except ConnectorError as error:
        if error.auth:
            account_reconnect_needed(account=account, message=error.message)
        else:
            AdAccount.objects.filter(pk=account.pk).update(sync_error=error.message)
            account.sync_error = error.message
        platform_logger.warning("Sync of account %s failed: %s", account.pk, error.message)
        return {"error": error.message}
    summary["metrics"] = {k: v for k, v in metrics.items() if k != "campaign_ids"}
    summary["still_delivering"] = still_delivering_detect(
        campaign_ids=Campaign.objects.filter(account=account, status=Status.ENDED).values_list("pk", flat=True)
    )
    now = timezone.now()
    AdAccount.objects.filter(pk=account.pk).update(last_synced_at=now, sync_error="", needs_reconnect=False)
    account.last_synced_at, account.sync_error, account.needs_reconnect = now, "", False
    return summary


def platform_pull_campaign(*, campaign: Campaign, today: dt.date | None = None) -> dict:
    """A final pull of one campaign (status and all its daily metrics since its start), e.g. just before the
    close snapshot is taken. Never raises for platform errors: returns {"error": …} and leaves data as it was."""
    account = campaign.account
    connector = connector_for(account)
    if not connector.talks_to_platform or not campaign.platform_id:
        return {"skipped": "not connected"}
    end = today or _account_today(account)
    try:
        campaigns = platform_campaigns_pull(account=account, connector=connector, platform_ids=[campaign.platform_id])
        metrics = platform_metrics_pull(
            account=account,
            connector=connector,
            start=min(campaign.start_date, end),
            end=end,
            platform_ids=[campaign.platform_id],
        )
    except ConnectorError as error:
        if error.auth:
            account_reconnect_needed(account=account, message=error.message)
        return {"error": error.message}
    still_delivering_detect(campaign_ids=[campaign.pk])
    campaign.refresh_from_db()
    return {"campaigns": campaigns, "metrics": {k: v for k, v in metrics.items() if k != "campaign_ids"}}
