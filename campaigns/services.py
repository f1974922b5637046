"""Every change to a campaign's status goes through here, whoever asks: a view, the admin, a scheduled task, the
platform connector or a management command. Each change is checked, locked, audited and followed by its side
effects in exactly one way.

Allowed moves (`TRANSITIONS`): active→paused (pause), paused→active (resume), active|paused→ended (end).
Ended is final. A move into the current state is a quiet no-op that writes nothing.
"""

import dataclasses
import enum
import functools
from collections.abc import Iterable
from datetime import date
from decimal import Decimal

from django.contrib.auth.models import AbstractBaseUser
from django.db import connection, transaction
from django.db.models import Count, Max, Sum
from django.dispatch import Signal
from django.utils import timezone

from .models import (
    COUNT_METRIC_FIELDS,
    METRIC_FIELDS,
    Action,
    Campaign,
    Connector,
    DailyMetric,
    EndReason,
    Role,
    Status,
    StatusChange,
    SyncState,
)
from .selectors import roles_for_user

# Sent after the transaction that changed statuses has committed, with `change_ids`: the new StatusChange ids.
# Apps that build on campaigns (reports) listen here, so campaigns never imports them.
status_changed = Signal()


class CampaignError(Exception):
    """A rule was broken; the message is written for the user who asked."""


class TransitionNotAllowed(CampaignError):
    pass


class ReasonRequired(CampaignError):
    pass


class NotPermitted(CampaignError):
    pass


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


@dataclasses.dataclass
class TransitionResult:
    action: str
    outcomes: dict[int, Outcome]
    names: dict[int, str]
    statuses: dict[int, str]  # status each campaign had when it was examined
    change_ids: list[int]

    def ids_with(self, outcome: Outcome) -> list[int]:
        return [pk for pk, o in self.outcomes.items() if o == outcome]

    @property
    def changed_ids(self) -> list[int]:
        return self.ids_with(Outcome.CHANGED)

    def counts(self) -> dict[Outcome, int]:
        counts = dict.fromkeys(Outcome, 0)
        for outcome in self.outcomes.values():
            counts[outcome] += 1
        return counts

    def summary(self) -> str:
        """E.g. "Paused 3 campaigns; 1 already in that state; 1 not allowed from its current state (Summer)."."""
        counts = self.counts()
        verb = TRANSITIONS[self.action].verb
        changed = counts[Outcome.CHANGED]
        parts = [f"{verb} {changed} campaign{'' if changed == 1 else 's'}"]
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
) -> TransitionResult:
    """Move every campaign in `campaign_ids` by `action` in one transaction and a constant number of queries.

    Returns each campaign's outcome: changed, already in the target state (also when this idempotency key
    was already used on it), not allowed from its current state, not permitted for the actor's role, or
    not found (missing, or in an account the actor is not a member of). With `enforce_role=False` (admin,
    schedule, platform, command) membership is not checked; those callers authorise on their own.

    Raises ReasonRequired when ending without a valid reason. Rows are locked (`select_for_update`) and
    re-checked before the conditional UPDATE; the audit rows are written in the same transaction. Side
    effects (report snapshot, notifications, platform push) start only after commit.
    """
    action = Action(action)
    rule = TRANSITIONS[action]
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
            elif status not in rule.from_statuses:
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
                values |= {"ended_at": now, "end_reason": reason_code, "delete_on_platform": delete_on_platform}
            from_filter = {"status__in": rule.from_statuses}
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
                        details={"delete_on_platform": True} if delete_on_platform else {},
                    )
                    for pk in sorted(local + connected)
                ]
            )
            if action == Action.END:  # issue 6: every path to "ended" gets its wind-down checklist
                winddown_checklists_create(campaign_ids=local + connected, now=now)
            change_ids = [c.pk for c in changes]
            transaction.on_commit(functools.partial(_after_status_change, change_ids=change_ids))
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


def _after_status_change(*, change_ids: list[int]) -> None:
    """Runs after commit. Every consequence of a status change starts here."""
    status_changed.send(sender=Campaign, change_ids=change_ids)
    _notify_status_changes_enqueue(change_ids=change_ids)  # issue 6
    platform_push_enqueue(change_ids=change_ids)  # issue 7


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


# Metrics totals -------------------------------------------------------------------------------------------


def campaign_totals_refresh(*, campaign_ids: Iterable[int]) -> int:
    """Recompute the denormalised totals of these campaigns from their campaign-level daily metrics.

    Called by everything that writes DailyMetric (seed, CSV import, platform sync). One aggregate query
    plus one bulk update, whatever the number of campaigns. Returns the number of campaigns updated."""
    ids = list({int(pk) for pk in campaign_ids})
    if not ids:
        return 0
    aggregates = {
        row["campaign_id"]: row
        for row in DailyMetric.objects.filter(campaign_id__in=ids, content_item__isnull=True)
        .values("campaign_id")
        .annotate(**{f"t_{f}": Sum(f) for f in METRIC_FIELDS}, last=Max("date"), n=Count("id"))
    }
    campaigns = []
    for pk in ids:
        agg = aggregates.get(pk, {})
        campaign = Campaign(pk=pk)
        campaign.total_spend = agg.get("t_spend") or Decimal("0")
        for field in COUNT_METRIC_FIELDS:
            setattr(campaign, f"total_{field}", agg.get(f"t_{field}") or 0)
        campaign.last_metric_date = agg.get("last")
        campaigns.append(campaign)
    fields = [f"total_{f}" for f in METRIC_FIELDS] + ["last_metric_date"]
    Campaign.objects.bulk_update(campaigns, fields, batch_size=500)
    return len(campaigns)


def daily_metrics_upsert(*, rows: list[dict], refresh_totals: bool = True) -> tuple[int, int]:
    """Insert or update daily metric rows, keyed by (campaign_id, content_item_id or None, date).

    Each row is a dict with `campaign_id`, `content_item_id` (may be None), `date` and metric fields.
    Idempotent: the same rows again change nothing. Returns (created, updated)."""
    if not rows:
        return (0, 0)
    campaign_ids = {r["campaign_id"] for r in rows}
    dates = [r["date"] for r in rows]
    existing = {
        (m.campaign_id, m.content_item_id, m.date): m
        for m in DailyMetric.objects.filter(campaign_id__in=campaign_ids, date__gte=min(dates), date__lte=max(dates))
    }
    to_create, to_update = [], []
    for row in rows:
        key = (row["campaign_id"], row.get("content_item_id"), row["date"])
        values = {f: row.get(f, 0) or 0 for f in METRIC_FIELDS}
        values["spend"] = Decimal(str(values["spend"]))
        metric = existing.get(key)
        if metric is None:
            to_create.append(DailyMetric(campaign_id=key[0], content_item_id=key[1], date=key[2], **values))
            existing[key] = to_create[-1]
        elif any(getattr(metric, f) != v for f, v in values.items()):
            for f, v in values.items():
                setattr(metric, f, v)
            metric.updated_at = timezone.now()
            to_update.append(metric)
    with transaction.atomic():
        DailyMetric.objects.bulk_create(to_create, batch_size=1000)
        DailyMetric.objects.bulk_update(to_update, [*METRIC_FIELDS, "updated_at"], batch_size=1000)
        if refresh_totals:
            campaign_totals_refresh(campaign_ids=campaign_ids)
    return (len(to_create), len(to_update))


def average_daily_spend(*, campaign: Campaign, days: int = 7, today: date | None = None) -> Decimal:
    """Average spend per day over the last `days` days with data (for "about how much spend stops")."""
    qs = DailyMetric.objects.filter(campaign=campaign, content_item__isnull=True).order_by("-date")[:days]
    spends = [m.spend for m in qs.only("spend")]
    if not spends:
        return Decimal("0")
    return (sum(spends, Decimal("0")) / len(spends)).quantize(Decimal("0.01"))


# --- Wind-down and notifications (issue 6) ---
# The after-end checklist (WindDownStep × 7 per ended campaign) and the notifications that tell a team what
# happened. `Campaign.winddown_done` always equals the number of done steps: every write below recounts it in
# the same transaction as the step change.
# Imported here rather than at the top so this section merges cleanly with other issues' edits.
from django.db import IntegrityError  # noqa: E402
from django.db.models import IntegerField, OuterRef, Q, Subquery  # noqa: E402
from django.db.models.functions import Coalesce  # noqa: E402
from django.urls import reverse  # noqa: E402

from .models import (  # noqa: E402
    TRANSITION_ACTIONS,
    CampaignWatch,
    ContentItem,
    ContentState,
    EmailState,
    Membership,
    Notification,
    NotificationKind,
    ScheduledAction,
    Source,
    WindDownStep,
    WindDownStepKind,
)
from .selectors import role_for  # noqa: E402

WINDDOWN_OVERDUE_DAYS = 7
NOTIFICATION_EMAIL_MAX_ATTEMPTS = 5

# How an ending reads in a public announcement: never the internal reason ("budget constraints"), always a
# sentence a brand can post.
END_REASON_PUBLIC = {
    EndReason.STRATEGY_CHANGE: "We are refocusing our plans for the months ahead",
    EndReason.BUDGET_CONSTRAINTS: "This promotion has come to the end of its run",
    EndReason.UNFORESEEN: "Circumstances outside our control mean we are wrapping it up early",
    EndReason.LEGAL_ETHICAL: "We are reviewing how we run promotions like this one",
    EndReason.TECHNICAL_ISSUE: "A technical issue means we have stopped it earlier than planned",
    EndReason.OBJECTIVES_MET: "It did everything we hoped it would, thanks to you",
    EndReason.OTHER: "We have decided to bring it to a close",
}


class BudgetFollowup(enum.StrEnum):
    TICKET = "ticket"
    NOT_NEEDED = "not_needed"


def _winddown_done_refresh(*, campaign_ids: Iterable[int]) -> None:
    """Recount done steps into Campaign.winddown_done with one UPDATE (a correlated subquery)."""

    done = (
        WindDownStep.objects.filter(campaign_id=OuterRef("pk"), done_at__isnull=False)
        .order_by()
        .values("campaign_id")
        .annotate(n=Count("id"))
        .values("n")
    )
    Campaign.objects.filter(pk__in=list(campaign_ids)).update(
        winddown_done=Coalesce(Subquery(done, output_field=IntegerField()), 0)
    )


