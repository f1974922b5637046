"""The home page's "needs attention now": what to fix, each line linked to the page that fixes it.

Fast at any size (issue 16, benched by issue 19): every line is one LIMITed read over a small partial index on
denormalised fields (`Campaign.Meta.indexes`, the `ATTENTION_*` conditions in models), and all the lines are one
UNION ALL query, so the page costs the same few queries with 100 or 100,000 campaigns. A line reads at most
`ATTENTION_LIMIT` rows and says "99+" past that: a number that big means "a lot", not a figure to reconcile.

Apps that build on campaigns add lines without campaigns importing them (`attention_source_register`; reports adds
new feedback): a source returns a queryset shaped by `attention_columns`, which joins the same UNION.
"""

import dataclasses
import datetime as dt
from collections.abc import Callable, Sequence
from decimal import Decimal

from django.db import models
from django.db.models import F, Q, QuerySet, Sum, Value
from django.db.models.functions import Cast
from django.urls import reverse
from django.utils import timezone

from .forms import zone
from .models import (
    ATTENTION_BUDGET_NEARLY_SPENT,
    ATTENTION_RIGHTS,
    ATTENTION_STILL_DELIVERING,
    ATTENTION_SYNC_FAILED,
    ATTENTION_WINDDOWN_OPEN,
    RIGHTS_WARN_DAYS_CHOICES,
    WINDDOWN_STEP_COUNT,
    Action,
    AdAccount,
    Campaign,
    CampaignListStat,
    ContentItem,
    Membership,
    Role,
    ScheduledAction,
    ScheduledState,
    Status,
    WindDownStep,
    WindDownStepKind,
)
from .selectors import User
from .text import counted, day_text
from .timezones import today_in

ATTENTION_LIMIT = 100  # rows read per line at most: past 99 a line says "99+"
ATTENTION_SHOWN = 5  # items named under a line; the line's link leads to the rest
SCHEDULE_HORIZON = dt.timedelta(hours=24)
WINDDOWN_OVERDUE_AFTER = dt.timedelta(days=7)  # as services.WINDDOWN_OVERDUE_DAYS (the reminder's deadline)

_TEXT = models.TextField()
_ID = models.BigIntegerField()
_WHEN = models.DateTimeField()
_DAY = models.DateField()
_MONEY = models.DecimalField(max_digits=16, decimal_places=2)


def attention_columns(
    *, kind: str, campaign_id, name, account_id, at=None, day=None, n1=None, n2=None, text=None
) -> dict:
    """The columns every line's rows have, in this order (a UNION matches them by position): pass to
    `queryset.values(**attention_columns(...))`. Field names (str) or expressions: `at` a moment, `day` a date,
    `n1`/`n2` two amounts, `text` a short word; each None when a line has no use for it."""

    def col(value, field):
        if value is None:
            # A typed NULL: PostgreSQL resolves a UNION's column types member by member, and an untyped NULL
            # first would make the column text.
            return Cast(Value(None), output_field=field)
        return F(value) if isinstance(value, str) else value

    return {
        "attn_kind": Value(kind, output_field=_TEXT),
        "attn_campaign": col(campaign_id, _ID),
        "attn_name": col(name, _TEXT),
        "attn_account": col(account_id, _ID),
        "attn_at": col(at, _WHEN),
        "attn_day": col(day, _DAY),
        "attn_n1": col(n1, _MONEY),
        "attn_n2": col(n2, _MONEY),
        "attn_text": col(text, _TEXT),
    }


def limited(queryset: QuerySet, *order: str) -> QuerySet:
    """Rows of `queryset`'s model whose pk is among the first `ATTENTION_LIMIT` matches (in `order`): the LIMIT
    sits inside a subquery, which every database accepts inside a UNION."""
    first = queryset.order_by(*order).values("pk")[:ATTENTION_LIMIT]
    return queryset.model.objects.filter(pk__in=first).order_by()  # a UNION member must not order


