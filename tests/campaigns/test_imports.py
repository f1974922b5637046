"""Ads Manager CSV/XLSX import: parsing, preview, atomic commit, re-import, and bad files."""

import codecs
import datetime as dt
import io
import re
import time
import zipfile
from decimal import Decimal

import openpyxl
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from campaigns import imports, services
from campaigns.imports import files
from campaigns.models import Campaign, ContentItem, DailyMetric, ImportState, MetricImport, StatusChange
from campaigns.services import metric_imports
from tests.campaigns.export_files import Raw, xlsx_raw
from tests.factories import CampaignFactory

pytestmark = pytest.mark.django_db

HEADER = (
    "Campaign name,By Day,Cost,Impressions,Reach,Clicks (destination),Video views,Paid likes,Paid comments,"
    "Paid shares,Paid follows,Profile visits"
)
GOOD_CSV = f"""{HEADER}
Spring Glow,2026-05-01,"1,234.50","12,000",9000,120,4000,300,20,10,5,40
Spring Glow,2026-05-02,10.00,1000,-,N/A,500,1,2,3,4,5
Autumn Drop,2026-05-01,5,100,80,2,50,1,0,0,0,1
Total of 3 results,-,"1,249.50",13100,-,-,-,-,-,-,-,-
"""


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


@pytest.fixture
def spring(account):
    return CampaignFactory(account=account, name="Spring Glow", platform_id="")


def upload(client, account, content, name="export.csv"):
    data = content.encode() if isinstance(content, str) else content
    return client.post(
        reverse("campaigns:import_upload", args=[account.pk]),
        {"file": SimpleUploadedFile(name, data)},
        follow=True,
    )


def last_import():
    return MetricImport.objects.latest("created_at")


def commit(client, account, metric_import):
    return client.post(reverse("campaigns:import_commit", args=[account.pk, metric_import.pk]), follow=True)


def xlsx_bytes(rows):
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def test_csv_preview_lists_what_will_change_and_commit_imports(account, spring, editor, login):
    client = login(editor)

    preview = upload(client, account, GOOD_CSV)

    html = preview.content.decode()
    assert "Check before importing" in html
    assert "Autumn Drop" in html  # will be created (manual account)
    assert "Campaigns to create (1)" in html
    assert "1 skipped (totals or blank)" in html
    assert not DailyMetric.objects.exists()  # preview writes no metrics
    metric_import = last_import()
    assert metric_import.summary["metric_rows"] == {"new": 3, "changed": 0, "unchanged": 0}

    done = commit(client, account, metric_import)

    assert "Imported “export.csv”: 3 new and 0 updated daily rows, 1 campaign created." in done.content.decode()
    spring.refresh_from_db()
    assert spring.total_spend == Decimal("1244.50")
    assert spring.total_impressions == 13000
    assert spring.total_reach == 9000
    assert spring.total_clicks == 120
    row = DailyMetric.objects.get(campaign=spring, date=dt.date(2026, 5, 2))
    counts = (row.video_views, row.likes, row.comments, row.shares, row.follows, row.profile_visits)
    assert counts == (500, 1, 2, 3, 4, 5)
    autumn = Campaign.objects.get(account=account, name="Autumn Drop")
    assert autumn.start_date == dt.date(2026, 5, 1)
    assert last_import().state == ImportState.COMMITTED
    assert StatusChange.objects.filter(campaign=spring, details__event="imported").exists()


def test_reimport_of_same_file_changes_nothing(account, spring, editor, login):
    client = login(editor)
    upload(client, account, GOOD_CSV)
    commit(client, account, last_import())
    before = list(DailyMetric.objects.order_by("pk").values_list("pk", "updated_at"))

    preview = upload(client, account, GOOD_CSV)
    again = last_import()
    commit(client, account, again)

    assert "imported before. Importing it again changes nothing" in preview.content.decode()
    assert again.summary["metric_rows"] == {"new": 0, "changed": 0, "unchanged": 3}
    assert again.summary["campaigns_new_count"] == 0
    assert list(DailyMetric.objects.order_by("pk").values_list("pk", "updated_at")) == before
    assert Campaign.objects.filter(name="Autumn Drop").count() == 1


def test_csv_with_utf8_bom_and_sentence_case_synonyms(account, spring, editor, login):
    content = codecs.BOM_UTF8 + b"CAMPAIGN NAME,Date,Spend,Impressions,Paid Followers,Paid profile visits\r\n"
    content += b"Spring Glow,2026-05-03,7.5,70,3,9\r\n"

    upload(login(editor), account, content)

    summary = last_import().summary
    assert summary["error_count"] == 0
    assert summary["columns"]["By Day"] == "Date"
    assert summary["metric_rows"]["new"] == 1


def test_utf16_tab_separated_excel_text_is_read(account, spring, editor, login):
    text = "Campaign name\tBy Day\tCost\tImpressions\r\nSpring Glow\t2026-05-04\t1,000.25\t5\r\n"
    content = codecs.BOM_UTF16_LE + text.encode("utf-16-le")

    upload(login(editor), account, content, name="export.txt")

    assert last_import().summary["metric_rows"]["new"] == 1


