"""Hostile Ads Manager exports (hypothesis), uploaded through the real views by a manager: numbers at and just
past each column's limit, exponents, NaN and infinities, negative and fractional counts, control characters and
over-long names, NUL at any offset (also after the first 8 KB, which PostgreSQL refused when the summary was
saved), DTDs in the sheet XML, lying sheet dimensions, gaps between sheet rows, empty and duplicate headers,
very wide rows, title, blank and totals rows, UTF-16 and BOMs, and another currency than the account's.

The contract, checked on every file, on SQLite and PostgreSQL alike:
- no server error: not on upload, preview, commit, nor on any page afterwards;
- a file with a problem changes nothing (daily metrics, campaigns, content items, status changes); its
  MetricImport may record the failed preview;
- a problem row is listed with its line number on the preview page; a file refused as a whole says why;
- a file without problems commits exactly what it says, and importing it again changes nothing.

Each example has its own account and manager, so what one example commits cannot push another's totals."""

import csv
import dataclasses
import datetime as dt
import io
import re
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from campaigns.models import Campaign, ContentItem, DailyMetric, MetricImport, Role, StatusChange
from tests.campaigns.export_files import Raw, csv_bytes, xlsx_raw, xlsx_text_as_read
from tests.factories import AccountFactory, MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db

HOSTILE = settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
# What the columns hold (DailyMetric and the Campaign totals alike), written out on purpose: the importer derives
# its limits from the model fields, and this checks that it got them right.
MAX_MONEY = Decimal("999999999999.99")
MAX_COUNT = 2**63 - 1
NAME_LENGTH = 255
BINARY_SAMPLE = 8192
BAD = object()  # a cell the importer must refuse, naming its line
HEADERS = {
    "spend": "Cost",
    "impressions": "Impressions",
    "reach": "Reach",
    "clicks": "Clicks (destination)",
    "video_views": "Video views",
    "likes": "Paid likes",
    "comments": "Paid comments",
    "shares": "Paid shares",
    "follows": "Paid follows",
    "profile_visits": "Profile visits",
}
LINE_BREAK = re.compile(r"\r\n|\r|\n")
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
TODAY = dt.date.today()


@dataclasses.dataclass(frozen=True)
class Cell:
    csv: str  # as a CSV has it
    xlsx: object  # as a workbook has it: text, a number, or Raw XML
    value: object  # what must be stored ("-" is 0), or BAD


def same(text: str, value, xlsx=None) -> Cell:
    return Cell(text, text if xlsx is None else xlsx, value)


def as_read(text: str) -> str:
    """A name as Closeout keeps it: tabs and line breaks are a space, outer white space goes."""
    return re.sub(r"[\t\r\n]+", " ", text).strip()


# --- cells ---------------------------------------------------------------------------------------------------

