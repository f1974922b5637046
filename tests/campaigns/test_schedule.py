import datetime as dt

import pytest
from django.contrib.messages import get_messages
from django.core import mail
from django.core.management import call_command
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from campaigns import services
from campaigns.models import (
    Action,
    Campaign,
    EndReason,
    Notification,
    NotificationKind,
    Role,
    ScheduledAction,
    ScheduledState,
    Source,
    Status,
    StatusChange,
)
from tests.factories import CampaignFactory

pytestmark = pytest.mark.django_db


def in_hours(h):
    return timezone.now() + dt.timedelta(hours=h)


def schedule(campaign, user, action=Action.END, run_at=None, **kw):
    kw.setdefault("reason_code", EndReason.OBJECTIVES_MET if action == Action.END else "")
    return services.scheduled_action_create(
        campaign=campaign, action=action, run_at=run_at or in_hours(3), actor=user, **kw
    )


def test_schedule_records_history(campaign, manager):
    scheduled = schedule(campaign, manager)

    entry = StatusChange.objects.get(campaign=campaign, action=Action.SCHEDULE)
    assert entry.actor == manager
    assert entry.details["scheduled_action"] == scheduled.pk
    assert scheduled.state == ScheduledState.PENDING


def test_second_pending_schedule_is_refused(campaign, manager):
    schedule(campaign, manager)

    with pytest.raises(services.ScheduleError, match="already has a scheduled action"):
        schedule(campaign, manager, action=Action.PAUSE)


def test_schedule_in_the_past_or_of_ended_campaign_is_refused(account, manager):
    ended = CampaignFactory(account=account, status=Status.ENDED)
    with pytest.raises(services.ScheduleError):
        schedule(ended, manager)
    with pytest.raises(services.ScheduleError):
        schedule(CampaignFactory(account=account), manager, run_at=in_hours(-1))


def test_run_due_ends_the_campaign_with_source_schedule(campaign, manager):
    scheduled = schedule(campaign, manager)
    ScheduledAction.objects.filter(pk=scheduled.pk).update(run_at=in_hours(-0.1))

    results = services.scheduled_actions_run_due()

    campaign.refresh_from_db()
    scheduled.refresh_from_db()
    assert results == {scheduled.pk: ScheduledState.DONE}
    assert campaign.status == Status.ENDED
    change = StatusChange.objects.get(campaign=campaign, action=Action.END)
    assert change.source == Source.SCHEDULE
    assert change.actor == manager
    assert change.reason_code == EndReason.OBJECTIVES_MET


def test_run_due_ignores_future_actions(campaign, manager):
    schedule(campaign, manager)

    assert services.scheduled_actions_run_due() == {}
    campaign.refresh_from_db()
    assert campaign.status == Status.ACTIVE


def test_run_due_twice_acts_once(campaign, manager):
    scheduled = schedule(campaign, manager, action=Action.PAUSE)
    ScheduledAction.objects.filter(pk=scheduled.pk).update(run_at=in_hours(-1))

    services.scheduled_actions_run_due()
    second = services.scheduled_actions_run_due(ids=[scheduled.pk])

    assert second == {}
    assert StatusChange.objects.filter(campaign=campaign, action=Action.PAUSE).count() == 1


def test_due_pause_of_a_paused_campaign_is_a_recorded_no_op(campaign, manager):
    scheduled = schedule(campaign, manager, action=Action.PAUSE)
    services.campaign_transition(campaign=campaign, action=Action.PAUSE, actor=manager, source=Source.UI)
    ScheduledAction.objects.filter(pk=scheduled.pk).update(run_at=in_hours(-1))

    services.scheduled_actions_run_due()

    scheduled.refresh_from_db()
    assert scheduled.state == ScheduledState.SKIPPED
    skipped = StatusChange.objects.get(campaign=campaign, action=Action.SCHEDULE_SKIPPED)
    assert skipped.source == Source.SCHEDULE
    assert "already paused" in skipped.details["result"]


