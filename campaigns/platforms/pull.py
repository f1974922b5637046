"""Pull: the platform's campaigns (and status drift) and daily metrics into Closeout, then the still-delivering
check. Reads the connector interface and its declared capabilities only (levels, report window)."""

import datetime as dt
from collections import defaultdict
from zoneinfo import ZoneInfo

from django.db import transaction
from django.utils import timezone

from ..models import (
    Action,
    AdAccount,
    Campaign,
    ContentItem,
    EndReason,
    Objective,
    Source,
    Status,
    SyncState,
)
from ..services import effects
from ..services.delivery import still_delivering_detect
from ..services.metrics import daily_metrics_upsert
from ..services.transitions import campaigns_transition
from .base import Connector, ConnectorError, MetricLevel, MetricRecord, date_windows
from .push import account_reconnect_needed, platform_logger
from .registry import connector_for

# Our status moves that a platform's status can ask for (drift); anything else is left alone.
DRIFT_ACTIONS = {
    (Status.ACTIVE, Status.PAUSED): Action.PAUSE,
    (Status.PAUSED, Status.ACTIVE): Action.RESUME,
    (Status.ACTIVE, Status.ENDED): Action.END,
    (Status.PAUSED, Status.ENDED): Action.END,
}

# Pull ------------------------------------------------------------------------------------------------------


def _account_today(account: AdAccount) -> dt.date:
    try:
        zone = ZoneInfo(account.timezone)
    except (ValueError, KeyError, OSError):
        zone = dt.UTC
    return timezone.now().astimezone(zone).date()


def platform_campaigns_pull(*, account: AdAccount, connector: Connector, platform_ids: list[str] | None = None) -> dict:
    """Create campaigns the platform has and we do not, update names/objectives/budgets of the others, and
    reflect status changes made on the platform (drift) with source=platform. Campaigns with a push pending or
    failed are left alone: our recorded intent wins until the platform confirms it."""
    records = list(connector.campaigns_pull(platform_ids=platform_ids))
    label = connector.capabilities.display_name
    ours = {c.platform_id: c for c in Campaign.objects.filter(account=account).exclude(platform_id="")}
    now = timezone.now()
    to_create, to_update = [], []
    # (action, deleted) → campaign ids: a deleted campaign's end says so in its note.
    drift: dict[tuple[str, bool], list[int]] = defaultdict(list)
    for record in records:
        if not record.platform_id:
            continue
        platform_status = record.platform_status[:40]
        campaign = ours.get(record.platform_id)
        if campaign is None:
            status = record.status or Status.ACTIVE
            to_create.append(
                Campaign(
                    account=account,
                    platform_id=record.platform_id,
                    name=record.name or f"{label} campaign {record.platform_id}",
                    objective=record.objective or Objective.VIDEO_VIEWS,
                    budget_mode=record.budget_mode,
                    budget_amount=record.budget,
                    start_date=(record.created or now).date(),
                    status=status,
                    platform_status=platform_status,
                    sync_state=SyncState.SYNCED,
                    ended_at=(record.modified or now) if status == Status.ENDED else None,
                    end_reason=EndReason.OTHER if status == Status.ENDED else "",
                )
            )
            continue
        changed = False
        for field, value in (
            ("name", record.name or campaign.name),
            ("objective", record.objective or campaign.objective),
            ("budget_mode", record.budget_mode),
            ("budget_amount", record.budget),
            ("platform_status", platform_status),
        ):
            if getattr(campaign, field) != value:
                setattr(campaign, field, value)
                changed = True
        if changed:
            campaign.updated_at = now
            to_update.append(campaign)
        if campaign.sync_state != SyncState.SYNCED or record.status is None:
            continue
        action = DRIFT_ACTIONS.get((campaign.status, record.status))
        if action:
            drift[(action, record.deleted)].append(campaign.pk)
    with transaction.atomic():
        Campaign.objects.bulk_create(to_create, batch_size=500)
        Campaign.objects.bulk_update(
            to_update, ["name", "objective", "budget_mode", "budget_amount", "platform_status", "updated_at"], 500
        )
        drifted = 0
        for (action, deleted), ids in drift.items():
            # Re-check under lock: a user's pause/resume recorded since we read is not overridden.
            still_synced = list(
                Campaign.objects.select_for_update(of=("self",))
                .filter(pk__in=ids, sync_state=SyncState.SYNCED)
                .values_list("pk", flat=True)
            )
            if not still_synced:
                continue
            extra = {}
            if action == Action.END:
                where = "Deleted" if deleted else "Ended"
                extra = {"reason_code": EndReason.OTHER, "reason_note": f"{where} in {label} Ads Manager."}
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


def _metric_records(
    connector: Connector, *, level: MetricLevel, start: dt.date, end: dt.date, platform_ids: list[str] | None
) -> list[MetricRecord]:
    """Every record of one level from start to end, asked for in windows the platform accepts."""
    records: list[MetricRecord] = []
    for window_start, window_end in date_windows(start, end, days=connector.capabilities.report_window_days):
        records += connector.metrics_pull(level=level, start=window_start, end=window_end, platform_ids=platform_ids)
    return records


def platform_metrics_pull(
    *, account: AdAccount, connector: Connector, start: dt.date, end: dt.date, platform_ids: list[str] | None = None
) -> dict:
    """Daily metrics at every level the connector supports (campaign, then ad) into DailyMetric (idempotent).
    Ads we do not know yet become content items of their campaign. Stored in one transaction after every call
    succeeded. Returns counts."""
    levels = connector.capabilities.metric_levels
    campaigns = dict(Campaign.objects.filter(account=account).exclude(platform_id="").values_list("platform_id", "pk"))
    rows: list[dict] = []
    skipped = 0
    if MetricLevel.CAMPAIGN in levels:
        for record in _metric_records(
            connector, level=MetricLevel.CAMPAIGN, start=start, end=end, platform_ids=platform_ids
        ):
            pk = campaigns.get(record.campaign_id)
            if pk is None:
                skipped += 1
                continue
            rows.append({"campaign_id": pk, "content_item_id": None, "date": record.date, **record.metrics})
    ad_records = []
    if MetricLevel.AD in levels:
        ad_records = [
            r
            for r in _metric_records(connector, level=MetricLevel.AD, start=start, end=end, platform_ids=platform_ids)
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
        if rows:
            effects.metrics_stored(account_ids=[account.pk])
    return {
        "metric_rows": len(rows),
        "created": created,
        "updated": updated,
        "unknown_campaign_rows": skipped,
        "new_content_items": len(new_items),
        "campaign_ids": sorted({r["campaign_id"] for r in rows}),
    }


def platform_pull_account(*, account: AdAccount, days: int = 30, today: dt.date | None = None) -> dict:
    """Sync one connected account: campaigns (and drift), then daily metrics for the last `days` days, then
    the still-delivering check. Records the outcome on the account; returns a summary (with "error" when the
    platform refused; auth errors also mark the account "needs reconnect")."""
    connector = connector_for(account)
    if not connector.capabilities.talks_to_platform:
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
    if not connector.capabilities.talks_to_platform or not campaign.platform_id:
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
