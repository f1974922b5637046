"""An export's lines → its header and daily rows (`file_parse`).

Headers are matched by name, case-insensitively, with the synonyms in HEADER_SYNONYMS; a money column may carry
its currency ("Cost (USD)", "CPC (destination) (USD)"); unknown columns are ignored (and listed). The file's
currencies, from such headers and from a "Currency" column, are collected for the plan to compare with the
account's. The "Total of N results" row and blank rows are skipped; a row that cannot be used becomes a RowError
with its line number, and the other rows still parse, so the preview can list every problem at once."""

import dataclasses
import datetime as dt
import itertools
import operator
import re
from decimal import Decimal
from typing import NamedTuple

from ..models import METRIC_FIELDS, Campaign, ContentItem, DailyMetric
from .cells import MISSING, date_parse, id_parse, metric_limits, number_parse, shown, text_parse
from .files import ImportFileError, file_lines

MAX_ROWS = 2_000_000  # issue 19: parsed in a background task, committed at database speed
PROGRESS_EVERY = 20_000  # lines between two calls of file_parse's `progress`
BATCH_LINES = 5_000  # lines read at once (RowReader.batches)
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


class ParsedRow(NamedTuple):
    """One usable row: a plain tuple (one of up to 2,000,000 held at once). `metrics` holds every METRIC_FIELDS
    value in that order (0 for a column the file does not have)."""

    line: int
    campaign_name: str
    campaign_id: str
    ad_name: str
    ad_id: str
    date: dt.date
    metrics: tuple
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


COUNT_CHUNK_BYTES = 1 << 20


def rows_count(*, handle, filename: str) -> int:
    """How many rows a CSV has, for the progress's total, and so that a file far past MAX_ROWS is refused before
    any row is parsed (0 for a workbook: counting its rows costs as much as reading them). Raises ImportFileError
    as `file_parse` does (also for more than MAX_ROWS + HEADER_SEARCH_ROWS lines: more rows than the cap,
    whatever the header).

    A UTF-8 file's line ends are counted in its bytes, about thirty times faster than the csv module reads it
    (issue 19: 1.2 s of a 1,000,000-row preview): exact for an export, a little over for blank lines or cells
    spanning lines. Past the cap, and for UTF-16, the csv module counts the non-blank rows exactly."""
    file_format, _lines = file_lines(filename=filename, handle=handle)  # the file's kind and encoding checked
    if file_format != "csv":
        return 0
    cap = MAX_ROWS + HEADER_SEARCH_ROWS
    if not handle.read(2).startswith((b"\xff\xfe", b"\xfe\xff")):  # not UTF-16: "\n" is one byte
        handle.seek(0)
        count, last = 0, b"\n"
        while chunk := handle.read(COUNT_CHUNK_BYTES):
            count += chunk.count(b"\n")
            last = chunk[-1:]
        count += last != b"\n"  # a last line without its line end
        handle.seek(0)
        if count <= cap:
            return count
    handle.seek(0)
    count = 0
    for _, cells in file_lines(filename=filename, handle=handle)[1]:
        if cells and any(cells):
            count += 1
            if count > cap:
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
    reader = RowReader(lines, progress=progress)
    rows: list[ParsedRow] = []
    errors: list[RowError] = []
    for row in reader:
        (errors if row.__class__ is RowError else rows).append(row)
    header = reader.header
    return ParsedFile(file_format, header.columns, header.unknown, rows, errors, reader.skipped, header.currencies)


def row_limits() -> dict:
    """{field: its Limit (metrics) or max_length (names, ids)}: what a parsed value must fit."""
    return {
        **metric_limits(DailyMetric),
        "campaign_name": Campaign._meta.get_field("name").max_length,
        "ad_name": ContentItem._meta.get_field("title").max_length,
        "campaign_id": Campaign._meta.get_field("platform_id").max_length,
        "ad_id": ContentItem._meta.get_field("platform_id").max_length,
        "creator_name": ContentItem._meta.get_field("creator_name").max_length,
    }