def test_due_action_on_ended_campaign_is_skipped(campaign, manager):
    scheduled = schedule(campaign, manager, action=Action.PAUSE)
    services.campaign_transition(
        campaign=campaign,
        action=Action.END,
        actor=manager,
        source=Source.UI,
        reason_code=EndReason.OTHER,
        reason_note="done",
    )
    ScheduledAction.objects.filter(pk=scheduled.pk).update(run_at=in_hours(-1))

    call_command("run_due_actions")

    scheduled.refresh_from_db()
    assert scheduled.state == ScheduledState.SKIPPED
    assert StatusChange.objects.filter(campaign=campaign, action=Action.SCHEDULE_SKIPPED).exists()


def test_run_due_actions_command_reports_what_it_did(campaign, manager, capsys):
    scheduled = schedule(campaign, manager)
    ScheduledAction.objects.filter(pk=scheduled.pk).update(run_at=in_hours(-1))

    call_command("run_due_actions")

    assert "1 done" in capsys.readouterr().out
    campaign.refresh_from_db()
    assert campaign.status == Status.ENDED


@override_settings(TASKS={"default": {"BACKEND": "django.tasks.backends.dummy.DummyBackend"}})
def test_schedule_enqueues_a_deferred_task_after_commit(campaign, manager, django_capture_on_commit_callbacks):
    from django.tasks import default_task_backend

    with django_capture_on_commit_callbacks(execute=True):
        scheduled = schedule(campaign, manager, run_at=in_hours(5))

    scheduled.refresh_from_db()
    [result] = default_task_backend.results
    assert result.task.name == "run_scheduled_action"
    assert result.task.run_after == scheduled.run_at
    assert result.args == [scheduled.pk]
    assert scheduled.task_id == str(result.id)


def test_task_runs_the_due_action(campaign, manager):
    from campaigns.tasks import run_scheduled_action

    scheduled = schedule(campaign, manager)
    ScheduledAction.objects.filter(pk=scheduled.pk).update(run_at=in_hours(-1))

    run_scheduled_action.call(scheduled.pk)

    campaign.refresh_from_db()
    assert campaign.status == Status.ENDED


def test_unschedule_cancels_and_records(campaign, manager):
    scheduled = schedule(campaign, manager)

    assert services.scheduled_action_cancel(campaign=campaign, actor=manager) is True
    assert services.scheduled_action_cancel(campaign=campaign, actor=manager) is False

    scheduled.refresh_from_db()
    assert scheduled.state == ScheduledState.CANCELLED
    assert StatusChange.objects.filter(campaign=campaign, action=Action.UNSCHEDULE).count() == 1
    schedule(campaign, manager)  # a new one may be scheduled again


# Views


def test_schedule_view_creates_in_account_timezone(login, manager, campaign):
    url = reverse("campaigns:schedule", args=[campaign.pk])

    response = login(manager).post(url, {"action": "pause", "run_at": "2099-01-15T09:00"})

    assert response.status_code == 302
    scheduled = ScheduledAction.objects.get(campaign=campaign)
    assert scheduled.run_at == dt.datetime(2099, 1, 15, 8, 0, tzinfo=dt.UTC)  # Berlin is UTC+1 in January
    detail = login(manager).get(reverse("campaigns:detail", args=[campaign.pk])).content.decode()
    assert "Unschedule" in detail
    assert "pauses in" in detail


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"action": "end", "run_at": "2099-01-15T09:00"}, "Choose why the campaign is ending."),
        ({"action": "pause", "run_at": "not a date"}, "Enter a valid date/time."),
        ({"action": "pause", "run_at": "2000-01-01T09:00"}, "Choose a time in the future."),
        ({"action": "resume", "run_at": "2099-01-15T09:00"}, "Select a valid choice."),
    ],
)
def test_schedule_view_shows_errors_inline(login, manager, campaign, data, error):
    response = login(manager).post(reverse("campaigns:schedule", args=[campaign.pk]), data)

    assert response.status_code == 400
    assert error in response.content.decode()
    assert not ScheduledAction.objects.exists()


