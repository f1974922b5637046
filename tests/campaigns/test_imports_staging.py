"""Imports at speed (issue 19): the fast paths of the parse and the plan give what the careful ones give, the CSV
is read in chunks without moving a line number, and money that rounds to the largest stored value fits; the rows
are staged in chunks, planned in SQL with a fixed number of queries, and committed from the staging table without
the file, which is emptied once the import is done."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.utils import timezone

from campaigns import imports, services
from campaigns.imports import files, stage
from campaigns.models import (
    METRIC_FIELDS,
    Campaign,
    DailyMetric,
    ImportState,
    MetricImport,
    MetricImportRow,
)
from tests.factories import CampaignFactory

pytestmark = pytest.mark.django_db

HEADER = "Campaign name,Ad name,By Day,Cost,Impressions,Reach,Clicks (destination),Video views"


def parse(text: str):
    return imports.file_parse(content=text.encode(), filename="x.csv")


def staged_plan(account, text: str):
    """The plan of `text` staged as an import of `account` (its temporary tables left for the test to read)."""
    metric_import = MetricImport.objects.create(account=account, filename="x.csv", sha256="", size=len(text))
    staged = imports.file_stage(import_id=metric_import.pk, content=text.encode(), filename="x.csv")
    return imports.import_plan(account=account, import_id=metric_import.pk, staged=staged)


def planned_campaign_days() -> list[tuple]:
    """The campaign-level days of the last plan (its days table), as tuples in METRIC_FIELDS order."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {', '.join(METRIC_FIELDS)} FROM closeout_import_days WHERE iref = 0 ORDER BY line")  # noqa: S608
        return [(Decimal(str(row[0])).quantize(Decimal("0.01")), *map(int, row[1:])) for row in cursor.fetchall()]


def test_plain_and_unusual_cells_read_the_same_values():
    parsed = parse(
        f"{HEADER}\n"
        "A,Ad 1,2026-05-01,12.5,1000,800,7,300\n"  # every cell plain: the fast path
        'A,Ad 2,2026-05-01,"1,234.50","12,000", 5 ,-,N/A\n'  # thousands, padding, missing: the careful path
        "A,Ad 3,2026-05-01,$3,1_000,٣,0,0\n"
    )

    assert parsed.errors == []
    values = [dict(zip(METRIC_FIELDS, row.metrics, strict=True)) for row in parsed.rows]
    assert [v["spend"] for v in values] == [Decimal("12.50"), Decimal("1234.50"), Decimal("3.00")]
    assert [v["impressions"] for v in values] == [1000, 12000, 1000]
    assert [v["reach"] for v in values] == [800, 5, 3]
    assert [v["clicks"] for v in values] == [7, 0, 0]
    assert all(v["likes"] == 0 for v in values)  # not a column of the file
    assert [row.date for row in parsed.rows] == [dt.date(2026, 5, 1)] * 3


def test_a_bad_cell_on_a_row_like_the_others_is_still_a_row_error():
    good = "A,Ad 1,2026-05-01,1.00,10,10,1,1\n"
    parsed = parse(f"{HEADER}\n{good}A,Ad 2,2026-05-01,1.00,-5,10,1,1\nA,Ad 3,2026-05-01,1.00,1.5,10,1,1\n{good}")

    assert [(e.line, e.message) for e in parsed.errors] == [
        (3, "Impressions: “-5” is negative."),
        (4, "Impressions: “1.5” is not a whole number."),
    ]
    assert len(parsed.rows) == 2


def test_names_repeated_on_many_rows_are_checked_each_time():
    # The second row's name is the first's with a control character: not taken from what the first row gave.
    rows = ["A,Ad 1,2026-05-01,1,1,1,1,1", "A\x01,Ad 1,2026-05-02,1,1,1,1,1", "A,Ad 1,2026-05-03,1,1,1,1,1"]
    parsed = parse("\n".join([HEADER, *rows, ""]))

    assert [e.line for e in parsed.errors] == [3]
    assert "U+0001" in parsed.errors[0].message
    assert [row.campaign_name for row in parsed.rows] == ["A", "A"]


