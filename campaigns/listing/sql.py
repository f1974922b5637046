"""SQL the ORM does not model, per database vendor (issue 9): the triggers that keep the list's per-(account,
status) totals (`CampaignListStat`) in step with campaigns_campaign, and the search table of the list's text
search: SQLite's FTS5 trigram index (migration 0003), PostgreSQL's narrow copy of the campaigns with pg_trgm
indexes (migration 0006; the page rows use the pg_trgm indexes of migration 0002 on campaigns_campaign).

What the database holds today. The migrations that installed it carry their own frozen copies (a migration never
imports this module), and `tests/campaigns/test_list_stats.py` checks that the two agree: changing a trigger or the
search table here needs a new migration with its own copy. `rebuild_sql` is what `campaign_list_stats_rebuild`
(listing/stats.py) runs after `migrate`, `flush` and `loaddata`, and from the bench loader; `compact_sql` is what
`campaign_list_stats_compact` runs, from the `list_stats_compact` task (listing/tasks.py), never on a read."""

SEARCH = "campaigns_campaign_search"  # SQLite: the FTS5 index; PostgreSQL: a narrow copy (migration 0006)


# SQLite: row-level triggers, one signed delta row per change (two for an update that moves a campaign).
_SQLITE_STATS = [
    """CREATE TRIGGER campaign_list_stat_insert AFTER INSERT ON campaigns_campaign BEGIN
        INSERT INTO campaigns_campaignliststat (account_id, status, campaigns, spend, video_views, follows)
        VALUES (NEW.account_id, NEW.status, 1, NEW.total_spend, NEW.total_video_views, NEW.total_follows);
    END""",
    """CREATE TRIGGER campaign_list_stat_delete AFTER DELETE ON campaigns_campaign BEGIN
        INSERT INTO campaigns_campaignliststat (account_id, status, campaigns, spend, video_views, follows)
        VALUES (OLD.account_id, OLD.status, -1, -OLD.total_spend, -OLD.total_video_views, -OLD.total_follows);
    END""",
    """CREATE TRIGGER campaign_list_stat_update
    AFTER UPDATE OF account_id, status, total_spend, total_video_views, total_follows ON campaigns_campaign
    WHEN OLD.account_id IS NOT NEW.account_id OR OLD.status IS NOT NEW.status
      OR OLD.total_spend IS NOT NEW.total_spend OR OLD.total_video_views IS NOT NEW.total_video_views
      OR OLD.total_follows IS NOT NEW.total_follows
    BEGIN
        INSERT INTO campaigns_campaignliststat (account_id, status, campaigns, spend, video_views, follows)
        VALUES (OLD.account_id, OLD.status, -1, -OLD.total_spend, -OLD.total_video_views, -OLD.total_follows),
               (NEW.account_id, NEW.status, 1, NEW.total_spend, NEW.total_video_views, NEW.total_follows);
    END""",
]

# PostgreSQL: statement-level triggers over the transition tables, so a bulk UPDATE of 1,000 campaigns appends a
# handful of aggregated rows, not 2,000. Insert-only: no row lock is shared between writers.
_PG_FUNCTION = """
CREATE OR REPLACE FUNCTION campaign_list_stat_apply() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO campaigns_campaignliststat (account_id, status, campaigns, spend, video_views, follows)
        SELECT account_id, status, COUNT(*), SUM(total_spend), SUM(total_video_views), SUM(total_follows)
        FROM new_rows GROUP BY account_id, status;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO campaigns_campaignliststat (account_id, status, campaigns, spend, video_views, follows)
        SELECT account_id, status, -COUNT(*), -SUM(total_spend), -SUM(total_video_views), -SUM(total_follows)
        FROM old_rows GROUP BY account_id, status;
    ELSE
        INSERT INTO campaigns_campaignliststat (account_id, status, campaigns, spend, video_views, follows)
        SELECT account_id, status, SUM(n), SUM(spend), SUM(views), SUM(follows) FROM (
            SELECT account_id, status, 1 AS n, total_spend AS spend, total_video_views AS views,
                   total_follows AS follows FROM new_rows
            UNION ALL
            SELECT account_id, status, -1, -total_spend, -total_video_views, -total_follows FROM old_rows
        ) AS delta
        GROUP BY account_id, status
        HAVING SUM(n) <> 0 OR SUM(spend) <> 0 OR SUM(views) <> 0 OR SUM(follows) <> 0;
    END IF;
    RETURN NULL;
END $$"""

