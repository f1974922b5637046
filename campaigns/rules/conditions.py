"""Which campaigns a rule's condition holds for on a day, in one set-based query (no loop per campaign).

`campaigns_tripped(rule=…, day=…)` is the one reading of the stored daily rows that both the preview (each of
the last 30 days) and the evaluation (today) use, so the preview shows what evaluation does on the same data.
Only campaign-level daily rows count (rows without a content item), and only rows up to `day`: a past day reads
what was known then. A sum "up to `day`" is the campaign's stored total (`Campaign.total_*`, kept by every write of
daily rows) less its rows after `day`, so the query joins only the rows of the last days the condition looks at
(none after today when evaluating now, at most the preview's 30 days), never the campaign's whole history.
Each condition's numbers come back with it, and `trip_text` writes them for people ("spend
96 % of the lifetime budget (960.00 USD of 1,000.00 USD)"); `rule_sentence` writes the rule ("Pause when spend
reaches 90 % of the lifetime budget")."""

import dataclasses
import datetime as dt
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import (
    BigIntegerField,
    Case,
    Count,
    DecimalField,
    ExpressionWrapper,
    F,
    FilteredRelation,
    Q,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce

from ..models import (
    OBJECTIVE_RESULT_METRIC,
    BudgetMode,
    Campaign,
    Objective,
    Rule,
    RuleAction,
    RuleCondition,
    RuleScope,
    Status,
)
from ..money import money_text

MONEY = DecimalField(max_digits=20, decimal_places=4)
COUNT = BigIntegerField()
# The campaign-level daily rows the condition reads: only those after a bound (`_recent`), joined once.
RECENT = "recent_days"
RESULT_WORDS = {"reach": "reached", "clicks": "click", "video_views": "view", "follows": "follow"}

# Which of a rule's numbers each condition needs (the form asks for these and only these).
CONDITION_FIELDS = {
    RuleCondition.BUDGET_SPENT: ("threshold",),
    RuleCondition.DAILY_OVERSPEND: ("threshold",),
    RuleCondition.COST_PER_RESULT: ("days",),
    RuleCondition.NO_IMPRESSIONS: ("days",),
    RuleCondition.END_DATE_PASSED: (),
    RuleCondition.LOW_CTR: ("threshold", "impressions"),
}


@dataclasses.dataclass(frozen=True)
class Trip:
    """A campaign the condition holds for on `day`: its numbers (JSON-ready), and `held` ("" or why a guard
    keeps the rule from acting: "waiting: learning")."""

    campaign_id: int
    name: str
    status: str
    day: dt.date
    numbers: dict
    text: str
    held: str


def _recent(since: dt.date) -> FilteredRelation:
    """The campaign's own daily rows (no content item) after `since`: the join's ON clause holds the bound, so the
    database reads them from the (campaign, date) index and never the older days."""
    return FilteredRelation(
        "daily_metrics", condition=Q(daily_metrics__content_item__isnull=True, daily_metrics__date__gt=since)
    )


def _sum(field: str, when: Q, output=COUNT):
    """The sum of `field` over the recent rows that match `when` (0 when none do)."""
    zero = Value(Decimal("0") if output is MONEY else 0, output_field=output)
    return Coalesce(Sum(f"{RECENT}__{field}", filter=when), zero, output_field=output)


def _upto(field: str, day: dt.date, output=COUNT):
    """The sum of `field` over the campaign's daily rows up to `day`: its stored total less the rows after `day`."""
    return ExpressionWrapper(
        F(f"total_{field}") - _sum(field, Q(**{f"{RECENT}__date__gt": day}), output), output_field=output
    )


def _results_expr():
    """The day row's results, by the campaign's objective (`OBJECTIVE_RESULT_METRIC`)."""
    return Case(
        *(
            When(objective=objective, then=F(f"{RECENT}__{metric}"))
            for objective, metric in OBJECTIVE_RESULT_METRIC.items()
        ),
        default=F(f"{RECENT}__video_views"),
    )


def _over_target_q() -> Q:
    """A day row whose cost per result is above the campaign's target: spend > target × results (a day that
    spent and got no result is above any target)."""
    q = Q()
    by_metric: dict[str, list[str]] = {}
    for objective, metric in OBJECTIVE_RESULT_METRIC.items():
        by_metric.setdefault(metric, []).append(objective)
    for metric, objectives in by_metric.items():
        q |= Q(
            objective__in=objectives,
            **{
                f"{RECENT}__spend__gt": ExpressionWrapper(
                    F("target_cost_per_result") * F(f"{RECENT}__{metric}"), output_field=MONEY
                )
            },
        )
    return q


def scope_queryset(*, rule: Rule, campaign_ids=None):
    """The rule's campaigns that are not ended. `campaign_ids` are the chosen campaigns of a rule not saved yet
    (the preview of a form); a saved rule's chosen campaigns are read in the same query."""
    qs = Campaign.objects.filter(account_id=rule.account_id).exclude(status=Status.ENDED)
    if rule.scope == RuleScope.OBJECTIVE:
        qs = qs.filter(objective=rule.objective)
    elif rule.scope == RuleScope.CHOSEN:
        if campaign_ids is None:
            campaign_ids = Rule.campaigns.through.objects.filter(rule_id=rule.pk).values("campaign_id")
        qs = qs.filter(pk__in=campaign_ids)
    return qs


def campaigns_tripped(*, rule: Rule, day: dt.date, campaign_ids=None) -> dict[int, Trip]:
    """{campaign id: Trip} for the rule's campaigns (not ended) its condition holds for on `day`. One query."""
    condition = RuleCondition(rule.condition)
    threshold = rule.threshold_value
    days = max(int(rule.days or 1), 1)
    # The rows read: those after `day` (what the stored totals hold beyond it), and the days the condition looks
    # at: its window, or the day itself.
    since = {
        RuleCondition.COST_PER_RESULT: day - dt.timedelta(days=days),
        RuleCondition.NO_IMPRESSIONS: day - dt.timedelta(days=days),
        RuleCondition.DAILY_OVERSPEND: day - dt.timedelta(days=1),
    }.get(condition, day)
    qs = (
        scope_queryset(rule=rule, campaign_ids=campaign_ids)
        .alias(**{RECENT: _recent(since)})
        .annotate(cum_impressions=_upto("impressions", day))
    )
    fields = ["pk", "name", "status", "start_date", "end_date", "budget_amount", "cum_impressions"]
    window = Q(**{f"{RECENT}__date__lte": day})  # and after `since`, by the join
    if condition == RuleCondition.BUDGET_SPENT:
        qs = (
            qs.filter(budget_mode=BudgetMode.LIFETIME, budget_amount__gt=0)
            .annotate(cum_spend=_upto("spend", day, MONEY))
            .filter(cum_spend__gte=ExpressionWrapper(F("budget_amount") * threshold / 100, output_field=MONEY))
        )
        fields.append("cum_spend")
    elif condition == RuleCondition.DAILY_OVERSPEND:
        qs = (
            qs.filter(budget_mode=BudgetMode.DAILY, budget_amount__gt=0)
            .annotate(day_spend=_sum("spend", Q(**{f"{RECENT}__date": day}), MONEY))
            .filter(day_spend__gte=ExpressionWrapper(F("budget_amount") * threshold, output_field=MONEY))
        )
        fields.append("day_spend")
    elif condition == RuleCondition.COST_PER_RESULT:
        qs = (
            qs.filter(target_cost_per_result__isnull=False)
            .annotate(
                over_days=Count(RECENT, filter=window & _over_target_q()),
                window_spend=_sum("spend", window, MONEY),
                window_results=Coalesce(Sum(_results_expr(), filter=window), Value(0), output_field=COUNT),
            )
            .filter(over_days__gte=days)
        )
        fields += ["objective", "target_cost_per_result", "over_days", "window_spend", "window_results"]
    elif condition == RuleCondition.NO_IMPRESSIONS:
        qs = (
            qs.filter(start_date__lte=day - dt.timedelta(days=days - 1))
            .annotate(window_impressions=_sum("impressions", window))
            .filter(window_impressions=0)
        )
    elif condition == RuleCondition.END_DATE_PASSED:
        qs = qs.filter(end_date__lt=day)
    elif condition == RuleCondition.LOW_CTR:
        # Integers on both sides: clicks × 10,000 < impressions × the percentage in hundredths.
        hundredths = int((threshold * 100).to_integral_value(ROUND_HALF_UP))
        least = max(int(rule.impressions or 0), 1)
        qs = (
            # Impressions only add up, so a total below the bound is below it on any day: those campaigns are
            # left out before their rows are read.
            qs.filter(total_impressions__gte=least)
            .annotate(cum_clicks=_upto("clicks", day))
            .annotate(clicks_scaled=F("cum_clicks") * 10000, impressions_scaled=F("cum_impressions") * hundredths)
            .filter(cum_impressions__gte=least)
            .filter(clicks_scaled__lt=F("impressions_scaled"))
        )
        fields.append("cum_clicks")
    currency = rule.account.currency
    trips = {}
    for row in qs.order_by("pk").values(*fields):
        numbers = _numbers(condition, row, rule=rule, day=day)
        trips[row["pk"]] = Trip(
            campaign_id=row["pk"],
            name=row["name"],
            status=row["status"],
            day=day,
            numbers=numbers,
            text=trip_text(condition, numbers, currency=currency),
            held=_held(rule, row, day),
        )
    return trips


def _held(rule: Rule, row: dict, day: dt.date) -> str:
    if rule.guard_days and row["start_date"] and (day - row["start_date"]).days < rule.guard_days:
        return "waiting: learning"
    if rule.guard_impressions and row["cum_impressions"] < rule.guard_impressions:
        return "waiting: learning"
    return ""


def _pct(part, whole) -> str:
    if not whole:
        return "0"
    return str((Decimal(part) * 100 / Decimal(whole)).quantize(Decimal("0.01"), ROUND_HALF_UP))


def _numbers(condition: RuleCondition, row: dict, *, rule: Rule, day: dt.date) -> dict:
    numbers: dict = {"impressions": int(row["cum_impressions"])}
    if condition == RuleCondition.BUDGET_SPENT:
        numbers |= {
            "spend": str(Decimal(row["cum_spend"]).quantize(Decimal("0.01"))),
            "budget": str(row["budget_amount"]),
            "percent": _pct(row["cum_spend"], row["budget_amount"]),
        }
    elif condition == RuleCondition.DAILY_OVERSPEND:
        factor = Decimal(row["day_spend"]) / Decimal(row["budget_amount"])
        numbers |= {
            "day_spend": str(Decimal(row["day_spend"]).quantize(Decimal("0.01"))),
            "budget": str(row["budget_amount"]),
            "factor": str(factor.quantize(Decimal("0.01"), ROUND_HALF_UP)),
        }
    elif condition == RuleCondition.COST_PER_RESULT:
        results = int(row["window_results"] or 0)
        cost = Decimal(row["window_spend"]) / results if results else None
        numbers |= {
            "days": int(row["over_days"]),
            "cost_per_result": str(cost.quantize(Decimal("0.0001"), ROUND_HALF_UP)) if cost is not None else "",
            "target": str(row["target_cost_per_result"]),
            "result": OBJECTIVE_RESULT_METRIC.get(row["objective"], "video_views"),
        }
    elif condition == RuleCondition.NO_IMPRESSIONS:
        numbers |= {"days": int(rule.days or 1)}
    elif condition == RuleCondition.END_DATE_PASSED:
        numbers |= {"end_date": row["end_date"].isoformat(), "days_past": (day - row["end_date"]).days}
    elif condition == RuleCondition.LOW_CTR:
        numbers |= {"clicks": int(row["cum_clicks"]), "ctr": _pct(row["cum_clicks"], row["cum_impressions"])}
    return numbers


def _figure(value: str) -> str:
    """ "96.00" → "96", "2.50" → "2.5": numbers as people write them."""
    text = f"{Decimal(value):,.2f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def day_text(day: dt.date) -> str:
    return f"{day.day} {day:%b}"


def trip_text(condition: str, numbers: dict, *, currency: str) -> str:
    """The numbers that tripped a condition, for people."""
    condition = RuleCondition(condition)
    if condition == RuleCondition.BUDGET_SPENT:
        return (
            f"spend {_figure(numbers['percent'])} % of the lifetime budget "
            f"({money_text(numbers['spend'], currency)} of {money_text(numbers['budget'], currency)})"
        )
    if condition == RuleCondition.DAILY_OVERSPEND:
        return (
            f"spent {money_text(numbers['day_spend'], currency)} in the day, {_figure(numbers['factor'])} × the daily "
            f"budget of {money_text(numbers['budget'], currency)}"
        )
    if condition == RuleCondition.COST_PER_RESULT:
        cost = money_text(numbers["cost_per_result"], currency) if numbers["cost_per_result"] else "no results"
        return (
            f"cost per result {cost} over {numbers['days']} days in a row, "
            f"target {money_text(numbers['target'], currency)}"
        )
    if condition == RuleCondition.NO_IMPRESSIONS:
        return f"no impressions for {numbers['days']} days"
    if condition == RuleCondition.END_DATE_PASSED:
        end = dt.date.fromisoformat(numbers["end_date"])
        return f"planned end {day_text(end)} passed {numbers['days_past']} days ago"
    return f"CTR {_figure(numbers['ctr'])} % after {numbers['impressions']:,} impressions"


ACTION_VERBS = {RuleAction.NOTIFY: "Tell the team", RuleAction.PAUSE: "Pause", RuleAction.END: "End"}


def condition_text(rule: Rule) -> str:
    """ "spend reaches 90 % of the lifetime budget", for `rule_sentence` and the rule list."""
    condition = RuleCondition(rule.condition)
    threshold = _figure(str(rule.threshold_value))
    days = rule.days or 1
    return {
        RuleCondition.BUDGET_SPENT: f"spend reaches {threshold} % of the lifetime budget",
        RuleCondition.DAILY_OVERSPEND: f"a day's spend reaches {threshold} × the daily budget",
        RuleCondition.COST_PER_RESULT: f"cost per result is above the campaign's target for {days} days in a row",
        RuleCondition.NO_IMPRESSIONS: f"an active campaign gets no impressions for {days} days",
        RuleCondition.END_DATE_PASSED: "the planned end date has passed",
        RuleCondition.LOW_CTR: f"CTR is below {threshold} % after {int(rule.impressions or 0):,} impressions",
    }[condition]


def scope_text(rule: Rule, *, chosen: int | None = None) -> str:
    if rule.scope == RuleScope.OBJECTIVE:
        try:
            label = Objective(rule.objective).label
        except ValueError:
            label = rule.objective
        return f"{label} campaigns"
    if rule.scope == RuleScope.CHOSEN:
        return "chosen campaigns" if chosen is None else f"{chosen} chosen campaign{'s' if chosen != 1 else ''}"
    return "all campaigns"


def guards_text(rule: Rule) -> str:
    parts = []
    if rule.guard_impressions:
        parts.append(f"before {rule.guard_impressions:,} impressions")
    if rule.guard_days:
        parts.append(f"in the first {rule.guard_days} day{'s' if rule.guard_days != 1 else ''}")
    return ("never " + " or ".join(parts)) if parts else ""


def rule_sentence(rule: Rule) -> str:
    """ "Pause when spend reaches 90 % of the lifetime budget" (the action's words, then the condition)."""
    verb = ACTION_VERBS[RuleAction(rule.action)]
    return f"{verb} when {condition_text(rule)}"
