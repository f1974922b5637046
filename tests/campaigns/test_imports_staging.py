"""Imports at speed (issue 19): the fast paths of the parse and the plan give what the careful ones give, the CSV
is read in chunks without moving a line number, and money that rounds to the largest stored value fits."""

import datetime as dt
from decimal import Decimal

import pytest

from campaigns import imports
from campaigns.imports import files
from campaigns.models import METRIC_FIELDS
from tests.factories import CampaignFactory

pytestmark = pytest.mark.django_db

HEADER = "Campaign name,Ad name,By Day,Cost,Impressions,Reach,Clicks (destination),Video views"


def parse(text: str):
    return imports.file_parse(content=text.encode(), filename="x.csv")


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
    parsed = parse(
        f"{HEADER}\nA,Ad 1,2026-05-01,1.50,10,5,1,1\nA,Ad 2,2026-05-01,2.25,20,5,1,1\nA,Ad 1,2026-05-01,9.00,90,9,9,9\n"
    )

    plan = imports.import_plan(account=account, parsed=parsed)

    assert [(e.line, e.message) for e in plan.errors] == [(4, "Repeats ad “Ad 1” on 2026-05-01 (first on line 2).")]
    campaign_day = {key: values for key, values in plan.metric_rows.items() if key[1] is None}
    assert list(campaign_day.values()) == [(Decimal("3.75"), 30, 10, 2, 2, 0, 0, 0, 0, 0)]
    assert plan.counts == {"new": 3, "changed": 0, "unchanged": 0}


def test_each_repeat_names_the_first_row_of_its_key(account):
    parsed = parse(
        "Campaign name,By Day,Cost\n"
        "A,2026-05-01,1\nB,2026-05-01,1\nA,2026-05-02,1\nA,2026-05-01,2\nB,2026-05-01,3\nA,2026-05-01,4\n"
    )

    plan = imports.import_plan(account=account, parsed=parsed)

    assert [(e.line, e.message) for e in plan.errors] == [
        (5, "Repeats campaign “A” on 2026-05-01 (first on line 2)."),
        (6, "Repeats campaign “B” on 2026-05-01 (first on line 3)."),
        (7, "Repeats campaign “A” on 2026-05-01 (first on line 2)."),
    ]
    assert plan.counts["new"] == 3
