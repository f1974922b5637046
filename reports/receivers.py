"""Reactions to campaigns' signals. Connected in ReportsConfig.ready(); campaigns never imports reports."""

from campaigns.models import Status, StatusChange

# One task per this many ended campaigns: a bulk end of 1,000 enqueues a handful of tasks, not 1,000.
ENQUEUE_BATCH = 200


def on_status_changed(sender, *, change_ids: list[int], **kwargs) -> None:
    """Runs after the status change committed: enqueue the snapshot of every campaign that just ended."""
    from .tasks import close_reports_build

    ended = sorted(
        set(
            StatusChange.objects.filter(pk__in=change_ids, to_status=Status.ENDED)
            .exclude(from_status=Status.ENDED)
            .values_list("campaign_id", flat=True)
        )
    )
    for start in range(0, len(ended), ENQUEUE_BATCH):
        close_reports_build.enqueue(campaign_ids=ended[start : start + ENQUEUE_BATCH])
