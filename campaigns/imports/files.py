"""An uploaded export's bytes → its lines of cells, or ImportFileError with a message for the user.

CSV is decoded (UTF-8 with or without BOM, or UTF-16 with BOM) and read with the delimiter of its first line.

An XLSX workbook is checked as an archive before openpyxl parses any of it: its size, number of parts,
compression ratio, no DTD in any part, and how many elements, cells and shared strings it holds. openpyxl's
cost is the number of elements (it makes a Python object of each: ~90 bytes and ~3 µs), and it builds all of a
row before it hands the row over, so the sheet is also read through a meter that stops a single row from growing
past MAX_XLSX_ROW_BYTES. Measured on this project's machine: a 50,000-row export with 39 columns (60 MB of XML,
1.95 million cells) reads in 11 to 15 s; a workbook at the shared-strings limit is refused or read in about 3 s;
one row of 2 million cells, which took openpyxl 1.3 GB, is refused at once.

Files are read as a stream (`file_lines(handle=...)`): a CSV is decoded chunk by chunk, never held whole as bytes
or text, so a 2,000,000-row export (issue 19) costs its rows, not its size twice over. The workbook limits grow with
the row cap, except for the parts openpyxl parses whole (styles, workbook, shared strings), which keep the small
per-part bound MAX_XLSX_PART_ELEMENTS."""

import codecs
import csv
import io
import itertools
import re
import zipfile
import zlib
from collections.abc import Iterator

# 2,000,000 rows (rows.MAX_ROWS) of an export with 15 to 40 columns: 150 to 500 bytes a row as CSV.
MAX_UPLOAD_BYTES = 512 * 1024 * 1024
# A 50,000-row export with 30 columns is about 48 MB of XML: 2,000,000 rows about 2 GB. Streamed, never held.
MAX_XLSX_UNCOMPRESSED_BYTES = 2048 * 1024 * 1024
# An export has some 20 to 40 cells per row, each two or three elements (<c><v>, <c><is><t>): 2,000,000 rows of
# 30 cells are some 150 million elements, read row by row from the worksheet.
MAX_XLSX_ELEMENTS = 160_000_000
MAX_XLSX_CELLS = 64_000_000
# What bounds a part openpyxl parses whole (styles, workbook, shared strings; anything but a worksheet): ~540 MB.
MAX_XLSX_PART_ELEMENTS = 6_000_000
MAX_XLSX_SHARED_STRINGS = 300_000
MAX_XLSX_ROW_BYTES = 1024 * 1024  # 16,384 cells (Excel's last column) of 60 bytes; an export's row is < 10 KB
MAX_XLSX_ENTRIES = 2_000
MAX_COMPRESSION_RATIO = 200
MAX_COLUMNS = 512  # Ads Manager exports have well under 100 columns; cells further right are dropped
BINARY_SAMPLE = 8192

# Office Open XML parts never declare a DTD (the Open Packaging Conventions forbid it), so one in any part is a
# crafted file: refused before an XML parser sees it (entity expansion, external references). Searched as ASCII
# and as UTF-16, the encodings an XML parser detects by itself.
_DTD_MARKERS = tuple(
    marker.encode(encoding) for marker in ("<!doctype", "<!entity") for encoding in ("ascii", "utf-16-le", "utf-16-be")
)
# Counted in every part, whatever openpyxl will use it for. "<" only ever starts markup in XML (text and
# attribute values escape it), so elements = "<" less end tags, comments, CDATA and declarations: a count that
# can be too high (a "<" inside a comment), never too low. Cells and shared strings are counted by name, with or
# without a namespace prefix ("<c r=", "<x:si>", "<c/>"). A match holds one "<" only, so matches never overlap:
# counting in (the previous chunk's end + this chunk) less what that end holds alone counts each one once.
_MARKUP = {b"<": 1, b"</": -1, b"<!": -1, b"<?": -1}
_CELL = re.compile(rb"<(?:[^\s<>/!?:=\"']+:)?c[\s/>]")
_SHARED_STRING = re.compile(rb"<(?:[^\s<>/!?:=\"']+:)?si[\s/>]")
_OVERLAP = 32  # bytes: longer than any DTD marker
_SCAN_CHUNK = 1024 * 1024
_UNSAFE_FILENAME = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


