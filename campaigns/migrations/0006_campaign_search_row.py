from django.db import migrations, models

from campaigns.dbsql import PG_SEARCH_TABLE_DROP, PG_SEARCH_TABLE_SQL, VendorSQL


class Migration(migrations.Migration):
    """PostgreSQL: the narrow search table the list counts and sums a text search over (CampaignSearchRow), its
    trigram indexes and the triggers that keep it in step. SQLite: nothing (its FTS5 index is migration 0003)."""

    dependencies = [("campaigns", "0005_trigram_fastupdate_off")]

    operations = [
        migrations.CreateModel(
            name="CampaignSearchRow",
            fields=[
                ("id", models.BigIntegerField(primary_key=True, serialize=False)),
                ("account_id", models.BigIntegerField()),
                ("total_video_views", models.BigIntegerField()),
                ("total_follows", models.BigIntegerField()),
                ("status", models.CharField(max_length=10)),
                ("total_spend", models.DecimalField(decimal_places=2, max_digits=14)),
                ("name_upper", models.TextField()),
                ("platform_id_upper", models.TextField()),
            ],
            options={"db_table": "campaigns_campaign_search", "managed": False},
        ),
        VendorSQL(
            PG_SEARCH_TABLE_SQL,
            PG_SEARCH_TABLE_DROP,
            "PostgreSQL: narrow search table, its trigram indexes and triggers",
        ),
    ]
