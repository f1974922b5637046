"""Reading TikTok Ads Manager exports (CSV or XLSX) into daily metric rows, and planning what importing them does.

Reads only; `services.metric_import_*` do the writes. Contracts:
- `upload_check` / `upload_read` / `file_parse` / `import_plan` raise ImportFileError with a message for the user
  when the file as a whole cannot be used (too big, wrong type, binary, zip bomb, DTD, not UTF-8/UTF-16, no known
  headers, no date column, too many rows, another currency than the account's); nothing is stored then;
- a value that cannot be stored as it is becomes a RowError with its line number (the file's line for CSV, the
  sheet's row for XLSX): not a number or a date, negative, past the range of its column (checked against the
  model field, also for the campaign and account totals a commit would produce), a control character or too
  many characters in a name or id, a day in the future. Other rows still parse, so the preview can list every
  problem at once, and a plan with row errors is never committed;
- headers are matched by name, case-insensitively, with the synonyms in HEADER_SYNONYMS, money columns with or
  without their currency ("Cost (USD)"); unknown columns are ignored (and listed); the "Total of N results" row
  and blank rows are skipped; "-", "N/A" and empty cells mean 0; "1,234.50" is 1234.50; cell text is data,
  never a formula.

Modules: `files` (bytes → lines of cells), `cells` (one cell → a value or a problem), `rows` (lines → rows, or a
ParsedFile), `stage` (rows → the staging table `MetricImportRow`, chunk by chunk), `plan` (the staged rows → an
ImportPlan for an account, in SQL; `plan_apply` writes it)."""

from .files import MAX_UPLOAD_BYTES, ImportFileError, display_filename, safe_filename, upload_check, upload_read
from .plan import ImportPlan, import_plan, plan_apply, plan_drop
from .rows import HEADER_SYNONYMS, ParsedFile, ParsedRow, RowError, file_parse, rows_count
from .stage import StagedFile, file_stage, staged_delete, staged_orphans_delete

__all__ = [
    "HEADER_SYNONYMS",
    "MAX_UPLOAD_BYTES",
    "ImportFileError",
    "ImportPlan",
    "ParsedFile",
    "ParsedRow",
    "RowError",
    "StagedFile",
    "display_filename",
    "file_parse",
    "file_stage",
    "import_plan",
    "plan_apply",
    "plan_drop",
    "rows_count",
    "safe_filename",
    "staged_delete",
    "staged_orphans_delete",
    "upload_check",
    "upload_read",
]