class RowReader:
    """A file's lines → its rows one by one (ParsedRow or RowError, in line order), holding none of them: the
    header is read at once (`header`: ImportFileError when there is none); `skipped` counts blank and total
    rows once iterated. `batches` and `row` are the same iteration in two parts, for a caller that takes the
    common rows a faster way (`stage.file_stage`) and hands the others to `row`."""

    def __init__(self, lines, *, progress=None):
        self.lines = iter(lines)
        self.header = _header_find(self.lines)
        self.progress = progress
        self.skipped = 0
        self.count = 0  # rows handed to the parser (not blank, not a total)
        self.parse = _RowParser(header=self.header, limits=row_limits())
        self._total_row = TOTAL_ROW.match

    def __iter__(self):
        row_of = self.row
        for batch in self.batches():
            for line, cells in batch:
                row = row_of(line, cells)
                if row is not None:
                    yield row

    def batches(self):
        """The lines as lists of at most BATCH_LINES (line, cells); `progress(lines read)` is called after every
        PROGRESS_EVERY lines. Blank rows are skipped, not counted as rows, but a sheet of a million empty rows
        must not be read to its end: ImportFileError past 2 × MAX_ROWS lines."""
        progress, lines = self.progress, self.lines
        max_lines = 2 * MAX_ROWS + HEADER_SEARCH_ROWS
        seen = 0
        while batch := list(itertools.islice(lines, BATCH_LINES)):
            if seen + len(batch) > max_lines:
                yield batch[: max_lines - seen]
                raise ImportFileError(f"The file has more than {max_lines:,} lines. Export a shorter date range.")
            yield batch
            if progress is not None and (seen + len(batch)) // PROGRESS_EVERY > seen // PROGRESS_EVERY:
                progress(seen + len(batch))
            seen += len(batch)

    def rows_taken(self, count: int) -> None:
        """Count `count` rows a caller took without `row` (ImportFileError past MAX_ROWS)."""
        self.count += count
        if self.count > MAX_ROWS:
            raise ImportFileError(f"The file has more than {MAX_ROWS:,} rows. Export a shorter date range.")

    def row(self, line: int, cells: list) -> ParsedRow | RowError | None:
        """One line's row; None for a blank or total row (counted in `skipped`)."""
        try:  # a CSV's cells are all text: one join tells blank rows and the "Total" row apart
            joined = "".join(cells)
            if not joined or joined.isspace():
                self.skipped += 1
                return None
            texts = "".join(cells[:3]).lower()
        except TypeError:  # a workbook's numbers and dates
            texts = None
            if not any(str(c).strip() for c in cells):
                self.skipped += 1
                return None
        if self.count >= MAX_ROWS:
            raise ImportFileError(f"The file has more than {MAX_ROWS:,} rows. Export a shorter date range.")
        if (texts is None or "total" in texts) and any(self._total_row(str(c)) for c in cells[:3] if str(c).strip()):
            self.skipped += 1
            return None
        self.count += 1
        return self.parse(line, cells, texts is not None)


_MONEY_PLAIN = re.compile(r"\d{1,12}(?:\.\d{1,2})?")  # "1234.50": at most 999,999,999,999.99, read as it is
_CACHE_MAX = 200_000  # distinct cell texts remembered per column (dates, money, names)


class TextLayout(NamedTuple):
    """The cells of a row `stage.file_stage` can stage as they are, and how to check them (`_RowParser.text_layout`).

    A row is taken this way when its name and id cells are those of a row parsed before (their texts, as
    parsed, are then known), its day is a "YYYY-MM-DD" parsed before, its cost plain ("1234.50", at most
    999,999,999,999.99) and every count 1 to `digits` ASCII digits (so it fits its column): the database then
    reads the same values from the texts as from what `_RowParser` would make of them. A known name is never
    blank and never a "Total" row's; when the first three columns are not all names, day and metrics,
    `total_check` says to look for "total" in them first. Anything else goes through `RowReader.row`."""

    text_get: object  # cells → the raw name and id cells (the key of the texts parsed from them)
    date_index: int
    money_index: int
    count_get: object  # cells → the count cells in METRIC_FIELDS order (all of them: spend is apart)
    counts: object  # the count cells joined by tabs → a match when all are plain
    money: object  # a cost cell → a match when it is plain (after isascii())
    last_index: int
    currency_index: int | None
    currencies: dict  # the currency cells already noted (a row with another goes through `row`)
    total_check: bool


