"""Reads scoped to what a user may see. Views never fetch a campaign or account by raw id without these."""

from decimal import Decimal

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.db.models import F, Func, IntegerField, Q, QuerySet
from django.http import Http404

from .models import AdAccount, Campaign, Membership, Role, StatusChange

User = AbstractBaseUser | AnonymousUser


def accounts_for_user(*, user: User) -> QuerySet[AdAccount]:
    if not user.is_authenticated:
        return AdAccount.objects.none()
    return AdAccount.objects.filter(memberships__user=user)


def roles_for_user(*, user: User) -> dict[int, Role]:
    """{account_id: role} for every account the user is a member of (one query)."""
    if not user.is_authenticated:
        return {}
    return {
        account_id: Role(role)
        for account_id, role in Membership.objects.filter(user=user).values_list("account_id", "role")
    }


def role_for(*, user: User, account_id: int) -> Role | None:
    if not user.is_authenticated:
        return None
    role = Membership.objects.filter(user=user, account_id=account_id).values_list("role", flat=True).first()
    return Role(role) if role else None


def campaigns_for_user(*, user: User) -> QuerySet[Campaign]:
    if not user.is_authenticated:
        return Campaign.objects.none()
    return Campaign.objects.filter(account__memberships__user=user)


def campaign_get_for_user(*, user: User, pk: object) -> Campaign:
    """The campaign if the user is a member of its account; 404 otherwise (also for malformed ids), so
    that other accounts' campaigns are indistinguishable from ones that do not exist."""
    try:
        pk = int(str(pk))
    except (TypeError, ValueError):
        raise Http404("No such campaign.") from None
    campaign = (
        campaigns_for_user(user=user).select_related("account", "owner", "status_changed_by").filter(pk=pk).first()
    )
    if campaign is None:
        raise Http404("No such campaign.")
    return campaign


def account_get_for_user(*, user: User, pk: object) -> AdAccount:
    try:
        pk = int(str(pk))
    except (TypeError, ValueError):
        raise Http404("No such account.") from None
    account = accounts_for_user(user=user).filter(pk=pk).first()
    if account is None:
        raise Http404("No such account.")
    return account


def require_role(*, user: User, account_id: int, role: Role, doing: str = "do that") -> Role:
    """The user's role in the account if it is at least `role`; otherwise PermissionDenied with a message
    that says which role is needed."""
    have = role_for(user=user, account_id=account_id)
    if have is None or not have.allows(role):
        raise PermissionDenied(f"You need the {Role(role).label.lower()} role in this account to {doing}.")
    return have


def campaign_history(*, campaign: Campaign) -> QuerySet[StatusChange]:
    return StatusChange.objects.filter(campaign=campaign).select_related("actor")


# --- campaign list, detail, calendar (issue 3) ---


def list_scope_for_user(*, user: User) -> tuple[dict[int, Role], list[tuple[int, str]], dict[int, tuple[str, str]]]:
    """For the list page, in one query: the user's {account_id: role}, their accounts as (id, name) choices by
    name, and {account_id: (name, currency)} for the rows. The list scopes its campaigns by these ids (no JOIN of
    memberships), the filter form offers these accounts without a query of its own, and rows take their
    account's name and currency from here instead of joining (and building) an AdAccount per row."""
    if not user.is_authenticated:
        return {}, [], {}
    rows = Membership.objects.filter(user=user).order_by("account__name", "account_id")
    rows = list(rows.values_list("account_id", "role", "account__name", "account__currency"))
    return (
        {account_id: Role(role) for account_id, role, _, _ in rows},
        [(pk, name) for pk, _, name, _ in rows],
        {pk: (name, currency) for pk, _, name, currency in rows},
    )


# What a list row shows (CampaignTable.body_html): loading only these halves the cost of building 50 rows.
LIST_ROW_FIELDS = (
    "id",
    "name",
    "objective",
    "status",
    "sync_state",
    "still_delivering_since",
    "budget_mode",
    "budget_amount",
    "start_date",
    "end_date",
    "total_spend",
    "total_video_views",
    "total_follows",
    "winddown_done",
    "status_changed_at",
    "status_changed_by_id",
    "account_id",
)


