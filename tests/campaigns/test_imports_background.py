"""Imports in the background (issue 19): the upload returns at once, the import's page shows where its task is,
the commit is all or nothing and idempotent, a lost task is picked up again, and the cap is 2,000,000 rows."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from campaigns import imports, services, tasks
from campaigns.models import Campaign, DailyMetric, ImportState, MetricImport, StatusChange
from campaigns.services import metric_imports
from campaigns.worker import reconcile
from tests.factories import CampaignFactory
from tests.workers.conftest import db_tasks, tasks_run_queued  # noqa: F401 (db_tasks: a fixture)

pytestmark = pytest.mark.django_db

HEADER = "Campaign name,By Day,Cost,Impressions,Reach"
GOOD_CSV = f"""{HEADER}
Spring Glow,2026-05-01,"1,234.50","12,000",9000
Spring Glow,2026-05-02,10.00,1000,-
Autumn Drop,2026-05-01,5,100,80
"""


@pytest.fixture(autouse=True)
def background(settings, tmp_path):
    """Media in a temporary directory; every upload read by the task, whatever its size."""
    settings.MEDIA_ROOT = tmp_path
    settings.IMPORT_INLINE_MAX_BYTES = 0


@pytest.fixture
def spring(account):
    return CampaignFactory(account=account, name="Spring Glow", platform_id="")


def upload(client, account, content, name="export.csv", **kwargs):
    data = content.encode() if isinstance(content, str) else content
    return client.post(
        reverse("campaigns:import_upload", args=[account.pk]), {"file": SimpleUploadedFile(name, data)}, **kwargs
    )


def page_url(metric_import):
    return reverse("campaigns:import_preview", args=[metric_import.account_id, metric_import.pk])


def progress_partial(client, metric_import):
    return client.get(page_url(metric_import), {"progress": "1"}, headers={"HX-Request": "true"})


def days(n: int, *, bad_last: bool = False) -> str:
    start = dt.date(2024, 1, 1)
    lines = [f"Spring Glow,{start + dt.timedelta(days=i)},1.50,{i},1" for i in range(n)]
    if bad_last:
        lines[-1] = f"Spring Glow,{start + dt.timedelta(days=n - 1)},lots,1,1"
    return HEADER + "\n" + "\n".join(lines) + "\n"


def test_upload_returns_at_once_and_the_page_shows_the_task_progress(db_tasks, account, spring, editor, login):  # noqa: F811
    client = login(editor)

    response = upload(client, account, GOOD_CSV)

    metric_import = MetricImport.objects.get()
    assert response.status_code == 302 and response["Location"] == page_url(metric_import)
    assert metric_import.state == ImportState.QUEUED  # nothing read yet: the worker does it
    page = client.get(page_url(metric_import)).content.decode()
    assert "Waiting for a worker to read the file (~3 rows)" in page
    assert '<noscript><meta http-equiv="refresh" content="3"></noscript>' in page  # without JavaScript
    assert f'href="{page_url(metric_import)}">Refresh</a>' in page
    assert 'hx-trigger="every 1s"' in page

    MetricImport.objects.filter(pk=metric_import.pk).update(
        state=ImportState.PARSING, progress={"step": "reading", "done": 420_000, "total": 1_000_000}
    )
    partial = progress_partial(client, metric_import).content.decode()
    assert "Reading the file: 420,000 of ~1,000,000 rows." in partial
    assert "<html" not in partial and 'id="import-progress"' in partial

    assert tasks_run_queued() == 1
    metric_import.refresh_from_db()
    assert metric_import.state == ImportState.PREVIEW
    assert progress_partial(client, metric_import)["HX-Refresh"] == "true"  # done: the whole page changes
    assert "Check before importing" in client.get(page_url(metric_import)).content.decode()


def test_committing_shows_progress_then_the_result(db_tasks, account, spring, editor, login):  # noqa: F811
    client = login(editor)
    upload(client, account, GOOD_CSV)
    tasks_run_queued()
    metric_import = MetricImport.objects.get()

    response = client.post(reverse("campaigns:import_commit", args=[account.pk, metric_import.pk]), follow=True)

    assert "Importing “export.csv”. This page shows how far it is." in response.content.decode()
    assert "Importing: writing 0 of 3 rows." in response.content.decode()
    assert not DailyMetric.objects.exists()
    tasks_run_queued()
    page = client.get(page_url(metric_import)).content.decode()
    assert "3 new and 0 updated daily rows" in page
    assert MetricImport.objects.get().state == ImportState.COMMITTED


def test_background_preview_and_commit_store_what_the_request_did(account, spring, editor, login, settings):
    """The same file through the inline path (small files) and the task path: same rows, same totals."""
    client = login(editor)
    results = []
    for inline_max in (10_000_000, 0):
        settings.IMPORT_INLINE_MAX_BYTES = inline_max
        DailyMetric.objects.all().delete()
        Campaign.objects.exclude(pk=spring.pk).delete()
        services.campaign_totals_refresh(campaign_ids=[spring.pk])
        upload(client, account, GOOD_CSV)  # immediate backend: the task runs before the response
        metric_import = MetricImport.objects.latest("created_at")
        assert metric_import.summary["metric_rows"]["new"] == 3
        client.post(reverse("campaigns:import_commit", args=[account.pk, metric_import.pk]))
        spring.refresh_from_db()
        results.append(
            (
                sorted(DailyMetric.objects.values_list("campaign__name", "date", "spend", "impressions", "reach")),
                (spring.total_spend, spring.total_impressions, spring.total_reach),
                MetricImport.objects.latest("created_at").summary["result"],
            )
        )
    assert results[0] == results[1]
    assert results[1][1] == (Decimal("1244.50"), 13000, 9000)


def test_a_bad_row_late_in_the_file_fails_the_import_and_stores_nothing(account, spring, editor, login):
    client = login(editor)

    upload(client, account, days(700, bad_last=True))

    metric_import = MetricImport.objects.get()
    assert metric_import.summary["error_count"] == 1
    assert metric_import.summary["errors"][0]["line"] == 701
    response = client.post(reverse("campaigns:import_commit", args=[account.pk, metric_import.pk]), follow=True)
    assert "Nothing was imported" in response.content.decode()
    assert not DailyMetric.objects.exists()


def test_a_crash_mid_commit_stores_nothing_and_says_so(account, spring, editor, login, monkeypatch):
    client = login(editor)
    upload(client, account, GOOD_CSV)
    metric_import = MetricImport.objects.get()

    def crash(**kwargs):  # after the rows are in the table, before the transaction commits
        raise RuntimeError("worker lost its database")

    monkeypatch.setattr("campaigns.services.metrics.campaign_totals_refresh", crash)
    response = client.post(reverse("campaigns:import_commit", args=[account.pk, metric_import.pk]), follow=True)

    assert not DailyMetric.objects.exists()
    assert not Campaign.objects.filter(name="Autumn Drop").exists()
    assert not StatusChange.objects.filter(details__event="imported").exists()
    metric_import.refresh_from_db()
    assert metric_import.state == ImportState.FAILED
    assert "The import failed (RuntimeError). Nothing was imported; try again." in response.content.decode()


def test_the_commit_task_run_twice_stores_each_row_once(db_tasks, account, spring, editor, login):  # noqa: F811
    client = login(editor)
    upload(client, account, GOOD_CSV)
    tasks_run_queued()
    metric_import = MetricImport.objects.get()
    client.post(reverse("campaigns:import_commit", args=[account.pk, metric_import.pk]))
    tasks_run_queued()
    stored = list(DailyMetric.objects.order_by("pk").values_list("pk", "updated_at", "spend"))

    tasks.metric_import_commit_task.enqueue(metric_import.pk)  # a duplicate delivery
    tasks_run_queued()

    assert list(DailyMetric.objects.order_by("pk").values_list("pk", "updated_at", "spend")) == stored
    assert len(stored) == 3
    assert StatusChange.objects.filter(details__event="imported").count() == 2  # one per campaign, once
    assert Campaign.objects.filter(name="Autumn Drop").count() == 1


def test_an_import_whose_task_was_lost_is_picked_up_again(db_tasks, account, spring, editor, login):  # noqa: F811
    """A worker killed mid-commit: its transaction rolled back, the import still committing, its task gone."""
    client = login(editor)
    upload(client, account, GOOD_CSV)
    tasks_run_queued()
    metric_import = MetricImport.objects.get()
    client.post(reverse("campaigns:import_commit", args=[account.pk, metric_import.pk]))
    DBTaskResult.objects.all().delete()  # the task is lost with its worker
    assert reconcile.reconcile_run()["campaigns.imports"] == 0  # still within its grace

    MetricImport.objects.filter(pk=metric_import.pk).update(progress_at=timezone.now() - dt.timedelta(minutes=5))
    assert reconcile.reconcile_run()["campaigns.imports"] == 1
    assert reconcile.reconcile_run()["campaigns.imports"] == 0  # queued once
    tasks_run_queued()

    assert MetricImport.objects.get().state == ImportState.COMMITTED
    assert DailyMetric.objects.count() == 3


def test_an_upload_whose_reading_was_lost_is_read_again(db_tasks, account, spring, editor, login):  # noqa: F811
    client = login(editor)
    upload(client, account, GOOD_CSV)
    DBTaskResult.objects.all().delete()
    MetricImport.objects.update(state=ImportState.PARSING, progress_at=timezone.now() - dt.timedelta(minutes=5))

    assert reconcile.reconcile_run()["campaigns.imports"] == 1
    tasks_run_queued()

    assert MetricImport.objects.get().state == ImportState.PREVIEW


def test_viewer_cannot_import_or_commit_and_another_account_gets_404(
    account, spring, editor, viewer, outsider, login, client
):
    upload(login(editor), account, GOOD_CSV)
    metric_import = MetricImport.objects.get()

    assert upload(login(viewer), account, GOOD_CSV).status_code == 403
    assert client.post(reverse("campaigns:import_commit", args=[account.pk, metric_import.pk])).status_code == 403
    assert MetricImport.objects.count() == 1 and not DailyMetric.objects.exists()
    login(outsider)
    assert client.get(page_url(metric_import)).status_code == 404
    assert progress_partial(client, metric_import).status_code == 404


def test_a_file_over_2_000_000_rows_is_refused_with_a_clear_error(account, spring, editor, login):
    assert imports.rows.MAX_ROWS == 2_000_000
    content = (HEADER + "\n").encode() + b"Spring Glow,2025-01-01,1,1,1\n" * (2_000_000 + 11)

    response = upload(login(editor), account, content, follow=True)

    metric_import = MetricImport.objects.get()
    assert metric_import.state == ImportState.FAILED
    assert "Nothing was imported: The file has more than 2,000,000 rows." in response.content.decode()
    assert not metric_import.file  # not kept
    assert not DailyMetric.objects.exists()


def test_the_upload_limit_follows_the_row_cap():
    assert imports.MAX_UPLOAD_BYTES >= 2_000_000 * 150  # 2,000,000 rows of a 15-column export


def test_progress_partial_query_count_is_constant(account, spring, editor, login, django_assert_max_num_queries):
    client = login(editor)
    upload(client, account, GOOD_CSV)
    metric_import = MetricImport.objects.get()
    for done in (10, 1_000_000):
        MetricImport.objects.filter(pk=metric_import.pk).update(
            state=ImportState.PARSING, progress={"step": "reading", "done": done, "total": 2_000_000}
        )
        with django_assert_max_num_queries(5):
            assert progress_partial(client, metric_import).status_code == 200


def test_the_bulk_upsert_counts_created_and_updated_and_leaves_unchanged_rows_alone(spring):
    day = dt.date(2025, 3, 1)
    values = (Decimal("1.50"), 1, 2, 3, 4, 5, 6, 7, 8, 9)
    assert services.daily_metrics_bulk_upsert(rows=[(spring.pk, None, day, *values)]) == (1, 0)
    before = DailyMetric.objects.get().updated_at

    assert services.daily_metrics_bulk_upsert(rows=[(spring.pk, None, day, *values)]) == (0, 0)
    assert DailyMetric.objects.get().updated_at == before
    changed = (Decimal("2.00"), *values[1:])
    next_day = (spring.pk, None, day + dt.timedelta(days=1), *values)
    assert services.daily_metrics_bulk_upsert(rows=[(spring.pk, None, day, *changed), next_day]) == (1, 1)
    spring.refresh_from_db()
    assert spring.total_spend == Decimal("3.50") and spring.total_impressions == 2


def test_a_stale_import_is_found_by_the_service(account, spring, editor, login):
    upload(login(editor), account, GOOD_CSV)
    MetricImport.objects.update(state=ImportState.COMMITTING, progress_at=timezone.now() - dt.timedelta(hours=1))

    assert metric_imports.metric_imports_stuck(older_than=timezone.now())["commit"] == [MetricImport.objects.get().pk]
