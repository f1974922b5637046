"""The calendar's reads and layout: a month of the user's campaigns (filtered by account, status, objective) laid
out as bars across their days, one row of bars ("lane") per week as in a wall calendar, and an agenda for narrow
screens. Pure functions past the one query, so the layout is tested without a browser."""

import calendar as pycalendar
import dataclasses
import datetime as dt

from django.db.models import Count
from django.utils import timezone

from .forms import zone
from .models import Campaign, Objective, Status
from .selectors import User, campaigns_in_month_for_user

CALENDAR_LIMIT = 500  # campaigns in one month view; past that the page says so and asks for a filter
MAX_LANES = 12  # rows of bars per week; the rest are counted ("+N more this week") and listed in the agenda
WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]


@dataclasses.dataclass(frozen=True)
class CalendarFilters:
    account: int | None = None
    status: str = ""
    objective: str = ""

    @classmethod
    def from_query(cls, params, *, account_ids) -> "CalendarFilters":
        """Only values the user may ask for: an account of theirs, a known status and objective."""
        try:
            account = int(params.get("account", ""))
        except ValueError:
            account = None
        status, objective = params.get("status", ""), params.get("objective", "")
        return cls(
            account=account if account in account_ids else None,
            status=status if status in Status.values else "",
            objective=objective if objective in Objective.values else "",
        )

    @property
    def active(self) -> bool:
        return bool(self.account or self.status or self.objective)

    def query(self) -> str:
        """The filters as a query string tail ("&account=3&status=paused"), for month links."""
        parts = [("account", self.account), ("status", self.status), ("objective", self.objective)]
        return "".join(f"&{key}={value}" for key, value in parts if value)


MONTH_YEARS = range(1900, 3000)


def month_param(value: str | None, *, today: dt.date) -> dt.date:
    """The first day of "YYYY-MM", or of this month when it is not one or lies outside MONTH_YEARS (the grid and
    the previous/next links would step past the first or last date Python can hold: year 1, 9999)."""
    try:
        year, month = (int(part) for part in (value or "").split("-"))
        if year in MONTH_YEARS:
            return dt.date(year, month, 1)
    except (TypeError, ValueError):
        pass
    return today.replace(day=1)


def effective_end(campaign: Campaign) -> dt.date | None:
    """The last day a campaign runs: its end date, or the day it was ended if that came first (account's zone)."""
    if campaign.is_ended and campaign.ended_at:
        ended = timezone.localtime(campaign.ended_at, zone(campaign.account.timezone)).date()
        return min(ended, campaign.end_date) if campaign.end_date else ended
    return campaign.end_date


def ended_early(campaign: Campaign) -> bool:
    """Ended before its planned last day (or with none planned)."""
    end = effective_end(campaign)
    return campaign.is_ended and end is not None and (campaign.end_date is None or end < campaign.end_date)


def calendar_campaigns_for_user(
    *, user: User, first_day: dt.date, last_day: dt.date, filters: CalendarFilters
) -> tuple[list[Campaign], bool]:
    """The user's campaigns running on some day of [first_day, last_day] (by their effective end), start order;
    and whether there were more than `CALENDAR_LIMIT`. One query."""
    campaigns = campaigns_in_month_for_user(user=user, first_day=first_day, last_day=last_day)
    if filters.account:
        campaigns = campaigns.filter(account_id=filters.account)
    if filters.status:
        campaigns = campaigns.filter(status=filters.status)
    if filters.objective:
        campaigns = campaigns.filter(objective=filters.objective)
    rows = list(campaigns[: CALENDAR_LIMIT + 1])
    more = len(rows) > CALENDAR_LIMIT
    running = [c for c in rows[:CALENDAR_LIMIT] if (effective_end(c) or last_day) >= first_day]
    return running, more


@dataclasses.dataclass
class Bar:
    """One campaign's bar in one week: from column `start` (0 = Monday) over `span` days."""

    campaign: Campaign
    start: int
    span: int
    first_day: dt.date  # the campaign's own first and last day (not the week's)
    last_day: dt.date | None
    continues_before: bool
    continues_after: bool


