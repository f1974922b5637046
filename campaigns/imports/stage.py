"""An export's rows → the staging table `MetricImportRow` (issue 19), chunk by chunk (`file_stage`): the preview
holds a chunk of rows at a time, whatever the file's size, and the plan's checks and the commit read the staged
rows in SQL (`plan.import_plan`). PostgreSQL takes each chunk by COPY (psycopg's `cursor.copy`), SQLite by
`executemany`. `staged_delete` drops an import's rows; `staged_orphans_delete` those of imports long past (the
reconcile check `campaigns.imports`)."""

import dataclasses

from django.db import connection, transaction

from ..models import METRIC_FIELDS, ImportState, MetricImport, MetricImportRow
from .files import ImportFileError, file_lines
from .rows import RowError, RowReader

CHUNK_ROWS = 10_000  # rows held and written at once
MAX_ERRORS_SHOWN = 1_000
# Distinct (campaign id, campaign name, ad id, ad name) of one file: an export has one per ad (a few thousand);
# each is remembered while the file is read.
MAX_KEYS = 500_000
STAGE = MetricImportRow._meta.db_table
STAGE_COLUMNS = (
    "metric_import_id",
    "line",
    "key",
    "campaign_name",
    "campaign_platform_id",
    "ad_name",
    "ad_platform_id",
    "date",
    *METRIC_FIELDS,
    "rights_expire_on",
    "creator_name",
)
# The imports whose rows are still needed: being read, waiting for confirmation, being committed.
STAGED_STATES = (ImportState.QUEUED, ImportState.PARSING, ImportState.PREVIEW, ImportState.COMMITTING)


@dataclasses.dataclass
class StagedFile:
    """What reading a file into the staging table found (the rows themselves are in the table)."""

    format: str
    columns: dict[str, str]  # field → the header as written in the file
    unknown_columns: list[str]
    rows: int  # rows staged
    errors: list[RowError]  # the first MAX_ERRORS_SHOWN row errors of the parse, in line order
    error_count: int
    skipped: int
    currencies: dict[str, str]
    chunks: int = 0  # writes to the staging table


