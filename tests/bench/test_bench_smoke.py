"""A tiny run of the benchmark machinery (`make bench` runs it at full size): the generator's data is
consistent, and the runner produces its table on the scenarios that exist."""

import io

import pytest
from django.core.management import call_command
from django.db.models import Count, Max, Q, Sum

from campaigns.models import METRIC_FIELDS, AdAccount, Campaign, ContentItem, DailyMetric, Status, StatusChange
from tests.bench import generate, run
from tests.bench.generate import ACCOUNT_PREFIX, REPORT_CAMPAIGN_NAME

pytestmark = pytest.mark.django_db

SIZE = ["--campaigns", "200", "--metrics", "5000", "--content", "400"]


@pytest.fixture
def bench_data():
    call_command(generate.Command(), *SIZE, stdout=io.StringIO())


def test_bench_generate_tiny_size_exact_counts_in_all_states(bench_data):
    assert AdAccount.objects.filter(name__startswith=ACCOUNT_PREFIX).count() == 50
    assert Campaign.objects.count() == 200
    assert DailyMetric.objects.count() == 5000
    assert ContentItem.objects.count() == 400
    assert DailyMetric.objects.filter(content_item__isnull=False).exists()
    statuses = set(Campaign.objects.values_list("status", flat=True))
    assert statuses == {Status.ACTIVE, Status.PAUSED, Status.ENDED}
    not_active = Campaign.objects.exclude(status=Status.ACTIVE)
    audited = StatusChange.objects.filter(campaign__in=not_active)
    assert audited.count() == not_active.count()
    assert not audited.exclude(to_status__in=[Status.PAUSED, Status.ENDED]).exists()
    report = Campaign.objects.get(name=REPORT_CAMPAIGN_NAME)
    assert report.status == Status.ENDED
    assert report.content_items.count() == 50


def test_bench_generate_totals_equal_sum_of_campaign_level_metrics(bench_data):
    sums = {
        row["campaign_id"]: row
        for row in DailyMetric.objects.filter(content_item__isnull=True)
        .values("campaign_id")
        .annotate(**{f"s_{f}": Sum(f) for f in METRIC_FIELDS}, last=Max("date"))
    }
    for campaign in Campaign.objects.all():
        row = sums[campaign.pk]
        for name in METRIC_FIELDS:
            assert getattr(campaign, f"total_{name}") == row[f"s_{name}"], (campaign.pk, name)
        assert campaign.last_metric_date == row["last"]


def test_bench_generate_same_size_again_does_nothing(bench_data):
    first_ids = list(Campaign.objects.order_by("pk").values_list("pk", flat=True)[:5])
    out = io.StringIO()
    call_command(generate.Command(), *SIZE, stdout=out)
    assert "nothing to do" in out.getvalue()
    assert list(Campaign.objects.order_by("pk").values_list("pk", flat=True)[:5]) == first_ids


def test_bench_generate_other_size_replaces_old_bench_data(bench_data):
    smaller = ["--campaigns", "100", "--metrics", "3000", "--content", "200"]
    call_command(generate.Command(), *smaller, stdout=io.StringIO())
    assert Campaign.objects.count() == 100
    assert DailyMetric.objects.count() == 3000
    assert AdAccount.objects.filter(name__startswith=ACCOUNT_PREFIX).count() == 50
    assert not Campaign.objects.filter(~Q(account__name__startswith=ACCOUNT_PREFIX)).exists()


def test_bench_quick_run_prints_table_and_rolls_back_its_writes(bench_data):
    statuses = dict(Campaign.objects.values_list("status").annotate(n=Count("id")))
    changes = StatusChange.objects.count()
    out = io.StringIO()
    call_command(run.Command(), "--quick", stdout=out)
    text = out.getvalue()
    assert "| Section | Scenario | Median ms | p95 ms | Queries |" in text
    for row in ("| list | page 1 |", "| admin | page 1 |", "| admin SQL floor | sorted by total spend |"):
        assert row in text
    pause = next(line for line in text.splitlines() if line.startswith("| bulk | bulk pause of"))
    assert "| PASS |" in pause  # constant queries and every campaign audited
    assert "| export | streaming CSV of 5,000 metric rows |" in text
    for row in ("| report | report page", "| report | shared page", "| snapshot | close snapshot"):
        line = next(line for line in text.splitlines() if line.startswith(row))
        assert "not available" not in line
    assert dict(Campaign.objects.values_list("status").annotate(n=Count("id"))) == statuses
    assert StatusChange.objects.count() == changes
