"""Planning the next campaign from an ended one (issue 18): a new campaign prefilled from the frozen report.

`plan_next_propose` reads the report (never the live metrics, which late attribution keeps changing) and the
current lessons, and says what the next campaign starts from: the same objective, budget and audience, targets
from what was reached, dates starting tomorrow in the account's calendar (so it reads "Starts …", not
delivering), and what it carries over for the team to read (the best weekdays and content kinds of the report's
insights, the lessons, how each target was derived). Nothing is saved: the create form shows it, the manager
edits it, and `plan_next_create` creates the campaign through the campaigns editing service with `planned_from`
and `plan` set, audited as "Planned from …".

Targets (`TARGET_ROUNDING`): for each target the previous campaign had (or, if it had none, the target of its
objective's result metric), what was reached rounded to two significant figures in the better direction: counts
and the engagement rate up (136,304 views → 140,000), the cost per result down (0.0523 → 0.052). A reached value
of 0 (or none) gives no target."""

import dataclasses
import datetime as dt
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from django.contrib.auth.models import AbstractBaseUser

from campaigns import services as campaign_services
from campaigns.models import Campaign

from .. import metrics, presenters
from ..formatting import fmt_date, fmt_money, fmt_value
from ..metrics import HIGHER
from ..models import CloseReport, LessonRevision
from .errors import ReportError

PLAN_VERSION = 1
TARGET_ROUNDING = (
    "Each target is what was reached last time, rounded to two significant figures: up for counts and the "
    "engagement rate, down for the cost per result."
)
# The smallest step each target field stores (its decimal places), and the highest value it allows.
TARGET_STEPS = {"target_engagement_rate": Decimal("0.01"), "target_cost_per_result": Decimal("0.0001")}
TARGET_MAX = {"target_engagement_rate": Decimal("100")}
FIELD_FOR_METRIC = {key: field for field, key in metrics.TARGETS}
NAME_SUFFIX = " (next)"


@dataclasses.dataclass(frozen=True)
class PlanProposal:
    """`initial`: the create form's values (model field names); `plan`: what `Campaign.plan` stores (JSON-safe)."""

    initial: dict
    plan: dict


def target_round(value: Decimal, *, up: bool, step: Decimal = Decimal("1")) -> Decimal:
    """`value` (> 0) rounded to two significant figures, up or down, never finer than `step`:
    136,304 → 140,000 (up); 8,420 → 8,500 (up); 0.0523 → 0.052 (down)."""
    quantum = max(Decimal(1).scaleb(value.adjusted() - 1), step)
    steps = (value / quantum).to_integral_value(rounding=ROUND_CEILING if up else ROUND_FLOOR)
    return (steps * quantum).quantize(step)


def _targets(snapshot: dict) -> list[dict]:
    currency = snapshot["campaign"]["currency"]
    frozen = list(snapshot.get("targets") or [])
    if not frozen:
        # No targets last time: aim at the objective's result, if it is a metric a target can be set for.
        key = snapshot["campaign"]["result_metric"]
        if key in FIELD_FOR_METRIC:
            m = metrics.metric(key)
            actual = snapshot["totals"].get(key)
            frozen = [{"key": key, "label": m.label, "unit": m.unit, "better": m.better, "actual": actual}]
    out = []
    for t in frozen:
        field = FIELD_FOR_METRIC.get(t["key"])
        if field is None or t.get("actual") in (None, ""):
            continue
        reached = Decimal(str(t["actual"]))
        if reached <= 0:
            continue
        step = TARGET_STEPS.get(field, Decimal("1"))
        value = target_round(reached, up=t["better"] == HIGHER, step=step)
        value = min(value, TARGET_MAX.get(field, value))
        if value <= 0:
            continue
        unit = t["unit"]
        shown, reached_shown = (fmt_value(v, unit, currency) for v in (value, reached))
        text = f"{t['label']} target {shown}: reached {reached_shown} last time"
        if t.get("target") is not None:
            text += f" (its target was {fmt_value(t['target'], unit, currency)})"
        out.append(
            {
                "field": field,
                "label": t["label"],
                "value": int(value) if step == 1 else str(value),
                "reached": t["actual"],
                "previous": t.get("target"),
                "text": text,
            }
        )
    return out