class ImportFileError(Exception):
    """The whole file is unusable; the message says why and what to do."""


def safe_filename(name: str) -> str:
    """A name for storing the upload: ASCII letters, digits, ".", "_" and "-" only."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", name.rsplit("/", 1)[-1].rsplit("\\", 1)[-1]).strip("-.")
    return (stem or "export")[-80:]


def display_filename(name: str) -> str:
    """The upload's name as shown and stored (`MetricImport.filename`): no control characters, which PostgreSQL
    text and JSON refuse, whatever path the name came by."""
    return _UNSAFE_FILENAME.sub("", name or "").strip()[:255] or "export"


def upload_read(upload) -> bytes:
    """The uploaded file's bytes, refusing more than MAX_UPLOAD_BYTES without reading it all."""
    if upload is None:
        raise ImportFileError("Choose a CSV or XLSX file to import.")
    if upload.size is not None and upload.size > MAX_UPLOAD_BYTES:
        raise ImportFileError(_too_big(upload.size))
    content = upload.read(MAX_UPLOAD_BYTES + 1)
    if len(content) > MAX_UPLOAD_BYTES:
        raise ImportFileError(_too_big(len(content)))
    if not content.strip():
        raise ImportFileError("The file is empty.")
    return content


def upload_check(upload) -> None:
    """Refuse a missing, empty or too big upload without reading it (the preview streams it later)."""
    if upload is None:
        raise ImportFileError("Choose a CSV or XLSX file to import.")
    size = upload.size
    if size is None:
        upload.seek(0, io.SEEK_END)
        size = upload.tell()
    if size > MAX_UPLOAD_BYTES:
        raise ImportFileError(_too_big(size))
    upload.seek(0)
    head = upload.read(BINARY_SAMPLE)
    upload.seek(0)
    if not head.strip() and (size <= BINARY_SAMPLE or not _has_text(upload)):
        raise ImportFileError("The file is empty.")


def _has_text(upload) -> bool:
    try:
        return any(chunk.strip() for chunk in upload.chunks())
    finally:
        upload.seek(0)


def _too_big(size: int) -> str:
    return (
        f"The file is {size / 1024 / 1024:.1f} MB; the limit is {MAX_UPLOAD_BYTES // 1024 // 1024} MB. "
        "Export a shorter date range, or split the file."
    )


def file_lines(*, content: bytes | None = None, filename: str, handle=None) -> tuple[str, Iterator[tuple[int, list]]]:
    """("csv" or "xlsx", the file's (line number, cells) one by one), from `content` or from `handle` (a binary,
    seekable file, read as a stream). The line is the file's line for CSV (of a row's last line when a quoted
    cell spans several), the sheet's row for XLSX. Raises ImportFileError at once for a file of the wrong kind,
    and while iterating for one that breaks further in (a byte that is not UTF-8 far down the file)."""
    if handle is None:
        handle = io.BytesIO(content)
    head = handle.read(BINARY_SAMPLE)
    handle.seek(0)
    if head.startswith(b"PK\x03\x04"):
        return "xlsx", _xlsx_rows(handle)
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise ImportFileError("This is an old Excel .xls file. Save it as .xlsx or CSV UTF-8 and upload that.")
    if filename.lower().endswith((".xlsx", ".xlsm")):
        raise ImportFileError("The file is named .xlsx but is not an Excel workbook. Export it again.")
    return "csv", _csv_rows(_decode(handle, head))


_NOT_UTF8 = "The file is not UTF-8 text. In Excel choose “CSV UTF-8” (or upload the .xlsx) and try again."


