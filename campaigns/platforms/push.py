"""Push: make the platform match the status Closeout recorded (batched, retried with backoff, audited)."""

import datetime as dt
import enum
import functools
import hashlib
import logging
import random
from collections import defaultdict
from collections.abc import Iterable, Sequence

from django.db import transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone

from ..models import (
    Action,
    AdAccount,
    Campaign,
    Connector,
    NotificationKind,
    Source,
    Status,
    StatusChange,
    SyncState,
)
from ..services.errors import CampaignError
from ..services.history import history_record
from ..services.notifications import platform_notify_managers
from ..services.winddown import winddown_platform_confirmed
from .base import Connector as PlatformConnector
from .base import ConnectorError, StatusResult
from .registry import connector_for, platform_label

platform_logger = logging.getLogger("campaigns.platform")

PUSH_MAX_ATTEMPTS = 6
PUSH_BACKOFF_BASE_SECONDS = 30
PUSH_BACKOFF_CAP_SECONDS = 300
# A pending campaign nobody has touched for this long has lost its task (worker restart, lost enqueue).
PUSH_STALE_MINUTES = 15


class PushVerb(enum.StrEnum):
    """What a push asks the platform, in Closeout's words (also the audit's `operation` of a failed push)."""

    PAUSE = "pause"
    RESUME = "resume"
    END = "end"
    DELETE = "delete"  # an end that also deletes the campaign on the platform


def push_verb(*, status: str, delete_on_platform: bool) -> PushVerb:
    """The verb that makes the platform match our status: paused → pause, active → resume, ended → end, or
    delete when the user asked to delete on the platform too."""
    if status == Status.ACTIVE:
        return PushVerb.RESUME
    if status == Status.PAUSED:
        return PushVerb.PAUSE
    return PushVerb.DELETE if delete_on_platform else PushVerb.END


def _verb_send(connector: PlatformConnector, *, verb: PushVerb, platform_ids: Sequence[str]) -> StatusResult:
    if verb == PushVerb.PAUSE:
        return connector.campaigns_pause(platform_ids=platform_ids)
    if verb == PushVerb.RESUME:
        return connector.campaigns_resume(platform_ids=platform_ids)
    return connector.campaigns_end(platform_ids=platform_ids, delete=verb == PushVerb.DELETE)


def account_reconnect_needed(*, account: AdAccount, message: str) -> None:
    """The platform rejected the credentials: stop trying and tell the managers once (until reconnected)."""
    flipped = AdAccount.objects.filter(pk=account.pk, needs_reconnect=False).update(
        needs_reconnect=True, sync_error=message
    )
    account.needs_reconnect, account.sync_error = True, message
    if not flipped:
        AdAccount.objects.filter(pk=account.pk).update(sync_error=message)
        return
    platform_logger.warning("Account %s needs reconnecting: %s", account.pk, message)
    platform_notify_managers(
        account=account,
        kind=NotificationKind.RECONNECT,
        title=f"Reconnect {account.name} to {platform_label(account)}",
        body=f"{message} Pushes and syncs for this account are stopped until the token is replaced.",
        url=reverse("campaigns:account_detail", args=[account.pk]),
        dedupe_key=f"reconnect:{account.pk}:{timezone.now():%Y%m%d%H%M%S}",
    )


def _chunks(items: list, size: int):
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _push_enqueue(campaign_ids: list[int], *, delay_seconds: float = 0) -> bool:
    """Queue pushes for these campaigns. Never raises: the intent is in the database already, and the sweep
    (`sync_platform --push-pending`) re-queues anything left pending, so a lost enqueue only delays."""
    from ..tasks import platform_push_task

    task = platform_push_task
    try:
        if delay_seconds:
            if not task.get_backend().supports_defer:
                return False  # e.g. the immediate backend: the sweep picks these up
            task = task.using(run_after=timezone.now() + dt.timedelta(seconds=delay_seconds))
        for chunk in _chunks(sorted(set(campaign_ids)), 1000):
            task.enqueue(campaign_ids=chunk)
    except Exception:
        platform_logger.exception("Could not queue a platform push; the pending sweep will retry it.")
        return False
    return True


def platform_push_enqueue(*, change_ids: list[int]) -> None:
    """After commit of a status change: queue a push for the changed campaigns whose account is connected.

    Changes that came from the platform itself (drift) are not pushed back."""
    campaign_ids = list(
        StatusChange.objects.filter(pk__in=change_ids, campaign__sync_state=SyncState.PENDING)
        .exclude(source=Source.PLATFORM)
        .exclude(campaign__account__connector=Connector.NONE)
        .values_list("campaign_id", flat=True)
        .distinct()
    )
    if campaign_ids:
        _push_enqueue(campaign_ids)