def test_xlsx_import_with_date_and_number_cells(account, spring, editor, login):
    rows = [
        ["TikTok Ads Manager export"],  # a title line above the header
        ["Campaign name", "By Day", "Cost", "Impressions", "Reach", "Ad name"],
        ["Spring Glow", dt.datetime(2026, 5, 5), 12.5, 1500, 1200, "Hero video"],
        ["Spring Glow", dt.datetime(2026, 5, 5), 7.5, 500, 400, "Teaser"],
        ["Total of 2 results", None, 20, 2000, None, None],
    ]
    client = login(editor)

    upload(client, account, xlsx_bytes(rows), name="export.xlsx")
    metric_import = last_import()
    commit(client, account, metric_import)

    assert metric_import.summary["format"] == "xlsx"
    assert metric_import.summary["content_items_new"] == 2
    spring.refresh_from_db()
    # No campaign row in the file: the campaign's day is the sum of its ads.
    assert (spring.total_spend, spring.total_impressions) == (Decimal("20.00"), 2000)
    hero = ContentItem.objects.get(campaign=spring, title="Hero video")
    assert DailyMetric.objects.get(content_item=hero).impressions == 1500


def test_bad_rows_are_listed_with_line_numbers_and_block_commit(account, spring, editor, login):
    content = f"""{HEADER}
Spring Glow,2026-05-01,10,100,1,1,1,1,1,1,1,1
Spring Glow,yesterday,10,100,1,1,1,1,1,1,1,1
,2026-05-02,10,100,1,1,1,1,1,1,1,1
Spring Glow,2026-05-03,ten,12.5,1,1,1,1,1,1,1,1
Spring Glow,2026-05-01,11,100,1,1,1,1,1,1,1,1
"""
    client = login(editor)

    preview = upload(client, account, content)
    metric_import = last_import()
    response = commit(client, account, metric_import)

    errors = {e["line"]: e["message"] for e in metric_import.summary["errors"]}
    assert set(errors) == {3, 4, 5, 6}
    assert "“yesterday” is not a date" in errors[3]
    assert "no campaign name" in errors[4]
    assert "Cost: “ten” is not a number" in errors[5] and "Impressions: “12.5” is not a whole number" in errors[5]
    assert "first on line 2" in errors[6]
    assert "4 row errors" in preview.content.decode()
    assert "Nothing was imported" in response.content.decode()
    assert not DailyMetric.objects.exists()
    metric_import.refresh_from_db()
    assert metric_import.state == ImportState.PREVIEW


def test_commit_is_all_or_nothing(account, spring, editor, monkeypatch):
    metric_import = services.metric_import_preview(
        account=account, upload=SimpleUploadedFile("e.csv", GOOD_CSV.encode()), actor=editor
    )

    def explode(**kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(metric_imports, "daily_metrics_bulk_upsert", explode)
    # The commit task runs under the immediate backend, which records its RuntimeError as the task's failure.
    services.metric_import_commit(metric_import=metric_import, actor=editor)

    assert not Campaign.objects.filter(name="Autumn Drop").exists()
    assert not DailyMetric.objects.exists()
    metric_import.refresh_from_db()
    # The commit task failed (issue 19): the import says so, and nothing was stored.
    assert metric_import.state == ImportState.FAILED
    assert "Nothing was imported" in metric_import.error


def test_connected_account_rejects_unknown_campaigns(account, editor, login):
    account.connector = "tiktok"
    account.save(update_fields=["connector"])
    CampaignFactory(account=account, name="Spring Glow", platform_id="1800000000000001")
    content = f"{HEADER},Campaign ID\nSpring Glow,2026-05-01,1,1,1,1,1,1,1,1,1,1,1800000000000001\n"
    content += "Mystery,2026-05-01,1,1,1,1,1,1,1,1,1,1,\n"

    upload(login(editor), account, content)

    summary = last_import().summary
    assert summary["campaigns_new_count"] == 0
    assert summary["errors"] == [
        {"line": 3, "message": "No campaign named “Mystery” in this account; run “Sync now” first."}
    ]


def test_ambiguous_campaign_name_is_a_row_error(account, editor, login):
    CampaignFactory(account=account, name="Twin", platform_id="")
    CampaignFactory(account=account, name="Twin", platform_id="")

    upload(login(editor), account, "Campaign name,By Day,Cost\nTwin,2026-05-01,1\n")

    assert "2 campaigns are named “Twin”" in last_import().summary["errors"][0]["message"]


def test_discard_keeps_nothing(account, spring, editor, login):
    client = login(editor)
    upload(client, account, GOOD_CSV)
    metric_import = last_import()

    response = client.post(reverse("campaigns:import_discard", args=[account.pk, metric_import.pk]), follow=True)

    metric_import.refresh_from_db()
    assert "Nothing was imported" in response.content.decode()
    assert metric_import.state == ImportState.DISCARDED
    assert not metric_import.file
    assert commit(client, account, metric_import).status_code == 200
    assert not DailyMetric.objects.exists()


@pytest.mark.parametrize(
    ("content", "name", "message"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "export.csv", "binary file"),
        (b"Name,Value\nfoo,1\n", "export.csv", "No known column headers"),
        (b"Campaign name,Cost\nSpring Glow,1\n", "export.csv", "no “By Day”"),
        ("Campaign name,By Day,Cost\nCaf\xe9,2026-05-01,1\n".encode("latin-1"), "export.csv", "not UTF-8"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "export.xls", "old Excel .xls"),
        (b"Campaign name,By Day,Cost\n", "export.xlsx", "not an Excel workbook"),
        (b"", "export.csv", "The file is empty"),
        (b"   \n", "export.csv", "empty"),
    ],
)
def test_bad_files_get_a_clear_message_and_import_nothing(account, editor, login, content, name, message):
    response = upload(login(editor), account, content, name=name)

    html = response.content.decode()
    assert "Nothing was imported" in html
    assert message in html
    assert not MetricImport.objects.exists()


