"""Every change to a campaign's status goes through here, whoever asks: a view, the admin, a scheduled task, the
platform connector or a management command. Each change is checked, locked, audited and followed by its side
effects in exactly one way.

Allowed moves (`TRANSITIONS`): active→paused (pause), paused→active (resume), active|paused→ended (end).
Ended is final. A move into the current state is a quiet no-op that writes nothing.
"""

import dataclasses
import enum
import typing
from collections.abc import Iterable

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from ..models import (
    Action,
    Campaign,
    Connector,
    EndReason,
    Role,
    Status,
    StatusChange,
    SyncState,
)
from ..selectors import roles_for_user
from ..text import counted
from . import effects
from .errors import NotPermitted, ReasonRequired, TransitionNotAllowed
from .winddown import winddown_done_once_created


@dataclasses.dataclass(frozen=True)
class Transition:
    from_statuses: frozenset[str]
    to_status: str
    role: Role
    verb: str  # past tense, for messages


TRANSITIONS: dict[str, Transition] = {
    Action.PAUSE: Transition(frozenset({Status.ACTIVE}), Status.PAUSED, Role.EDITOR, "Paused"),
    Action.RESUME: Transition(frozenset({Status.PAUSED}), Status.ACTIVE, Role.EDITOR, "Resumed"),
    Action.END: Transition(frozenset({Status.ACTIVE, Status.PAUSED}), Status.ENDED, Role.MANAGER, "Ended"),
}


def available_actions(*, campaign: Campaign, role: Role | None) -> list[Action]:
    """The status actions `role` may take on `campaign` now, in table order (pause, resume, end): read from
    `TRANSITIONS`, so templates and tables never compare status strings. Empty for no role (not a member)."""
    if role is None:
        return []
    role = Role(role)
    return [
        Action(action)
        for action, rule in TRANSITIONS.items()
        if campaign.status in rule.from_statuses and role.allows(rule.role)
    ]


class Outcome(enum.StrEnum):
    CHANGED = "changed"
    ALREADY = "already"
    NOT_ALLOWED = "not_allowed"
    NOT_PERMITTED = "not_permitted"
    NOT_FOUND = "not_found"

    @property
    def label(self) -> str:
        return OUTCOME_LABELS[self]


OUTCOME_LABELS = {
    Outcome.CHANGED: "changed",
    Outcome.ALREADY: "already in that state",
    Outcome.NOT_ALLOWED: "not allowed from its current state",
    Outcome.NOT_PERMITTED: "not permitted for your role",
    Outcome.NOT_FOUND: "not found",
}


class OutcomesByCampaign:
    """What a bulk service did to each campaign: `outcomes` {campaign id: outcome}, outcomes of enum `OUTCOME`."""

    OUTCOME: typing.ClassVar[type[enum.Enum]]
    outcomes: dict

    def ids_with(self, outcome) -> list[int]:
        return [pk for pk, o in self.outcomes.items() if o == outcome]

    def counts(self) -> dict:
        """{outcome: how many campaigns}, every outcome present (zero if none)."""
        counts = dict.fromkeys(self.OUTCOME, 0)
        for outcome in self.outcomes.values():
            counts[outcome] += 1
        return counts


@dataclasses.dataclass
class TransitionResult(OutcomesByCampaign):
    OUTCOME: typing.ClassVar[type[enum.Enum]] = Outcome

    action: str
    outcomes: dict[int, Outcome]
    names: dict[int, str]
    statuses: dict[int, str]  # status each campaign had when it was examined
    change_ids: list[int]

    @property
    def changed_ids(self) -> list[int]:
        return self.ids_with(Outcome.CHANGED)

    def summary(self) -> str:
        """E.g. "Paused 3 campaigns; 1 already in that state; 1 not allowed from its current state (Summer)."."""
        counts = self.counts()
        verb = TRANSITIONS[self.action].verb
        changed = counts[Outcome.CHANGED]
        parts = [f"{verb} {counted(changed, 'campaign')}"]
        for outcome in (Outcome.ALREADY, Outcome.NOT_ALLOWED, Outcome.NOT_PERMITTED, Outcome.NOT_FOUND):
            if counts[outcome]:
                names = [self.names[pk] for pk in self.ids_with(outcome) if pk in self.names][:3]
                more = counts[outcome] - len(names)
                named = ", ".join(names) + (f" and {more} more" if more > 0 and names else "")
                parts.append(f"{counts[outcome]} {outcome.label}" + (f" ({named})" if named else ""))
        return "; ".join(parts) + "."


