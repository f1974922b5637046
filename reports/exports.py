"""CSV exports, streamed row by row so memory stays flat however long the campaign ran. Columns carry the
field names (machine-readable); a money column's name ends in its currency (`spend_eur`, issue 16); moments are
ISO 8601 with the account zone's offset. The per-content rates are those `reports.metrics` freezes per content
item."""

import csv
from collections.abc import Iterable, Iterator
from decimal import Decimal

from campaigns.models import METRIC_FIELDS, DailyMetric
from campaigns.timezones import moment_iso

from . import metrics
from .formatting import MONEY
from .metrics import metrics_for

# A spreadsheet treats a cell starting with one of these as a formula (CSV/formula injection).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value):
    """Text that a spreadsheet would run as a formula gets a leading apostrophe; numbers stay numbers."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return "" if value is None else value


class _Echo:
    def write(self, value):
        return value


def csv_stream(header: list[str], rows: Iterable[Iterable]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield "\ufeff" + writer.writerow([csv_safe(h) for h in header])
    for row in rows:
        yield writer.writerow([csv_safe(v) for v in row])


def money_column(name: str, currency: str) -> str:
    """A money column's name: the field's, with its currency ("spend_eur"); as it is without a currency."""
    return f"{name}_{currency.lower()}" if currency else name


def _metric_columns(names, currency: str) -> list[str]:
    """Column names of metric fields or rates (their `reports.metrics` key or CSV name), money ones with the
    currency."""
    money = {name for m in metrics.METRICS if m.unit == MONEY for name in (m.key, m.csv_name)}
    return [money_column(name, currency) if name in money else name for name in names]


def daily_rows(snapshot: dict) -> tuple[list[str], Iterator[list]]:
    header = ["date", *_metric_columns(METRIC_FIELDS, snapshot["campaign"]["currency"])]

    def rows():
        for d in snapshot["daily"]:
            yield [d["date"], Decimal(d["spend"]), *(d[f] for f in METRIC_FIELDS[1:])]

    return header, rows()


def content_rows(snapshot: dict) -> tuple[list[str], Iterator[list]]:
    rates = metrics_for(snapshot, per_content=True)
    currency = snapshot["campaign"]["currency"]
    header = [
        "content_id",
        "title",
        "kind",
        "state",
        "url",
        *_metric_columns([*METRIC_FIELDS, *(m.csv_name for m in rates)], currency),
    ]

    def rows():
        for c in snapshot["content"]:
            yield [
                c["id"],
                c["title"],
                c["kind"],
                c["state"],
                c["url"],
                Decimal(c["spend"]),
                *(c[f] for f in METRIC_FIELDS[1:]),
                *(c[m.key] for m in rates),
            ]

    return header, rows()


def raw_metric_rows(
    *, campaign_id: int, chunk_size: int = 2000, currency: str = "", zone=None
) -> tuple[list[str], Iterator[list]]:
    """Every stored DailyMetric row of the campaign as it is now (campaign-level and per content, including
    late attribution), straight from the database with a server-side cursor. `currency` names the spend column;
    `updated_at` is written in `zone` (the account's)."""
    header = ["date", "content_item_id", "content_title", *_metric_columns(METRIC_FIELDS, currency), "updated_at"]
    qs = (
        DailyMetric.objects.filter(campaign_id=campaign_id)
        .order_by("date", "content_item_id", "id")
        .values_list("date", "content_item_id", "content_item__title", *METRIC_FIELDS, "updated_at")
    )

    def rows():
        for row in qs.iterator(chunk_size=chunk_size):
            yield [row[0].isoformat(), row[1] or "", row[2] or "", *row[3:-1], moment_iso(row[-1], zone)]

    return header, rows()


# The frozen CSVs of a report, by the name their download carries.
FROZEN = {"daily": daily_rows, "content": content_rows}
