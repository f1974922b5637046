"""SQL the ORM does not model, per database vendor (issue 9): the triggers that keep the list's per-(account,
status) totals (`CampaignListStat`) in step with campaigns_campaign, and SQLite's FTS5 trigram index for the list's
text search (PostgreSQL uses the pg_trgm indexes of migration 0002).

Migration 0003 installs these; changing a trigger here needs a new migration. `rebuild_sql` is what
`services.campaign_list_stats_rebuild` runs (after `migrate` and `flush`, and from the bench loader)."""

SEARCH = "campaigns_campaign_search"  # SQLite only

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


def rebuild_sql(vendor: str) -> list[str]:
    """Statements that recompute the totals from campaigns_campaign (and SQLite's search index) from scratch."""
    if vendor == "postgresql":
        # One statement, one snapshot: a writer committing mid-rebuild is counted exactly once.
        return [_REBUILD_PG]
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