def _push_backoff_seconds(attempts: int) -> float:
    """Exponential backoff with jitter: ~30 s, 60 s, 2 min, 4 min, 5 min (capped), each × 0.5–1.0."""
    delay = min(PUSH_BACKOFF_BASE_SECONDS * 2 ** max(attempts - 1, 0), PUSH_BACKOFF_CAP_SECONDS)
    return delay * random.uniform(0.5, 1.0)


def _push_still_current(campaigns: list[Campaign]) -> tuple[list[Campaign], dict[int, int]]:
    """Lock the rows and keep only the campaigns whose intent is still the one we pushed: still pending, same
    status, same request time. A newer pause/resume recorded meanwhile has its own push queued.
    Must run inside a transaction. Returns (current campaigns, {pk: sync_attempts})."""
    locked = {
        pk: (status, requested, state, attempts)
        for pk, status, requested, state, attempts in Campaign.objects.select_for_update(of=("self",))
        .filter(pk__in=[c.pk for c in campaigns])
        .order_by("pk")
        .values_list("pk", "status", "sync_requested_at", "sync_state", "sync_attempts")
    }
    current = [
        c
        for c in campaigns
        if c.pk in locked and locked[c.pk][:3] == (c.status, c.sync_requested_at, SyncState.PENDING)
    ]
    return current, {pk: row[3] for pk, row in locked.items()}


def _sync_history(campaigns: list[Campaign], details: dict) -> None:
    StatusChange.objects.bulk_create(
        [
            StatusChange(
                campaign_id=c.pk,
                action=Action.SYNC,
                from_status=c.status,
                to_status=c.status,
                source=Source.PLATFORM,
                details=details,
            )
            for c in campaigns
        ],
        batch_size=500,
    )


def _push_confirmed(campaigns: list[Campaign], *, platform_status: str, connector_name: str) -> list[int]:
    """The platform confirmed: synced, its word for the state kept in `platform_status`, a SYNC audit row.
    Only campaigns whose intent is still the one pushed; returns their ids."""
    now = timezone.now()
    with transaction.atomic():
        current, _ = _push_still_current(campaigns)
        ids = [c.pk for c in current]
        if not ids:
            return []
        Campaign.objects.filter(pk__in=ids).update(
            sync_state=SyncState.SYNCED, sync_error="", platform_status=platform_status[:40], updated_at=now
        )
        # The platform has confirmed the end (again): delivery is judged from now on.
        Campaign.objects.filter(pk__in=ids, status=Status.ENDED).update(still_delivering_since=None)
        ended = [c.pk for c in current if c.status == Status.ENDED]
        if ended:
            winddown_platform_confirmed(campaign_ids=ended)  # wind-down step 5: "platform confirmed the end"
        _sync_history(current, {"event": "confirmed", "operation": platform_status, "platform": connector_name})
    return ids


def _push_failed(campaigns: list[Campaign], *, message: str, operation: str) -> list[Campaign]:
    now = timezone.now()
    with transaction.atomic():
        current, _ = _push_still_current(campaigns)
        if current:
            Campaign.objects.filter(pk__in=[c.pk for c in current]).update(
                sync_state=SyncState.FAILED,
                sync_error=message[:1000],
                sync_attempts=F("sync_attempts") + 1,
                updated_at=now,
            )
            _sync_history(current, {"event": "failed", "operation": operation, "error": message[:500]})
    return current


def _push_retry_or_give_up(campaigns: list[Campaign], *, message: str, operation: str) -> list[Campaign]:
    """A transient failure: count the attempt, queue a later try with backoff, or give up after
    PUSH_MAX_ATTEMPTS. Returns the campaigns given up on."""
    now = timezone.now()
    retry_at: dict[int, list[int]] = defaultdict(list)
    with transaction.atomic():
        current, attempts = _push_still_current(campaigns)
        give_up = [c for c in current if attempts[c.pk] + 1 >= PUSH_MAX_ATTEMPTS]
        retry = [c for c in current if attempts[c.pk] + 1 < PUSH_MAX_ATTEMPTS]
        if retry:
            Campaign.objects.filter(pk__in=[c.pk for c in retry]).update(
                sync_attempts=F("sync_attempts") + 1, sync_error=f"Retrying: {message}"[:1000], updated_at=now
            )
            for c in retry:
                retry_at[attempts[c.pk] + 1].append(c.pk)
        if give_up:
            error = f"Gave up after {PUSH_MAX_ATTEMPTS} attempts. Last error: {message}"
            Campaign.objects.filter(pk__in=[c.pk for c in give_up]).update(
                sync_state=SyncState.FAILED,
                sync_attempts=F("sync_attempts") + 1,
                sync_error=error[:1000],
                updated_at=now,
            )
            _sync_history(give_up, {"event": "failed", "operation": operation, "error": error[:500]})
    for attempt, ids in retry_at.items():
        _push_enqueue(ids, delay_seconds=_push_backoff_seconds(attempt))
    return give_up


