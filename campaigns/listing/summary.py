"""The list's tab counts, row count and footer totals (issue 9), each from the cheapest source that answers the
filters. All three sources return the same figures (tests/campaigns/test_list_stats.py holds them to it):

- account and status only: the totals kept on write (`CampaignListStat`, signed deltas appended by triggers);
- plus a text search: the search table (PostgreSQL: the narrow copy `campaigns_campaign_search`, kept by triggers;
  SQLite: the campaigns joined to the FTS5 matches, for terms of three characters or more);
- anything else (objective, dates, flags; a shorter term on SQLite): one grouped query over the filtered campaigns.

The last two are bounded (issue 19): they read at most `LIST_COUNT_BOUND` + 1 matching campaigns (a LIMIT inside
the grouped query), so a search matching 50,000 costs what one matching 10,001 does. Up to the bound every figure
is exact; past it the summary says which counts are lower bounds (`capped`: "10,000+") and gives no totals for a
tab it could not count whole (`totals_known` False): the page says so and asks to narrow the search.

Reads only: folding the deltas is the `list_stats_compact` task's job (listing/tasks.py), never a page's."""

import decimal
import logging
import math

from django.core.exceptions import EmptyResultSet
from django.db import connection, models
from django.db.models import QuerySet

from ..models import Campaign, CampaignListStat, Status
from .search import (
    FTS_TRIGRAM,
    SQLITE_SEARCH_STATUSES_SQL,
    SQLITE_SEARCH_STREAM_SQL,
    campaigns_matching,
    search_fts_phrase,
    search_like_pattern,
    sqlite_search_streams,
)

logger = logging.getLogger(__name__)


def list_tabs(statuses: type[models.TextChoices] = Status) -> dict[str, str]:
    """The list's tabs, in order: one per status (key: its value, label: its label), then "all"."""
    return {status.value: status.label for status in statuses} | {"all": "All"}


LIST_TABS = list_tabs()
LIST_TOTALS = ("spend", "video_views", "follows")  # the footer's figures
# Filters of the list form that narrow the campaigns beyond account, status and text search: with any of them set,
# the tab counts and totals need the campaigns themselves (`campaigns_list_summary`).
LIST_NARROWING = ("objective", "date_from", "date_to", "scheduled", "winddown_incomplete")

# The most CampaignListStat delta rows a page sums. The task keeps them to a few per key; if it has not run for a
# long while (no worker), past this the page counts the campaigns instead, so its cost stays bounded by the number
# of campaigns, never by how many writes wait to be folded. Measured at 100,000 campaigns: the grouped query over
# them takes ~28 ms on SQLite and ~80 ms on PostgreSQL; summing 50,000 deltas ~50 ms and ~30 ms.
LIST_STATS_READ_AT_MOST = 50_000

# A text search or a narrowing filter is counted up to this many matching campaigns (issue 19). Past it the tabs show
# "10,000+", the footer no totals, and the pages reach the first LIST_COUNT_BOUND rows. At 1,000,000 campaigns a
# search for "glow" matches 50,000: their exact grouped query took 200–275 ms of a 300–350 ms page.
LIST_COUNT_BOUND = 10_000

# SQLite sums decimals as floats and keeps 15 significant digits: Django's own converter reads them so.
_SQLITE_DIGITS = decimal.Context(prec=15)


def _group(account_id, status, n, spend, video_views, follows, deltas=None) -> dict:
    """One (account, status, figures) row of a raw summary query, typed as the ORM's grouped query types it."""
    if isinstance(spend, float):
        spend = _SQLITE_DIGITS.create_decimal_from_float(spend)
    return {
        "account_id": account_id,
        "status": status,
        "n": int(n or 0),
        "deltas": deltas,
        "spend": spend,
        "video_views": int(video_views or 0),
        "follows": int(follows or 0),
    }