_PG_STATS = [
    _PG_FUNCTION,
    """CREATE TRIGGER campaign_list_stat_insert AFTER INSERT ON campaigns_campaign
        REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION campaign_list_stat_apply()""",
    """CREATE TRIGGER campaign_list_stat_delete AFTER DELETE ON campaigns_campaign
        REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION campaign_list_stat_apply()""",
    """CREATE TRIGGER campaign_list_stat_update AFTER UPDATE ON campaigns_campaign
        REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
        FOR EACH STATEMENT EXECUTE FUNCTION campaign_list_stat_apply()""",
]


_REBUILD = (
    "INSERT INTO campaigns_campaignliststat (account_id, status, campaigns, spend, video_views, follows) "
    "SELECT account_id, status, COUNT(*), SUM(total_spend), SUM(total_video_views), SUM(total_follows) "
    "FROM campaigns_campaign GROUP BY account_id, status"
)

_REBUILD_PG = (
    "WITH gone AS (DELETE FROM campaigns_campaignliststat) "
    "INSERT INTO campaigns_campaignliststat (account_id, status, campaigns, spend, video_views, follows) "
    "SELECT account_id, status, COUNT(*), SUM(total_spend), SUM(total_video_views), SUM(total_follows) "
    "FROM campaigns_campaign GROUP BY account_id, status"
)

LIST_STATS_SQL = {"sqlite": _SQLITE_STATS, "postgresql": _PG_STATS}
LIST_STATS_DROP = {
    "sqlite": [
        "DROP TRIGGER IF EXISTS campaign_list_stat_insert",
        "DROP TRIGGER IF EXISTS campaign_list_stat_delete",
        "DROP TRIGGER IF EXISTS campaign_list_stat_update",
    ],
    "postgresql": [
        "DROP TRIGGER IF EXISTS campaign_list_stat_insert ON campaigns_campaign",
        "DROP TRIGGER IF EXISTS campaign_list_stat_delete ON campaigns_campaign",
        "DROP TRIGGER IF EXISTS campaign_list_stat_update ON campaigns_campaign",
        "DROP FUNCTION IF EXISTS campaign_list_stat_apply()",
    ],
}

# SQLite: an external-content FTS5 table (it stores only the trigram index; the text stays in campaigns_campaign).
SEARCH_INDEX_SQL = {
    "sqlite": [
        """CREATE VIRTUAL TABLE IF NOT EXISTS campaigns_campaign_search USING fts5(
            name, platform_id, content='campaigns_campaign', content_rowid='id', tokenize='trigram')""",
        """CREATE TRIGGER campaign_search_insert AFTER INSERT ON campaigns_campaign BEGIN
            INSERT INTO campaigns_campaign_search (rowid, name, platform_id) VALUES (NEW.id, NEW.name, NEW.platform_id);
        END""",
        """CREATE TRIGGER campaign_search_delete AFTER DELETE ON campaigns_campaign BEGIN
            INSERT INTO campaigns_campaign_search (campaigns_campaign_search, rowid, name, platform_id)
            VALUES ('delete', OLD.id, OLD.name, OLD.platform_id);
        END""",
        """CREATE TRIGGER campaign_search_update AFTER UPDATE OF name, platform_id ON campaigns_campaign BEGIN
            INSERT INTO campaigns_campaign_search (campaigns_campaign_search, rowid, name, platform_id)
            VALUES ('delete', OLD.id, OLD.name, OLD.platform_id);
            INSERT INTO campaigns_campaign_search (rowid, name, platform_id) VALUES (NEW.id, NEW.name, NEW.platform_id);
        END""",
        "INSERT INTO campaigns_campaign_search (campaigns_campaign_search) VALUES ('rebuild')",
    ],
}
SEARCH_INDEX_DROP = {
    "sqlite": [
        "DROP TRIGGER IF EXISTS campaign_search_insert",
        "DROP TRIGGER IF EXISTS campaign_search_delete",
        "DROP TRIGGER IF EXISTS campaign_search_update",
        "DROP TABLE IF EXISTS campaigns_campaign_search",
    ],
}