def winddown_checklists_create(*, campaign_ids: Iterable[int], now=None) -> int:
    """Create the seven wind-down steps for each campaign (idempotent: existing steps are kept).

    Called by `campaigns_transition` inside the END transaction, so every path to "ended" (UI, admin,
    schedule, platform, command) gets a checklist atomically. Two queries whatever the number of campaigns.
    The calendar step is done at once: the calendar and the ICS feed read the live status.
    """

    ids = sorted({int(pk) for pk in campaign_ids})
    if not ids:
        return 0
    now = now or timezone.now()
    # One INSERT … SELECT (campaigns × the seven kinds) instead of bulk_create, which SQLite splits into
    # batches by its parameter limit: ending 1,000 campaigns costs the same number of queries as ending 10.
    step, campaign = WindDownStep._meta, Campaign._meta
    kinds = " UNION ALL ".join(
        f"SELECT '{kind}' AS kind, {position} AS position" for position, kind in enumerate(WindDownStepKind.values, 1)
    )
    columns = ", ".join(
        step.get_field(name).column
        for name in ("campaign", "kind", "position", "done_at", "done_by", "automatic", "note", "data")
    )
    placeholders = ", ".join(["%s"] * len(ids))
    calendar = WindDownStepKind.CALENDAR_UPDATED
    # Table and column names come from model meta; every value is a query parameter.
    sql = (
        f"INSERT INTO {step.db_table} ({columns}) "  # noqa: S608  # nosec B608
        f"SELECT c.{campaign.pk.column}, k.kind, k.position, "
        f"CASE WHEN k.kind = %s THEN %s ELSE NULL END, NULL, "
        f"CASE WHEN k.kind = %s THEN TRUE ELSE FALSE END, '', '{{}}' "
        f"FROM {campaign.db_table} c CROSS JOIN ({kinds}) k "
        f"WHERE c.{campaign.pk.column} IN ({placeholders}) "
        f"ON CONFLICT DO NOTHING"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [calendar, now, calendar, *ids])  # nosec B608
    _winddown_done_refresh(campaign_ids=ids)
    return len(ids)


def _winddown_require(*, actor, campaign: Campaign, role: Role, doing: str) -> None:
    have = role_for(user=actor, account_id=campaign.account_id) if actor is not None else None
    if have is None or not have.allows(role):
        raise NotPermitted(f"You need the {Role(role).label.lower()} role in this account to {doing}.")


def _winddown_step_write(
    *,
    campaign: Campaign,
    kind: str,
    done: bool,
    actor: AbstractBaseUser | None,
    automatic: bool,
    source: str,
    note: str | None = None,
    data: dict | None = None,
):
    """Lock the step, re-check, write it, recount and audit, all in one transaction. Quiet no-op when the
    step is already in the requested state (double clicks are safe)."""

    with transaction.atomic():
        # Lock the campaign first: step writes of one campaign then run one at a time, so the recount below
        # (a fresh statement after the lock) always sees the other writers' committed steps.
        Campaign.objects.select_for_update().filter(pk=campaign.pk).values_list("pk").first()
        step = WindDownStep.objects.select_for_update().filter(campaign_id=campaign.pk, kind=kind).first()
        if step is None:
            raise CampaignError("This campaign has no wind-down checklist yet.")
        if step.is_done == done and data is None and note is None:
            return step
        fields = []
        if step.is_done != done:
            step.done_at = timezone.now() if done else None
            step.done_by = actor if (done and actor is not None and actor.is_authenticated) else None
            step.automatic = automatic if done else False
            fields += ["done_at", "done_by", "automatic"]
        if note is not None:
            step.note = note
            fields.append("note")
        if data is not None:
            step.data = {**step.data, **data}
            fields.append("data")
        step.save(update_fields=fields)
        _winddown_done_refresh(campaign_ids=[campaign.pk])
        if "done_at" in fields:
            history_record(
                campaign=campaign,
                action=Action.EDIT,
                actor=actor,
                source=source,
                details={"winddown_step": kind, "done": done, **({"automatic": True} if automatic else {})},
            )
    campaign.refresh_from_db(fields=["winddown_done"])
    return step


def winddown_step_complete(
    *,
    campaign: Campaign,
    kind: str,
    actor: AbstractBaseUser | None = None,
    automatic: bool = True,
    note: str | None = None,
    data: dict | None = None,
    source: str = "",
):
    """Mark one step done. Automatic completions (reports: lessons learned written; the connector) pass
    `automatic=True` and need no actor; a person (automatic=False) needs the editor role.

    Raises CampaignError when the campaign has no checklist, NotPermitted for a viewer or non-member.
    Audited as an EDIT history entry {"winddown_step": kind, "done": true}."""

    kind = WindDownStepKind(kind)
    if not automatic:
        _winddown_require(actor=actor, campaign=campaign, role=Role.EDITOR, doing="complete wind-down steps")
    return _winddown_step_write(
        campaign=campaign,
        kind=kind,
        done=True,
        actor=actor,
        automatic=automatic,
        source=source or (Source.UI if not automatic else Source.COMMAND),
        note=note,
        data=data,
    )


def winddown_step_reopen(*, campaign: Campaign, kind: str, actor: AbstractBaseUser):
    """Managers reopen a done step (its data, e.g. the announcement text, is kept)."""

    kind = WindDownStepKind(kind)
    _winddown_require(actor=actor, campaign=campaign, role=Role.MANAGER, doing="reopen wind-down steps")
    return _winddown_step_write(
        campaign=campaign, kind=kind, done=False, actor=actor, automatic=False, source=Source.UI
    )


def winddown_content_item_mark(*, item, state: str, note: str, actor: AbstractBaseUser):
    """Record that a content item was taken down (removed) or deliberately left up (kept, with a note).

    When no item of the campaign is live any more, the "content removed" step completes (done by `actor`)."""

    campaign = item.campaign
    _winddown_require(actor=actor, campaign=campaign, role=Role.EDITOR, doing="mark content")
    if state not in (ContentState.REMOVED, ContentState.KEPT):
        raise CampaignError("Choose whether the content was removed or kept.")
    note = note.strip()
    if state == ContentState.KEPT and not note:
        raise CampaignError(f"Say why “{item.title}” stays up.")
    with transaction.atomic():
        ContentItem.objects.filter(pk=item.pk).update(
            state=state, state_note=note[:500], state_changed_at=timezone.now(), state_changed_by=actor
        )
        item.refresh_from_db()
        live = ContentItem.objects.filter(campaign_id=campaign.pk, state=ContentState.LIVE).exists()
        if not live:
            _winddown_step_write(
                campaign=campaign,
                kind=WindDownStepKind.CONTENT_REMOVED,
                done=True,
                actor=actor,
                automatic=False,
                source=Source.UI,
            )
    return item


def winddown_content_confirm(*, campaign: Campaign, actor: AbstractBaseUser):
    """Complete the content step by hand: allowed only when no content item is live (or there are none)."""

    _winddown_require(actor=actor, campaign=campaign, role=Role.EDITOR, doing="complete wind-down steps")
    live = campaign.content_items.filter(state=ContentState.LIVE).count()
    if live:
        raise CampaignError(
            f"{live} content item{'' if live == 1 else 's'} still live: mark each one removed or kept first."
        )
    return winddown_step_complete(
        campaign=campaign, kind=WindDownStepKind.CONTENT_REMOVED, actor=actor, automatic=False
    )


def winddown_announcement_draft(*, campaign: Campaign) -> str:
    """A public announcement drafted from the campaign: its name, end date, the reason in public words, thanks."""
    ended = timezone.localtime(campaign.ended_at).date() if campaign.ended_at else timezone.localdate()
    reason = END_REASON_PUBLIC.get(campaign.end_reason, END_REASON_PUBLIC[EndReason.OTHER])
    return (
        f"“{campaign.name}” ended on {ended:%-d %B %Y}. {reason}.\n\n"
        "Thank you to everyone who watched, shared, commented and took part — you made it what it was. "
        "Follow us to be the first to hear what comes next."
    )


def winddown_announcement_posted(*, campaign: Campaign, actor: AbstractBaseUser, text: str, where: str = ""):
    """Record that the announcement went out: keeps the posted text (and where) on the step."""

    text = text.strip()
    if not text:
        raise CampaignError("The announcement is empty: write what you posted.")
    return winddown_step_complete(
        campaign=campaign,
        kind=WindDownStepKind.AUDIENCE_INFORMED,
        actor=actor,
        automatic=False,
        note=where.strip()[:500],
        data={"text": text[:5000], "where": where.strip()[:500]},
    )


def winddown_budget_record(*, campaign: Campaign, actor: AbstractBaseUser, outcome: str, ticket: str = ""):
    """Record the unused-budget follow-up: a support ticket reference, or "not needed"."""

    ticket = ticket.strip()
    if outcome == BudgetFollowup.TICKET and not ticket:
        raise CampaignError("Enter the support ticket reference, or choose “not needed”.")
    if outcome not in BudgetFollowup.__members__.values():
        raise CampaignError("Choose a ticket reference or “not needed”.")
    remaining = campaign.budget_remaining
    return winddown_step_complete(
        campaign=campaign,
        kind=WindDownStepKind.BUDGET_FOLLOWUP,
        actor=actor,
        automatic=False,
        note=f"Support ticket {ticket}" if outcome == BudgetFollowup.TICKET else "No refund needed",
        data={
            "outcome": str(outcome),
            "ticket": ticket[:100] if outcome == BudgetFollowup.TICKET else "",
            "estimated_unused": str(remaining) if remaining is not None else None,
        },
    )


