"""History entries that do not move a campaign's status (schedules, edits, skipped runs, syncs)."""

from django.contrib.auth.models import AbstractBaseUser

from ..models import (
    Campaign,
    StatusChange,
)


def history_record(
    *,
    campaign: Campaign,
    action: str,
    actor: AbstractBaseUser | None,
    source: str,
    details: dict | None = None,
    reason_code: str = "",
    reason_note: str = "",
) -> StatusChange:
    """Write a history entry that does not move the status (schedules, edits, skipped runs)."""
    return StatusChange.objects.create(
        campaign=campaign,
        action=action,
        from_status=campaign.status,
        to_status=campaign.status,
        actor=actor if actor is not None and actor.is_authenticated else None,
        source=source,
        details=details or {},
        reason_code=reason_code,
        reason_note=reason_note,
    )