@dataclasses.dataclass(frozen=True)
class AttentionSource:
    """One line of the home page. `rows(account_ids, now)` returns its rows (`attention_columns`); `item_url(row)`
    where one item is fixed; `all_url(rows, scope)` where the whole line is."""

    key: str
    position: int
    singular: str  # "campaign still delivering after its end"
    plural: str
    help: str
    rows: Callable[[Sequence[int], dt.datetime], QuerySet]
    item_url: Callable[[dict], str]
    all_url: Callable[[list[dict], "HomeScope"], str]
    all_label: str
    item_note: Callable[[dict, "HomeScope"], str] = lambda row, scope: ""


_SOURCES: dict[str, AttentionSource] = {}


def attention_source_register(source: AttentionSource) -> None:
    """Add (or replace) a line; apps call it from their AppConfig.ready()."""
    _SOURCES[source.key] = source


def attention_sources() -> list[AttentionSource]:
    return sorted(_SOURCES.values(), key=lambda source: source.position)


@dataclasses.dataclass
class HomeScope:
    """The user's accounts by id (name order), each an AdAccount with the user's `role` set on it."""

    accounts: dict[int, AdAccount]

    @property
    def account_ids(self) -> list[int]:
        return list(self.accounts)


def home_scope_for_user(*, user: User) -> HomeScope:
    """The user's accounts with their role, in one query, by name."""
    if not user.is_authenticated:
        return HomeScope(accounts={})
    memberships = Membership.objects.filter(user=user).select_related("account").order_by("account__name", "account_id")
    accounts = {}
    for membership in memberships:
        membership.account.role = Role(membership.role)
        accounts[membership.account_id] = membership.account
    return HomeScope(accounts=accounts)


def campaign_counts_by_account(*, account_ids: Sequence[int]) -> dict[int, dict[str, int]]:
    """{account_id: {status: campaigns}} from the totals kept on write (`CampaignListStat`, summed deltas): one
    small grouped query, never a scan of the campaigns."""
    counts: dict[int, dict[str, int]] = {}
    rows = (
        CampaignListStat.objects.filter(account_id__in=list(account_ids))
        .values("account_id", "status")
        .annotate(n=Sum("campaigns"))
        .order_by()
    )
    for row in rows:
        if row["n"]:
            counts.setdefault(row["account_id"], {})[row["status"]] = int(row["n"])
    return counts


@dataclasses.dataclass
class AttentionItem:
    name: str
    url: str
    note: str


@dataclasses.dataclass
class AttentionLine:
    key: str
    count: int  # capped at ATTENTION_LIMIT
    title: str  # "3 campaigns still delivering after their end", "99+ …"
    words: str  # the title without its number: "campaigns still delivering after their end"
    help: str
    items: list[AttentionItem]
    all_url: str
    all_label: str

    @property
    def badge(self) -> str:
        return f"{ATTENTION_LIMIT - 1}+" if self.count >= ATTENTION_LIMIT else str(self.count)


@dataclasses.dataclass
class HomeAttention:
    lines: list[AttentionLine]  # every line, in order; the template shows the ones with a count
    total: int

    @property
    def open_lines(self) -> list[AttentionLine]:
        return [line for line in self.lines if line.count]

    @property
    def badge(self) -> str:
        return f"{ATTENTION_LIMIT - 1}+" if self.total >= ATTENTION_LIMIT else str(self.total)