def _fold_summary(groups, tab: str) -> dict:
    """Tab counts, the row count and the totals of `tab`: over everything (`totals`) and per account
    (`account_totals`, {account_id: {"n", *LIST_TOTALS}}), which the footer folds into one row per currency."""
    tab_counts = dict.fromkeys(LIST_TABS, 0)
    totals = dict.fromkeys(LIST_TOTALS, 0)
    account_totals: dict[int, dict] = {}
    for group in groups:
        tab_counts["all"] += group["n"]
        if group["status"] in tab_counts:
            tab_counts[group["status"]] += group["n"]
        if tab in ("all", group["status"]):
            mine = account_totals.setdefault(group["account_id"], {"n": 0, **dict.fromkeys(LIST_TOTALS, 0)})
            mine["n"] += group["n"]
            for m in LIST_TOTALS:
                totals[m] += group[m] or 0
                mine[m] += group[m] or 0
    if totals["spend"]:
        totals["spend"] = _cents(totals["spend"])
    for mine in account_totals.values():
        mine["spend"] = _cents(mine["spend"])
    return {
        "tab_counts": tab_counts,
        "count": tab_counts.get(tab, tab_counts["all"]),
        "totals": totals,
        "account_totals": account_totals,
        "capped": [],  # the tabs whose count is a lower bound ("10,000+"); none when counted whole
        "totals_known": True,  # False: `tab` has more campaigns than the bound, and no totals were summed
    }


def _fold_bounded(groups, tab: str, bound: float) -> dict:
    """The summary from the grouped rows of a bounded read (at most `bound` + 1 of the matching campaigns). Within
    the bound they are every match, and the figures are exact, as `_fold_summary`'s. Past it every count is a
    lower bound (`capped`): "all" counts `bound` ("10,000+"), a status counts the campaigns of that status the
    read met ("3,412+"), and no totals are summed (`totals_known` False). The current tab's count is then what
    the pages reach: its first rows, never a page that may not exist."""
    folded = _fold_summary(groups, tab)
    if folded["tab_counts"]["all"] <= bound:
        return folded
    folded["tab_counts"]["all"] = bound
    folded["count"] = folded["tab_counts"].get(tab, bound)
    folded["totals"] = dict.fromkeys(LIST_TOTALS, 0)
    folded["account_totals"] = {}
    folded["capped"] = list(LIST_TABS)
    folded["totals_known"] = False
    return folded


def _cents(amount) -> decimal.Decimal:
    return decimal.Decimal(amount or 0).quantize(decimal.Decimal("0.01"))


def totals_by_currency(account_totals: dict[int, dict], currency_of: dict[int, str]) -> list[tuple[str, dict]]:
    """[(currency, {"n", *LIST_TOTALS})] by currency code: the per-account totals of a summary added up per
    currency, never across currencies. Accounts with no campaigns in the tab are left out; an account missing
    from `currency_of` counts under "" (unknown)."""
    by_currency: dict[str, dict] = {}
    for account_id, figures in account_totals.items():
        mine = by_currency.setdefault(currency_of.get(account_id, ""), {"n": 0, **dict.fromkeys(LIST_TOTALS, 0)})
        for key, value in figures.items():
            mine[key] += value
    return sorted((currency, figures) for currency, figures in by_currency.items() if figures["n"])


# The matching campaigns' account, status and totals, at most `bound` + 1 of them (the inner LIMIT), grouped per
# account and status. Raw SQL around the ORM's own query (the ORM cannot group over a sliced one).
_BOUNDED_SQL = (
    "SELECT account_id, status, COUNT(*), SUM(total_spend), SUM(total_video_views), SUM(total_follows) "
    "FROM ({matches}) AS matches GROUP BY account_id, status"
)


def _bounded_groups(matches: str, params) -> list[dict]:
    with connection.cursor() as cursor:
        # The ORM's compiled query or this module's constant, parameters bound; the wrapper is a constant.
        cursor.execute(_BOUNDED_SQL.format(matches=matches), params)
        return [_group(*row) for row in cursor.fetchall()]


