"""Notifications that tell a team what happened, in the app and by email."""

from collections.abc import Iterable

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from .. import timezones
from ..models import (
    NOTIFY_DEFAULT_ROLE,
    TRANSITION_ACTIONS,
    Action,
    AdAccount,
    Campaign,
    CampaignWatch,
    EmailState,
    EndReason,
    Membership,
    Notification,
    NotificationKind,
    Role,
    ScheduledAction,
    Source,
    Status,
    StatusChange,
    WindDownStep,
    membership_follows,
)
from ..platforms.registry import platform_label
from ..text import counted
from . import effects
from .transitions import TRANSITIONS
from .winddown import WINDDOWN_OVERDUE_DAYS, winddown_team_notified_record

NOTIFICATION_EMAIL_MAX_ATTEMPTS = 5

# Notifications ---------------------------------------------------------------------------------------------


def notification_recipients(
    *,
    campaign_ids: Iterable[int],
    exclude_user_id: int | None = None,
    include_managers: bool = False,
    include_user_ids: Iterable[int] = (),
    audience: str | None = None,
) -> dict:
    """{user_id: [campaign_id, ...]}: who hears about each campaign. The owner, the users watching it and the
    members of its account who opted in to every status change, plus (when asked) the account's managers and
    the users in `include_user_ids`; always only current members of the account, never the person who acted.

    `audience` names a kind of status change ("ends", "pauses": pauses and resumes): its default audience is told
    too, the members who follow that kind by their own choice or by their role (`models.membership_follows`: an
    end tells every editor and manager, a pause the managers). Three queries whatever the number of campaigns."""

    ids = sorted({int(pk) for pk in campaign_ids})
    campaigns = list(Campaign.objects.filter(pk__in=ids).values_list("pk", "account_id", "owner_id"))
    account_ids = {account_id for _, account_id, _ in campaigns}
    members: dict[int, set[int]] = {}
    notify_all: dict[int, set[int]] = {}
    for user_id, account_id, wants_all, role, ends, pauses in Membership.objects.filter(
        account_id__in=account_ids, user__is_active=True
    ).values_list("user_id", "account_id", "notify_all", "role", "notify_ends", "notify_pauses"):
        members.setdefault(account_id, set()).add(user_id)
        chosen = {"ends": ends, "pauses": pauses}.get(audience)
        follows = audience is not None and membership_follows(audience, role=role, notify_all=wants_all, chosen=chosen)
        if wants_all or follows or (include_managers and role == Role.MANAGER):
            notify_all.setdefault(account_id, set()).add(user_id)
    also = {int(pk) for pk in include_user_ids}
    watchers: dict[int, set[int]] = {}
    for user_id, campaign_id in CampaignWatch.objects.filter(campaign_id__in=ids).values_list("user_id", "campaign_id"):
        watchers.setdefault(campaign_id, set()).add(user_id)
    recipients: dict[int, list[int]] = {}
    for pk, account_id, owner_id in campaigns:
        wanted = {owner_id} | watchers.get(pk, set()) | notify_all.get(account_id, set()) | also
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
    include_managers: bool = False,
    include_user_ids: Iterable[int] = (),
    recipients: dict | None = None,
) -> list[int]:
    """Create one notification per recipient about the campaigns that concern them (grouped: a bulk action
    over 50 campaigns is one notification per person, listing them).

    `render(campaign_ids) -> (title, body, url)` writes the text for one recipient's share of the campaigns.
    `dedupe_key` is unique per recipient, so running the same event twice creates nothing new. Emails are
    queued after commit for recipients whose membership asks for email. `include_managers` and
    `include_user_ids` widen the recipients (see `notification_recipients`); `recipients`, when given, is that
    answer already computed. Returns the new notification ids."""

    if recipients is None:
        recipients = notification_recipients(
            campaign_ids=campaign_ids,
            exclude_user_id=exclude_user_id,
            include_managers=include_managers,
            include_user_ids=include_user_ids,
        )
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
        effects.notification_emails_on_commit(notification_ids=to_email)
    return [n.pk for n in created]


def _campaign_lines(campaigns: list[Campaign]) -> str:
    return "\n".join(f"• {c.name} ({c.account.name})" for c in campaigns)


def user_label(user) -> str:
    """How a notification names a person: their full name, else their username; "Closeout" for nobody."""
    if user is None:
        return "Closeout"
    return user.get_full_name() or user.get_username()


def _batch_by_campaign(rows) -> dict:
    """{campaign id: row} for the rows of one batch (status changes, schedules), first row first, each with its
    campaign and account loaded."""
    return {row.campaign_id: row for row in rows.select_related("campaign__account").order_by("pk")}


