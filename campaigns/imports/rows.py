"""An export's lines → its header and daily rows (`file_parse`).

Headers are matched by name, case-insensitively, with the synonyms in HEADER_SYNONYMS; a money column may carry
its currency ("Cost (USD)", "CPC (destination) (USD)"); unknown columns are ignored (and listed). The file's
currencies, from such headers and from a "Currency" column, are collected for the plan to compare with the
account's. The "Total of N results" row and blank rows are skipped; a row that cannot be used becomes a RowError
with its line number, and the other rows still parse, so the preview can list every problem at once."""

import dataclasses
import datetime as dt
import re
from decimal import Decimal

from ..models import METRIC_FIELDS, Campaign, ContentItem, DailyMetric
from .cells import MISSING, date_parse, id_parse, metric_limits, number_parse, shown, text_parse
from .files import ImportFileError, file_lines

MAX_ROWS = 2_000_000  # issue 19: parsed in a background task, committed at database speed
PROGRESS_EVERY = 20_000  # lines between two calls of file_parse's `progress`
HEADER_SEARCH_ROWS = 10
_SHOWN_HEADER = 100

HEADER_SYNONYMS: dict[str, tuple[str, ...]] = {
    "campaign_name": ("campaign name", "campaign"),
    "campaign_id": ("campaign id",),
    "ad_name": ("ad name",),
    "ad_id": ("ad id",),
    "date": ("by day", "date", "day", "stat time day"),
    "currency": ("currency",),
    "spend": ("cost", "spend", "total cost"),
    "impressions": ("impressions",),
    "reach": ("reach",),
    "clicks": ("clicks (destination)", "clicks"),
    "video_views": ("video views",),
    "likes": ("paid likes", "likes"),
    "comments": ("paid comments", "comments"),
    "shares": ("paid shares", "shares"),
    "follows": ("paid follows", "paid followers", "follows", "followers"),
    "profile_visits": ("profile visits", "paid profile visits"),
    # Optional, per ad (issue 17): the creator's usage rights; kept on the ad's content item, never cleared.
    "rights_expire_on": (
        "usage rights expiry",
        "usage rights end date",
        "spark ads authorization end date",
        "spark ads authorisation end date",
    ),
    "creator_name": ("creator", "creator name"),
}
HEADER_TO_FIELD = {synonym: field for field, synonyms in HEADER_SYNONYMS.items() for synonym in synonyms}
FIELD_LABELS = {field: synonyms[0].capitalize() for field, synonyms in HEADER_SYNONYMS.items()}
FIELD_LABELS |= {"date": "By Day", "clicks": "Clicks (destination)", "campaign_id": "Campaign ID", "ad_id": "Ad ID"}
TOTAL_ROW = re.compile(r"^\s*total(\s+of\s+[\d,.]+\s+results?)?\s*$", re.IGNORECASE)
# "Cost (USD)": a money column named with the account's currency. Only money columns: "Clicks (all)" is not in
# the currency "ALL".
CURRENCY_SUFFIX = re.compile(r"^(?P<base>.+?)\s*\((?P<code>[a-z]{3})\)$")
MONEY_WORDS = re.compile(r"\b(cost|spend|cp[acmv]|budget|value|revenue|amount)\b")


@dataclasses.dataclass
class RowError:
    line: int
    message: str


@dataclasses.dataclass(slots=True)  # one per row of a file of up to 2,000,000: no __dict__ each
class ParsedRow:
    line: int
    campaign_name: str
    campaign_id: str
    ad_name: str
    ad_id: str
    date: dt.date
    metrics: dict[str, int | Decimal]
    rights_expire_on: dt.date | None = None  # only on an ad's row; empty cells leave the item as it is
    creator_name: str = ""

    @property
    def is_ad_row(self) -> bool:
        return bool(self.ad_name or self.ad_id)


@dataclasses.dataclass
class ParsedFile:
    format: str
    columns: dict[str, str]  # field → the header as written in the file
    unknown_columns: list[str]
    rows: list[ParsedRow]
    errors: list[RowError]
    skipped: int
    # Currency code → where the file says so ("the column “Cost (EUR)”", "line 7").
    currencies: dict[str, str] = dataclasses.field(default_factory=dict)


