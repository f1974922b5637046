"""The report's PDFs, rendered and stored (`ReportPdf`), one per audience (`PdfAudience`): the team's (who ended
it, the end note, the lessons learned, the benchmark, the feedback without hidden comments) and a share link's
(without internal details, or with them and the lessons when the link shows team notes). WeasyPrint takes 1–10 s
a report, so a stored file is served again for as long as what it shows is unchanged: its `version` is the
snapshot format, the layout (`pdf.pdf_version`) and a digest of the PDF's text (`pdf.report_pdf_html` without
the charts, which the snapshot alone decides). New lessons, feedback, moderation or another ended campaign of the
account change the digest of the team's file, and the next download renders it again."""

import hashlib
from collections.abc import Iterable

from django.conf import settings
from django.db import transaction

from .. import pdf, presenters, selectors, tasks
from ..models import CloseReport, PdfAudience, ReportPdf
from .branding import branding_for_pdf
from .feedback import feedback_summary
from .timeline import report_notes_added_after_close

# Rendered in the background after the snapshot: the team's download and a plain share link's.
PRERENDERED = (PdfAudience.TEAM, PdfAudience.PUBLIC)


def pdf_extras(*, report: CloseReport, audience: str) -> pdf.PdfExtras:
    """What the `audience`'s PDF shows besides the snapshot, read now: lessons (team, share links with team
    notes), the benchmark and the feedback without hidden comments (team)."""
    audience = PdfAudience(audience)
    lessons = None
    if audience in (PdfAudience.TEAM, PdfAudience.PUBLIC_NOTES):
        lessons = selectors.lessons_for_report(report=report, history=0)[0]
    snapshot = report.snapshot
    currency = snapshot["campaign"]["currency"]
    final = presenters.final_figures(
        report=report, frozen_totals=snapshot["totals"], currency=currency, zone=snapshot["campaign"].get("timezone")
    )
    later = tuple(report_notes_added_after_close(report=report, snapshot=snapshot))
    incomplete = None
    if report.numbers_incomplete:
        incomplete = f"{report.numbers_through:%-d %b %Y}" if report.numbers_through else "no day"
    if audience != PdfAudience.TEAM:
        # The share links' PDFs go outside the team: they carry the account's branding; the team's stays Closeout.
        return pdf.PdfExtras(
            audience=audience,
            branding=branding_for_pdf(account_id=report.account_id),
            show_lessons=lessons is not None or audience != PdfAudience.PUBLIC,
            lessons=lessons,
            final=final,
            incomplete_through=incomplete,
            added_after_close=later,
        )
    return pdf.PdfExtras(
        audience=audience,
        show_lessons=True,
        lessons=lessons,
        final=final,
        incomplete_through=incomplete,
        added_after_close=later,
        comparison=presenters.comparison(figures=selectors.report_comparison(report=report), currency=currency),
        feedback=feedback_summary(report=report, include_hidden=False),
    )


def _version(report: CloseReport, extras: pdf.PdfExtras) -> str:
    """What a stored file must have been rendered from: the layout version and a digest of the PDF's text."""
    text = pdf.report_pdf_html(snapshot=report.snapshot, images=[], extras=extras)
    return f"{pdf.pdf_version(report)}:{hashlib.sha256(text.encode()).hexdigest()[:24]}"


def report_pdf_bytes(*, report: CloseReport, audience: str = PdfAudience.TEAM) -> bytes:
    """The report's PDF for `audience`: the stored file if it shows what the PDF would show now, else rendered
    now and stored. Two concurrent first downloads both render; the second write wins with the same content."""
    extras = pdf_extras(report=report, audience=audience)
    version = _version(report, extras)
    stored = ReportPdf.objects.filter(report=report, audience=audience, version=version).values_list(
        "content", flat=True
    )
    content = stored.first()
    return bytes(content) if content is not None else _report_pdf_store(report, extras, version)


def _report_pdf_store(report: CloseReport, extras: pdf.PdfExtras, version: str) -> bytes:
    content = pdf.report_pdf(snapshot=report.snapshot, extras=extras)
    ReportPdf.objects.update_or_create(
        report=report, audience=extras.audience, defaults={"version": version, "content": content}
    )
    return content


def report_pdfs_render(*, report_ids: Iterable[int], audiences: Iterable[str] = PRERENDERED) -> int:
    """Render and store the PDFs of these reports, for these audiences, that are missing or no longer show what
    they would show now (the background task after a snapshot, and after lessons are saved). Returns how many it
    rendered; safe to run twice."""
    reports = list(CloseReport.objects.filter(pk__in=list(report_ids)).order_by("pk"))
    stored = {
        (report_id, audience): version
        for report_id, audience, version in ReportPdf.objects.filter(report__in=reports).values_list(
            "report_id", "audience", "version"
        )
    }
    rendered = 0
    for report in reports:
        for audience in audiences:
            extras = pdf_extras(report=report, audience=audience)
            version = _version(report, extras)
            if stored.get((report.pk, audience)) != version:
                _report_pdf_store(report, extras, version)
                rendered += 1
    return rendered


def report_pdfs_refresh_on_commit(*, report: CloseReport) -> None:
    """After what the team's PDF shows changed (lessons saved): re-render it in the background once the change
    commits (REPORT_PDF_PRERENDER), so the next download is instant again."""
    if settings.REPORT_PDF_PRERENDER:
        transaction.on_commit(lambda: tasks.report_pdfs_render.enqueue(report_ids=[report.pk]), robust=True)