def home_attention(*, scope: HomeScope, now: dt.datetime | None = None) -> HomeAttention:
    """Every attention line for the accounts in `scope`: one UNION ALL query, whatever the number of campaigns.
    Account-level sync problems come from `scope` itself (no query)."""
    now = now or timezone.now()
    sources = attention_sources()
    rows_by_kind: dict[str, list[dict]] = {source.key: [] for source in sources}
    if scope.accounts and sources:
        parts = [source.rows(scope.account_ids, now) for source in sources]
        for row in parts[0].union(*parts[1:], all=True).order_by():
            rows_by_kind.setdefault(row["attn_kind"], []).append(row)
    lines = []
    for source in sources:
        rows = _ordered(rows_by_kind.get(source.key, []))
        items = [
            AttentionItem(name=row["attn_name"], url=source.item_url(row), note=source.item_note(row, scope))
            for row in rows[:ATTENTION_SHOWN]
        ]
        count = len(rows)
        if source.key == "sync_failed":  # accounts whose connection failed are part of the same line
            broken = [a for a in scope.accounts.values() if a.is_connected and (a.needs_reconnect or a.sync_error)]
            items = [_account_item(a) for a in broken] + items
            count += len(broken)
        title = counted(count, source.singular, source.plural, at_most=ATTENTION_LIMIT - 1)
        lines.append(
            AttentionLine(
                key=source.key,
                count=count,
                title=title,
                words=source.singular if count == 1 else source.plural,
                help=source.help,
                items=items[:ATTENTION_SHOWN],
                all_url=source.all_url(rows, scope),
                all_label=source.all_label,
            )
        )
    return HomeAttention(lines=lines, total=sum(line.count for line in lines))


def _ordered(rows: list[dict]) -> list[dict]:
    # The UNION returns rows in no order: each line reads oldest (most urgent) first, then by name.
    far = dt.datetime.max.replace(tzinfo=dt.UTC)
    return sorted(rows, key=lambda r: (r["attn_at"] or far, r["attn_day"] or dt.date.max, r["attn_name"] or ""))


def _account_item(account: AdAccount) -> AttentionItem:
    note = "needs reconnecting" if account.needs_reconnect else "last sync failed"
    return AttentionItem(name=f"Account {account.name}", url=_account_url(account.pk), note=note)


def _account_url(account_id: int) -> str:
    return reverse("campaigns:account_detail", args=[account_id]) + "#sync-status"


def _detail_url(row: dict) -> str:
    return reverse("campaigns:detail", args=[row["attn_campaign"]])


def _one_account_or(rows: list[dict], fallback: str) -> str:
    """The account page when every row is in one account (where it is fixed), else `fallback`."""
    accounts = {row["attn_account"] for row in rows}
    return _account_url(accounts.pop()) if len(accounts) == 1 else fallback


def _account_note(row: dict, scope: HomeScope) -> str:
    account = scope.accounts.get(row["attn_account"])
    return account.name if account else ""


# --- the campaigns' own lines ----------------------------------------------------------------------------------


def _campaign_rows(kind: str, condition, *order: str, at=None, day=None, n1=None, n2=None):
    def rows(account_ids: Sequence[int], now: dt.datetime) -> QuerySet:
        matching = Campaign.objects.filter(condition, account_id__in=account_ids)
        return limited(matching, *order).values(
            **attention_columns(
                kind=kind, campaign_id="pk", name="name", account_id="account_id", at=at, day=day, n1=n1, n2=n2
            )
        )

    return rows


def _winddown_rows(account_ids: Sequence[int], now: dt.datetime) -> QuerySet:
    overdue = Campaign.objects.filter(
        ATTENTION_WINDDOWN_OPEN, account_id__in=account_ids, ended_at__lt=now - WINDDOWN_OVERDUE_AFTER
    )
    return limited(overdue, "ended_at").values(
        **attention_columns(
            kind="winddown_overdue",
            campaign_id="pk",
            name="name",
            account_id="account_id",
            at="ended_at",
            n1="winddown_done",
        )
    )


def _schedule_rows(account_ids: Sequence[int], now: dt.datetime) -> QuerySet:
    soon = ScheduledAction.objects.filter(
        state=ScheduledState.PENDING,
        run_at__gte=now,
        run_at__lt=now + SCHEDULE_HORIZON,
        campaign__account_id__in=account_ids,
    )
    return limited(soon, "run_at").values(
        **attention_columns(
            kind="schedules_soon",
            campaign_id="campaign_id",
            name="campaign__name",
            account_id="campaign__account_id",
            at="run_at",
            text="action",
        )
    )


