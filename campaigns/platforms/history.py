"""Metric pulls that survive hiccups: every call retried like a push, every window and level committed on its own,
the progress recorded (`MetricPull`), so a pull that stopped resumes where it stopped. Three kinds of pull use it:
the periodic sync of the last days, the backfill of an account's (or new campaigns') whole history, and the final
pull of an ended campaign before its close report is frozen. Reads the connector interface only."""

import datetime as dt
import functools
import logging
import random
import time
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.db.models import Min
from django.utils import timezone

from ..models import AdAccount, Campaign, ContentItem, DailyMetric, MetricPull, PullKind, PullState
from ..services import effects
from ..services.metrics import daily_metrics_upsert
from .base import CallRetry, Connector, ConnectorError, MetricLevel, MetricRecord, date_windows
from .registry import connector_for

logger = logging.getLogger("campaigns.platform")

# The push policy (push.PUSH_MAX_ATTEMPTS tries of a transient error), but waited for in the worker: a rate limit
# or a 5xxxx hiccup passes within seconds, so a pull sleeps PLATFORM_PULL_BACKOFF_SECONDS × 2ⁿ (capped) between
# tries of one call instead of queueing a task. Auth and other errors are not retried.
PULL_MAX_ATTEMPTS = 6
PULL_BACKOFF_CAP_SECONDS = 30.0
# A backfill task not heard of for this long was lost (worker killed): the next sync queues it again.
BACKFILL_STALE = dt.timedelta(minutes=15)


def account_today(account: AdAccount) -> dt.date:
    try:
        zone = ZoneInfo(account.timezone)
    except (ValueError, KeyError, OSError):
        zone = dt.UTC
    return timezone.now().astimezone(zone).date()


def pull_backoff_seconds(attempt: int) -> float:
    base = float(getattr(settings, "PLATFORM_PULL_BACKOFF_SECONDS", 1.0))
    return min(base * 2 ** max(attempt - 1, 0), PULL_BACKOFF_CAP_SECONDS) * random.uniform(0.5, 1.0)


def pull_call_retry(call) -> dict:
    """Run one platform call; a transient error (`ConnectorError.retryable`: rate limit, 5xxxx, HTTP 5xx,
    timeouts, network) is tried again after a backoff, up to PULL_MAX_ATTEMPTS tries in all. Auth and other
    errors raise at once."""
    for attempt in range(1, PULL_MAX_ATTEMPTS + 1):
        try:
            return call()
        except ConnectorError as error:
            if error.auth or not error.retryable or attempt == PULL_MAX_ATTEMPTS:
                raise
            delay = pull_backoff_seconds(attempt)
            logger.info("Platform call failed (%s); try %d again in %.1f s.", error.message, attempt + 1, delay)
            time.sleep(delay)
    raise AssertionError("unreachable")  # pragma: no cover


def pull_connector(account: AdAccount, *, call_retry: CallRetry = pull_call_retry) -> Connector:
    return connector_for(account, call_retry=call_retry)


# Storing one window of one level ----------------------------------------------------------------------------


def _records_store(*, account: AdAccount, level: MetricLevel, records: list[MetricRecord]) -> dict:
    """Upsert one window of one level into DailyMetric. Ads we do not know become content items."""
    campaigns = dict(Campaign.objects.filter(account=account).exclude(platform_id="").values_list("platform_id", "pk"))
    rows: list[dict] = []
    unknown = sum(1 for r in records if r.campaign_id not in campaigns)
    known = [r for r in records if r.campaign_id in campaigns]
    new_items = {}
    if level == MetricLevel.AD:
        known = [r for r in known if r.ad_id]
        items = {
            (campaign_id, platform_id): pk
            for pk, campaign_id, platform_id in ContentItem.objects.filter(
                campaign_id__in={campaigns[r.campaign_id] for r in known}
            )
            .exclude(platform_id="")
            .values_list("pk", "campaign_id", "platform_id")
        }
        for r in known:
            key = (campaigns[r.campaign_id], r.ad_id)
            if key not in items and key not in new_items:
                title = r.ad_name or f"Ad {r.ad_id}"
                new_items[key] = ContentItem(campaign_id=key[0], platform_id=r.ad_id, title=title)
        ContentItem.objects.bulk_create(list(new_items.values()), batch_size=500)
        items |= {key: item.pk for key, item in new_items.items()}
        for r in known:
            key = (campaigns[r.campaign_id], r.ad_id)
            rows.append({"campaign_id": key[0], "content_item_id": items[key], "date": r.date, **r.metrics})
    else:
        for r in known:
            rows.append({"campaign_id": campaigns[r.campaign_id], "content_item_id": None, "date": r.date, **r.metrics})
    created, updated = daily_metrics_upsert(rows=rows)
    return {
        "metric_rows": len(rows),
        "created": created,
        "updated": updated,
        "unknown_campaign_rows": unknown,
        "new_content_items": len(new_items),
    }


