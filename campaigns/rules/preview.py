"""What a rule would have done over the last 30 days of stored metrics, before it is saved.

The preview replays evaluation day by day: the same `conditions.campaigns_tripped` query for each day (30 set-based
queries whatever the number of campaigns), the same episodes (once per campaign while the condition holds), the
same guards, and the same effect on a campaign's status (after a simulated pause or end the rule leaves it alone).
So a campaign appears on the day evaluation would have acted on it, with the numbers that tripped it
(`tests/campaigns/test_rules_preview.py` holds the two to each other over generated metrics).

`would_act_today` is what evaluating the rule now would act on: campaigns active today, tripped, not held back by
a guard and, for a saved rule, without an open episode."""

import dataclasses
import datetime as dt

from ..models import Rule, RuleAction, RuleEpisode, Status
from ..timezones import today_in
from .conditions import Trip, campaigns_tripped

PREVIEW_DAYS = 30
AFTER = {RuleAction.PAUSE: Status.PAUSED, RuleAction.END: Status.ENDED}


@dataclasses.dataclass(frozen=True)
class PreviewEvent:
    trip: Trip
    acted: bool  # False: held back by a guard ("waiting: learning")

    @property
    def day(self) -> dt.date:
        return self.trip.day


@dataclasses.dataclass
class Preview:
    start: dt.date
    today: dt.date
    events: list[PreviewEvent]
    would_act_today: list[Trip]

    @property
    def acted(self) -> list[PreviewEvent]:
        return [e for e in self.events if e.acted]

    @property
    def held(self) -> list[PreviewEvent]:
        return [e for e in self.events if not e.acted]

    @property
    def campaign_count(self) -> int:
        return len({e.trip.campaign_id for e in self.acted})


def rule_preview(*, rule: Rule, today: dt.date | None = None, days: int = PREVIEW_DAYS, campaign_ids=None) -> Preview:
    """Replay `rule` (saved or not; `campaign_ids` are an unsaved rule's chosen campaigns) over the `days` days up
    to `today` (the account's today). Writes nothing."""
    today = today or today_in(rule.account)
    start = today - dt.timedelta(days=days - 1)
    status: dict[int, str] = {}
    open_: set[int] = set()
    held_once: set[tuple[int, dt.date]] = set()
    events: list[PreviewEvent] = []
    trips: dict[int, Trip] = {}
    for offset in range(days):
        day = start + dt.timedelta(days=offset)
        trips = campaigns_tripped(rule=rule, day=day, campaign_ids=campaign_ids)
        open_ &= set(trips)  # an episode closes on a day the condition no longer holds
        for pk, trip in trips.items():
            status.setdefault(pk, trip.status)
            if pk in open_ or status[pk] != Status.ACTIVE:
                continue
            if trip.held:
                if (pk, day) not in held_once:
                    held_once.add((pk, day))
                    events.append(PreviewEvent(trip=trip, acted=False))
                continue
            events.append(PreviewEvent(trip=trip, acted=True))
            open_.add(pk)
            status[pk] = AFTER.get(RuleAction(rule.action), status[pk])
    open_now = set()
    if rule.pk:
        open_now = set(
            RuleEpisode.objects.filter(rule_id=rule.pk, closed_at__isnull=True).values_list("campaign_id", flat=True)
        )
    now = [t for pk, t in trips.items() if t.status == Status.ACTIVE and not t.held and pk not in open_now]
    return Preview(start=start, today=today, events=events, would_act_today=now)