def _decode(handle, head: bytes) -> io.TextIOBase:
    """The file as a text stream, after checking its first BINARY_SAMPLE bytes: a stray control character further
    in is a row error (with its line), not a binary file."""
    if head.startswith(codecs.BOM_UTF8):
        encoding = "utf-8-sig"
    elif head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding = "utf-16"  # Excel's "Unicode text" export
    else:
        if b"\x00" in head:
            raise ImportFileError("This looks like a binary file, not a CSV or XLSX export.")
        encoding = "utf-8"
    try:
        sample = codecs.getincrementaldecoder(encoding)().decode(head, final=len(head) < BINARY_SAMPLE)
    except UnicodeDecodeError:
        raise ImportFileError(_NOT_UTF8) from None
    controls = sum(1 for ch in sample if ord(ch) < 32 and ch not in "\r\n\t")
    if "\x00" in sample or controls > len(sample) // 100 + 1:
        raise ImportFileError("This looks like a binary file, not a CSV or XLSX export.")
    return io.TextIOWrapper(handle, encoding=encoding, newline="")


def _csv_rows(text: io.TextIOBase):
    try:
        first_line = text.readline()
        text.seek(0)
    except UnicodeDecodeError:
        raise ImportFileError(_NOT_UTF8) from None
    delimiter = max(",;\t", key=first_line.lstrip("\ufeff").count)
    reader = csv.reader(itertools.chain.from_iterable(_text_chunks(text)), delimiter=delimiter)
    try:
        for cells in reader:
            yield reader.line_num, cells
    except csv.Error as e:
        raise ImportFileError(f"The CSV cannot be read near line {reader.line_num}: {e}.") from None
    except UnicodeDecodeError:
        raise ImportFileError(_NOT_UTF8) from None


_READ_CHUNK = 1024 * 1024  # characters


def _text_chunks(text: io.TextIOBase):
    """The text stream as line iterators over chunks of about _READ_CHUNK characters: the csv module then reads
    lines from memory instead of asking the stream for each one (which, through a Django File, is several
    Python calls a line). Lines end as the stream's own (newline=""): a chunk is cut after its last "\n", or
    after its last "\r" but one at its very end (the first half of a "\r\n")."""
    carry = ""
    while chunk := text.read(_READ_CHUNK):
        chunk = carry + chunk
        cut = max(chunk.rfind("\n"), chunk.rfind("\r", 0, len(chunk) - 1)) + 1
        carry = chunk[cut:]
        if cut:
            yield io.StringIO(chunk[:cut], newline="")
    if carry:
        yield io.StringIO(carry, newline="")


def _xlsx_check(handle) -> None:
    """Refuse an archive that is not a plausible workbook before anything inflates or parses it."""
    damaged = "The file looks like a damaged Excel workbook. Export it again."
    try:
        archive = zipfile.ZipFile(handle)
        entries = archive.infolist()
    except (zipfile.BadZipFile, ValueError, OSError, EOFError):
        raise ImportFileError(damaged) from None
    if len(entries) > MAX_XLSX_ENTRIES:
        raise ImportFileError("The workbook has too many parts to be an Ads Manager export.")
    total = sum(e.file_size for e in entries)
    if total > MAX_XLSX_UNCOMPRESSED_BYTES or any(
        e.file_size > 1024 * 1024 and e.file_size > MAX_COMPRESSION_RATIO * max(e.compress_size, 1) for e in entries
    ):
        raise ImportFileError(_BOMB)
    if "xl/workbook.xml" not in {e.filename for e in entries}:
        raise ImportFileError("The file is a ZIP archive but not an Excel workbook.")
    try:
        counts = {"elements": 0, "cells": 0, "shared strings": 0}
        for entry in entries:
            _part_scan(archive, entry, counts=counts)
    except (zipfile.BadZipFile, RuntimeError, OSError, EOFError, zlib.error, NotImplementedError):
        raise ImportFileError(damaged) from None  # encrypted, truncated, bad CRC, unknown compression


_BOMB = "The workbook expands to far more data than an export holds (a “zip bomb”?). Nothing was imported."


