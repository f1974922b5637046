"""A close report's timeline after the freeze (issue 18). The report shows the notes frozen at close as they were,
and notes written later marked "added after close"; its body and shared page are cached, keyed by
`CloseReport.timeline_changed_at`, so a changed note must move that stamp at once."""

import datetime as dt
from collections.abc import Iterable

from django.conf import settings
from django.utils import timezone

from campaigns.selectors_annotations import annotations_added_after

from .. import tasks
from ..models import CloseReport


def report_timeline_changed(*, campaign_ids: Iterable[int]) -> list[int]:
    """A note of these campaigns changed (committed): stamp their reports (one UPDATE; campaigns without a report
    match none), so the cached body and shared page are rendered again on the next view, and re-render the
    stored PDFs in the background (`REPORT_PDF_PRERENDER`). Returns the reports stamped."""
    ids = sorted({int(pk) for pk in campaign_ids})
    report_ids = list(CloseReport.objects.filter(campaign_id__in=ids).values_list("pk", flat=True))
    if report_ids:
        CloseReport.objects.filter(pk__in=report_ids).update(timeline_changed_at=timezone.now())
        if settings.REPORT_PDF_PRERENDER:
            tasks.report_pdfs_render.enqueue(report_ids=report_ids)
    return report_ids


def report_notes_added_after_close(*, report: CloseReport, snapshot: dict) -> list:
    """The campaign's notes written after `snapshot` was frozen and not frozen in it. No query while no note of
    the campaign changed since the freeze (`timeline_changed_at` unset)."""
    if report.timeline_changed_at is None:
        return []
    frozen_at = dt.datetime.fromisoformat(snapshot["generated_at"])
    frozen_ids = [m["id"] for m in snapshot.get("timeline", ()) if m.get("id")]
    return annotations_added_after(campaign_id=report.campaign_id, after=frozen_at, exclude_ids=frozen_ids)
