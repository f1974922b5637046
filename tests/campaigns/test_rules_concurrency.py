"""A person and a rule acting on one campaign at the same moment (issue 17). Real row locks need PostgreSQL: these
tests are skipped on SQLite (see tests/conftest.py)."""

import datetime as dt
import threading
from decimal import Decimal

import pytest
from django.db import connection

from campaigns import services
from campaigns.models import (
    Action,
    BudgetMode,
    Campaign,
    DailyMetric,
    EndReason,
    RuleAction,
    RuleCondition,
    RuleEpisode,
    RuleLogEntry,
    RuleLogKind,
    Source,
    Status,
    StatusChange,
)
from campaigns.rules import evaluate
from campaigns.rules import services as rule_services
from tests.campaigns.test_concurrency import run_in_threads
from tests.factories import CampaignFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

TODAY = dt.date(2026, 11, 20)


def spent_campaign(account):
    campaign = CampaignFactory(
        account=account,
        budget_mode=BudgetMode.LIFETIME,
        budget_amount=Decimal("1000"),
        start_date=TODAY - dt.timedelta(days=20),
    )
    DailyMetric.objects.create(campaign=campaign, date=TODAY, spend=Decimal("960"), impressions=5000)
    services.campaign_totals_refresh(campaign_ids=[campaign.pk])
    return campaign


def end_rule(account, manager):
    return rule_services.rule_create(
        account=account,
        actor=manager,
        values={
            "name": "Budget stop",
            "condition": RuleCondition.BUDGET_SPENT,
            "threshold": Decimal("90"),
            "action": RuleAction.END,
            "end_reason": EndReason.BUDGET_CONSTRAINTS,
        },
    )


def person_pauses(campaign_id, editor):
    try:
        return services.campaigns_transition(
            campaign_ids=[campaign_id], action=Action.PAUSE, actor=editor, source=Source.UI
        ).outcomes[campaign_id]
    finally:
        connection.close()


def test_person_pausing_after_the_rule_read_its_numbers_wins_and_the_rule_holds_back(
    account, manager, editor, monkeypatch
):
    campaign = spent_campaign(account)
    rule = end_rule(account, manager)
    real = evaluate.campaigns_tripped
    outcome = {}

    def tripped_then_a_person_pauses(**kwargs):
        trips = real(**kwargs)  # the rule has seen the campaign active...
        thread = threading.Thread(target=lambda: outcome.setdefault("pause", person_pauses(campaign.pk, editor)))
        thread.start()  # ...and a person pauses it (another connection, committed) before the rule acts
        thread.join(timeout=30)
        return trips

    monkeypatch.setattr(evaluate, "campaigns_tripped", tripped_then_a_person_pauses)
    result = evaluate.rule_evaluate(rule_id=rule.pk, today=TODAY)

    assert str(outcome["pause"]) == "changed"
    assert result.acted == [] and result.held == {campaign.pk: evaluate.HELD_BY_PERSON}
    history = list(StatusChange.objects.filter(campaign=campaign).order_by("pk"))
    assert [(h.action, h.source) for h in history] == [(Action.PAUSE, Source.UI)]
    assert Campaign.objects.get(pk=campaign.pk).status == Status.PAUSED
    assert not RuleEpisode.objects.exists()
    assert RuleLogEntry.objects.get(kind=RuleLogKind.HELD).message.endswith(evaluate.HELD_BY_PERSON)


@pytest.mark.parametrize("round_", range(5))
def test_person_pausing_while_a_rule_ends_leaves_one_consistent_history(account, manager, editor, round_):
    campaign = spent_campaign(account)
    rule = end_rule(account, manager)

    def act(i):
        if i == 0:
            try:
                return evaluate.rule_evaluate(rule_id=rule.pk, today=TODAY)
            finally:
                connection.close()
        return person_pauses(campaign.pk, editor)

    results = run_in_threads(2, act)

    assert not any(isinstance(r, Exception) for r in results), results
    history = list(StatusChange.objects.filter(campaign=campaign).order_by("pk"))
    status = Campaign.objects.get(pk=campaign.pk).status
    acted = RuleLogEntry.objects.filter(kind=RuleLogKind.ACTED).count()
    if status == Status.ENDED:  # the rule got there first: the person's pause was refused
        assert [(h.action, h.source) for h in history] == [(Action.END, Source.RULE)]
        assert str(results[1]) == "not_allowed" and acted == 1
        assert RuleEpisode.objects.count() == 1
    else:  # the person got there first: the rule did not end a campaign a person had paused
        assert status == Status.PAUSED
        assert [(h.action, h.source) for h in history] == [(Action.PAUSE, Source.UI)]
        assert acted == 0 and not RuleEpisode.objects.exists()
    for before, after in zip(history, history[1:], strict=False):
        assert before.to_status == after.from_status
