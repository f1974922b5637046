"""The wind-down's "Nobody was told — notify the team" (issue 16): one click that tells the account's editors and
managers about an end nobody else heard of, then completes the "team notified" step. Apart from
`notifications` so that module keeps to the notifications themselves; it builds on them and on `winddown`."""

from django.contrib.auth.models import AbstractBaseUser
from django.urls import reverse

from .. import timezones
from ..models import (
    Action,
    Campaign,
    EndReason,
    Membership,
    NotificationKind,
    Role,
    StatusChange,
    WindDownStep,
    WindDownStepKind,
)
from .errors import CampaignError
from .notifications import notification_recipients, notifications_create, user_label
from .winddown import winddown_require_editor, winddown_step_complete


def winddown_team_notify(*, campaign: Campaign, actor: AbstractBaseUser) -> int:
    """The wind-down's "Nobody was told — notify the team", one click: tell the account's editors and managers
    (and the campaign's owner, watchers and followers), never the person clicking, that the campaign ended and its
    checklist is open; then complete "team notified" (done by `actor`, audited). Returns how many people were
    told. Safe to repeat (one notification per person and end).

    Raises NotPermitted below the editor role; CampaignError when the campaign has no checklist, or when nobody
    but `actor` could be told (then the step stays open)."""
    winddown_require_editor(actor=actor, campaign=campaign, doing="notify the team")
    campaign = Campaign.objects.select_related("account").get(pk=campaign.pk)
    if not WindDownStep.objects.filter(campaign=campaign, kind=WindDownStepKind.TEAM_NOTIFIED).exists():
        raise CampaignError("This campaign has no wind-down checklist yet.")
    team = Membership.objects.filter(
        account_id=campaign.account_id, role__in=[Role.EDITOR, Role.MANAGER], user__is_active=True
    ).values_list("user_id", flat=True)
    recipients = notification_recipients(
        campaign_ids=[campaign.pk], exclude_user_id=actor.pk, include_user_ids=list(team)
    )
    if not recipients:
        raise CampaignError(
            "Nobody else in this account can be told: you are its only editor or manager. "
            "Tell the team another way, then mark this step done with a note."
        )
    end = StatusChange.objects.filter(campaign=campaign, action=Action.END).order_by("-created_at", "-pk").first()
    who = user_label(actor)

    def render(pks):
        when = f" at {timezones.moment_text(end.created_at, campaign.account)}" if end else ""
        reason = f"\nReason: {EndReason(end.reason_code).label}" if end and end.reason_code else ""
        body = (
            f"“{campaign.name}” ({campaign.account.name}) ended{when}.{reason}\n\n"
            f"{who} asks you to help with its wind-down: take content down, tell the audience, follow up budget."
        )
        return f"{who}: “{campaign.name}” has ended", body, reverse("campaigns:winddown", args=[campaign.pk])

    notifications_create(
        campaign_ids=[campaign.pk],
        kind=NotificationKind.STATUS_CHANGED,
        dedupe_key=f"team-notify:{campaign.pk}:{end.pk if end else 0}",
        render=render,
        recipients=recipients,
    )
    winddown_step_complete(
        campaign=campaign,
        kind=WindDownStepKind.TEAM_NOTIFIED,
        actor=actor,
        automatic=False,
        data={"notifications": len(recipients), "nobody_told": False},
    )
    return len(recipients)
