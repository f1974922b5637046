"""A campaign's timeline (issue 18): its notes (`Annotation`) and its status changes, merged when read. Status
changes and rule actions are never copied into notes: they are the history's own rows, written as the history
writes them ("Paused by eddie-editor", "Paused by rule Overspend"). The campaign page's chart, the close report's
snapshot (`reports.services.snapshots`) and its "added after close" notes all read them here."""

import dataclasses
import datetime as dt
from collections.abc import Iterable

from django.db.models import F

from . import history_text
from .models import Annotation, Campaign, Source, StatusChange
from .timezones import zone_of

NOTE, STATUS, RULE = "note", "status", "rule"


@dataclasses.dataclass(frozen=True)
class TimelineMarker:
    """One marker on a campaign's timeline: `day` (the account's day), `label` as the team reads it, `kind`
    (note | status | rule), `public_label` without people's or rules' names (a report shared outside the team),
    `by` the note's author, `at` when it was written or happened, and the note itself (None for a status change)."""

    day: dt.date
    label: str
    kind: str
    public_label: str
    at: dt.datetime
    by: str = ""
    annotation: Annotation | None = None


def _person(user) -> str:
    return (user.get_full_name() or user.get_username()) if user is not None else ""


def note_markers(annotations: Iterable[Annotation]) -> list[TimelineMarker]:
    return [
        TimelineMarker(
            day=a.day, label=a.text, kind=NOTE, public_label=a.text, at=a.created_at, by=_person(a.author), annotation=a
        )
        for a in annotations
    ]


def status_markers(changes: Iterable[StatusChange], *, account) -> list[TimelineMarker]:
    """One marker per status change (pause, resume, end) among `changes` (other history rows are skipped), on the
    account's day it happened. Reads no more than the rows given (their `actor` loaded)."""
    zone = zone_of(account)
    return [
        TimelineMarker(
            day=change.created_at.astimezone(zone).date(),
            label=history_text.transition_headline(change, account=account),
            kind=RULE if change.source == Source.RULE else STATUS,
            public_label=history_text.transition_headline(change, account=account, named=False),
            at=change.created_at,
        )
        for change in changes
        if change.is_transition
    ]


def timeline_markers(*, account, annotations: Iterable[Annotation], changes: Iterable[StatusChange]) -> list:
    """The notes and the status changes as markers, by day (within a day in the order they happened). Pure."""
    markers = note_markers(annotations) + status_markers(changes, account=account)
    return sorted(markers, key=lambda m: (m.day, m.at))


def campaign_timeline(
    *, campaign: Campaign, first_day: dt.date | None = None, last_day: dt.date | None = None
) -> list[TimelineMarker]:
    """The campaign's markers between `first_day` and `last_day` (both included; open when None). Two queries
    whatever the number of notes (the notes with their authors, the status changes with their actors)."""
    notes = Annotation.objects.filter(campaign=campaign).select_related("author")
    if first_day is not None:
        notes = notes.filter(day__gte=first_day)
    if last_day is not None:
        notes = notes.filter(day__lte=last_day)
    changes = (
        StatusChange.objects.filter(campaign=campaign)
        .exclude(from_status=F("to_status"))
        .select_related("actor")
        .order_by("created_at", "id")
    )
    markers = timeline_markers(account=campaign.account, annotations=notes, changes=changes)
    return [m for m in markers if (first_day is None or m.day >= first_day) and (last_day is None or m.day <= last_day)]


def annotations_added_after(*, campaign_id: int, after: dt.datetime, exclude_ids: Iterable[int] = ()) -> list:
    """The campaign's notes written after `after` (a close report's freeze), except `exclude_ids` (the ones the
    report froze): what the report shows as "added after close". One query."""
    return list(
        Annotation.objects.filter(campaign_id=campaign_id, created_at__gt=after)
        .exclude(pk__in=list(exclude_ids))
        .select_related("author")
        .order_by("day", "created_at", "id")
    )
