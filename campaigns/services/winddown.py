"""The after-end checklist (WindDownStep × 7 per ended campaign). `Campaign.winddown_done` always equals the number
of done steps: every write below recounts it in the same transaction as the step change."""

import enum
from collections.abc import Iterable

from django.contrib.auth.models import AbstractBaseUser
from django.db import connection, transaction
from django.db.models import Case, Exists, OuterRef, When
from django.utils import timezone

from ..models import (
    Action,
    Campaign,
    ContentItem,
    ContentState,
    EndReason,
    Role,
    Source,
    Status,
    StatusChange,
    SyncState,
    WindDownStep,
    WindDownStepKind,
)
from ..selectors import role_for, rows_counted
from ..text import counted
from .errors import CampaignError, NotPermitted
from .history import history_record

WINDDOWN_OVERDUE_DAYS = 7

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


def _winddown_done_count():
    """A campaign's done steps as they are stored (a correlated subquery over the campaign row)."""
    return rows_counted(WindDownStep.objects.filter(done_at__isnull=False), by="campaign_id")


def winddown_done_once_created():
    """What `Campaign.winddown_done` will be once `winddown_checklists_create` has run: the steps done already,
    plus the calendar step it adds done. The END's own UPDATE sets it (`transitions`), so the checklist's recount
    finds nothing to change: on PostgreSQL a second UPDATE of 1,000 campaign rows (every index, both list
    triggers) cost more than the END itself."""
    calendar = WindDownStep.objects.filter(campaign_id=OuterRef("pk"), kind=WindDownStepKind.CALENDAR_UPDATED)
    return _winddown_done_count() + Case(When(~Exists(calendar), then=1), default=0)


def _winddown_done_refresh(*, campaign_ids: Iterable[int]) -> None:
    """Recount done steps into Campaign.winddown_done with one UPDATE (a correlated subquery), writing only the
    rows whose count is not already right."""
    count = _winddown_done_count()
    Campaign.objects.filter(pk__in=list(campaign_ids)).exclude(winddown_done=count).update(winddown_done=count)


def winddown_checklists_create(*, campaign_ids: Iterable[int], now=None, done_counted: bool = False) -> int:
    """Create the seven wind-down steps for each campaign (idempotent: existing steps are kept).

    The in-transaction subscriber of a status change (`effects.status_changes_recorded`, inside the END
    transaction of `campaigns_transition`), so every path to "ended" (UI, admin, schedule, platform, command)
    gets a checklist atomically. Two queries whatever the number of campaigns.
    The calendar step is done at once: the calendar and the ICS feed read the live status.
    `done_counted`: the caller's UPDATE of these campaigns already set `winddown_done` to
    `winddown_done_once_created()` (the END does), so the recount is skipped.
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
    if not done_counted:
        _winddown_done_refresh(campaign_ids=ids)
    return len(ids)


def _winddown_require(*, actor, campaign: Campaign, role: Role, doing: str) -> None:
    have = role_for(user=actor, account_id=campaign.account_id) if actor is not None else None
    if have is None or not have.allows(role):
        raise NotPermitted(f"You need the {Role(role).label.lower()} role in this account to {doing}.")


def winddown_require_editor(*, actor, campaign: Campaign, doing: str) -> None:
    """Raise NotPermitted unless `actor` works the wind-down of this campaign's account (editor or manager)."""
    _winddown_require(actor=actor, campaign=campaign, role=Role.EDITOR, doing=doing)


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


def winddown_content_pending(*, campaign: Campaign):
    """The live content items the "content removed" step waits for: every live item of an ended campaign; of a
    campaign still running, only the items whose usage rights expired (the step's `rights_items`, see
    `winddown_content_steps_open`)."""
    live = ContentItem.objects.filter(campaign_id=campaign.pk, state=ContentState.LIVE)
    if Campaign.objects.filter(pk=campaign.pk, status=Status.ENDED).exists():  # as stored: `campaign` may be stale
        return live
    step = WindDownStep.objects.filter(campaign_id=campaign.pk, kind=WindDownStepKind.CONTENT_REMOVED).first()
    return live.filter(pk__in=(step.data.get("rights_items", []) if step else []))


def winddown_content_steps_open(*, reasons: dict[int, dict[int, str]], source: str) -> list[int]:
    """Open the "content removed" step of each campaign in `reasons` ({campaign id: {content item id: why, for
    people}}) for those items: the content-rights expiry (`services.content_rights`). A campaign that has not ended
    gets this one step now (the rest of its checklist comes with its end, which keeps it); a done step is reopened.
    The items and sentences are merged into the step's `rights_items` and `rights_reason`, the done count
    recounted, and each opening audited (an EDIT history row naming the reasons). Constant queries; the caller
    holds the campaigns' row locks. Returns the campaign ids whose step was opened or extended."""
    ids = sorted(reasons)
    if not ids:
        return []
    position = WindDownStepKind.values.index(WindDownStepKind.CONTENT_REMOVED) + 1
    steps = {
        step.campaign_id: step
        for step in WindDownStep.objects.select_for_update().filter(
            campaign_id__in=ids, kind=WindDownStepKind.CONTENT_REMOVED
        )
    }
    new, changed, opened = [], [], {}
    for pk in ids:
        step = steps.get(pk) or WindDownStep(campaign_id=pk, kind=WindDownStepKind.CONTENT_REMOVED, position=position)
        items = [int(i) for i in step.data.get("rights_items", [])]
        added = {item: why for item, why in sorted(reasons[pk].items()) if item not in items}
        if not added:
            continue  # these items opened it already (the step may since have been done by a person)
        step.data = {
            **step.data,
            "rights_items": items + list(added),
            "rights_reason": [*step.data.get("rights_reason", []), *added.values()],
        }
        step.done_at, step.done_by, step.automatic = None, None, False
        (changed if step.pk else new).append(step)
        opened[pk] = list(added.values())
    WindDownStep.objects.bulk_create(new)
    WindDownStep.objects.bulk_update(changed, ["done_at", "done_by", "automatic", "data"])
    _winddown_done_refresh(campaign_ids=opened)
    _steps_audit(
        details_of={
            pk: {"winddown_step": WindDownStepKind.CONTENT_REMOVED, "done": False, "rights_reason": why}
            for pk, why in opened.items()
        },
        source=source,
    )
    return sorted(opened)