def test_upload_without_a_file_asks_for_one(account, editor, login):
    response = login(editor).post(reverse("campaigns:import_upload", args=[account.pk]), follow=True)

    assert "Choose a CSV or XLSX file" in response.content.decode()


def test_huge_file_is_refused(account, editor, login, monkeypatch):
    monkeypatch.setattr(imports.files, "MAX_UPLOAD_BYTES", 1024)

    response = upload(login(editor), account, GOOD_CSV + "Spring Glow,2026-05-09,1,1,1,1,1,1,1,1,1,1\n" * 50)

    assert "the limit is" in response.content.decode()
    assert not MetricImport.objects.exists()


def test_too_many_rows_is_refused(account, spring, editor, login, monkeypatch):
    monkeypatch.setattr(imports.rows, "MAX_ROWS", 5)

    response = upload(login(editor), account, HEADER + "\n" + "Spring Glow,2026-05-01,1,1,1,1,1,1,1,1,1,1\n" * 6)

    assert "more than 5 rows" in response.content.decode()


def test_zip_bomb_is_refused(account, editor, login):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/workbook.xml", "<workbook/>")
        archive.writestr("xl/worksheets/sheet1.xml", b"\x00" * (8 * 1024 * 1024))

    response = upload(login(editor), account, buffer.getvalue(), name="export.xlsx")

    assert "zip bomb" in response.content.decode()
    assert not MetricImport.objects.exists()


def test_zip_that_is_not_a_workbook_is_refused(account, editor, login):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("hello.txt", "hi")

    response = upload(login(editor), account, buffer.getvalue(), name="export.xlsx")

    assert "not an Excel workbook" in response.content.decode()


def test_viewer_cannot_import_and_outsider_gets_404(account, viewer, outsider, login, client):
    assert upload(login(viewer), account, GOOD_CSV).status_code == 403
    client.logout()
    assert upload(login(outsider), account, GOOD_CSV).status_code == 404
    assert not MetricImport.objects.exists()


def test_preview_page_of_other_account_is_404(account, spring, editor, outsider, login, client):
    upload(login(editor), account, GOOD_CSV)
    client.logout()

    response = login(outsider).get(reverse("campaigns:import_preview", args=[account.pk, last_import().pk]))

    assert response.status_code == 404


def test_preview_page_query_count_is_constant(account, spring, editor, login, django_assert_max_num_queries):
    client = login(editor)
    upload(client, account, GOOD_CSV)

    with django_assert_max_num_queries(8):
        client.get(reverse("campaigns:import_preview", args=[account.pk, last_import().pk]))


def test_parse_total_row_variants_are_skipped():
    parsed = imports.file_parse(
        content=b"Campaign name,By Day,Cost\nA,2026-05-01,1\nTotal,,1\nTotal of 1 result,,1\n", filename="x.csv"
    )

    assert [r.campaign_name for r in parsed.rows] == ["A"]
    assert parsed.skipped == 2


@pytest.mark.parametrize("rows", [300, 3000])
def test_plan_query_count_does_not_grow_with_rows(account, rows, django_assert_max_num_queries):
    CampaignFactory(account=account, name="A", platform_id="")
    lines = "".join(f"A,{dt.date(2016, 1, 1) + dt.timedelta(days=n)},1,1\n" for n in range(rows))
    metric_import = MetricImport.objects.create(account=account, filename="x.csv", sha256="", size=0)
    staged = imports.file_stage(
        import_id=metric_import.pk, content=f"Campaign name,By Day,Cost,Impressions\n{lines}".encode(), filename="x.csv"
    )

    with django_assert_max_num_queries(25):  # the same bound for both sizes
        plan = imports.import_plan(account=account, import_id=metric_import.pk, staged=staged)

    assert plan.counts["new"] == rows


