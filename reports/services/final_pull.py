"""The final pull, then the freeze: a connected campaign's close report holds the platform's whole history of it,
not whatever the periodic sync happened to store.

Before a connected ended campaign's report is frozen, `campaigns.platforms.pull.platform_pull_campaign` pulls
every day of its life (campaign and ad level, retried like a push, committed window by window, resumed where it
stopped). If that cannot complete, the report waits visibly (`CloseReportWait`: "waiting for final numbers from
TikTok, last tried …"), tried again with backoff; after REPORT_FINAL_PULL_MAX_WAIT_HOURS it is frozen with what is
stored, marked "incomplete: numbers up to <day>", and the account's managers are told. Never a silently short
report. Campaigns of manual accounts (and unlinked ones) are frozen at once."""

import datetime as dt
import random
from collections.abc import Iterable

from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from campaigns.models import Campaign, NotificationKind, Status
from campaigns.platforms import platform_label
from campaigns.platforms.pull import platform_pull_campaign
from campaigns.services.notifications import platform_notify_managers

from ..models import CloseReportWait
from .snapshots import reports_create

RETRY_CAP_SECONDS = 3600


def final_pull_retry_seconds(attempts: int) -> float:
    """REPORT_FINAL_PULL_RETRY_SECONDS × 2ⁿ⁻¹ (at most an hour), × 0.5–1.0 jitter."""
    base = float(settings.REPORT_FINAL_PULL_RETRY_SECONDS)
    return min(base * 2 ** max(attempts - 1, 0), RETRY_CAP_SECONDS) * random.uniform(0.5, 1.0)


def _wait_record(*, campaign: Campaign, result: dict, now: dt.datetime) -> CloseReportWait:
    wait = CloseReportWait.objects.filter(campaign=campaign).first() or CloseReportWait(campaign=campaign, since=now)
    wait.attempts += 1
    wait.last_tried_at = now
    wait.last_error = str(result.get("error") or "")[:1000]
    wait.numbers_through = result.get("through")
    wait.next_try_at = now + dt.timedelta(seconds=final_pull_retry_seconds(wait.attempts))
    wait.save()
    return wait


def _notify_incomplete(campaign: Campaign, wait: CloseReportWait) -> None:
    label = platform_label(campaign.account)
    through = f"numbers up to {wait.numbers_through:%-d %b %Y}" if wait.numbers_through else "no numbers"
    platform_notify_managers(
        account=campaign.account,
        kind=NotificationKind.REPORT_INCOMPLETE,
        title=f"The report of {campaign.name} is incomplete: {through}"[:255],
        body=(
            f"{label} did not give the final numbers of “{campaign.name}” within "
            f"{settings.REPORT_FINAL_PULL_MAX_WAIT_HOURS:g} hours (last error: {wait.last_error or 'unknown'}). "
            f"The report was frozen with {through} from {label}, marked incomplete."
        ),
        url=reverse("reports:detail", kwargs={"campaign_id": campaign.pk}),
        campaign_ids=[campaign.pk],
        dedupe_key=f"report-incomplete:{campaign.pk}",
    )


def reports_close(*, campaign_ids: Iterable[int], now: dt.datetime | None = None) -> dict:
    """Final pull, then freeze, for these ended campaigns without a report (others are skipped).

    Returns {"built": campaign ids frozen, "retry": [(campaign id, seconds until the next try)]}: the caller (the
    build task) queues the retries; the reconciler also re-queues a waiting report once its `next_try_at` passed.
    Side effects: CloseReportWait rows written and deleted, managers notified of incomplete reports."""
    now = now or timezone.now()
    ids = sorted({int(pk) for pk in campaign_ids})
    campaigns = list(
        Campaign.objects.filter(pk__in=ids, status=Status.ENDED, close_report__isnull=True)
        .select_related("account")
        .order_by("pk")
    )
    max_wait = dt.timedelta(hours=float(settings.REPORT_FINAL_PULL_MAX_WAIT_HOURS))
    ready: list[int] = []
    incomplete: dict[int, tuple[Campaign, CloseReportWait]] = {}
    retry: list[tuple[int, float]] = []
    for campaign in campaigns:
        result = platform_pull_campaign(campaign=campaign)
        if result.get("skipped") or result.get("complete"):
            ready.append(campaign.pk)
            continue
        wait = _wait_record(campaign=campaign, result=result, now=now)
        if now - wait.since >= max_wait:
            incomplete[campaign.pk] = (campaign, wait)
        else:
            retry.append((campaign.pk, (wait.next_try_at - now).total_seconds()))
    built = reports_create(campaign_ids=ready)
    if incomplete:
        through = {pk: wait.numbers_through for pk, (_, wait) in incomplete.items()}
        frozen = reports_create(campaign_ids=list(incomplete), incomplete_through=through)
        for pk in frozen:
            _notify_incomplete(*incomplete[pk])
        built += frozen
    CloseReportWait.objects.filter(campaign_id__in=built).delete()
    return {"built": built, "retry": retry}