# PostgreSQL: the search table, one row per campaign. It holds the searched text already upper-cased (what
# `icontains` compares), so the recheck of ~5,000 trigram candidates reads a short row and calls no UPPER().
# Statement-level triggers over the transition tables, like the totals: a bulk UPDATE of 1,000 campaigns is one
# upsert here, rewriting only rows whose searched or summed values changed. fillfactor leaves room on each page
# for HOT updates (a status change then adds no trigram index entries).
_SEARCH_COLUMNS = {  # search table column: its value from a campaign row ({p}: the row's alias and a dot, or "")
    "id": "{p}id",
    "account_id": "{p}account_id",
    "total_video_views": "{p}total_video_views",
    "total_follows": "{p}total_follows",
    "status": "{p}status",
    "total_spend": "{p}total_spend",
    "name_upper": "UPPER({p}name)",
    "platform_id_upper": "UPPER({p}platform_id)",
}
_SEARCH_TARGET = ", ".join(_SEARCH_COLUMNS)
_SEARCH_KEPT = [column for column in _SEARCH_COLUMNS if column != "id"]  # what an update may change


def _search_values(prefix: str = "", columns=_SEARCH_COLUMNS) -> str:
    return ", ".join(_SEARCH_COLUMNS[column].format(p=prefix) for column in columns)


def _search_upsert(source: str, where: str = "") -> str:
    """Copy `source`'s campaign rows into the search table, rewriting only those that differ from what it holds."""
    assignments = ", ".join(f"{column} = EXCLUDED.{column}" for column in _SEARCH_KEPT)
    kept = ", ".join(f"s.{column}" for column in _SEARCH_KEPT)
    excluded = ", ".join(f"EXCLUDED.{column}" for column in _SEARCH_KEPT)
    # Constant identifiers only: no value is interpolated.
    return (
        f"INSERT INTO campaigns_campaign_search AS s ({_SEARCH_TARGET}) "  # noqa: S608
        f"SELECT {_search_values()} FROM {source}{where} "
        f"ON CONFLICT (id) DO UPDATE SET {assignments} WHERE ({kept}) IS DISTINCT FROM ({excluded})"  # nosec B608
    )


# The SQL strings below are built from the constants above; no value is interpolated.
_PG_SEARCH_FUNCTION = f"""
CREATE OR REPLACE FUNCTION campaign_search_apply() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        DELETE FROM campaigns_campaign_search s USING old_rows o WHERE s.id = o.id;
        RETURN NULL;
    END IF;
    IF TG_OP = 'UPDATE' THEN
        -- An UPDATE that changed a campaign's id (never done by the app) moves its row: drop the old id first.
        DELETE FROM campaigns_campaign_search s USING old_rows o
        WHERE s.id = o.id AND NOT EXISTS (SELECT 1 FROM new_rows n WHERE n.id = o.id);
    END IF;
    {_search_upsert("new_rows")};
    RETURN NULL;
END $$"""  # noqa: S608  # nosec B608


def _search_update(source: str) -> str:
    """Rewrite the search rows of `source`'s campaigns that differ from them: a plain UPDATE joined on the id,
    which costs about half of the upsert's speculative insertion for rows that exist (a bulk status change)."""
    assignments = ", ".join(f"{column} = {_SEARCH_COLUMNS[column].format(p='n.')}" for column in _SEARCH_KEPT)
    kept = ", ".join(f"s.{column}" for column in _SEARCH_KEPT)
    # Constant identifiers only: no value is interpolated.
    return (
        f"UPDATE campaigns_campaign_search s SET {assignments} FROM {source} n "  # noqa: S608  # nosec B608
        f"WHERE s.id = n.id AND ({kept}) IS DISTINCT FROM ({_search_values('n.', _SEARCH_KEPT)})"
    )


_SEARCH_ROW_MISSING = " WHERE NOT EXISTS (SELECT 1 FROM campaigns_campaign_search x WHERE x.id = new_rows.id)"

