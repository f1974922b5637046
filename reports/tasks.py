"""Background work of the reports app (django.tasks; ImmediateBackend in tests)."""

from django.tasks import task

from . import services

# Reports per PDF task: WeasyPrint takes 1–10 s a report, so a bulk end of 1,000 becomes many short tasks.
PDF_BATCH = 10


@task
def close_reports_build(campaign_ids: list[int]) -> int:
    """Freeze the close reports of these ended campaigns, then queue their PDFs (REPORT_PDF_PRERENDER). Safe to
    run twice: existing reports are left alone."""
    from django.conf import settings

    from .models import CloseReport

    built = services.reports_create(campaign_ids=campaign_ids)
    if built and settings.REPORT_PDF_PRERENDER:
        report_ids = sorted(CloseReport.objects.filter(campaign_id__in=built).values_list("pk", flat=True))
        for start in range(0, len(report_ids), PDF_BATCH):
            report_pdfs_render.enqueue(report_ids=report_ids[start : start + PDF_BATCH])
    return len(built)


@task
def report_pdfs_render(report_ids: list[int]) -> int:
    """Render and store these reports' PDFs, so the first download is instant. Safe to run twice."""
    return services.report_pdfs_render(report_ids=report_ids)


# --- Sharing and feedback (issue 5) ---


@task
def feedback_invitations_send(emails: list[str], subject: str, sealed_body: str) -> int:
    """Mail a feedback invitation to each address (one message each: recipients do not see each other). The body
    arrives encrypted because task arguments are stored in the database and it holds a working link."""
    from django.core.mail import EmailMessage

    body = services.invitation_open(sealed_body)
    return sum(EmailMessage(subject=subject, body=body, to=[address]).send() for address in emails)
