"""The list totals kept on write. Database triggers append a signed delta row to CampaignListStat for every campaign
insert, delete or change of account, status or totals (listing/sql.py). These keep that table small and, after a
bulk reset, right. Writes: called from the `list_stats_compact` task, the rebuild hooks (listing/hooks.py), the
`list_stats_compact` command and the bench loader, never from a page."""

from django.db import connections, transaction

from ..models import CampaignListStat
from . import sql

# More delta rows than this beyond one per (account, status), and the task folds them. Fewer are not worth a fold's
# write: a page sums a few hundred more rows in well under a millisecond.
LIST_STATS_COMPACT_ABOVE = 500


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


def campaign_list_stats_unfolded(*, using: str = "default") -> int:
    """How many delta rows a fold would remove: those beyond one per (account, status)."""
    rows = CampaignListStat.objects.using(using).order_by()
    return rows.count() - rows.values("account_id", "status").distinct().count()


def campaign_list_stats_compact_due(*, using: str = "default", above: int | None = None) -> dict:
    """Fold the delta rows if more than `above` (default `LIST_STATS_COMPACT_ABOVE`) would go. Returns
    {"unfolded": rows a fold would have removed, "rows_left": rows after the fold, or None when none was due}."""
    unfolded = campaign_list_stats_unfolded(using=using)
    due = unfolded > (LIST_STATS_COMPACT_ABOVE if above is None else above)
    return {"unfolded": unfolded, "rows_left": campaign_list_stats_compact(using=using) if due else None}


def campaign_list_stats_rebuild(*, using: str = "default") -> None:
    """Recompute the list totals and the search table (SQLite's FTS5 index, PostgreSQL's narrow copy) from the
    campaigns table: after `migrate`, after `flush` (whose DELETE-per-table can run the triggers after their table
    was emptied), after bulk loads and after `loaddata`."""
    _execute_atomically(sql.rebuild_sql, using)
