"""The metric definitions hold together: every formula reads stored fields, every copied figure has its column,
every target its campaign field. (What they compute is covered by the golden and snapshot tests.)"""

from decimal import Decimal

from campaigns.models import METRIC_FIELDS, Campaign
from reports import metrics
from reports.models import CloseReport


def test_every_stored_field_is_a_metric_and_keys_are_unique():
    keys = [m.key for m in metrics.METRICS]
    assert len(keys) == len(set(keys))
    assert set(METRIC_FIELDS) <= set(keys)
    assert all((m.key in METRIC_FIELDS) != m.derived for m in metrics.METRICS)


def test_derived_metrics_read_stored_fields_only():
    for m in metrics.DERIVED:
        assert m.formula.fields and set(m.formula.fields) <= set(METRIC_FIELDS), m.key
        assert m.formula.denominator in {metrics.RESULT, *METRIC_FIELDS}, m.key


def test_copied_and_compared_metrics_have_their_column():
    columns = {f.name for f in CloseReport._meta.concrete_fields}
    for m in metrics.METRICS:
        if m.compare:
            assert m.column, m.key
        if m.column:
            assert m.column in columns, m.key


def test_versions_and_targets_are_consistent():
    assert all(1 <= m.since <= metrics.SNAPSHOT_VERSION for m in metrics.METRICS)
    campaign_fields = {f.name for f in Campaign._meta.concrete_fields}
    for field, key in metrics.TARGETS:
        assert field in campaign_fields and key in metrics.BY_KEY


def test_rates_are_none_without_a_denominator_and_rounded_otherwise():
    totals = {"spend": Decimal("10.00"), **dict.fromkeys(METRIC_FIELDS[1:], 0)} | {"video_views": 3, "likes": 1}
    rates = metrics.rates_from_totals(totals, result_metric="follows")
    assert rates["engagement_rate"] == "33.3333"
    assert rates["cost_per_view"] == "3.3333"
    assert rates["ctr"] is None and rates["cost_per_result"] is None