def _winddown_steps_complete_bulk(
    *, campaign_ids: Iterable[int], kind: str, source: str, data: dict | None = None, audit: bool = True
):
    """Complete one kind of step automatically for many campaigns: constant queries. Returns campaign ids changed.
    With `audit`, each completion also gets a history row."""
    ids = sorted({int(pk) for pk in campaign_ids})
    if not ids:
        return []
    now = timezone.now()
    with transaction.atomic():
        list(Campaign.objects.select_for_update().filter(pk__in=ids).order_by("pk").values_list("pk"))  # see above
        open_steps = list(
            WindDownStep.objects.select_for_update()
            .filter(campaign_id__in=ids, kind=kind, done_at__isnull=True)
            .order_by("campaign_id")
            .values_list("pk", "campaign_id")
        )
        if not open_steps:
            return []
        changed = [campaign_id for _, campaign_id in open_steps]
        WindDownStep.objects.filter(pk__in=[pk for pk, _ in open_steps]).update(
            done_at=now, done_by=None, automatic=True
        )
        if data:
            steps = list(WindDownStep.objects.filter(pk__in=[pk for pk, _ in open_steps]))
            for step in steps:
                step.data = {**step.data, **data}
            WindDownStep.objects.bulk_update(steps, ["data"])
        _winddown_done_refresh(campaign_ids=changed)
        if not audit:
            return changed
        status_of = dict(Campaign.objects.filter(pk__in=changed).values_list("pk", "status"))
        StatusChange.objects.bulk_create(
            [
                StatusChange(
                    campaign_id=pk,
                    action=Action.EDIT,
                    from_status=status_of[pk],
                    to_status=status_of[pk],
                    source=source,
                    details={"winddown_step": kind, "done": True, "automatic": True},
                )
                for pk in changed
            ]
        )
    return changed


def winddown_platform_confirmed(*, campaign_ids: Iterable[int]) -> list[int]:
    """For the connector: call after a sync succeeds. Completes "platform confirmed" for those of these
    campaigns that are ended and now in sync with the platform. Returns the campaign ids completed."""

    ids = list(
        Campaign.objects.filter(
            pk__in=list(campaign_ids), status=Status.ENDED, sync_state=SyncState.SYNCED
        ).values_list("pk", flat=True)
    )
    return _winddown_steps_complete_bulk(
        campaign_ids=ids, kind=WindDownStepKind.PLATFORM_CONFIRMED, source=Source.PLATFORM
    )


# Notifications ---------------------------------------------------------------------------------------------


def notification_recipients(*, campaign_ids: Iterable[int], exclude_user_id: int | None = None) -> dict:
    """{user_id: [campaign_id, ...]}: who hears about each campaign. The owner, the users watching it and the
    members of its account who opted in to every status change; always only current members of the account,
    never the person who acted. Three queries whatever the number of campaigns."""

    ids = sorted({int(pk) for pk in campaign_ids})
    campaigns = list(Campaign.objects.filter(pk__in=ids).values_list("pk", "account_id", "owner_id"))
    account_ids = {account_id for _, account_id, _ in campaigns}
    members: dict[int, set[int]] = {}
    notify_all: dict[int, set[int]] = {}
    for user_id, account_id, wants_all in Membership.objects.filter(
        account_id__in=account_ids, user__is_active=True
    ).values_list("user_id", "account_id", "notify_all"):
        members.setdefault(account_id, set()).add(user_id)
        if wants_all:
            notify_all.setdefault(account_id, set()).add(user_id)
    watchers: dict[int, set[int]] = {}
    for user_id, campaign_id in CampaignWatch.objects.filter(campaign_id__in=ids).values_list("user_id", "campaign_id"):
        watchers.setdefault(campaign_id, set()).add(user_id)
    recipients: dict[int, list[int]] = {}
    for pk, account_id, owner_id in campaigns:
        wanted = {owner_id} | watchers.get(pk, set()) | notify_all.get(account_id, set())
        for user_id in wanted & members.get(account_id, set()):
            if user_id != exclude_user_id:
                recipients.setdefault(user_id, []).append(pk)
    return recipients


def notifications_create(
    *,
    campaign_ids: Iterable[int],
    kind: str,
    dedupe_key: str,
    render,
    exclude_user_id: int | None = None,
) -> list[int]:
    """Create one notification per recipient about the campaigns that concern them (grouped: a bulk action
    over 50 campaigns is one notification per person, listing them).

    `render(campaign_ids) -> (title, body, url)` writes the text for one recipient's share of the campaigns.
    `dedupe_key` is unique per recipient, so running the same event twice creates nothing new. Emails are
    queued after commit for recipients whose membership asks for email. Returns the new notification ids."""

    recipients = notification_recipients(campaign_ids=campaign_ids, exclude_user_id=exclude_user_id)
    if not recipients:
        return []
    already = set(
        Notification.objects.filter(recipient_id__in=list(recipients), dedupe_key=dedupe_key).values_list(
            "recipient_id", flat=True
        )
    )
    account_of = dict(
        Campaign.objects.filter(pk__in={pk for pks in recipients.values() for pk in pks}).values_list(
            "pk", "account_id"
        )
    )
    email_prefs = {
        (user_id, account_id): wants and bool(email)
        for user_id, account_id, wants, email in Membership.objects.filter(user_id__in=list(recipients)).values_list(
            "user_id", "account_id", "notify_email", "user__email"
        )
    }
    rendered: dict[tuple[int, ...], tuple[str, str, str]] = {}
    notifications, campaigns_of = [], []
    for user_id, pks in sorted(recipients.items()):
        if user_id in already:
            continue
        key = tuple(sorted(pks))
        if key not in rendered:
            rendered[key] = render(list(key))
        title, body, url = rendered[key]
        wants_email = any(email_prefs.get((user_id, account_of[pk])) for pk in key)
        notifications.append(
            Notification(
                recipient_id=user_id,
                kind=kind,
                title=title[:255],
                body=body,
                url=url,
                dedupe_key=dedupe_key[:100],
                email_state=EmailState.PENDING if wants_email else EmailState.NOT_SENT,
            )
        )
        campaigns_of.append(key)
    if not notifications:
        return []
    try:
        with transaction.atomic():
            created = Notification.objects.bulk_create(notifications)
            through = Notification.campaigns.through
            through.objects.bulk_create(
                [
                    through(notification_id=n.pk, campaign_id=pk)
                    for n, pks in zip(created, campaigns_of, strict=True)
                    for pk in pks
                ]
            )
    except IntegrityError:
        return []  # the same event ran concurrently and won the dedupe constraint: nothing to add
    to_email = [n.pk for n in created if n.email_state == EmailState.PENDING]
    if to_email:
        transaction.on_commit(functools.partial(_notification_emails_enqueue, notification_ids=to_email))
    return [n.pk for n in created]


def _notification_emails_enqueue(*, notification_ids: list[int], run_after=None) -> None:
    from .tasks import notification_emails_send

    task = notification_emails_send
    if run_after is not None:
        if not task.get_backend().supports_defer:
            return  # left as "failed (will retry)": the daily sweep picks it up
        task = task.using(run_after=run_after)
    task.enqueue(notification_ids=notification_ids)


def _campaign_lines(campaigns: list[Campaign]) -> str:
    return "\n".join(f"• {c.name} ({c.account.name})" for c in campaigns)


def _user_label(user) -> str:
    if user is None:
        return "Closeout"
    return user.get_full_name() or user.get_username()


def notifications_for_status_changes(*, change_ids: Iterable[int]) -> list[int]:
    """Tell each recipient about status changes (one batch = one call of `campaigns_transition`), grouped into
    one notification per recipient. Changes made by a schedule read "scheduled … executed". After an end,
    the "team notified" wind-down step completes for those campaigns. Idempotent (dedupe key = first change)."""

    changes = list(
        StatusChange.objects.filter(pk__in=list(change_ids), action__in=TRANSITION_ACTIONS)
        .select_related("campaign__account", "actor")
        .order_by("pk")
    )
    if not changes:
        return []
    first = changes[0]
    by_campaign = {c.campaign_id: c for c in changes}
    action = Action(first.action)
    verb = TRANSITIONS[action].verb.lower()
    scheduled = first.source == Source.SCHEDULE
    who = "A schedule" if scheduled else _user_label(first.actor) if first.actor else Source(first.source).label

    def render(pks: list[int]):
        items = [by_campaign[pk] for pk in pks]
        campaigns = [c.campaign for c in items]
        if len(items) == 1:
            c = campaigns[0]
            title = f"{who} {verb} “{c.name}”"
            url = reverse("campaigns:winddown" if action == Action.END else "campaigns:detail", args=[c.pk])
        else:
            title = f"{who} {verb} {len(items)} campaigns"
            url = reverse("campaigns:winddown_list" if action == Action.END else "campaigns:list")
        when = timezone.localtime(first.created_at)
        these = "this campaign" if len(items) == 1 else "these campaigns"
        lines = [f"{who} {verb} {these} at {when:%Y-%m-%d %H:%M %Z}:"]
        lines.append(_campaign_lines(campaigns))
        if action == Action.END:
            lines.append(f"\nReason: {EndReason(first.reason_code).label if first.reason_code else '—'}")
            if first.reason_note:
                lines.append(f"Note: {first.reason_note}")
            lines.append("\nThe wind-down checklist is open: take content down, tell your audience, follow up budget.")
        return title, "\n".join(lines), url

    ids = notifications_create(
        campaign_ids=by_campaign,
        kind=NotificationKind.SCHEDULE_EXECUTED if scheduled else NotificationKind.STATUS_CHANGED,
        dedupe_key=f"changes:{first.pk}",
        render=render,
        exclude_user_id=first.actor_id,
    )
    if action == Action.END:
        _winddown_steps_complete_bulk(
            campaign_ids=list(by_campaign),
            kind=WindDownStepKind.TEAM_NOTIFIED,
            source=first.source,
            data={"notifications": len(ids)},
            audit=False,  # the END row in the history already records this moment; another row would repeat it
        )
    return ids


def _schedule_render(scheduled: ScheduledAction, headline: str, detail: str):
    def render(pks):
        c = scheduled.campaign
        when = timezone.localtime(scheduled.run_at)
        what = f"{headline}: {scheduled.get_action_display().lower()} “{c.name}”"
        body = f"{what} ({c.account.name}) at {when:%Y-%m-%d %H:%M %Z}."
        if detail:
            body += f"\n{detail}"
        return what, body, reverse("campaigns:detail", args=[c.pk])

    return render