def test_a_control_character_at_the_start_of_a_name_is_a_row_error():
    parsed = parse("Campaign name,Ad name,By Day,Cost\r\nCampaign #0,\x0bAd #0,2026-05-01,0.00\r\n")

    assert parsed.rows == []
    assert [(e.line, e.message) for e in parsed.errors] == [
        (2, "Ad name: contains the control character U+000B; remove it.")
    ]


def test_rows_of_a_file_without_rights_columns_still_have_them_empty():
    row = parse(f"{HEADER}\nA,Ad 1,2026-05-01,1,1,1,1,1\n").rows[0]

    assert (row.rights_expire_on, row.creator_name, row.is_ad_row) == (None, "", True)


def test_line_numbers_hold_across_the_read_chunks(monkeypatch):
    monkeypatch.setattr(files, "_READ_CHUNK", 7)  # cuts lines, and "\r\n" pairs, all over
    rows = "".join(f"A,Ad {n},2026-05-{1 + n:02d},1,1,1,1,1\r\n" for n in range(20))
    parsed = parse(f'{HEADER}\r\n"Multi\nline",Ad x,2026-04-01,1,1,1,1,1\r\n{rows}A,Ad y,not a day,1,1,1,1,1\r\n')

    assert [(e.line, e.message.split(":")[0]) for e in parsed.errors] == [(24, "By Day")]
    assert len(parsed.rows) == 21
    assert parsed.rows[0].campaign_name == "Multi\nline".replace("\n", " ")


def test_money_that_rounds_to_the_largest_stored_value_fits():
    parsed = parse("Campaign name,By Day,Cost\nA,2026-05-01,999999999999.994\nB,2026-05-01,999999999999.995\n")

    assert [row.metrics[0] for row in parsed.rows] == [Decimal("999999999999.99")]
    assert [e.line for e in parsed.errors] == [3]
    assert "more than the largest value" in parsed.errors[0].message


def test_ad_days_summed_and_repeats_found_by_the_plan(account):
    CampaignFactory(account=account, name="A", platform_id="")
    plan = staged_plan(
        account,
        f"{HEADER}\nA,Ad 1,2026-05-01,1.50,10,5,1,1\nA,Ad 2,2026-05-01,2.25,20,5,1,1\n"
        "A,Ad 1,2026-05-01,9.00,90,9,9,9\n",
    )

    assert [(e.line, e.message) for e in plan.errors] == [(4, "Repeats ad “Ad 1” on 2026-05-01 (first on line 2).")]
    assert planned_campaign_days() == [(Decimal("3.75"), 30, 10, 2, 2, 0, 0, 0, 0, 0)]
    assert plan.counts == {"new": 3, "changed": 0, "unchanged": 0}


def test_future_rows_are_errors_counted_in_the_same_pass_as_the_names(account):
    """A campaign whose rows all lie after today is no campaign to create; the file's days still span them."""
    later = dt.date.today() + dt.timedelta(days=3)
    plan = staged_plan(
        account,
        f"{HEADER}\nA,Ad 1,2026-05-01,1.50,10,5,1,1\nA,Ad 1,{later},1.00,1,1,1,1\nB,Ad 9,{later},2.00,2,2,2,2\n"
        "A,Ad 2,2026-04-30,2.00,2,2,2,2\n",
    )

    assert [(e.line, e.message.split(" (")[0]) for e in plan.errors] == [
        (3, f"{later.isoformat()} is in the future"),
        (4, f"{later.isoformat()} is in the future"),
    ]
    assert plan.error_count == 2
    assert [spec["name"] for spec in plan.new_campaigns.values()] == ["A"]
    assert (plan.date_from, plan.date_to) == (dt.date(2026, 4, 30), later)
    assert plan.counts == {"new": 4, "changed": 0, "unchanged": 0}  # two ad days and their two campaign days


