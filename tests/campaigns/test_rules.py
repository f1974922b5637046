"""Guardrail rules (issue 17): conditions, episodes, guards, the status service with source `rule`, the wiring
(imports, pulls, the hourly job) and the audited rule services."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from campaigns import history_text, services
from campaigns.models import (
    BudgetMode,
    Campaign,
    EndReason,
    Notification,
    Objective,
    Rule,
    RuleAction,
    RuleCondition,
    RuleEpisode,
    RuleLogEntry,
    RuleLogKind,
    RuleScope,
    Source,
    Status,
    StatusChange,
)
from campaigns.rules import conditions, evaluate
from campaigns.rules import services as rule_services
from campaigns.worker import periodic
from tests.campaigns.fake_tiktok import fake_tiktok_fixture, tiktok_account_fixture  # noqa: F401
from tests.factories import CampaignFactory, DailyMetricFactory

pytestmark = pytest.mark.django_db

TODAY = dt.date(2026, 11, 20)


def budget_rule(account, manager, **values):
    return rule_services.rule_create(
        account=account,
        actor=manager,
        values={
            "name": "Budget guard",
            "condition": RuleCondition.BUDGET_SPENT,
            "threshold": Decimal("90"),
            "action": RuleAction.PAUSE,
            **values,
        },
    )


def lifetime_campaign(account, name="Glow Drop #12", spent=(480, 480), **kwargs):
    campaign = CampaignFactory(
        account=account,
        name=name,
        budget_mode=BudgetMode.LIFETIME,
        budget_amount=Decimal("1000"),
        start_date=TODAY - dt.timedelta(days=20),
        end_date=TODAY + dt.timedelta(days=20),
        **kwargs,
    )
    for offset, spend in enumerate(reversed(spent)):
        DailyMetricFactory(campaign=campaign, date=TODAY - dt.timedelta(days=offset), spend=Decimal(spend))
    services.campaign_totals_refresh(campaign_ids=[campaign.pk])
    return campaign


def test_rule_pauses_once_with_the_numbers_and_not_again(account, manager):
    campaign = lifetime_campaign(account)
    rule = budget_rule(account, manager)

    first = evaluate.rule_evaluate(rule_id=rule.pk, today=TODAY)
    second = evaluate.rule_evaluate(rule_id=rule.pk, today=TODAY)

    campaign.refresh_from_db()
    assert campaign.status == Status.PAUSED
    assert first.acted == [campaign.pk] and second.acted == []
    change = StatusChange.objects.get(campaign=campaign, action="pause")
    assert change.source == Source.RULE and change.details["rule_name"] == "Budget guard"
    row = history_text.history_row(change, campaign=campaign)
    assert row.headline == "Paused by rule Budget guard"
    assert "spend 96 % of the lifetime budget (960.00 USD of 1,000.00 USD)" in row.details
    assert RuleLogEntry.objects.filter(rule=rule, kind=RuleLogKind.ACTED).count() == 1
    assert "Paused “Glow Drop #12” on 20 Nov: spend 96 %" in RuleLogEntry.objects.get(kind=RuleLogKind.ACTED).message


def test_rule_pause_notifies_the_managers_naming_the_rule_and_numbers(
    account, manager, django_capture_on_commit_callbacks
):
    campaign = lifetime_campaign(account)
    rule = budget_rule(account, manager)

    with django_capture_on_commit_callbacks(execute=True):  # the status_changed event → the notification task
        evaluate.rule_evaluate(rule_id=rule.pk, today=TODAY)

    note = Notification.objects.get(recipient=manager, campaigns=campaign)
    assert note.title == "Rule “Budget guard” paused “Glow Drop #12”"
    assert "spend 96 % of the lifetime budget" in note.body


def test_rule_below_threshold_does_nothing(account, manager):
    campaign = lifetime_campaign(account, spent=(400, 400))
    rule = budget_rule(account, manager)
    assert evaluate.rule_evaluate(rule_id=rule.pk, today=TODAY).acted == []
    campaign.refresh_from_db()
    assert campaign.status == Status.ACTIVE


def test_rule_waits_during_learning_and_logs_the_near_miss_once_a_day(account, manager):
    campaign = lifetime_campaign(account)
    rule = budget_rule(account, manager, guard_days=30)

    evaluate.rule_evaluate(rule_id=rule.pk, today=TODAY)
    result = evaluate.rule_evaluate(rule_id=rule.pk, today=TODAY)

    campaign.refresh_from_db()
    assert campaign.status == Status.ACTIVE
    assert result.held == {campaign.pk: "waiting: learning"}
    held = RuleLogEntry.objects.get(rule=rule, kind=RuleLogKind.HELD)
    assert held.message.endswith("waiting: learning") and "spend 96 %" in held.message


def test_rule_waits_until_enough_impressions(account, manager):
    campaign = lifetime_campaign(account)  # 2 × 1,000 impressions
    rule = budget_rule(account, manager, guard_impressions=5000)
    assert evaluate.rule_evaluate(rule_id=rule.pk, today=TODAY).held == {campaign.pk: "waiting: learning"}
    rule_services.rule_edit(rule=rule, actor=manager, values={"guard_impressions": 2000})
    assert evaluate.rule_evaluate(rule_id=rule.pk, today=TODAY).acted == [campaign.pk]


def test_rule_never_resumes_or_overrides_a_persons_pause(account, manager, editor):
    campaign = lifetime_campaign(account)
    services.campaign_transition(campaign=campaign, action="pause", actor=editor, source=Source.UI)
    rule = budget_rule(account, manager, action=RuleAction.END, end_reason=EndReason.BUDGET_CONSTRAINTS)

    assert evaluate.rule_evaluate(rule_id=rule.pk, today=TODAY).acted == []

    campaign.refresh_from_db()
    assert campaign.status == Status.PAUSED
    assert not StatusChange.objects.filter(campaign=campaign, source=Source.RULE).exists()


def test_rule_does_not_pause_again_after_a_person_resumes_while_the_condition_holds(account, manager, editor):
    campaign = lifetime_campaign(account)
    rule = budget_rule(account, manager)
    evaluate.rule_evaluate(rule_id=rule.pk, today=TODAY)
    services.campaign_transition(
        campaign=Campaign.objects.get(pk=campaign.pk), action="resume", actor=editor, source=Source.UI
    )

    assert evaluate.rule_evaluate(rule_id=rule.pk, today=TODAY).acted == []
    campaign.refresh_from_db()
    assert campaign.status == Status.ACTIVE


def test_episode_closes_when_the_condition_stops_and_a_new_one_fires(account, manager):
    campaign = lifetime_campaign(account)
    rule = budget_rule(account, manager, action=RuleAction.NOTIFY)
    assert evaluate.rule_evaluate(rule_id=rule.pk, today=TODAY).acted == [campaign.pk]
    Campaign.objects.filter(pk=campaign.pk).update(budget_amount=Decimal("5000"))
    assert evaluate.rule_evaluate(rule_id=rule.pk, today=TODAY).closed == [campaign.pk]
    Campaign.objects.filter(pk=campaign.pk).update(budget_amount=Decimal("1000"))
    assert evaluate.rule_evaluate(rule_id=rule.pk, today=TODAY).acted == [campaign.pk]
    assert RuleEpisode.objects.filter(rule=rule).count() == 2
    campaign.refresh_from_db()
    assert campaign.status == Status.ACTIVE  # notify only


def test_notify_only_rule_tells_the_managers_with_the_numbers(account, manager):
    campaign = lifetime_campaign(account)
    rule = budget_rule(account, manager, action=RuleAction.NOTIFY)
    evaluate.rule_evaluate(rule_id=rule.pk, today=TODAY)
    note = Notification.objects.get(recipient=manager, kind="rule_triggered")
    assert note.title == "Rule “Budget guard” flagged “Glow Drop #12”"
    assert "spend 96 % of the lifetime budget" in note.body
    assert list(note.campaigns.all()) == [campaign]


def test_end_rule_carries_its_reason_and_note(account, manager):
    campaign = lifetime_campaign(account)
    rule = budget_rule(
        account, manager, action=RuleAction.END, end_reason=EndReason.BUDGET_CONSTRAINTS, end_note="Budget is gone."
    )
    evaluate.rule_evaluate(rule_id=rule.pk, today=TODAY)
    campaign.refresh_from_db()
    assert campaign.status == Status.ENDED and campaign.end_reason == EndReason.BUDGET_CONSTRAINTS
    change = StatusChange.objects.get(campaign=campaign, action="end")
    assert change.source == Source.RULE
    assert change.reason_note == (
        "Ended by rule “Budget guard”: spend reaches 90 % of the lifetime budget. Budget is gone."
    )
    assert campaign.winddown_steps.count() == 7  # the wind-down follows, as for any end


def test_disabled_rule_does_nothing(account, manager):
    campaign = lifetime_campaign(account)
    rule = budget_rule(account, manager)
    rule_services.rule_enabled_set(rule=rule, actor=manager, enabled=False)
    assert evaluate.rule_evaluate(rule_id=rule.pk, today=TODAY).acted == []
    campaign.refresh_from_db()
    assert campaign.status == Status.ACTIVE


def test_scope_by_objective_and_chosen_campaigns(account, manager):
    views = lifetime_campaign(account, name="Views", objective=Objective.VIDEO_VIEWS)
    reach = lifetime_campaign(account, name="Reach", objective=Objective.REACH)
    by_objective = budget_rule(account, manager, scope=RuleScope.OBJECTIVE, objective=Objective.REACH)
    assert set(conditions.campaigns_tripped(rule=by_objective, day=TODAY)) == {reach.pk}
    chosen = rule_services.rule_create(
        account=account,
        actor=manager,
        values={"name": "Chosen", "condition": RuleCondition.BUDGET_SPENT, "threshold": 90, "scope": RuleScope.CHOSEN},
        campaign_ids=[views.pk],
    )
    assert set(conditions.campaigns_tripped(rule=chosen, day=TODAY)) == {views.pk}


# Each condition, with the numbers it reports ------------------------------------------------------------------


def rule_of(account, condition, **values):
    return Rule(account=account, name="r", condition=condition, action=RuleAction.NOTIFY, **values)


def test_daily_overspend(account):
    campaign = CampaignFactory(account=account, budget_mode=BudgetMode.DAILY, budget_amount=Decimal("100"))
    DailyMetricFactory(campaign=campaign, date=TODAY, spend=Decimal("250"))
    services.campaign_totals_refresh(campaign_ids=[campaign.pk])
    rule = rule_of(account, RuleCondition.DAILY_OVERSPEND, threshold=Decimal("2"))
    trip = conditions.campaigns_tripped(rule=rule, day=TODAY)[campaign.pk]
    assert trip.text == "spent 250.00 USD in the day, 2.5 × the daily budget of 100.00 USD"
    assert conditions.campaigns_tripped(rule=rule, day=TODAY - dt.timedelta(days=1)) == {}


def test_cost_per_result_over_target_for_n_days_in_a_row(account):
    campaign = CampaignFactory(
        account=account, objective=Objective.TRAFFIC, target_cost_per_result=Decimal("0.50")
    )  # results are clicks
    for offset, clicks in ((0, 10), (1, 10), (2, 10), (3, 100)):
        DailyMetricFactory(
            campaign=campaign, date=TODAY - dt.timedelta(days=offset), spend=Decimal("10"), clicks=clicks
        )
    services.campaign_totals_refresh(campaign_ids=[campaign.pk])
    three = rule_of(account, RuleCondition.COST_PER_RESULT, days=3)
    four = rule_of(account, RuleCondition.COST_PER_RESULT, days=4)
    trip = conditions.campaigns_tripped(rule=three, day=TODAY)[campaign.pk]
    assert trip.text == "cost per result 1.00 USD over 3 days in a row, target 0.50 USD"
    assert conditions.campaigns_tripped(rule=four, day=TODAY) == {}


def test_no_impressions_for_n_days(account):
    quiet = CampaignFactory(account=account)
    busy = CampaignFactory(account=account)
    DailyMetricFactory(campaign=quiet, date=TODAY - dt.timedelta(days=5))
    DailyMetricFactory(campaign=busy, date=TODAY - dt.timedelta(days=1))
    services.campaign_totals_refresh(campaign_ids=[quiet.pk, busy.pk])
    rule = rule_of(account, RuleCondition.NO_IMPRESSIONS, days=3)
    trips = conditions.campaigns_tripped(rule=rule, day=TODAY)
    assert quiet.pk in trips and busy.pk not in trips
    assert trips[quiet.pk].text == "no impressions for 3 days"


def test_end_date_passed(account):
    late = CampaignFactory(account=account, end_date=TODAY - dt.timedelta(days=2))
    CampaignFactory(account=account, end_date=TODAY)
    trips = conditions.campaigns_tripped(rule=rule_of(account, RuleCondition.END_DATE_PASSED), day=TODAY)
    assert list(trips) == [late.pk]
    assert trips[late.pk].text == "planned end 18 Nov passed 2 days ago"


def test_low_ctr_after_n_impressions(account):
    low = CampaignFactory(account=account)
    DailyMetricFactory(campaign=low, date=TODAY, impressions=10000, clicks=30)  # 0.3 %
    few = CampaignFactory(account=account)
    DailyMetricFactory(campaign=few, date=TODAY, impressions=500, clicks=0)
    services.campaign_totals_refresh(campaign_ids=[low.pk, few.pk])
    rule = rule_of(account, RuleCondition.LOW_CTR, threshold=Decimal("0.5"), impressions=1000)
    trips = conditions.campaigns_tripped(rule=rule, day=TODAY)
    assert list(trips) == [low.pk]
    assert trips[low.pk].text == "CTR 0.3 % after 10,000 impressions"


def test_sums_up_to_a_day_count_the_whole_history_and_not_the_days_after(account):
    # 900 spent long before the days the query joins, 100 on the day, 500 after it: on the day 1,000 of 1,000.
    campaign = lifetime_campaign(account, spent=())
    for offset, spend in ((400, 900), (0, 100), (-1, 500)):
        DailyMetricFactory(campaign=campaign, date=TODAY - dt.timedelta(days=offset), spend=Decimal(spend))
    services.campaign_totals_refresh(campaign_ids=[campaign.pk])
    rule = rule_of(account, RuleCondition.BUDGET_SPENT, threshold=Decimal("100"))
    assert conditions.campaigns_tripped(rule=rule, day=TODAY)[campaign.pk].numbers["spend"] == "1000.00"
    assert conditions.campaigns_tripped(rule=rule, day=TODAY - dt.timedelta(days=1)) == {}


def test_rule_sentence_reads_like_a_person_wrote_it(account):
    rule = rule_of(account, RuleCondition.BUDGET_SPENT, threshold=Decimal("90"))
    rule.action = RuleAction.PAUSE
    assert conditions.rule_sentence(rule) == "Pause when spend reaches 90 % of the lifetime budget"


def test_tripped_is_one_query_whatever_the_number_of_campaigns(account, django_assert_num_queries):
    for _ in range(5):
        lifetime_campaign(account, name="x")
    rule = rule_of(account, RuleCondition.BUDGET_SPENT, threshold=Decimal("90"))
    rule.account = account
    with django_assert_num_queries(1):
        assert len(conditions.campaigns_tripped(rule=rule, day=TODAY)) == 5


# Wiring: imports, pulls, the hourly job ------------------------------------------------------------------------


def test_import_commit_evaluates_the_accounts_rules(
    account, manager, settings, tmp_path, django_capture_on_commit_callbacks
):
    settings.MEDIA_ROOT = tmp_path
    campaign = CampaignFactory(
        account=account,
        name="Glow Drop #12",
        platform_id="",
        budget_mode=BudgetMode.LIFETIME,
        budget_amount=Decimal("1000"),
        start_date=dt.date(2026, 5, 1),
    )
    rule_services.rule_create(
        account=account,
        actor=manager,
        values={"name": "Budget guard", "condition": RuleCondition.BUDGET_SPENT, "threshold": 90, "action": "pause"},
    )
    csv = (
        "Campaign name,By Day,Cost,Impressions,Reach,Clicks (destination),Video views,Paid likes,Paid comments,"
        "Paid shares,Paid follows,Profile visits\nGlow Drop #12,2026-05-01,960,12000,9000,120,4000,300,20,10,5,40\n"
    )
    metric_import = services.metric_import_preview(
        account=account, upload=SimpleUploadedFile("e.csv", csv.encode()), actor=manager
    )
    with django_capture_on_commit_callbacks(execute=True):
        services.metric_import_commit(metric_import=metric_import, actor=manager)
    campaign.refresh_from_db()
    assert campaign.status == Status.PAUSED
    assert StatusChange.objects.get(campaign=campaign, action="pause").source == Source.RULE


def test_hourly_job_evaluates_every_accounts_rules(account, manager):
    job = periodic.periodic_jobs()["campaigns.rules_evaluate"]
    now = dt.datetime(2026, 11, 20, 10, tzinfo=dt.UTC)
    assert job.next_run(now) == now + dt.timedelta(hours=1)
    late = CampaignFactory(account=account, name="Late", end_date=dt.date(2020, 1, 1), start_date=dt.date(2019, 1, 1))
    rule_services.rule_create(
        account=account,
        actor=manager,
        values={"name": "Past end", "condition": RuleCondition.END_DATE_PASSED, "action": "pause"},
    )

    job.task.enqueue(**job.kwargs)  # what the worker queues every hour (the immediate backend runs it now)

    late.refresh_from_db()
    assert late.status == Status.PAUSED


def test_evaluation_queries_do_not_grow_with_the_number_of_campaigns(account, manager):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    rule = budget_rule(account, manager)
    counts = []
    for n in (2, 12):
        for i in range(n):
            lifetime_campaign(account, name=f"c{n}-{i}")
        with CaptureQueriesContext(connection) as queries:
            assert len(evaluate.rule_evaluate(rule_id=rule.pk, today=TODAY).acted) == n
        counts.append(len(queries))
    assert counts[0] == counts[1]


# The rule services: checked and audited ------------------------------------------------------------------------


def test_rule_services_refuse_a_rule_missing_its_numbers(account, manager):
    with pytest.raises(rule_services.RuleInvalid) as error:
        rule_services.rule_create(
            account=account,
            actor=manager,
            values={"name": "x", "condition": RuleCondition.LOW_CTR, "action": RuleAction.END, "end_reason": "other"},
        )
    assert set(error.value.problems) == {"threshold", "impressions", "end_note"}


def test_enable_disable_and_edit_are_logged_with_the_actor(account, manager):
    rule = budget_rule(account, manager)
    rule_services.rule_enabled_set(rule=rule, actor=manager, enabled=False)
    assert rule_services.rule_enabled_set(rule=rule, actor=manager, enabled=False) is False
    assert rule_services.rule_edit(rule=rule, actor=manager, values={"threshold": Decimal("95")}) == ["threshold"]
    kinds = list(RuleLogEntry.objects.filter(rule=rule).order_by("pk").values_list("kind", "actor_id"))
    assert kinds == [("created", manager.pk), ("disabled", manager.pk), ("edited", manager.pk)]
    edited = RuleLogEntry.objects.get(rule=rule, kind="edited")
    assert edited.message == "Threshold: 90 → 95"


def test_platform_pull_evaluates_rules_and_the_pause_is_pushed_to_tiktok(
    tiktok_account, fake_tiktok, manager, django_capture_on_commit_callbacks
):
    from campaigns.platforms import pull
    from campaigns.timezones import today_in

    today = today_in(tiktok_account)
    campaign = CampaignFactory(account=tiktok_account, name="Spring Glow", platform_id="1800000000000001")
    fake_tiktok.add_campaign(campaign.platform_id, campaign.name, budget=100)
    fake_tiktok.add_metrics(campaign.platform_id, today, spend="250.00", impressions="9000")
    rule_services.rule_create(
        account=tiktok_account,
        actor=manager,
        values={"name": "Overspend", "condition": RuleCondition.DAILY_OVERSPEND, "threshold": 2, "action": "pause"},
    )

    with django_capture_on_commit_callbacks(execute=True):
        pull.platform_pull_account(account=tiktok_account, days=3, today=today)

    campaign.refresh_from_db()
    assert campaign.status == Status.PAUSED
    change = StatusChange.objects.get(campaign=campaign, action="pause")
    assert change.source == Source.RULE and "2.5 × the daily budget" in change.details["rule_reason"]
    pushed = [call["body"] for call in fake_tiktok.calls("/campaign/status/update/")]
    assert pushed and pushed[-1]["operation_status"] == "DISABLE"
    assert campaign.sync_state == "synced"


def test_a_rules_end_runs_everything_an_end_does_without_a_failing_subscriber(
    account, manager, editor, caplog, django_capture_on_commit_callbacks
):
    from reports.models import CloseReport

    campaign = lifetime_campaign(account, owner=editor)
    rule = budget_rule(account, manager, action=RuleAction.END, end_reason=EndReason.BUDGET_CONSTRAINTS)

    with django_capture_on_commit_callbacks(execute=True):
        evaluate.rule_evaluate(rule_id=rule.pk, today=TODAY)

    assert [r.getMessage() for r in caplog.records if r.levelname == "ERROR"] == []
    note = Notification.objects.get(recipient=editor, campaigns=campaign)
    assert note.title == "Rule “Budget guard” ended “Glow Drop #12”" and "Budget constraints" in note.body
    assert CloseReport.objects.filter(campaign=campaign).exists()
    assert campaign.winddown_steps.get(kind="team_notified").is_done
