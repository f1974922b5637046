"""Lessons learned: an append-only list of revisions per report, saved with a check against lost updates."""

import contextlib

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from campaigns import services as campaign_services
from campaigns.models import Source, WindDownStepKind

from ..models import CloseReport, LessonRevision
from .errors import ReportError
from .pdf_store import report_pdfs_refresh_on_commit

LESSON_FIELDS = ("what_worked", "what_to_change", "next_steps")


def lessons_save(
    *,
    report: CloseReport,
    author: AbstractBaseUser,
    what_worked: str,
    what_to_change: str,
    next_steps: str,
    base_revision_id: int | None,
) -> LessonRevision | None:
    """Save a new revision of the report's lessons. Returns None when nothing changed (a double submit).

    Raises ReportError when someone else saved since `base_revision_id` was read (the editor would otherwise
    silently overwrite their text). The report row is locked so that two saves are checked one after the other.
    Lessons written in full complete the wind-down's "performance analysed" step, in the same transaction."""
    values = {
        "what_worked": what_worked.strip(),
        "what_to_change": what_to_change.strip(),
        "next_steps": next_steps.strip(),
    }
    with transaction.atomic():
        CloseReport.objects.select_for_update().filter(pk=report.pk).values_list("pk", flat=True).first()
        latest = LessonRevision.objects.filter(report=report).order_by("-created_at", "-id").first()
        latest_id = latest.pk if latest else None
        if latest is not None and all(getattr(latest, f) == v for f, v in values.items()):
            return None
        if latest_id != base_revision_id:
            raise ReportError(
                "Someone else saved the lessons while you were editing. Their version is shown below; "
                "copy your text and edit again."
            )
        revision = LessonRevision.objects.create(report=report, author=author, **values)
        report_pdfs_refresh_on_commit(report=report)  # the team's PDF holds the lessons
        if all(values.values()):
            # (A campaign ended before checklists existed has none to tick.)
            with contextlib.suppress(campaign_services.CampaignError):
                campaign_services.winddown_step_complete(
                    campaign=report.campaign,
                    kind=WindDownStepKind.PERFORMANCE_ANALYSED,
                    actor=author,
                    automatic=True,
                    source=Source.UI,
                )
        return revision
