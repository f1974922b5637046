"""The daily metrics' index on campaign alone (issue 19): every import writes up to a million daily rows, each
taking an entry in all six indexes of the table, and the campaign's own index answers nothing that
dailymetric_campaign_date (campaign, date), which it leads, does not. The field's `db_index=False` is a state
change only (on SQLite Django would rebuild the table for it); the database side is a plain DROP INDEX (the name is
Django's, the same on both databases)."""

import django.db.models.deletion
from django.db import migrations, models

INDEX = "campaigns_dailymetric_campaign_id_bb61a22c"


class Migration(migrations.Migration):
    dependencies = [("campaigns", "0021_import_rows")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="dailymetric",
                    name="campaign",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="daily_metrics",
                        to="campaigns.campaign",
                    ),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    sql=[f'DROP INDEX IF EXISTS "{INDEX}"'],
                    reverse_sql=[f'CREATE INDEX "{INDEX}" ON "campaigns_dailymetric" ("campaign_id")'],
                )
            ],
        ),
    ]