small = st.integers(0, 10**6)
counts_good = st.one_of(
    small.map(lambda n: same(str(n), n, n)),
    small.map(lambda n: same(f"{n:,}", n)),
    small.map(lambda n: same(str(n), n)),
    st.integers(0, MAX_COUNT).map(lambda n: same(str(n), n, n)),
    st.sampled_from(
        [
            same(str(MAX_COUNT), MAX_COUNT, MAX_COUNT),
            same(str(MAX_COUNT - 1), MAX_COUNT - 1),
            same("-", 0),
            same("N/A", 0),
            same("", 0),
            same("1e3", 1000),
            same("12.0", 12),
            same("0e999", 0),
        ]
    ),
)
counts_bad = st.sampled_from(
    [
        same(str(MAX_COUNT + 1), BAD, MAX_COUNT + 1),
        same(str(2**64), BAD),
        same("1e19", BAD, 1e19),
        same("1E400", BAD, Raw("<v>1E+400</v>")),
        same("12.5", BAD, 12.5),
        same("-1", BAD, -1),
        same("NaN", BAD),
        same("inf", BAD),
        same("9" * 30, BAD),
        same("0x10", BAD),
        same("1\x00", BAD, "1_x0000_"),
        same("=2*3", BAD),
    ]
)
cents = st.decimals(min_value=0, max_value=MAX_MONEY, places=2)
money_good = st.one_of(
    st.decimals(min_value=0, max_value=10**6, places=2).map(lambda d: same(str(d), d)),
    cents.map(lambda d: same(f"{d:,}", d, float(d) if Decimal(repr(float(d))) == d else str(d))),
    st.sampled_from(
        [
            same(str(MAX_MONEY), MAX_MONEY),
            same("999999999999.994", MAX_MONEY),
            same("0.005", Decimal("0.00")),
            same("$12.50", Decimal("12.50")),
            same("-", 0),
            same("", 0),
            same("1.5E2", Decimal("150.00")),
            same("-0", Decimal("0.00")),
        ]
    ),
)
money_bad = st.sampled_from(
    [
        same("1000000000000.00", BAD, 1e12),
        same("999999999999.995", BAD),
        same("1234567890123.00", BAD),
        same("1e30", BAD, 1e30),
        same("1E400", BAD, Raw("<v>1E+400</v>")),
        same("NaN", BAD),
        same("Infinity", BAD),
        same("-0.01", BAD, -0.01),
        same("abc", BAD),
        same("=1+1", BAD),
        same("1e999999999999999999999", BAD),
    ]
)
CONTROLS = [chr(c) for c in (*range(0, 9), 11, 12, *range(14, 32), *range(127, 160))]
name_text = st.text(alphabet=st.characters(blacklist_categories=("Cc", "Cs", "Cn")) | st.sampled_from("\t\r\n"))
dates_bad = st.sampled_from(["yesterday", "2026-02-30", "1999-12-31", str(TODAY + dt.timedelta(days=5)), "0"])


def metric_cell(field: str, *, bad: bool):
    if field == "spend":
        return money_bad if bad else money_good
    return counts_bad if bad else counts_good


@st.composite
def name_cell(draw, *, prefix: str, suffix: str, file_format: str, bad: bool, line_breaks: bool) -> Cell:
    """A campaign or ad name, and what Closeout must keep of it; a bad one has a control character or is too
    long. A workbook cannot carry a control character: it has "_xHHHH_" there, which is only text."""
    text = f"{prefix} {draw(name_text.map(lambda t: t[:30]))} {suffix}"
    if not line_breaks:
        text = re.sub(r"[\t\r\n]", " ", text)
    if bad and draw(st.booleans()):
        at = draw(st.integers(0, len(text)))
        text = text[:at] + draw(st.sampled_from(CONTROLS)) + text[at:]
    elif bad:
        text += "x" * (NAME_LENGTH + 1 - len(as_read(text)))
    read = text if file_format == "csv" else xlsx_text_as_read(text)
    value = BAD if CONTROL.search(read) or len(as_read(read)) > NAME_LENGTH else as_read(read)
    return Cell(text, text, value)


# --- files ---------------------------------------------------------------------------------------------------


@dataclasses.dataclass
class Export:
    format: str
    content: bytes
    rows: list[dict]  # the data rows: line, campaign, ad, day, values, bad
    data_lines: set[int]  # every line a row error may name
    fields: tuple[str, ...]
    refusal: str | None = None  # what a refusal of the whole file must say, or None: it must not be refused
    refusal_allowed: str | None = None  # a refusal that is fine too ("binary file" for early control characters)
    nul_line: int | None = None

    @property
    def bad_lines(self) -> set[int]:
        return {r["line"] for r in self.rows if r["bad"]}


@dataclasses.dataclass
class Layout:
    file_format: str
    fields: tuple[str, ...]
    with_ads: bool
    nul: bool  # a NUL goes somewhere in the file: nothing it could land in unseen (extras) is added
    currency_column: bool
    empty_header: bool
    duplicate: bool

    @property
    def extras(self) -> bool:
        return not self.nul


@st.composite
def layouts(draw) -> Layout:
    file_format = draw(st.sampled_from(["csv", "xlsx"]))
    nul = file_format == "csv" and draw(st.integers(0, 2)) == 0
    fields = draw(st.permutations(list(HEADERS)))[: draw(st.integers(1, len(HEADERS)))]
    return Layout(
        file_format=file_format,
        fields=tuple(fields),
        with_ads=draw(st.booleans()),
        nul=nul,
        currency_column=not nul and draw(st.booleans()),
        empty_header=not nul and draw(st.booleans()),
        duplicate=not nul and draw(st.booleans()),
    )