def file_parse(*, content: bytes | None = None, filename: str, handle=None, progress=None) -> ParsedFile:
    """The file's rows, from `content` or a binary file `handle` (streamed). `progress(lines read)` is called
    every PROGRESS_EVERY lines when given. Raises ImportFileError when the file as a whole cannot be used (see
    `files.file_lines`; and no known headers, no date or metric column, more than MAX_ROWS rows)."""
    file_format, lines = file_lines(content=content, filename=filename, handle=handle)
    return _parsed(lines, file_format, progress=progress)


def rows_count(*, handle, filename: str) -> int:
    """How many non-blank lines a CSV has (0 for a workbook: counting its rows costs as much as reading them),
    read by the csv module alone, several times faster than parsing: the progress's total, and a file far past
    MAX_ROWS is refused before any row is parsed. Raises ImportFileError as `file_parse` does (also for more
    than MAX_ROWS + HEADER_SEARCH_ROWS lines: more rows than the cap, whatever the header)."""
    file_format, lines = file_lines(filename=filename, handle=handle)
    if file_format != "csv":
        return 0
    count = 0
    for _, cells in lines:
        if cells and any(cells):
            count += 1
            if count > MAX_ROWS + HEADER_SEARCH_ROWS:
                raise ImportFileError(f"The file has more than {MAX_ROWS:,} rows. Export a shorter date range.")
    return count


def _header_key(value) -> str:
    return " ".join(str(value).replace("\ufeff", "").strip().lower().split())


def _header_meaning(value) -> tuple[str | None, str | None]:
    """(field or None, currency code or None) of one header cell."""
    key = _header_key(value)
    suffixed = CURRENCY_SUFFIX.match(key)
    if suffixed and MONEY_WORDS.search(suffixed["base"]):
        return HEADER_TO_FIELD.get(suffixed["base"]), suffixed["code"].upper()
    return HEADER_TO_FIELD.get(key), None


def _header_shown(value) -> str:
    return shown(str(value).strip().lstrip("\ufeff"), _SHOWN_HEADER)


@dataclasses.dataclass
class _Header:
    positions: dict[str, int]  # field → its column (the first with that meaning)
    columns: dict[str, str]  # field → its header as written (for messages and the preview)
    unknown: list[str]
    currencies: dict[str, str]
    _metric_columns: list | None = None

    def metric_columns(self, limits: dict) -> list[tuple]:
        """(field, column, Limit) of the file's metric columns, in METRIC_FIELDS order (worked out once)."""
        if self._metric_columns is None:
            self._metric_columns = [(f, self.positions[f], limits[f]) for f in METRIC_FIELDS if f in self.positions]
        return self._metric_columns


def _header_find(lines) -> _Header:
    """Read lines up to the header (within the first HEADER_SEARCH_ROWS); the iterator then stands on the first
    data row."""
    found: dict[int, str] | None = None
    for number, cells in lines:
        fields = {i: field for i, c in enumerate(cells) if (field := _header_meaning(c)[0])}
        if len(set(fields.values())) >= 2 and {"campaign_name", "campaign_id"} & set(fields.values()):
            found, raw = fields, cells
            break
        if number >= HEADER_SEARCH_ROWS:
            break
    if found is None:
        raise ImportFileError(
            "No known column headers found. An Ads Manager export has columns such as "
            "“Campaign name”, “By Day”, “Cost”, “Impressions”, “Reach”."
        )
    # The first column with a given meaning wins ("Clicks (destination)" over a later "Clicks").
    positions: dict[str, int] = {}
    for index, field in found.items():
        positions.setdefault(field, index)
    if "date" not in positions:
        raise ImportFileError(
            "The file has no “By Day” (or “Date”) column. In Ads Manager, export with the daily breakdown."
        )
    if not set(positions) & set(METRIC_FIELDS):
        raise ImportFileError("The file has no metric columns (Cost, Impressions, Reach, …).")
    currencies: dict[str, str] = {}
    for c in raw:
        if code := _header_meaning(c)[1]:
            currencies.setdefault(code, f"the column “{_header_shown(c)}”")
    return _Header(
        positions=positions,
        columns={field: _header_shown(raw[i]) for field, i in positions.items()},
        unknown=[_header_shown(c) for i, c in enumerate(raw) if i not in found and str(c).strip()],
        currencies=currencies,
    )