def campaigns_list_for_user(
    *, user: User, account_ids: list[int] | None = None, text_search: bool = False
) -> QuerySet[Campaign]:
    """The list page's queryset: one row per visible campaign, loading only what a row shows
    (`LIST_ROW_FIELDS`; the account's name and currency come from `list_scope_for_user`; who changed the status
    and the pending schedule come from `campaign_list_rows_extras` for the page's rows). Metric columns read the
    denormalised `Campaign.total_*` fields, never DailyMetric.

    Scoped by `account_id IN (account_ids)` (from `list_scope_for_user`; looked up when not given) rather
    than a JOIN of memberships. `status_changed_by` is looked up, not joined: the nullable LEFT OUTER JOIN
    made SQLite sort all matching rows before the LIMIT (about 300 ms at 100k campaigns, issue 9)."""
    if account_ids is None:
        account_ids = list(roles_for_user(user=user))
    campaigns = Campaign.objects.all()
    if text_search and connection.vendor == "sqlite":
        # `+account_id IN (…)`: SQLite then drives a search from the FTS index's few thousand rowids; with the
        # account index eligible its planner seeks (account, rowid) pairs, 50 accounts × every match (70 ms).
        scope = Func(F("account_id"), template="+%(expressions)s", output_field=IntegerField())
        campaigns = campaigns.alias(scope_account=scope).filter(scope_account__in=account_ids)
    else:
        campaigns = campaigns.filter(account_id__in=account_ids)
    return campaigns.only(*LIST_ROW_FIELDS)


def campaign_list_rows_extras(*, campaigns: list[Campaign]) -> None:
    """Set what a list row shows beyond its own columns on one page of campaigns, in two small queries:
    `changed_by_name` (the username of who last changed the status; None for the system) and `pending_action`
    (the pending ScheduledAction; at most one per campaign, or None). What `prefetch_related` did, for a page,
    without its per-instance machinery (1–2 ms of a 30–40 ms page, issue 9)."""
    from django.contrib.auth import get_user_model

    from .models import ScheduledAction, ScheduledState

    user_model = get_user_model()
    changers = {c.status_changed_by_id for c in campaigns if c.status_changed_by_id is not None}
    names = {}
    if changers:
        names = dict(user_model.objects.filter(pk__in=changers).values_list("pk", user_model.USERNAME_FIELD))
    pending = ScheduledAction.objects.filter(campaign_id__in=[c.pk for c in campaigns], state=ScheduledState.PENDING)
    by_campaign = {action.campaign_id: action for action in pending.only("campaign_id", "action", "run_at")}
    for campaign in campaigns:
        campaign.changed_by_name = names.get(campaign.status_changed_by_id)
        campaign.pending_action = by_campaign.get(campaign.pk)


LIST_TABS = {"active": "Active", "paused": "Paused", "ended": "Ended", "all": "All"}
LIST_TOTALS = ("spend", "video_views", "follows")  # the footer's figures
# Filters of the list form that narrow the campaigns beyond account, status and text search: with any of them set,
# the tab counts and totals need the campaigns themselves (`campaigns_list_summary`).
LIST_NARROWING = ("objective", "date_from", "date_to", "scheduled", "winddown_incomplete")


def campaign_search_q(term: str) -> Q:
    """What the list's text search matches: `term` anywhere in the name or the platform id, in any case."""
    return Q(name__icontains=term) | Q(platform_id__icontains=term)


# More CampaignListStat delta rows than this for the accounts a list page reads, and that page folds them.
LIST_STATS_COMPACT_ABOVE = 2_000


def _fold_summary(groups, tab: str) -> dict:
    tab_counts = dict.fromkeys(LIST_TABS, 0)
    totals = dict.fromkeys(LIST_TOTALS, 0)
    for group in groups:
        tab_counts["all"] += group["n"]
        if group["status"] in tab_counts:
            tab_counts[group["status"]] += group["n"]
        if tab in ("all", group["status"]):
            for m in LIST_TOTALS:
                totals[m] += group[m] or 0
    if totals["spend"]:
        totals["spend"] = Decimal(totals["spend"]).quantize(Decimal("0.01"))
    return {"tab_counts": tab_counts, "count": tab_counts.get(tab, tab_counts["all"]), "totals": totals}