def _lessons_rows(account_ids: Sequence[int], now: dt.datetime) -> QuerySet:
    waiting = WindDownStep.objects.filter(
        kind=WindDownStepKind.PERFORMANCE_ANALYSED, done_at__isnull=True, campaign__account_id__in=account_ids
    )
    return limited(waiting, "-campaign_id").values(
        **attention_columns(
            kind="lessons_waiting",
            campaign_id="campaign_id",
            name="campaign__name",
            account_id="campaign__account_id",
            at="campaign__ended_at",
        )
    )


# The date furthest ahead anywhere (UTC+14): an item shows from its warning day there; the note is in its account's.
_EARTH_AHEAD = dt.timedelta(hours=14)


def _rights_rows(account_ids: Sequence[int], now: dt.datetime) -> QuerySet:
    """Live content of live campaigns whose usage rights end within the account's lead time (`rights_warn_days`,
    one of a few choices: one OR term each), or ended already and not yet taken down."""
    latest = (now + _EARTH_AHEAD).date()
    within = Q()
    for days, _ in RIGHTS_WARN_DAYS_CHOICES:
        within |= Q(campaign__account__rights_warn_days=days, rights_expire_on__lte=latest + dt.timedelta(days=days))
    due = ContentItem.objects.filter(
        ATTENTION_RIGHTS,
        within,
        campaign__account_id__in=account_ids,
        campaign__status__in=[Status.ACTIVE, Status.PAUSED],
    )
    return limited(due, "rights_expire_on", "pk").values(
        **attention_columns(
            kind="rights_expiring",
            campaign_id="campaign_id",
            name="title",
            account_id="campaign__account_id",
            day="rights_expire_on",
            text="campaign__name",
        )
    )


def _rights_expired(row: dict, account) -> bool:
    return row["attn_day"] <= today_in(account or timezone.get_current_timezone())


def _rights_note(row: dict, scope: HomeScope) -> str:
    account = scope.accounts.get(row["attn_account"])
    verb = "expired" if _rights_expired(row, account) else "expire"
    return f"usage rights {verb} on {day_text(row['attn_day'])} · {row['attn_text']}"


def _rights_url(row: dict) -> str:
    """The wind-down step once the rights have ended (where the content is marked taken down), else the campaign."""
    if row["attn_day"] <= timezone.now().date():
        return reverse("campaigns:winddown", args=[row["attn_campaign"]]) + "#winddown-step-content_removed"
    return reverse("campaigns:detail", args=[row["attn_campaign"]]) + "#content"


def _money(value) -> str:
    return f"{Decimal(value or 0):,.2f}"


def _schedule_note(row: dict, scope: HomeScope) -> str:
    account = scope.accounts.get(row["attn_account"])
    tz = zone(account.timezone) if account else timezone.get_current_timezone()
    when = timezone.localtime(row["attn_at"], tz)
    verb = "ends" if row["attn_text"] == Action.END else "pauses"
    return f"{verb} {when:%a %H:%M} ({tz.key})"


def _budget_note(row: dict, scope: HomeScope) -> str:
    account = scope.accounts.get(row["attn_account"])
    currency = account.currency if account else ""
    return f"spent {_money(row['attn_n1'])} of {_money(row['attn_n2'])} {currency}".strip()


def _winddown_note(row: dict, scope: HomeScope) -> str:
    done = int(row["attn_n1"] or 0)
    return f"{done} of {WINDDOWN_STEP_COUNT} steps done · ended {row['attn_at']:%-d %b}"


def _lessons_url(row: dict) -> str:
    return reverse("reports:detail", kwargs={"campaign_id": row["attn_campaign"]}) + "?edit=lessons"