# Version 2 (migration 0015): updates rewrite existing rows with an UPDATE, and insert only the ids the table lacks
# (an id change, or a row lost); inserts and deletes as before. A bulk end of 1,000: the trigger 120 → ~65 ms.
_PG_SEARCH_FUNCTION_V2 = f"""
CREATE OR REPLACE FUNCTION campaign_search_apply() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        DELETE FROM campaigns_campaign_search s USING old_rows o WHERE s.id = o.id;
        RETURN NULL;
    END IF;
    IF TG_OP = 'UPDATE' THEN
        -- An UPDATE that changed a campaign's id (never done by the app) moves its row: drop the old id first.
        DELETE FROM campaigns_campaign_search s USING old_rows o
        WHERE s.id = o.id AND NOT EXISTS (SELECT 1 FROM new_rows n WHERE n.id = o.id);
        {_search_update("new_rows")};
        {_search_upsert("new_rows", _SEARCH_ROW_MISSING)};
        RETURN NULL;
    END IF;
    {_search_upsert("new_rows")};
    RETURN NULL;
END $$"""  # noqa: S608  # nosec B608
PG_SEARCH_FUNCTION_V2_SQL = {"postgresql": [_PG_SEARCH_FUNCTION_V2]}
PG_SEARCH_FUNCTION_V2_DROP = {"postgresql": [_PG_SEARCH_FUNCTION]}  # back to version 1

_SEARCH_FILL = (
    f"INSERT INTO campaigns_campaign_search ({_SEARCH_TARGET}) SELECT {_search_values()} FROM campaigns_campaign"  # noqa: S608  # nosec B608
)
_SEARCH_INDEXES = [
    "CREATE INDEX campaign_search_name_trgm ON campaigns_campaign_search "
    "USING gin (name_upper gin_trgm_ops) WITH (fastupdate = off)",
    "CREATE INDEX campaign_search_platform_id_trgm ON campaigns_campaign_search "
    "USING gin (platform_id_upper gin_trgm_ops) WITH (fastupdate = off)",
]
# Campaigns whose search row is missing or differs from them.
_SEARCH_OUT_OF_STEP = (
    "NOT EXISTS (SELECT 1 FROM campaigns_campaign_search s WHERE s.id = c.id AND "  # noqa: S608  # nosec B608
    f"({', '.join(f's.{column}' for column in _SEARCH_KEPT)}) IS NOT DISTINCT FROM "
    f"({_search_values('c.', _SEARCH_KEPT)}))"
)

# After `migrate` (nothing or little to do) it rewrites only the rows that differ; after `flush` or a bulk load that
# bypassed the triggers (most rows differ) it empties the table and fills it before building the trigram indexes:
# 100k rows inserted one index entry at a time took ~20 s, the bulk build takes ~2 s. Writers wait (SHARE lock).
_PG_SEARCH_RECONCILE = f"""
DO $$
DECLARE
    campaigns bigint;
    out_of_step bigint;
BEGIN
    IF to_regclass('campaigns_campaign_search') IS NULL THEN
        RETURN;  -- migration 0006 not applied yet
    END IF;
    LOCK TABLE campaigns_campaign IN SHARE MODE;
    SELECT count(*) INTO campaigns FROM campaigns_campaign;
    SELECT count(*) INTO out_of_step FROM campaigns_campaign c WHERE {_SEARCH_OUT_OF_STEP};
    IF out_of_step > campaigns / 10 THEN
        TRUNCATE campaigns_campaign_search;
        DROP INDEX campaign_search_name_trgm;
        DROP INDEX campaign_search_platform_id_trgm;
        {_SEARCH_FILL};
        {"; ".join(_SEARCH_INDEXES)};
        ANALYZE campaigns_campaign_search;
    ELSE
        DELETE FROM campaigns_campaign_search s
        WHERE NOT EXISTS (SELECT 1 FROM campaigns_campaign c WHERE c.id = s.id);
        {_search_upsert("campaigns_campaign c", f" WHERE {_SEARCH_OUT_OF_STEP}")};
    END IF;
END $$"""  # noqa: S608  # nosec B608

