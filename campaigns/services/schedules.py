"""Scheduled pauses and ends: created by managers, run by the task worker or the `run_due_actions` sweep."""

import functools
from collections.abc import Iterable

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.utils import timezone

from ..models import (
    Action,
    Campaign,
    ScheduledAction,
    ScheduledState,
    Source,
    Status,
)
from .errors import CampaignError, ScheduleError
from .history import history_record
from .transitions import Outcome, campaigns_transition, end_reason_validate

SCHEDULE_TARGET = {Action.PAUSE: Status.PAUSED, Action.END: Status.ENDED}


def scheduled_action_create(
    *,
    campaign: Campaign,
    action: str,
    run_at,
    actor: AbstractBaseUser,
    reason_code: str = "",
    reason_note: str = "",
):
    """Schedule a pause or an end of `campaign` at `run_at` (aware; stored in UTC).

    The caller has checked the actor's role (manager); the run later happens with `enforce_role=False`.
    Raises ScheduleError if the time is not in the future, the campaign is ended, or it already has a pending
    action (one per campaign, also enforced by a constraint); ReasonRequired when an end lacks a reason.
    Writes a SCHEDULE history entry; after commit, enqueues `run_scheduled_action` for `run_at` when the task
    backend can defer (otherwise the `run_due_actions` sweep runs it) and stores the task id."""
    action = Action(action)
    if action not in SCHEDULE_TARGET:
        raise ScheduleError("Only a pause or an end can be scheduled.")
    if action == Action.END:
        end_reason_validate(reason_code=reason_code, reason_note=reason_note)
    else:
        reason_code, reason_note = "", ""
    if timezone.is_naive(run_at):
        raise ScheduleError("The time needs a timezone.")
    if run_at <= timezone.now():
        raise ScheduleError("Choose a time in the future.")
    with transaction.atomic():
        locked = Campaign.objects.select_for_update(of=("self",)).get(pk=campaign.pk)
        if locked.status == Status.ENDED:
            raise ScheduleError(f"“{locked.name}” has ended; nothing can be scheduled.")
        if ScheduledAction.objects.filter(campaign=locked, state=ScheduledState.PENDING).exists():
            raise ScheduleError(f"“{locked.name}” already has a scheduled action. Unschedule it first.")
        try:
            with transaction.atomic():
                scheduled = ScheduledAction.objects.create(
                    campaign=locked,
                    action=action,
                    run_at=run_at,
                    reason_code=reason_code,
                    reason_note=reason_note,
                    created_by=actor if actor is not None and actor.is_authenticated else None,
                )
        except IntegrityError:
            raise ScheduleError(f"“{locked.name}” already has a scheduled action. Unschedule it first.") from None
        history_record(
            campaign=locked,
            action=Action.SCHEDULE,
            actor=actor,
            source=Source.UI,
            reason_code=reason_code,
            reason_note=reason_note,
            details={"scheduled_action": scheduled.pk, "action": action.value, "run_at": run_at.isoformat()},
        )
        # robust: a broken queue must not turn a saved schedule into an error page; the sweep still runs it.
        transaction.on_commit(
            functools.partial(_scheduled_action_enqueue, scheduled_id=scheduled.pk, run_at=run_at), robust=True
        )
    return scheduled


def _scheduled_action_enqueue(*, scheduled_id: int, run_at) -> None:
    from ..models import ScheduledAction
    from ..tasks import run_scheduled_action

    if not run_scheduled_action.get_backend().supports_defer:
        return  # e.g. the immediate backend: the `run_due_actions` sweep picks it up when due
    result = run_scheduled_action.using(run_after=run_at).enqueue(scheduled_id)
    ScheduledAction.objects.filter(pk=scheduled_id).update(task_id=str(result.id)[:64])


def scheduled_action_cancel(*, campaign: Campaign, actor: AbstractBaseUser) -> bool:
    """Cancel the campaign's pending scheduled action. Returns False (and writes nothing) when there was none,
    e.g. it already ran or was cancelled by someone else. Writes an UNSCHEDULE history entry."""
    with transaction.atomic():
        scheduled = (
            ScheduledAction.objects.select_for_update().filter(campaign=campaign, state=ScheduledState.PENDING).first()
        )
        if scheduled is None:
            return False
        scheduled.state = ScheduledState.CANCELLED
        scheduled.executed_at = timezone.now()
        scheduled.save(update_fields=["state", "executed_at"])
        history_record(
            campaign=campaign,
            action=Action.UNSCHEDULE,
            actor=actor,
            source=Source.UI,
            details={
                "scheduled_action": scheduled.pk,
                "action": scheduled.action,
                "run_at": scheduled.run_at.isoformat(),
            },
        )
    return True


def scheduled_actions_run_due(*, now=None, ids: Iterable[int] | None = None) -> dict[int, str]:
    """Carry out every pending scheduled action whose time has come (only those in `ids`, if given).

    Idempotent and safe to run from the task worker and the `run_due_actions` sweep at once: each action's row
    is locked and re-checked, so it runs at most once. A campaign already in the target state, or ended, is a
    no-op recorded as SCHEDULE_SKIPPED in its history. Transitions use source=schedule and enforce_role=False
    (authorised when scheduled). Returns {scheduled_action_id: final state}."""
    now = now or timezone.now()
    due = ScheduledAction.objects.filter(state=ScheduledState.PENDING, run_at__lte=now)
    if ids is not None:
        due = due.filter(pk__in=list(ids))
    results: dict[int, str] = {}
    for scheduled_id in due.order_by("run_at").values_list("pk", flat=True):
        results[scheduled_id] = _scheduled_action_run(scheduled_id=scheduled_id, now=now)
    return results


def _scheduled_action_run(*, scheduled_id: int, now) -> str:
    with transaction.atomic():
        scheduled = (
            ScheduledAction.objects.select_for_update(of=("self",))
            .select_related("campaign", "created_by")
            .filter(pk=scheduled_id, state=ScheduledState.PENDING, run_at__lte=now)
            .first()
        )
        if scheduled is None:
            return "gone"  # ran, was cancelled, or moved meanwhile
        campaign = scheduled.campaign
        target = SCHEDULE_TARGET[scheduled.action]
        campaign.refresh_from_db(fields=["status"])
        if campaign.status in (target, Status.ENDED):
            state, result = ScheduledState.SKIPPED, f"Nothing to do: the campaign was already {campaign.status}."
        else:
            try:
                transition = campaigns_transition(
                    campaign_ids=[campaign.pk],
                    action=scheduled.action,
                    actor=scheduled.created_by,
                    source=Source.SCHEDULE,
                    reason_code=scheduled.reason_code,
                    reason_note=scheduled.reason_note,
                    idempotency_key=f"schedule-{scheduled.pk}",
                    enforce_role=False,
                )
                outcome = transition.outcomes[campaign.pk]
            except CampaignError as exc:
                state, result = ScheduledState.FAILED, str(exc)
            else:
                if outcome == Outcome.CHANGED:
                    state, result = ScheduledState.DONE, transition.summary()
                else:
                    state, result = ScheduledState.SKIPPED, f"Nothing to do: {outcome.label}."
        if state == ScheduledState.SKIPPED:
            history_record(
                campaign=campaign,
                action=Action.SCHEDULE_SKIPPED,
                actor=None,
                source=Source.SCHEDULE,
                details={"scheduled_action": scheduled.pk, "action": scheduled.action, "result": result},
            )
        scheduled.state = state
        scheduled.result = result[:500]
        scheduled.executed_at = timezone.now()
        scheduled.save(update_fields=["state", "result", "executed_at"])
    return state
