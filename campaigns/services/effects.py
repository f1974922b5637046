"""What follows a committed status change."""

import logging

from ..models import (
    Campaign,
)


def _after_status_change(*, change_ids: list[int]) -> None:
    """Runs after commit. Every consequence of a status change starts here."""
    from ..platforms.push import platform_push_enqueue
    from ..signals import status_changed

    status_changed.send(sender=Campaign, change_ids=change_ids)
    _notify_status_changes_enqueue(change_ids=change_ids)  # issue 6
    platform_push_enqueue(change_ids=change_ids)  # issue 7


def _notify_status_changes_enqueue(*, change_ids: list[int]) -> None:
    """Runs after commit: notifications (and their emails) are built by the task worker, not in the request."""

    from ..tasks import notify_status_changes

    try:
        notify_status_changes.enqueue(change_ids=change_ids)
    except Exception:  # the change is committed; a queue outage must not turn it into an error page
        logging.getLogger(__name__).exception("Could not queue notifications for changes %s", change_ids)
