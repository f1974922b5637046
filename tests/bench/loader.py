"""Bulk loading for the benchmark generator: a raw `executemany` / `COPY` writer, secondary indexes dropped
during a load, id and sequence bookkeeping, fresh planner statistics, and a set-based delete of a row tree.
Only for a dedicated benchmark database: it bypasses the ORM (and `campaigns.services`) on purpose."""

import contextlib
import itertools
import json
from collections.abc import Iterable, Sequence

from django.core.management.color import no_style
from django.db import models
from django.utils import timezone

from campaigns.models import AdAccount, Campaign, ContentItem, DailyMetric, Membership, StatusChange


class Loader:
    """Bulk writer: `executemany` on the raw sqlite3 connection, `COPY … FROM STDIN` on PostgreSQL.

    Columns not given are filled with the model field's default (auto_now fields with now), so the generator
    keeps working when a field with a default is added to a model."""

    def __init__(self, conn, *, relax_triggers: bool):
        self.conn, self.relax_triggers = conn, relax_triggers
        self.vendor = conn.vendor
        now = timezone.now().replace(microsecond=0)
        self.now = now.strftime("%Y-%m-%d %H:%M:%S") + ("" if self.vendor == "sqlite" else "+00")

    def __enter__(self):
        self.conn.ensure_connection()
        self.raw = self.conn.connection
        self.cursor = self.raw.cursor()
        if self.vendor == "sqlite":
            # A big page cache (this connection only) keeps the B-trees being appended to in memory.
            self.cursor.execute("PRAGMA cache_size = -1000000")
        if self.vendor == "postgresql" and self.relax_triggers:
            # Django's foreign keys are deferred: every COPYed row would queue a check for commit time. The
            # generator's ids are consistent by construction, so a superuser skips those triggers for this
            # transaction only (SET LOCAL); anyone else keeps the checks.
            self.cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
            if self.cursor.fetchone()[0]:
                self.cursor.execute("SET LOCAL session_replication_role = replica")
        return self

    def __exit__(self, *exc):
        self.cursor.close()

    def insert(self, model: type[models.Model], columns: dict[str, Sequence | object], n: int) -> None:
        names, sources = [], []
        for field in model._meta.concrete_fields:
            if field.attname in columns:
                value = columns[field.attname]
            elif field.primary_key:
                continue
            else:
                value = self._default(field)
            names.append(field.column)
            sources.append(value if isinstance(value, list) else itertools.repeat(value, n))
        rows = zip(*sources, strict=True)
        table = model._meta.db_table
        if self.vendor == "sqlite":
            marks = ", ".join("?" * len(names))
            self.cursor.executemany(f'INSERT INTO "{table}" ({", ".join(names)}) VALUES ({marks})', rows)  # noqa: S608  # nosec B608
        else:
            with self.cursor.copy(f'COPY "{table}" ({", ".join(names)}) FROM STDIN') as copy:
                for row in rows:
                    copy.write_row(row)

    def _default(self, field):
        if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            return self.now
        value = field.get_default()
        if value is None:
            return None
        if isinstance(field, models.JSONField):
            return json.dumps(value)
        if isinstance(field, models.BooleanField):
            return bool(value)
        return field.get_db_prep_save(value, connection=self.conn)


@contextlib.contextmanager
def indexes_dropped(conn, model):
    """Drop the table's secondary indexes for a bulk load and build them again afterwards: one sort per
    index is much cheaper than maintaining five B-trees row by row. Indexes backing a constraint stay."""
    table = model._meta.db_table
    with conn.cursor() as cursor:
        if conn.vendor == "sqlite":
            cursor.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = %s", [table])
            indexes = [(name, sql) for name, sql in cursor.fetchall() if sql]  # sql is NULL for autoindexes
        else:
            cursor.execute(
                "SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.tablename = %s AND NOT EXISTS "
                "(SELECT 1 FROM pg_constraint c WHERE c.conindid = (quote_ident(i.indexname))::regclass)",
                [table],
            )
            indexes = cursor.fetchall()
        for name, _sql in indexes:
            cursor.execute(f'DROP INDEX "{name}"')
    yield
    if conn.vendor == "postgresql":
        conn.check_constraints()  # PostgreSQL refuses CREATE INDEX while deferred FK checks are pending
    with conn.cursor() as cursor:
        for _name, sql in indexes:
            cursor.execute(sql)


def next_id(conn, model) -> int:
    with conn.cursor() as cursor:
        cursor.execute(f'SELECT MAX(id) FROM "{model._meta.db_table}"')  # noqa: S608  # nosec B608
        return (cursor.fetchone()[0] or 0) + 1


def sequences_reset(conn) -> None:
    if conn.vendor != "postgresql":
        return  # SQLite's AUTOINCREMENT follows explicit ids by itself
    with conn.cursor() as cursor:
        for sql in conn.ops.sequence_reset_sql(no_style(), [Campaign, ContentItem]):
            cursor.execute(sql)


def analyze(conn) -> None:
    """Fresh planner statistics, as a live database would have (autovacuum on PostgreSQL)."""
    tables = [m._meta.db_table for m in (Campaign, ContentItem, DailyMetric, StatusChange, AdAccount, Membership)]
    with conn.cursor() as cursor:
        if conn.vendor == "postgresql":
            # VACUUM also sets the visibility map, so index-only scans work on the fresh rows.
            cursor.execute(f"VACUUM (ANALYZE) {', '.join(tables)}")
        elif conn.vendor == "sqlite":
            cursor.execute("ANALYZE")  # a full one: analysis_limit's samples mislead the planner badly here


def delete_tree(cursor, model, where: str, seen: Iterable[type]) -> None:
    table, pk = model._meta.db_table, model._meta.pk.column
    selection = f'SELECT "{pk}" FROM "{table}" WHERE {where}'  # noqa: S608  # nosec B608
    for rel in model._meta.get_fields(include_hidden=True):
        if not (rel.auto_created and not rel.concrete and (rel.one_to_many or rel.one_to_one)):
            continue
        child, fk = rel.related_model, rel.field
        if child in seen or child is model:
            continue
        child_where = f'"{fk.column}" IN ({selection})'
        if fk.remote_field.on_delete is models.SET_NULL:
            cursor.execute(f'UPDATE "{child._meta.db_table}" SET "{fk.column}" = NULL WHERE {child_where}')  # noqa: S608  # nosec B608
        else:
            delete_tree(cursor, child, child_where, seen=(*seen, model))
    cursor.execute(f'DELETE FROM "{table}" WHERE {where}')  # noqa: S608  # nosec B608