def notify_schedule_created(*, scheduled: ScheduledAction, actor: AbstractBaseUser | None) -> list[int]:
    """For the scheduling code: call after commit when a scheduled pause/end was created."""
    scheduled = ScheduledAction.objects.select_related("campaign__account").get(pk=scheduled.pk)
    detail = f"Reason: {scheduled.get_reason_code_display()}" if scheduled.reason_code else ""
    return notifications_create(
        campaign_ids=[scheduled.campaign_id],
        kind=NotificationKind.SCHEDULE_CREATED,
        dedupe_key=f"schedule-created:{scheduled.pk}",
        render=_schedule_render(scheduled, f"{_user_label(actor)} scheduled", detail),
        exclude_user_id=actor.pk if actor is not None else None,
    )


def notify_schedule_failed(*, scheduled: ScheduledAction) -> list[int]:
    """For the scheduling code: call when a scheduled action failed (its `result` says why)."""
    scheduled = ScheduledAction.objects.select_related("campaign__account").get(pk=scheduled.pk)
    return notifications_create(
        campaign_ids=[scheduled.campaign_id],
        kind=NotificationKind.SCHEDULE_FAILED,
        dedupe_key=f"schedule-failed:{scheduled.pk}",
        render=_schedule_render(scheduled, "A scheduled action failed", scheduled.result),
    )


def notify_sync_failed(*, campaign_ids: Iterable[int], error: str = "", attempt_key: str = "") -> list[int]:
    """For the connector: call when pushing a status to the platform failed for good (grouped per
    recipient). `attempt_key` distinguishes separate failures of the same campaigns (default: the time the
    sync was requested), so a retried task does not notify twice."""
    campaigns = list(Campaign.objects.filter(pk__in=list(campaign_ids)).select_related("account").order_by("pk"))
    if not campaigns:
        return []
    by_pk = {c.pk: c for c in campaigns}
    requested = campaigns[0].sync_requested_at
    key = attempt_key or (requested.isoformat() if requested else "")

    def render(pks):
        items = [by_pk[pk] for pk in pks]
        title = (
            f"TikTok did not confirm the change to “{items[0].name}”"
            if len(items) == 1
            else f"TikTok did not confirm changes to {len(items)} campaigns"
        )
        body = "Closeout recorded the change, but the platform has not applied it:\n" + _campaign_lines(items)
        if error:
            body += f"\n\nError: {error}"
        body += "\n\nCheck the campaign in TikTok Ads Manager, then retry the sync from Closeout."
        url = reverse("campaigns:detail", args=[items[0].pk]) if len(items) == 1 else reverse("campaigns:list")
        return title, body, url

    return notifications_create(
        campaign_ids=by_pk,
        kind=NotificationKind.SYNC_FAILED,
        dedupe_key=f"sync-failed:{campaigns[0].pk}:{len(campaigns)}:{key}"[:100],
        render=render,
    )


def winddown_overdue_notify(*, now=None) -> int:
    """Tell each recipient once about wind-down steps still open 7 days after the end (one grouped
    notification per recipient per run). A step is reported only once: it is flagged (`data.overdue_notified`)
    in the same transaction as the notifications. Returns the number of steps newly reported."""
    now = now or timezone.now()
    cutoff = now - timezone.timedelta(days=WINDDOWN_OVERDUE_DAYS)
    with transaction.atomic():
        steps = list(
            WindDownStep.objects.select_for_update(of=("self",))
            .filter(
                done_at__isnull=True,
                campaign__status=Status.ENDED,
                campaign__ended_at__lte=cutoff,
            )
            .exclude(data__has_key="overdue_notified")
            .select_related("campaign__account")
            .order_by("campaign_id", "position")
        )
        if not steps:
            return 0
        open_by_campaign: dict[int, list[WindDownStep]] = {}
        for step in steps:
            open_by_campaign.setdefault(step.campaign_id, []).append(step)

        def render(pks):
            lines = []
            for pk in pks:
                c = open_by_campaign[pk][0].campaign
                names = ", ".join(s.get_kind_display().lower() for s in open_by_campaign[pk])
                lines.append(f"• {c.name} ({c.account.name}), ended {timezone.localtime(c.ended_at):%-d %b}: {names}")
            n = sum(len(open_by_campaign[pk]) for pk in pks)
            title = (
                f"Wind-down overdue: “{open_by_campaign[pks[0]][0].campaign.name}”"
                if len(pks) == 1
                else f"Wind-down overdue for {len(pks)} campaigns"
            )
            body = (
                f"{n} wind-down step{'' if n == 1 else 's'} still open {WINDDOWN_OVERDUE_DAYS} days after the end:\n"
                + "\n".join(lines)
            )
            url = reverse("campaigns:winddown", args=[pks[0]]) if len(pks) == 1 else reverse("campaigns:winddown_list")
            return title, body, url

        notifications_create(
            campaign_ids=open_by_campaign,
            kind=NotificationKind.WINDDOWN_OVERDUE,
            dedupe_key=f"winddown-overdue:{now:%Y-%m-%d}:{steps[0].pk}",
            render=render,
        )
        for step in steps:
            step.data = {**step.data, "overdue_notified": now.isoformat()}
        WindDownStep.objects.bulk_update(steps, ["data"])
    return len(steps)


def notifications_mark_read(*, user: AbstractBaseUser, notification_ids: Iterable[int] | None = None) -> int:
    """Mark the user's notifications read (all unread ones when `notification_ids` is None). Only ever the
    user's own: other ids are ignored. Returns how many changed."""
    qs = Notification.objects.filter(recipient=user, read_at__isnull=True)
    if notification_ids is not None:
        qs = qs.filter(pk__in=list(notification_ids))
    return qs.update(read_at=timezone.now())


def notification_preferences_update(*, user: AbstractBaseUser, preferences: dict[int, dict[str, bool]]) -> int:
    """Save {account_id: {"notify_all": bool, "notify_email": bool}} for the user's own memberships only."""
    memberships = list(Membership.objects.filter(user=user, account_id__in=list(preferences)))
    for m in memberships:
        m.notify_all = bool(preferences[m.account_id].get("notify_all"))
        m.notify_email = bool(preferences[m.account_id].get("notify_email"))
    Membership.objects.bulk_update(memberships, ["notify_all", "notify_email"])
    return len(memberships)


def campaign_watch_set(*, user: AbstractBaseUser, campaign: Campaign, watching: bool) -> bool:
    """Watch or stop watching a campaign (any member may). Idempotent. Returns the new state."""
    if watching:
        CampaignWatch.objects.get_or_create(user=user, campaign=campaign)
    else:
        CampaignWatch.objects.filter(user=user, campaign=campaign).delete()
    return watching


def notification_emails_send_now(*, notification_ids: Iterable[int]) -> dict[str, int]:
    """Send the pending emails of these notifications (called by the task worker, never in a request).

    Each send is claimed first so that two workers do not send it twice. A failure records the error,
    counts the attempt and re-queues the send with exponential backoff (1, 2, 4, 8 minutes); after
    NOTIFICATION_EMAIL_MAX_ATTEMPTS it gives up. The notification and the action behind it are never undone."""
    from .notifications import notification_email_message

    counts = {"sent": 0, "failed": 0, "skipped": 0}
    retry: list[int] = []
    attempts_max = 0
    sendable = [EmailState.PENDING, EmailState.FAILED]
    for pk in sorted({int(i) for i in notification_ids}):
        pending = Notification.objects.filter(pk=pk, email_state__in=sendable)
        attempts = pending.values_list("email_attempts", flat=True).first()
        # Claim the send by bumping the attempt counter conditionally: a second worker finds it moved and
        # skips. No transaction is held open while talking to the mail server.
        claimed = attempts is not None and Notification.objects.filter(
            pk=pk, email_state__in=sendable, email_attempts=attempts
        ).update(email_attempts=attempts + 1)
        if not claimed:
            counts["skipped"] += 1
            continue
        n = Notification.objects.select_related("recipient").get(pk=pk)
        if not n.recipient.email:
            n.email_state, n.email_error = EmailState.GAVE_UP, "The recipient has no email address."
            n.save(update_fields=["email_state", "email_error"])
            counts["skipped"] += 1
            continue
        try:
            notification_email_message(notification=n).send()
        except Exception as exc:  # any mail error: record it; it must never reach the action that caused it
            n.email_error = f"{type(exc).__name__}: {exc}"[:2000]
            if n.email_attempts >= NOTIFICATION_EMAIL_MAX_ATTEMPTS:
                n.email_state = EmailState.GAVE_UP
            else:
                n.email_state = EmailState.FAILED
                retry.append(n.pk)
                attempts_max = max(attempts_max, n.email_attempts)
            counts["failed"] += 1
        else:
            n.email_state, n.email_error, n.emailed_at = EmailState.SENT, "", timezone.now()
            counts["sent"] += 1
        n.save(update_fields=["email_state", "email_error", "emailed_at"])
    if retry:
        delay = timezone.timedelta(minutes=2 ** (attempts_max - 1))
        transaction.on_commit(
            functools.partial(_notification_emails_enqueue, notification_ids=retry, run_after=timezone.now() + delay)
        )
    return counts


def notification_emails_retry_due(*, now=None) -> int:
    """The daily sweep's safety net: re-send failed emails whose backoff has passed (e.g. the worker was down
    when the retry was due, or the backend cannot defer tasks). Returns how many were retried."""
    now = now or timezone.now()
    stale = now - timezone.timedelta(minutes=30)
    ids = list(
        Notification.objects.filter(
            Q(email_state=EmailState.FAILED) | Q(email_state=EmailState.PENDING, created_at__lte=stale),
            email_attempts__lt=NOTIFICATION_EMAIL_MAX_ATTEMPTS,
        ).values_list("pk", flat=True)[:500]
    )
    if ids:
        notification_emails_send_now(notification_ids=ids)
    return len(ids)


