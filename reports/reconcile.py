"""Reports' reconcile checks (registered in `ReportsConfig.ready()`; the reconciler is campaigns.worker.reconcile,
run by the task workers): ended campaigns without their close report, reports without their PDF, and reports whose
final figures are due (CLOSEOUT_FINAL_AFTER_DAYS after the end)."""

import datetime as dt

from django.conf import settings
from django.db.models import Count

from campaigns.models import Campaign, Status
from campaigns.worker import reconcile

from .models import CloseReport, ReportPdf
from .services.delivery import report_deliveries_due
from .services.final_figures import reports_final_due
from .services.pdf_store import PRERENDERED
from .tasks import close_reports_build, report_deliveries_send, report_pdfs_render, reports_finalize

# Younger than this, the report's (or PDF's) task may simply be waiting in the queue.
REPORT_GRACE = dt.timedelta(minutes=2)
AT_MOST = 1000


def reports_missing_check(*, now) -> int:
    """Campaigns ended more than REPORT_GRACE ago without a close report, that no `close_reports_build` run
    holds (its task was lost, or never queued), except reports waiting for final numbers whose next try is not
    due yet (their backoff is kept)."""
    ids = (
        Campaign.objects.filter(status=Status.ENDED, ended_at__lte=now - REPORT_GRACE, close_report__isnull=True)
        .exclude(close_report_wait__next_try_at__gt=now)
        .values_list("pk", flat=True)[:AT_MOST]
    )
    return reconcile.task_enqueue_missing(task=close_reports_build, ids=ids, kwarg="campaign_ids", batch=200)


def report_pdfs_missing_check(*, now) -> int:
    """With REPORT_PDF_PRERENDER: reports older than REPORT_GRACE missing one of the PDFs the task prerenders
    (one per audience in `PRERENDERED`), that no `report_pdfs_render` run holds. (Without it the first download
    renders the PDF.)"""
    if not settings.REPORT_PDF_PRERENDER:
        return 0
    complete = (
        ReportPdf.objects.filter(audience__in=PRERENDERED)
        .values("report_id")
        .annotate(n=Count("audience"))
        .filter(n=len(PRERENDERED))
        .values("report_id")
    )
    ids = (
        CloseReport.objects.filter(created_at__lte=now - REPORT_GRACE)
        .exclude(pk__in=complete)
        .values_list("pk", flat=True)[:AT_MOST]
    )
    return reconcile.task_enqueue_missing(task=report_pdfs_render, ids=ids, kwarg="report_ids", batch=10)


def report_deliveries_retry_check(*, now) -> int:
    """Report emails that failed with attempts left, past their backoff (a backend that cannot defer never queued
    their retry; a lost retry task is found the same way)."""
    ids = report_deliveries_due(now=now)
    return reconcile.task_enqueue_missing(task=report_deliveries_send, ids=ids, kwarg="delivery_ids", batch=50)


def register() -> None:
    reconcile.reconcile_check_register("reports.missing", reports_missing_check)
    reconcile.reconcile_check_register("reports.pdfs", report_pdfs_missing_check)
    reconcile.reconcile_check_register("reports.deliveries", report_deliveries_retry_check)
    reconcile.reconcile_check_register("reports.final", reports_final_due_check)


def reports_final_due_check(*, now) -> int:
    """Reports whose final figures are due (their account's delay after the end passed; a failed try waits an
    hour), that no `reports_finalize` run holds."""
    return reconcile.task_enqueue_missing(
        task=reports_finalize, ids=reports_final_due(now=now), kwarg="report_ids", batch=20
    )
