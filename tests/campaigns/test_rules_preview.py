"""The preview shows what evaluation does on the same data (issue 17): a property test over generated metrics,
and the preview's own words."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from campaigns import services
from campaigns.models import (
    BudgetMode,
    Campaign,
    DailyMetric,
    Objective,
    Rule,
    RuleAction,
    RuleCondition,
    RuleLogEntry,
    RuleLogKind,
    Status,
)
from campaigns.rules import evaluate, preview
from campaigns.rules import services as rule_services
from tests.factories import CampaignFactory

pytestmark = pytest.mark.django_db

TODAY = dt.date(2026, 11, 30)
DAYS = 30

RULES = st.one_of(
    st.builds(
        dict,
        condition=st.just(RuleCondition.BUDGET_SPENT),
        threshold=st.sampled_from([Decimal(50), Decimal(80), Decimal(95)]),
    ),
    st.builds(dict, condition=st.just(RuleCondition.DAILY_OVERSPEND), threshold=st.sampled_from([Decimal("1.2")])),
    st.builds(dict, condition=st.just(RuleCondition.COST_PER_RESULT), days=st.integers(1, 3)),
    st.builds(dict, condition=st.just(RuleCondition.NO_IMPRESSIONS), days=st.integers(1, 3)),
    st.builds(dict, condition=st.just(RuleCondition.END_DATE_PASSED)),
    st.builds(
        dict,
        condition=st.just(RuleCondition.LOW_CTR),
        threshold=st.sampled_from([Decimal("1"), Decimal("2.5")]),
        impressions=st.sampled_from([100, 2000]),
    ),
)
DAY = st.tuples(
    st.integers(0, 60),  # spend
    st.sampled_from([0, 0, 500, 1000, 3000]),  # impressions
    st.integers(0, 40),  # clicks
)
CAMPAIGN = st.fixed_dictionaries(
    {
        "lifetime": st.booleans(),
        "starts": st.integers(0, 35),  # days before today
        "ends": st.integers(-20, 10),  # days after today
        "days": st.lists(st.one_of(st.none(), DAY), min_size=DAYS, max_size=DAYS),
    }
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    rule_values=RULES,
    action=st.sampled_from([RuleAction.NOTIFY, RuleAction.PAUSE]),
    guard_days=st.sampled_from([0, 0, 10]),
    guard_impressions=st.sampled_from([0, 0, 4000]),
    campaigns=st.lists(CAMPAIGN, min_size=1, max_size=4),
)
def test_preview_equals_evaluation_day_by_day(
    account, manager, rule_values, action, guard_days, guard_impressions, campaigns
):
    with transaction.atomic():
        for spec in campaigns:
            campaign = CampaignFactory(
                account=account,
                objective=Objective.TRAFFIC,
                budget_mode=BudgetMode.LIFETIME if spec["lifetime"] else BudgetMode.DAILY,
                budget_amount=Decimal("400") if spec["lifetime"] else Decimal("30"),
                start_date=TODAY - dt.timedelta(days=spec["starts"]),
                end_date=TODAY + dt.timedelta(days=spec["ends"]),
                target_cost_per_result=Decimal("1.50"),
            )
            DailyMetric.objects.bulk_create(
                DailyMetric(
                    campaign=campaign,
                    date=TODAY - dt.timedelta(days=DAYS - 1 - offset),
                    spend=Decimal(day[0]),
                    impressions=day[1],
                    clicks=day[2],
                )
                for offset, day in enumerate(spec["days"])
                if day is not None
            )
            services.campaign_totals_refresh(campaign_ids=[campaign.pk])
        rule = rule_services.rule_create(
            account=account,
            actor=manager,
            values={
                "name": "Generated",
                "action": action,
                "guard_days": guard_days,
                "guard_impressions": guard_impressions,
                **rule_values,
            },
        )
        shown = preview.rule_preview(rule=rule, today=TODAY)
        start = TODAY - dt.timedelta(days=DAYS - 1)
        for offset in range(DAYS):
            evaluate.rule_evaluate(rule_id=rule.pk, today=start + dt.timedelta(days=offset))
        done = RuleLogEntry.objects.filter(rule=rule, kind__in=[RuleLogKind.ACTED, RuleLogKind.HELD])

        assert {(e.trip.campaign_id, e.day, e.acted, e.trip.text) for e in shown.events} == {
            (
                entry.campaign_id,
                entry.day,
                entry.kind == RuleLogKind.ACTED,
                entry.message.split(": ", 1)[1].split("; ")[0],
            )
            for entry in done
        }
        transaction.set_rollback(True)


def test_preview_names_campaign_day_and_numbers_and_writes_nothing(account):
    campaign = CampaignFactory(
        account=account,
        name="Glow Drop #12",
        budget_mode=BudgetMode.LIFETIME,
        budget_amount=Decimal("1000"),
        start_date=dt.date(2026, 11, 1),
    )
    for day, spend in ((dt.date(2026, 11, 11), 500), (dt.date(2026, 11, 12), 460), (dt.date(2026, 11, 13), 10)):
        DailyMetric.objects.create(campaign=campaign, date=day, spend=Decimal(spend), impressions=1000)
    services.campaign_totals_refresh(campaign_ids=[campaign.pk])
    rule = Rule(
        account=account, name="Budget", condition=RuleCondition.BUDGET_SPENT, threshold=90, action=RuleAction.PAUSE
    )

    shown = preview.rule_preview(rule=rule, today=dt.date(2026, 11, 20))

    assert [(e.trip.name, e.day, e.trip.text) for e in shown.events] == [
        ("Glow Drop #12", dt.date(2026, 11, 12), "spend 96 % of the lifetime budget (960.00 USD of 1,000.00 USD)")
    ]
    assert [t.name for t in shown.would_act_today] == ["Glow Drop #12"]
    assert Campaign.objects.get(pk=campaign.pk).status == Status.ACTIVE
    assert not RuleLogEntry.objects.exists()
