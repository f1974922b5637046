"""Campaigns' own subscribers to its events (`campaigns.signals`), connected in `CampaignsConfig.ready()`.

Each one queues work or calls one service. Which subscribers there are, and when each part of a change's
consequences runs, is written once in `campaigns/services/effects.py`."""

from . import services, signals
from .platforms import push
from .services import effects


def notify_on_status_changed(sender, *, change_ids: list[int], **kwargs) -> None:
    """Queue the team's notifications about the committed status changes."""
    effects.status_change_notifications_enqueue(change_ids=change_ids)


def push_on_status_changed(sender, *, change_ids: list[int], **kwargs) -> None:
    """Queue the push of the changes to the platform, for campaigns of connected accounts (still pending)."""
    push.platform_push_enqueue(change_ids=change_ids)


def notify_on_schedules_created(sender, *, scheduled_ids: list[int], actor_id: int | None, **kwargs) -> None:
    """Tell the team about new scheduled actions (grouped per recipient)."""
    services.notify_schedules_created(scheduled_ids=scheduled_ids, actor_id=actor_id)


def notify_on_schedule_failed(sender, *, scheduled, **kwargs) -> None:
    """Tell the account's managers and the schedule's creator why a scheduled action failed."""
    services.notify_schedule_failed(scheduled=scheduled)


def connect() -> None:
    for signal, receiver in (
        (signals.status_changed, notify_on_status_changed),
        (signals.status_changed, push_on_status_changed),
        (signals.schedules_created, notify_on_schedules_created),
        (signals.schedule_failed, notify_on_schedule_failed),
    ):
        signal.connect(receiver, dispatch_uid=f"campaigns.{receiver.__name__}")
