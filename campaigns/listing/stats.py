"""The list totals kept on write. Database triggers append a signed delta row to CampaignListStat for every campaign
insert, delete or change of account, status or totals (listing/sql.py). These keep that table small and,
after a bulk reset, right."""

from django.db import connections, transaction

from ..models import CampaignListStat
from . import sql


def _execute_atomically(statements_for, using: str) -> None:
    """Run `statements_for(vendor)` on the `using` database, in one transaction."""

    db = connections[using]
    with transaction.atomic(using=using), db.cursor() as cursor:
        for statement in statements_for(db.vendor):
            cursor.execute(statement)


def campaign_list_stats_compact(*, using: str = "default") -> int:
    """Fold the delta rows into one row per (account, status). Safe beside concurrent writers (PostgreSQL:
    one DELETE … RETURNING statement; SQLite: one writer at a time). Returns the rows left."""
    _execute_atomically(sql.compact_sql, using)
    return CampaignListStat.objects.using(using).count()


def campaign_list_stats_rebuild(*, using: str = "default") -> None:
    """Recompute the list totals and the search table (SQLite's FTS5 index, PostgreSQL's narrow copy) from the
    campaigns table: after `migrate`, after `flush` (whose DELETE-per-table can run the triggers after their table
    was emptied), after bulk loads and after `loaddata`."""
    _execute_atomically(sql.rebuild_sql, using)
