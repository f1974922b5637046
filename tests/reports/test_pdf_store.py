"""The report PDF is rendered once and stored (ReportPdf): in the background right after the snapshot when
REPORT_PDF_PRERENDER is on, else on the first download; every later download, on any host, serves the stored file.

Issue 16 (#14 §5 followed through): one file per audience, the team's (who ended it, lessons, benchmark, feedback)
and a share link's; these tests used to expect one file for all audiences (tests/reports/test_pdf_audiences.py)."""

import io

import pytest
from django.urls import reverse
from pypdf import PdfReader

from reports import pdf, services
from reports.models import PdfAudience, ReportPdf
from tests.reports.conftest import campaign_end, metrics_generate

pytestmark = pytest.mark.django_db


def _count_renders(monkeypatch) -> list:
    calls = []
    real = pdf.report_pdf

    def counting(*, snapshot, extras=None):
        calls.append(extras.audience if extras else None)
        return real(snapshot=snapshot, extras=extras)

    monkeypatch.setattr(pdf, "report_pdf", counting)
    return calls


def _text(content: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)


def test_pdf_is_rendered_after_the_snapshot_and_downloads_serve_it(
    campaign, manager, login, settings, monkeypatch, django_capture_on_commit_callbacks
):
    settings.REPORT_PDF_PRERENDER = True
    renders = _count_renders(monkeypatch)
    metrics_generate(campaign, days=10)
    with django_capture_on_commit_callbacks(execute=True):
        campaign_end(campaign, manager)
    report = campaign.close_report
    stored = ReportPdf.objects.get(report=report, audience=PdfAudience.TEAM)
    assert stored.version.startswith(pdf.pdf_version(report))
    assert sorted(renders) == sorted([PdfAudience.TEAM, PdfAudience.PUBLIC])  # by the task after the snapshot

    client = login(manager)
    first = client.get(reverse("reports:export_pdf", args=[campaign.pk]))
    second = client.get(reverse("reports:export_pdf", args=[campaign.pk]))
    assert len(renders) == 2  # both downloads served the stored file
    assert first.content == second.content == bytes(stored.content)
    assert campaign.name in _text(first.content)


def test_first_download_renders_and_stores_when_nothing_was_prerendered(ended_report, login, viewer, monkeypatch):
    campaign, report = ended_report
    assert not ReportPdf.objects.exists()  # REPORT_PDF_PRERENDER is off in tests
    renders = _count_renders(monkeypatch)
    client = login(viewer)
    first = client.get(reverse("reports:export_pdf", args=[campaign.pk]))
    assert first.status_code == 200 and len(renders) == 1
    assert ReportPdf.objects.filter(report=report).exists()
    second = client.get(reverse("reports:export_pdf", args=[campaign.pk]))
    assert len(renders) == 1 and second.content == first.content


def test_a_pdf_of_another_layout_version_is_rendered_again(ended_report, monkeypatch):
    _, report = ended_report
    ReportPdf.objects.create(report=report, version="old", content=b"%PDF-stale")
    renders = _count_renders(monkeypatch)
    content = services.report_pdf_bytes(report=report)
    assert content.startswith(b"%PDF") and content != b"%PDF-stale"
    assert len(renders) == 1
    assert ReportPdf.objects.get(report=report, audience=PdfAudience.TEAM).version.startswith(pdf.pdf_version(report))
    # Already current: nothing to do for the team's file (the share links' is rendered once, then current too).
    assert services.report_pdfs_render(report_ids=[report.pk], audiences=[PdfAudience.TEAM]) == 0
    assert services.report_pdfs_render(report_ids=[report.pk]) == 1
    assert services.report_pdfs_render(report_ids=[report.pk]) == 0


def test_shared_link_download_serves_the_stored_pdf(ended_report, manager, monkeypatch):
    from django.test import Client

    _, report = ended_report
    services.report_pdfs_render(report_ids=[report.pk])
    renders = _count_renders(monkeypatch)
    _, secret = services.share_link_create(report=report, actor=manager, label="Client")
    response = Client().get(reverse("share:pdf", args=[secret]))
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert response.content == bytes(ReportPdf.objects.get(report=report, audience=PdfAudience.PUBLIC).content)
    assert renders == []


def test_admin_lists_stored_pdfs_without_loading_them(ended_report, client, staff):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    _, report = ended_report
    services.report_pdfs_render(report_ids=[report.pk])
    client.force_login(staff)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("admin:reports_reportpdf_changelist"))
    assert response.status_code == 200
    assert report.campaign_name in response.content.decode() and " KB" in response.content.decode()
    listing = [q["sql"] for q in queries.captured_queries if "reports_reportpdf" in q["sql"] and "LENGTH" in q["sql"]]
    assert listing and all('"reports_reportpdf"."content",' not in sql for sql in listing)
    # Deleting a stored PDF is allowed: the next download renders it again.
    pk = ReportPdf.objects.filter(report=report).values_list("pk", flat=True).first()
    assert client.post(reverse("admin:reports_reportpdf_delete", args=[pk]), {"post": "yes"}).status_code == 302
    assert not ReportPdf.objects.filter(pk=pk).exists()