@st.composite
def data_rows(draw, layout: Layout, *, padding: int) -> tuple[list[dict | None], set[str]]:
    """The data rows (None: a blank row) and the currency codes their Currency cells say."""
    campaigns = [
        draw(
            name_cell(
                prefix="Campaign", suffix=f"#{i}", file_format=layout.file_format, bad=False, line_breaks=not layout.nul
            )
        )
        for i in range(draw(st.integers(1, 3)))
    ]
    n_rows = draw(st.integers(1, 6))
    first_day = TODAY - dt.timedelta(days=n_rows + padding + 10)
    rows, currencies = [], set()
    for i in range(n_rows + padding):
        padded = i >= n_rows
        bad_at = None if padded or draw(st.integers(0, 11)) else draw(st.sampled_from(["name", "ad", "day", "metric"]))
        if bad_at == "ad" and not layout.with_ads:
            bad_at = "metric"
        naming = {"file_format": layout.file_format, "line_breaks": not layout.nul}
        campaign = (
            draw(name_cell(prefix="Campaign", suffix="bad", bad=True, **naming))
            if bad_at == "name"
            else campaigns[0]
            if padded
            else draw(st.sampled_from(campaigns))
        )
        if not layout.with_ads:
            ad = None
        elif padded:
            ad = same(f"Ad #{i}", f"Ad #{i}")
        else:
            ad = draw(name_cell(prefix="Ad", suffix=f"#{i}", bad=bad_at == "ad", **naming))
        day = first_day + dt.timedelta(days=i)
        day_cell = same(draw(dates_bad), BAD) if bad_at == "day" else same(day.isoformat(), day)
        if padded:  # plain and small: only there to push a NUL past the first 8 KB
            metrics = {f: same("1", Decimal("1.00") if f == "spend" else 1) for f in layout.fields}
        else:
            bad_field = draw(st.sampled_from(layout.fields)) if bad_at == "metric" else None
            metrics = {f: draw(metric_cell(f, bad=f == bad_field)) for f in layout.fields}
        cells = [campaign, *([ad] if ad else []), day_cell, *metrics.values()]
        bad = any(c.value is BAD for c in cells)
        if layout.currency_column:
            code = draw(st.sampled_from(["USD", "usd", "-"]) if draw(st.integers(0, 39)) else st.just("EUR"))
            currencies.add(code.upper())
            cells.append(same(code, None))
        if layout.empty_header:
            cells.append(same(draw(st.text(max_size=5)), None))
        if layout.duplicate:  # the first column of a meaning wins: whatever this one says is ignored
            cells.append(draw(metric_cell(layout.fields[-1], bad=draw(st.booleans()))))
        rows.append(
            {
                "campaign": campaign.value,
                "ad": ad.value if ad else None,
                "day": day,
                "values": {f: c.value for f, c in metrics.items()},
                "bad": bad,
                "cells": cells,
            }
        )
        if layout.extras and draw(st.integers(0, 5)) == 0:
            rows.append(None)
    return rows, currencies


@st.composite
def exports(draw) -> Export:
    layout = draw(layouts())
    money_header = draw(
        st.sampled_from(["Cost", "Cost (USD)", "Spend", "cost (usd)"])
        if draw(st.integers(0, 19))
        else st.just("Cost (EUR)")
    )
    header = ["Campaign name", *(["Ad name"] if layout.with_ads else []), "By Day"]
    header += [money_header if f == "spend" else HEADERS[f] for f in layout.fields]
    header += ["Currency"] * layout.currency_column + [""] * layout.empty_header
    header += [header[2 + layout.with_ads + len(layout.fields) - 1]] * layout.duplicate
    records: list[list] = [["TikTok Ads Manager export"]] if draw(st.booleans()) else []
    records.append(header)
    padding = 260 if layout.nul and draw(st.integers(0, 2)) else 0
    rows, currencies = draw(data_rows(layout, padding=padding))
    total_row = [["Total of 9 results", "-", "-"]] if layout.extras and draw(st.booleans()) else []
    build = _csv_export if layout.file_format == "csv" else _xlsx_export
    export = draw(build(layout, records, rows, total_row))
    if export.refusal is None and (money_header == "Cost (EUR)" and "spend" in layout.fields or "EUR" in currencies):
        export.refusal = "This file is in EUR"
    return export


