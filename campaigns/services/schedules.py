"""Scheduled pauses and ends: created by managers (one campaign or many at once), run by the task worker or the
`run_due_actions` sweep. A schedule that cannot run tells the managers why."""

import dataclasses
import datetime
import enum
import typing
from collections.abc import Iterable

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.utils import timezone

from ..models import (
    Action,
    Campaign,
    Role,
    ScheduledAction,
    ScheduledState,
    Source,
    Status,
    StatusChange,
)
from ..selectors import roles_for_user
from . import effects
from .errors import CampaignError, NotPermitted, ScheduleError
from .history import history_record
from .transitions import Outcome, OutcomesByCampaign, campaigns_transition, end_reason_validate

SCHEDULE_TARGET = {Action.PAUSE: Status.PAUSED, Action.END: Status.ENDED}
SCHEDULE_ROLE = Role.MANAGER


class ScheduleOutcome(enum.StrEnum):
    """What `scheduled_actions_create` did to one campaign (`ScheduleResult.problem` says it in words)."""

    SCHEDULED = "scheduled"
    PENDING = "pending"  # it already has a pending scheduled action
    ENDED = "ended"
    NOT_PERMITTED = "not_permitted"
    NOT_FOUND = "not_found"  # missing, or in an account the actor is not a member of


@dataclasses.dataclass
class ScheduleResult(OutcomesByCampaign):
    """What `scheduled_actions_create` did to each campaign asked for (like `TransitionResult`)."""

    OUTCOME: typing.ClassVar[type[enum.Enum]] = ScheduleOutcome

    action: str
    run_at: datetime.datetime
    outcomes: dict[int, ScheduleOutcome]
    names: dict[int, str]  # only campaigns of the actor's accounts are named
    scheduled: dict[int, ScheduledAction]  # campaign id → the new scheduled action

    def problem(self, campaign_id: int) -> str:
        """Why this campaign was not scheduled, as a sentence for the user ("" if it was)."""
        outcome, name = self.outcomes[campaign_id], self.names.get(campaign_id, "")
        if outcome == ScheduleOutcome.ENDED:
            return f"“{name}” has ended; nothing can be scheduled."
        if outcome == ScheduleOutcome.PENDING:
            return f"“{name}” already has a scheduled action. Unschedule it first."
        if outcome == ScheduleOutcome.NOT_PERMITTED:
            return f"{name}: not permitted for your role"
        if outcome == ScheduleOutcome.NOT_FOUND:
            return "A selected campaign was not found"
        return ""

    def problems(self) -> list[str]:
        return [self.problem(pk) for pk, o in self.outcomes.items() if o != ScheduleOutcome.SCHEDULED]


def _schedule_validate(*, action: str, run_at, reason_code: str, reason_note: str) -> tuple[Action, str, str]:
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
    return action, reason_code, reason_note


