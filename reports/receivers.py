"""Reactions to campaigns' events. Connected in ReportsConfig.ready(); campaigns never imports reports.

A receiver only queues a task: the work (and its retries) belongs to the task worker, so nothing here can turn
a committed status change into an error page. One exception, on purpose: a changed note stamps its report at
once (one UPDATE, `services.report_timeline_changed`), because the report page that the user opens next is
cached under that stamp and must show the note; if it fails, the change stays committed (`send_robust` logs it)."""

from .tasks import close_reports_queue


def on_status_changed(sender, *, change_ids: list[int], **kwargs) -> None:
    """Runs after the status change committed: queue the close reports of the campaigns it ended."""
    close_reports_queue.enqueue(change_ids=list(change_ids))


def on_annotations_changed(sender, *, campaign_ids: list[int], **kwargs) -> None:
    """Runs after a note of these campaigns changed (committed): their reports render it on the next view."""
    from .services import report_timeline_changed  # services import tasks, which this module imports first

    report_timeline_changed(campaign_ids=campaign_ids)