def campaigns_list_summary(
    *, queryset: QuerySet[Campaign], tab: str, bound: int | None = None, exact: bool = False
) -> dict:
    """One grouped query over the filtered set (GROUP BY account, status): how many campaigns each tab holds, and the
    metric totals of the campaigns in `tab` (the rows the table pages through). Keys: `tab_counts`, `count`,
    `totals`, `account_totals` (per account, so the footer can sum per currency without another query), `capped`
    and `totals_known` (`_fold_bounded`). Reads at most `bound` (default `LIST_COUNT_BOUND`) + 1 campaigns; with
    `exact`, every campaign (the fallback of `campaigns_list_summary_from_stats`, whose figures are always exact).
    Used when a filter narrows the campaigns beyond account and status (objective, dates, flags; a text search on
    SQLite); `campaigns_list_summary_for_filters` picks the cheaper sources otherwise."""
    bound = math.inf if exact else LIST_COUNT_BOUND if bound is None else bound
    rows = (
        queryset.order_by()
        .select_related(None)
        .prefetch_related(None)
        .values("account_id", "status", *(f"total_{m}" for m in LIST_TOTALS))
    )
    try:
        matches, params = (rows if exact else rows[: bound + 1]).query.sql_with_params()
    except EmptyResultSet:  # no account: nothing to read
        return _fold_summary([], tab)
    return _fold_bounded(_bounded_groups(matches, params), tab, bound)


# At most LIST_STATS_READ_AT_MOST + 1 delta rows (the inner query's LIMIT), summed per account and status (per
# account so the footer can add up each currency apart): at most three rows per account to decode. Raw SQL around
# the ORM's own query, because the ORM cannot group over a sliced one; skipping the ORM's row machinery also makes
# the usual read (a few hundred folded rows) cheaper than the ORM's grouped query was: ~0.45 ms instead of ~0.7 ms
# on SQLite.
_STATS_SUM_SQL = (
    "SELECT account_id, status, SUM(campaigns), SUM(spend), SUM(video_views), SUM(follows), COUNT(*) "
    "FROM ({deltas}) AS deltas GROUP BY account_id, status"
)


def campaigns_list_summary_from_stats(*, account_ids: list[int], statuses: list[str] | None, tab: str) -> dict:
    """The same summary as `campaigns_list_summary` for "these accounts, these statuses", read from
    CampaignListStat (kept by database triggers on every campaign write): a few hundred rows at most once the
    task has folded them, whatever the number of campaigns. Never writes: unfolded deltas are summed; past
    `LIST_STATS_READ_AT_MOST` of them it stops reading and counts the campaigns instead (one more query)."""
    rows = CampaignListStat.objects.filter(account_id__in=account_ids)
    if statuses:
        rows = rows.filter(status__in=statuses)
    deltas = rows.order_by().values("account_id", "status", "campaigns", "spend", "video_views", "follows")
    try:
        sql, params = deltas[: LIST_STATS_READ_AT_MOST + 1].query.sql_with_params()
    except EmptyResultSet:  # no account: nothing to read
        return _fold_summary([], tab)
    with connection.cursor() as cursor:
        # The ORM's compiled query, parameters bound; the wrapper is a constant.
        cursor.execute(_STATS_SUM_SQL.format(deltas=sql), params)
        groups = [_group(*row) for row in cursor.fetchall()]
    if sum(group["deltas"] for group in groups) > LIST_STATS_READ_AT_MOST:
        logger.warning(
            "More than %s list total deltas to sum: is the list_stats_compact task running? Counting campaigns.",
            LIST_STATS_READ_AT_MOST,
        )
        campaigns = Campaign.objects.filter(account_id__in=account_ids)
        if statuses:
            campaigns = campaigns.filter(status__in=statuses)
        return campaigns_list_summary(queryset=campaigns, tab=tab, exact=True)
    return _fold_summary(groups, tab)


# PostgreSQL's search table (listing/sql.py, migration 0006). Raw SQL: a model over it would be dumped by
# `dumpdata` (it is derived data, and on SQLite the name is the FTS5 index). The match is `icontains`: the same
# escaped `%term%` parameter, compared upper-cased with the text the table keeps upper-cased.
_SEARCH_MATCHES_SQL = (
    "SELECT account_id, status, total_spend, total_video_views, total_follows "
    "FROM campaigns_campaign_search WHERE account_id = ANY(%s) "
    "AND (name_upper LIKE UPPER(%s) OR platform_id_upper LIKE UPPER(%s))"
)
_SEARCH_STATUSES_SQL = " AND status = ANY(%s)"


