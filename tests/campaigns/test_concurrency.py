"""Real row locks need PostgreSQL: these tests are skipped on SQLite (see tests/conftest.py)."""

import threading

import pytest
from django.db import close_old_connections, connection

from campaigns import services
from campaigns.models import Action, Campaign, EndReason, Source, Status, StatusChange
from tests.factories import CampaignFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def run_in_threads(n, target):
    """Start n threads that call target(i) at the same moment; return their results (or exceptions)."""
    barrier = threading.Barrier(n)
    results = [None] * n

    def worker(i):
        try:
            barrier.wait()
            results[i] = target(i)
        except Exception as exc:  # noqa: BLE001 — the test inspects what each thread got
            results[i] = exc
        finally:
            close_old_connections()
            connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    return results


def test_many_threads_ending_one_campaign_write_exactly_one_audit_row(account, manager):
    campaign = CampaignFactory(account=account)

    results = run_in_threads(
        8,
        lambda i: services.campaigns_transition(
            campaign_ids=[campaign.pk],
            action=Action.END,
            actor=manager,
            source=Source.UI,
            reason_code=EndReason.OBJECTIVES_MET,
        ).outcomes[campaign.pk],
    )

    assert sorted(str(r) for r in results) == ["already"] * 7 + ["changed"]
    assert StatusChange.objects.filter(campaign=campaign, action=Action.END).count() == 1
    assert Campaign.objects.get(pk=campaign.pk).status == Status.ENDED


def test_parallel_end_and_pause_leave_a_consistent_history(account, manager):
    campaign = CampaignFactory(account=account)
    actions = [Action.END, Action.PAUSE] * 4

    run_in_threads(
        len(actions),
        lambda i: services.campaigns_transition(
            campaign_ids=[campaign.pk],
            action=actions[i],
            actor=manager,
            source=Source.UI,
            reason_code=EndReason.OBJECTIVES_MET if actions[i] == Action.END else "",
        ),
    )

    history = list(StatusChange.objects.filter(campaign=campaign).order_by("id"))
    assert history[-1].to_status == Status.ENDED
    assert [h.action for h in history].count(Action.END) == 1
    assert len([h for h in history if h.action == Action.PAUSE]) <= 1
    for before, after in zip(history, history[1:], strict=False):
        assert before.to_status == after.from_status  # no transition was applied on a stale status


def test_overlapping_bulk_actions_do_not_deadlock_or_double_apply(account, manager):
    campaigns = CampaignFactory.create_batch(40, account=account)
    ids = [c.pk for c in campaigns]

    results = run_in_threads(
        4,
        lambda i: services.campaigns_transition(
            campaign_ids=ids[::-1] if i % 2 else ids, action=Action.PAUSE, actor=manager, source=Source.UI
        ),
    )

    assert not [r for r in results if isinstance(r, Exception)]
    assert sum(len(r.changed_ids) for r in results) == 40
    assert StatusChange.objects.filter(action=Action.PAUSE).count() == 40