def scheduled_actions_create(
    *,
    campaign_ids: Iterable[int],
    action: str,
    run_at: datetime.datetime,
    actor: AbstractBaseUser | None,
    reason_code: str = "",
    reason_note: str = "",
) -> ScheduleResult:
    """Schedule a pause or an end of every campaign in `campaign_ids` at `run_at` (aware; stored in UTC), in one
    transaction and a constant number of queries whatever the number of campaigns.

    Authorised here: the actor needs the manager role in each campaign's account (else outcome not permitted);
    campaigns of accounts the actor is not a member of are outcome not found (never named). A campaign that has
    ended, or already has a pending action (one per campaign, also a constraint), is left alone with that
    outcome. The run later happens with `enforce_role=False`: it was authorised now.

    Raises ScheduleError for an action other than pause/end or a time that is naive or not in the future, and
    ReasonRequired when an end lacks a reason (nothing is scheduled then). Writes one SCHEDULE history row per
    scheduled campaign. After commit (`effects.scheduled_actions_created`): one deferred `run_scheduled_action`
    task for `run_at` when the backend can defer (otherwise the `run_due_actions` sweep runs them), and the
    team's notification, one per recipient."""
    action, reason_code, reason_note = _schedule_validate(
        action=action, run_at=run_at, reason_code=reason_code, reason_note=reason_note
    )
    ids = sorted({int(pk) for pk in campaign_ids})
    roles = roles_for_user(user=actor) if actor is not None else {}
    actor_id = actor.pk if actor is not None and actor.is_authenticated else None
    outcomes: dict[int, ScheduleOutcome] = dict.fromkeys(ids, ScheduleOutcome.NOT_FOUND)
    names: dict[int, str] = {}
    scheduled: dict[int, ScheduledAction] = {}
    with transaction.atomic():
        # Lock the campaigns (primary-key order, as transitions do): a schedule and a status change, or two
        # schedules, of the same campaign then run one after the other, and the checks below hold.
        rows = list(
            Campaign.objects.select_for_update(of=("self",))
            .filter(pk__in=ids)
            .order_by("pk")
            .values_list("pk", "name", "status", "account_id")
        )
        pending = set(
            ScheduledAction.objects.filter(
                campaign_id__in=[r[0] for r in rows], state=ScheduledState.PENDING
            ).values_list("campaign_id", flat=True)
        )
        status_of: dict[int, str] = {}
        for pk, name, status, account_id in rows:
            if account_id not in roles:
                continue  # stays NOT_FOUND: other accounts' campaigns are not even named
            names[pk] = name
            if not roles[account_id].allows(SCHEDULE_ROLE):
                outcomes[pk] = ScheduleOutcome.NOT_PERMITTED
            elif status == Status.ENDED:
                outcomes[pk] = ScheduleOutcome.ENDED
            elif pk in pending:
                outcomes[pk] = ScheduleOutcome.PENDING
            else:
                outcomes[pk] = ScheduleOutcome.SCHEDULED
                status_of[pk] = status
        if status_of:
            try:
                what = {"action": action, "run_at": run_at, "reason_code": reason_code, "reason_note": reason_note}
                with transaction.atomic():
                    created = ScheduledAction.objects.bulk_create(
                        [ScheduledAction(campaign_id=pk, created_by_id=actor_id, **what) for pk in status_of]
                    )
            except IntegrityError:
                # Only a writer that skipped the campaign lock (e.g. a raw insert) can get here.
                named = f"“{names[next(iter(status_of))]}”" if len(status_of) == 1 else "A campaign"
                raise ScheduleError(f"{named} already has a scheduled action. Unschedule it first.") from None
            scheduled = {s.campaign_id: s for s in created}
            StatusChange.objects.bulk_create(
                [
                    StatusChange(
                        campaign_id=pk,
                        action=Action.SCHEDULE,
                        from_status=status,
                        to_status=status,
                        actor_id=actor_id,
                        source=Source.UI,
                        reason_code=reason_code,
                        reason_note=reason_note,
                        details={
                            "scheduled_action": scheduled[pk].pk,
                            "action": action.value,
                            "run_at": run_at.isoformat(),
                        },
                    )
                    for pk, status in status_of.items()
                ]
            )
            effects.scheduled_actions_created(scheduled_ids=[s.pk for s in created], run_at=run_at, actor_id=actor_id)
    return ScheduleResult(action=action, run_at=run_at, outcomes=outcomes, names=names, scheduled=scheduled)


class ScheduleOptions(typing.TypedDict):
    """What to schedule (the arguments of `scheduled_actions_create` besides the campaigns)."""

    action: str
    run_at: datetime.datetime
    actor: AbstractBaseUser | None
    reason_code: typing.NotRequired[str]
    reason_note: typing.NotRequired[str]


def scheduled_action_create(*, campaign: Campaign, **options: typing.Unpack[ScheduleOptions]) -> ScheduledAction:
    """Schedule a pause or an end of one campaign: `scheduled_actions_create` for one, its outcome raised.

    Returns the new ScheduledAction. Raises ScheduleError if the time is not in the future, the campaign is
    ended, or it already has a pending action; ReasonRequired when an end lacks a reason; NotPermitted when the
    actor is not a manager of the campaign's account."""
    result = scheduled_actions_create(campaign_ids=[campaign.pk], **options)
    outcome = result.outcomes[campaign.pk]
    if outcome in (ScheduleOutcome.NOT_PERMITTED, ScheduleOutcome.NOT_FOUND):
        raise NotPermitted(f"You need the {SCHEDULE_ROLE.label.lower()} role in this account to schedule campaigns.")
    if outcome != ScheduleOutcome.SCHEDULED:
        raise ScheduleError(result.problem(campaign.pk))
    return result.scheduled[campaign.pk]


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
        if state == ScheduledState.FAILED:
            effects.scheduled_action_failed(scheduled=scheduled)  # the managers hear why, after commit
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
