"""Planning an import (`import_plan`) from its staged rows (`stage.file_stage`), in SQL: which campaign and content
item each row is, which daily rows would be new, changed or unchanged, and whether what a commit would store
fits: every day (also a day summed from its ads), every campaign's totals over all its days, and the account's
totals over all its campaigns (what the campaign list adds up). `plan_apply` then creates what the plan says and
writes the daily metrics with one INSERT … SELECT … ON CONFLICT per kind of day, inside the commit's transaction.

Matching rows to campaigns: by Campaign ID when the file has one, else by exact campaign name within the
account. A campaign the account does not have is created on commit for manual accounts (the preview lists it);
for connected accounts it is a row error, because the platform sync owns that account's campaigns.

How: each distinct (campaign id, campaign name, ad id, ad name) of the file (a staged row's `key`) is matched
once, in Python; the matches go into a temporary table, and the rows joined to it into another
(`closeout_import_days`: campaign ref, ad ref, day, line, metrics — a ref is a pk, or a negative number for a
campaign or item the commit creates; ad ref 0 for a campaign's own day), with the campaign days summed from their
ads added. Every check and count is then one query over that table, whatever the number of rows; only what
fails (a row error) is looked at in Python, row by row. The temporary tables live on the connection until
`plan_drop` (or the next plan)."""

import dataclasses
import datetime as dt
import zoneinfo
from decimal import Decimal

from django.db import connection
from django.utils import timezone

from ..models import (
    COUNT_METRIC_FIELDS,
    METRIC_FIELDS,
    AdAccount,
    Campaign,
    ContentItem,
    DailyMetric,
)
from .cells import metric_limits
from .files import ImportFileError
from .rows import FIELD_LABELS, RowError
from .stage import MAX_ERRORS_SHOWN, STAGE, StagedFile

TOTAL_FIELDS = tuple(f"total_{f}" for f in METRIC_FIELDS)
KEYS = "closeout_import_keys"
DAYS = "closeout_import_days"
IDS = "closeout_import_ids"
METRICS = ", ".join(METRIC_FIELDS)
ITEM_CODE_BASE = 1_000_000_000  # a new item's ref is -(ITEM_CODE_BASE + n); a new campaign's is -n
_CENT = Decimal("0.01")
_LOW_BITS = 4294967295  # 2**32 - 1


@dataclasses.dataclass
class ImportPlan:
    account: AdAccount
    import_id: int
    staged: StagedFile
    errors: list[RowError]  # the first MAX_ERRORS_SHOWN, in line order
    error_count: int
    # Ref of a campaign to create (-n) → {"name", "platform_id", "start_date"}; in the file's order.
    new_campaigns: dict[int, dict]
    matched: dict[int, str]  # pk → name of the account's campaigns the file has rows for
    # Ref of a content item to create (-(ITEM_CODE_BASE + n)) → {"campaign": campaign ref, "platform_id", "title"}
    new_items: dict[int, dict]
    counts: dict[str, int]
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    # Ad ref → the usage-rights fields the file gives for it (issue 17; optional columns).
    item_rights: dict = dataclasses.field(default_factory=dict)
    crefs: tuple = ()  # the refs of the campaigns the plan writes days to (its days table's, without reading it)
    staged_rows: int = 0  # the import's staged rows, counted by the plan's pass over them

    def summary(self) -> dict:
        staged = self.staged
        return {
            "format": staged.format,
            "columns": {FIELD_LABELS.get(k, k): v for k, v in staged.columns.items()},
            "unknown_columns": staged.unknown_columns[:50],
            "data_rows": staged.rows + staged.error_count,
            "staged_rows": staged.rows,
            "currencies": staged.currencies,  # for the commit's check against the account's, then
            "skipped_rows": staged.skipped,
            "date_from": self.date_from.isoformat() if self.date_from else "",
            "date_to": self.date_to.isoformat() if self.date_to else "",
            "campaigns_new": sorted(v["name"] for v in self.new_campaigns.values())[:500],
            "campaigns_new_count": len(self.new_campaigns),
            "campaigns_matched": sorted(self.matched.values())[:500],
            "campaigns_matched_count": len(self.matched),
            "content_items_new": len(self.new_items),
            "content_rights": len(self.item_rights),
            "metric_rows": self.counts,
            "errors": [{"line": e.line, "message": e.message} for e in self.errors[:MAX_ERRORS_SHOWN]],
            "error_count": self.error_count,
        }