PG_SEARCH_TABLE_SQL = {
    "postgresql": [
        # Writers wait until the triggers are in place (the migration's transaction), so none is missed.
        "LOCK TABLE campaigns_campaign IN SHARE MODE",
        """CREATE TABLE campaigns_campaign_search (
            id bigint PRIMARY KEY,
            account_id bigint NOT NULL,
            total_video_views bigint NOT NULL,
            total_follows bigint NOT NULL,
            status varchar(10) NOT NULL,
            total_spend numeric(14, 2) NOT NULL,
            name_upper text NOT NULL,
            platform_id_upper text NOT NULL
        ) WITH (fillfactor = 85)""",
        _SEARCH_FILL,  # before its indexes are built: one bulk build instead of 100k index insertions
        *_SEARCH_INDEXES,
        _PG_SEARCH_FUNCTION,
        """CREATE TRIGGER campaign_search_insert AFTER INSERT ON campaigns_campaign
            REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION campaign_search_apply()""",
        """CREATE TRIGGER campaign_search_delete AFTER DELETE ON campaigns_campaign
            REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION campaign_search_apply()""",
        """CREATE TRIGGER campaign_search_update AFTER UPDATE ON campaigns_campaign
            REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
            FOR EACH STATEMENT EXECUTE FUNCTION campaign_search_apply()""",
        "ANALYZE campaigns_campaign_search",
    ],
}
PG_SEARCH_TABLE_DROP = {
    "postgresql": [
        "DROP TRIGGER IF EXISTS campaign_search_insert ON campaigns_campaign",
        "DROP TRIGGER IF EXISTS campaign_search_delete ON campaigns_campaign",
        "DROP TRIGGER IF EXISTS campaign_search_update ON campaigns_campaign",
        "DROP FUNCTION IF EXISTS campaign_search_apply()",
        "DROP TABLE IF EXISTS campaigns_campaign_search",
    ],
}


def rebuild_sql(vendor: str) -> list[str]:
    """Statements that recompute the totals and the search table or index from campaigns_campaign."""
    if vendor == "postgresql":
        # The totals: one statement, one snapshot, so a writer committing mid-rebuild is counted exactly once.
        return [_PG_SEARCH_RECONCILE, _REBUILD_PG]
    if vendor == "sqlite":
        # SQLite runs one writer at a time: inside a transaction these two are atomic.
        return [
            "DELETE FROM campaigns_campaignliststat",
            _REBUILD,
            "INSERT INTO campaigns_campaign_search (campaigns_campaign_search) VALUES ('rebuild')",
        ]
    return []


def compact_sql(vendor: str) -> list[str]:
    """Fold the delta rows into one row per (account, status), dropping keys that sum to nothing."""
    if vendor == "postgresql":
        # DELETE … RETURNING removes only rows this snapshot sees; rows a concurrent writer appends stay.
        return [
            "WITH moved AS (DELETE FROM campaigns_campaignliststat "
            "RETURNING account_id, status, campaigns, spend, video_views, follows) "
            "INSERT INTO campaigns_campaignliststat (account_id, status, campaigns, spend, video_views, follows) "
            "SELECT account_id, status, SUM(campaigns), SUM(spend), SUM(video_views), SUM(follows) FROM moved "
            "GROUP BY account_id, status "
            "HAVING SUM(campaigns) <> 0 OR SUM(spend) <> 0 OR SUM(video_views) <> 0 OR SUM(follows) <> 0"
        ]
    if vendor == "sqlite":
        # Inside the caller's transaction (BEGIN IMMEDIATE: this connection is the only writer).
        return [
            "CREATE TEMP TABLE IF NOT EXISTS list_stat_fold (account_id INTEGER, status TEXT, campaigns INTEGER, "
            "spend DECIMAL, video_views INTEGER, follows INTEGER)",
            "DELETE FROM temp.list_stat_fold",
            "INSERT INTO temp.list_stat_fold "
            "SELECT account_id, status, SUM(campaigns), SUM(spend), SUM(video_views), SUM(follows) "
            "FROM campaigns_campaignliststat GROUP BY account_id, status "
            "HAVING SUM(campaigns) <> 0 OR SUM(spend) <> 0 OR SUM(video_views) <> 0 OR SUM(follows) <> 0",
            "DELETE FROM campaigns_campaignliststat",
            "INSERT INTO campaigns_campaignliststat (account_id, status, campaigns, spend, video_views, follows) "
            "SELECT account_id, status, campaigns, spend, video_views, follows FROM temp.list_stat_fold",
            "DELETE FROM temp.list_stat_fold",
        ]
    return []