@dataclasses.dataclass
class Week:
    days: list[dict]  # {date, in_month, today, events}: every campaign running that day (the grid's old shape)
    lanes: list[list[dict]]  # each lane: cells {"bar": Bar} or {"gap": n days}, 7 days in all
    hidden: int  # campaigns of this week beyond MAX_LANES

    @property
    def first(self) -> dt.date:
        return self.days[0]["date"]

    def __iter__(self):
        return iter(self.days)


def month_grid(*, month: dt.date, campaigns: list[Campaign], today: dt.date, max_lanes: int = MAX_LANES) -> list[Week]:
    """The month's weeks (Monday first, whole weeks), each with its campaigns as bars packed into lanes: a
    campaign takes the first lane free on all of its days that week, longest-running first on ties, so a week
    holds as few lanes as the overlaps need."""
    dates = pycalendar.Calendar(firstweekday=0).monthdatescalendar(month.year, month.month)
    spans = [(c, c.start_date, effective_end(c)) for c in campaigns]
    weeks = []
    for week_dates in dates:
        first, last = week_dates[0], week_dates[-1]
        days = [
            {
                "date": day,
                "in_month": day.month == month.month,
                "today": day == today,
                "events": [c for c, start, end in spans if start <= day <= (end or dt.date.max)],
            }
            for day in week_dates
        ]
        bars = []
        for campaign, start, end in spans:
            if start > last or (end is not None and end < first):
                continue
            begin, finish = max(start, first), min(end or last, last)
            bars.append(
                Bar(
                    campaign=campaign,
                    start=(begin - first).days,
                    span=(finish - begin).days + 1,
                    first_day=start,
                    last_day=end,
                    continues_before=start < first,
                    continues_after=end is None or end > last,
                )
            )
        bars.sort(key=lambda b: (b.start, -b.span, b.campaign.name.casefold(), b.campaign.pk))
        occupied: list[int] = []  # per lane: the first free column
        lanes: list[list[Bar]] = []
        hidden = 0
        for bar in bars:
            lane = next((i for i, free in enumerate(occupied) if free <= bar.start), None)
            if lane is None:
                if len(lanes) >= max_lanes:
                    hidden += 1
                    continue
                lanes.append([])
                occupied.append(0)
                lane = len(lanes) - 1
            lanes[lane].append(bar)
            occupied[lane] = bar.start + bar.span
        weeks.append(Week(days=days, lanes=[_cells(lane) for lane in lanes], hidden=hidden))
    return weeks


def _cells(bars: list[Bar]) -> list[dict]:
    """A lane's table cells: its bars and the gaps between them, seven days in all."""
    cells, column = [], 0
    for bar in bars:
        if bar.start > column:
            cells.append({"gap": bar.start - column})
        cells.append({"bar": bar})
        column = bar.start + bar.span
    if column < 7:
        cells.append({"gap": 7 - column})
    return cells


def agenda(*, month: dt.date, campaigns: list[Campaign]) -> list[dict]:
    """The month as a list, for narrow screens and screen readers: each campaign once, in start order, grouped
    under "Already running" or the week it starts in."""
    groups: dict[str, dict] = {}
    for campaign in campaigns:
        start = campaign.start_date
        if start < month:
            key, title = "before", f"Running from before {month:%-d %B}"
        else:
            monday = start - dt.timedelta(days=start.weekday())
            key, title = monday.isoformat(), f"Starting the week of {monday:%-d %B}"
        groups.setdefault(key, {"title": title, "items": []})["items"].append(
            {"campaign": campaign, "end": effective_end(campaign)}
        )
    return [groups[key] for key in sorted(groups, key=lambda k: "" if k == "before" else k)]


ICS_LIMIT = 2000  # events in one feed


def ics_campaigns(*, account) -> list[Campaign]:
    """The account's campaigns for its ICS feed, start order, each with `ics_sequence`: how many changes its
    history records (status changes, edits, schedules, platform syncs), which only ever grows. One query."""
    return list(
        account.campaigns.select_related("account")
        .annotate(ics_sequence=Count("history"))
        .order_by("start_date", "pk")[:ICS_LIMIT]
    )
