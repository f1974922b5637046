"""What follows a status change (campaigns/services/effects.py): the wind-down in the transaction, then one
`status_changed` event on commit, sent robustly to its subscribers (notifications, platform push, close report)."""

import logging

import pytest
from django.db import connection
from django.urls import reverse

import reports.receivers
from campaigns import services, signals
from campaigns.models import (
    Action,
    Campaign,
    EndReason,
    Notification,
    Source,
    Status,
    StatusChange,
    WindDownStep,
)
from campaigns.platforms import push
from campaigns.services import effects
from reports.models import CloseReport
from tests.factories import CampaignFactory, MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db

SUBSCRIBERS = ["notifications", "push", "report"]


class Broken:
    """Stands in for what a subscriber calls (a function, or a task's `enqueue`) and fails like a queue outage."""

    def __call__(self, *args, **kwargs):
        raise ConnectionError("queue is down")

    enqueue = __call__


@pytest.fixture
def owner(account):
    user = UserFactory(username="olga-owner")
    MembershipFactory(user=user, account=account)
    return user


@pytest.fixture
def owned(campaign, owner):
    Campaign.objects.filter(pk=campaign.pk).update(owner=owner)
    return campaign


@pytest.fixture
def pushes(monkeypatch):
    """Record the platform push subscriber's calls (and still run it: on an unconnected account it queues nothing)."""
    calls = []
    real = push.platform_push_enqueue

    def record(**kwargs):
        calls.append(kwargs)
        return real(**kwargs)

    monkeypatch.setattr(push, "platform_push_enqueue", record)
    return calls


def end(campaigns, actor):
    """End these campaigns through the service, as the UI does."""
    return services.campaigns_transition(
        campaign_ids=[c.pk for c in campaigns],
        action=Action.END,
        actor=actor,
        source=Source.UI,
        reason_code=EndReason.OBJECTIVES_MET,
    )


def break_subscriber(monkeypatch, which):
    """Make one subscriber of `status_changed` raise, at the point where it queues its work."""
    target = {
        "notifications": (effects, "status_change_notifications_enqueue"),
        "push": (push, "platform_push_enqueue"),
        "report": (reports.receivers, "close_reports_queue"),
    }[which]
    monkeypatch.setattr(*target, Broken())


def assert_others_ran(which, campaign, owner, pushes):
    """Every subscriber but the broken one did its work."""
    if which != "notifications":
        assert Notification.objects.filter(recipient=owner, campaigns=campaign).exists()
    if which != "report":
        assert CloseReport.objects.filter(campaign=campaign).exists()
    if which != "push":
        assert [call["change_ids"] for call in pushes] == [
            list(StatusChange.objects.filter(campaign=campaign, action=Action.END).values_list("pk", flat=True))
        ]


def assert_failure_logged(caplog, which):
    [record] = [r for r in caplog.records if r.name == effects.logger.name]
    assert record.levelno == logging.ERROR and record.exc_info is not None
    assert "stays committed" in record.getMessage()
    receiver = {"notifications": "notify_on_status_changed", "push": "push_on_status_changed", "report": "on_status"}
    assert receiver[which] in record.getMessage()


@pytest.mark.django_db(transaction=True)  # real commits, so the on_commit callbacks run inside the request
@pytest.mark.parametrize("which", SUBSCRIBERS)
def test_failing_subscriber_leaves_the_end_committed_and_the_user_sees_success(
    login, manager, owned, owner, pushes, monkeypatch, caplog, which
):
    break_subscriber(monkeypatch, which)

    response = login(manager).post(
        reverse("campaigns:bulk_action"),
        {
            "action": "end",
            "ids": [owned.pk],
            "confirmed": "on",
            "idempotency_key": "k1",
            "reason_code": EndReason.OBJECTIVES_MET,
            "confirm_text": owned.name,
        },
        follow=True,
    )

    assert response.status_code == 200
    assert "Ended 1 campaign." in response.content.decode()
    owned.refresh_from_db()
    assert owned.status == Status.ENDED
    assert WindDownStep.objects.filter(campaign=owned).count() == 7
    assert_others_ran(which, owned, owner, pushes)
    assert_failure_logged(caplog, which)


@pytest.mark.parametrize("which", SUBSCRIBERS)
def test_failing_subscriber_does_not_reach_the_service_caller_nor_stop_the_others(
    manager, owned, owner, pushes, monkeypatch, caplog, django_capture_on_commit_callbacks, which
):
    break_subscriber(monkeypatch, which)

    with django_capture_on_commit_callbacks(execute=True):
        result = end([owned], manager)

    assert result.changed_ids == [owned.pk]
    assert Campaign.objects.get(pk=owned.pk).status == Status.ENDED
    assert_others_ran(which, owned, owner, pushes)
    assert_failure_logged(caplog, which)


def test_a_raising_receiver_connected_to_the_event_is_logged_not_raised(
    manager, owned, owner, caplog, django_capture_on_commit_callbacks
):
    def receiver(sender, **kwargs):
        raise RuntimeError("a new subscriber with a bug")

    signals.status_changed.connect(receiver)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            services.campaign_transition(campaign=owned, action=Action.PAUSE, actor=manager, source=Source.UI)
    finally:
        signals.status_changed.disconnect(receiver)

    assert owned.status == Status.PAUSED
    assert Notification.objects.filter(recipient=owner).exists()
    assert any("a new subscriber with a bug" in str(r.exc_info[1]) for r in caplog.records if r.exc_info)


def test_status_changed_is_sent_robustly_once_per_batch(
    account, manager, monkeypatch, django_capture_on_commit_callbacks
):
    campaigns = CampaignFactory.create_batch(4, account=account)
    ids = [c.pk for c in campaigns]
    sent = []
    send_robust = signals.status_changed.send_robust

    def spy(sender, **kwargs):
        sent.append(kwargs)
        return send_robust(sender=sender, **kwargs)

    def send(*args, **kwargs):
        raise AssertionError("status_changed must be sent with send_robust")

    monkeypatch.setattr(signals.status_changed, "send_robust", spy)
    monkeypatch.setattr(signals.status_changed, "send", send)
    with django_capture_on_commit_callbacks(execute=True):
        result = end(campaigns, manager)
        registered = list(connection.run_on_commit)

    assert [(kw["action"], kw["campaign_ids"], kw["change_ids"]) for kw in sent] == [
        (Action.END, sorted(ids), result.change_ids)
    ]
    assert len(result.change_ids) == 4
    assert registered and all(robust for _, _, robust in registered)

    with django_capture_on_commit_callbacks(execute=True):  # already ended: nothing changed, nothing sent
        end(campaigns, manager)
    assert len(sent) == 1


def test_winddown_is_written_in_the_transaction_before_the_event(manager, owned, django_capture_on_commit_callbacks):
    seen = []

    def receiver(sender, campaign_ids, **kwargs):
        seen.append(WindDownStep.objects.filter(campaign_id__in=campaign_ids).count())

    signals.status_changed.connect(receiver)
    try:
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            end([owned], manager)
            assert WindDownStep.objects.filter(campaign=owned).count() == 7  # before any commit callback
        assert seen == []
        for callback in callbacks:
            callback()
    finally:
        signals.status_changed.disconnect(receiver)
    assert seen == [7]


def test_a_failing_winddown_rolls_the_end_back(manager, owned, monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(effects, "winddown_checklists_create", broken)

    with pytest.raises(RuntimeError, match="disk full"):
        end([owned], manager)

    assert Campaign.objects.get(pk=owned.pk).status == Status.ACTIVE
    assert not StatusChange.objects.filter(campaign=owned).exists()