def _when(moment, campaigns: list[Campaign]) -> str:
    """A moment of these campaigns written for people (`timezones.moment_text`): in their account's zone, or in
    UTC when they span accounts whose zones read differently."""
    texts = {timezones.moment_text(moment, c.account) for c in campaigns}
    return texts.pop() if len(texts) == 1 else timezones.moment_text(moment, timezones.UTC)


def notifications_for_status_changes(*, change_ids: Iterable[int]) -> list[int]:
    """Tell each recipient about status changes (one batch = one call of `campaigns_transition`), grouped into
    one notification per recipient. Besides owner, watchers and followers, each kind of change tells its default
    audience (`notification_recipients(audience=…)`: an end every editor and manager, a pause or resume the
    managers, as each member's preferences say). Changes made by a schedule read "scheduled … executed".
    After an end, the "team notified" wind-down step completes for each campaign someone other than the actor
    was told about; for the others it stays open, marked "nobody was told" (`winddown_team_notified_record`).
    Idempotent (dedupe key = first change)."""

    by_campaign = _batch_by_campaign(
        StatusChange.objects.filter(pk__in=list(change_ids), action__in=TRANSITION_ACTIONS).select_related("actor")
    )
    if not by_campaign:
        return []
    first = next(iter(by_campaign.values()))
    action = Action(first.action)
    verb = TRANSITIONS[action].verb.lower()
    scheduled = first.source == Source.SCHEDULE
    who = "A schedule" if scheduled else user_label(first.actor) if first.actor else Source(first.source).label
    if first.source == Source.RULE:
        who = f"Rule “{first.details.get('rule_name', '')}”"
    if first.source == Source.RIGHTS:
        who = "Closeout"

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
        these = "this campaign" if len(items) == 1 else "these campaigns"
        lines = [f"{who} {verb} {these} at {_when(first.created_at, campaigns)}:"]
        lines.append(_campaign_lines(campaigns))
        if first.source == Source.RULE:  # the numbers that tripped the rule, per campaign
            lines += ["", *(f"{c.campaign.name}: {c.details.get('rule_reason', '')}" for c in items)]
        if first.source == Source.RIGHTS:  # the content whose usage rights expired, per campaign
            lines += ["", *(f"{c.campaign.name}: {why}" for c in items for why in c.details.get("rights_reason", []))]
            lines.append("It was the only live content. Take it down on the platform too.")
        if action == Action.END:
            lines.append(f"\nReason: {EndReason(first.reason_code).label if first.reason_code else '—'}")
            if first.reason_note:
                lines.append(f"Note: {first.reason_note}")
            lines.append("\nThe wind-down checklist is open: take content down, tell your audience, follow up budget.")
        return title, "\n".join(lines), url

    recipients = notification_recipients(
        campaign_ids=by_campaign,
        exclude_user_id=first.actor_id,
        audience="ends" if action == Action.END else "pauses",
    )
    ids = notifications_create(
        campaign_ids=by_campaign,
        kind=NotificationKind.SCHEDULE_EXECUTED if scheduled else NotificationKind.STATUS_CHANGED,
        dedupe_key=f"changes:{first.pk}",
        render=render,
        recipients=recipients,
    )
    if action == Action.END:
        # Told = among the recipients (never the actor), whether this run or an earlier run of the same event wrote
        # their notification: a retried task must not turn a told team into "nobody was told".
        told = dict.fromkeys(by_campaign, 0)
        for pks in recipients.values():
            for pk in pks:
                told[pk] += 1
        winddown_team_notified_record(told=told, source=first.source)
    return ids


def _schedule_when(scheduled: ScheduledAction) -> str:
    return timezones.moment_text(scheduled.run_at, scheduled.campaign.account)


def notify_schedules_created(*, scheduled_ids: Iterable[int], actor_id: int | None) -> list[int]:
    """Tell the team about scheduled actions created together (one call of `scheduled_actions_create`: same
    action, time and reason), one notification per recipient listing their campaigns; never the person who
    scheduled. Idempotent (dedupe key = the first schedule). Queued after commit by `effects`."""
    by_campaign = _batch_by_campaign(
        ScheduledAction.objects.filter(pk__in=list(scheduled_ids)).select_related("created_by")
    )
    if not by_campaign:
        return []
    first = next(iter(by_campaign.values()))
    who = user_label(first.created_by)
    verb = first.get_action_display().lower()
    reason = f"Reason: {first.get_reason_code_display()}" if first.reason_code else ""

    def render(pks: list[int]):
        campaigns = [by_campaign[pk].campaign for pk in pks]
        c = campaigns[0]
        if len(campaigns) == 1:
            title = f"{who} scheduled: {verb} “{c.name}”"
            body = f"{title} ({c.account.name}) at {_schedule_when(first)}."
            url = reverse("campaigns:detail", args=[c.pk])
        else:
            title = f"{who} scheduled: {verb} {len(campaigns)} campaigns"
            body = (
                f"{who} scheduled to {verb} these campaigns at {_schedule_when(first)}:\n{_campaign_lines(campaigns)}"
            )
            url = reverse("campaigns:list")
        return title, body + (f"\n{reason}" if reason else ""), url

    return notifications_create(
        campaign_ids=by_campaign,
        kind=NotificationKind.SCHEDULE_CREATED,
        dedupe_key=f"schedule-created:{first.pk}",
        render=render,
        exclude_user_id=actor_id,
    )