def _notify_status_changes_enqueue(*, change_ids: list[int]) -> None:
    """Runs after commit: notifications (and their emails) are built by the task worker, not in the request."""
    import logging

    from .tasks import notify_status_changes

    try:
        notify_status_changes.enqueue(change_ids=change_ids)
    except Exception:  # the change is committed; a queue outage must not turn it into an error page
        logging.getLogger(__name__).exception("Could not queue notifications for changes %s", change_ids)


# --- Platform sync (issue 7) ---
# Push (our status → the platform), pull (the platform's campaigns and daily metrics → us), status drift, the
# "still delivering after end" detector and the Ads Manager file import. Connectors do the HTTP; this decides.

import datetime as dt  # noqa: E402
import hashlib  # noqa: E402
import logging  # noqa: E402
import random  # noqa: E402
from collections import defaultdict  # noqa: E402
from zoneinfo import ZoneInfo  # noqa: E402

from django.conf import settings  # noqa: E402
from django.db.models import F  # noqa: E402

from .connectors import ConnectorError, connector_for  # noqa: E402
from .connectors.base import DELETE, DISABLE, ENABLE, STATUS_BATCH_SIZE  # noqa: E402
from .models import (  # noqa: E402
    AdAccount,
    BudgetMode,
    ImportState,
    MetricImport,
    Objective,
)

platform_logger = logging.getLogger("campaigns.platform")

PUSH_MAX_ATTEMPTS = 6
PUSH_BACKOFF_BASE_SECONDS = 30
PUSH_BACKOFF_CAP_SECONDS = 300
# A pending campaign nobody has touched for this long has lost its task (worker restart, lost enqueue).
PUSH_STALE_MINUTES = 15

PLATFORM_STATUS_TO_OURS = {ENABLE: Status.ACTIVE, DISABLE: Status.PAUSED, DELETE: Status.ENDED}
OBJECTIVE_FROM_PLATFORM = {
    "REACH": Objective.REACH,
    "RF_REACH": Objective.REACH,
    "TRAFFIC": Objective.TRAFFIC,
    "VIDEO_VIEWS": Objective.VIDEO_VIEWS,
    "ENGAGEMENT": Objective.ENGAGEMENT,
    "LEAD_GENERATION": Objective.LEAD_GENERATION,
    "APP_PROMOTION": Objective.APP_PROMOTION,
    "APP_INSTALL": Objective.APP_PROMOTION,
    "WEB_CONVERSIONS": Objective.WEB_CONVERSIONS,
    "CONVERSIONS": Objective.WEB_CONVERSIONS,
    "PRODUCT_SALES": Objective.PRODUCT_SALES,
    "CATALOG_SALES": Objective.PRODUCT_SALES,
    "SHOP_PURCHASES": Objective.PRODUCT_SALES,
}


def platform_operation(*, status: str, delete_on_platform: bool) -> str:
    """The platform operation that makes the platform match our status: pause → DISABLE, resume → ENABLE,
    end → DISABLE (data stays reportable) or DELETE when the user asked to delete on the platform."""
    if status == Status.ACTIVE:
        return ENABLE
    if status == Status.ENDED and delete_on_platform:
        return DELETE
    return DISABLE


def platform_notify_managers(
    *,
    account: AdAccount,
    kind: str,
    title: str,
    body: str = "",
    url: str = "",
    campaign_ids: Iterable[int] = (),
    dedupe_key: str = "",
) -> int:
    """Tell the account's managers about a platform problem. The one place platform sync creates notifications
    (so it can later be routed through the notification centre's service). Returns how many were created."""
    ids = list(campaign_ids)[:200]
    created = 0
    to_email = []
    managers = Membership.objects.filter(account=account, role=Role.MANAGER).values_list(
        "user_id", "notify_email", "user__email"
    )
    for user_id, wants_email, email in managers:
        values = {"kind": kind, "title": title[:255], "body": body, "url": url[:500]}
        values["email_state"] = EmailState.PENDING if wants_email and email else EmailState.NOT_SENT
        if dedupe_key:
            notification, is_new = Notification.objects.get_or_create(
                recipient_id=user_id, dedupe_key=dedupe_key[:100], defaults=values
            )
        else:
            notification, is_new = Notification.objects.create(recipient_id=user_id, **values), True
        if is_new:
            created += 1
            if ids:
                notification.campaigns.add(*ids)
            if notification.email_state == EmailState.PENDING:
                to_email.append(notification.pk)
    if to_email:
        # Same path as every other notification: emailed by the worker after commit, retried on failure.
        transaction.on_commit(functools.partial(_notification_emails_enqueue, notification_ids=to_email))
    return created


def account_reconnect_needed(*, account: AdAccount, message: str) -> None:
    """The platform rejected the credentials: stop trying and tell the managers once (until reconnected)."""
    flipped = AdAccount.objects.filter(pk=account.pk, needs_reconnect=False).update(
        needs_reconnect=True, sync_error=message
    )
    account.needs_reconnect, account.sync_error = True, message
    if not flipped:
        AdAccount.objects.filter(pk=account.pk).update(sync_error=message)
        return
    platform_logger.warning("Account %s needs reconnecting: %s", account.pk, message)
    platform_notify_managers(
        account=account,
        kind=NotificationKind.RECONNECT,
        title=f"Reconnect {account.name} to TikTok",
        body=f"{message} Pushes and syncs for this account are stopped until the token is replaced.",
        url=reverse("campaigns:account_detail", args=[account.pk]),
        dedupe_key=f"reconnect:{account.pk}:{timezone.now():%Y%m%d%H%M%S}",
    )


def _chunks(items: list, size: int):
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _push_enqueue(campaign_ids: list[int], *, delay_seconds: float = 0) -> bool:
    """Queue pushes for these campaigns. Never raises: the intent is in the database already, and the sweep
    (`sync_platform --push-pending`) re-queues anything left pending, so a lost enqueue only delays."""
    from .tasks import platform_push_task

    task = platform_push_task
    try:
        if delay_seconds:
            if not task.get_backend().supports_defer:
                return False  # e.g. the immediate backend: the sweep picks these up
            task = task.using(run_after=timezone.now() + dt.timedelta(seconds=delay_seconds))
        for chunk in _chunks(sorted(set(campaign_ids)), 1000):
            task.enqueue(campaign_ids=chunk)
    except Exception:
        platform_logger.exception("Could not queue a platform push; the pending sweep will retry it.")
        return False
    return True


def platform_push_enqueue(*, change_ids: list[int]) -> None:
    """After commit of a status change: queue a push for the changed campaigns whose account is connected.

    Changes that came from the platform itself (drift) are not pushed back."""
    campaign_ids = list(
        StatusChange.objects.filter(pk__in=change_ids, campaign__sync_state=SyncState.PENDING)
        .exclude(source=Source.PLATFORM)
        .exclude(campaign__account__connector=Connector.NONE)
        .values_list("campaign_id", flat=True)
        .distinct()
    )
    if campaign_ids:
        _push_enqueue(campaign_ids)


def _push_backoff_seconds(attempts: int) -> float:
    """Exponential backoff with jitter: ~30 s, 60 s, 2 min, 4 min, 5 min (capped), each × 0.5–1.0."""
    delay = min(PUSH_BACKOFF_BASE_SECONDS * 2 ** max(attempts - 1, 0), PUSH_BACKOFF_CAP_SECONDS)
    return delay * random.uniform(0.5, 1.0)


def _push_still_current(campaigns: list[Campaign]) -> tuple[list[Campaign], dict[int, int]]:
    """Lock the rows and keep only the campaigns whose intent is still the one we pushed: still pending, same
    status, same request time. A newer pause/resume recorded meanwhile has its own push queued.
    Must run inside a transaction. Returns (current campaigns, {pk: sync_attempts})."""
    locked = {
        pk: (status, requested, state, attempts)
        for pk, status, requested, state, attempts in Campaign.objects.select_for_update(of=("self",))
        .filter(pk__in=[c.pk for c in campaigns])
        .order_by("pk")
        .values_list("pk", "status", "sync_requested_at", "sync_state", "sync_attempts")
    }
    current = [
        c
        for c in campaigns
        if c.pk in locked and locked[c.pk][:3] == (c.status, c.sync_requested_at, SyncState.PENDING)
    ]
    return current, {pk: row[3] for pk, row in locked.items()}


def _sync_history(campaigns: list[Campaign], details: dict) -> None:
    StatusChange.objects.bulk_create(
        [
            StatusChange(
                campaign_id=c.pk,
                action=Action.SYNC,
                from_status=c.status,
                to_status=c.status,
                source=Source.PLATFORM,
                details=details,
            )
            for c in campaigns
        ],
        batch_size=500,
    )


def _push_confirmed(campaigns: list[Campaign], *, operation: str, connector_name: str) -> list[int]:
    now = timezone.now()
    with transaction.atomic():
        current, _ = _push_still_current(campaigns)
        ids = [c.pk for c in current]
        if not ids:
            return []
        Campaign.objects.filter(pk__in=ids).update(
            sync_state=SyncState.SYNCED, sync_error="", platform_status=operation, updated_at=now
        )
        # The platform has confirmed the end (again): delivery is judged from now on.
        Campaign.objects.filter(pk__in=ids, status=Status.ENDED).update(still_delivering_since=None)
        ended = [c.pk for c in current if c.status == Status.ENDED]
        if ended:
            winddown_platform_confirmed(campaign_ids=ended)  # wind-down step 5: "platform confirmed the end"
        _sync_history(current, {"event": "confirmed", "operation": operation, "platform": connector_name})
    return ids


def _push_failed(campaigns: list[Campaign], *, message: str, operation: str) -> list[Campaign]:
    now = timezone.now()
    with transaction.atomic():
        current, _ = _push_still_current(campaigns)
        if current:
            Campaign.objects.filter(pk__in=[c.pk for c in current]).update(
                sync_state=SyncState.FAILED,
                sync_error=message[:1000],
                sync_attempts=F("sync_attempts") + 1,
                updated_at=now,
            )
            _sync_history(current, {"event": "failed", "operation": operation, "error": message[:500]})
    return current


