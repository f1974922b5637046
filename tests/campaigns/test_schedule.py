import datetime as dt

import pytest
from django.core.management import call_command
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from campaigns import services
from campaigns.models import Action, EndReason, ScheduledAction, ScheduledState, Source, Status, StatusChange
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