def campaigns_list_summary_from_search(
    *, account_ids: list[int], statuses: list[str] | None, term: str, tab: str, bound: int | None = None
) -> dict:
    """The same summary for "these accounts, these statuses, matching `term`", as bounded as
    `campaigns_list_summary`. PostgreSQL: counted and summed over the narrow search table
    (`campaigns_campaign_search`, kept by triggers) instead of the wide campaign rows. SQLite (terms of
    `FTS_TRIGRAM` characters or more): the campaigns joined to the FTS5 matches as they stream, so the LIMIT stops
    the index too."""
    bound = LIST_COUNT_BOUND if bound is None else bound
    if connection.vendor == "sqlite":
        return _sqlite_summary_from_search(account_ids=account_ids, statuses=statuses, term=term, tab=tab, bound=bound)
    pattern = search_like_pattern(term)
    sql, params = _SEARCH_MATCHES_SQL, [list(account_ids), pattern, pattern]
    if statuses:
        sql, params = sql + _SEARCH_STATUSES_SQL, [*params, list(statuses)]
    return _fold_bounded(_bounded_groups(sql + " LIMIT %s", [*params, bound + 1]), tab, bound)


# SQLite: the FTS5 matches joined to their campaigns in the index's order (CROSS JOIN keeps the FTS table first),
# so the LIMIT stops both: `id IN (SELECT rowid … MATCH …)` builds the list of every match before the first row
# (at 1,000,000 campaigns, 50,000 rowids: ~20 ms of a ~63 ms query). The account scope as `+account_id`, as in
# listing/search.py, so that the planner never drives from the account index.
_SQLITE_SEARCH_MATCHES_SQL = (
    "SELECT c.account_id AS account_id, c.status AS status, c.total_spend AS total_spend, "
    "c.total_video_views AS total_video_views, c.total_follows AS total_follows " + SQLITE_SEARCH_STREAM_SQL
)


def _sqlite_summary_from_search(*, account_ids, statuses, term, tab, bound) -> dict:
    if len(term) < FTS_TRIGRAM:  # not in the index: the grouped query over the campaigns the LIKE finds
        campaigns = Campaign.objects.filter(account_id__in=account_ids)
        if statuses:
            campaigns = campaigns.filter(status__in=statuses)
        return campaigns_list_summary(queryset=campaigns_matching(campaigns, term), tab=tab, bound=bound)
    if not account_ids:
        return _fold_summary([], tab)
    accounts = ", ".join(["%s"] * len(account_ids))
    sql, params = _SQLITE_SEARCH_MATCHES_SQL.format(accounts=accounts), [search_fts_phrase(term), *account_ids]
    if statuses:
        sql += SQLITE_SEARCH_STATUSES_SQL.format(statuses=", ".join(["%s"] * len(statuses)))
        params += list(statuses)
    return _fold_bounded(_bounded_groups(sql + " LIMIT %s", [*params, bound + 1]), tab, bound)


def simple_filters(filters: dict, account_ids: list[int]) -> tuple[list[int], list[str] | None, str] | None:
    """A filter form's cleaned values as (accounts, statuses or None, stripped search term) when they narrow by
    nothing else (no `LIST_NARROWING` filter set): what the kept totals and the search sources can answer. None
    otherwise."""
    if any(filters.get(key) not in (None, "", False) for key in LIST_NARROWING):
        return None
    if account := filters.get("account"):
        account_ids = [pk for pk in account_ids if str(pk) == str(account)]
    return account_ids, list(filters.get("status") or ()) or None, (filters.get("q") or "").strip()


def campaigns_list_summary_for_filters(
    *, queryset: QuerySet[Campaign], tab: str, account_ids: list[int], filters: dict
) -> dict:
    """The list's summary for a filter form's cleaned values, from the cheapest source that answers it:
    status and account only → the totals kept on write (CampaignListStat); plus a text search → the search table
    (PostgreSQL's narrow copy; SQLite's FTS5 index, for terms of three characters or more); anything else → one
    grouped query over the filtered campaigns (`queryset`)."""
    simple = simple_filters(filters, account_ids)
    if simple is None:
        return campaigns_list_summary(queryset=queryset, tab=tab)
    account_ids, statuses, term = simple
    if not term:
        return campaigns_list_summary_from_stats(account_ids=account_ids, statuses=statuses, tab=tab)
    if connection.vendor == "postgresql" or sqlite_search_streams(term):
        return campaigns_list_summary_from_search(account_ids=account_ids, statuses=statuses, term=term, tab=tab)
    return campaigns_list_summary(queryset=queryset, tab=tab)