def currency_check(*, account: AdAccount, currencies: dict[str, str]) -> None:
    expected = account.currency.strip().upper()
    for code, where in currencies.items():
        if code != expected:
            raise ImportFileError(
                f"This file is in {code} ({where}), but “{account.name}” reports in {expected}: it was probably "
                f"exported from another ad account. Import it into the account that reports in {code}."
            )


def _account_today(account: AdAccount) -> dt.date:
    """Today where the account's days are counted (Ads Manager's days are in the ad account's time zone)."""
    try:
        zone = zoneinfo.ZoneInfo(account.timezone)
    except (KeyError, ValueError):  # ZoneInfoNotFoundError is a KeyError; "" or "../x" a ValueError
        zone = dt.UTC
    return timezone.localdate(timezone=zone)


def import_plan(*, account: AdAccount, import_id: int, staged: StagedFile) -> ImportPlan:
    """Match the staged rows of `import_id` to `account`'s campaigns and content items, and work out which daily
    metric rows would be new, changed or unchanged; what could not be stored as planned is a row error (a day in
    the future, an unknown campaign of a connected account, a repeated row, a day or total past its column). A
    fixed number of queries, whatever the number of rows; leaves the temporary tables for `plan_apply`. Raises
    ImportFileError when the file names a currency other than the account's."""
    currency_check(account=account, currencies=staged.currencies)
    today = _account_today(account)
    with connection.cursor() as cursor:
        planner = _Planner(cursor, account=account, import_id=import_id, today=today)
        return planner.plan(staged)


def plan_drop() -> None:
    """Drop the plan's temporary tables (the connection keeps them otherwise)."""
    with connection.cursor() as cursor:
        for table in (KEYS, DAYS, IDS):
            cursor.execute(f"DROP TABLE IF EXISTS {table}")


def _day(value) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value)[:10])