def _part_scan(archive: zipfile.ZipFile, entry: zipfile.ZipInfo, *, counts: dict) -> None:
    """Inflate one part in chunks (zipfile never goes past its declared size, so all parts together are at
    most MAX_XLSX_UNCOMPRESSED_BYTES): refuse a DTD, and a workbook with more elements than openpyxl should
    build. Each chunk is searched together with the end of the one before, so a marker split between two chunks
    is found."""
    whole = not entry.filename.startswith("xl/worksheets/")  # openpyxl parses it in one piece
    part_elements = counts["elements"]
    with archive.open(entry) as part:
        tail = b""
        while chunk := part.read(_SCAN_CHUNK):
            window = tail + chunk.lower()
            if any(marker in window for marker in _DTD_MARKERS):
                raise ImportFileError(
                    "The workbook contains a document type declaration (<!DOCTYPE …>), which Excel never "
                    "writes. Open it in Excel, save it again as .xlsx and retry."
                )
            for what, pattern in (("cells", _CELL), ("shared strings", _SHARED_STRING)):
                counts[what] += len(pattern.findall(window)) - len(pattern.findall(tail))
            counts["elements"] += sum(n * (window.count(m) - tail.count(m)) for m, n in _MARKUP.items())
            if (
                counts["elements"] > MAX_XLSX_ELEMENTS
                or counts["cells"] > MAX_XLSX_CELLS
                or counts["shared strings"] > MAX_XLSX_SHARED_STRINGS
                or (whole and counts["elements"] - part_elements > MAX_XLSX_PART_ELEMENTS)
            ):
                raise ImportFileError(_BOMB)
            tail = window[-_OVERLAP:]


class _MeteredSheet:
    """The sheet's stream as openpyxl reads it, refusing to be read more than MAX_XLSX_ROW_BYTES past the last
    row openpyxl handed over (`row_done`): openpyxl holds every element of a row until the row is complete."""

    def __init__(self, raw):
        self.raw = raw
        self.read_bytes = self.mark = 0

    def read(self, size: int = -1) -> bytes:
        data = self.raw.read(size)
        self.read_bytes += len(data)
        if self.read_bytes - self.mark > MAX_XLSX_ROW_BYTES:
            raise ImportFileError(_BOMB)
        return data

    def row_done(self) -> None:
        self.mark = self.read_bytes

    def close(self) -> None:
        self.raw.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _xlsx_rows(handle):
    _xlsx_check(handle)
    handle.seek(0)
    import openpyxl  # only XLSX uploads pay for loading it

    unreadable = "The workbook cannot be read. Open it in Excel, save it again and retry."
    # openpyxl raises many types for broken workbooks (KeyError, ValueError, TypeError, XML ParseError, …):
    # whichever it is, the user needs the same message, never a server error.
    try:
        workbook = openpyxl.load_workbook(handle, read_only=True, data_only=True)
    except Exception:
        raise ImportFileError(unreadable) from None
    try:
        try:
            sheet = workbook.worksheets[0]
            # The sheet's <dimension> is the file's claim ("A1:XFD1048576"); without this openpyxl pads every
            # row to it. Rows then have the width of their own cells.
            sheet.reset_dimensions()
            # openpyxl opens the sheet's stream through this (read-only worksheets re-open it per iteration).
            streams: list[_MeteredSheet] = []
            open_sheet = sheet._get_source
            sheet._get_source = lambda: streams.append(_MeteredSheet(open_sheet())) or streams[-1]
            rows = sheet.iter_rows(values_only=True)
        except Exception:
            raise ImportFileError(unreadable) from None
        number = 0
        while True:
            try:
                values = next(rows)
            except StopIteration:
                return
            except ImportFileError:
                raise
            except Exception:
                raise ImportFileError(
                    f"The workbook cannot be read after row {number:,}. Open it in Excel, save it again and retry."
                ) from None
            for stream in streams:
                stream.row_done()
            number += 1
            yield number, ["" if v is None else v for v in values[:MAX_COLUMNS]]
    finally:
        workbook.close()