def test_upload_through_htmx_redirects_the_browser_to_the_preview(account, spring, editor, login):
    client = login(editor)
    response = client.post(
        reverse("campaigns:import_upload", args=[account.pk]),
        {"file": SimpleUploadedFile("export.csv", GOOD_CSV.encode())},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    assert response["HX-Redirect"] == reverse("campaigns:import_preview", args=[account.pk, last_import().pk])

    bad = client.post(
        reverse("campaigns:import_upload", args=[account.pk]),
        {"file": SimpleUploadedFile("export.csv", b"\x00\x01binary")},
        headers={"HX-Request": "true"},
    )
    assert bad["HX-Redirect"] == reverse("campaigns:account_detail", args=[account.pk])
    page = client.get(bad["HX-Redirect"])
    assert "Nothing was imported" in page.content.decode()


# --- Values that do not fit their column (issue 14 §4) ---------------------------------------------------------

MAX_MONEY = Decimal("999999999999.99")  # DecimalField(max_digits=14, decimal_places=2)
MAX_COUNT = 2**63 - 1  # PositiveBigIntegerField
PAGES = ("campaigns:list", "campaigns:calendar")


def stored():
    """Everything an import may write, to compare before and after."""
    return (
        list(DailyMetric.objects.order_by("pk").values_list("pk", "updated_at", "spend", "impressions")),
        list(Campaign.objects.order_by("pk").values_list("pk", "name", "total_spend", "total_impressions")),
        list(ContentItem.objects.order_by("pk").values_list("pk", "title")),
        StatusChange.objects.count(),
    )


def errors_of(metric_import):
    return {e["line"]: e["message"] for e in metric_import.summary["errors"]}


def assert_pages_answer(client, account):
    for name in PAGES:
        assert client.get(reverse(name)).status_code == 200, name
    assert client.get(reverse("campaigns:account_detail", args=[account.pk])).status_code == 200
    for pk in Campaign.objects.filter(account=account).values_list("pk", flat=True):
        assert client.get(reverse("campaigns:detail", args=[pk])).status_code == 200


def upload_and_commit(client, account, content, name="export.csv"):
    """Upload, then ask to commit even when the preview does not offer it: the server must refuse."""
    preview = upload(client, account, content, name=name)
    if not MetricImport.objects.exists():
        return preview, None, None
    metric_import = last_import()
    return preview, metric_import, commit(client, account, metric_import)


@pytest.mark.parametrize(
    ("cost", "impressions", "message"),
    [
        ("1234567890123.00", "1", "Cost: “1234567890123.00” is more than the largest value Closeout stores"),
        ("999999999999.995", "1", "Cost: “999999999999.995” is more than the largest value Closeout stores"),
        ("1", str(2**63), f"Impressions: “{2**63}” is more than the largest value Closeout stores"),
        ("1", "9" * 5000, "Impressions: “" + "9" * 39 + "…” is more than the largest"),
        ("1e30", "1", "Cost: “1e30” is more than the largest value Closeout stores (999,999,999,999.99)"),
        ("1", "1e400", "Impressions: “1e400” is more than the largest value Closeout stores (9,223,372,036,854,"),
        ("1", "1E999999999", "Impressions: “1E999999999” is more than the largest value"),
        ("1e999999999999999999999", "1", "Cost: “1e999999999999999999999” is not a number"),
        ("NaN", "1", "Cost: “NaN” is not a number"),
        ("1", "Infinity", "Impressions: “Infinity” is not a number"),
        ("-inf", "1", "Cost: “-inf” is not a number"),
        ("-0.01", "1", "Cost: “-0.01” is negative"),
        ("1", "-5", "Impressions: “-5” is negative"),
        ("sNaN", "1", "Cost: “sNaN” is not a number"),
        ("=1+1", "1", "Cost: “=1+1” is not a number"),
        ("1", "@SUM(A1)", "Impressions: “@SUM(A1)” is not a number"),
    ],
)
def test_value_past_its_column_is_a_row_error_and_nothing_is_stored(
    account, spring, manager, login, cost, impressions, message
):
    client = login(manager)
    before = stored()

    preview, metric_import, response = upload_and_commit(
        client, account, f"Campaign name,By Day,Cost,Impressions\nSpring Glow,2026-05-01,{cost},{impressions}\n"
    )

    assert message in errors_of(metric_import)[2]
    assert "1 row error" in preview.content.decode()
    assert "Nothing was imported" in response.content.decode()
    assert stored() == before
    assert_pages_answer(client, account)


def test_values_at_the_column_limits_import_and_every_page_still_answers(account, spring, manager, login):
    client = login(manager)
    content = f"Campaign name,By Day,Cost,Impressions,Reach\nSpring Glow,2026-05-01,{MAX_MONEY},{MAX_COUNT},1e3\n"

    upload_and_commit(client, account, content)

    spring.refresh_from_db()
    assert (spring.total_spend, spring.total_impressions, spring.total_reach) == (MAX_MONEY, MAX_COUNT, 1000)
    assert_pages_answer(client, account)


def test_money_a_fraction_of_a_cent_over_the_limit_rounds_to_it(account, spring, manager, login):
    """999999999999.994 rounds to the largest value stored: kept, not refused (hypothesis found it)."""
    client = login(manager)
    content = "Campaign name,By Day,Cost,Impressions\nSpring Glow,2026-05-01,999999999999.994,1\n"

    _, metric_import, _ = upload_and_commit(client, account, content)

    assert errors_of(metric_import) == {}
    spring.refresh_from_db()
    assert spring.total_spend == MAX_MONEY


def test_xlsx_numbers_past_their_column_are_row_errors(account, spring, manager, login):
    rows = [
        ["Campaign name", "By Day", "Cost", "Impressions"],
        ["Spring Glow", "2026-05-01", 1e30, 1],
        ["Spring Glow", "2026-05-02", 1, 2**63],
        ["Spring Glow", "2026-05-03", Raw("<v>1E+400</v>"), 1],
        ["Spring Glow", "2026-05-04", 1, -3],
        ["Spring Glow", "2026-05-05", True, 1],
        ["Spring Glow", "2026-05-06", 1, 2.5],
    ]
    before = stored()

    _, metric_import, _ = upload_and_commit(login(manager), account, xlsx_raw(rows), name="export.xlsx")

    errors = errors_of(metric_import)
    assert "Cost: “1e+30” is more than the largest value" in errors[2]
    assert f"Impressions: “{2**63}” is more than the largest value" in errors[3]
    assert "Cost: “inf” is not a number" in errors[4]
    assert "Impressions: “-3” is negative" in errors[5]
    assert "Cost: “True” is not a number" in errors[6]
    assert "Impressions: “2.5” is not a whole number" in errors[7]
    assert stored() == before


def test_campaign_total_past_its_column_names_the_row_that_takes_it_there(account, spring, manager, login):
    half = Decimal("600000000000.00")
    content = f"Campaign name,By Day,Cost\nSpring Glow,2026-05-01,{half}\nSpring Glow,2026-05-02,{half}\n"
    before = stored()

    _, metric_import, _ = upload_and_commit(login(manager), account, content)

    assert errors_of(metric_import) == {
        3: "With this row, the total Cost of “Spring Glow” would be 1,200,000,000,000.00, "
        "more than Closeout stores (999,999,999,999.99)."
    }
    assert stored() == before


def test_campaign_total_counts_the_days_already_stored(account, spring, manager, login):
    client = login(manager)
    upload_and_commit(client, account, f"Campaign name,By Day,Impressions\nSpring Glow,2026-05-01,{2**62}\n")
    before = stored()

    # Another day adds to the stored one: past the column.
    _, other_day, _ = upload_and_commit(
        client, account, f"Campaign name,By Day,Impressions\nSpring Glow,2026-05-02,{2**62}\n"
    )
    assert "the total Impressions of “Spring Glow” would be 9,223,372,036,854,775,808" in errors_of(other_day)[2]
    assert stored() == before

    # The same day replaces the stored one: fits.
    _, same_day, _ = upload_and_commit(
        client, account, f"Campaign name,By Day,Impressions\nSpring Glow,2026-05-01,{MAX_COUNT}\n"
    )
    assert same_day.summary["error_count"] == 0
    spring.refresh_from_db()
    assert spring.total_impressions == MAX_COUNT


def test_account_total_past_its_column_is_a_row_error(account, spring, manager, login):
    """The campaign list adds up the account's campaigns: SQLite's SUM() fails past 2**63-1 and PostgreSQL's
    list-totals trigger refuses it, so an import must not take the account there either."""
    CampaignFactory(account=account, name="Autumn Drop", platform_id="", total_video_views=2**62)
    content = f"Campaign name,By Day,Video views\nSpring Glow,2026-05-01,{2**62}\n"
    before = stored()

    _, metric_import, _ = upload_and_commit(login(manager), account, content)

    assert (
        "the total Video views of all campaigns in this account would be 9,223,372,036,854,775,808"
        in (errors_of(metric_import)[2])
    )
    assert stored() == before


def test_day_summed_from_its_ads_past_its_column_is_a_row_error(account, spring, manager, login):
    content = (
        f"Campaign name,Ad name,By Day,Cost\nSpring Glow,Hero,2026-05-01,{MAX_MONEY}\n"
        "Spring Glow,Teaser,2026-05-01,0.01\n"
    )
    before = stored()

    _, metric_import, _ = upload_and_commit(login(manager), account, content)

    assert errors_of(metric_import)[3].startswith(
        "With this ad, Cost of “Spring Glow” on 2026-05-01 (the sum of its ads) would be 1,000,000,000,000.00"
    )
    assert stored() == before


def test_days_before_2000_or_in_the_future_are_row_errors(account, spring, manager, login):
    tomorrow = dt.date.today() + dt.timedelta(days=2)
    content = "Campaign name,By Day,Cost\n" + "".join(
        f"Spring Glow,{day},1\n" for day in ("0026-05-01", tomorrow, "1999-12-31")
    )

    _, metric_import, _ = upload_and_commit(login(manager), account, content)

    errors = errors_of(metric_import)
    assert "By Day: 0026-05-01 is before 2000: check the year." in errors[2]
    assert f"{tomorrow} is in the future" in errors[3]
    assert "By Day: 1999-12-31 is before 2000: check the year." in errors[4]
    assert not DailyMetric.objects.exists()


# --- Files and cells that cannot be read as they are (issue 14 §4) ---------------------------------------------


@pytest.mark.parametrize(
    "prolog",
    [
        "<!DOCTYPE worksheet>",
        '<!DOCTYPE worksheet [<!ENTITY a "Spring Glow">]>',
        '<!DOCTYPE worksheet [<!ENTITY x SYSTEM "file:///etc/passwd">]>',
        '<!DOCTYPE worksheet [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>',
        "<!-- a comment first -->\n<!doctype worksheet>",
    ],
)
def test_xlsx_with_a_dtd_is_refused(account, spring, manager, login, prolog):
    rows = [["Campaign name", "By Day", "Cost"], ["Spring Glow", "2026-05-01", 1]]

    response = upload(login(manager), account, xlsx_raw(rows, prolog=prolog), name="export.xlsx")

    html = response.content.decode()
    assert "Nothing was imported" in html and "document type declaration" in html
    assert not MetricImport.objects.exists()


def test_xlsx_with_a_dtd_in_utf16_is_refused(account, manager, login):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("xl/workbook.xml", "<workbook/>")
        archive.writestr(
            "xl/worksheets/sheet1.xml", '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE x><x/>'.encode("utf-16")
        )

    response = upload(login(manager), account, buffer.getvalue(), name="export.xlsx")

    assert "document type declaration" in response.content.decode()


@pytest.mark.parametrize(
    ("sheet_rows", "message"),
    [
        # XML that breaks after the first rows: openpyxl raises while the rows are read.
        (
            [["Campaign name", "By Day", "Cost"], ["Spring Glow", "2026-05-01", Raw("<v>1</v></c><c><v>")]],
            "cannot be read",
        ),
        (
            [["Campaign name", "By Day", "Cost"], ["Spring Glow", "2026-05-01", Raw("<v>1</v>", ' r="ZZZZ9"')]],
            "cannot be read",
        ),
        ([["Campaign name", "By Day", "Cost"], ["Spring Glow", "2026-05-01", Raw("<v>nan</v>")]], "cannot be read"),
    ],
)
def test_xlsx_that_breaks_while_reading_gets_a_clear_message(account, spring, manager, login, sheet_rows, message):
    response = upload(login(manager), account, xlsx_raw(sheet_rows), name="export.xlsx")

    html = response.content.decode()
    assert "Nothing was imported" in html and message in html
    assert not MetricImport.objects.exists()


def test_xlsx_without_a_worksheet_gets_a_clear_message(account, manager, login):
    content = xlsx_bytes([["Campaign name", "By Day", "Cost"]])
    buffer = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(content)) as source, zipfile.ZipFile(buffer, "w") as target:
        for entry in source.infolist():
            data = source.read(entry)
            if entry.filename == "xl/workbook.xml":
                data = re.sub(rb"<sheets>.*</sheets>", b"<sheets/>", data)
            target.writestr(entry, data)

    response = upload(login(manager), account, buffer.getvalue(), name="export.xlsx")

    assert "The workbook cannot be read" in response.content.decode()


