"""Reading TikTok Ads Manager exports (CSV or XLSX) into daily metric rows, and planning what importing them does.

Reads only; `services.metric_import_*` do the writes. Contracts:
- `upload_read` / `file_parse` raise ImportFileError with a message for the user when the file as a whole cannot
  be used (too big, wrong type, binary, zip bomb, not UTF-8/UTF-16, no known headers, no date column);
- a row that cannot be used becomes a RowError with its line number (the file's line for CSV, the sheet's row
  for XLSX); other rows still parse, so the preview can list every problem at once;
- headers are matched by name, case-insensitively, with the synonyms in HEADER_SYNONYMS; unknown columns are
  ignored (and listed); the "Total of N results" row and blank rows are skipped; "-", "N/A" and empty cells
  mean 0; "1,234.50" is 1234.50.

Matching rows to campaigns (`import_plan`): by Campaign ID when the file has one, else by exact campaign name
within the account. A campaign the account does not have is created on commit for manual accounts (the preview
lists it); for connected accounts it is a row error, because the platform sync owns that account's campaigns.
"""

import codecs
import csv
import dataclasses
import datetime as dt
import io
import re
import zipfile
from collections import defaultdict
from decimal import Decimal, InvalidOperation

from django.db.models import Q

from .models import METRIC_FIELDS, AdAccount, Campaign, ContentItem, DailyMetric

MAX_UPLOAD_BYTES = 10 * 1024 * 1024
MAX_ROWS = 50_000
MAX_XLSX_UNCOMPRESSED_BYTES = 100 * 1024 * 1024
MAX_XLSX_ENTRIES = 2_000
MAX_COMPRESSION_RATIO = 200
MAX_ERRORS_SHOWN = 1_000
HEADER_SEARCH_ROWS = 10

HEADER_SYNONYMS: dict[str, tuple[str, ...]] = {
    "campaign_name": ("campaign name", "campaign"),
    "campaign_id": ("campaign id",),
    "ad_name": ("ad name",),
    "ad_id": ("ad id",),
    "date": ("by day", "date", "day", "stat time day"),
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
}
HEADER_TO_FIELD = {synonym: field for field, synonyms in HEADER_SYNONYMS.items() for synonym in synonyms}
FIELD_LABELS = {field: synonyms[0].capitalize() for field, synonyms in HEADER_SYNONYMS.items()}
FIELD_LABELS |= {"date": "By Day", "clicks": "Clicks (destination)", "campaign_id": "Campaign ID", "ad_id": "Ad ID"}
MISSING = frozenset({"", "-", "--", "n/a", "na", "null"})
TOTAL_ROW = re.compile(r"^\s*total(\s+of\s+[\d,.]+\s+results?)?\s*$", re.IGNORECASE)


class ImportFileError(Exception):
    """The whole file is unusable; the message says why and what to do."""


@dataclasses.dataclass
class RowError:
    line: int
    message: str


@dataclasses.dataclass
class ParsedRow:
    line: int
    campaign_name: str
    campaign_id: str
    ad_name: str
    ad_id: str
    date: dt.date
    metrics: dict[str, int | Decimal]

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


def safe_filename(name: str) -> str:
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", name.rsplit("/", 1)[-1].rsplit("\\", 1)[-1]).strip("-.")
    return (stem or "export")[-80:]


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


def _too_big(size: int) -> str:
    return (
        f"The file is {size / 1024 / 1024:.1f} MB; the limit is {MAX_UPLOAD_BYTES // 1024 // 1024} MB. "
        "Export a shorter date range, or split the file."
    )


def file_parse(*, content: bytes, filename: str) -> ParsedFile:
    name = filename.lower()
    if content.startswith(b"PK\x03\x04"):
        return _parsed(_xlsx_rows(content), "xlsx")
    if content.startswith(b"\xd0\xcf\x11\xe0"):
        raise ImportFileError("This is an old Excel .xls file. Save it as .xlsx or CSV UTF-8 and upload that.")
    if name.endswith((".xlsx", ".xlsm")):
        raise ImportFileError("The file is named .xlsx but is not an Excel workbook. Export it again.")
    return _parsed(_csv_rows(_decode(content)), "csv")


