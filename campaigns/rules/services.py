"""Create, edit, enable and disable rules: every write of a rule, from the rule pages and the admin alike. Each
is checked (`rule_problems`) and audited in the rule log in the same transaction. Who may call them is the
caller's check (managers on the pages, staff in the admin)."""

from decimal import Decimal

from django.db import transaction

from ..models import (
    Campaign,
    EndReason,
    Objective,
    Rule,
    RuleAction,
    RuleCondition,
    RuleLogEntry,
    RuleLogKind,
    RuleScope,
)
from ..services.errors import CampaignError
from .conditions import CONDITION_FIELDS, rule_sentence

RULE_FIELDS = (
    "name",
    "condition",
    "threshold",
    "days",
    "impressions",
    "action",
    "end_reason",
    "end_note",
    "scope",
    "objective",
    "guard_impressions",
    "guard_days",
)


class RuleInvalid(CampaignError):
    def __init__(self, problems: dict[str, str]):
        self.problems = problems
        super().__init__(" ".join(problems.values()))


def rule_problems(rule: Rule, *, campaign_ids=()) -> dict[str, str]:
    """{field: what is wrong}, empty when the rule can be saved. Each condition needs its own numbers; an end
    needs its reason (and a note for "Other"); a scope needs its objective or campaigns."""
    problems = {}
    if not (rule.name or "").strip():
        problems["name"] = "Give the rule a name."
    needs = CONDITION_FIELDS.get(rule.condition)
    if needs is None:
        problems["condition"] = "Choose a condition."
        needs = ()
    if "threshold" in needs and (rule.threshold is None or rule.threshold <= 0):
        problems["threshold"] = "Give a number above 0."
    if "days" in needs and not rule.days:
        problems["days"] = "Give a number of days (at least 1)."
    if "impressions" in needs and not rule.impressions:
        problems["impressions"] = "Give the number of impressions the CTR is judged after."
    if rule.condition == RuleCondition.BUDGET_SPENT and rule.threshold and rule.threshold > 1000:
        problems["threshold"] = "A share of the budget is a percentage up to 1,000."
    if rule.action not in RuleAction.values:
        problems["action"] = "Choose an action."
    if rule.action == RuleAction.END:
        if rule.end_reason not in EndReason.values:
            problems["end_reason"] = "Choose why the rule ends campaigns."
        elif rule.end_reason == EndReason.OTHER and not rule.end_note.strip():
            problems["end_note"] = "Say why in a note when the reason is “Other”."
    if rule.scope == RuleScope.OBJECTIVE and rule.objective not in Objective.values:
        problems["objective"] = "Choose the objective."
    if rule.scope == RuleScope.CHOSEN and not list(campaign_ids):
        problems["campaigns"] = "Choose at least one campaign."
    return problems


def _clean(rule: Rule) -> None:
    """Blank what the condition, action and scope do not use, so a stored rule holds only what it means."""
    needs = CONDITION_FIELDS.get(rule.condition, ())
    for field in ("threshold", "days", "impressions"):
        if field not in needs:
            setattr(rule, field, None)
    if rule.action != RuleAction.END:
        rule.end_reason, rule.end_note = "", ""
    if rule.scope != RuleScope.OBJECTIVE:
        rule.objective = ""


def _campaigns_of_account(account_id: int, campaign_ids) -> list[int]:
    return list(Campaign.objects.filter(account_id=account_id, pk__in=list(campaign_ids)).values_list("pk", flat=True))


def _shown(value) -> str:
    if value in (None, ""):
        return "—"
    if isinstance(value, Decimal):
        return f"{value.normalize():f}"
    return str(value)


def _actor(actor):
    return actor if actor is not None and actor.is_authenticated else None


def rule_create(*, account, actor, values: dict, campaign_ids=()) -> Rule:
    """A new rule of `account` from `values` (RULE_FIELDS). Raises RuleInvalid. Logged as created."""
    rule = Rule(account=account, created_by=_actor(actor), **{k: v for k, v in values.items() if k in RULE_FIELDS})
    ids = _campaigns_of_account(account.pk, campaign_ids) if rule.scope == RuleScope.CHOSEN else []
    problems = rule_problems(rule, campaign_ids=ids)
    if problems:
        raise RuleInvalid(problems)
    _clean(rule)
    with transaction.atomic():
        rule.save()
        rule.campaigns.set(ids)
        RuleLogEntry.objects.create(
            rule=rule, kind=RuleLogKind.CREATED, actor=_actor(actor), message=rule_sentence(rule)[:500]
        )
    return rule


def rule_edit(*, rule: Rule, actor, values: dict, campaign_ids=()) -> list[str]:
    """Change `rule` to `values`. Raises RuleInvalid. Logs what changed ("Threshold: 90 → 95"); returns the
    changed field names (nothing is written when nothing changed)."""
    with transaction.atomic():
        locked = Rule.objects.select_for_update().get(pk=rule.pk)
        before = {f: getattr(locked, f) for f in RULE_FIELDS}
        before_ids = set(locked.campaigns.values_list("pk", flat=True))
        for field, value in values.items():
            if field in RULE_FIELDS:
                setattr(locked, field, value)
        ids = _campaigns_of_account(locked.account_id, campaign_ids) if locked.scope == RuleScope.CHOSEN else []
        problems = rule_problems(locked, campaign_ids=ids)
        if problems:
            raise RuleInvalid(problems)
        _clean(locked)
        changed = [f for f in RULE_FIELDS if getattr(locked, f) != before[f]]
        if set(ids) != before_ids:
            changed.append("campaigns")
        if not changed:
            return []
        locked.save(update_fields=[f for f in changed if f != "campaigns"] + ["updated_at"])
        locked.campaigns.set(ids)
        words = [
            f"{Rule._meta.get_field(f).verbose_name.capitalize()}: {_shown(before[f])} → {_shown(getattr(locked, f))}"
            for f in changed
            if f != "campaigns"
        ]
        if "campaigns" in changed:
            words.append(f"Campaigns: {len(before_ids)} → {len(ids)}")
        RuleLogEntry.objects.create(
            rule=locked,
            kind=RuleLogKind.EDITED,
            actor=_actor(actor),
            message="; ".join(words)[:500],
            numbers={"changed": changed},
        )
    rule.refresh_from_db()
    return changed


def rule_enabled_set(*, rule: Rule, actor, enabled: bool) -> bool:
    """Enable or disable `rule`. A quiet no-op when it already is (returns False); logged otherwise."""
    with transaction.atomic():
        updated = Rule.objects.filter(pk=rule.pk, enabled=not enabled).update(enabled=enabled)
        if updated:
            RuleLogEntry.objects.create(
                rule_id=rule.pk,
                kind=RuleLogKind.ENABLED if enabled else RuleLogKind.DISABLED,
                actor=_actor(actor),
                message="Enabled" if enabled else "Disabled",
            )
    rule.enabled = enabled
    return bool(updated)