class _Planner:
    def __init__(self, cursor, *, account: AdAccount, import_id: int, today: dt.date):
        self.cursor, self.account, self.import_id, self.today = cursor, account, import_id, today
        self.postgres = connection.vendor == "postgresql"
        self.names: dict[int, str] = {}
        self.new_campaigns: dict[int, dict] = {}
        self.errors: list[list[RowError]] = []
        self.error_count = 0

    # --- SQL helpers: exact sums on both databases (SQLite's SUM() fails past 2**63 - 1) ---

    def sums_sql(self, alias: str) -> str:
        """The select list of the METRIC_FIELDS' sums over `alias`, read back by `sums_read`."""
        if self.postgres:
            return ", ".join(f"SUM({alias}.{f})" for f in METRIC_FIELDS)
        parts = [f"SUM({alias}.spend)"]
        parts += [f"SUM({alias}.{f} >> 32), SUM({alias}.{f} & {_LOW_BITS})" for f in COUNT_METRIC_FIELDS]
        return ", ".join(parts)

    def sums_read(self, values) -> dict:
        spend = _money(values[0])
        if self.postgres:
            return {"spend": spend, **{f: int(v or 0) for f, v in zip(COUNT_METRIC_FIELDS, values[1:], strict=True)}}
        counts = {f: int(values[1 + 2 * n] or 0) * (1 << 32) + int(values[2 + 2 * n] or 0) for n, f in
                  enumerate(COUNT_METRIC_FIELDS)}  # fmt: skip
        return {"spend": spend, **counts}

    def sum_expr(self, field: str) -> str:
        """One metric's sum, as a column of the days table (past 2**63 only for a day that is a row error)."""
        if field == "spend":
            return "ROUND(SUM(spend), 2)"
        if self.postgres:
            return f"SUM({field})"
        return f"(SUM({field} >> 32) * 4294967296 + SUM({field} & {_LOW_BITS}))"

    def add_errors(self, errors: list[RowError], count: int) -> None:
        self.errors.append(errors)
        self.error_count += count

    # --- the plan ---

    def plan(self, staged: StagedFile) -> ImportPlan:
        import_id = self.import_id
        self.staged_columns = staged.columns
        self.add_errors(staged.errors, staged.error_count)
        keys = self._keys_match()
        date_from, date_to = self.dates
        self._future_check()
        self._days_fill()
        self._repeats_check(keys)
        reported = self._days_sum()
        self._totals_check(reported)
        counts = self._counts()
        rights = self._rights(staged)
        errors = sorted((e for part in self.errors for e in part), key=lambda e: e.line)[:MAX_ERRORS_SHOWN]
        return ImportPlan(
            self.account,
            import_id,
            staged,
            errors,
            self.error_count,
            self.new_campaigns,
            self.matched,
            self.new_items,
            counts,
            _day(date_from) if date_from else None,
            _day(date_to) if date_to else None,
            rights,
            crefs=self.crefs,
            staged_rows=self.staged_rows,
        )

    def _future_check(self) -> None:
        """The rows dated after the account's today (counted by `_keys_match`): row errors."""
        cursor, count = self.cursor, self.future_count
        if not count:
            return
        where = f"FROM {STAGE} WHERE metric_import_id = %s AND date > %s"  # nosec B608
        first = f"SELECT line, date {where} ORDER BY line LIMIT {MAX_ERRORS_SHOWN}"  # noqa: S608  # nosec B608
        cursor.execute(first, [self.import_id, self.today])
        today = self.today
        self.add_errors(
            [
                RowError(line, f"{_day(day).isoformat()} is in the future (the account's today is {today}).")
                for line, day in cursor.fetchall()
            ],
            count,
        )

    def _keys_match(self) -> dict[int, tuple]:
        """Match each distinct names of the file (a key) to a campaign and content item; fill the keys table.
        Returns {key: (campaign name, campaign id, ad name, ad id)}. Also sets `dates` (the first and last day of
        the file) and `future_count` (rows after the account's today), read in the same pass."""
        cursor, import_id = self.cursor, self.import_id
        # A key is one distinct (campaign name, campaign id, ad name, ad id): grouping by the texts as well gives
        # the same groups, and their texts in the same pass. Rows after today count as future, nothing else.
        past = "CASE WHEN date <= %s THEN {} END"
        cursor.execute(
            "SELECT key, campaign_name, campaign_platform_id, ad_name, ad_platform_id, "  # noqa: S608  # nosec B608
            f"MIN({past.format('line')}), MIN({past.format('date')}), COUNT({past.format('1')}), "
            f"MIN(date), MAX(date), COUNT(*) FROM {STAGE} WHERE metric_import_id = %s "
            "GROUP BY key, campaign_name, campaign_platform_id, ad_name, ad_platform_id",
            [self.today, self.today, self.today, import_id],
        )
        found = cursor.fetchall()
        self.dates = (min(g[8] for g in found), max(g[9] for g in found)) if found else (None, None)
        self.future_count = sum(g[10] - g[7] for g in found)
        self.staged_rows = sum(g[10] for g in found)
        groups = sorted((g for g in found if g[7]), key=lambda g: g[5])  # in the order of their first row
        names: dict[int, tuple] = {g[0]: tuple(g[1:5]) for g in groups}
        groups = [(g[0], *g[5:8]) for g in groups]

        account = self.account
        creatable = not account.is_connected
        campaigns = list(
            Campaign.objects.filter(account=account).values_list("pk", "platform_id", "name", *TOTAL_FIELDS)
        )
        by_platform_id = {pid: pk for pk, pid, *_ in campaigns if pid}
        by_name: dict[str, list[int]] = {}
        for pk, _, name, *_totals in campaigns:
            by_name.setdefault(name, []).append(pk)
        self.names = {pk: name for pk, _, name, *_ in campaigns}
        self.stored_totals = {pk: dict(zip(METRIC_FIELDS, t, strict=True)) for pk, _, _, *t in campaigns}
        new_campaigns = self.new_campaigns
        new_refs: dict[str, int] = {}

        def new_ref(key: str, spec: dict) -> int:
            ref = new_refs.get(key)
            if ref is None:
                ref = new_refs[key] = -(len(new_refs) + 1)
                new_campaigns[ref] = spec
            return ref

        def resolve(campaign_id: str, campaign_name: str) -> tuple[int | None, str]:
            if campaign_id:
                ref = by_platform_id.get(campaign_id)
                if ref is None and not creatable:
                    return None, f"Campaign ID {campaign_id} is not in this account; run “Sync now” first."
                if ref is None:
                    spec = {"name": campaign_name or f"Campaign {campaign_id}", "platform_id": campaign_id}
                    ref = new_ref(f"id:{campaign_id}", spec)
                return ref, ""
            found = by_name.get(campaign_name, [])
            if len(found) > 1:
                return None, f"{len(found)} campaigns are named “{campaign_name}”; add a Campaign ID column."
            if found:
                return found[0], ""
            if not creatable:
                return None, f"No campaign named “{campaign_name}” in this account; run “Sync now” first."
            return new_ref(f"name:{campaign_name}", {"name": campaign_name, "platform_id": ""}), ""

        resolved: dict[tuple, tuple] = {}
        campaign_of: list[tuple] = []  # (key, campaign ref or None, problem)
        self.matched: dict[int, str] = {}
        for key, _line, first_day, _count in groups:
            campaign_name, campaign_id, _ad_name, _ad_id = names[key]
            pair = (campaign_id, campaign_name)
            found = resolved.get(pair)
            if found is None:
                found = resolved[pair] = resolve(*pair)
                if found[0] is not None and found[0] > 0:
                    self.matched[found[0]] = self.names[found[0]]
            ref, problem = found
            if ref is not None and ref < 0:
                spec = new_campaigns[ref]
                start = spec.get("start_date")
                day = _day(first_day)
                if start is None or day < start:
                    spec["start_date"] = day
            campaign_of.append((key, ref, problem))

        existing_ids = sorted(self.matched)
        items = list(
            ContentItem.objects.filter(campaign_id__in=existing_ids).values_list(
                "pk", "campaign_id", "platform_id", "title"
            )
        )
        item_by_id = {(c, pid): pk for pk, c, pid, _ in items if pid}
        item_by_title = {(c, title): pk for pk, c, _, title in items}
        new_items: dict[int, dict] = {}
        new_item_refs: dict[tuple, int] = {}
        rows: list[tuple] = []
        problems: dict[int, str] = {}
        for key, ref, problem in campaign_of:
            if ref is None:
                problems[key] = problem
                rows.append((key, 0, 0))
                continue
            _campaign_name, _campaign_id, ad_name, ad_id = names[key]
            item_ref = 0
            if ad_name or ad_id:
                found = item_by_id.get((ref, ad_id)) if ad_id else None
                if found is None and ad_name:
                    found = item_by_title.get((ref, ad_name))
                if found is None:
                    new_key = (ref, ad_id or ad_name)
                    found = new_item_refs.get(new_key)
                    if found is None:
                        found = new_item_refs[new_key] = -(ITEM_CODE_BASE + len(new_item_refs) + 1)
                        new_items[found] = {"campaign": ref, "platform_id": ad_id, "title": ad_name or f"Ad {ad_id}"}
                item_ref = found
            rows.append((key, ref, item_ref))
        self.new_items = new_items
        # Every matched key has a day of its own in the days table (it has a row up to today): its campaigns.
        self.crefs = tuple(sorted({ref for _, ref, _ in rows if ref}))

        cursor.execute(f"DROP TABLE IF EXISTS {KEYS}")
        cursor.execute(
            f"CREATE TEMPORARY TABLE {KEYS} (key integer PRIMARY KEY, cref bigint NOT NULL, iref bigint NOT NULL)"
        )
        if rows:
            cursor.executemany(f"INSERT INTO {KEYS} (key, cref, iref) VALUES (%s, %s, %s)", rows)  # noqa: S608  # nosec B608
            if self.postgres:
                cursor.execute(f"ANALYZE {KEYS}")
        if problems:
            count = sum(g[3] for g in groups if g[0] in problems)
            cursor.execute(
                f"SELECT s.line, s.key FROM {STAGE} s JOIN {KEYS} k ON k.key = s.key "  # noqa: S608  # nosec B608
                "WHERE s.metric_import_id = %s AND s.date <= %s AND k.cref = 0 "
                f"ORDER BY s.line LIMIT {MAX_ERRORS_SHOWN}",
                [import_id, self.today],
            )
            self.add_errors([RowError(line, problems[key]) for line, key in cursor.fetchall()], count)
        return names

    def _days_fill(self) -> None:
        """The days table: every matched row (repeats removed by `_repeats_check`)."""
        cursor = self.cursor
        number = "numeric" if self.postgres else "integer"
        cursor.execute(f"DROP TABLE IF EXISTS {DAYS}")
        cursor.execute(
            f"CREATE TEMPORARY TABLE {DAYS} (key integer NOT NULL, line integer NOT NULL, cref bigint NOT NULL, "
            "iref bigint NOT NULL, date date NOT NULL, summed integer NOT NULL, spend numeric NOT NULL, "
            + ", ".join(f"{f} {number} NOT NULL" for f in COUNT_METRIC_FIELDS)
            + ")"
        )
        cursor.execute(
            f"INSERT INTO {DAYS} (key, line, cref, iref, date, summed, {METRICS}) "  # noqa: S608  # nosec B608
            f"SELECT s.key, s.line, k.cref, k.iref, s.date, 0, {', '.join(f's.{f}' for f in METRIC_FIELDS)} "
            f"FROM {STAGE} s JOIN {KEYS} k ON k.key = s.key "
            "WHERE s.metric_import_id = %s AND s.date <= %s AND k.cref <> 0",
            [self.import_id, self.today],
        )
        if self.postgres:  # temporary tables are never analyzed on their own: the joins below need the row counts
            cursor.execute(f"ANALYZE {DAYS}")

    def _repeats_check(self, names: dict[int, tuple]) -> None:
        """A (campaign, ad, day) on more than one row: each row after the first is a row error, and is dropped."""
        cursor = self.cursor
        repeated = (
            f"SELECT cref, iref, date, MIN(line) AS first, COUNT(*) AS n FROM {DAYS} "  # noqa: S608  # nosec B608
            "GROUP BY cref, iref, date HAVING COUNT(*) > 1"
        )
        cursor.execute(f"SELECT COALESCE(SUM(n - 1), 0) FROM ({repeated}) r")  # noqa: S608  # nosec B608
        count = int(cursor.fetchone()[0])
        if not count:
            return
        cursor.execute(
            f"SELECT d.line, d.key, d.iref, d.date, r.first FROM {DAYS} d JOIN ({repeated}) r "  # noqa: S608  # nosec B608
            "ON r.cref = d.cref AND r.iref = d.iref AND r.date = d.date "
            f"WHERE d.line > r.first ORDER BY d.line LIMIT {MAX_ERRORS_SHOWN}"
        )
        errors = []
        for line, key, iref, day, first in cursor.fetchall():
            campaign_name, campaign_id, ad_name, ad_id = names[key]
            what = f"ad “{ad_name or ad_id}”" if iref else f"campaign “{campaign_name or campaign_id}”"
            errors.append(RowError(line, f"Repeats {what} on {_day(day):%Y-%m-%d} (first on line {first})."))
        self.add_errors(errors, count)
        cursor.execute(f"CREATE INDEX {DAYS}_key ON {DAYS} (cref, iref, date, line)")
        cursor.execute(
            f"DELETE FROM {DAYS} WHERE EXISTS (SELECT 1 FROM {DAYS} o WHERE o.cref = {DAYS}.cref "  # noqa: S608  # nosec B608
            f"AND o.iref = {DAYS}.iref AND o.date = {DAYS}.date AND o.line < {DAYS}.line)"
        )

    def _days_sum(self) -> set:
        """Add each campaign day the file has ad rows but no row of its own for: the sum of its ads (its line,
        the last of its ads'). A sum past its column is a row error on the ad that takes it there. Returns what
        is reported: {(campaign ref, field), field}."""
        cursor = self.cursor
        cursor.execute(
            f"INSERT INTO {DAYS} (key, line, cref, iref, date, summed, {METRICS}) "  # noqa: S608  # nosec B608
            f"SELECT 0, MAX(line), cref, 0, date, 1, {', '.join(self.sum_expr(f) for f in METRIC_FIELDS)} "
            f"FROM {DAYS} WHERE iref <> 0 AND (cref, date) NOT IN (SELECT cref, date FROM {DAYS} WHERE iref = 0) "
            "GROUP BY cref, date"
        )
        limits = metric_limits(DailyMetric)
        over = " OR ".join(f"{f} > %s" for f in METRIC_FIELDS)
        cursor.execute(
            f"SELECT cref, date FROM {DAYS} WHERE summed = 1 AND ({over}) ORDER BY line",  # noqa: S608  # nosec B608
            [limits[f].high for f in METRIC_FIELDS],
        )
        reported: set = set()
        errors = []
        for cref, day in cursor.fetchall():
            cursor.execute(
                f"SELECT line, {METRICS} FROM {DAYS} WHERE summed = 0 AND iref <> 0 AND cref = %s AND date = %s "  # noqa: S608  # nosec B608
                "ORDER BY line",
                [cref, day],
            )
            totals = dict.fromkeys(METRIC_FIELDS, 0)
            crossed: dict[str, int] = {}
            for line, *values in cursor.fetchall():
                for f, value in zip(METRIC_FIELDS, values, strict=True):
                    totals[f] += _money(value) if f == "spend" else int(value)
                    if totals[f] > limits[f].high:
                        crossed.setdefault(f, line)
            for f in METRIC_FIELDS:
                if f in crossed:
                    errors.append(
                        RowError(
                            crossed[f],
                            f"With this ad, {self.label(f)} of “{self.name(cref)}” on {_day(day).isoformat()} "
                            f"(the sum of its ads) would be {totals[f]:,}, more than Closeout stores "
                            f"({limits[f].high:,}).",
                        )
                    )
                    reported |= {(cref, f), f}  # its campaign's and the account's totals are past it too
        self.add_errors(errors, len(errors))
        return reported

    def label(self, field: str) -> str:
        return self.staged_columns.get(field) or FIELD_LABELS[field]

    def name(self, ref: int) -> str:
        return self.new_campaigns[ref]["name"] if ref < 0 else self.names[ref]

    def _totals_check(self, reported: set) -> None:
        """Add the file's campaign-level days, in file order, to each campaign's total from the days the file does
        not replace, and to the account's total (its other campaigns as stored); the row that takes a total past
        its column is a row error, once per campaign or account and metric. Only when a final total is past its
        column are the days read one by one."""
        cursor = self.cursor
        limits = metric_limits(Campaign, prefix="total_")
        cursor.execute(f"SELECT d.cref, {self.sums_sql('d')} FROM {DAYS} d WHERE d.iref = 0 GROUP BY d.cref")  # noqa: S608  # nosec B608
        file_sums = {row[0]: self.sums_read(row[1:]) for row in cursor.fetchall()}
        bases = {ref: dict.fromkeys(METRIC_FIELDS, 0) for ref in file_sums}
        if any(ref > 0 for ref in file_sums):
            cursor.execute(
                f"SELECT m.campaign_id, {self.sums_sql('m')} FROM {DailyMetric._meta.db_table} m "  # noqa: S608  # nosec B608
                f"WHERE m.content_item_id IS NULL AND m.campaign_id IN (SELECT cref FROM {DAYS} WHERE iref = 0) "
                "GROUP BY m.campaign_id"
            )
            for pk, *values in cursor.fetchall():
                bases[pk] = self.sums_read(values)
            cursor.execute(
                f"SELECT d.cref, {self.sums_sql('m')} FROM {DAYS} d JOIN {DailyMetric._meta.db_table} m "  # noqa: S608  # nosec B608
                "ON m.campaign_id = d.cref AND m.date = d.date AND m.content_item_id IS NULL WHERE d.iref = 0 "
                "GROUP BY d.cref"
            )
            for pk, *values in cursor.fetchall():
                for f, value in self.sums_read(values).items():
                    bases[pk][f] -= value
        account_base = {
            f: sum((t[f] for pk, t in self.stored_totals.items() if pk not in bases), start=0)
            + sum((b[f] for b in bases.values()), start=0)
            for f in METRIC_FIELDS
        }
        past = any(
            bases[ref][f] + sums[f] > limits[f].high for ref, sums in file_sums.items() for f in METRIC_FIELDS
        ) or any(account_base[f] + sum(s[f] for s in file_sums.values()) > limits[f].high for f in METRIC_FIELDS)
        if not past:
            return
        campaign_totals, account_totals = bases, account_base
        errors = []
        cursor.execute(f"SELECT cref, line, {METRICS} FROM {DAYS} WHERE iref = 0 ORDER BY line")  # noqa: S608  # nosec B608
        while batch := cursor.fetchmany(5000):
            for ref, line, *values in batch:
                for f, value in zip(METRIC_FIELDS, values, strict=True):
                    value = _money(value) if f == "spend" else int(value)
                    campaign_totals[ref][f] += value
                    account_totals[f] += value
                    high = limits[f].high
                    if campaign_totals[ref][f] > high:
                        whose, total = f"“{self.name(ref)}”", campaign_totals[ref][f]
                    elif account_totals[f] > high:
                        whose, total = "all campaigns in this account", account_totals[f]
                    else:
                        continue
                    if (ref, f) not in reported and f not in reported:
                        errors.append(
                            RowError(
                                line,
                                f"With this row, the total {self.label(f)} of {whose} would be {total:,}, more "
                                f"than Closeout stores ({high:,}).",
                            )
                        )
                    # A campaign past the limit takes the account past it too: one message is enough.
                    reported |= {(ref, f), f}
        self.add_errors(errors, len(errors))

    def _counts(self) -> dict[str, int]:
        """How many of the planned daily rows are new, changed, or already stored as they are."""
        cursor = self.cursor
        changed = " OR ".join(f"d.{f} <> m.{f}" for f in METRIC_FIELDS)
        cursor.execute(f"SELECT COUNT(*) FROM {DAYS}")  # noqa: S608  # nosec B608
        total = cursor.fetchone()[0]
        found = differ = 0
        for condition, join in (
            ("d.iref = 0", "m.content_item_id IS NULL"),
            ("d.iref <> 0", "m.content_item_id = d.iref"),
        ):
            if not self.matched:  # only the account's campaigns have stored days
                break
            cursor.execute(
                f"SELECT COUNT(*), COALESCE(SUM(CASE WHEN {changed} THEN 1 ELSE 0 END), 0) "  # noqa: S608  # nosec B608
                f"FROM {DAYS} d JOIN {DailyMetric._meta.db_table} m "
                f"ON m.campaign_id = d.cref AND m.date = d.date AND {join} WHERE d.cref > 0 AND {condition}"
            )
            n_found, n_differ = cursor.fetchone()
            found, differ = found + n_found, differ + int(n_differ)
        return {"new": total - found, "changed": differ, "unchanged": found - differ}

    def _rights(self, staged: StagedFile) -> dict:
        """{ad ref: {"rights_expire_on": day, "creator_name": name}} from the optional per-ad columns, the last row
        of an ad winning; only what the file fills in (an empty cell never clears what a person entered)."""
        if not {"rights_expire_on", "creator_name"} & set(staged.columns):
            return {}
        cursor = self.cursor
        cursor.execute(
            f"SELECT k.iref, s.rights_expire_on, s.creator_name FROM {STAGE} s JOIN {KEYS} k ON k.key = s.key "  # noqa: S608  # nosec B608
            "WHERE s.metric_import_id = %s AND s.date <= %s AND k.cref <> 0 AND k.iref <> 0 "
            "AND (s.rights_expire_on IS NOT NULL OR s.creator_name <> '') ORDER BY s.line",
            [self.import_id, self.today],
        )
        rights: dict = {}
        while batch := cursor.fetchmany(5000):
            for iref, expire, creator in batch:
                given = {"rights_expire_on": _day(expire) if expire else None, "creator_name": creator}
                rights.setdefault(iref, {}).update({k: v for k, v in given.items() if v})
        return {ref: values for ref, values in rights.items() if values}