def _push_retry_or_give_up(campaigns: list[Campaign], *, message: str, operation: str) -> list[Campaign]:
    """A transient failure: count the attempt, queue a later try with backoff, or give up after
    PUSH_MAX_ATTEMPTS. Returns the campaigns given up on."""
    now = timezone.now()
    retry_at: dict[int, list[int]] = defaultdict(list)
    with transaction.atomic():
        current, attempts = _push_still_current(campaigns)
        give_up = [c for c in current if attempts[c.pk] + 1 >= PUSH_MAX_ATTEMPTS]
        retry = [c for c in current if attempts[c.pk] + 1 < PUSH_MAX_ATTEMPTS]
        if retry:
            Campaign.objects.filter(pk__in=[c.pk for c in retry]).update(
                sync_attempts=F("sync_attempts") + 1, sync_error=f"Retrying: {message}"[:1000], updated_at=now
            )
            for c in retry:
                retry_at[attempts[c.pk] + 1].append(c.pk)
        if give_up:
            error = f"Gave up after {PUSH_MAX_ATTEMPTS} attempts. Last error: {message}"
            Campaign.objects.filter(pk__in=[c.pk for c in give_up]).update(
                sync_state=SyncState.FAILED,
                sync_attempts=F("sync_attempts") + 1,
                sync_error=error[:1000],
                updated_at=now,
            )
            _sync_history(give_up, {"event": "failed", "operation": operation, "error": error[:500]})
    for attempt, ids in retry_at.items():
        _push_enqueue(ids, delay_seconds=_push_backoff_seconds(attempt))
    return give_up


def _notify_sync_failed(account: AdAccount, failed: list[Campaign]) -> None:
    if not failed:
        return
    ids = sorted(c.pk for c in failed)
    names = ", ".join(c.name for c in failed[:3]) + (f" and {len(failed) - 3} more" if len(failed) > 3 else "")
    digest = hashlib.sha256(",".join(map(str, ids)).encode()).hexdigest()[:16]
    requested = max((c.sync_requested_at for c in failed if c.sync_requested_at), default=timezone.now())
    platform_notify_managers(
        account=account,
        kind=NotificationKind.SYNC_FAILED,
        title=f"TikTok did not apply a change to {len(failed)} campaign{'s' if len(failed) != 1 else ''}",
        body=f"{names}: {failed[0].sync_error or 'sync failed'} Retry from the account page.",
        url=reverse("campaigns:account_detail", args=[account.pk]),
        campaign_ids=ids,
        dedupe_key=f"sync-failed:{digest}:{requested:%Y%m%d%H%M%S}",
    )


def platform_push(*, campaign_ids: Iterable[int]) -> dict:
    """Make the platform match our status for these campaigns (the ones still pending).

    Groups by (account, operation) and sends at most STATUS_BATCH_SIZE ids per call, so 500 campaigns paused
    together cost 25 calls. Per call: confirmed → synced, platform_status set, a SYNC history entry; transient
    error (network, timeout, 40100, 5xxxx…) → retried later with backoff, failed after PUSH_MAX_ATTEMPTS with a
    notification; auth error → failed at once, the account marked "needs reconnect" and its managers told;
    any other error → failed at once. Never raises for platform errors. Returns counts."""
    campaigns = list(
        Campaign.objects.filter(pk__in=list(campaign_ids), sync_state=SyncState.PENDING)
        .select_related("account")
        .order_by("pk")
    )
    counts = {"calls": 0, "confirmed": 0, "retrying": 0, "failed": 0}
    groups: dict[tuple[int, str], list[Campaign]] = defaultdict(list)
    accounts: dict[int, AdAccount] = {}
    for c in campaigns:
        accounts[c.account_id] = c.account
        groups[(c.account_id, platform_operation(status=c.status, delete_on_platform=c.delete_on_platform))].append(c)
    failed_by_account: dict[int, list[Campaign]] = defaultdict(list)
    auth_errors: dict[int, ConnectorError] = {}
    for (account_id, operation), group in groups.items():
        account = accounts[account_id]
        connector = connector_for(account)
        unlinked = [c for c in group if connector.talks_to_platform and not c.platform_id]
        if unlinked:
            failed_by_account[account_id] += _push_failed(
                unlinked,
                message="This campaign has no TikTok campaign id yet; run “Sync now” on the account page to link it.",
                operation=operation,
            )
        for chunk in _chunks([c for c in group if c not in unlinked], STATUS_BATCH_SIZE):
            if account_id in auth_errors:
                _push_failed(chunk, message=auth_errors[account_id].message, operation=operation)
                counts["failed"] += len(chunk)
                continue
            if not connector.talks_to_platform:
                ids = [str(c.pk) for c in chunk]
                result_ok = set(connector.campaigns_status_update(platform_ids=ids, operation=operation).ok)
                confirmed = [c for c in chunk if str(c.pk) in result_ok]
                counts["confirmed"] += len(_push_confirmed(confirmed, operation=operation, connector_name="none"))
                continue
            by_platform_id = {c.platform_id: c for c in chunk}
            counts["calls"] += 1
            try:
                result = connector.campaigns_status_update(platform_ids=list(by_platform_id), operation=operation)
            except ConnectorError as error:
                platform_logger.warning("Push %s to account %s failed: %s", operation, account_id, error.message)
                if error.auth:
                    auth_errors[account_id] = error
                    account_reconnect_needed(account=account, message=error.message)
                    counts["failed"] += len(_push_failed(chunk, message=error.message, operation=operation))
                elif error.retryable:
                    given_up = _push_retry_or_give_up(chunk, message=error.message, operation=operation)
                    failed_by_account[account_id] += given_up
                    counts["failed"] += len(given_up)
                    counts["retrying"] += len(chunk) - len(given_up)
                else:
                    failed = _push_failed(chunk, message=error.message, operation=operation)
                    failed_by_account[account_id] += failed
                    counts["failed"] += len(failed)
                continue
            confirmed = [c for pid, c in by_platform_id.items() if pid in result.ok]
            counts["confirmed"] += len(_push_confirmed(confirmed, operation=operation, connector_name=connector.name))
            if account.needs_reconnect:
                AdAccount.objects.filter(pk=account_id).update(needs_reconnect=False, sync_error="")
                account.needs_reconnect = False
            missing = [c for pid, c in by_platform_id.items() if pid in result.not_confirmed]
            if missing:
                given_up = _push_retry_or_give_up(
                    missing, message="TikTok did not confirm the change for this campaign.", operation=operation
                )
                failed_by_account[account_id] += given_up
                counts["failed"] += len(given_up)
                counts["retrying"] += len(missing) - len(given_up)
    failed_ids = [c.pk for failed in failed_by_account.values() for c in failed]
    errors = dict(Campaign.objects.filter(pk__in=failed_ids).values_list("pk", "sync_error")) if failed_ids else {}
    for account_id, failed in failed_by_account.items():
        for c in failed:
            c.sync_error = errors.get(c.pk, c.sync_error)
        _notify_sync_failed(accounts[account_id], failed)
    return counts


def platform_push_pending_sweep(*, older_than_minutes: float = PUSH_STALE_MINUTES) -> int:
    """Re-queue pushes for campaigns left pending (untouched for `older_than_minutes`): a worker restart or a
    lost enqueue never loses the user's intent. Returns how many campaigns were queued."""
    cutoff = timezone.now() - dt.timedelta(minutes=older_than_minutes)
    ids = list(
        Campaign.objects.filter(sync_state=SyncState.PENDING, updated_at__lte=cutoff).values_list("pk", flat=True)
    )
    if ids:
        _push_enqueue(ids)
    return len(ids)


def _sync_request(*, campaign: Campaign, actor, event: str, allowed_states: tuple[str, ...]) -> bool:
    now = timezone.now()
    with transaction.atomic():
        updated = Campaign.objects.filter(pk=campaign.pk, sync_state__in=allowed_states).update(
            sync_state=SyncState.PENDING, sync_attempts=0, sync_error="", sync_requested_at=now, updated_at=now
        )
        if not updated:
            return False
        campaign.refresh_from_db()
        history_record(campaign=campaign, action=Action.SYNC, actor=actor, source=Source.UI, details={"event": event})
        transaction.on_commit(functools.partial(_push_enqueue, [campaign.pk]))
    return True


def campaign_sync_retry(*, campaign: Campaign, actor) -> None:
    """Try again to push a campaign whose sync failed. Raises CampaignError when there is nothing to retry."""
    if campaign.sync_state != SyncState.FAILED:
        raise CampaignError(f"“{campaign.name}” has no failed sync to retry.")
    if not _sync_request(campaign=campaign, actor=actor, event="retry_requested", allowed_states=(SyncState.FAILED,)):
        raise CampaignError(f"“{campaign.name}” has no failed sync to retry.")


def campaign_end_resend(*, campaign: Campaign, actor) -> None:
    """Send the end to the platform again (e.g. it is still delivering). Only for ended campaigns."""
    if campaign.status != Status.ENDED:
        raise CampaignError(f"“{campaign.name}” has not ended; there is no end to re-send.")
    if campaign.sync_state == SyncState.PENDING:
        raise CampaignError(f"The end of “{campaign.name}” is already being sent.")
    _sync_request(
        campaign=campaign,
        actor=actor,
        event="resend_end_requested",
        allowed_states=(SyncState.SYNCED, SyncState.FAILED),
    )


# Pull ------------------------------------------------------------------------------------------------------


def _account_today(account: AdAccount) -> dt.date:
    try:
        zone = ZoneInfo(account.timezone)
    except (ValueError, KeyError, OSError):
        zone = dt.UTC
    return timezone.now().astimezone(zone).date()