def test_each_repeat_names_the_first_row_of_its_key(account):
    plan = staged_plan(
        account,
        "Campaign name,By Day,Cost\n"
        "A,2026-05-01,1\nB,2026-05-01,1\nA,2026-05-02,1\nA,2026-05-01,2\nB,2026-05-01,3\nA,2026-05-01,4\n",
    )

    assert [(e.line, e.message) for e in plan.errors] == [
        (5, "Repeats campaign “A” on 2026-05-01 (first on line 2)."),
        (6, "Repeats campaign “B” on 2026-05-01 (first on line 3)."),
        (7, "Repeats campaign “A” on 2026-05-01 (first on line 2)."),
    ]
    assert plan.counts["new"] == 3


# --- the staging table (issue 19): rows staged in chunks, planned in SQL, committed without the file ---


def rows_csv(count: int, *, campaign: str = "A") -> str:
    start = dt.date(2016, 1, 1)
    lines = "".join(f"{campaign},Ad {n % 7},{start + dt.timedelta(days=n // 7)},1.25,10,5,1,1\n" for n in range(count))
    return f"{HEADER}\n{lines}"


def preview(account, text: str, actor=None):
    upload = SimpleUploadedFile("export.csv", text.encode())
    return services.metric_import_preview(account=account, upload=upload, actor=actor)


def commit(metric_import, actor=None):
    services.metric_import_commit(metric_import=metric_import, actor=actor)
    metric_import.refresh_from_db()
    return metric_import


def staged_rows(metric_import) -> int:
    return MetricImportRow.objects.filter(metric_import_id=metric_import.pk).count()


def test_rows_are_staged_in_chunks_never_all_held(account, monkeypatch):
    monkeypatch.setattr(stage, "CHUNK_ROWS", 10)
    writes = []
    chunk_writer = stage._chunk_writer

    def recording_writer():
        write = chunk_writer()
        return lambda chunk: writes.append(len(chunk)) or write(chunk)

    monkeypatch.setattr(stage, "_chunk_writer", recording_writer)

    metric_import = preview(account, rows_csv(35))

    assert writes == [10, 10, 10, 5]  # at most a chunk of rows in memory
    assert staged_rows(metric_import) == 35
    assert metric_import.summary["staged_rows"] == 35
    assert metric_import.summary["metric_rows"] == {"new": 35 + 5, "changed": 0, "unchanged": 0}  # + 5 summed days


def test_commit_reads_the_staged_rows_not_the_file(account, monkeypatch):
    metric_import = preview(account, rows_csv(20))
    metric_import.file.delete(save=False)  # the stored file is gone…

    def no_file(**kwargs):
        raise AssertionError("the commit read the file")

    monkeypatch.setattr(imports.stage, "file_lines", no_file)
    monkeypatch.setattr(imports.rows, "file_lines", no_file)

    committed = commit(metric_import)

    assert committed.state == ImportState.COMMITTED, committed.error  # …and the commit still works
    assert committed.summary["result"]["created"] == 20 + 3
    campaign = Campaign.objects.get(account=account, name="A")
    assert campaign.total_spend == Decimal("25.00")
    assert DailyMetric.objects.filter(campaign=campaign, content_item__isnull=False).count() == 20
    assert staged_rows(committed) == 0  # deleted once committed


def test_staged_rows_are_deleted_when_discarded(account):
    metric_import = preview(account, rows_csv(5))
    assert staged_rows(metric_import) == 5

    services.metric_import_discard(metric_import=metric_import)

    assert staged_rows(metric_import) == 0


def test_staged_rows_are_deleted_when_the_commit_fails(account):
    metric_import = preview(account, rows_csv(5))
    CampaignFactory(account=account, name="A", platform_id="")
    CampaignFactory(account=account, name="A", platform_id="")  # two campaigns named "A" now: a row error

    failed = commit(metric_import)

    assert failed.state == ImportState.FAILED
    assert "row errors now" in failed.error
    assert staged_rows(failed) == 0
    assert not DailyMetric.objects.exists()


