import threading
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.models import Sum
from django.test.utils import CaptureQueriesContext

from campaigns.models import METRIC_FIELDS, Action, BudgetMode, DailyMetric, Source, Status
from campaigns.services import campaign_transition, campaigns_transition, daily_metrics_upsert
from reports.models import CloseReport
from reports.services import ReportError, lessons_save, report_create, reports_create
from tests.factories import CampaignFactory

from .conftest import START, campaign_end, metrics_generate


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_snapshot_totals_equal_sums_of_stored_metrics(campaign, manager, seed, django_capture_on_commit_callbacks):
    metrics_generate(campaign, days=30, seed=seed)
    with django_capture_on_commit_callbacks(execute=True):
        campaign_end(campaign, manager)
    report = CloseReport.objects.get(campaign=campaign)

    stored = DailyMetric.objects.filter(campaign=campaign, content_item__isnull=True).aggregate(
        **{f: Sum(f) for f in METRIC_FIELDS}
    )
    totals = report.snapshot["totals"]
    assert Decimal(totals["spend"]) == stored["spend"] == report.spend
    for field in METRIC_FIELDS[1:]:
        assert totals[field] == stored[field]
    engagements = stored["likes"] + stored["comments"] + stored["shares"]
    expected_er = (Decimal(engagements) * 100 / stored["video_views"]).quantize(Decimal("0.0001"))
    assert Decimal(report.snapshot["rates"]["engagement_rate"]) == expected_er == report.engagement_rate
    assert len(report.snapshot["daily"]) == 30
    assert sum(Decimal(d["spend"]) for d in report.snapshot["daily"]) == stored["spend"]
    # Per-content totals equal the per-content rows.
    for item in report.snapshot["content"]:
        views = DailyMetric.objects.filter(content_item_id=item["id"]).aggregate(v=Sum("video_views"))["v"]
        assert item["video_views"] == views


def test_snapshot_zero_views_rates_are_none(campaign, manager, django_capture_on_commit_callbacks):
    metrics_generate(campaign, days=5, zero_views=True)
    with django_capture_on_commit_callbacks(execute=True):
        campaign_end(campaign, manager)
    rates = CloseReport.objects.get(campaign=campaign).snapshot["rates"]
    assert rates["engagement_rate"] is None
    assert rates["ctr"] is None
    assert rates["cpm"] is None
    assert rates["cost_per_view"] is None
    assert rates["cost_per_follower"] is None