def _steps_audit(*, details_of: dict[int, dict], source: str) -> None:
    """One history row per campaign whose wind-down steps Closeout itself changed (no actor; status unchanged),
    with that campaign's `details`: one query for the statuses, one insert."""
    status_of = dict(Campaign.objects.filter(pk__in=list(details_of)).values_list("pk", "status"))
    StatusChange.objects.bulk_create(
        [
            StatusChange(
                campaign_id=pk,
                action=Action.EDIT,
                from_status=status_of[pk],
                to_status=status_of[pk],
                source=source,
                details=details,
            )
            for pk, details in details_of.items()
        ]
    )


def winddown_content_item_mark(*, item, state: str, note: str, actor: AbstractBaseUser):
    """Record that a content item was taken down (removed) or deliberately left up (kept, with a note).

    When no item the "content removed" step waits for is live any more (`winddown_content_pending`), the step
    completes (done by `actor`)."""

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
        if not winddown_content_pending(campaign=campaign).exists():
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
    """Complete the content step by hand: allowed only when no item it waits for is live (or there are none)."""

    _winddown_require(actor=actor, campaign=campaign, role=Role.EDITOR, doing="complete wind-down steps")
    live = winddown_content_pending(campaign=campaign).count()
    if live:
        raise CampaignError(f"{counted(live, 'content item')} still live: mark each one removed or kept first.")
    return winddown_step_complete(
        campaign=campaign, kind=WindDownStepKind.CONTENT_REMOVED, actor=actor, automatic=False
    )


def winddown_team_told(*, campaign: Campaign, actor: AbstractBaseUser, note: str):
    """Record that the team was told outside Closeout (a meeting, a call): completes "team notified", done by
    `actor`, with a note saying how. Raises CampaignError without a note, NotPermitted below the editor role."""
    note = note.strip()
    if not note:
        raise CampaignError("Say how the team was told (for example “in Monday’s stand-up”).")
    return winddown_step_complete(
        campaign=campaign,
        kind=WindDownStepKind.TEAM_NOTIFIED,
        actor=actor,
        automatic=False,
        note=note[:500],
        data={"told_elsewhere": True, "nobody_told": False},
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
    *,
    campaign_ids: Iterable[int],
    kind: str,
    source: str,
    data: dict | None = None,
    audit: bool = True,
    data_of: dict[int, dict] | None = None,
):
    """Complete one kind of step automatically for many campaigns: constant queries. Returns campaign ids changed.
    `data` is merged into every step's data, `data_of` {campaign id: data} into that campaign's. With `audit`,
    each completion also gets a history row."""
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
        if data or data_of:
            steps = list(WindDownStep.objects.filter(pk__in=[pk for pk, _ in open_steps]))
            for step in steps:
                step.data = {**step.data, **(data or {}), **(data_of or {}).get(step.campaign_id, {})}
            WindDownStep.objects.bulk_update(steps, ["data"])
        _winddown_done_refresh(campaign_ids=changed)
        if not audit:
            return changed
        _steps_audit(
            details_of={pk: {"winddown_step": kind, "done": True, "automatic": True} for pk in changed}, source=source
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


def winddown_team_notified_record(*, told: dict[int, int], source: str) -> list[int]:
    """After an end's notifications (`notifications_for_status_changes`): `told` is {campaign id: how many people
    other than the actor were told}. "Team notified" completes (automatically) only where that is at least one;
    where nobody was told it stays open, marked `nobody_told`, and the checklist offers "notify the team"
    (`winddown_team_notify`). Quiet for steps already done (a retried task). Not audited: the END row already
    records this moment. Returns the campaign ids completed."""
    reached = {pk: n for pk, n in told.items() if n > 0}
    nobody = sorted(pk for pk, n in told.items() if n <= 0)
    if nobody:
        with transaction.atomic():
            steps = list(
                WindDownStep.objects.select_for_update()
                .filter(campaign_id__in=nobody, kind=WindDownStepKind.TEAM_NOTIFIED, done_at__isnull=True)
                .order_by("campaign_id")
            )
            for step in steps:
                step.data = {**step.data, "notifications": 0, "nobody_told": True}
            WindDownStep.objects.bulk_update(steps, ["data"])
    return _winddown_steps_complete_bulk(
        campaign_ids=list(reached),
        kind=WindDownStepKind.TEAM_NOTIFIED,
        source=source,
        data_of={pk: {"notifications": n, "nobody_told": False} for pk, n in reached.items()},
        audit=False,
    )