def _data(rows: list[dict | None], lines: list[int]) -> list[dict]:
    data = []
    for row, line in zip(rows, lines, strict=True):
        if row:
            row["line"] = line
            data.append(row)
    return data


@st.composite
def _csv_export(draw, layout, records, rows, total_row) -> Export:
    data = [[c.csv for c in r["cells"]] if r else [] for r in rows]
    if layout.extras and data[0] and draw(st.booleans()):
        data[0] += ["x"] * 300  # a wide row: cells past the header are ignored
    text = csv_bytes([*records, *data, *total_row]).decode()
    reader = csv.reader(io.StringIO(text, newline=""))
    lines = [reader.line_num for _ in reader][len(records) : len(records) + len(rows)]
    export = Export("csv", b"", _data(rows, lines), set(lines), layout.fields)
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "utf-16"]))
    if layout.nul:
        early = len(text) <= BINARY_SAMPLE or not draw(st.integers(0, 3))
        at = draw(st.integers(0, len(text)) if early else st.integers(BINARY_SAMPLE, len(text)))
        text = text[:at] + "\x00" + text[at:]
        export.nul_line = len(LINE_BREAK.findall(text[:at])) + 1
        export.data_lines.add(export.nul_line)  # after the last row, the NUL is a row of its own
        # The importer looks at the file's first BINARY_SAMPLE bytes, not characters: the NUL is seen there when
        # all of its bytes are (a name of accents, or UTF-16, puts a character past its place in bytes).
        if len(text[: at + 1].encode(encoding)) <= BINARY_SAMPLE:
            export.refusal = "binary file"
    if export.refusal is None and CONTROL.search(text[:BINARY_SAMPLE]):
        export.refusal_allowed = "binary file"
    export.content = text.encode(encoding)
    return export


@st.composite
def _xlsx_export(draw, layout, records, rows, total_row) -> Export:
    numbers, number = [], 0
    for _ in range(len(records) + len(rows) + len(total_row)):
        number += 1 + (draw(st.integers(1, 3)) if draw(st.integers(0, 4)) == 0 else 0)  # gaps: blank rows
        numbers.append(number)
    sheet = [*records, *([c.xlsx for c in r["cells"]] if r else [None] for r in rows), *total_row]
    if layout.extras and draw(st.booleans()):
        sheet[len(records)] = [*sheet[len(records)], *[None] * 16_000, "far right"]  # column XFD
    dtd = (
        None
        if draw(st.integers(0, 5))
        else draw(st.sampled_from(["<!DOCTYPE worksheet>", '<!DOCTYPE w [<!ENTITY a "A">]>']))
    )
    content = xlsx_raw(
        sheet,
        shared_strings=draw(st.booleans()),
        prolog=dtd or "",
        dimension=draw(st.sampled_from(["", "A1:XFD1048576", "B7:C9"])),
        row_numbers=numbers,
    )
    lines = numbers[len(records) : len(records) + len(rows)]
    export = Export("xlsx", content, _data(rows, lines), set(lines), layout.fields)
    export.refusal = "document type declaration" if dtd else None
    return export


# --- the test ------------------------------------------------------------------------------------------------


def _snapshot(account):
    return (
        list(
            DailyMetric.objects.filter(campaign__account=account)
            .order_by("pk")
            .values_list("pk", "updated_at", "content_item_id", "date", "spend", "impressions", "follows")
        ),
        list(Campaign.objects.filter(account=account).order_by("pk").values_list("pk", "name", "total_spend")),
        list(ContentItem.objects.filter(campaign__account=account).order_by("pk").values_list("pk", "title")),
        StatusChange.objects.filter(campaign__account=account).count(),
    )


