"""Ads Manager CSV/XLSX import: parsing, preview, atomic commit, re-import, and bad files."""

import codecs
import datetime as dt
import io
import zipfile
from decimal import Decimal

import openpyxl
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from campaigns import imports, services
from campaigns.models import Campaign, ContentItem, DailyMetric, ImportState, MetricImport, StatusChange
from campaigns.services import metric_imports
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

    monkeypatch.setattr(metric_imports, "daily_metrics_upsert", explode)
    with pytest.raises(RuntimeError):
        services.metric_import_commit(metric_import=metric_import, actor=editor)

    assert not Campaign.objects.filter(name="Autumn Drop").exists()
    assert not DailyMetric.objects.exists()
    metric_import.refresh_from_db()
    assert metric_import.state == ImportState.PREVIEW


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
    monkeypatch.setattr(imports, "MAX_UPLOAD_BYTES", 1024)

    response = upload(login(editor), account, GOOD_CSV + "Spring Glow,2026-05-09,1,1,1,1,1,1,1,1,1,1\n" * 50)

    assert "the limit is" in response.content.decode()
    assert not MetricImport.objects.exists()


def test_too_many_rows_is_refused(account, spring, editor, login, monkeypatch):
    monkeypatch.setattr(imports, "MAX_ROWS", 5)

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


def test_plan_query_count_does_not_grow_with_rows(account, django_assert_max_num_queries):
    CampaignFactory(account=account, name="A", platform_id="")
    lines = "".join(f"A,2026-{1 + n // 28:02d}-{1 + n % 28:02d},1,1\n" for n in range(300))
    parsed = imports.file_parse(content=f"Campaign name,By Day,Cost,Impressions\n{lines}".encode(), filename="x.csv")

    with django_assert_max_num_queries(4):
        plan = imports.import_plan(account=account, parsed=parsed)

    assert plan.counts["new"] == 300


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
