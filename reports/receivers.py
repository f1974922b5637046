"""Reactions to campaigns' events. Connected in ReportsConfig.ready(); campaigns never imports reports.

A receiver only queues a task: the work (and its retries) belongs to the task worker, so nothing here can turn
a committed status change into an error page."""

from .tasks import close_reports_queue


def on_status_changed(sender, *, change_ids: list[int], **kwargs) -> None:
    """Runs after the status change committed: queue the close reports of the campaigns it ended."""
    close_reports_queue.enqueue(change_ids=list(change_ids))
