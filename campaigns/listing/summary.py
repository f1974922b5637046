"""The list's tab counts, row count and footer totals (issue 9), each from the cheapest source that answers the
filters. All three sources return the same figures (tests/campaigns/test_list_stats.py holds them to it):

- account and status only: the totals kept on write (`CampaignListStat`, signed deltas appended by triggers);
- plus a text search, on PostgreSQL: the narrow search table (`campaigns_campaign_search`, kept by triggers);
- anything else (objective, dates, flags; a search on SQLite): one grouped query over the filtered campaigns.

Reads only: folding the deltas is the `list_stats_compact` task's job (listing/tasks.py), never a page's."""

import decimal
import logging

from django.core.exceptions import EmptyResultSet
from django.db import connection, models
from django.db.models import Count, QuerySet, Sum

from ..models import Campaign, CampaignListStat, Status
from .search import search_like_pattern

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
    }


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


def campaigns_list_summary(*, queryset: QuerySet[Campaign], tab: str) -> dict:
    """One grouped query over the filtered set (GROUP BY account, status): how many campaigns each tab holds, and the
    metric totals of the campaigns in `tab` (the rows the table pages through). Keys: `tab_counts`, `count`,
    `totals`, `account_totals` (per account, so the footer can sum per currency without another query). Used when
    a filter narrows the campaigns beyond account and status (objective, dates, flags; a text search on SQLite);
    `campaigns_list_summary_for_filters` picks the cheaper sources otherwise."""
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
        return campaigns_list_summary(queryset=campaigns, tab=tab)
    return _fold_summary(groups, tab)


# PostgreSQL's search table (listing/sql.py, migration 0006). Raw SQL: a model over it would be dumped by
# `dumpdata` (it is derived data, and on SQLite the name is the FTS5 index). The match is `icontains`: the same
# escaped `%term%` parameter, compared upper-cased with the text the table keeps upper-cased.
_SEARCH_SUMMARY_SQL = (
    "SELECT account_id, status, COUNT(*), SUM(total_spend), SUM(total_video_views), SUM(total_follows) "
    "FROM campaigns_campaign_search WHERE account_id = ANY(%s) "
    "AND (name_upper LIKE UPPER(%s) OR platform_id_upper LIKE UPPER(%s))"
)
_SEARCH_SUMMARY_STATUSES_SQL = " AND status = ANY(%s)"


def campaigns_list_summary_from_search(
    *, account_ids: list[int], statuses: list[str] | None, term: str, tab: str
) -> dict:
    """PostgreSQL: the same summary for "these accounts, these statuses, matching `term`", counted and summed over
    the narrow search table (`campaigns_campaign_search`, kept by triggers) instead of the wide campaign rows."""
    pattern = search_like_pattern(term)
    sql, params = _SEARCH_SUMMARY_SQL, [list(account_ids), pattern, pattern]
    if statuses:
        sql, params = sql + _SEARCH_SUMMARY_STATUSES_SQL, [*params, list(statuses)]
    with connection.cursor() as cursor:
        cursor.execute(sql + " GROUP BY account_id, status", params)
        groups = [_group(*row) for row in cursor.fetchall()]
    return _fold_summary(groups, tab)


def campaigns_list_summary_for_filters(
    *, queryset: QuerySet[Campaign], tab: str, account_ids: list[int], filters: dict
) -> dict:
    """The list's summary for a filter form's cleaned values, from the cheapest source that answers it:
    status and account only → the totals kept on write (CampaignListStat); plus a text search, on PostgreSQL →
    the narrow search table (`campaigns_campaign_search`); anything else → one grouped query over the filtered
    campaigns (`queryset`)."""
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