def platform_campaigns_pull(*, account: AdAccount, connector, platform_ids: list[str] | None = None) -> dict:
    """Create campaigns the platform has and we do not, update names/objectives/budgets of the others, and
    reflect status changes made on the platform (drift) with source=platform. Campaigns with a push pending or
    failed are left alone: our recorded intent wins until the platform confirms it."""
    records = list(connector.campaigns_list(platform_ids=platform_ids))
    ours = {c.platform_id: c for c in Campaign.objects.filter(account=account).exclude(platform_id="")}
    now = timezone.now()
    to_create, to_update = [], []
    drift: dict[str, list[int]] = defaultdict(list)
    drift_status: dict[int, str] = {}
    for record in records:
        if not record.platform_id:
            continue
        operation = DELETE if record.is_deleted else record.operation_status
        objective = OBJECTIVE_FROM_PLATFORM.get(record.objective_type)
        budget_mode = BudgetMode.LIFETIME if record.budget_mode == "BUDGET_MODE_TOTAL" else BudgetMode.DAILY
        campaign = ours.get(record.platform_id)
        if campaign is None:
            status = PLATFORM_STATUS_TO_OURS.get(operation, Status.ACTIVE)
            to_create.append(
                Campaign(
                    account=account,
                    platform_id=record.platform_id,
                    name=record.name or f"TikTok campaign {record.platform_id}",
                    objective=objective or Objective.VIDEO_VIEWS,
                    budget_mode=budget_mode,
                    budget_amount=record.budget,
                    start_date=(record.created or now).date(),
                    status=status,
                    platform_status=operation[:40],
                    sync_state=SyncState.SYNCED,
                    ended_at=(record.modified or now) if status == Status.ENDED else None,
                    end_reason=EndReason.OTHER if status == Status.ENDED else "",
                )
            )
            continue
        changed = False
        for field, value in (
            ("name", record.name or campaign.name),
            ("objective", objective or campaign.objective),
            ("budget_mode", budget_mode),
            ("budget_amount", record.budget),
            ("platform_status", operation[:40]),
        ):
            if getattr(campaign, field) != value:
                setattr(campaign, field, value)
                changed = True
        if changed:
            campaign.updated_at = now
            to_update.append(campaign)
        wanted = PLATFORM_STATUS_TO_OURS.get(operation)
        if campaign.sync_state != SyncState.SYNCED or wanted is None or wanted == campaign.status:
            continue
        action = {
            (Status.ACTIVE, Status.PAUSED): Action.PAUSE,
            (Status.PAUSED, Status.ACTIVE): Action.RESUME,
            (Status.ACTIVE, Status.ENDED): Action.END,
            (Status.PAUSED, Status.ENDED): Action.END,
        }.get((campaign.status, wanted))
        if action:
            drift[action].append(campaign.pk)
            drift_status[campaign.pk] = operation
    with transaction.atomic():
        Campaign.objects.bulk_create(to_create, batch_size=500)
        Campaign.objects.bulk_update(
            to_update, ["name", "objective", "budget_mode", "budget_amount", "platform_status", "updated_at"], 500
        )
        drifted = 0
        for action, ids in drift.items():
            # Re-check under lock: a user's pause/resume recorded since we read is not overridden.
            still_synced = list(
                Campaign.objects.select_for_update(of=("self",))
                .filter(pk__in=ids, sync_state=SyncState.SYNCED)
                .values_list("pk", flat=True)
            )
            if not still_synced:
                continue
            extra = (
                {"reason_code": EndReason.OTHER, "reason_note": "Deleted in TikTok Ads Manager."}
                if action == Action.END
                else {}
            )
            result = campaigns_transition(
                campaign_ids=still_synced,
                action=action,
                actor=None,
                source=Source.PLATFORM,
                enforce_role=False,
                **extra,
            )
            # The platform is where the change came from: nothing to push back.
            Campaign.objects.filter(pk__in=result.changed_ids).update(sync_state=SyncState.SYNCED)
            drifted += len(result.changed_ids)
    return {"campaigns_seen": len(records), "created": len(to_create), "updated": len(to_update), "drifted": drifted}


def platform_metrics_pull(
    *, account: AdAccount, connector, start: dt.date, end: dt.date, platform_ids: list[str] | None = None
) -> dict:
    """Daily metrics at campaign and ad level into DailyMetric (idempotent). Ads we do not know yet become
    content items of their campaign. Returns counts."""
    campaigns = dict(Campaign.objects.filter(account=account).exclude(platform_id="").values_list("platform_id", "pk"))
    rows: list[dict] = []
    skipped = 0
    for record in connector.daily_metrics(start=start, end=end, level="campaign", platform_ids=platform_ids):
        pk = campaigns.get(record.campaign_id)
        if pk is None:
            skipped += 1
            continue
        rows.append({"campaign_id": pk, "content_item_id": None, "date": record.date, **record.metrics})
    ad_records = [
        r
        for r in connector.daily_metrics(start=start, end=end, level="ad", platform_ids=platform_ids)
        if r.campaign_id in campaigns and r.ad_id
    ]
    items = {
        (campaign_id, platform_id): pk
        for pk, campaign_id, platform_id in ContentItem.objects.filter(campaign__account=account)
        .exclude(platform_id="")
        .values_list("pk", "campaign_id", "platform_id")
    }
    new_items = {}
    for r in ad_records:
        key = (campaigns[r.campaign_id], r.ad_id)
        if key not in items and key not in new_items:
            new_items[key] = ContentItem(campaign_id=key[0], platform_id=r.ad_id, title=r.ad_name or f"Ad {r.ad_id}")
    with transaction.atomic():
        ContentItem.objects.bulk_create(list(new_items.values()), batch_size=500)
        items |= {key: item.pk for key, item in new_items.items()}
        for r in ad_records:
            item_pk = items[(campaigns[r.campaign_id], r.ad_id)]
            rows.append(
                {"campaign_id": campaigns[r.campaign_id], "content_item_id": item_pk, "date": r.date, **r.metrics}
            )
        created, updated = daily_metrics_upsert(rows=rows)
    return {
        "metric_rows": len(rows),
        "created": created,
        "updated": updated,
        "unknown_campaign_rows": skipped,
        "new_content_items": len(new_items),
        "campaign_ids": sorted({r["campaign_id"] for r in rows}),
    }


def still_delivering_detect(*, campaign_ids: Iterable[int]) -> list[int]:
    """Flag ended campaigns whose metrics show spend or impressions on a day more than
    CLOSEOUT_DELIVERY_GRACE_DAYS after the end was confirmed (reporting delay is not delivery); tell the
    managers once per episode. Clears the flag when no such day remains (e.g. after a re-sent end).
    Returns the ids newly flagged."""
    grace = dt.timedelta(days=settings.CLOSEOUT_DELIVERY_GRACE_DAYS)
    ended = {
        c.pk: c
        for c in Campaign.objects.filter(
            pk__in=list(campaign_ids), status=Status.ENDED, ended_at__isnull=False
        ).select_related("account")
    }
    if not ended:
        return []
    confirmed = dict(
        StatusChange.objects.filter(
            campaign_id__in=list(ended), action=Action.SYNC, to_status=Status.ENDED, details__event="confirmed"
        )
        .values("campaign_id")
        .annotate(last=Max("created_at"))
        .values_list("campaign_id", "last")
    )
    thresholds = {}
    for pk, c in ended.items():
        try:
            zone = ZoneInfo(c.account.timezone)
        except (ValueError, KeyError, OSError):
            zone = dt.UTC
        stopped = max(c.ended_at, confirmed.get(pk, c.ended_at))
        thresholds[pk] = stopped.astimezone(zone).date() + grace
    first_after: dict[int, dt.date] = {}
    for pk, day in (
        DailyMetric.objects.filter(
            campaign_id__in=list(ended), content_item__isnull=True, date__gt=min(thresholds.values())
        )
        .filter(Q(spend__gt=0) | Q(impressions__gt=0))
        .order_by("date")
        .values_list("campaign_id", "date")
    ):
        if day > thresholds[pk] and pk not in first_after:
            first_after[pk] = day
    newly = [pk for pk, day in first_after.items() if ended[pk].still_delivering_since is None]
    cleared = [pk for pk, c in ended.items() if c.still_delivering_since and pk not in first_after]
    with transaction.atomic():
        for pk in newly:
            Campaign.objects.filter(pk=pk).update(still_delivering_since=first_after[pk])
        if cleared:
            Campaign.objects.filter(pk__in=cleared).update(still_delivering_since=None)
    for pk in newly:
        c = ended[pk]
        platform_notify_managers(
            account=c.account,
            kind=NotificationKind.STILL_DELIVERING,
            title=f"“{c.name}” is still delivering after its end",
            body=(
                f"Metrics show spend or impressions on {first_after[pk]:%d %b %Y}, after the campaign ended. "
                "Check it in TikTok Ads Manager or re-send the end."
            ),
            url=reverse("campaigns:detail", args=[pk]),
            campaign_ids=[pk],
            dedupe_key=f"still-delivering:{pk}:{first_after[pk]:%Y%m%d}",
        )
    return newly


def platform_pull_account(*, account: AdAccount, days: int = 30, today: dt.date | None = None) -> dict:
    """Sync one connected account: campaigns (and drift), then daily metrics for the last `days` days, then
    the still-delivering check. Records the outcome on the account; returns a summary (with "error" when the
    platform refused; auth errors also mark the account "needs reconnect")."""
    connector = connector_for(account)
    if not connector.talks_to_platform:
        return {"skipped": "manual account"}
    end = today or _account_today(account)
    start = end - dt.timedelta(days=max(days, 1) - 1)
    try:
        summary = {"campaigns": platform_campaigns_pull(account=account, connector=connector)}
        metrics = platform_metrics_pull(account=account, connector=connector, start=start, end=end)
    except ConnectorError as error:
        if error.auth:
            account_reconnect_needed(account=account, message=error.message)
        else:
            AdAccount.objects.filter(pk=account.pk).update(sync_error=error.message)
            account.sync_error = error.message
        platform_logger.warning("Sync of account %s failed: %s", account.pk, error.message)
        return {"error": error.message}
    summary["metrics"] = {k: v for k, v in metrics.items() if k != "campaign_ids"}
    summary["still_delivering"] = still_delivering_detect(
        campaign_ids=Campaign.objects.filter(account=account, status=Status.ENDED).values_list("pk", flat=True)
    )
    now = timezone.now()
    AdAccount.objects.filter(pk=account.pk).update(last_synced_at=now, sync_error="", needs_reconnect=False)
    account.last_synced_at, account.sync_error, account.needs_reconnect = now, "", False
    return summary