def campaigns_list_summary(*, queryset: QuerySet[Campaign], tab: str) -> dict:
    """One grouped query over the filtered set (GROUP BY account, status): how many campaigns each tab holds, and the
    metric totals of the campaigns in `tab` (the rows the table pages through). Keys: `tab_counts`, `count`,
    `totals`. Used when a filter narrows the campaigns beyond account and status (objective, dates, flags; a text
    search on SQLite); `campaigns_list_summary_for_filters` picks the cheaper sources otherwise."""
    from django.db.models import Count, Sum

    groups = (
        queryset.order_by()
        .select_related(None)
        .prefetch_related(None)
        # Grouped by account too (≤ 3 rows per account, folded below): that is the order of the covering index,
        # so SQLite reads it without a sort instead of walking campaign_status_id and the table.
        .values("account_id", "status")
        .annotate(n=Count("pk"), **{m: Sum(f"total_{m}") for m in LIST_TOTALS})
    )
    return _fold_summary(groups, tab)


def campaigns_list_summary_from_stats(*, account_ids: list[int], statuses: list[str] | None, tab: str) -> dict:
    """The same summary as `campaigns_list_summary` for "these accounts, these statuses", read from
    CampaignListStat (kept by database triggers on every campaign write): a few hundred rows at most, whatever
    the number of campaigns. Folds the table's delta rows first when they have piled up."""
    from django.db.models import Count, Sum

    from .models import CampaignListStat

    rows = CampaignListStat.objects.filter(account_id__in=account_ids)
    if statuses:
        rows = rows.filter(status__in=statuses)
    groups = list(
        rows.order_by()
        .values("status")  # across the accounts: a handful of rows to decode, whatever the number of accounts
        .annotate(
            n=Sum("campaigns"),
            deltas=Count("pk"),
            spend=Sum("spend"),
            video_views=Sum("video_views"),
            follows=Sum("follows"),
        )
    )
    if sum(group["deltas"] for group in groups) > LIST_STATS_COMPACT_ABOVE:
        from .listing.stats import campaign_list_stats_compact

        campaign_list_stats_compact()
    return _fold_summary(groups, tab)


# PostgreSQL's search table (campaigns/dbsql.py, migration 0006). Raw SQL: a model over it would be dumped by
# `dumpdata` (it is derived data, and on SQLite the name is the FTS5 index). The match is `icontains`: the same
# escaped `%term%` parameter, compared upper-cased with the text the table keeps upper-cased.
_SEARCH_SUMMARY_SQL = (
    "SELECT status, COUNT(*), SUM(total_spend), SUM(total_video_views), SUM(total_follows) "
    "FROM campaigns_campaign_search WHERE account_id = ANY(%s) "
    "AND (name_upper LIKE UPPER(%s) OR platform_id_upper LIKE UPPER(%s))"
)
_SEARCH_SUMMARY_STATUSES_SQL = " AND status = ANY(%s)"


def campaigns_list_summary_from_search(
    *, account_ids: list[int], statuses: list[str] | None, term: str, tab: str
) -> dict:
    """PostgreSQL: the same summary for "these accounts, these statuses, matching `term`", counted and summed over
    the narrow search table (`campaigns_campaign_search`, kept by triggers) instead of the wide campaign rows."""
    pattern = f"%{connection.ops.prep_for_like_query(term)}%"
    sql, params = _SEARCH_SUMMARY_SQL, [list(account_ids), pattern, pattern]
    if statuses:
        sql, params = sql + _SEARCH_SUMMARY_STATUSES_SQL, [*params, list(statuses)]
    with connection.cursor() as cursor:
        cursor.execute(sql + " GROUP BY status", params)
        groups = [
            {"status": status, "n": n, "spend": spend, "video_views": views, "follows": follows}
            for status, n, spend, views, follows in cursor.fetchall()
        ]
    return _fold_summary(groups, tab)


def campaigns_list_summary_for_filters(
    *, queryset: QuerySet[Campaign], tab: str, account_ids: list[int], filters: dict
) -> dict:
    """The list's summary for a filter form's cleaned values, from the cheapest source that answers it:
    status and account only → the totals kept on write (CampaignListStat); plus a text search, on PostgreSQL →
    the narrow search table (`campaigns_campaign_search`); anything else → one grouped query over the filtered campaigns
    (`queryset`)."""
    if any(filters.get(key) not in (None, "", False) for key in LIST_NARROWING):
        return campaigns_list_summary(queryset=queryset, tab=tab)
    if account := filters.get("account"):
        account_ids = [pk for pk in account_ids if str(pk) == str(account)]
    statuses = filters.get("status") or None
    term = (filters.get("q") or "").strip()
    if not term:
        return campaigns_list_summary_from_stats(account_ids=account_ids, statuses=statuses, tab=tab)
    if connection.vendor == "postgresql":
        return campaigns_list_summary_from_search(account_ids=account_ids, statuses=statuses, term=term, tab=tab)
    return campaigns_list_summary(queryset=queryset, tab=tab)