def test_xlsx_shared_strings_bomb_is_refused_before_it_is_read(account, manager, login):
    # The workbook's own shared strings part, with one string more than the limit (about 1 MB compressed).
    items = "".join(f"<si><t>Campaign {n}</t></si>" for n in range(files.MAX_XLSX_SHARED_STRINGS + 1))
    strings = f'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">{items}</sst>'
    rows = [["Campaign name", "By Day", "Cost"]]
    content = xlsx_raw(rows, shared_strings=True, extra_parts={"xl/sharedStrings.xml": strings.encode()})

    started = time.monotonic()
    response = upload(login(manager), account, content, name="export.xlsx")

    assert "zip bomb" in response.content.decode()
    assert time.monotonic() - started < 5  # openpyxl would take about 2 s to read the strings alone
    # Over IMPORT_INLINE_MAX_BYTES, so read in the background: the import failed, and its file is not kept.
    failed = last_import()
    assert failed.state == ImportState.FAILED and "zip bomb" in failed.error
    assert not failed.file


def test_xlsx_cells_bomb_is_refused(account, manager, login, monkeypatch):
    monkeypatch.setattr(files, "MAX_XLSX_CELLS", 50)
    content = xlsx_raw([["Campaign name", "By Day", "Cost", *range(60)]])

    response = upload(login(manager), account, content, name="export.xlsx")

    assert "zip bomb" in response.content.decode()