def _decode(content: bytes) -> str:
    if content.startswith(codecs.BOM_UTF8):
        encoding = "utf-8-sig"
    elif content.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding = "utf-16"  # Excel's "Unicode text" export
    else:
        if b"\x00" in content[:8192]:
            raise ImportFileError("This looks like a binary file, not a CSV or XLSX export.")
        encoding = "utf-8"
    try:
        text = content.decode(encoding)
    except UnicodeDecodeError:
        raise ImportFileError(
            "The file is not UTF-8 text. In Excel choose “CSV UTF-8” (or upload the .xlsx) and try again."
        ) from None
    sample = text[:8192]
    controls = sum(1 for ch in sample if ord(ch) < 32 and ch not in "\r\n\t")
    if "\x00" in sample or controls > len(sample) // 100 + 1:
        raise ImportFileError("This looks like a binary file, not a CSV or XLSX export.")
    return text


def _csv_rows(text: str):
    first_line = text.lstrip("\ufeff").split("\n", 1)[0]
    delimiter = max(",;\t", key=first_line.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        for cells in reader:
            yield reader.line_num, cells
    except csv.Error as e:
        raise ImportFileError(f"The CSV cannot be read near line {reader.line_num}: {e}.") from None


def _xlsx_rows(content: bytes):
    try:
        archive = zipfile.ZipFile(io.BytesIO(content))
        entries = archive.infolist()
    except (zipfile.BadZipFile, ValueError):
        raise ImportFileError("The file looks like a damaged Excel workbook. Export it again.") from None
    if len(entries) > MAX_XLSX_ENTRIES:
        raise ImportFileError("The workbook has too many parts to be an Ads Manager export.")
    total = sum(e.file_size for e in entries)
    if total > MAX_XLSX_UNCOMPRESSED_BYTES or any(
        e.file_size > 1024 * 1024 and e.file_size > MAX_COMPRESSION_RATIO * max(e.compress_size, 1) for e in entries
    ):
        raise ImportFileError(
            "The workbook expands to far more data than an export holds (a “zip bomb”?). Nothing was imported."
        )
    if "xl/workbook.xml" not in {e.filename for e in entries}:
        raise ImportFileError("The file is a ZIP archive but not an Excel workbook.")
    import openpyxl

    try:
        workbook = openpyxl.load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except Exception:  # openpyxl raises many types for broken workbooks
        raise ImportFileError("The workbook cannot be read. Open it in Excel, save it again and retry.") from None
    try:
        sheet = workbook.worksheets[0]
        for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
            yield number, ["" if v is None else v for v in values]
    finally:
        workbook.close()


def _header_key(value) -> str:
    return " ".join(str(value).replace("\ufeff", "").strip().lower().split())


def _parsed(lines, file_format: str) -> ParsedFile:
    lines = iter(lines)
    header: dict[int, str] | None = None
    raw_headers: list = []
    for number, cells in lines:
        fields = {i: HEADER_TO_FIELD[_header_key(c)] for i, c in enumerate(cells) if _header_key(c) in HEADER_TO_FIELD}
        if len(set(fields.values())) >= 2 and {"campaign_name", "campaign_id"} & set(fields.values()):
            header, raw_headers = fields, cells
            break
        if number >= HEADER_SEARCH_ROWS:
            break
    if header is None:
        raise ImportFileError(
            "No known column headers found. An Ads Manager export has columns such as "
            "“Campaign name”, “By Day”, “Cost”, “Impressions”, “Reach”."
        )
    # The first column with a given meaning wins ("Clicks (destination)" over a later "Clicks").
    positions: dict[str, int] = {}
    for index, field in header.items():
        positions.setdefault(field, index)
    columns = {field: str(raw_headers[i]).strip().lstrip("\ufeff") for field, i in positions.items()}
    if "date" not in positions:
        raise ImportFileError(
            "The file has no “By Day” (or “Date”) column. In Ads Manager, export with the daily breakdown."
        )
    if not set(positions) & set(METRIC_FIELDS):
        raise ImportFileError("The file has no metric columns (Cost, Impressions, Reach, …).")
    unknown = [str(c).strip() for i, c in enumerate(raw_headers) if i not in header and str(c).strip()]

    rows: list[ParsedRow] = []
    errors: list[RowError] = []
    skipped = 0
    for line, cells in lines:
        if not any(str(c).strip() for c in cells):
            skipped += 1
            continue
        if len(rows) + len(errors) >= MAX_ROWS:
            raise ImportFileError(f"The file has more than {MAX_ROWS:,} rows. Export a shorter date range.")

        def cell(field, cells=cells):
            index = positions.get(field)
            return cells[index] if index is not None and index < len(cells) else ""

        name = str(cell("campaign_name")).strip()
        if any(TOTAL_ROW.match(str(c)) for c in cells[:3] if str(c).strip()):
            skipped += 1
            continue
        problems = []
        campaign_id = _id_text(cell("campaign_id"))
        if not name and not campaign_id:
            problems.append("no campaign name")
        day = _date_parse(cell("date"))
        if day is None:
            problems.append(f"{columns['date']}: “{cell('date')}” is not a date (expected YYYY-MM-DD)")
        metrics: dict[str, int | Decimal] = {}
        for field in METRIC_FIELDS:
            if field not in positions:
                continue
            value, problem = _number_parse(cell(field), integer=field != "spend")
            if problem:
                problems.append(f"{columns[field]}: {problem}")
            metrics[field] = value
        if problems:
            errors.append(RowError(line, "; ".join(problems) + "."))
            continue
        rows.append(
            ParsedRow(
                line=line,
                campaign_name=name[:255],
                campaign_id=campaign_id,
                ad_name=str(cell("ad_name")).strip()[:255],
                ad_id=_id_text(cell("ad_id")),
                date=day,
                metrics=metrics,
            )
        )
    return ParsedFile(file_format, columns, unknown, rows, errors, skipped)


def _id_text(value) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip()
    return "" if text.lower() in MISSING else text[:64]


def _date_parse(value) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = str(value).strip()
    try:
        return dt.date.fromisoformat(text)  # the common case, fast
    except ValueError:
        pass
    for pattern in ("%Y-%m-%d", "%Y-%m-%d %H:%M:%S", "%Y/%m/%d", "%Y/%m/%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S"):
        try:
            return dt.datetime.strptime(text, pattern).date()
        except ValueError:
            continue
    return None


def _number_parse(value, *, integer: bool) -> tuple[int | Decimal, str]:
    """(value, problem). Missing values are 0; "1,234.50" is 1234.50; a currency sign is ignored."""
    if isinstance(value, bool):
        return 0, f"“{value}” is not a number"
    if isinstance(value, int) and integer and value >= 0:
        return value, ""
    if isinstance(value, str) and integer and value.isascii() and value.isdigit():
        return int(value), ""  # the common case, fast
    if isinstance(value, int | float | Decimal):
        number = Decimal(str(value))
    else:
        text = str(value).strip()
        if text.lower() in MISSING:
            return 0, ""
        cleaned = text.replace(",", "").replace("\u00a0", "").replace(" ", "").strip("$€£¥")
        try:
            number = Decimal(cleaned)
        except InvalidOperation:
            return 0, f"“{text[:40]}” is not a number"
    if not number.is_finite():
        return 0, f"“{value}” is not a number"
    if number < 0:
        return 0, f"“{value}” is negative"
    if integer:
        if number != number.to_integral_value():
            return 0, f"“{value}” is not a whole number"
        return int(number), ""
    return number.quantize(Decimal("0.01")), ""


# Planning --------------------------------------------------------------------------------------------------


@dataclasses.dataclass
class ImportPlan:
    account: AdAccount
    parsed: ParsedFile
    errors: list[RowError]
    # Each usable row's campaign: an existing pk (int) or the key of a campaign to create (str).
    campaign_of_line: dict[int, int | str]
    new_campaigns: dict[str, dict]
    matched: dict[int, str]
    # (campaign ref, ad ref or None, date) → metric values; ad ref is a ContentItem pk or ("new", key).
    metric_rows: dict[tuple, dict]
    new_items: dict[tuple, dict]
    counts: dict[str, int]

    def summary(self) -> dict:
        dates = [r.date for r in self.parsed.rows]
        return {
            "format": self.parsed.format,
            "columns": {FIELD_LABELS.get(k, k): v for k, v in self.parsed.columns.items()},
            "unknown_columns": self.parsed.unknown_columns[:50],
            "data_rows": len(self.parsed.rows) + len(self.parsed.errors),
            "skipped_rows": self.parsed.skipped,
            "date_from": min(dates).isoformat() if dates else "",
            "date_to": max(dates).isoformat() if dates else "",
            "campaigns_new": sorted(v["name"] for v in self.new_campaigns.values())[:500],
            "campaigns_new_count": len(self.new_campaigns),
            "campaigns_matched": sorted(self.matched.values())[:500],
            "campaigns_matched_count": len(self.matched),
            "content_items_new": len(self.new_items),
            "metric_rows": self.counts,
            "errors": [{"line": e.line, "message": e.message} for e in self.errors[:MAX_ERRORS_SHOWN]],
            "error_count": len(self.errors),
        }


def import_plan(*, account: AdAccount, parsed: ParsedFile) -> ImportPlan:
    """Match every parsed row to a campaign (and content item) of `account` and work out which daily metric
    rows would be new, changed or unchanged. Queries are constant in the number of rows."""
    errors = list(parsed.errors)
    creatable = not account.is_connected
    campaigns = list(Campaign.objects.filter(account=account).values_list("pk", "platform_id", "name"))
    by_platform_id = {pid: pk for pk, pid, _ in campaigns if pid}
    by_name: dict[str, list[int]] = defaultdict(list)
    names = {}
    for pk, _, name in campaigns:
        by_name[name].append(pk)
        names[pk] = name

    campaign_of_line: dict[int, int | str] = {}
    new_campaigns: dict[str, dict] = {}
    matched: dict[int, str] = {}
    for row in parsed.rows:
        ref: int | str | None = None
        if row.campaign_id:
            ref = by_platform_id.get(row.campaign_id)
            if ref is None and not creatable:
                errors.append(
                    RowError(row.line, f"Campaign ID {row.campaign_id} is not in this account; run “Sync now” first.")
                )
                continue
            if ref is None:
                ref = f"id:{row.campaign_id}"
                new_campaigns.setdefault(
                    ref, {"name": row.campaign_name or f"Campaign {row.campaign_id}", "platform_id": row.campaign_id}
                )
        else:
            found = by_name.get(row.campaign_name, [])
            if len(found) > 1:
                errors.append(
                    RowError(
                        row.line, f"{len(found)} campaigns are named “{row.campaign_name}”; add a Campaign ID column."
                    )
                )
                continue
            if found:
                ref = found[0]
            elif not creatable:
                errors.append(
                    RowError(
                        row.line, f"No campaign named “{row.campaign_name}” in this account; run “Sync now” first."
                    )
                )
                continue
            else:
                ref = f"name:{row.campaign_name}"
                new_campaigns.setdefault(ref, {"name": row.campaign_name, "platform_id": ""})
        if isinstance(ref, str):
            start = new_campaigns[ref].get("start_date")
            new_campaigns[ref]["start_date"] = min(start, row.date) if start else row.date
        else:
            matched[ref] = names[ref]
        campaign_of_line[row.line] = ref

    existing_ids = sorted(matched)
    items = list(
        ContentItem.objects.filter(campaign_id__in=existing_ids).values_list(
            "pk", "campaign_id", "platform_id", "title"
        )
    )
    item_by_id = {(c, pid): pk for pk, c, pid, _ in items if pid}
    item_by_title = {(c, title): pk for pk, c, _, title in items}
    new_items: dict[tuple, dict] = {}
    metric_rows: dict[tuple, dict] = {}
    first_line: dict[tuple, int] = {}
    ad_sums: dict[tuple, dict] = {}
    for row in parsed.rows:
        ref = campaign_of_line.get(row.line)
        if ref is None:
            continue
        item_ref = None
        if row.is_ad_row:
            item_ref = item_by_id.get((ref, row.ad_id)) if row.ad_id else None
            if item_ref is None and row.ad_name:
                item_ref = item_by_title.get((ref, row.ad_name))
            if item_ref is None:
                key = ("new", str(ref), row.ad_id or row.ad_name)
                new_items.setdefault(
                    key, {"campaign": ref, "platform_id": row.ad_id, "title": row.ad_name or f"Ad {row.ad_id}"}
                )
                item_ref = key
        key = (ref, item_ref, row.date)
        if key in first_line:
            what = (
                f"ad “{row.ad_name or row.ad_id}”" if item_ref else f"campaign “{row.campaign_name or row.campaign_id}”"
            )
            errors.append(
                RowError(row.line, f"Repeats {what} on {row.date:%Y-%m-%d} (first on line {first_line[key]}).")
            )
            continue
        first_line[key] = row.line
        values = {f: row.metrics.get(f, 0) for f in METRIC_FIELDS}
        metric_rows[key] = values
        if item_ref is not None:
            total = ad_sums.setdefault((ref, None, row.date), dict.fromkeys(METRIC_FIELDS, 0))
            for f in METRIC_FIELDS:
                total[f] += values[f]
    # Files broken down by ad: the campaign's day is the sum of its ads unless the file has its own row.
    for key, total in ad_sums.items():
        metric_rows.setdefault(key, total)

    counts = {"new": 0, "changed": 0, "unchanged": 0}
    existing = {}
    if existing_ids and metric_rows:
        dates = [k[2] for k in metric_rows]
        existing = {
            (m["campaign_id"], m["content_item_id"], m["date"]): m
            for m in DailyMetric.objects.filter(
                Q(campaign_id__in=existing_ids), date__gte=min(dates), date__lte=max(dates)
            ).values("campaign_id", "content_item_id", "date", *METRIC_FIELDS)
        }
    for key, values in metric_rows.items():
        current = existing.get(key)
        if current is None:
            counts["new"] += 1
        elif any(current[f] != values[f] for f in METRIC_FIELDS):
            counts["changed"] += 1
        else:
            counts["unchanged"] += 1
    errors.sort(key=lambda e: e.line)
    return ImportPlan(account, parsed, errors, campaign_of_line, new_campaigns, matched, metric_rows, new_items, counts)


def plan_apply(*, plan: ImportPlan, owner=None) -> dict:
    """Create the plan's new campaigns and content items; return the daily metric rows for
    `daily_metrics_upsert`. Call inside a transaction (services.metric_import_commit does).

    A new campaign is known only by its name (and platform id): it is created with no budget, marked
    `needs_details` and owned by `owner` (the importer), so the list and its page ask a manager to fill it in."""
    account = plan.account
    refs: dict[str, int] = {}
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
        refs = {key: c.pk for key, c in zip(plan.new_campaigns, created, strict=True)}
        if any(pk is None for pk in refs.values()):  # backends without RETURNING: look them up
            lookup = dict(Campaign.objects.filter(account=account).values_list("name", "pk"))
            refs = {key: lookup[spec["name"]] for key, spec in plan.new_campaigns.items()}

    def campaign_pk(ref):
        return refs[ref] if isinstance(ref, str) else ref

    item_pks: dict[tuple, int] = {}
    if plan.new_items:
        created_items = ContentItem.objects.bulk_create(
            [
                ContentItem(
                    campaign_id=campaign_pk(spec["campaign"]),
                    platform_id=spec["platform_id"],
                    title=spec["title"][:255],
                )
                for spec in plan.new_items.values()
            ],
            batch_size=500,
        )
        item_pks = {key: item.pk for key, item in zip(plan.new_items, created_items, strict=True)}
    rows = []
    for (ref, item_ref, day), values in plan.metric_rows.items():
        item_pk = item_pks[item_ref] if isinstance(item_ref, tuple) else item_ref
        rows.append({"campaign_id": campaign_pk(ref), "content_item_id": item_pk, "date": day, **values})
    return {
        "rows": rows,
        "campaign_ids": sorted({r["campaign_id"] for r in rows}),
        "counts": {"campaigns_created": len(plan.new_campaigns), "content_items_created": len(plan.new_items)},
    }
