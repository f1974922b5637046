"""What the list's text search matches, and how each database finds it fast (issue 9).

The match is one rule on every database: the term anywhere in the name or the platform id, in any case
(`campaign_search_q`, Django's `icontains`). How it is found differs: SQLite asks its FTS5 trigram index
(listing/sql.py, migration 0003) for terms of three characters or more; PostgreSQL asks the narrow search table
(migration 0006: names and platform ids kept upper-cased by triggers, with pg_trgm indexes) with the `UPPER(…) LIKE`
that `icontains` compiles to, so the wide campaign table carries no trigram index to update on every write
(migration 0010). The search's counts and totals are in listing/summary.py, from the same table."""

from django.db import connection
from django.db.models import F, Func, IntegerField, Q, QuerySet
from django.db.models.expressions import RawSQL

# The FTS5 index's rowids are the campaigns' ids (an external-content table over campaigns_campaign).
SEARCH_MATCH_SQL = "SELECT rowid FROM campaigns_campaign_search WHERE campaigns_campaign_search MATCH %s"
# PostgreSQL's search table; the pattern is `icontains`'s escaped "%term%", compared upper-cased.
SEARCH_LIKE_SQL = (
    "SELECT id FROM campaigns_campaign_search WHERE name_upper LIKE UPPER(%s) OR platform_id_upper LIKE UPPER(%s)"
)


def search_like_pattern(term: str) -> str:
    """`term` as `icontains` matches it on PostgreSQL: its LIKE wildcards and backslash escaped, inside "%…%"."""
    return f"%{connection.ops.prep_for_like_query(term)}%"


FTS_TRIGRAM = 3  # the trigram tokenizer indexes no shorter term: those scan


def search_fts_phrase(term: str) -> str:
    """SQLite: `term` as an FTS5 phrase query (its own double quotes doubled): one string to find, never FTS5
    syntax."""
    return '"' + term.replace('"', '""') + '"'


def sqlite_search_streams(term: str) -> bool:
    """Whether a search for `term` (stripped) can be read from SQLite's FTS5 index as it streams."""
    return connection.vendor == "sqlite" and len(term) >= FTS_TRIGRAM


def campaign_search_q(term: str) -> Q:
    """What the list's text search matches: `term` anywhere in the name or the platform id, in any case."""
    return Q(name__icontains=term) | Q(platform_id__icontains=term)


def campaigns_matching(queryset: QuerySet, term: str) -> QuerySet:
    """`queryset` narrowed to the campaigns `campaign_search_q(term)` matches (`term` already stripped, not empty),
    by the fastest path this database has."""
    if sqlite_search_streams(term):
        # The same substring match as icontains, from the index instead of a LIKE over every row (a phrase query).
        # A constant statement; the term is a bound parameter.
        return queryset.filter(pk__in=RawSQL(SEARCH_MATCH_SQL, [search_fts_phrase(term)]))  # noqa: S611  # nosec B611
    if connection.vendor == "postgresql":
        pattern = search_like_pattern(term)
        # A constant statement; the pattern is a bound parameter.
        return queryset.filter(pk__in=RawSQL(SEARCH_LIKE_SQL, [pattern, pattern]))  # noqa: S611  # nosec B611
    return queryset.filter(campaign_search_q(term))


def campaigns_in_accounts(queryset: QuerySet, account_ids: list[int], *, text_search: bool) -> QuerySet:
    """`queryset` scoped to `account_ids`, written so that the database plans a text search (if one follows) well."""
    if text_search and connection.vendor == "sqlite":
        # `+account_id IN (…)`: SQLite then drives a search from the FTS index's few thousand rowids; with the
        # account index eligible its planner seeks (account, rowid) pairs, 50 accounts × every match (70 ms).
        scope = Func(F("account_id"), template="+%(expressions)s", output_field=IntegerField())
        return queryset.alias(scope_account=scope).filter(scope_account__in=account_ids)
    return queryset.filter(account_id__in=account_ids)


# SQLite: one page of a search's matches in the list's default order (newest first), from the FTS5 index's rowids
# as it streams them in descending order, each joined to its campaign (CROSS JOIN keeps the FTS table first), so
# that LIMIT and OFFSET stop the index too. `id IN (SELECT rowid … MATCH …)` builds the list of every match before
# the first row: at 1,000,000 campaigns, 50,000 rowids for "glow", ten times its cost at 100,000 (issue 19).
# The account scope as `+account_id`, as in `campaigns_in_accounts`.
# The matches as they stream, each joined to its campaign `c` (also the summary's source, listing/summary.py).
SQLITE_SEARCH_STREAM_SQL = (
    "FROM campaigns_campaign_search AS s CROSS JOIN campaigns_campaign AS c ON c.id = s.rowid "
    "WHERE s.campaigns_campaign_search MATCH %s AND +c.account_id IN ({accounts})"
)
SQLITE_SEARCH_STATUSES_SQL = " AND c.status IN ({statuses})"
SQLITE_SEARCH_PAGE_SQL = (
    "SELECT c.id " + SQLITE_SEARCH_STREAM_SQL + "{statuses} ORDER BY s.rowid DESC LIMIT %s OFFSET %s"
)


def sqlite_search_page_ids(
    *, term: str, account_ids: list[int], statuses: list[str] | None, offset: int, limit: int
) -> RawSQL:
    """SQLite: the ids of the campaigns in `account_ids` (and `statuses`) matching `term`, newest first, rows
    [offset, offset + limit): a subquery for `pk__in`. `account_ids` not empty; `term` streams
    (`sqlite_search_streams`)."""
    accounts = ", ".join(["%s"] * len(account_ids))
    where_statuses = ""
    params = [search_fts_phrase(term), *account_ids]
    if statuses:
        where_statuses = SQLITE_SEARCH_STATUSES_SQL.format(statuses=", ".join(["%s"] * len(statuses)))
        params += list(statuses)
    sql = SQLITE_SEARCH_PAGE_SQL.format(accounts=accounts, statuses=where_statuses)
    # Built from constants and placeholders; the term, ids, statuses and bounds are bound parameters.
    return RawSQL(sql, [*params, limit, offset])  # noqa: S611  # nosec B611