def campaign_daily_series(*, campaign: Campaign) -> list:
    """The campaign-level daily metric rows (no per-content rows), oldest first."""
    from .models import DailyMetric

    return list(
        DailyMetric.objects.filter(campaign=campaign, content_item__isnull=True)
        .order_by("date")
        .only("date", "spend", "video_views")
    )


def campaign_pause_spans(*, history: list[StatusChange]) -> list[tuple]:
    """[(the change that paused, the change that ended that pause or None)] from the status history (any order
    in), oldest first. The one walk over pauses: the campaign page's chart bands and the close report use it."""
    from .models import Status

    spans: list[list] = []
    for change in sorted((h for h in history if h.is_transition), key=lambda h: (h.created_at, h.pk)):
        if change.to_status == Status.PAUSED:
            spans.append([change, None])
        elif change.from_status == Status.PAUSED and spans and spans[-1][1] is None:
            spans[-1][1] = change
    return [tuple(s) for s in spans]


def campaign_pause_periods(*, history: list[StatusChange], tz) -> list[tuple]:
    """[(first_day, last_day or None)] the campaign spent paused, from its status history (any order in).
    An open end (still paused) is None."""
    return [
        (start.created_at.astimezone(tz).date(), end.created_at.astimezone(tz).date() if end else None)
        for start, end in campaign_pause_spans(history=history)
    ]


def campaigns_in_month_for_user(*, user: User, first_day, last_day) -> QuerySet[Campaign]:
    """Campaigns whose start–end dates touch [first_day, last_day] (no end date: open-ended)."""
    from django.db.models import Q

    return (
        campaigns_for_user(user=user)
        .filter(start_date__lte=last_day)
        .filter(Q(end_date__isnull=True) | Q(end_date__gte=first_day))
        .select_related("account")
        .order_by("start_date", "name")
    )


def account_for_ics_token(*, token: str) -> AdAccount | None:
    import hashlib

    if not token:
        return None
    digest = hashlib.sha256(token.encode()).hexdigest()
    return AdAccount.objects.filter(ics_token_hash=digest).first()


# --- Sorting by budget remaining (issue 3) ---
from django.db import models as _models  # noqa: E402
from django.db.models import Case, Value, When  # noqa: E402
from django.db.models.functions import Greatest  # noqa: E402


class DaysBetween(_models.Func):
    """Whole days from the first date to the second (both DateFields), on SQLite and PostgreSQL."""

    output_field = _models.IntegerField()
    arity = 2

    def as_sqlite(self, compiler, connection, **extra):
        return self.as_sql(
            compiler,
            connection,
            template="CAST(julianday(%(expressions)s) AS INTEGER)",
            arg_joiner=") - julianday(",
            **extra,
        )

    def as_postgresql(self, compiler, connection, **extra):
        # date - date is an integer number of days in PostgreSQL.
        return self.as_sql(compiler, connection, template="(%(expressions)s)", arg_joiner=" - ", **extra)


def budget_remaining_expression():
    """The same figure as `Campaign.budget_remaining`, in SQL (for sorting the list by it): the lifetime budget,
    or daily budget × planned days, minus spend so far, never below zero; NULL when a daily campaign has no
    end date."""
    money = _models.DecimalField(max_digits=16, decimal_places=2)

    def left(planned):
        return Greatest(planned - F("total_spend"), Value(0), output_field=money)

    # Explicit cases, not GREATEST(NULL, 0): PostgreSQL's GREATEST skips NULLs, SQLite's returns NULL.
    return Case(
        When(budget_mode="lifetime", then=left(F("budget_amount"))),
        When(
            end_date__isnull=False,
            then=left(F("budget_amount") * (DaysBetween(F("end_date"), F("start_date")) + 1)),
        ),
        default=Value(None),
        output_field=money,
    )
