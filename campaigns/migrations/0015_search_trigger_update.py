from django.db import migrations

from campaigns.migrations._vendor_sql import VendorSQL

# A frozen copy of the SQL this migration ran (campaigns/listing/sql.py, PG_SEARCH_FUNCTION_V2_SQL and _DROP, when
# it was written). Never edit it: a later change is a new migration with its own copy.
FORWARDS = {
    "postgresql": [
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
        UPDATE campaigns_campaign_search s SET account_id = n.account_id, total_video_views = n.total_video_views, total_follows = n.total_follows, status = n.status, total_spend = n.total_spend, name_upper = UPPER(n.name), platform_id_upper = UPPER(n.platform_id) FROM new_rows n WHERE s.id = n.id AND (s.account_id, s.total_video_views, s.total_follows, s.status, s.total_spend, s.name_upper, s.platform_id_upper) IS DISTINCT FROM (n.account_id, n.total_video_views, n.total_follows, n.status, n.total_spend, UPPER(n.name), UPPER(n.platform_id));
        INSERT INTO campaigns_campaign_search AS s (id, account_id, total_video_views, total_follows, status, total_spend, name_upper, platform_id_upper) SELECT id, account_id, total_video_views, total_follows, status, total_spend, UPPER(name), UPPER(platform_id) FROM new_rows WHERE NOT EXISTS (SELECT 1 FROM campaigns_campaign_search x WHERE x.id = new_rows.id) ON CONFLICT (id) DO UPDATE SET account_id = EXCLUDED.account_id, total_video_views = EXCLUDED.total_video_views, total_follows = EXCLUDED.total_follows, status = EXCLUDED.status, total_spend = EXCLUDED.total_spend, name_upper = EXCLUDED.name_upper, platform_id_upper = EXCLUDED.platform_id_upper WHERE (s.account_id, s.total_video_views, s.total_follows, s.status, s.total_spend, s.name_upper, s.platform_id_upper) IS DISTINCT FROM (EXCLUDED.account_id, EXCLUDED.total_video_views, EXCLUDED.total_follows, EXCLUDED.status, EXCLUDED.total_spend, EXCLUDED.name_upper, EXCLUDED.platform_id_upper);
        RETURN NULL;
    END IF;
    INSERT INTO campaigns_campaign_search AS s (id, account_id, total_video_views, total_follows, status, total_spend, name_upper, platform_id_upper) SELECT id, account_id, total_video_views, total_follows, status, total_spend, UPPER(name), UPPER(platform_id) FROM new_rows ON CONFLICT (id) DO UPDATE SET account_id = EXCLUDED.account_id, total_video_views = EXCLUDED.total_video_views, total_follows = EXCLUDED.total_follows, status = EXCLUDED.status, total_spend = EXCLUDED.total_spend, name_upper = EXCLUDED.name_upper, platform_id_upper = EXCLUDED.platform_id_upper WHERE (s.account_id, s.total_video_views, s.total_follows, s.status, s.total_spend, s.name_upper, s.platform_id_upper) IS DISTINCT FROM (EXCLUDED.account_id, EXCLUDED.total_video_views, EXCLUDED.total_follows, EXCLUDED.status, EXCLUDED.total_spend, EXCLUDED.name_upper, EXCLUDED.platform_id_upper);
    RETURN NULL;
END $$""",
    ]
}
BACKWARDS = {
    "postgresql": [
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
    ]
}


class Migration(migrations.Migration):
    """PostgreSQL: the search table's trigger function, version 2. An UPDATE of campaigns rewrites their search rows
    with a plain UPDATE joined on the id (and inserts only ids the table lacks) instead of an upsert for every row:
    the trigger's share of a bulk end of 1,000 went from about 120 ms to about 65 ms (issue 19)."""

    dependencies = [("campaigns", "0014_account_final_after_days")]

    operations = [VendorSQL(FORWARDS, BACKWARDS, "search table trigger function, version 2 (PostgreSQL)")]
