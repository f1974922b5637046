"""Pull: the platform's campaigns (and status drift) and daily metrics into Closeout, then the still-delivering
check. Reads the connector interface and its declared capabilities only (levels, report window)."""

import datetime as dt
from collections import defaultdict

from django.db import transaction
from django.utils import timezone

from ..models import (
    Action,
    AdAccount,
    Campaign,
    EndReason,
    MetricPull,
    Objective,
    PullKind,
    Source,
    Status,
    SyncState,
)
from ..services.delivery import still_delivering_detect
from ..services.transitions import campaigns_transition
from . import history
from .base import Connector, ConnectorError
from .push import account_reconnect_needed, platform_logger

# Our status moves that a platform's status can ask for (drift); anything else is left alone.
DRIFT_ACTIONS = {
    (Status.ACTIVE, Status.PAUSED): Action.PAUSE,
    (Status.PAUSED, Status.ACTIVE): Action.RESUME,
    (Status.ACTIVE, Status.ENDED): Action.END,
    (Status.PAUSED, Status.ENDED): Action.END,
}

# Pull ------------------------------------------------------------------------------------------------------


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
    return {
        "campaigns_seen": len(records),
        "created": len(to_create),
        "updated": len(to_update),
        "drifted": drifted,
        "new_ids": [c.pk for c in to_create],
    }


def platform_metrics_pull(*, account: AdAccount, connector: Connector, start: dt.date, end: dt.date) -> dict:
    """Daily metrics from `start` to `end` at every level the connector supports (campaign, then ad) into
    DailyMetric (idempotent), as the account's periodic-sync pull: each window and level committed on its own,
    and a pull that stopped half-way resumes after what it committed (`history.metric_pull_run`). Raises the
    ConnectorError that stopped it. Returns counts."""
    pull = history.sync_pull_prepare(account=account, start=start, end=end)
    return history.metric_pull_run(pull=pull, connector=connector)


def platform_pull_account(*, account: AdAccount, days: int = 30, today: dt.date | None = None) -> dict:
    """Sync one connected account: campaigns (and drift), then daily metrics for the last `days` days, then
    the still-delivering check. Every call is retried like a push (`history.pull_call_retry`) and every window
    and level committed on its own, so a failure loses only what failed and the next sync resumes there. The
    account's first sync, and campaigns new in a pull, also queue a backfill of their whole history. Records the
    outcome on the account; returns a summary (with "error" when the platform refused; auth errors also mark the
    account "needs reconnect")."""
    connector = history.pull_connector(account)
    if not connector.capabilities.talks_to_platform:
        return {"skipped": "manual account"}
    end = today or history.account_today(account)
    start = end - dt.timedelta(days=max(days, 1) - 1)
    try:
        summary = {"campaigns": platform_campaigns_pull(account=account, connector=connector)}
        backfills = _backfills_queue(account=account, new_ids=summary["campaigns"].pop("new_ids"))
        metrics = platform_metrics_pull(account=account, connector=connector, start=start, end=end)
    except ConnectorError as error:
        if error.auth:
            account_reconnect_needed(account=account, message=error.message)
        else:
            AdAccount.objects.filter(pk=account.pk).update(sync_error=error.message)
            account.sync_error = error.message
        platform_logger.warning("Sync of account %s failed: %s", account.pk, error.message)
        return {"error": error.message}
    summary["metrics"] = metrics
    summary["backfills"] = backfills
    summary["still_delivering"] = still_delivering_detect(
        campaign_ids=Campaign.objects.filter(account=account, status=Status.ENDED).values_list("pk", flat=True)
    )
    now = timezone.now()
    AdAccount.objects.filter(pk=account.pk).update(last_synced_at=now, sync_error="", needs_reconnect=False)
    account.last_synced_at, account.sync_error, account.needs_reconnect = now, "", False
    return summary


def _backfills_queue(*, account: AdAccount, new_ids: list[int]) -> int:
    """The first sync of an account backfills every campaign's history; later ones the campaigns they created,
    and lost backfills are queued again. Returns how many backfills were started or queued again."""
    started = 0
    if not MetricPull.objects.filter(account=account, kind=PullKind.BACKFILL).exists():
        started += history.platform_backfill_start(account=account) is not None
    elif new_ids:
        created = list(Campaign.objects.filter(pk__in=new_ids))
        started += history.platform_backfill_start(account=account, campaigns=created) is not None
    return started + history.backfills_resume(account=account)


def platform_pull_campaign(*, campaign: Campaign, today: dt.date | None = None) -> dict:
    """The final pull of one campaign just before its close report is frozen: its status, then every daily metric
    of its life (first day to last: the day it ended, or today), campaign and ad level, in the connector's
    windows, retried like a push and committed window by window. A pull that failed resumes where it stopped
    when called again. Never raises for platform errors.

    Returns {"complete": True, ...counts} once every day is stored; {"complete": False, "error": …, "through":
    the last day stored at every level (or None), "tried_at": …} otherwise; {"skipped": …} when the campaign is
    not on a connected platform."""
    account = campaign.account
    connector = history.pull_connector(account)
    if not connector.capabilities.talks_to_platform or not campaign.platform_id:
        return {"skipped": "not connected"}
    if account.needs_reconnect:
        return {"complete": False, "error": account.sync_error or "The account needs reconnecting.", "through": None}
    end = today or history.account_today(account)
    pull = None
    try:
        campaigns = platform_campaigns_pull(account=account, connector=connector, platform_ids=[campaign.platform_id])
        campaigns.pop("new_ids")
        campaign.refresh_from_db()
        pull = history.final_pull_prepare(campaign=campaign, today=end)
        metrics = history.metric_pull_run(pull=pull, connector=connector)
    except ConnectorError as error:
        if error.auth:
            account_reconnect_needed(account=account, message=error.message)
        through = pull.complete_through(connector.capabilities.metric_levels) if pull else None
        return {"complete": False, "error": error.message, "through": through, "tried_at": timezone.now()}
    still_delivering_detect(campaign_ids=[campaign.pk])
    campaign.refresh_from_db()
    return {"complete": True, "campaigns": campaigns, "metrics": metrics, "through": pull.end_date}
