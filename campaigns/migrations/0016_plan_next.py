from django.db import migrations, models
from django.db.models import deletion

from campaigns.migrations._vendor_sql import VendorSQL

# SQLite cannot add these columns in place (a foreign key, a JSON column with its JSON_VALID check): Django
# rebuilds campaigns_campaign (a new table, the rows copied, the old one dropped), and dropping a table drops its
# triggers. These are frozen copies of the triggers migration 0003 installed (the list totals and the FTS5 search
# index, unchanged since; the same copy as migration 0009's), put back after the rebuild and, when this migration is
# unapplied, after the rebuild that undoes it. PostgreSQL alters the table in place and keeps its triggers. Never
# edit these copies: a change to the triggers is a new migration.
SQLITE_TRIGGERS = {
    "sqlite": [
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


class Migration(migrations.Migration):
    """A campaign planned from an ended one (issue 18): `planned_from` and `plan`, what was carried over."""

    dependencies = [("campaigns", "0015_search_trigger_update")]

    operations = [
        # Unapplying: the triggers come back after the rebuilds below are undone.
        VendorSQL({}, SQLITE_TRIGGERS, "SQLite: the campaign triggers, after the table rebuild is undone"),
        migrations.AddField(
            model_name="campaign",
            name="plan",
            field=models.JSONField(blank=True, default=dict),
        ),
        migrations.AddField(
            model_name="campaign",
            name="planned_from",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=deletion.SET_NULL,
                related_name="planned_next",
                to="campaigns.campaign",
            ),
        ),
        VendorSQL(SQLITE_TRIGGERS, {}, "SQLite: the campaign triggers again, after the table rebuild"),
    ]
