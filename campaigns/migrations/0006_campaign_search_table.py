from django.db import migrations

from campaigns.migrations._vendor_sql import VendorSQL

# A frozen copy of the SQL this migration ran (taken from campaigns/listing/sql.py when it was written). Never edit
# it: a change to the search table or its triggers is a new migration, with its own copy.
PG_SEARCH_TABLE_SQL = {
    'postgresql': [
        'LOCK TABLE campaigns_campaign IN SHARE MODE',
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
        'INSERT INTO campaigns_campaign_search (id, account_id, total_video_views, total_follows, status, total_spend, name_upper, platform_id_upper) SELECT id, account_id, total_video_views, total_follows, status, total_spend, UPPER(name), UPPER(platform_id) FROM campaigns_campaign',
        'CREATE INDEX campaign_search_name_trgm ON campaigns_campaign_search USING gin (name_upper gin_trgm_ops) WITH (fastupdate = off)',
        'CREATE INDEX campaign_search_platform_id_trgm ON campaigns_campaign_search USING gin (platform_id_upper gin_trgm_ops) WITH (fastupdate = off)',
        """
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
    INSERT INTO campaigns_campaign_search AS s (id, account_id, total_video_views, total_follows, status, total_spend, name_upper, platform_id_upper) SELECT id, account_id, total_video_views, total_follows, status, total_spend, UPPER(name), UPPER(platform_id) FROM new_rows ON CONFLICT (id) DO UPDATE SET account_id = EXCLUDED.account_id, total_video_views = EXCLUDED.total_video_views, total_follows = EXCLUDED.total_follows, status = EXCLUDED.status, total_spend = EXCLUDED.total_spend, name_upper = EXCLUDED.name_upper, platform_id_upper = EXCLUDED.platform_id_upper WHERE (s.account_id, s.total_video_views, s.total_follows, s.status, s.total_spend, s.name_upper, s.platform_id_upper) IS DISTINCT FROM (EXCLUDED.account_id, EXCLUDED.total_video_views, EXCLUDED.total_follows, EXCLUDED.status, EXCLUDED.total_spend, EXCLUDED.name_upper, EXCLUDED.platform_id_upper);
    RETURN NULL;
END $$""",
        """CREATE TRIGGER campaign_search_insert AFTER INSERT ON campaigns_campaign
            REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION campaign_search_apply()""",
        """CREATE TRIGGER campaign_search_delete AFTER DELETE ON campaigns_campaign
            REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION campaign_search_apply()""",
        """CREATE TRIGGER campaign_search_update AFTER UPDATE ON campaigns_campaign
            REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
            FOR EACH STATEMENT EXECUTE FUNCTION campaign_search_apply()""",
        'ANALYZE campaigns_campaign_search',
    ],
}

PG_SEARCH_TABLE_DROP = {
    'postgresql': [
        'DROP TRIGGER IF EXISTS campaign_search_insert ON campaigns_campaign',
        'DROP TRIGGER IF EXISTS campaign_search_delete ON campaigns_campaign',
        'DROP TRIGGER IF EXISTS campaign_search_update ON campaigns_campaign',
        'DROP FUNCTION IF EXISTS campaign_search_apply()',
        'DROP TABLE IF EXISTS campaigns_campaign_search',
    ],
}


class Migration(migrations.Migration):
    """PostgreSQL: the narrow search table the list counts and sums a text search over (campaigns_campaign_search),
    its trigram indexes and the triggers that keep it in step. SQLite: nothing (its FTS5 index is migration 0003).
    No model: it is derived data, read by raw SQL (`campaigns.listing.summary.campaigns_list_summary_from_search`)."""

    dependencies = [("campaigns", "0005_trigram_fastupdate_off")]

    operations = [
        VendorSQL(PG_SEARCH_TABLE_SQL, PG_SEARCH_TABLE_DROP, "PostgreSQL: narrow search table, its trigram indexes and triggers"),
    ]
