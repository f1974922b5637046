"""Annotations (issue 18): dated notes on a campaign's timeline. Every write of a note, from the campaign page
and the admin alike: checked (`annotation_problems`), permitted (editors and managers add; the author or a manager
edits and removes; viewers only read), audited in the campaign's history in the same transaction, and announced
after commit (`signals.annotations_changed`, so the close report's cached page shows it).

Status changes and rule actions are not written here: they already are history rows, and
`selectors_annotations.campaign_timeline` merges them in when the timeline is read."""

import datetime as dt

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from .. import signals
from ..models import ANNOTATION_TEXT_MAX, Action, Annotation, Campaign, Role, Source
from ..selectors import role_for
from ..timezones import today_in
from .effects import event_on_commit
from .errors import CampaignError, NotPermitted
from .history import history_record

# Notes may be put on days this long before the campaign's start (the brief, the creator's first post).
ANNOTATION_DAYS_BEFORE_START = 31


class AnnotationInvalid(CampaignError):
    """The note cannot be saved; `problems` maps a field ("day", "text") to what is wrong with it."""

    def __init__(self, problems: dict[str, str]):
        self.problems = problems
        super().__init__(" ".join(problems.values()))


def annotation_last_day(campaign: Campaign) -> dt.date:
    """The last day a note may be put on: the day the campaign ended, else the later of today and its planned end."""
    if campaign.ended_at is not None:
        return today_in(campaign.account, now=campaign.ended_at)
    today = today_in(campaign.account)
    return max(today, campaign.end_date) if campaign.end_date else today


def annotation_problems(*, campaign: Campaign, day: dt.date | None, text: str) -> dict[str, str]:
    """{field: what is wrong}, empty when the note can be saved: a text of 1–200 characters, a day on the
    campaign's timeline (from a month before its start to its end, or today)."""
    problems = {}
    text = (text or "").strip()
    if not text:
        problems["text"] = "Write the note."
    elif len(text) > ANNOTATION_TEXT_MAX:
        problems["text"] = f"Keep the note to {ANNOTATION_TEXT_MAX} characters (this one has {len(text)})."
    elif "\x00" in text:
        problems["text"] = "The note contains a character that cannot be stored."
    if day is None:
        problems["day"] = "Give the day the note is about."
    else:
        first = campaign.start_date - dt.timedelta(days=ANNOTATION_DAYS_BEFORE_START)
        last = annotation_last_day(campaign)
        if not first <= day <= last:
            problems["day"] = f"Choose a day between {first:%-d %b %Y} and {last:%-d %b %Y}."
    return problems


def annotation_can_add(*, role: Role | None) -> bool:
    return role is not None and role.allows(Role.EDITOR)


def annotation_can_change(*, annotation: Annotation, user, role: Role | None) -> bool:
    """A manager, or the note's author while they still edit in the account."""
    if role is None or not role.allows(Role.EDITOR):
        return False
    return role.allows(Role.MANAGER) or (annotation.author_id is not None and annotation.author_id == user.pk)


def _require(allowed: bool, doing: str) -> None:
    if not allowed:
        raise NotPermitted(doing)


def _audit(*, campaign: Campaign, actor, source: str, op: str, annotation: Annotation, was: dict | None = None):
    details = {
        "annotation": op,
        "annotation_id": annotation.pk,
        "day": annotation.day.isoformat(),
        "text": annotation.text,
    }
    if was:
        details["was"] = was
    history_record(campaign=campaign, action=Action.EDIT, actor=actor, source=source, details=details)


def annotation_create(
    *,
    campaign: Campaign,
    actor: AbstractBaseUser | None,
    day: dt.date,
    text: str,
    source: str = Source.UI,
    enforce_role: bool = True,
) -> Annotation:
    """Put a note on `day` of the campaign's timeline. Raises NotPermitted below the editor role (unless
    `enforce_role=False`: the admin, whose staff need no membership), AnnotationInvalid for a bad day or text."""
    if enforce_role:
        role = role_for(user=actor, account_id=campaign.account_id) if actor is not None else None
        _require(annotation_can_add(role=role), "You need the editor role in this account to add notes.")
    problems = annotation_problems(campaign=campaign, day=day, text=text)
    if problems:
        raise AnnotationInvalid(problems)
    author = actor if actor is not None and actor.is_authenticated else None
    with transaction.atomic():
        annotation = Annotation.objects.create(campaign=campaign, day=day, text=text.strip(), author=author)
        _audit(campaign=campaign, actor=actor, source=source, op="added", annotation=annotation)
        event_on_commit(signals.annotations_changed, campaign_ids=[campaign.pk])
    return annotation


def annotation_edit(
    *,
    annotation: Annotation,
    actor: AbstractBaseUser | None,
    day: dt.date,
    text: str,
    source: str = Source.UI,
    enforce_role: bool = True,
) -> bool:
    """Change a note's day or text. Raises NotPermitted unless `actor` wrote it or is a manager (see
    `annotation_create` for `enforce_role`), AnnotationInvalid for a bad day or text. An edit that changes nothing
    writes nothing; returns whether it changed."""
    campaign = annotation.campaign
    if enforce_role:
        role = role_for(user=actor, account_id=campaign.account_id) if actor is not None else None
        allowed = annotation_can_change(annotation=annotation, user=actor, role=role)
        _require(allowed, "Only the note's author or a manager of this account can change it.")
    problems = annotation_problems(campaign=campaign, day=day, text=text)
    if problems:
        raise AnnotationInvalid(problems)
    text = text.strip()
    with transaction.atomic():
        locked = Annotation.objects.select_for_update().get(pk=annotation.pk)
        if locked.day == day and locked.text == text:
            return False
        was = {"day": locked.day.isoformat(), "text": locked.text}
        locked.day, locked.text = day, text
        locked.save(update_fields=["day", "text", "updated_at"])
        _audit(campaign=campaign, actor=actor, source=source, op="edited", annotation=locked, was=was)
        event_on_commit(signals.annotations_changed, campaign_ids=[campaign.pk])
    annotation.day, annotation.text, annotation.updated_at = locked.day, locked.text, locked.updated_at
    return True


def annotation_delete(
    *, annotation: Annotation, actor: AbstractBaseUser | None, source: str = Source.UI, enforce_role: bool = True
) -> None:
    """Remove a note (its words stay in the history, and in a close report frozen before). Raises NotPermitted
    unless `actor` wrote it or is a manager."""
    campaign = annotation.campaign
    if enforce_role:
        role = role_for(user=actor, account_id=campaign.account_id) if actor is not None else None
        allowed = annotation_can_change(annotation=annotation, user=actor, role=role)
        _require(allowed, "Only the note's author or a manager of this account can remove it.")
    with transaction.atomic():
        deleted, _ = Annotation.objects.filter(pk=annotation.pk).delete()
        if deleted:
            _audit(campaign=campaign, actor=actor, source=source, op="removed", annotation=annotation)
            event_on_commit(signals.annotations_changed, campaign_ids=[campaign.pk])
