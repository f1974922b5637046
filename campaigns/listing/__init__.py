"""The campaign list at scale (issue 9), behind one seam: the only app package that knows which database it runs on.

sql.py      the SQL the ORM does not model: triggers, FTS5 index, search table, rebuild and fold statements
search.py   what a text search matches, and how each database finds it
summary.py  tab counts and footer totals, from the cheapest source (LIST_TABS, LIST_TOTALS, LIST_NARROWING)
sorting.py  sort keys computed in SQL (budget remaining)
stats.py    fold and rebuild the kept totals (writes)
tasks.py    the periodic fold (no page ever writes)
hooks.py    rebuilds after migrate, flush and loaddata

Migrations never import this package: each carries a frozen copy of the SQL it ran."""
