"""Issue 16, point 7 (and #14 §5 followed through): the compliance PDF includes the lessons learned, the benchmark
and the feedback (a hidden comment never), names who ended the campaign for the team, and says at the top which
figures it shows. One stored file per audience: a share link's follows its team-notes setting."""

import io

import pytest
from django.test import Client
from django.urls import reverse
from pypdf import PdfReader

from campaigns.models import EndReason
from reports import services
from reports.models import PdfAudience, ReportPdf
from tests.factories import CampaignFactory

from .conftest import campaign_end, metrics_generate

pytestmark = pytest.mark.django_db


def _text(content: bytes) -> str:
    return " ".join(" ".join(page.extract_text().split()) for page in PdfReader(io.BytesIO(content)).pages)


@pytest.fixture
def full_report(account, manager, viewer, django_capture_on_commit_callbacks):
    """An ended campaign with lessons, a benchmark of one other ended campaign, and feedback (one hidden)."""
    other = CampaignFactory(account=account, name="Earlier Drop")
    metrics_generate(other, days=5)
    campaign = CampaignFactory(account=account, name="Spring Glow")
    metrics_generate(campaign, days=10)
    with django_capture_on_commit_callbacks(execute=True):
        campaign_end(other, manager)
        campaign_end(campaign, manager, reason=EndReason.OTHER, note="Creator left the brand")
    report = campaign.close_report
    services.lessons_save(
        report=report,
        author=manager,
        what_worked="Duets on day one",
        what_to_change="Start the teaser earlier",
        next_steps="Brief two creators",
        base_revision_id=None,
    )
    link, _ = services.share_link_create(report=report, actor=manager, label="Client")
    kept, hidden = (
        services.feedback_create(report=report, link=link, author=None, would_take_part_again=rating > 2, **answer)
        for rating, answer in (
            (4, {"role": "stakeholder", "rating": 4, "name": "Sam", "comment": "Great reach in week one"}),
            (1, {"role": "participant", "rating": 1, "comment": "Buy cheap followers at spam.example"}),
        )
    )
    services.feedback_set_hidden(feedback=hidden, actor=manager, hidden=True)
    return campaign, report, kept


def test_team_pdf_holds_who_ended_it_lessons_benchmark_and_visible_feedback(full_report, login, viewer):
    campaign, report, _ = full_report
    response = login(viewer).get(reverse("reports:export_pdf", args=[campaign.pk]))
    text = _text(response.content)

    assert text.index("What this PDF shows") < text.index("Results")  # at the top
    assert "The figures frozen at" in text and "10 days of metrics" in text
    assert "Money in USD; times in Europe/Berlin (CET)" in text or "Europe/Berlin (CEST)" in text
    assert "feedback from 1 person" in text
    assert "by mona-manager" in text and "Creator left the brand" in text  # who ended it, the end note
    assert "Lessons learned" in text and "Duets on day one" in text and "Brief two creators" in text
    assert "Compared with the account’s other ended campaigns" in text and "Median of 1 other" in text
    assert "Great reach in week one" in text and "Sam" in text
    assert "spam.example" not in text  # a hidden comment, never
    assert ReportPdf.objects.filter(report=report, audience=PdfAudience.TEAM).exists()


def test_a_share_link_pdf_follows_its_team_notes_setting(full_report, manager):
    _, report, _ = full_report
    _, plain = services.share_link_create(report=report, actor=manager, label="Press")
    _, with_notes = services.share_link_create(report=report, actor=manager, label="Agency", show_team_notes=True)

    public = _text(Client().get(reverse("share:pdf", args=[plain])).content)
    assert "What this PDF shows" in public and "Shared outside the team" in public
    assert "mona-manager" not in public and "Creator left the brand" not in public
    assert "Duets on day one" not in public and "Great reach" not in public and "Median of" not in public

    notes = _text(Client().get(reverse("share:pdf", args=[with_notes])).content)
    assert "by mona-manager" in notes and "Creator left the brand" in notes and "Duets on day one" in notes
    assert "Great reach" not in notes and "Median of" not in notes
    assert set(ReportPdf.objects.filter(report=report).values_list("audience", flat=True)) == {
        PdfAudience.PUBLIC,
        PdfAudience.PUBLIC_NOTES,
    }


def test_team_pdf_is_rendered_again_when_what_it_shows_changes(full_report, manager, monkeypatch):
    from reports import pdf

    campaign, report, kept = full_report
    renders = []
    real = pdf.report_pdf
    monkeypatch.setattr(pdf, "report_pdf", lambda **kw: renders.append(kw["extras"].audience) or real(**kw))

    first = services.report_pdf_bytes(report=report)
    assert services.report_pdf_bytes(report=report) == first and len(renders) == 1  # stored, served again
    services.feedback_set_hidden(feedback=kept, actor=manager, hidden=True)  # moderation changes the team's PDF
    second = services.report_pdf_bytes(report=report)
    assert len(renders) == 2 and "Great reach" not in _text(second)
    services.report_pdf_bytes(report=report, audience=PdfAudience.PUBLIC)
    services.lessons_save(
        report=report,
        author=manager,
        what_worked="Duets",
        what_to_change="",
        next_steps="",
        base_revision_id=report.lesson_revisions.first().pk,
    )
    assert services.report_pdfs_render(report_ids=[report.pk]) == 1  # the team's again; the share links' unchanged
    assert renders[-1] == PdfAudience.TEAM


def test_lessons_saved_queue_the_team_pdf_again(
    ended_report, manager, settings, monkeypatch, django_capture_on_commit_callbacks
):
    from types import SimpleNamespace

    from reports import tasks

    settings.REPORT_PDF_PRERENDER = True
    _, report = ended_report
    queued = []
    monkeypatch.setattr(tasks, "report_pdfs_render", SimpleNamespace(enqueue=lambda **kw: queued.append(kw)))
    with django_capture_on_commit_callbacks(execute=True):
        services.lessons_save(
            report=report, author=manager, what_worked="A", what_to_change="", next_steps="", base_revision_id=None
        )
    assert queued == [{"report_ids": [report.pk]}]