def _list_url(query: str) -> str:
    return f"{reverse('campaigns:list')}?{query}"


CAMPAIGN_SOURCES = [
    AttentionSource(
        key="still_delivering",
        position=10,
        singular="campaign still delivering after its end",
        plural="campaigns still delivering after their end",
        help="Metrics show spend after the end: re-send the end to the platform.",
        rows=_campaign_rows(
            "still_delivering", ATTENTION_STILL_DELIVERING, "still_delivering_since", day="still_delivering_since"
        ),
        item_url=lambda row: _account_url(row["attn_account"]),
        item_note=lambda row, scope: f"since {row['attn_day']:%-d %b}",
        all_url=lambda rows, scope: _one_account_or(rows, reverse("campaigns:accounts")),
        all_label="Re-send the end",
    ),
    AttentionSource(
        key="sync_failed",
        position=20,
        singular="sync failure",
        plural="sync failures",
        help="The platform did not confirm a change, or an account cannot connect.",
        rows=_campaign_rows("sync_failed", ATTENTION_SYNC_FAILED, "-pk"),
        item_url=lambda row: _account_url(row["attn_account"]),
        item_note=_account_note,
        all_url=lambda rows, scope: _one_account_or(rows, reverse("campaigns:accounts")),
        all_label="Retry on the account page",
    ),
    AttentionSource(
        key="rights_expiring",
        position=25,
        singular="content item whose usage rights end soon",
        plural="content items whose usage rights end soon",
        help="Creator usage rights (Spark Ads authorisation) end within the account's warning days, or have ended: "
        "renew them, or take the content down.",
        rows=_rights_rows,
        item_url=_rights_url,
        item_note=_rights_note,
        all_url=lambda rows, scope: _rights_url(_ordered(rows)[0]) if rows else reverse("campaigns:list"),
        all_label="The most urgent first",
    ),
    AttentionSource(
        key="winddown_overdue",
        position=30,
        singular="wind-down overdue",
        plural="wind-downs overdue",
        help="Ended more than 7 days ago with checklist steps still open.",
        rows=_winddown_rows,
        item_url=lambda row: reverse("campaigns:winddown", args=[row["attn_campaign"]]),
        item_note=_winddown_note,
        all_url=lambda rows, scope: reverse("campaigns:winddown_list"),
        all_label="All open wind-downs",
    ),
    AttentionSource(
        key="schedules_soon",
        position=40,
        singular="scheduled action in the next 24\u00a0h",
        plural="scheduled actions in the next 24\u00a0h",
        help="Pauses and ends that will run soon: check or unschedule them.",
        rows=_schedule_rows,
        item_url=_detail_url,
        item_note=_schedule_note,
        all_url=lambda rows, scope: _list_url("scheduled=on"),
        all_label="All scheduled campaigns",
    ),
    AttentionSource(
        key="lessons_waiting",
        position=50,
        singular="report waiting for lessons",
        plural="reports waiting for lessons",
        help="Write what worked and what to change: it completes the wind-down.",
        rows=_lessons_rows,
        item_url=_lessons_url,
        item_note=_account_note,
        all_url=lambda rows, scope: reverse("reports:index"),
        all_label="All reports",
    ),
    AttentionSource(
        key="budget_nearly_spent",
        position=70,
        singular="lifetime budget nearly spent",
        plural="lifetime budgets nearly spent",
        help="Active campaigns that have spent 90 % or more of their lifetime budget.",
        rows=_campaign_rows(
            "budget_nearly_spent", ATTENTION_BUDGET_NEARLY_SPENT, "-pk", n1="total_spend", n2="budget_amount"
        ),
        item_url=_detail_url,
        item_note=_budget_note,
        all_url=lambda rows, scope: _list_url("tab=active&sort=remaining"),
        all_label="Active campaigns by budget left",
    ),
]
for _source in CAMPAIGN_SOURCES:
    attention_source_register(_source)