def _money(value) -> Decimal:
    if value is None:
        return Decimal("0.00")
    if isinstance(value, Decimal):
        return value.quantize(_CENT)
    return Decimal(repr(value) if isinstance(value, float) else str(value)).quantize(_CENT)


def plan_apply(*, plan: ImportPlan, owner=None) -> dict:
    """Create the plan's new campaigns and content items; return the SELECT of its daily metric rows (from the
    days table, with the new campaigns' and items' pks) for `daily_metrics_bulk_upsert(select=...)`, and the
    campaigns it writes to. Call inside a transaction, right after `import_plan` (services.metric_import_commit_run
    does). Returns {"select", "campaign_ids", "counts"}.

    A new campaign is known only by its name (and platform id): it is created with no budget, marked
    `needs_details` and owned by `owner` (the importer), so the list and its page ask a manager to fill it in."""
    account = plan.account
    refs: dict[int, int] = {}
    if plan.new_campaigns:
        created = Campaign.objects.bulk_create(
            [
                Campaign(
                    account=account,
                    name=spec["name"],
                    platform_id=spec["platform_id"],
                    start_date=spec["start_date"],
                    end_date=None,
                    needs_details=True,
                    owner=owner,
                )
                for spec in plan.new_campaigns.values()
            ],
            batch_size=500,
        )
        refs = {ref: c.pk for ref, c in zip(plan.new_campaigns, created, strict=True)}
        if any(pk is None for pk in refs.values()):  # backends without RETURNING: look them up
            lookup = dict(Campaign.objects.filter(account=account).values_list("name", "pk"))
            refs = {ref: lookup[spec["name"]] for ref, spec in plan.new_campaigns.items()}

    def campaign_pk(ref: int) -> int:
        return refs[ref] if ref < 0 else ref

    item_pks: dict[int, int] = {}
    if plan.new_items:
        created_items = ContentItem.objects.bulk_create(
            [
                ContentItem(
                    campaign_id=campaign_pk(spec["campaign"]),
                    platform_id=spec["platform_id"],
                    title=spec["title"],
                    **plan.item_rights.get(ref, {}),
                )
                for ref, spec in plan.new_items.items()
            ],
            batch_size=500,
        )
        item_pks = {ref: item.pk for ref, item in zip(plan.new_items, created_items, strict=True)}
    known = {ref: values for ref, values in plan.item_rights.items() if ref > 0}
    if known:
        items = ContentItem.objects.in_bulk(list(known))
        for pk, values in known.items():
            for field, value in values.items():
                if pk in items:
                    setattr(items[pk], field, value)
        ContentItem.objects.bulk_update(list(items.values()), ["rights_expire_on", "creator_name"], batch_size=500)
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {IDS}")
        cursor.execute(f"CREATE TEMPORARY TABLE {IDS} (code bigint PRIMARY KEY, pk bigint NOT NULL)")
        codes = [*refs.items(), *item_pks.items()]
        if codes:
            cursor.executemany(f"INSERT INTO {IDS} (code, pk) VALUES (%s, %s)", codes)  # noqa: S608  # nosec B608
        campaign_ids = sorted(campaign_pk(ref) for ref in plan.crefs)
    # The daily rows with their campaigns' and items' pks, for `daily_metrics_bulk_upsert(select=...)`.
    select = (
        "SELECT COALESCE(c.pk, d.cref) AS campaign_id, "  # noqa: S608  # nosec B608
        "CASE WHEN d.iref = 0 THEN NULL ELSE COALESCE(i.pk, d.iref) END AS content_item_id, d.date AS date, "
        f"{', '.join(f'd.{f} AS {f}' for f in METRIC_FIELDS)} FROM {DAYS} d "
        f"LEFT JOIN {IDS} c ON c.code = d.cref LEFT JOIN {IDS} i ON i.code = d.iref"
    )
    return {
        "select": (select, []),
        "campaign_ids": campaign_ids,
        "counts": {"campaigns_created": len(plan.new_campaigns), "content_items_created": len(plan.new_items)},
    }