def test_snapshot_no_metrics_at_all_builds_empty_report(campaign, manager, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        campaign_end(campaign, manager)
    report = CloseReport.objects.get(campaign=campaign)
    assert report.spend == 0
    assert report.snapshot["daily"] == []


def test_report_created_after_commit_when_campaign_ends(campaign, manager, django_capture_on_commit_callbacks):
    metrics_generate(campaign, days=3)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        campaign_end(campaign, manager, note="")
        assert not CloseReport.objects.filter(campaign=campaign).exists()
    for callback in callbacks:
        callback()
    report = CloseReport.objects.get(campaign=campaign)
    assert report.ended_by == manager
    assert report.end_reason == "objectives_met"
    assert report.snapshot["ended"]["by"] == manager.username


def test_report_not_created_for_pause(campaign, editor, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        campaign_transition(campaign=campaign, action=Action.PAUSE, actor=editor, source=Source.UI)
    assert not CloseReport.objects.exists()


def test_reports_create_twice_does_nothing(ended_report):
    campaign, report = ended_report
    before = report.snapshot
    assert reports_create(campaign_ids=[campaign.pk]) == []
    assert report_create(campaign=campaign).pk == report.pk
    assert CloseReport.objects.count() == 1
    report.refresh_from_db()
    assert report.snapshot == before


def test_late_metrics_leave_frozen_totals_unchanged(ended_report):
    campaign, report = ended_report
    frozen = report.snapshot["totals"]
    daily_metrics_upsert(
        rows=[
            {
                "campaign_id": campaign.pk,
                "content_item_id": None,
                "date": START.replace(day=28),
                "spend": Decimal("12.50"),
                "video_views": 400,
                "likes": 9,
            }
        ]
    )
    report.refresh_from_db()
    campaign.refresh_from_db()
    assert report.snapshot["totals"] == frozen
    assert campaign.total_video_views == frozen["video_views"] + 400
    reports_create(campaign_ids=[campaign.pk])
    report.refresh_from_db()
    assert report.snapshot["totals"] == frozen


def test_pause_periods_come_from_history(campaign, manager, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        campaign_transition(campaign=campaign, action=Action.PAUSE, actor=manager, source=Source.UI)
        campaign_transition(campaign=campaign, action=Action.RESUME, actor=manager, source=Source.UI)
        campaign_transition(campaign=campaign, action=Action.PAUSE, actor=manager, source=Source.UI)
        campaign_end(campaign, manager)
    pauses = CloseReport.objects.get(campaign=campaign).snapshot["pauses"]
    assert len(pauses) == 2
    assert pauses[0]["end"] is not None and not pauses[0]["ended_by_close"]
    assert pauses[1]["ended_by_close"] is True


def test_targets_marked_met_and_missed(account, manager, django_capture_on_commit_callbacks):
    campaign = CampaignFactory(
        account=account, target_views=1, target_followers=10**9, target_cost_per_result=Decimal("1000")
    )
    metrics_generate(campaign, days=5)
    with django_capture_on_commit_callbacks(execute=True):
        campaign_end(campaign, manager)
    targets = {t["key"]: t for t in CloseReport.objects.get(campaign=campaign).snapshot["targets"]}
    assert targets["video_views"]["met"] is True
    assert targets["follows"]["met"] is False
    assert Decimal(targets["follows"]["pct_reached"]) < 1
    assert targets["cost_per_result"]["met"] is True  # lower is better


def test_budget_estimated_unused_is_planned_minus_spend(account, manager, django_capture_on_commit_callbacks):
    campaign = CampaignFactory(account=account, budget_mode=BudgetMode.LIFETIME, budget_amount=Decimal("5000.00"))
    metrics_generate(campaign, days=5)
    with django_capture_on_commit_callbacks(execute=True):
        campaign_end(campaign, manager)
    budget = CloseReport.objects.get(campaign=campaign).snapshot["budget"]
    assert Decimal(budget["estimated_unused"]) == Decimal("5000.00") - campaign.total_spend


def test_rebuild_reports_builds_missing_ones_only(account, manager):
    # Ended before the reports feature: no signal, no report.
    old = CampaignFactory.create_batch(3, account=account, status=Status.ENDED)
    CampaignFactory(account=account, status=Status.ACTIVE)
    call_command("rebuild_reports", stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert set(CloseReport.objects.values_list("campaign_id", flat=True)) == {c.pk for c in old}
    call_command("rebuild_reports", stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert CloseReport.objects.count() == 3


def test_bulk_end_snapshot_queries_do_not_grow_with_campaigns(account, manager):
    def build(n):
        campaigns = CampaignFactory.create_batch(n, account=account)
        for c in campaigns:
            metrics_generate(c, days=3, content=1)
        campaigns_transition(
            campaign_ids=[c.pk for c in campaigns],
            action=Action.END,
            actor=manager,
            source=Source.UI,
            reason_code="objectives_met",
        )
        with CaptureQueriesContext(connection) as ctx:
            reports_create(campaign_ids=[c.pk for c in campaigns])
        return len(ctx.captured_queries)

    assert build(3) == build(30)
    assert CloseReport.objects.count() == 33


def test_lessons_save_rejects_stale_edit(ended_report, manager, editor):
    _, report = ended_report
    first = lessons_save(
        report=report, author=manager, what_worked="A", what_to_change="", next_steps="", base_revision_id=None
    )
    lessons_save(
        report=report, author=editor, what_worked="B", what_to_change="", next_steps="", base_revision_id=first.pk
    )
    with pytest.raises(ReportError):
        lessons_save(
            report=report, author=manager, what_worked="C", what_to_change="", next_steps="", base_revision_id=first.pk
        )
    assert report.lesson_revisions.count() == 2


def test_lessons_save_same_text_twice_is_a_no_op(ended_report, manager):
    _, report = ended_report
    first = lessons_save(
        report=report, author=manager, what_worked="A", what_to_change="", next_steps="", base_revision_id=None
    )
    again = lessons_save(
        report=report, author=manager, what_worked="A ", what_to_change="", next_steps="", base_revision_id=first.pk
    )
    assert again is None
    assert report.lesson_revisions.count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_snapshot_builds_leave_one_report(account, manager):
    campaign = CampaignFactory(account=account)
    metrics_generate(campaign, days=10)
    campaigns_transition(
        campaign_ids=[campaign.pk],
        action=Action.END,
        actor=manager,
        source=Source.COMMAND,
        reason_code="objectives_met",
        enforce_role=False,
    )
    CloseReport.objects.all().delete()  # the on-commit task built one; race from scratch
    barrier = threading.Barrier(4)
    errors = []

    def worker():
        try:
            barrier.wait()
            reports_create(campaign_ids=[campaign.pk])
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert CloseReport.objects.filter(campaign=campaign).count() == 1


def test_writing_all_lessons_completes_the_performance_analysed_step(
    campaign, manager, django_capture_on_commit_callbacks
):
    from campaigns import services as campaign_services
    from campaigns.models import Action, EndReason, Source, WindDownStep, WindDownStepKind
    from reports.models import CloseReport
    from reports.services import lessons_save

    with django_capture_on_commit_callbacks(execute=True):
        campaign_services.campaign_transition(
            campaign=campaign, action=Action.END, actor=manager, source=Source.UI, reason_code=EndReason.OBJECTIVES_MET
        )
    report = CloseReport.objects.get(campaign=campaign)
    step = WindDownStep.objects.get(campaign=campaign, kind=WindDownStepKind.PERFORMANCE_ANALYSED)
    assert step.done_at is None

    first = lessons_save(
        report=report, author=manager, what_worked="Duets", what_to_change="", next_steps="", base_revision_id=None
    )
    step.refresh_from_db()
    assert step.done_at is None  # half-written lessons are not an analysis yet

    lessons_save(
        report=report,
        author=manager,
        what_worked="Duets",
        what_to_change="Shorter hooks",
        next_steps="Brief creators earlier",
        base_revision_id=first.pk,
    )
    step.refresh_from_db()
    assert step.done_at is not None and step.automatic
