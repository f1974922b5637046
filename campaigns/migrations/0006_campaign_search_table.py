from django.db import migrations

from campaigns.dbsql import PG_SEARCH_TABLE_DROP, PG_SEARCH_TABLE_SQL, VendorSQL


class Migration(migrations.Migration):
    """PostgreSQL: the narrow search table the list counts and sums a text search over (campaigns_campaign_search),
    its trigram indexes and the triggers that keep it in step. SQLite: nothing (its FTS5 index is migration 0003).
    No model: it is derived data, read by raw SQL (`selectors.campaigns_list_summary_from_search`)."""

    dependencies = [("campaigns", "0005_trigram_fastupdate_off")]

    operations = [
        VendorSQL(PG_SEARCH_TABLE_SQL, PG_SEARCH_TABLE_DROP, "PostgreSQL: narrow search table, its trigram indexes and triggers"),
    ]
