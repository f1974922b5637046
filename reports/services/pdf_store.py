"""The report's PDF, rendered once and stored (`ReportPdf`): the snapshot never changes, and WeasyPrint takes
1–10 s a report. One file serves every audience (the team's download and every share link), so it holds no
internal details (see `reports.pdf`)."""

from collections.abc import Iterable

from .. import pdf
from ..models import CloseReport, ReportPdf


def report_pdf_bytes(*, report: CloseReport) -> bytes:
    """The report's PDF: the stored file (ReportPdf), or, before the background task has rendered it, rendered
    now and stored. Two concurrent first downloads both render; the second write wins with the same content."""
    stored = ReportPdf.objects.filter(report=report, version=pdf.pdf_version(report)).values_list("content", flat=True)
    content = stored.first()
    return bytes(content) if content is not None else _report_pdf_store(report)


def _report_pdf_store(report: CloseReport) -> bytes:
    content = pdf.report_pdf(snapshot=report.snapshot)
    ReportPdf.objects.update_or_create(report=report, defaults={"version": pdf.pdf_version(report), "content": content})
    return content


def report_pdfs_render(*, report_ids: Iterable[int]) -> int:
    """Render and store the PDFs of these reports that have none of the current version (the background task
    after a snapshot). Returns how many it rendered; safe to run twice."""
    reports = list(CloseReport.objects.filter(pk__in=list(report_ids)).order_by("pk"))
    stored = dict(ReportPdf.objects.filter(report__in=reports).values_list("report_id", "version"))
    missing = [report for report in reports if stored.get(report.pk) != pdf.pdf_version(report)]
    for report in missing:
        _report_pdf_store(report)
    return len(missing)