def _lessons(lessons: LessonRevision | None) -> dict:
    if lessons is None or lessons.is_empty:
        return {}
    author = lessons.author
    return {
        "what_worked": lessons.what_worked,
        "what_to_change": lessons.what_to_change,
        "next_steps": lessons.next_steps,
        "revision_id": lessons.pk,
        "by": (author.get_full_name() or author.get_username()) if author else None,
        "saved_at": lessons.created_at.isoformat() if lessons.created_at else None,
    }


def _dates(snapshot: dict, today: dt.date) -> tuple[dt.date, dt.date | None]:
    """Tomorrow (a plan starts in the future, so it reads "Starts …"), for as many days as last time's plan."""
    start = today + dt.timedelta(days=1)
    budget = snapshot["budget"]
    if budget.get("planned_start") and budget.get("planned_end"):
        days = (dt.date.fromisoformat(budget["planned_end"]) - dt.date.fromisoformat(budget["planned_start"])).days
        return start, start + dt.timedelta(days=max(days, 0))
    return start, None


def plan_next_propose(
    *, campaign: Campaign, report: CloseReport, lessons: LessonRevision | None, today: dt.date
) -> PlanProposal:
    """What the next campaign after `campaign` (ended, `report` its frozen report) starts from. `lessons`: the
    report's current revision (`selectors.lessons_for_report`); `today`: the account's today. Pure: no query
    beyond what the arguments hold (the lessons' author, if not loaded)."""
    snapshot = report.snapshot
    info, budget = snapshot["campaign"], snapshot["budget"]
    currency = info["currency"]
    start, end = _dates(snapshot, today)
    targets = _targets(snapshot)
    best = presenters.insights_best(snapshot)
    amount = Decimal(budget["amount"])
    initial = {
        "name": (info["name"][: 255 - len(NAME_SUFFIX)] + NAME_SUFFIX),
        "objective": info["objective"],
        "budget_mode": budget["mode"],
        "budget_amount": amount,
        "start_date": start,
        "end_date": end,
        "audience": campaign.audience,
        **{t["field"]: (t["value"] if isinstance(t["value"], int) else Decimal(t["value"])) for t in targets},
    }
    budget_text = f"{budget['mode_label']} budget {fmt_money(amount, currency)}: the same as last time"
    if budget.get("spent") is not None:
        budget_text += f" (spent {fmt_money(budget['spent'], currency)})"
    plan = {
        "version": PLAN_VERSION,
        "from": {
            "id": campaign.pk,
            "name": info["name"],
            "report_id": report.pk,
            "ended": snapshot["ended"]["date"],
            "ended_display": fmt_date(snapshot["ended"]["date"]),
        },
        "objective": {"value": info["objective"], "label": info["objective_label"]},
        "budget": {"mode": budget["mode"], "amount": budget["amount"], "text": budget_text},
        "dates": {
            "start": start.isoformat(),
            "end": end.isoformat() if end else None,
            "text": f"Suggested start {fmt_date(start.isoformat())}, the day after planning"
            + (f", for {(end - start).days + 1} days as planned last time" if end else ", with no end date")
            + ": nothing runs before it starts.",
        },
        "targets": targets,
        "rounding": TARGET_ROUNDING,
        "weekdays": best["weekdays"],
        "content_kinds": best["kinds"],
        "lessons": _lessons(lessons),
    }
    return PlanProposal(initial=initial, plan=plan)


def plan_next_create(
    *,
    campaign: Campaign,
    report: CloseReport,
    lessons: LessonRevision | None,
    today: dt.date,
    actor: AbstractBaseUser,
    values: dict,
    content_formset=None,
) -> Campaign:
    """Create the next campaign after `campaign` with the (edited) form `values`, in its account, with
    `planned_from` and `plan` set: the plan is proposed again here from the report, so what it says was carried
    over is what the report holds, not what a form posted. Not linked to the platform (no platform id): nothing is
    pushed. The caller checked that `actor` may create campaigns in the account. Raises ReportError when
    `report` is not `campaign`'s."""
    if report.campaign_id != campaign.pk:
        raise ReportError("That report is not this campaign's.")
    proposal = plan_next_propose(campaign=campaign, report=report, lessons=lessons, today=today)
    return campaign_services.campaign_create(
        account=campaign.account,
        actor=actor,
        values={**values, "platform_id": ""},
        content_formset=content_formset,
        planned_from=campaign,
        plan=proposal.plan,
    )
