"""What a pause, resume or end would do to a selection, before it is confirmed: read from `TRANSITIONS`, the same
table and the same order of checks as `services.campaigns_transition`, so a confirmation counts and sums only
the campaigns that will change and names the others with why (already so, not allowed, not permitted)."""

import dataclasses
from collections.abc import Iterable
from decimal import Decimal

from .models import Campaign, Role
from .services import TRANSITIONS, Outcome

# Why a selected campaign stays as it is, worded for the confirmation ("already paused", …).
UNCHANGED_WHY = {
    Outcome.ALREADY: "already {status}",
    Outcome.NOT_ALLOWED: "{status}: cannot be {verb}",
    Outcome.NOT_PERMITTED: "not permitted for your role in {account}",
}


def transition_outcome(*, campaign: Campaign, action: str, role: Role | None) -> Outcome:
    """The outcome `services.campaigns_transition` would report for `campaign` now (role None: not enforced,
    as for the admin). Checks in the service's order: permission, already in the target state, allowed move."""
    rule = TRANSITIONS[action]
    if role is not None and not Role(role).allows(rule.role):
        return Outcome.NOT_PERMITTED
    if campaign.status == rule.to_status:
        return Outcome.ALREADY
    if campaign.status not in rule.from_statuses:
        return Outcome.NOT_ALLOWED
    return Outcome.CHANGED


@dataclasses.dataclass
class Unchanged:
    campaign: Campaign
    outcome: Outcome
    why: str


@dataclasses.dataclass
class TransitionPreview:
    """A selection split into the campaigns that will change and the ones that will not (with why)."""

    action: str
    changing: list[Campaign]
    unchanged: list[Unchanged]

    @property
    def selected(self) -> int:
        return len(self.changing) + len(self.unchanged)


def transition_preview(
    *, campaigns: Iterable[Campaign], action: str, roles: dict[int, Role] | None = None
) -> TransitionPreview:
    """Split `campaigns` (with `account` loaded) by what `action` would do. `roles` {account_id: role}; None
    when roles are not enforced (admin)."""
    rule = TRANSITIONS[action]
    changing, unchanged = [], []
    for campaign in campaigns:
        role = None if roles is None else roles.get(campaign.account_id, Role.VIEWER)
        outcome = transition_outcome(campaign=campaign, action=action, role=role)
        if outcome == Outcome.CHANGED:
            changing.append(campaign)
            continue
        why = UNCHANGED_WHY[outcome].format(
            status=campaign.get_status_display().lower(), verb=rule.verb.lower(), account=campaign.account.name
        )
        unchanged.append(Unchanged(campaign=campaign, outcome=outcome, why=why))
    return TransitionPreview(action=action, changing=changing, unchanged=unchanged)


def money_by_currency(amounts: Iterable[tuple[str, Decimal | None]]) -> list[tuple[str, Decimal]]:
    """[(currency, total)] from (currency, amount) pairs, by currency code: money is never added across
    currencies. None amounts count as nothing."""
    totals: dict[str, Decimal] = {}
    for currency, amount in amounts:
        totals[currency] = totals.get(currency, Decimal("0")) + (amount or Decimal("0"))
    return sorted(totals.items())