def test_schedule_view_as_editor_is_403(login, editor, campaign):
    response = login(editor).post(
        reverse("campaigns:schedule", args=[campaign.pk]), {"action": "pause", "run_at": "2099-01-15T09:00"}
    )

    assert response.status_code == 403


def test_unschedule_view_is_a_button_not_a_toggle(login, manager, campaign):
    schedule(campaign, manager)
    client = login(manager)
    url = reverse("campaigns:unschedule", args=[campaign.pk])

    first = client.post(url)
    second = client.post(url)

    assert first.status_code == second.status_code == 302
    assert not ScheduledAction.objects.filter(state=ScheduledState.PENDING).exists()
    assert StatusChange.objects.filter(action=Action.UNSCHEDULE).count() == 1


def test_unschedule_of_other_account_is_404(login, manager, other_campaign):
    assert login(manager).post(reverse("campaigns:unschedule", args=[other_campaign.pk])).status_code == 404


def test_schedule_with_a_backend_that_cannot_defer_leaves_it_to_the_sweep(
    campaign, manager, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        scheduled = schedule(campaign, manager)  # tests use the immediate backend

    scheduled.refresh_from_db()
    assert scheduled.task_id == ""
    assert scheduled.state == ScheduledState.PENDING


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_worker_and_sweep_racing_run_the_action_once(account, manager):
    import threading

    from django.db import connection

    campaign = CampaignFactory(account=account)
    scheduled = schedule(campaign, manager)
    ScheduledAction.objects.filter(pk=scheduled.pk).update(run_at=in_hours(-1))
    barrier = threading.Barrier(4)
    results = []

    def run():
        try:
            barrier.wait()
            results.append(services.scheduled_actions_run_due())
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert StatusChange.objects.filter(campaign=campaign, action=Action.END).count() == 1
    assert [r.get(scheduled.pk) for r in results].count(ScheduledState.DONE) == 1
    scheduled.refresh_from_db()
    assert scheduled.state == ScheduledState.DONE


# A failed schedule tells the managers why; a created one tells the team (issue 13)


@pytest.fixture
def team(account, manager):
    """Another manager and an editor who owns the campaigns (the creator is `manager`)."""
    from tests.factories import MembershipFactory, UserFactory

    other_manager = UserFactory(username="max-manager")
    MembershipFactory(user=other_manager, account=account, role=Role.MANAGER)
    owner = UserFactory(username="olga-owner")
    MembershipFactory(user=owner, account=account, role=Role.EDITOR)
    return {"manager": other_manager, "owner": owner}


def make_transition_raise(monkeypatch):
    from campaigns.services import schedules

    def refuse(**kwargs):
        raise services.CampaignError("The campaign is locked by a legal hold.")

    monkeypatch.setattr(schedules, "campaigns_transition", refuse)
    return "The campaign is locked by a legal hold."


def invalidate_reason(scheduled):
    ScheduledAction.objects.filter(pk=scheduled.pk).update(reason_code=EndReason.OTHER, reason_note="")
    return "Say why in a note when the reason is “Other”."


@pytest.mark.parametrize("cause", ["reason invalidated", "transition refused"])
def test_failed_scheduled_end_tells_the_managers_and_the_creator_why(
    campaign, manager, team, monkeypatch, django_capture_on_commit_callbacks, cause
):
    scheduled = schedule(campaign, manager)
    ScheduledAction.objects.filter(pk=scheduled.pk).update(run_at=in_hours(-1))
    why = invalidate_reason(scheduled) if cause == "reason invalidated" else make_transition_raise(monkeypatch)

    with django_capture_on_commit_callbacks(execute=True):
        assert services.scheduled_actions_run_due() == {scheduled.pk: ScheduledState.FAILED}

    campaign.refresh_from_db()
    assert campaign.status == Status.ACTIVE
    told = Notification.objects.filter(kind=NotificationKind.SCHEDULE_FAILED)
    assert set(told.values_list("recipient__username", flat=True)) == {"mona-manager", "max-manager"}
    for n in told:
        assert n.title == "A scheduled action failed: end “Spring Glow”"
        assert f"Why: {why}" in n.body
        assert n.url == f"/campaigns/{campaign.pk}/"
    assert sorted(m.to[0] for m in mail.outbox) == sorted([manager.email, team["manager"].email])


def test_failed_schedule_run_by_the_task_notifies_once(campaign, manager, team, django_capture_on_commit_callbacks):
    from campaigns.tasks import run_scheduled_action

    scheduled = schedule(campaign, manager)
    ScheduledAction.objects.filter(pk=scheduled.pk).update(run_at=in_hours(-1))
    invalidate_reason(scheduled)

    with django_capture_on_commit_callbacks(execute=True):
        run_scheduled_action.call(scheduled.pk)
        run_scheduled_action.call(scheduled.pk)  # a duplicate delivery: the action is gone, nothing more said

    assert Notification.objects.filter(kind=NotificationKind.SCHEDULE_FAILED, recipient=manager).count() == 1


def test_created_schedule_tells_the_team_not_the_scheduler(
    login, campaign, manager, team, django_capture_on_commit_callbacks
):
    Campaign.objects.filter(pk=campaign.pk).update(owner=team["owner"])

    with django_capture_on_commit_callbacks(execute=True):
        response = login(manager).post(
            reverse("campaigns:schedule", args=[campaign.pk]), {"action": "pause", "run_at": "2099-01-15T09:00"}
        )

    assert response.status_code == 302
    [n] = Notification.objects.filter(kind=NotificationKind.SCHEDULE_CREATED)
    assert n.recipient == team["owner"]
    assert n.title == "mona-manager scheduled: pause “Spring Glow”"
    assert "(Acme Beauty) at 09:00 CET, 15 Jan 2099." in n.body  # the account's zone (issue 16; was UTC)
    assert [m.to[0] for m in mail.outbox] == [team["owner"].email]


def test_bulk_schedule_tells_each_recipient_once(account, manager, team, django_capture_on_commit_callbacks):
    campaigns = [CampaignFactory(account=account, name=f"Drop {i}", owner=team["owner"]) for i in range(3)]

    with django_capture_on_commit_callbacks(execute=True):
        result = bulk_schedule(campaigns, manager)

    assert result.counts()[services.ScheduleOutcome.SCHEDULED] == 3
    [n] = Notification.objects.filter(kind=NotificationKind.SCHEDULE_CREATED)
    assert n.recipient == team["owner"]
    assert n.title == "mona-manager scheduled: end 3 campaigns"
    assert all(f"Drop {i}" in n.body for i in range(3)) and "Reason: Objectives met" in n.body
    assert n.campaigns.count() == 3


# Bulk scheduling: one service call, authorised in the service, constant queries (issue 13)


def bulk_schedule(campaigns, actor, **kw):
    kw.setdefault("reason_code", EndReason.OBJECTIVES_MET)
    return services.scheduled_actions_create(
        campaign_ids=[c.pk for c in campaigns], action=Action.END, run_at=in_hours(3), actor=actor, **kw
    )


def test_bulk_scheduling_costs_the_same_queries_for_3_and_30_campaigns(
    account, manager, team, django_assert_num_queries, django_capture_on_commit_callbacks
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    few = [CampaignFactory(account=account, owner=team["owner"]) for _ in range(3)]
    many = [CampaignFactory(account=account, owner=team["owner"]) for _ in range(30)]

    with CaptureQueriesContext(connection) as counted, django_capture_on_commit_callbacks(execute=True):
        bulk_schedule(few, manager)
    with django_assert_num_queries(len(counted)), django_capture_on_commit_callbacks(execute=True):
        result = bulk_schedule(many, manager)

    assert result.counts()[services.ScheduleOutcome.SCHEDULED] == 30
    assert ScheduledAction.objects.filter(state=ScheduledState.PENDING).count() == 33
    assert StatusChange.objects.filter(action=Action.SCHEDULE).count() == 33
    assert Notification.objects.filter(kind=NotificationKind.SCHEDULE_CREATED).count() == 2  # one per call


def test_bulk_scheduling_by_an_editor_schedules_nothing(account, editor):
    campaigns = CampaignFactory.create_batch(3, account=account)

    result = bulk_schedule(campaigns, editor)

    assert set(result.outcomes.values()) == {services.ScheduleOutcome.NOT_PERMITTED}
    assert not ScheduledAction.objects.exists()
    assert not StatusChange.objects.exists()
    assert result.problems()[0].endswith(": not permitted for your role")


def test_bulk_scheduling_reports_each_campaign_and_never_names_other_accounts(account, manager, other_campaign, editor):
    free = CampaignFactory(account=account, name="Free")
    ended = CampaignFactory(account=account, name="Gone", status=Status.ENDED)
    busy = CampaignFactory(account=account, name="Busy")
    schedule(busy, manager, action=Action.PAUSE)

    result = bulk_schedule([free, ended, busy, other_campaign], manager)

    outcome = services.ScheduleOutcome
    assert result.outcomes == {
        free.pk: outcome.SCHEDULED,
        ended.pk: outcome.ENDED,
        busy.pk: outcome.PENDING,
        other_campaign.pk: outcome.NOT_FOUND,
    }
    assert other_campaign.pk not in result.names
    assert list(result.scheduled) == [free.pk]
    assert sorted(result.problems()) == [
        "A selected campaign was not found",
        "“Busy” already has a scheduled action. Unschedule it first.",
        "“Gone” has ended; nothing can be scheduled.",
    ]
    assert StatusChange.objects.filter(action=Action.SCHEDULE, campaign=free).count() == 1


def test_single_schedule_is_authorised_in_the_service(campaign, editor, outsider):
    with pytest.raises(services.NotPermitted):
        schedule(campaign, editor)
    with pytest.raises(services.NotPermitted):
        schedule(campaign, outsider)
    assert not ScheduledAction.objects.exists()


@override_settings(TASKS={"default": {"BACKEND": "django.tasks.backends.dummy.DummyBackend"}})
def test_bulk_schedule_queues_one_deferred_run_for_all(account, manager, django_capture_on_commit_callbacks):
    from django.tasks import default_task_backend

    campaigns = CampaignFactory.create_batch(5, account=account)
    with django_capture_on_commit_callbacks(execute=True):
        result = bulk_schedule(campaigns, manager)

    [task] = default_task_backend.results
    ids = sorted(s.pk for s in result.scheduled.values())
    assert task.task.name == "run_scheduled_action" and task.args == ids
    assert set(ScheduledAction.objects.values_list("task_id", flat=True)) == {str(task.id)}


def test_bulk_end_at_view_schedules_what_the_user_may(
    login, account, other_account, manager, django_capture_on_commit_callbacks
):
    from tests.factories import MembershipFactory

    MembershipFactory(user=manager, account=other_account, role=Role.EDITOR)
    other_account.timezone = account.timezone
    other_account.save(update_fields=["timezone"])
    mine = CampaignFactory(account=account, name="Mine")
    theirs = CampaignFactory(account=other_account, name="Theirs")

    response = login(manager).post(
        reverse("campaigns:bulk_action"),
        {
            "action": "end",
            "ids": [mine.pk, theirs.pk],
            "confirmed": "on",
            "idempotency_key": "k",
            "reason_code": EndReason.OBJECTIVES_MET,
            "confirm_text": "2",
            "end_at": "2099-06-01T18:30",
        },
    )

    texts = [str(m) for m in get_messages(response.wsgi_request)]
    assert "Scheduled the end of 1 campaign at 2099-06-01 18:30 (Europe/Berlin): Mine." in texts
    assert "Not scheduled: Theirs: not permitted for your role" in texts
    assert list(ScheduledAction.objects.values_list("campaign_id", flat=True)) == [mine.pk]