def _total_past_a_column(export: Export) -> bool:
    """Whether a campaign's or the account's total would be past its column (the file's rows all fine)."""
    for f in export.fields:
        limit = MAX_MONEY if f == "spend" else MAX_COUNT
        totals: dict = {}
        for r in export.rows:
            totals[r["campaign"]] = totals.get(r["campaign"], 0) + r["values"][f]
        if max(totals.values()) > limit or sum(totals.values()) > limit:
            return True
    return False


def _messages(response) -> str:
    return " ".join(re.findall(r'<span class="message-text">(.*?)</span>', response.content.decode(), re.S))


def _upload(client, account, export):
    upload = SimpleUploadedFile(f"export.{export.format}", export.content)
    return client.post(reverse("campaigns:import_upload", args=[account.pk]), {"file": upload}, follow=True)


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


@HOSTILE
@given(export=exports())
def test_hostile_export_never_500s_and_stores_nothing_bad(client, export):
    account = AccountFactory(currency="USD", timezone="UTC")
    manager = UserFactory()
    MembershipFactory(user=manager, account=account, role=Role.MANAGER)
    client.force_login(manager)
    before = _snapshot(account)

    preview = _upload(client, account, export)

    assert preview.status_code == 200
    metric_import = MetricImport.objects.filter(account=account).first()
    if metric_import is None:
        said = _messages(preview)
        event(f"{export.format}: refused")
        assert "Nothing was imported" in said
        assert (export.refusal and export.refusal in said) or (
            export.refusal_allowed and export.refusal_allowed in said
        ), (said, export.refusal, export.nul_line)
        assert _snapshot(account) == before
        return
    assert export.refusal is None, (export.refusal, metric_import.summary["errors"][:3])
    errors = {e["line"]: e["message"] for e in metric_import.summary["errors"]}
    assert set(errors) <= export.data_lines, (errors, export.data_lines)
    assert export.bad_lines <= set(errors), (export.bad_lines, errors)
    if export.nul_line is not None:
        assert export.nul_line in errors, (export.nul_line, errors)
    html = preview.content.decode()
    assert all(f'<td class="num">{line}</td>' in html for line in errors)
    overflow = not export.bad_lines and _total_past_a_column(export)
    if overflow:
        event(f"{export.format}: totals past a column")
    expect_errors = bool(export.bad_lines) or export.nul_line is not None or overflow
    assert bool(errors) == expect_errors, (errors, export.bad_lines)

    committed = client.post(reverse("campaigns:import_commit", args=[account.pk, metric_import.pk]), follow=True)

    assert committed.status_code == 200
    event(f"{export.format}: {'row errors' if errors else 'committed'}{' (NUL)' if export.nul_line else ''}")
    if errors:
        assert "Nothing was imported" in _messages(committed)
        assert _snapshot(account) == before
        return
    assert "Imported" in _messages(committed)
    _assert_stored(account, export)
    campaign_ids = Campaign.objects.filter(account=account).values_list("pk", flat=True)
    for page in [
        reverse("campaigns:list"),
        reverse("campaigns:calendar"),
        reverse("campaigns:account_detail", args=[account.pk]),
        *(reverse("campaigns:detail", args=[pk]) for pk in campaign_ids),
    ]:
        assert client.get(page).status_code == 200, page
    # The same file again changes nothing (but the history: each commit is recorded).
    after = _snapshot(account)[:3]
    _upload(client, account, export)
    again = MetricImport.objects.filter(account=account).first()
    client.post(reverse("campaigns:import_commit", args=[account.pk, again.pk]))
    assert _snapshot(account)[:3] == after


def _assert_stored(account, export: Export) -> None:
    campaigns = dict(Campaign.objects.filter(account=account).values_list("name", "pk"))
    assert set(campaigns) == {r["campaign"] for r in export.rows}
    days = {
        (m["campaign_id"], m["date"]): m
        for m in DailyMetric.objects.filter(campaign__account=account, content_item__isnull=True).values()
    }
    for row in export.rows:
        stored = days[campaigns[row["campaign"]], row["day"]]
        assert {f: stored[f] for f in HEADERS} == {f: row["values"].get(f, 0) for f in HEADERS}, row
    if export.rows[0]["ad"] is not None:
        titles = set(ContentItem.objects.filter(campaign__account=account).values_list("title", flat=True))
        assert titles == {r["ad"] for r in export.rows}
