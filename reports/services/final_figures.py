"""The final figures (issue 15 §4): platforms keep revising conversions and costs for days after delivery stops
(attribution windows). The frozen report stays the record of what was known at close; CLOSEOUT_FINAL_AFTER_DAYS
after the end (per account: `AdAccount.final_after_days`) the campaign's numbers are pulled once more (its whole
life, like the final pull before the freeze) and kept as the report's final totals, shown beside the frozen ones
("Final as of <day>") on the report page, the shared page and the PDF. The owner and watchers are told.

Found by the reconciler (`reports.reconcile.reports_final_due_check`) and run by the `reports_finalize` task; a
pull that fails is tried again at the next reconcile, its error shown on the report page."""

import datetime as dt
from collections.abc import Iterable

from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from campaigns.models import Campaign, NotificationKind
from campaigns.platforms.pull import platform_pull_campaign
from campaigns.services.notifications import notifications_create

from ..models import CloseReport
from ..presenters import FINAL_FIELDS, final_changes
from .delivery import report_deliver

RETRY_AFTER = dt.timedelta(hours=1)  # a failed final pull is tried again this much later
AT_MOST = 1000


def final_after(account) -> dt.timedelta:
    days = account.final_after_days if account.final_after_days is not None else settings.CLOSEOUT_FINAL_AFTER_DAYS
    return dt.timedelta(days=days)


def reports_final_due(*, now: dt.datetime) -> list[int]:
    """Reports whose end is at least their account's final delay ago, without final figures, not tried within
    RETRY_AFTER. At most AT_MOST (the oldest ends first); the shortest delay any account has bounds the query."""
    default = settings.CLOSEOUT_FINAL_AFTER_DAYS
    delays = CloseReport.objects.filter(final_at=None).values_list("account__final_after_days", flat=True).distinct()
    shortest = min((default if days is None else days for days in delays), default=default)
    candidates = (
        CloseReport.objects.filter(final_at=None, ended_at__lte=now - dt.timedelta(days=shortest))
        .exclude(final_tried_at__gt=now - RETRY_AFTER)
        .select_related("account")
        .only("pk", "ended_at", "account__final_after_days")
        .order_by("ended_at", "pk")[:AT_MOST]
    )
    return [r.pk for r in candidates if r.ended_at <= now - final_after(r.account)]


def _totals(campaign: Campaign) -> dict:
    return {
        f: str(getattr(campaign, f"total_{f}")) if f == "spend" else getattr(campaign, f"total_{f}")
        for f in FINAL_FIELDS
    }


def _notify(report: CloseReport, campaign: Campaign, changes: list[str]) -> None:
    what = "; ".join(changes) if changes else "no change since close"

    def render(_ids):
        title = f"Final figures of “{campaign.name}”: {what}"
        body = (
            f"{final_after(campaign.account).days} days after its end, the platform's numbers of “{campaign.name}” "
            f"were pulled once more. The report now shows them beside the figures frozen at close ({what})."
        )
        return title[:255], body, reverse("reports:detail", kwargs={"campaign_id": campaign.pk})

    notifications_create(
        campaign_ids=[campaign.pk], kind=NotificationKind.REPORT_FINAL, dedupe_key=f"report-final:{report.pk}",
        render=render,
    )  # fmt: skip


def reports_finalize(*, report_ids: Iterable[int], now: dt.datetime | None = None) -> dict:
    """Pull each report's campaign once more and keep its totals as the final figures (reports already final are
    skipped). A connected campaign whose pull fails keeps no final figures yet: its error and the time are
    recorded, and the reconciler tries again after RETRY_AFTER. Returns {"final": ids, "failed": ids}."""
    now = now or timezone.now()
    done, failed = [], []
    reports = CloseReport.objects.filter(pk__in=list(report_ids), final_at=None).select_related(
        "campaign", "campaign__account"
    )
    for report in reports.defer("snapshot"):
        campaign = report.campaign
        result = platform_pull_campaign(campaign=campaign)
        if result.get("complete") is False:
            CloseReport.objects.filter(pk=report.pk).update(final_tried_at=now, final_error=str(result["error"])[:1000])
            failed.append(report.pk)
            continue
        campaign.refresh_from_db()
        totals = _totals(campaign)
        updated = CloseReport.objects.filter(pk=report.pk, final_at=None).update(
            final_at=now, final_totals=totals, final_tried_at=now, final_error=""
        )
        if not updated:
            continue  # another run finalised it meanwhile
        frozen = CloseReport.objects.filter(pk=report.pk).values_list("snapshot__totals", flat=True).get()
        currency = campaign.account.currency
        changes = [
            f"{row['label']} {row['change']}" for row in final_changes(frozen=frozen, final=totals, currency=currency)
        ]
        _notify(report, campaign, changes)
        report.refresh_from_db(fields=["final_at", "final_totals"])
        report_deliver(report=report, occasion="final")  # the recipients get the final word too (issue 18)
        done.append(report.pk)
    return {"final": done, "failed": failed}