def platform_pull_campaign(*, campaign: Campaign, today: dt.date | None = None) -> dict:
    """A final pull of one campaign (status and all its daily metrics since its start), e.g. just before the
    close snapshot is taken. Never raises for platform errors: returns {"error": …} and leaves data as it was."""
    account = campaign.account
    connector = connector_for(account)
    if not connector.talks_to_platform or not campaign.platform_id:
        return {"skipped": "not connected"}
    end = today or _account_today(account)
    try:
        campaigns = platform_campaigns_pull(account=account, connector=connector, platform_ids=[campaign.platform_id])
        metrics = platform_metrics_pull(
            account=account,
            connector=connector,
            start=min(campaign.start_date, end),
            end=end,
            platform_ids=[campaign.platform_id],
        )
    except ConnectorError as error:
        if error.auth:
            account_reconnect_needed(account=account, message=error.message)
        return {"error": error.message}
    still_delivering_detect(campaign_ids=[campaign.pk])
    campaign.refresh_from_db()
    return {"campaigns": campaigns, "metrics": {k: v for k, v in metrics.items() if k != "campaign_ids"}}


# Ads Manager file import -----------------------------------------------------------------------------------


def metric_import_preview(*, account: AdAccount, upload, actor) -> MetricImport:
    """Read an uploaded Ads Manager export and store it with a plan of what committing would do; nothing else
    changes. Raises `imports.ImportFileError` (a clear message) for files that cannot be read at all."""
    from . import imports

    content = imports.upload_read(upload)
    parsed = imports.file_parse(content=content, filename=upload.name)
    plan = imports.import_plan(account=account, parsed=parsed)
    sha = hashlib.sha256(content).hexdigest()
    previous = (
        MetricImport.objects.filter(account=account, sha256=sha, state=ImportState.COMMITTED)
        .order_by("-committed_at")
        .first()
    )
    summary = plan.summary()
    if previous:
        summary["already_imported_at"] = previous.committed_at.isoformat() if previous.committed_at else ""
    metric_import = MetricImport(
        account=account, uploaded_by=actor, filename=upload.name[:255], sha256=sha, size=len(content), summary=summary
    )
    from django.core.files.base import ContentFile

    metric_import.file.save(f"{sha[:16]}-{imports.safe_filename(upload.name)}", ContentFile(content), save=False)
    metric_import.save()
    return metric_import


def metric_import_commit(*, metric_import: MetricImport, actor) -> dict:
    """Apply a previewed import, all or nothing: campaigns created (manual accounts), content items created,
    daily metrics upserted, totals refreshed, still-delivering checked. Importing the same rows again changes
    nothing. Raises CampaignError when the import is not in preview, has row errors, or the file changed."""
    from . import imports

    with transaction.atomic():
        locked = MetricImport.objects.select_for_update().get(pk=metric_import.pk)
        if locked.state != ImportState.PREVIEW:
            raise CampaignError(f"This import is already {locked.get_state_display().lower()}.")
        try:
            with locked.file.open("rb") as handle:
                content = handle.read()
        except (ValueError, OSError):  # no file attached, or it vanished from storage
            raise CampaignError("The uploaded file is no longer available; upload it again.") from None
        if hashlib.sha256(content).hexdigest() != locked.sha256:
            raise CampaignError("The stored file changed since the preview; upload it again.")
        parsed = imports.file_parse(content=content, filename=locked.filename)
        plan = imports.import_plan(account=locked.account, parsed=parsed)
        if plan.errors:
            raise CampaignError(
                f"The file has {len(plan.errors)} row error{'s' if len(plan.errors) != 1 else ''}; "
                "fix them and upload it again. Nothing was imported."
            )
        result = imports.plan_apply(plan=plan)
        created, updated = daily_metrics_upsert(rows=result["rows"])
        now = timezone.now()
        summary = {**locked.summary, "result": {"created": created, "updated": updated, **result["counts"]}}
        MetricImport.objects.filter(pk=locked.pk).update(state=ImportState.COMMITTED, committed_at=now, summary=summary)
        actor_id = actor.pk if actor is not None and actor.is_authenticated else None
        StatusChange.objects.bulk_create(
            [
                StatusChange(
                    campaign_id=pk,
                    action=Action.SYNC,
                    from_status=status,
                    to_status=status,
                    actor_id=actor_id,
                    source=Source.IMPORT,
                    details={"event": "imported", "import_id": locked.pk, "file": locked.filename[:100]},
                )
                for pk, status in Campaign.objects.filter(pk__in=result["campaign_ids"]).values_list("pk", "status")
            ],
            batch_size=500,
        )
    still_delivering_detect(campaign_ids=result["campaign_ids"])
    metric_import.refresh_from_db()
    return summary["result"]


def metric_import_discard(*, metric_import: MetricImport) -> None:
    """Drop a preview: the stored file is deleted, the row kept (state discarded) as a record of the upload."""
    updated = MetricImport.objects.filter(pk=metric_import.pk, state=ImportState.PREVIEW).update(
        state=ImportState.DISCARDED
    )
    if not updated:
        raise CampaignError("Only an import waiting for confirmation can be discarded.")
    if metric_import.file:
        metric_import.file.delete(save=False)
        MetricImport.objects.filter(pk=metric_import.pk).update(file="")
    metric_import.refresh_from_db()


# --- schedules, edits, ICS tokens (issue 3) ---

import secrets  # noqa: E402

from .models import ScheduledAction, ScheduledState  # noqa: E402


class ScheduleError(CampaignError):
    pass


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
    from .models import ScheduledAction
    from .tasks import run_scheduled_action

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


def _history_value(value) -> object:
    if value is None or isinstance(value, bool | int | str):
        return value
    return str(value)


def campaign_create(*, account, actor: AbstractBaseUser, values: dict, content_formset=None) -> Campaign:
    """Create a campaign by hand (accounts without a platform connection; the caller checked the manager role).
    Saves the content items of `content_formset` (bound to the new campaign) and records the creation."""
    with transaction.atomic():
        campaign = Campaign.objects.create(account=account, owner=actor, **values)
        content = _content_formset_save(campaign=campaign, formset=content_formset)
        history_record(
            campaign=campaign,
            action=Action.EDIT,
            actor=actor,
            source=Source.UI,
            details={"created": True, **content},
        )
    return campaign


def campaign_edit(*, campaign: Campaign, actor: AbstractBaseUser, values: dict, content_formset=None) -> list[str]:
    """Apply edited fields (never the status: that moves only through `campaigns_transition`) and content items,
    and record one EDIT history entry listing each changed field as [old, new]. Returns the changed field names;
    an edit that changes nothing writes nothing."""
    forbidden = {"status", "sync_state", "ended_at", "end_reason", "account", "account_id"} & set(values)
    if forbidden:
        raise CampaignError(f"These fields cannot be edited here: {', '.join(sorted(forbidden))}.")
    with transaction.atomic():
        locked = Campaign.objects.select_for_update(of=("self",)).get(pk=campaign.pk)
        changed = {
            name: [_history_value(getattr(locked, name)), _history_value(value)]
            for name, value in values.items()
            if getattr(locked, name) != value
        }
        for name in changed:
            setattr(locked, name, values[name])
        if changed:
            locked.save(update_fields=[*changed, "updated_at"])
        content = _content_formset_save(campaign=locked, formset=content_formset)
        if changed or content:
            history_record(
                campaign=locked,
                action=Action.EDIT,
                actor=actor,
                source=Source.UI,
                details={"changed": changed, **content},
            )
    for name in changed:
        setattr(campaign, name, values[name])
    return list(changed) + (["content_items"] if content else [])


def _content_formset_save(*, campaign: Campaign, formset) -> dict:
    if formset is None:
        return {}
    formset.instance = campaign
    formset.save()
    content = {}
    if formset.new_objects:
        content["content_added"] = [item.title for item in formset.new_objects]
    if formset.changed_objects:
        content["content_changed"] = {item.title: fields for item, fields in formset.changed_objects}
    if formset.deleted_objects:
        content["content_removed"] = [item.title for item in formset.deleted_objects]
    return content


def ics_token_create(*, account, actor: AbstractBaseUser) -> str:
    """Publish (or rotate) the account's ICS feed. Returns the new secret once; only its sha256 is stored,
    so an old URL stops working at once."""
    token = secrets.token_urlsafe(32)
    account.ics_token_hash = hashlib.sha256(token.encode()).hexdigest()
    account.save(update_fields=["ics_token_hash"])
    return token


def ics_token_revoke(*, account, actor: AbstractBaseUser) -> None:
    account.ics_token_hash = ""
    account.save(update_fields=["ics_token_hash"])


# --- list totals maintained on write (issue 9) ---
# Database triggers append a signed delta row to CampaignListStat for every campaign insert, delete or change of
# account, status or totals (campaigns/dbsql.py). These two keep that table small and, after a bulk reset, right.
from . import dbsql  # noqa: E402
from .models import CampaignListStat  # noqa: E402


def _execute_atomically(statements_for, using: str) -> None:
    """Run `statements_for(vendor)` on the `using` database, in one transaction."""
    from django.db import connections

    db = connections[using]
    with transaction.atomic(using=using), db.cursor() as cursor:
        for statement in statements_for(db.vendor):
            cursor.execute(statement)


def campaign_list_stats_compact(*, using: str = "default") -> int:
    """Fold the delta rows into one row per (account, status). Safe beside concurrent writers (PostgreSQL:
    one DELETE … RETURNING statement; SQLite: one writer at a time). Returns the rows left."""
    _execute_atomically(dbsql.compact_sql, using)
    return CampaignListStat.objects.using(using).count()


def campaign_list_stats_rebuild(*, using: str = "default") -> None:
    """Recompute the list totals and the search table (SQLite's FTS5 index, PostgreSQL's narrow copy) from the
    campaigns table: after `migrate`, after `flush` (whose DELETE-per-table can run the triggers after their table
    was emptied), after bulk loads and after `loaddata`."""
    _execute_atomically(dbsql.rebuild_sql, using)