def notify_schedule_created(*, scheduled: ScheduledAction, actor: AbstractBaseUser | None) -> list[int]:
    """One scheduled action's notification (see `notify_schedules_created`)."""
    return notify_schedules_created(scheduled_ids=[scheduled.pk], actor_id=actor.pk if actor is not None else None)


def notify_schedule_failed(*, scheduled: ScheduledAction) -> list[int]:
    """A scheduled action failed (its `result` says why; the campaign was not changed): tell the account's
    managers and the schedule's creator, besides the campaign's usual recipients. Idempotent. Queued after
    commit by `effects.scheduled_action_failed`."""
    scheduled = ScheduledAction.objects.select_related("campaign__account").get(pk=scheduled.pk)
    c = scheduled.campaign

    def render(pks):
        title = f"A scheduled action failed: {scheduled.get_action_display().lower()} “{c.name}”"
        body = (
            f"The {scheduled.get_action_display().lower()} of “{c.name}” ({c.account.name}) scheduled for "
            f"{_schedule_when(scheduled)} did not happen; the campaign was not changed.\n"
            f"Why: {scheduled.result or 'unknown'}\n\n"
            "Fix the cause, then act on the campaign by hand or schedule it again."
        )
        return title, body, reverse("campaigns:detail", args=[c.pk])

    return notifications_create(
        campaign_ids=[scheduled.campaign_id],
        kind=NotificationKind.SCHEDULE_FAILED,
        dedupe_key=f"schedule-failed:{scheduled.pk}",
        render=render,
        include_managers=True,
        include_user_ids=[scheduled.created_by_id] if scheduled.created_by_id else [],
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
        platform = platform_label(items[0].account)
        title = (
            f"{platform} did not confirm the change to “{items[0].name}”"
            if len(items) == 1
            else f"{platform} did not confirm changes to {len(items)} campaigns"
        )
        body = "Closeout recorded the change, but the platform has not applied it:\n" + _campaign_lines(items)
        if error:
            body += f"\n\nError: {error}"
        body += f"\n\nCheck the campaign in {platform} Ads Manager, then retry the sync from Closeout."
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
                ended = timezones.moment_date_text(c.ended_at, c.account)
                lines.append(f"• {c.name} ({c.account.name}), ended {ended}: {names}")
            n = sum(len(open_by_campaign[pk]) for pk in pks)
            title = (
                f"Wind-down overdue: “{open_by_campaign[pks[0]][0].campaign.name}”"
                if len(pks) == 1
                else f"Wind-down overdue for {len(pks)} campaigns"
            )
            body = (
                f"{counted(n, 'wind-down step')} still open {WINDDOWN_OVERDUE_DAYS} days after the end:\n"
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
    """Save {account_id: {"notify_all", "notify_email", "notify_ends", "notify_pauses": bool}} for the user's own
    memberships only. An "ends"/"pauses" answer equal to the member's role default is stored as the default (None),
    so it follows a later change of role; a key left out keeps what is stored."""
    memberships = list(Membership.objects.filter(user=user, account_id__in=list(preferences)))
    for m in memberships:
        wanted = preferences[m.account_id]
        m.notify_all = bool(wanted.get("notify_all"))
        m.notify_email = bool(wanted.get("notify_email"))
        for kind in NOTIFY_DEFAULT_ROLE:
            if f"notify_{kind}" in wanted:
                chosen = bool(wanted[f"notify_{kind}"])
                default = membership_follows(kind, role=m.role, notify_all=False, chosen=None)
                setattr(m, f"notify_{kind}", None if chosen == default else chosen)
    Membership.objects.bulk_update(memberships, ["notify_all", "notify_email", "notify_ends", "notify_pauses"])
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
    from ..emails import notification_email_message

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
        effects.notification_emails_on_commit(notification_ids=retry, run_after=timezone.now() + delay)
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
        effects.notification_emails_on_commit(notification_ids=to_email)
    return created