@pytest.mark.parametrize("limit", ["MAX_XLSX_ELEMENTS", "MAX_XLSX_CELLS", "MAX_XLSX_SHARED_STRINGS"])
def test_xlsx_with_more_elements_than_an_export_is_refused(account, manager, login, monkeypatch, limit):
    monkeypatch.setattr(files, limit, 30)
    rows = [["Campaign name", "By Day", "Cost"], *(["Spring Glow", f"2026-05-{day:02d}", 1] for day in range(1, 15))]

    response = upload(login(manager), account, xlsx_raw(rows, shared_strings=True), name="export.xlsx")

    assert "zip bomb" in response.content.decode()
    assert not MetricImport.objects.exists()


def test_xlsx_row_larger_than_any_export_row_is_refused_while_read(account, spring, manager, login, monkeypatch):
    """openpyxl builds a whole row before it hands it over: one row of 2 million cells took 1.3 GB. The sheet is
    read through a meter that stops a row at MAX_XLSX_ROW_BYTES, however its XML hides its size."""
    monkeypatch.setattr(files, "MAX_XLSX_ROW_BYTES", 64 * 1024)
    header, fine = ["Campaign name", "By Day", "Cost"], ["Spring Glow", "2026-05-01", 1]
    client = login(manager)
    upload(client, account, xlsx_raw([header, fine, *[fine] * 2000]), name="export.xlsx")
    assert last_import().summary["data_rows"] == 2001  # many rows: each is small
    huge = [*fine, *[Raw("<v>1</v>")] * 16_000]

    response = upload(client, account, xlsx_raw([header, fine, huge], dimension="A1:C3"), name="export.xlsx")

    assert "zip bomb" in response.content.decode()
    assert MetricImport.objects.count() == 1