def _notify_sync_failed(account: AdAccount, failed: list[Campaign]) -> None:
    if not failed:
        return
    ids = sorted(c.pk for c in failed)
    names = ", ".join(c.name for c in failed[:3]) + (f" and {len(failed) - 3} more" if len(failed) > 3 else "")
    digest = hashlib.sha256(",".join(map(str, ids)).encode()).hexdigest()[:16]
    requested = max((c.sync_requested_at for c in failed if c.sync_requested_at), default=timezone.now())
    platform_notify_managers(
        account=account,
        kind=NotificationKind.SYNC_FAILED,
        title=(
            f"{platform_label(account)} did not apply a change to "
            f"{len(failed)} campaign{'s' if len(failed) != 1 else ''}"
        ),
        body=f"{names}: {failed[0].sync_error or 'sync failed'} Retry from the account page.",
        url=reverse("campaigns:account_detail", args=[account.pk]),
        campaign_ids=ids,
        dedupe_key=f"sync-failed:{digest}:{requested:%Y%m%d%H%M%S}",
    )


def platform_push(*, campaign_ids: Iterable[int]) -> dict:
    """Make the platform match our status for these campaigns (the ones still pending).

    Groups by (account, verb) and sends at most the connector's declared `status_batch_size` ids per call
    (TikTok: 20, so 500 campaigns paused together cost 25 calls). Per call: confirmed → synced, the platform's
    word for the state kept, a SYNC history entry; transient error (`ConnectorError.retryable`: network, timeout,
    rate limit…) → retried later with backoff, failed after PUSH_MAX_ATTEMPTS with a notification; auth error →
    failed at once, the account marked "needs reconnect" and its managers told; any other error → failed at once.
    Never raises for platform errors. Returns counts (`calls`: calls made to a platform)."""
    campaigns = list(
        Campaign.objects.filter(pk__in=list(campaign_ids), sync_state=SyncState.PENDING)
        .select_related("account")
        .order_by("pk")
    )
    counts = {"calls": 0, "confirmed": 0, "retrying": 0, "failed": 0}
    groups: dict[tuple[int, PushVerb], list[Campaign]] = defaultdict(list)
    accounts: dict[int, AdAccount] = {}
    for c in campaigns:
        accounts[c.account_id] = c.account
        groups[(c.account_id, push_verb(status=c.status, delete_on_platform=c.delete_on_platform))].append(c)
    failed_by_account: dict[int, list[Campaign]] = defaultdict(list)
    auth_errors: dict[int, ConnectorError] = {}
    for (account_id, verb), group in groups.items():
        account = accounts[account_id]
        connector = connector_for(account)
        capabilities = connector.capabilities
        label = capabilities.display_name
        unlinked = [c for c in group if capabilities.talks_to_platform and not c.platform_id]
        if unlinked:
            failed_by_account[account_id] += _push_failed(
                unlinked,
                message=f"This campaign has no {label} campaign id yet; run “Sync now” on the account page to link it.",
                operation=verb,
            )
        for chunk in _chunks([c for c in group if c not in unlinked], capabilities.status_batch_size):
            if account_id in auth_errors:
                _push_failed(chunk, message=auth_errors[account_id].message, operation=verb)
                counts["failed"] += len(chunk)
                continue
            if not capabilities.talks_to_platform:
                # Nothing to tell: the connector confirms our own ids at once.
                result = _verb_send(connector, verb=verb, platform_ids=[str(c.pk) for c in chunk])
                confirmed = [c for c in chunk if str(c.pk) in result.confirmed]
                counts["confirmed"] += len(
                    _push_confirmed(
                        confirmed, platform_status=result.platform_status or verb, connector_name=connector.name
                    )
                )
                continue
            by_platform_id = {c.platform_id: c for c in chunk}
            counts["calls"] += 1
            try:
                result = _verb_send(connector, verb=verb, platform_ids=list(by_platform_id))
            except ConnectorError as error:
                platform_logger.warning("Push %s to account %s failed: %s", verb, account_id, error.message)
                if error.auth:
                    auth_errors[account_id] = error
                    account_reconnect_needed(account=account, message=error.message)
                    counts["failed"] += len(_push_failed(chunk, message=error.message, operation=verb))
                elif error.retryable:
                    given_up = _push_retry_or_give_up(chunk, message=error.message, operation=verb)
                    failed_by_account[account_id] += given_up
                    counts["failed"] += len(given_up)
                    counts["retrying"] += len(chunk) - len(given_up)
                else:
                    failed = _push_failed(chunk, message=error.message, operation=verb)
                    failed_by_account[account_id] += failed
                    counts["failed"] += len(failed)
                continue
            confirmed = [c for pid, c in by_platform_id.items() if pid in result.confirmed]
            counts["confirmed"] += len(
                _push_confirmed(
                    confirmed, platform_status=result.platform_status or verb, connector_name=connector.name
                )
            )
            if account.needs_reconnect:
                AdAccount.objects.filter(pk=account_id).update(needs_reconnect=False, sync_error="")
                account.needs_reconnect = False
            missing = [c for pid, c in by_platform_id.items() if pid in result.not_confirmed]
            if missing:
                given_up = _push_retry_or_give_up(
                    missing, message=f"{label} did not confirm the change for this campaign.", operation=verb
                )
                failed_by_account[account_id] += given_up
                counts["failed"] += len(given_up)
                counts["retrying"] += len(missing) - len(given_up)
    failed_ids = [c.pk for failed in failed_by_account.values() for c in failed]
    errors = dict(Campaign.objects.filter(pk__in=failed_ids).values_list("pk", "sync_error")) if failed_ids else {}
    for account_id, failed in failed_by_account.items():
        for c in failed:
            c.sync_error = errors.get(c.pk, c.sync_error)
        _notify_sync_failed(accounts[account_id], failed)
    return counts