def test_commit_without_its_staged_rows_asks_to_upload_again(account):
    metric_import = preview(account, rows_csv(5))
    imports.staged_delete(import_id=metric_import.pk)

    failed = commit(metric_import)

    assert failed.state == ImportState.FAILED
    assert failed.error == "The rows read from the file are no longer available; upload it again. Nothing was imported."
    assert not Campaign.objects.filter(account=account).exists()


def test_commit_with_some_staged_rows_gone_writes_nothing(account):
    metric_import = preview(account, rows_csv(5))
    MetricImportRow.objects.filter(metric_import_id=metric_import.pk, line=3).delete()

    failed = commit(metric_import)

    assert failed.state == ImportState.FAILED and "no longer available" in failed.error
    assert not Campaign.objects.filter(account=account).exists() and not DailyMetric.objects.exists()


def test_a_file_refused_stages_nothing(account):
    with pytest.raises(imports.ImportFileError):
        preview(account, "Campaign name,By Day,Cost (EUR)\nA,2016-01-01,1\n")  # the account reports in USD

    assert not MetricImportRow.objects.exists()
    assert not MetricImport.objects.exists()


@pytest.mark.parametrize("rows", [40, 400])
def test_preview_and_commit_queries_do_not_grow_with_rows(account, rows, django_assert_max_num_queries):
    with django_assert_max_num_queries(30):
        metric_import = preview(account, rows_csv(rows))
    assert metric_import.summary["error_count"] == 0

    with django_assert_max_num_queries(55):  # the same bound whatever the rows (the rules, still-delivering included)
        committed = commit(metric_import)

    assert committed.state == ImportState.COMMITTED
    assert DailyMetric.objects.filter(content_item__isnull=False).count() == rows


def test_reconcile_deletes_the_staged_rows_no_import_needs(account):
    kept = preview(account, rows_csv(3))
    done = commit(preview(account, rows_csv(3, campaign="B")))
    gone = preview(account, rows_csv(3, campaign="C"))
    MetricImport.objects.filter(pk=gone.pk).delete()  # its rows are orphans now
    old = preview(account, rows_csv(3, campaign="D"))
    MetricImport.objects.filter(pk=old.pk).update(progress_at=timezone.now() - dt.timedelta(days=8))
    # A committed import whose own deletion was missed (a worker killed after the commit):
    stage_again = imports.file_stage(import_id=done.pk, content=rows_csv(2).encode(), filename="x.csv")
    assert stage_again.rows == 2

    deleted = services.metric_imports.metric_import_rows_cleanup(now=timezone.now())

    assert deleted == 2 + 3 + 3
    assert set(MetricImportRow.objects.values_list("metric_import_id", flat=True).distinct()) == {kept.pk}


def test_more_distinct_names_than_the_keys_cap_is_refused(account, monkeypatch):
    monkeypatch.setattr(stage, "MAX_KEYS", 3)

    with pytest.raises(imports.ImportFileError, match="more than 3 different campaigns and ads"):
        preview(account, rows_csv(10))

    assert not MetricImportRow.objects.exists()


# --- The progress's total: rows counted before the parse -------------------------------------------------------


def _count(data: bytes) -> int:
    import io

    return imports.rows_count(handle=io.BytesIO(data), filename="x.csv")


def test_rows_are_counted_by_their_line_ends_exactly_for_an_export():
    rows = "".join(f"A,Ad 1,2026-05-{day:02d},1.00,1,1,1,1\n" for day in range(1, 21))
    assert _count(f"{HEADER}\n{rows}".encode()) == 21
    assert _count(f"{HEADER}\n{rows}".rstrip("\n").encode()) == 21  # no line end after the last row
    assert _count(("\ufeff" + f"{HEADER}\r\n" + rows.replace("\n", "\r\n")).encode()) == 21
    assert _count(f"{HEADER}\n{rows}".encode("utf-16")) == 21  # UTF-16: read by the csv module