def file_stage(
    *, import_id: int, filename: str, content: bytes | None = None, handle=None, progress=None
) -> StagedFile:
    """Parse the file (as `rows.file_parse` does) into staging rows of `import_id`, CHUNK_ROWS at a time; a row
    that cannot be used is a RowError in the result (the first MAX_ERRORS_SHOWN kept, all counted). Raises
    ImportFileError as `file_parse` does, and for more than MAX_KEYS distinct campaign and ad names; rows already
    written then stay for the caller to delete (`staged_delete`) or roll back.

    A CSV's common row (names, day and cells like those of rows already parsed, every cell plain) is staged from
    its cell texts without making a ParsedRow (rows.TextLayout; issue 19: about 2.5 µs a row instead of 5): the
    database reads the same values from them."""
    file_format, lines = file_lines(content=content, filename=filename, handle=handle)
    reader = RowReader(lines, progress=progress)
    write_rows = _chunk_writer()

    def write(chunk: list[tuple]) -> int:  # the chunk written and emptied; returns how many rows it had
        write_rows(chunk)
        count = len(chunk)
        chunk.clear()
        return count

    keys: dict[tuple, int] = {}
    key_get = keys.get
    chunk: list[tuple] = []
    append = chunk.append
    errors: list[RowError] = []
    error_count = staged = chunks = 0
    layout = reader.parse.text_layout() if file_format == "csv" else None
    # The common row, staged from its cells as they are (rows.TextLayout): its raw name cells → the staging
    # columns (key, names) of the row they were first parsed in; its day and cost texts once checked.
    known: dict[tuple, tuple] = {}
    days: set[str] = set()
    costs: set[str] = set()
    for batch in reader.batches():
        taken = 0
        for line, cells in batch:
            if layout is not None and len(cells) > layout.last_index:
                prefix = known.get(layout.text_get(cells))
                day = cells[layout.date_index]
                cost = cells[layout.money_index]
                if (
                    prefix is not None
                    and day in days
                    and (cost in costs or (cost.isascii() and layout.money(cost) and _remember(costs, cost)))
                    and layout.counts("\t".join(counts := layout.count_get(cells)))
                    and (layout.currency_index is None or cells[layout.currency_index] in layout.currencies)
                    and not (layout.total_check and "total" in "".join(cells[:3]).lower())
                ):
                    append((import_id, line, *prefix, day, cost, *counts, None, ""))
                    taken += 1
                    if len(chunk) >= CHUNK_ROWS:
                        staged, chunks = staged + write(chunk), chunks + 1
                    continue
            reader.rows_taken(taken)  # before `row` counts against the cap
            taken = 0
            row = reader.row(line, cells)
            if row is None:
                continue
            if row.__class__ is RowError:
                error_count += 1
                if len(errors) < MAX_ERRORS_SHOWN:
                    errors.append(row)
                continue
            # A ParsedRow: (line, campaign name, campaign id, ad name, ad id, day, metrics, rights expiry, creator).
            names = row[1:5]
            key = key_get(names)
            if key is None:
                if len(keys) >= MAX_KEYS:
                    raise ImportFileError(
                        f"The file names more than {MAX_KEYS:,} different campaigns and ads. Export fewer at a time."
                    )
                key = keys[names] = len(keys) + 1
            append((import_id, row[0], key, *names, row[5], *row[6], row[7], row[8]))
            if layout is not None and len(cells) > layout.last_index and len(known) < MAX_KEYS:
                known.setdefault(layout.text_get(cells), (key, *names))
                day_text = cells[layout.date_index]
                if day_text == row[5].isoformat():
                    _remember(days, day_text)
            if len(chunk) >= CHUNK_ROWS:
                staged, chunks = staged + write(chunk), chunks + 1
        reader.rows_taken(taken)
    if chunk:
        staged, chunks = staged + write(chunk), chunks + 1
    header = reader.header
    return StagedFile(
        file_format,
        header.columns,
        header.unknown,
        staged,
        errors,
        error_count,
        reader.skipped,
        header.currencies,
        chunks,
    )


_TEXTS_MAX = 200_000  # distinct day and cost texts remembered


def _remember(texts: set, text: str) -> bool:
    if len(texts) < _TEXTS_MAX:
        texts.add(text)
    return True


def _chunk_writer():
    """A function writing a list of staging tuples (STAGE_COLUMNS order) in one statement."""
    columns = ", ".join(STAGE_COLUMNS)
    with connection.cursor() as cursor:
        copies = hasattr(cursor.cursor, "copy")  # psycopg 3 (PostgreSQL): COPY, as metrics.py does
    if copies:

        def write(chunk: list[tuple]) -> None:
            with connection.cursor() as cursor, cursor.cursor.copy(f"COPY {STAGE} ({columns}) FROM STDIN") as copy:
                for row in chunk:
                    copy.write_row(row)

        return write
    insert = f"INSERT INTO {STAGE} ({columns}) VALUES ({', '.join(['%s'] * len(STAGE_COLUMNS))})"  # noqa: S608  # nosec B608

    def write(chunk: list[tuple]) -> None:  # days and Decimals through the adapters Django registers
        # One transaction a chunk (in autocommit, SQLite would commit each row: a disk sync each).
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.executemany(insert, chunk)

    return write


def staged_delete(*, import_id: int) -> int:
    """Delete an import's staging rows (one statement). Returns how many."""
    return MetricImportRow.objects.filter(metric_import_id=import_id)._raw_delete(MetricImportRow.objects.db)


def staged_orphans_delete(*, older_than) -> int:
    """Delete the staging rows of imports that no longer need them: gone, or committed, discarded or failed, or
    waiting since before `older_than` (a preview nobody confirmed). Returns how many rows."""
    needed = MetricImport.objects.filter(state__in=STAGED_STATES, progress_at__gte=older_than)
    stale = (
        MetricImportRow.objects.exclude(metric_import_id__in=needed.values("pk"))
        .values_list("metric_import_id", flat=True)
        .distinct()
    )
    deleted = 0
    for import_id in list(stale):
        deleted += staged_delete(import_id=import_id)
    return deleted