def _parsed(lines, file_format: str, *, progress=None) -> ParsedFile:
    lines = iter(lines)
    header = _header_find(lines)
    limits = {
        **metric_limits(DailyMetric),
        "campaign_name": Campaign._meta.get_field("name").max_length,
        "ad_name": ContentItem._meta.get_field("title").max_length,
        "campaign_id": Campaign._meta.get_field("platform_id").max_length,
        "ad_id": ContentItem._meta.get_field("platform_id").max_length,
        "creator_name": ContentItem._meta.get_field("creator_name").max_length,
    }
    rows: list[ParsedRow] = []
    errors: list[RowError] = []
    skipped = 0
    # Blank rows are skipped, not counted as rows, but a sheet of a million empty rows must not be read to its end.
    max_lines = 2 * MAX_ROWS + HEADER_SEARCH_ROWS
    for seen, (line, cells) in enumerate(lines, start=1):
        if progress is not None and not seen % PROGRESS_EVERY:
            progress(seen)
        if seen > max_lines:
            raise ImportFileError(f"The file has more than {max_lines:,} lines. Export a shorter date range.")
        if not any(str(c).strip() for c in cells):
            skipped += 1
            continue
        if len(rows) + len(errors) >= MAX_ROWS:
            raise ImportFileError(f"The file has more than {MAX_ROWS:,} rows. Export a shorter date range.")
        if any(TOTAL_ROW.match(str(c)) for c in cells[:3] if str(c).strip()):
            skipped += 1
            continue
        row = _row_parse(line, cells, header=header, limits=limits)
        (errors if isinstance(row, RowError) else rows).append(row)
    return ParsedFile(file_format, header.columns, header.unknown, rows, errors, skipped, header.currencies)


_MONEY_PLAIN = re.compile(r"\d{1,12}(?:\.\d{1,2})?")  # "1234.50": at most 999,999,999,999.99, read as it is


def _row_parse(line: int, cells: list, *, header: _Header, limits: dict) -> ParsedRow | RowError:
    """One data row, or its problems as one RowError. Notes the row's currency in `header.currencies`.

    The common cells take a fast path (plain digits, plain money, printable text), checked to give exactly what
    `cells` would; anything else goes through `cells`."""
    positions = header.positions
    width = len(cells)

    def cell(field):
        index = positions.get(field)
        return cells[index] if index is not None and index < width else ""

    if "currency" in positions:
        currency = shown(cell("currency")).strip()
        if currency.lower() not in MISSING:
            header.currencies.setdefault(currency.upper(), f"line {line}")
    problems = []
    texts = {}
    for field, parse in (
        ("campaign_name", text_parse),
        ("campaign_id", id_parse),
        ("ad_name", text_parse),
        ("ad_id", id_parse),
    ):
        value = cell(field)
        if value.__class__ is str and value.isprintable() and len(value) <= limits[field]:
            text = value.strip()
            if parse is text_parse or text.lower() not in MISSING:
                texts[field] = text
                continue
        texts[field], problem = parse(value, max_length=limits[field])
        if problem:
            problems.append(f"{header.columns[field]}: {problem}")
    if not texts["campaign_name"] and not texts["campaign_id"] and not problems:
        problems.append("no campaign name")
    day, problem = date_parse(cell("date"))
    if problem:
        problems.append(f"{header.columns['date']}: {problem}")
    metrics: dict[str, int | Decimal] = {}
    for field, index, limit in header.metric_columns(limits):
        value = cells[index] if index < width else ""
        if value.__class__ is str and value.isascii():
            if limit.places == 0 and value.isdigit() and len(value) < 19 and int(value) <= limit.high:
                metrics[field] = int(value)
                continue
            if limit.places == 2 and limit.high >= _MONEY_HIGH and _MONEY_PLAIN.fullmatch(value):
                metrics[field] = Decimal(value).quantize(_CENT)
                continue
        metrics[field], problem = number_parse(value, limit=limit)
        if problem:
            problems.append(f"{header.columns[field]}: {problem}")
    rights = {}
    if "rights_expire_on" in header.positions and shown(cell("rights_expire_on")).strip().lower() not in MISSING:
        rights["rights_expire_on"], problem = date_parse(cell("rights_expire_on"))
        if problem:
            problems.append(f"{header.columns['rights_expire_on']}: {problem}")
    if "creator_name" in header.positions:
        rights["creator_name"], problem = text_parse(cell("creator_name"), max_length=limits["creator_name"])
        if problem:
            problems.append(f"{header.columns['creator_name']}: {problem}")
    if problems:
        return RowError(line, "; ".join(problems) + ".")
    return ParsedRow(line=line, date=day, metrics=metrics, **texts, **rights)


_CENT = Decimal("0.01")
_MONEY_HIGH = Decimal("999999999999.99")