def test_a_file_past_the_row_cap_is_refused_before_the_parse_and_blank_lines_do_not_count(monkeypatch):
    from campaigns.imports import rows as rows_module

    monkeypatch.setattr(rows_module, "MAX_ROWS", 20)
    line = "A,Ad 1,2026-05-01,1.00,1,1,1,1\n"
    with pytest.raises(files.ImportFileError, match="more than 20 rows"):
        _count(f"{HEADER}\n{line * 40}".encode())
    # More line ends than the cap, but most of them blank: counted exactly, not refused.
    assert _count(f"{HEADER}\n{line * 5}{chr(10) * 60}".encode()) == 6


FULL_HEADER = (
    "Campaign name,Ad name,By Day,Cost,Impressions,Reach,Clicks (destination),Video views,Paid likes,"
    "Paid comments,Paid shares,Paid follows,Profile visits"
)


def staged_values(text: str, *, header: str = FULL_HEADER, layout: bool = True, monkeypatch=None) -> list[tuple]:
    """The rows `file_stage` writes for `text` (under `header`), read back from the staging table, typed."""
    if not layout:
        monkeypatch.setattr(imports.rows._RowParser, "text_layout", lambda self: None)
    metric_import = MetricImport.objects.create(account=CampaignFactory().account, filename="x.csv", sha256="", size=1)
    staged = imports.file_stage(import_id=metric_import.pk, content=f"{header}\n{text}".encode(), filename="x.csv")
    rows = MetricImportRow.objects.filter(metric_import=metric_import).order_by("line")
    fields = ["line", "key", "campaign_name", "campaign_platform_id", "ad_name", "ad_platform_id", "date",
              *METRIC_FIELDS, "rights_expire_on", "creator_name"]  # fmt: skip
    values = [tuple(getattr(row, f) for f in fields) for row in rows]
    errors = [(e.line, e.message) for e in staged.errors]
    monkeypatch and monkeypatch.undo()
    return [*values, ("errors", errors, staged.skipped)]


UNUSUAL_ROWS = (
    "A,Ad 1,2026-05-01,12.5,1000,800,7,300,1,2,3,4,5\n"
    "A,Ad 1,2026-05-02,12.50,0012,800,7,300,1,2,3,4,5\n"  # leading zeros: the number
    " A ,Ad 1,2026-05-03,3,1,1,1,1,1,1,1,1,1\n"  # the same names padded: the same key
    "A,Ad 2,2026-5-4,4.00,1,1,1,1,1,1,1,1,1\n"  # a day not written as YYYY-MM-DD
    "A,Ad 2,2026-05-04,4.001,1,1,1,1,1,1,1,1,1\n"  # three decimals: rounded by the careful path
    'A,Ad 2,2026-05-05,"1,234.50",1,1,1,1,1,1,1,1,1\n'
    "A,Ad 2,2026-05-06,5,1,,1,1,1,1,1,1,1\n"  # an empty count: 0
    "A,Ad 2,2026-05-07,5,1_000,٣,1,1,1,1,1,1,1\n"  # digits Python reads, not plain
    "A,Ad 2,2026-05-08,5,99999999999999999999,1,1,1,1,1,1,1,1\n"  # past the column: a row error
    "A,Ad 2,2026-05-09,-5,1,1,1,1,1,1,1,1,1\n"  # negative: a row error
    "A,Ad 2,2026-05-10,5,1,1,1,1,1,1,1,1\n"  # a cell short
    "A,Ad 2,2026-05-11,5,1,1,1,1,1,1,1,1,1,extra\n"
    "A,Ad 2,2026-13-01,5,1,1,1,1,1,1,1,1,1\n"  # not a day
    ",,,,,,,,,,,,\n"
    "Total of 12 results,,,,,,,,,,,,\n"
    "B,Ad 1,2026-05-01,1,1,1,1,1,1,1,1,1,1\n"
    "B,Ad 1,2026-05-02,1,1,1,1,1,1,1,1,1,1\n"
)