class _RowParser:
    """`(line, cells, all_text) → ParsedRow | RowError` for one file's header. The common cells take a fast
    path checked to give exactly what `cells` would; anything else goes through `cells`. What repeats is worked
    out once: a day per distinct date text, a name per distinct name (one string shared by all its rows), money
    per distinct amount."""

    def __init__(self, *, header: _Header, limits: dict):
        self.header, self.limits = header, limits
        positions = header.positions
        self.texts = [
            (field, positions.get(field), parse, limits[field])
            for field, parse in (
                ("campaign_name", text_parse),
                ("campaign_id", id_parse),
                ("ad_name", text_parse),
                ("ad_id", id_parse),
            )
        ]
        self.date_index = positions["date"]
        self.currency_index = positions.get("currency")
        self.rights = "rights_expire_on" in positions or "creator_name" in positions
        columns = header.metric_columns(limits)
        slot = {f: n for n, f in enumerate(METRIC_FIELDS)}
        self.metric_columns = [(slot[f], index, limit, f) for f, index, limit in columns]
        # The fast path's layout: the count columns read at once, money (spend, slot 0) apart.
        counts = [(slot, index, limit) for slot, index, limit, _ in self.metric_columns if limit.places == 0]
        money = [(slot, index, limit) for slot, index, limit, _ in self.metric_columns if limit.places != 0]
        self.int_slots = [slot for slot, _, _ in counts]
        self.int_get = _getter([index for _, index, _ in counts])
        self.int_high = min((limit.high for _, _, limit in counts), default=0)
        plain_money = len(money) == 1 and money[0][0] == 0 and money[0][2].places == 2
        plain_money = plain_money and money[0][2].high >= _MONEY_HIGH
        self.money_index = money[0][1] if plain_money else None
        self.fast = plain_money or not money
        self.simple = plain_money and len(self.metric_columns) == len(METRIC_FIELDS)
        present = [index for _, index, _, _ in self.texts if index is not None]
        self.text_get = _getter(present)
        self.known_texts: dict = {}  # the raw name and id cells of a row → its texts, once checked
        used = [*present, self.date_index, *(index for _, index, _, _ in self.metric_columns)]
        if self.currency_index is not None:  # read on the fast path too: a row short of it takes the careful one
            used.append(self.currency_index)
        self.last_index = max(used) if self.fast else 1 << 30  # no fast path for other money columns
        self.dates: dict = {}
        self.money: dict = {}
        self.ints: dict = {}
        self.currencies: dict = {}

    def text_layout(self) -> "TextLayout | None":
        """How `stage.file_stage` can take a CSV row of plain cells without parsing it (None when this file's
        columns have no such way: money other than the spend alone, a metric column missing, the usage-rights
        columns). See TextLayout."""
        if not self.simple or self.rights:
            return None
        digits = len(str(self.int_high)) - 1  # any number of this many digits fits every count column
        counts = len(self.int_slots)
        covered = {*(i for _, i, _, _ in self.texts if i is not None), self.date_index}
        covered |= {index for _, index, _, _ in self.metric_columns}
        return TextLayout(
            text_get=self.text_get,
            date_index=self.date_index,
            money_index=self.money_index,
            count_get=self.int_get,
            counts=re.compile(r"\t".join([f"[0-9]{{1,{digits}}}"] * counts)).fullmatch,
            money=_MONEY_PLAIN.fullmatch,
            last_index=self.last_index,
            currency_index=self.currency_index,
            currencies=self.currencies,
            total_check=not set(range(3)) <= covered,
        )

    def cell(self, cells: list, index: int | None):
        return cells[index] if index is not None and index < len(cells) else ""

    def __call__(self, line: int, cells: list, all_text: bool) -> ParsedRow | RowError:
        if all_text and len(cells) > self.last_index and not self.rights:
            texts = self.known_texts.get(self.text_get(cells))
            found = self.dates.get(cells[self.date_index])
            if texts is not None and found is not None and not found[1]:
                metrics = self._metrics_fast(cells)
                if metrics is not None:
                    if self.currency_index is not None:
                        self._currency_note(line, cells[self.currency_index])
                    return _new_row(ParsedRow, (line, *texts, found[0], metrics, None, ""))
        return self._row_parse(line, cells, all_text)

    def _metrics_fast(self, cells: list) -> tuple | None:
        """The metrics of a row of plain numbers (counts as digits, money as "1234.50"), else None."""
        try:
            counts = list(map(int, self.int_get(cells)))
        except ValueError:
            return None
        if counts and (min(counts) < 0 or max(counts) > self.int_high):
            return None
        if len(self.ints) < _CACHE_MAX:  # one int object per distinct count (past 256 each is 28 bytes)
            counts = list(map(self.ints.setdefault, counts, counts))
        money = ()
        if self.money_index is not None:
            value = cells[self.money_index]
            amount = self.money.get(value)
            if amount is None:
                if not (value.isascii() and _MONEY_PLAIN.fullmatch(value)):
                    return None
                amount = Decimal(value).quantize(_CENT)
                if len(self.money) < _CACHE_MAX:
                    self.money[value] = amount
            money = (amount,)
        if self.simple:
            return (*money, *counts)
        values = [0] * len(METRIC_FIELDS)
        for slot, value in zip(self.int_slots, counts, strict=True):
            values[slot] = value
        if money:
            values[0] = money[0]
        return tuple(values)

    def _row_parse(self, line: int, cells: list, all_text: bool) -> ParsedRow | RowError:
        header, cell = self.header, self.cell
        if self.currency_index is not None:
            self._currency_note(line, cell(cells, self.currency_index))
        problems = []
        texts = []
        for field, index, parse, limit in self.texts:
            text, problem = self._text(cell(cells, index), parse, limit)
            if problem:
                problems.append(f"{header.columns[field]}: {problem}")
            texts.append(text)
        if not texts[0] and not texts[1] and not problems:
            problems.append("no campaign name")
        if not problems and all_text and len(cells) > self.last_index and len(self.known_texts) < _CACHE_MAX:
            self.known_texts[self.text_get(cells)] = tuple(texts)
        value = cell(cells, self.date_index)
        found = self.dates.get(value) if value.__class__ is str else None
        if found is None:
            found = date_parse(value)
            if value.__class__ is str and len(self.dates) < _CACHE_MAX:
                self.dates[value] = found
        day, problem = found
        if problem:
            problems.append(f"{header.columns['date']}: {problem}")
        metrics = self._metrics(cells, problems)
        rights = (None, "")
        if self.rights:
            rights = self._rights(line, cells, problems)
        if problems:
            return RowError(line, "; ".join(problems) + ".")
        return _new_row(ParsedRow, (line, *texts, day, metrics, *rights))

    def _text(self, value, parse, limit) -> tuple[str, str]:
        if value.__class__ is str and value.isprintable() and len(value) <= limit:
            text = value.strip()
            if parse is text_parse or text.lower() not in MISSING:
                return text, ""
        return parse(value, max_length=limit)

    def _currency_note(self, line: int, value) -> None:
        if value.__class__ is str and value in self.currencies:
            return
        currency = shown(value).strip()
        if currency.lower() not in MISSING:
            self.header.currencies.setdefault(currency.upper(), f"line {line}")
        if value.__class__ is str and len(self.currencies) < _CACHE_MAX:
            self.currencies[value] = True

    def _metrics(self, cells: list, problems: list) -> tuple:
        values = [0] * len(METRIC_FIELDS)
        width = len(cells)
        for slot, index, limit, field in self.metric_columns:
            value = cells[index] if index < width else ""
            if limit.places == 0:
                if value.__class__ is str and value.isascii() and value.isdigit() and len(value) < 19:
                    number = int(value)
                    if number <= limit.high:
                        values[slot] = number
                        continue
                values[slot], problem = number_parse(value, limit=limit)
                if problem:
                    problems.append(f"{self.header.columns[field]}: {problem}")
            else:
                values[slot] = self._money(value, limit, field, problems)
        return tuple(values)

    def _money(self, value, limit, field: str, problems: list):
        if value.__class__ is str:
            known = self.money.get(value)
            if known is not None:
                return known
            if value.isascii() and limit.places == 2 and limit.high >= _MONEY_HIGH and _MONEY_PLAIN.fullmatch(value):
                money = Decimal(value).quantize(_CENT)
                if len(self.money) < _CACHE_MAX:
                    self.money[value] = money
                return money
        money, problem = number_parse(value, limit=limit)
        if problem:
            problems.append(f"{self.header.columns[field]}: {problem}")
        return money

    def _rights(self, line: int, cells: list, problems: list) -> tuple:
        header, cell, positions = self.header, self.cell, self.header.positions
        expire, creator = None, ""
        if "rights_expire_on" in positions:
            value = cell(cells, positions["rights_expire_on"])
            if shown(value).strip().lower() not in MISSING:
                expire, problem = date_parse(value)
                if problem:
                    problems.append(f"{header.columns['rights_expire_on']}: {problem}")
        if "creator_name" in positions:
            creator, problem = text_parse(
                cell(cells, positions["creator_name"]), max_length=self.limits["creator_name"]
            )
            if problem:
                problems.append(f"{header.columns['creator_name']}: {problem}")
        return expire, creator


def _getter(indexes: list[int]):
    """cells → the tuple of the cells at `indexes` (itemgetter, also for one or no index)."""
    if len(indexes) > 1:
        return operator.itemgetter(*indexes)
    return lambda cells: tuple(cells[i] for i in indexes)


_new_row = tuple.__new__
_CENT = Decimal("0.01")
_MONEY_HIGH = Decimal("999999999999.99")