# Running a pull job -----------------------------------------------------------------------------------------


def _windows_total(pull: MetricPull, *, levels, days: int) -> int:
    per_level = len(list(date_windows(pull.start_date, pull.end_date, days=days)))
    return per_level * len(levels)


def metric_pull_run(*, pull: MetricPull, connector: Connector) -> dict:
    """Pull what `pull` still lacks, level by level (in the connector's order) and window by window, committing
    each window with the progress it makes. Resumes after the last day committed at each level. Raises the
    ConnectorError that stopped it, after recording it on the pull (what was committed stays). Returns counts."""
    capabilities = connector.capabilities
    levels = capabilities.metric_levels
    days = capabilities.report_window_days
    counts = {"metric_rows": 0, "created": 0, "updated": 0, "unknown_campaign_rows": 0, "new_content_items": 0}
    platform_ids = list(pull.platform_ids) or None
    pull.attempts += 1
    pull.last_tried_at = timezone.now()
    pull.windows_total = _windows_total(pull, levels=levels, days=days)
    pull.save(update_fields=["attempts", "last_tried_at", "windows_total", "updated_at"])
    try:
        for level in levels:
            through = pull.through(level)
            start = pull.start_date if through is None else through + dt.timedelta(days=1)
            for window_start, window_end in date_windows(start, pull.end_date, days=days):
                records = list(
                    connector.metrics_pull(level=level, start=window_start, end=window_end, platform_ids=platform_ids)
                )
                # The window and the progress it makes commit together: a crash after this loses nothing.
                with transaction.atomic():
                    stored = _records_store(account=pull.account, level=level, records=records)
                    pull.levels_through = {**pull.levels_through, str(level): window_end.isoformat()}
                    pull.windows_done = min(pull.windows_done + 1, pull.windows_total)
                    pull.save(update_fields=["levels_through", "windows_done", "updated_at"])
                for key, value in stored.items():
                    counts[key] += value
    except ConnectorError as error:
        pull.error = error.message[:1000]
        pull.save(update_fields=["error", "updated_at"])
        raise
    finally:
        if counts["metric_rows"]:
            # What was committed counts, even when a later window failed: the account's rules evaluate it.
            effects.metrics_stored(account_ids=[pull.account_id])
    pull.state, pull.error, pull.finished_at = PullState.DONE, "", timezone.now()
    pull.windows_done = pull.windows_total
    pull.save(update_fields=["state", "error", "finished_at", "windows_done", "updated_at"])
    return counts


def sync_pull_prepare(*, account: AdAccount, start: dt.date, end: dt.date) -> MetricPull:
    """The account's periodic-sync pull for [start, end]: one row per account. A finished one starts over; one
    that stopped half-way keeps what it committed and widens to cover the new range too."""
    pull = MetricPull.objects.filter(account=account, kind=PullKind.SYNC).first()
    if pull is None:
        return MetricPull.objects.create(account=account, kind=PullKind.SYNC, start_date=start, end_date=end)
    if pull.is_done or start < pull.start_date:
        pull.levels_through, pull.windows_done, pull.start_date = {}, 0, start
    pull.state, pull.end_date = PullState.RUNNING, max(end, pull.end_date)
    pull.save(update_fields=["levels_through", "windows_done", "start_date", "state", "end_date", "updated_at"])
    return pull


# Backfill ---------------------------------------------------------------------------------------------------


def _history_start(campaign_ids) -> dt.date | None:
    """The first day of these campaigns' lives: their start date, or an earlier day we hold numbers for."""
    starts = Campaign.objects.filter(pk__in=campaign_ids).aggregate(first=Min("start_date"))["first"]
    metrics = DailyMetric.objects.filter(campaign_id__in=campaign_ids).aggregate(first=Min("date"))["first"]
    days = [d for d in (starts, metrics) if d]
    return min(days) if days else None