def end_reason_validate(*, reason_code: str, reason_note: str) -> None:
    if reason_code not in EndReason.values:
        raise ReasonRequired("Choose why the campaign is ending.")
    if reason_code == EndReason.OTHER and not reason_note.strip():
        raise ReasonRequired("Say why in a note when the reason is “Other”.")


def campaigns_transition(
    *,
    campaign_ids: Iterable[int],
    action: str,
    actor: AbstractBaseUser | None,
    source: str,
    reason_code: str = "",
    reason_note: str = "",
    idempotency_key: str = "",
    enforce_role: bool = True,
    delete_on_platform: bool = False,
    only_from: frozenset[str] | None = None,
    details: dict[int, dict] | None = None,
) -> TransitionResult:
    """Move every campaign in `campaign_ids` by `action` in one transaction and a constant number of queries.

    Returns each campaign's outcome: changed, already in the target state (also when this idempotency key
    was already used on it), not allowed from its current state, not permitted for the actor's role, or
    not found (missing, or in an account the actor is not a member of). With `enforce_role=False` (admin,
    schedule, platform, command) membership is not checked; those callers authorise on their own.

    Raises ReasonRequired when ending without a valid reason. Rows are locked (`select_for_update`) and
    re-checked before the conditional UPDATE; the audit rows are written in the same transaction, and so is
    the wind-down checklist of an END. Everything else (notifications, platform push, close report) follows
    the `status_changed` event, sent once per call after commit (see `effects`). Nothing is sent when
    nothing changed.

    `only_from` narrows the allowed starting statuses (a rule acts on active campaigns only, so a campaign a
    person paused a moment before, even under the same lock race, is NOT_ALLOWED); `details` ({campaign id:
    dict}) is stored on each campaign's audit row (a rule's name and the numbers that tripped it).
    """
    action = Action(action)
    rule = TRANSITIONS[action]
    from_statuses = rule.from_statuses if only_from is None else rule.from_statuses & frozenset(only_from)
    details = details or {}
    if action == Action.END:
        end_reason_validate(reason_code=reason_code, reason_note=reason_note)
    else:
        reason_code, reason_note = "", ""
    ids = sorted({int(pk) for pk in campaign_ids})
    roles = roles_for_user(user=actor) if enforce_role and actor is not None else {}
    now = timezone.now()
    actor_id = actor.pk if actor is not None and actor.is_authenticated else None

    outcomes: dict[int, Outcome] = dict.fromkeys(ids, Outcome.NOT_FOUND)
    names: dict[int, str] = {}
    statuses: dict[int, str] = {}
    with transaction.atomic():
        # Lock in primary-key order so that two overlapping bulk actions cannot deadlock.
        rows = list(
            Campaign.objects.select_for_update(of=("self",))
            .filter(pk__in=ids)
            .order_by("pk")
            .values_list("pk", "name", "status", "account_id", "account__connector")
        )
        used_key = set()
        if idempotency_key and rows:
            used_key = set(
                StatusChange.objects.filter(
                    campaign_id__in=[r[0] for r in rows], idempotency_key=idempotency_key
                ).values_list("campaign_id", flat=True)
            )
        connected: list[int] = []
        local: list[int] = []
        for pk, name, status, account_id, connector in rows:
            if enforce_role and account_id not in roles:
                continue  # stays NOT_FOUND: other accounts' campaigns are not even named
            names[pk] = name
            statuses[pk] = status
            if enforce_role and not roles[account_id].allows(rule.role):
                outcomes[pk] = Outcome.NOT_PERMITTED
            elif pk in used_key or status == rule.to_status:
                outcomes[pk] = Outcome.ALREADY
            elif status not in from_statuses:
                outcomes[pk] = Outcome.NOT_ALLOWED
            else:
                outcomes[pk] = Outcome.CHANGED
                (connected if connector != Connector.NONE else local).append(pk)

        changes: list[StatusChange] = []
        if connected or local:
            values = {
                "status": rule.to_status,
                "status_changed_at": now,
                "status_changed_by_id": actor_id,
                "updated_at": now,
            }
            if action == Action.END:
                values |= {
                    "ended_at": now,
                    "end_reason": reason_code,
                    "delete_on_platform": delete_on_platform,
                    "winddown_done": winddown_done_once_created(),  # the checklist below then changes no row
                }
            from_filter = {"status__in": from_statuses}
            updated = 0
            if local:
                updated += Campaign.objects.filter(pk__in=local, **from_filter).update(
                    **values, sync_state=SyncState.SYNCED
                )
            if connected:
                # The platform has not confirmed yet: the list shows "pausing…" until the connector does.
                updated += Campaign.objects.filter(pk__in=connected, **from_filter).update(
                    **values, sync_state=SyncState.PENDING, sync_attempts=0, sync_error="", sync_requested_at=now
                )
            if updated != len(local) + len(connected):
                raise RuntimeError("A campaign changed under a row lock; refusing a half-applied transition.")
            changes = StatusChange.objects.bulk_create(
                [
                    StatusChange(
                        campaign_id=pk,
                        action=action,
                        from_status=statuses[pk],
                        to_status=rule.to_status,
                        reason_code=reason_code,
                        reason_note=reason_note,
                        actor_id=actor_id,
                        source=source,
                        idempotency_key=idempotency_key,
                        details=({"delete_on_platform": True} if delete_on_platform else {}) | details.get(pk, {}),
                    )
                    for pk in sorted(local + connected)
                ]
            )
            # Everything that follows a status change is dispatched by effects: the wind-down checklist now, in
            # this transaction (so every path to "ended" gets one atomically); the status_changed event on commit.
            effects.status_changes_recorded(
                action=action, campaign_ids=sorted(local + connected), change_ids=[c.pk for c in changes], now=now
            )
    return TransitionResult(
        action=action,
        outcomes=outcomes,
        names=names,
        statuses=statuses,
        change_ids=[c.pk for c in changes],
    )