def test_xlsx_rows_far_down_or_far_right_are_not_padded(account, spring, manager, login, monkeypatch):
    """A <dimension> of A1:XFD1048576, a cell in column XFD, a row a million rows down: read in well under a
    second (openpyxl would otherwise build 16,384-cell rows for each of a million rows)."""
    header = ["Campaign name", "By Day", "Cost"]
    wide = ["Spring Glow", "2026-05-01", 1, *[None] * 16_000, "far right"]
    client = login(manager)
    monkeypatch.setattr(imports.rows, "MAX_ROWS", 50_000)  # the cap before issue 19: a row a million down is past it

    started = time.monotonic()
    upload(client, account, xlsx_raw([header, wide], dimension="A1:XFD1048576"), name="export.xlsx")
    assert last_import().summary["metric_rows"]["new"] == 1
    response = upload(
        client, account, xlsx_raw([header, wide, wide], row_numbers=[1, 2, 1_048_576]), name="export.xlsx"
    )

    assert "more than 100,010 lines" in response.content.decode()
    assert time.monotonic() - started < 5


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (codecs.BOM_UTF16_LE + "Campaign name,By Day\n".encode("utf-16-le") + b"\x00", "not UTF-8 text"),
        (codecs.BOM_UTF16_LE + b"\x00\xd8A\x00", "not UTF-8 text"),  # a lone surrogate
        (b"Campaign name,By Day,Cost\n\xed\xa0\x80,2026-05-01,1\n", "not UTF-8 text"),  # an encoded surrogate
        (b"Campaign name,By Day,Cost\nA\x00,2026-05-01,1\n", "binary file"),
        (b'Campaign name,By Day,Cost\n"' + b"x" * 200_000 + b'",2026-05-01,1\n', "cannot be read near line 2"),
    ],
)
def test_badly_encoded_csv_gets_a_clear_message(account, manager, login, content, message):
    response = upload(login(manager), account, content)

    assert message in response.content.decode()
    assert not MetricImport.objects.exists()


def test_nul_byte_after_the_first_8_kb_is_a_row_error_naming_its_line(account, spring, manager, login):
    """PostgreSQL refuses NUL in text and JSON: before, the summary's save answered 500."""
    rows = "".join(f"Spring Glow,2026-04-{1 + n % 28:02d},1\n" for n in range(1))
    padding = "".join(f"Pad {n:04d},2026-04-01,1\n" for n in range(400))  # about 9 KB
    content = f"Campaign name,By Day,Cost\n{rows}{padding}Nul\x00here,2026-05-01,1\nSpring Glow,2026-05-02,1\x00\n"
    assert content.index("\x00") > 8192
    before = stored()

    _, metric_import, response = upload_and_commit(login(manager), account, content)

    errors = errors_of(metric_import)
    assert errors[403] == "Campaign name: contains the control character U+0000; remove it."
    assert errors[404] == "Cost: “1�” is not a number."
    assert "Nothing was imported" in response.content.decode()
    assert stored() == before


@pytest.mark.parametrize("char", ["\x01", "\x07", "\x1b", "\x7f", "\x85", "\x9f"])
def test_control_character_in_a_name_is_a_row_error(account, manager, login, char):
    content = f"Campaign name,Ad name,By Day,Cost\nSpring{char}Glow,Hero,2026-05-01,1\nSpring,Her{char}o,2026-05-01,1\n"
    content += "Spring,Hero,2026-04-01,1\n" * 10  # two control characters in a tiny file would look binary

    _, metric_import, _ = upload_and_commit(login(manager), account, content)

    errors = errors_of(metric_import)
    assert errors[2] == f"Campaign name: contains the control character U+{ord(char):04X}; remove it."
    assert errors[3] == f"Ad name: contains the control character U+{ord(char):04X}; remove it."
    assert Campaign.objects.count() == 0