def platform_push_pending_sweep(*, older_than_minutes: float = PUSH_STALE_MINUTES) -> int:
    """Re-queue pushes for campaigns left pending (untouched for `older_than_minutes`): a worker restart or a
    lost enqueue never loses the user's intent. Returns how many campaigns were queued."""
    cutoff = timezone.now() - dt.timedelta(minutes=older_than_minutes)
    ids = list(
        Campaign.objects.filter(sync_state=SyncState.PENDING, updated_at__lte=cutoff).values_list("pk", flat=True)
    )
    if ids:
        _push_enqueue(ids)
    return len(ids)


def _sync_request(*, campaign: Campaign, actor, event: str, allowed_states: tuple[str, ...]) -> bool:
    now = timezone.now()
    with transaction.atomic():
        updated = Campaign.objects.filter(pk=campaign.pk, sync_state__in=allowed_states).update(
            sync_state=SyncState.PENDING, sync_attempts=0, sync_error="", sync_requested_at=now, updated_at=now
        )
        if not updated:
            return False
        campaign.refresh_from_db()
        history_record(campaign=campaign, action=Action.SYNC, actor=actor, source=Source.UI, details={"event": event})
        transaction.on_commit(functools.partial(_push_enqueue, [campaign.pk]))
    return True


def campaign_sync_retry(*, campaign: Campaign, actor) -> None:
    """Try again to push a campaign whose sync failed. Raises CampaignError when there is nothing to retry."""
    if campaign.sync_state != SyncState.FAILED:
        raise CampaignError(f"“{campaign.name}” has no failed sync to retry.")
    if not _sync_request(campaign=campaign, actor=actor, event="retry_requested", allowed_states=(SyncState.FAILED,)):
        raise CampaignError(f"“{campaign.name}” has no failed sync to retry.")


def campaign_end_resend(*, campaign: Campaign, actor) -> None:
    """Send the end to the platform again (e.g. it is still delivering). Only for ended campaigns."""
    if campaign.status != Status.ENDED:
        raise CampaignError(f"“{campaign.name}” has not ended; there is no end to re-send.")
    if campaign.sync_state == SyncState.PENDING:
        raise CampaignError(f"The end of “{campaign.name}” is already being sent.")
    _sync_request(
        campaign=campaign,
        actor=actor,
        event="resend_end_requested",
        allowed_states=(SyncState.SYNCED, SyncState.FAILED),
    )
