"""Background work of the reports app (django.tasks; ImmediateBackend in tests).

Task bodies import `reports.services` when they run, not at module level: services queue these tasks (the
feedback invitations), so the lazy import is the one edge back, and it keeps the import graph acyclic."""

import datetime as dt

from django.conf import settings
from django.core.mail import EmailMessage
from django.tasks import task
from django.utils import timezone

from . import public_cache
from .models import CloseReport

# One task per this many ended campaigns: a bulk end of 1,000 queues a handful of builds, not 1,000.
BUILD_BATCH = 200
# Reports per PDF task: WeasyPrint takes 1–10 s a report, so a bulk end of 1,000 becomes many short tasks.
PDF_BATCH = 10


@task
def close_reports_queue(change_ids: list[int]) -> int:
    """After a status change committed: queue the close report of every campaign it ended, BUILD_BATCH
    campaigns per task. Returns how many campaigns it queued."""
    from . import services

    ended = services.campaigns_just_ended(change_ids=change_ids)
    for start in range(0, len(ended), BUILD_BATCH):
        close_reports_build.enqueue(campaign_ids=ended[start : start + BUILD_BATCH])
    return len(ended)


@task
def close_reports_build(campaign_ids: list[int]) -> int:
    """Pull the final numbers of these ended campaigns from their platform, freeze their close reports, render
    each one's report body into the cache, then queue their PDFs (REPORT_PDF_PRERENDER). A report whose final pull
    did not complete waits and is tried again with backoff (queued here with `run_after`; the reconciler re-queues
    it too once due). Safe to run twice: existing reports are left alone."""
    from . import services

    outcome = services.reports_close(campaign_ids=campaign_ids)
    built = outcome["built"]
    _retry_later(outcome["retry"])
    close_reports_deliver.enqueue(campaign_ids=built)
    for report in CloseReport.objects.filter(campaign_id__in=built).only("pk", "created_at", "snapshot_version"):
        public_cache.body_warm(report)  # the report page's first visit then reads it from the cache
    if built and settings.REPORT_PDF_PRERENDER:
        report_ids = sorted(CloseReport.objects.filter(campaign_id__in=built).values_list("pk", flat=True))
        for start in range(0, len(report_ids), PDF_BATCH):
            report_pdfs_render.enqueue(report_ids=report_ids[start : start + PDF_BATCH])
    return len(built)


def _retry_later(retry: list[tuple[int, float]]) -> None:
    """Queue each waiting report's next try at its time. Only on a backend that can defer; on others (the
    immediate backend) the reconciler's reports check queues it once its `next_try_at` has passed."""
    if not retry or not close_reports_build.get_backend().supports_defer:
        return
    now = timezone.now()
    for campaign_id, seconds in retry:
        run_after = now + dt.timedelta(seconds=seconds)
        close_reports_build.using(run_after=run_after).enqueue(campaign_ids=[campaign_id])


@task
def report_pdfs_render(report_ids: list[int]) -> int:
    """Render and store these reports' PDFs, so the first download is instant. Safe to run twice."""
    from . import services

    return services.report_pdfs_render(report_ids=report_ids)


@task
def feedback_invitations_send(emails: list[str], subject: str, sealed_body: str) -> int:
    """Mail a feedback invitation to each address (one message each: recipients do not see each other). The body
    arrives encrypted because task arguments are stored in the database and it holds a working link."""
    from . import services

    body = services.invitation_open(sealed_body)
    return sum(EmailMessage(subject=subject, body=body, to=[address]).send() for address in emails)


@task
def reports_finalize(report_ids: list[int]) -> dict:
    """Pull these reports' campaigns once more, after the attribution window, and keep their final figures (queued
    by the reconciler when due: `reports.reconcile.reports_final_due_check`). Safe to run twice."""
    from . import services

    return services.reports_finalize(report_ids=report_ids)


@task
def close_reports_deliver(campaign_ids: list[int]) -> int:
    """After the close reports of these campaigns are frozen: queue their "close" email to the accounts' default
    recipients (issue 18). Safe to run twice: nobody is mailed twice on one occasion."""
    from . import services

    return services.reports_deliver_at_close(campaign_ids=campaign_ids) if campaign_ids else 0


@task
def report_deliveries_send(delivery_ids: list[int]) -> int:
    """Send these report emails. Ids only: each recipient's link is sealed on their row, never in the queue. Each
    delivery is claimed before it is sent, so a retried or doubled run sends nothing twice."""
    from . import services

    return services.report_deliveries_send(delivery_ids=delivery_ids)
