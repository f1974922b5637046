from django.db import migrations

INDEXES = ("campaign_name_trgm", "campaign_platform_id_trgm")


def _set_fastupdate(value: str):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        for name in INDEXES:
            schema_editor.execute(f"ALTER INDEX IF EXISTS {name} SET (fastupdate = {value})")

    return run


class Migration(migrations.Migration):
    """PostgreSQL: the list's trigram indexes without GIN's pending list. With it, every campaign UPDATE (status
    changes are not HOT: status is indexed) queued its trigrams there until the next vacuum, and after a bulk pause
    of 1,000 the planner priced the index above a parallel sequential scan: search went from ~15 ms to ~60 ms until
    autovacuum ran. Inserting into the index directly costs the writes a little and keeps search steady."""

    dependencies = [("campaigns", "0004_deep_page_index")]

    operations = [migrations.RunPython(_set_fastupdate("off"), _set_fastupdate("on"), elidable=False)]