def test_tabs_and_line_breaks_in_a_name_become_spaces(account, manager, login):
    content = 'Campaign name,By Day,Cost\n"Spring\tGlow\r\nTwo",2026-05-01,1\n'
    client = login(manager)

    upload_and_commit(client, account, content)

    assert list(Campaign.objects.values_list("name", flat=True)) == ["Spring Glow Two"]


def test_names_and_ids_longer_than_their_column_are_row_errors(account, manager, login):
    fits, long = "n" * 255, "n" * 256
    content = (
        "Campaign name,Campaign ID,Ad name,Ad ID,By Day,Cost\n"
        f"{fits},,{fits},,2026-05-01,1\n"
        f"{long},,Hero,,2026-05-01,1\n"
        f"Other,,{long},,2026-05-01,1\n"
        f"Other,{'1' * 65},Hero,,2026-05-01,1\n"
        f"Other,,Hero,{'2' * 65},2026-05-01,1\n"
    )

    metric_import = upload_and_commit(login(manager), account, content)[1]

    errors = errors_of(metric_import)
    assert set(errors) == {3, 4, 5, 6}
    assert errors[3] == "Campaign name: is 256 characters long; at most 255 fit."
    assert errors[4] == "Ad name: is 256 characters long; at most 255 fit."
    assert errors[5] == "Campaign ID: is 65 characters long; at most 64 fit."
    assert errors[6] == "Ad ID: is 65 characters long; at most 64 fit."
    assert not Campaign.objects.exists()


def test_formula_looking_cells_are_data(account, manager, login):
    rows = [
        ["Campaign name", "By Day", "Cost"],
        ['=HYPERLINK("http://x")', "2026-05-01", "1"],
        ["@cmd", "2026-05-01", "+2"],
    ]
    client = login(manager)

    upload_and_commit(client, account, xlsx_raw(rows), name="export.xlsx")

    assert dict(Campaign.objects.values_list("name", "total_spend")) == {
        '=HYPERLINK("http://x")': Decimal("1.00"),
        "@cmd": Decimal("2.00"),
    }
    assert "=HYPERLINK(&quot;http://x&quot;)" in client.get(reverse("campaigns:list")).content.decode()


def test_control_characters_in_headers_and_the_filename_are_not_stored(account, spring, manager):
    # The header's NUL comes after the first 8 KB, where a binary file would have shown itself.
    content = b"Campaign name,By Day,Cost" + b"," * 9000 + b"Note\x00\x01\nSpring Glow,2026-05-01,1\n"
    upload_file = SimpleUploadedFile("ex\x00port\x1b.csv", content)

    metric_import = services.metric_import_preview(account=account, upload=upload_file, actor=manager)

    metric_import.refresh_from_db()
    assert metric_import.filename == "export.csv"
    assert metric_import.summary["unknown_columns"] == ["Note��"]


# --- Currencies (issue 15 §5) -----------------------------------------------------------------------------------


def test_money_columns_named_with_the_currency_are_read(account, spring, manager, login):
    content = (
        "Campaign name,By Day,Cost (USD),CPM (USD),CPC (destination) (USD),Clicks (all),Currency\n"
        "Spring Glow,2026-05-01,12.50,3.10,0.40,7,USD\n"
    )
    client = login(manager)

    _, metric_import, _ = upload_and_commit(client, account, content)

    assert metric_import.summary["columns"]["Cost"] == "Cost (USD)"
    assert metric_import.summary["unknown_columns"] == ["CPM (USD)", "CPC (destination) (USD)", "Clicks (all)"]
    spring.refresh_from_db()
    assert spring.total_spend == Decimal("12.50")


@pytest.mark.parametrize(
    ("header", "row", "where"),
    [
        ("Campaign name,By Day,Cost (EUR)", "Spring Glow,2026-05-01,1", "the column “Cost (EUR)”"),
        ("Campaign name,By Day,Cost,CPM (eur)", "Spring Glow,2026-05-01,1,2", "the column “CPM (eur)”"),
        ("Campaign name,By Day,Cost,Currency", "Spring Glow,2026-05-01,1,usd\nSpring Glow,2026-05-02,1,EUR", "line 3"),
    ],
)
def test_file_in_another_currency_is_refused(account, spring, manager, login, header, row, where):
    before = stored()

    response = upload(login(manager), account, f"{header}\n{row}\n")

    assert (
        f"Nothing was imported: This file is in EUR ({where}), but “Acme Beauty” reports in USD: it was probably "
        "exported from another ad account."
    ) in response.content.decode().replace("&#x27;", "'")
    assert not MetricImport.objects.exists()
    assert stored() == before


def test_commit_refused_when_the_account_currency_changed_since_the_preview(account, spring, manager, login):
    client = login(manager)
    upload(client, account, "Campaign name,By Day,Cost (USD)\nSpring Glow,2026-05-01,1\n")
    account.currency = "EUR"
    account.save(update_fields=["currency"])

    response = commit(client, account, last_import())

    assert "This file is in USD" in response.content.decode() and "Nothing was imported." in response.content.decode()
    assert not DailyMetric.objects.exists()
    assert last_import().state == ImportState.FAILED  # the commit task refused it, and its page says why