def test_rows_staged_from_their_texts_hold_what_the_parse_would_store(monkeypatch):
    """The common row is staged from its cells as they are (rows.TextLayout); the database then holds exactly
    what staging the parsed row holds, and every unusual cell still takes the careful path."""
    fast = staged_values(UNUSUAL_ROWS)
    careful = staged_values(UNUSUAL_ROWS, layout=False, monkeypatch=monkeypatch)

    assert fast == careful
    assert len(fast) == 13 - 3 + 2 + 1  # 13 rows of A, 3 of them errors, 2 of B, and the errors
    assert fast[1][8] == 12 and fast[2][2] == "A"  # "0012" is 12; " A " is "A"
    assert [line for line, _ in fast[-1][1]] == [10, 11, 14]  # past the column, negative, not a day
    assert fast[-1][2] == 2  # the blank and total rows skipped


def test_a_total_row_after_unknown_first_columns_is_still_skipped(monkeypatch):
    header = "Campaign name,Ad group name,Notes," + FULL_HEADER.split(",", 1)[1]
    text = "A,G,x,Ad 1,2026-05-01,1,1,1,1,1,1,1,1,1,1\nA,G,total,Ad 1,2026-05-02,1,1,1,1,1,1,1,1,1,1\n"
    fast = staged_values(text, header=header)

    assert fast == staged_values(text, header=header, layout=False, monkeypatch=monkeypatch)
    assert [row[6] for row in fast[:-1]] == [dt.date(2026, 5, 1)]  # "total" in the third column: a total row
    assert fast[-1][2] == 1


def test_common_rows_skip_the_parse(monkeypatch):
    """Once a key, day and plain cells are known, rows like them are not parsed one by one."""
    parsed = []
    row = imports.rows.RowReader.row
    monkeypatch.setattr(
        imports.rows.RowReader, "row", lambda self, line, cells: parsed.append(line) or row(self, line, cells)
    )
    text = "".join(f"A,Ad {n % 2},2026-05-0{1 + n // 2 % 3},{n}.5,{n},1,1,1,1,1,1,1,1\n" for n in range(60))

    values = staged_values(text)

    assert len(values) == 61
    assert parsed == [2, 3, 4, 6]  # until each of the 2 ads and each of the 3 days has been seen


def test_a_currency_column_is_still_read_on_common_rows(account):
    header = FULL_HEADER + ",Currency"
    text = "A,Ad 1,2026-05-01,1,1,1,1,1,1,1,1,1,1,USD\nA,Ad 1,2026-05-02,1,1,1,1,1,1,1,1,1,1,EUR\n"
    metric_import = MetricImport.objects.create(account=account, filename="x.csv", sha256="", size=1)

    staged = imports.file_stage(import_id=metric_import.pk, content=f"{header}\n{text}".encode(), filename="x.csv")

    assert staged.currencies == {"USD": "line 2", "EUR": "line 3"}


def test_a_row_short_of_its_currency_cell_is_read(account):
    """The Currency column last and a row without it: the row is read (no currency on it), not a crash."""
    text = (
        f"{FULL_HEADER},Currency\n"
        "A,Ad 1,2026-05-01,1,1,1,1,1,1,1,1,1,1,USD\nA,Ad 2,2026-05-02,1,1,1,1,1,1,1,1,1,1,USD\n"
        "A,Ad 2,2026-05-01,1,1,1,1,1,1,1,1,1,1\n"  # its names and day known: the row the fast paths look at
    )
    metric_import = MetricImport.objects.create(account=account, filename="x.csv", sha256="", size=1)

    parsed = parse(text)
    staged = imports.file_stage(import_id=metric_import.pk, content=text.encode(), filename="x.csv")

    assert (len(parsed.rows), parsed.errors, parsed.currencies) == (3, [], {"USD": "line 2"})
    assert (staged.rows, staged.errors, staged.currencies) == (3, [], {"USD": "line 2"})
