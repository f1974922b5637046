from django.db import migrations

from campaigns.migrations._vendor_sql import VendorSQL

# Frozen: the statements this migration ran (never import live code here).
FORWARDS = {
    "postgresql": [
        "DROP INDEX IF EXISTS campaign_name_trgm",
        "DROP INDEX IF EXISTS campaign_platform_id_trgm",
    ]
}
BACKWARDS = {
    "postgresql": [
        'CREATE INDEX IF NOT EXISTS campaign_name_trgm ON campaigns_campaign USING gin (UPPER("name"::text) '
        "gin_trgm_ops) WITH (fastupdate = off)",
        'CREATE INDEX IF NOT EXISTS campaign_platform_id_trgm ON campaigns_campaign USING gin (UPPER("platform_id"'
        "::text) gin_trgm_ops) WITH (fastupdate = off)",
    ]
}


class Migration(migrations.Migration):
    """PostgreSQL: the list's search finds its rows in the narrow search table (0006), whose own trigram indexes
    answer it, so the campaign table's two trigram GIN indexes go. Every campaign UPDATE that is not HOT (a status
    change, a totals refresh) inserted each trigram of the name and the platform id into them: a bulk end of 1,000
    spent about 40 % of its status UPDATE there (issue 19)."""

    dependencies = [("campaigns", "0009_validation_notify")]

    operations = [
        VendorSQL(FORWARDS, BACKWARDS, "drop the campaign table's trigram indexes (PostgreSQL; search uses 0006's)")
    ]