def campaign_transition(
    *,
    campaign: Campaign,
    action: str,
    actor: AbstractBaseUser | None,
    source: str,
    reason_code: str = "",
    reason_note: str = "",
    idempotency_key: str = "",
    enforce_role: bool = True,
    delete_on_platform: bool = False,
) -> Outcome:
    """One campaign through `campaigns_transition`. Returns CHANGED or ALREADY (a quiet no-op).

    Raises TransitionNotAllowed for a forbidden move (e.g. resuming an ended campaign), NotPermitted when the
    actor's role is too low or the actor is no member, ReasonRequired when ending without a valid reason.
    Refreshes `campaign` in place.
    """
    result = campaigns_transition(
        campaign_ids=[campaign.pk],
        action=action,
        actor=actor,
        source=source,
        reason_code=reason_code,
        reason_note=reason_note,
        idempotency_key=idempotency_key,
        enforce_role=enforce_role,
        delete_on_platform=delete_on_platform,
    )
    outcome = result.outcomes[campaign.pk]
    if outcome == Outcome.NOT_ALLOWED:
        status = Status(result.statuses[campaign.pk]).label.lower()
        raise TransitionNotAllowed(f"“{campaign.name}” is {status}; it cannot be {TRANSITIONS[action].verb.lower()}.")
    if outcome in (Outcome.NOT_PERMITTED, Outcome.NOT_FOUND):
        role = TRANSITIONS[action].role
        raise NotPermitted(
            f"You need the {role.label.lower()} role in this account to {Action(action).label.lower()} campaigns."
        )
    campaign.refresh_from_db()
    return outcome