def platform_backfill_start(*, account: AdAccount, campaigns: list[Campaign] | None = None) -> MetricPull | None:
    """Record a backfill of the whole history of `campaigns` (None: every campaign of the account) and queue it
    on commit. More campaigns than one metrics call can name: the whole account. Returns the pull (None when
    there is nothing to backfill)."""
    capabilities = connector_for(account).capabilities
    if not capabilities.talks_to_platform:
        return None
    linked = Campaign.objects.filter(account=account).exclude(platform_id="")
    platform_ids: list[str] = []
    if campaigns is not None:
        platform_ids = sorted({c.platform_id for c in campaigns if c.platform_id})
        if not platform_ids:
            return None
        if len(platform_ids) <= capabilities.metric_filter_max_ids:
            linked = linked.filter(platform_id__in=platform_ids)
        else:
            platform_ids = []
    start = _history_start(linked.values_list("pk", flat=True))
    if start is None:
        return None
    end = account_today(account)
    pull = MetricPull.objects.create(
        account=account, kind=PullKind.BACKFILL, platform_ids=platform_ids, start_date=min(start, end), end_date=end
    )
    transaction.on_commit(functools.partial(backfill_enqueue, pull.pk))
    return pull


def backfill_enqueue(pull_id: int, *, delay_seconds: float = 0) -> bool:
    """Queue the backfill task. Never raises: a lost enqueue is picked up by the next sync (BACKFILL_STALE)."""
    from ..tasks import platform_backfill_task

    task = platform_backfill_task
    try:
        if delay_seconds:
            if not task.get_backend().supports_defer:
                return False
            task = task.using(run_after=timezone.now() + dt.timedelta(seconds=delay_seconds))
        task.enqueue(pull_id=pull_id)
    except Exception:
        logger.exception("Could not queue backfill %s; the next sync queues it again.", pull_id)
        return False
    return True


def platform_backfill_run(*, pull_id: int) -> dict:
    """Run (or resume) one backfill. A transient failure queues it again with backoff (the next sync also does);
    an auth error stops it until someone reconnects. Never raises for platform errors."""
    pull = MetricPull.objects.select_related("account").filter(pk=pull_id, kind=PullKind.BACKFILL).first()
    if pull is None or pull.is_done:
        return {"skipped": "nothing to do"}
    if pull.account.needs_reconnect:
        return {"skipped": "needs reconnecting"}
    try:
        counts = metric_pull_run(pull=pull, connector=pull_connector(pull.account))
    except ConnectorError as error:
        if error.auth:
            from .push import account_reconnect_needed

            account_reconnect_needed(account=pull.account, message=error.message)
        elif error.retryable:
            # Under BACKFILL_STALE, so the next sync does not queue it a second time meanwhile.
            backfill_enqueue(pull.pk, delay_seconds=min(60 * 2 ** max(pull.attempts - 1, 0), 600))
        return {"error": error.message}
    return counts


def backfills_resume(*, account: AdAccount) -> int:
    """Queue again the account's unfinished backfills nobody has worked on for BACKFILL_STALE (a killed worker, a
    lost task). Returns how many."""
    cutoff = timezone.now() - BACKFILL_STALE
    ids = list(
        MetricPull.objects.filter(
            account=account, kind=PullKind.BACKFILL, state=PullState.RUNNING, updated_at__lte=cutoff
        ).values_list("pk", flat=True)
    )
    for pk in ids:
        backfill_enqueue(pk)
    return len(ids)


# Final pull -------------------------------------------------------------------------------------------------


def campaign_last_day(campaign: Campaign, *, today: dt.date) -> dt.date:
    """The last day of the campaign's life in its account's time zone: the day it ended, or today."""
    if campaign.ended_at is None:
        return today
    try:
        zone = ZoneInfo(campaign.account.timezone)
    except (ValueError, KeyError, OSError):
        zone = dt.UTC
    return min(campaign.ended_at.astimezone(zone).date(), today)


def final_pull_prepare(*, campaign: Campaign, today: dt.date) -> MetricPull:
    """The campaign's final pull, from the first day of its life to its last: the one in progress (which resumes),
    or a new one."""
    end = campaign_last_day(campaign, today=today)
    start = min(_history_start([campaign.pk]) or end, end)
    pull = MetricPull.objects.filter(campaign=campaign, kind=PullKind.FINAL, state=PullState.RUNNING).first()
    if pull is not None and pull.start_date == start and pull.end_date == end:
        return pull
    if pull is not None:
        pull.delete()
    return MetricPull.objects.create(
        account=campaign.account,
        campaign=campaign,
        kind=PullKind.FINAL,
        platform_ids=[campaign.platform_id],
        start_date=start,
        end_date=end,
    )
