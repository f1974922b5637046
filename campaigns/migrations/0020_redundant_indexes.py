"""Indexes every bulk END paid for and no query needed (issue 19): an END of 1,000 campaigns updates 1,000
campaign rows (not HOT: status is indexed, so every index of the table takes a new entry), writes 1,000 history
rows and 7,000 wind-down steps.

- Indexes whose columns lead another index of the table: campaign.account's own and campaign_account_status
  (both lead campaign_list_summary: account, status, total_spend, …), statuschange.campaign (statuschange_campaign_created), winddownstep.campaign (winddownstep_unique_kind).
- campaign.planned_from and winddownstep.done_by: indexed only where set (partial), as few rows are.

The fields' `db_index=False` is a state change only: on SQLite, Django would rebuild campaigns_campaign for it,
dropping the list's triggers; the database side is a plain DROP INDEX (the names are Django's, the same on both
databases)."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

DROPPED = (
    "campaigns_campaign_account_id_41a90b6a",
    "campaigns_campaign_planned_from_id_1275c3cf",
    "campaigns_statuschange_campaign_id_5d46f0cf",
    "campaigns_winddownstep_campaign_id_3c94d579",
    "campaigns_winddownstep_done_by_id_ac5d12fc",
)
RECREATED = (  # the reverse: each index as Django made it
    ("campaigns_campaign_account_id_41a90b6a", "campaigns_campaign", "account_id"),
    ("campaigns_campaign_planned_from_id_1275c3cf", "campaigns_campaign", "planned_from_id"),
    ("campaigns_statuschange_campaign_id_5d46f0cf", "campaigns_statuschange", "campaign_id"),
    ("campaigns_winddownstep_campaign_id_3c94d579", "campaigns_winddownstep", "campaign_id"),
    ("campaigns_winddownstep_done_by_id_ac5d12fc", "campaigns_winddownstep", "done_by_id"),
)


class Migration(migrations.Migration):
    dependencies = [
        ("campaigns", "0019_background_imports"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="campaign",
                    name="account",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="campaigns",
                        to="campaigns.adaccount",
                    ),
                ),
                migrations.AlterField(
                    model_name="campaign",
                    name="planned_from",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="planned_next",
                        to="campaigns.campaign",
                    ),
                ),
                migrations.AlterField(
                    model_name="statuschange",
                    name="campaign",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="history",
                        to="campaigns.campaign",
                    ),
                ),
                migrations.AlterField(
                    model_name="winddownstep",
                    name="campaign",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="winddown_steps",
                        to="campaigns.campaign",
                    ),
                ),
                migrations.AlterField(
                    model_name="winddownstep",
                    name="done_by",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    sql=[f'DROP INDEX IF EXISTS "{name}"' for name in DROPPED],
                    reverse_sql=[
                        f'CREATE INDEX "{name}" ON "{table}" ("{column}")' for name, table, column in RECREATED
                    ],
                )
            ],
        ),
        migrations.RemoveIndex(model_name="campaign", name="campaign_account_status"),
        migrations.AddIndex(
            model_name="campaign",
            index=models.Index(
                condition=models.Q(("planned_from__isnull", False)),
                fields=["planned_from"],
                name="campaign_planned_from",
            ),
        ),
        migrations.AddIndex(
            model_name="winddownstep",
            index=models.Index(
                condition=models.Q(("done_by__isnull", False)), fields=["done_by"], name="winddownstep_done_by"
            ),
        ),
    ]
