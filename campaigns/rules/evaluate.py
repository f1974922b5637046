"""What a rule does now: after every metrics pull or import (queued on commit) and hourly by the worker.

For each enabled rule, in one transaction with the rule's row locked (two evaluations of one rule, say the hourly
job and an import, run one after the other):

1. `conditions.campaigns_tripped` for the account's today: the campaigns the condition holds for (one query).
2. Episodes: a campaign whose condition no longer holds closes its open episode; a campaign with an open episode
   is left alone (the rule fired already: once per episode, and a person who resumed it is not overruled).
3. Guards: a campaign still learning (too few impressions, too few days) is held back and logged ("waiting:
   learning", at most once a day); a campaign that is not active is not touched (a rule never resumes, and never
   acts on what a person paused).
4. The rest: notify-only tells the team; pause and end go through `campaigns_transition` with source `rule`,
   only from active (a person's pause at the same moment wins under the row lock: that campaign is logged as held
   back), the rule's name and the numbers on each audit row. Its `status_changed` event (notifications, the
   platform push, the close report) follows on commit, like any other change.
5. An episode opens and the rule log records the action, with the numbers.
"""

import dataclasses
import datetime as dt
import logging

from django.db import transaction
from django.utils import timezone

from ..models import (
    Action,
    Rule,
    RuleAction,
    RuleEpisode,
    RuleLogEntry,
    RuleLogKind,
    Source,
    Status,
)
from ..services.transitions import campaigns_transition
from ..timezones import today_in
from . import notify
from .conditions import campaigns_tripped, condition_text, day_text

logger = logging.getLogger(__name__)

RULE_ACTIONS = {RuleAction.PAUSE: Action.PAUSE, RuleAction.END: Action.END}
HELD_BY_PERSON = "held: a person changed it at the same moment"


@dataclasses.dataclass
class Evaluation:
    rule_id: int
    day: dt.date | None = None
    acted: list[int] = dataclasses.field(default_factory=list)
    held: dict[int, str] = dataclasses.field(default_factory=dict)
    closed: list[int] = dataclasses.field(default_factory=list)


def acted_message(rule: Rule, name: str, day: dt.date, text: str) -> str:
    """ "Paused “Glow Drop #12” on 12 Nov: spend 96 % of the lifetime budget (…)"."""
    verb = {RuleAction.NOTIFY: "Flagged", RuleAction.PAUSE: "Paused", RuleAction.END: "Ended"}[RuleAction(rule.action)]
    return f"{verb} “{name}” on {day_text(day)}: {text}"[:500]


def end_note(rule: Rule) -> str:
    """ "Ended by rule “Budget stop”: spend reaches 90 % of the lifetime budget. Budget is gone." """
    note = f"Ended by rule “{rule.name}”: {condition_text(rule)}."
    return f"{note} {rule.end_note}".strip() if rule.end_note else note


def held_message(name: str, day: dt.date, text: str, why: str) -> str:
    return f"“{name}” on {day_text(day)}: {text}; {why}"[:500]


def rule_evaluate(*, rule_id: int, today: dt.date | None = None) -> Evaluation:
    """Evaluate one rule now (see the module docstring). Idempotent: evaluating again changes nothing until the
    data or a campaign's status does. Returns what it did."""
    with transaction.atomic():
        rule = Rule.objects.select_for_update(of=("self",)).select_related("account").filter(pk=rule_id).first()
        result = Evaluation(rule_id=rule_id)
        if rule is None or not rule.enabled:
            return result
        day = today or today_in(rule.account)
        result.day = day
        now = timezone.now()
        trips = campaigns_tripped(rule=rule, day=day)
        open_ids = set(
            RuleEpisode.objects.filter(rule=rule, closed_at__isnull=True).values_list("campaign_id", flat=True)
        )
        result.closed = sorted(open_ids - set(trips))
        if result.closed:
            RuleEpisode.objects.filter(rule=rule, closed_at__isnull=True, campaign_id__in=result.closed).update(
                closed_at=now
            )
        candidates = {pk: t for pk, t in trips.items() if pk not in open_ids and t.status == Status.ACTIVE}
        fire = {pk: t for pk, t in candidates.items() if not t.held}
        result.held = {pk: t.held for pk, t in candidates.items() if t.held}
        acted = list(fire)
        if fire and rule.action != RuleAction.NOTIFY:
            outcome = campaigns_transition(
                campaign_ids=list(fire),
                action=RULE_ACTIONS[RuleAction(rule.action)],
                actor=None,
                source=Source.RULE,
                enforce_role=False,
                only_from=frozenset({Status.ACTIVE}),
                reason_code=rule.end_reason if rule.action == RuleAction.END else "",
                # The end's note says which rule and why, so the close report a stakeholder reads does too.
                reason_note=end_note(rule) if rule.action == RuleAction.END else "",
                details={
                    pk: {"rule_id": rule.pk, "rule_name": rule.name, "rule_reason": t.text, "numbers": t.numbers}
                    for pk, t in fire.items()
                },
            )
            acted = outcome.changed_ids
            for pk in set(fire) - set(acted):
                result.held[pk] = HELD_BY_PERSON
        result.acted = sorted(acted)
        if result.held:
            RuleLogEntry.objects.bulk_create(
                [
                    RuleLogEntry(
                        rule=rule,
                        campaign_id=pk,
                        kind=RuleLogKind.HELD,
                        day=day,
                        message=held_message(trips[pk].name, day, trips[pk].text, why),
                        numbers=trips[pk].numbers,
                    )
                    for pk, why in result.held.items()
                ],
                ignore_conflicts=True,  # one hold a campaign, rule and day (`rulelog_one_hold_a_day`)
            )
        if result.acted:
            RuleEpisode.objects.bulk_create(
                [RuleEpisode(rule=rule, campaign_id=pk, opened_on=day) for pk in result.acted]
            )
            RuleLogEntry.objects.bulk_create(
                [
                    RuleLogEntry(
                        rule=rule,
                        campaign_id=pk,
                        kind=RuleLogKind.ACTED,
                        day=day,
                        message=acted_message(rule, trips[pk].name, day, trips[pk].text),
                        numbers=trips[pk].numbers,
                    )
                    for pk in result.acted
                ]
            )
            if rule.action == RuleAction.NOTIFY:
                notify.rule_notify(rule=rule, trips=[trips[pk] for pk in result.acted])
        Rule.objects.filter(pk=rule.pk).update(last_evaluated_at=now)
    return result


def rules_evaluate(*, account_ids=None, today: dt.date | None = None) -> dict[int, Evaluation]:
    """Evaluate every enabled rule (of these accounts, or of all). One transaction per rule: a rule that fails
    is logged and the others still run."""
    rules = Rule.objects.filter(enabled=True)
    if account_ids is not None:
        rules = rules.filter(account_id__in=list(account_ids))
    results = {}
    for rule_id in rules.order_by("pk").values_list("pk", flat=True):
        try:
            results[rule_id] = rule_evaluate(rule_id=rule_id, today=today)
        except Exception:
            logger.exception("Rule %s could not be evaluated; the other rules still run.", rule_id)
    return results
