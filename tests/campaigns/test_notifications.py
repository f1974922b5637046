import datetime as dt
import io
from unittest import mock

import pytest
from django.core import mail
from django.core.management import call_command
from django.utils import timezone

from campaigns import services, tasks
from campaigns.models import (
    Action,
    Campaign,
    CampaignWatch,
    EmailState,
    EndReason,
    Membership,
    Notification,
    NotificationKind,
    Role,
    ScheduledAction,
    Source,
    Status,
    WindDownStep,
    WindDownStepKind,
)
from tests.factories import CampaignFactory, MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


def member(account, username, role=Role.VIEWER, **prefs):
    user = UserFactory(username=username, first_name=username.title())
    MembershipFactory(user=user, account=account, role=role, **prefs)
    return user


@pytest.fixture
def owner(account):
    return member(account, "olga-owner", Role.EDITOR)


@pytest.fixture
def owned(campaign, owner):
    Campaign.objects.filter(pk=campaign.pk).update(owner=owner)
    campaign.refresh_from_db()
    return campaign


def transition(ids, action, actor, source=Source.UI, **kwargs):
    if action == Action.END:
        kwargs.setdefault("reason_code", EndReason.STRATEGY_CHANGE)
    return services.campaigns_transition(
        campaign_ids=ids, action=action, actor=actor, source=source, enforce_role=source == Source.UI, **kwargs
    )


def test_pause_notifies_owner_watchers_and_followers_not_actor_or_others(
    account, owned, owner, editor, django_capture_on_commit_callbacks
):
    watcher = member(account, "walt-watcher")
    CampaignWatch.objects.create(user=watcher, campaign=owned)
    follower = member(account, "fran-follower", notify_all=True)
    member(account, "quiet-member")
    outsider = UserFactory(username="stranger")
    CampaignWatch.objects.create(user=outsider, campaign=owned)  # not a member: must never hear about it
    CampaignWatch.objects.create(user=editor, campaign=owned)  # the actor

    with django_capture_on_commit_callbacks(execute=True):
        transition([owned.pk], Action.PAUSE, editor)

    recipients = set(Notification.objects.values_list("recipient__username", flat=True))
    assert recipients == {owner.username, watcher.username, follower.username}
    n = Notification.objects.get(recipient=owner)
    assert n.title == "eddie-editor paused “Spring Glow”"
    assert list(n.campaigns.all()) == [owned]
    assert n.url == f"/campaigns/{owned.pk}/"


def test_end_email_has_reason_who_and_link_in_text_and_html(owned, owner, manager, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        transition([owned.pk], Action.END, manager, reason_code=EndReason.OTHER, reason_note="Creator left")

    assert len(mail.outbox) == 1
    email = mail.outbox[0]
    assert email.to == [owner.email]
    assert email.subject == "[Closeout] mona-manager ended “Spring Glow”"
    assert "Reason: Other" in email.body and "Note: Creator left" in email.body
    assert f"http://127.0.0.1:8000/campaigns/{owned.pk}/wind-down/" in email.body
    html, mimetype = email.alternatives[0]
    assert mimetype == "text/html"
    assert "Creator left" in html and f"/campaigns/{owned.pk}/wind-down/" in html
    n = Notification.objects.get(recipient=owner)
    assert n.email_state == EmailState.SENT and n.emailed_at is not None and n.email_attempts == 1


def test_email_preference_off_keeps_in_app_only(account, owned, owner, manager, django_capture_on_commit_callbacks):
    Membership.objects.filter(user=owner).update(notify_email=False)
    with django_capture_on_commit_callbacks(execute=True):
        transition([owned.pk], Action.PAUSE, manager)
    assert mail.outbox == []
    assert Notification.objects.get(recipient=owner).email_state == EmailState.NOT_SENT


def test_bulk_end_sends_one_grouped_notification_per_recipient(
    account, owner, manager, django_capture_on_commit_callbacks
):
    campaigns = [CampaignFactory(account=account, owner=owner, name=f"Drop {i}") for i in range(4)]
    watcher = member(account, "walt-watcher")
    CampaignWatch.objects.create(user=watcher, campaign=campaigns[0])

    with django_capture_on_commit_callbacks(execute=True):
        transition([c.pk for c in campaigns], Action.END, manager)

    owner_n = Notification.objects.get(recipient=owner)
    assert owner_n.title == "mona-manager ended 4 campaigns"
    assert all(f"Drop {i}" in owner_n.body for i in range(4))
    assert owner_n.campaigns.count() == 4
    watcher_n = Notification.objects.get(recipient=watcher)
    assert watcher_n.title == "mona-manager ended “Drop 0”"
    assert sorted(m.to[0] for m in mail.outbox) == sorted([owner.email, watcher.email])
    team_steps = WindDownStep.objects.filter(kind=WindDownStepKind.TEAM_NOTIFIED)
    assert team_steps.count() == 4 and all(s.done_at for s in team_steps)


def test_notification_task_running_twice_creates_no_duplicates(
    owned, owner, manager, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        result = transition([owned.pk], Action.PAUSE, manager)
    tasks.notify_status_changes.call(change_ids=result.change_ids)
    assert Notification.objects.count() == 1
    assert len(mail.outbox) == 1


def test_scheduled_execution_reads_as_scheduled(owned, owner, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        transition([owned.pk], Action.PAUSE, None, source=Source.SCHEDULE)
    n = Notification.objects.get(recipient=owner)
    assert n.kind == NotificationKind.SCHEDULE_EXECUTED
    assert n.title == "A schedule paused “Spring Glow”"


def test_schedule_created_and_failed_notify(owned, owner, manager):
    scheduled = ScheduledAction.objects.create(
        campaign=owned,
        action=Action.END,
        run_at=timezone.now() + dt.timedelta(days=1),
        reason_code="objectives_met",
        created_by=manager,
    )
    services.notify_schedule_created(scheduled=scheduled, actor=manager)
    scheduled.result = "Campaign was already ended"
    services.notify_schedule_failed(scheduled=scheduled)
    services.notify_schedule_failed(scheduled=scheduled)  # a retried task: still one
    kinds = list(Notification.objects.filter(recipient=owner).values_list("kind", flat=True).order_by("id"))
    assert kinds == [NotificationKind.SCHEDULE_CREATED, NotificationKind.SCHEDULE_FAILED]


def test_sync_failure_notifies_grouped(account, owner):
    a = CampaignFactory(account=account, owner=owner)
    b = CampaignFactory(account=account, owner=owner)
    services.notify_sync_failed(campaign_ids=[a.pk, b.pk], error="40100 token expired", attempt_key="1")
    n = Notification.objects.get(recipient=owner)
    assert n.kind == NotificationKind.SYNC_FAILED
    assert n.title == "TikTok did not confirm changes to 2 campaigns"
    assert "40100 token expired" in n.body


def test_mail_failure_keeps_status_change_and_marks_email_failed_then_retry_sends(
    owned, owner, manager, django_capture_on_commit_callbacks
):
    with (
        mock.patch("django.core.mail.EmailMultiAlternatives.send", side_effect=OSError("SMTP down")),
        django_capture_on_commit_callbacks(execute=True),
    ):
        transition([owned.pk], Action.END, manager)

    owned.refresh_from_db()
    assert owned.status == Status.ENDED
    n = Notification.objects.get(recipient=owner)
    assert n.email_state == EmailState.FAILED
    assert "SMTP down" in n.email_error
    assert n.email_attempts == 1

    # The immediate test backend cannot defer the retry; the daily sweep sends it.
    assert services.notification_emails_retry_due() == 1
    n.refresh_from_db()
    assert n.email_state == EmailState.SENT and n.email_error == ""
    assert len(mail.outbox) == 1


def test_failed_send_is_requeued_with_backoff_when_backend_can_defer(owner, django_capture_on_commit_callbacks):
    n = Notification.objects.create(
        recipient=owner, kind=NotificationKind.STATUS_CHANGED, title="x", email_state=EmailState.PENDING
    )
    fake = mock.Mock()
    fake.get_backend.return_value.supports_defer = True
    fake.using.return_value = fake
    with (
        mock.patch("django.core.mail.EmailMultiAlternatives.send", side_effect=OSError("boom")),
        mock.patch.object(tasks, "notification_emails_send", fake),
        django_capture_on_commit_callbacks(execute=True),
    ):
        counts = services.notification_emails_send_now(notification_ids=[n.pk])

    assert counts["failed"] == 1
    run_after = fake.using.call_args.kwargs["run_after"]
    assert dt.timedelta(seconds=50) < run_after - timezone.now() <= dt.timedelta(minutes=1)
    fake.enqueue.assert_called_once_with(notification_ids=[n.pk])


def test_email_gives_up_after_max_attempts(owner):
    n = Notification.objects.create(
        recipient=owner,
        kind=NotificationKind.STATUS_CHANGED,
        title="x",
        email_state=EmailState.FAILED,
        email_attempts=services.NOTIFICATION_EMAIL_MAX_ATTEMPTS - 1,
    )
    with mock.patch("django.core.mail.EmailMultiAlternatives.send", side_effect=OSError("still down")):
        services.notification_emails_send_now(notification_ids=[n.pk])
    n.refresh_from_db()
    assert n.email_state == EmailState.GAVE_UP


def test_overdue_steps_notify_once(account, owned, owner, manager, django_capture_on_commit_callbacks):
    transition([owned.pk], Action.END, manager)
    Campaign.objects.filter(pk=owned.pk).update(ended_at=timezone.now() - dt.timedelta(days=8))

    assert services.winddown_overdue_notify() == 6
    n = Notification.objects.get(recipient=owner, kind=NotificationKind.WINDDOWN_OVERDUE)
    assert n.title == "Wind-down overdue: “Spring Glow”"
    assert "6 wind-down steps still open 7 days after the end" in n.body
    assert services.winddown_overdue_notify() == 0
    out = io.StringIO()
    call_command("check_winddown_overdue", stdout=out)
    assert "Overdue wind-down steps notified: 0" in out.getvalue()
    assert Notification.objects.filter(kind=NotificationKind.WINDDOWN_OVERDUE).count() == 1


def test_overdue_ignores_recent_ends(owned, manager):
    transition([owned.pk], Action.END, manager)
    assert services.winddown_overdue_notify() == 0


def test_daily_task_runs_check_without_rescheduling_on_immediate_backend(owned, manager):
    transition([owned.pk], Action.END, manager)
    Campaign.objects.filter(pk=owned.pk).update(ended_at=timezone.now() - dt.timedelta(days=9))
    result = tasks.winddown_daily.enqueue(reschedule=True)
    assert result.return_value == {"overdue_steps": 6, "emails_retried": 0}
    assert tasks.winddown_daily_schedule() is False  # ImmediateBackend cannot defer


def test_daily_next_run_is_next_seven_utc():
    now = dt.datetime(2026, 3, 1, 8, 0, tzinfo=dt.UTC)
    assert tasks.winddown_daily_next_run(now) == dt.datetime(2026, 3, 2, 7, 0, tzinfo=dt.UTC)


# Pages ----------------------------------------------------------------------------------------------------------


def test_bell_shows_unread_count(login, owner, account):
    Notification.objects.create(recipient=owner, kind=NotificationKind.STATUS_CHANGED, title="One")
    Notification.objects.create(recipient=owner, kind=NotificationKind.STATUS_CHANGED, title="Two")
    Notification.objects.create(
        recipient=owner, kind=NotificationKind.STATUS_CHANGED, title="Read", read_at=timezone.now()
    )
    text = login(owner).get("/campaigns/notifications/").content.decode()
    assert '<span class="bell-count">2<span class="visually-hidden"> unread</span>' in text


def test_notification_list_shows_only_own_and_is_query_bounded(login, owner, manager, django_assert_max_num_queries):
    for i in range(20):
        Notification.objects.create(recipient=owner, kind=NotificationKind.STATUS_CHANGED, title=f"Mine {i}")
    Notification.objects.create(recipient=manager, kind=NotificationKind.STATUS_CHANGED, title="Not yours")
    client = login(owner)
    with django_assert_max_num_queries(6):
        text = client.get("/campaigns/notifications/").content.decode()
    assert "Mine 19" in text and "Not yours" not in text


def test_mark_one_and_all_read(login, owner, manager):
    mine = Notification.objects.create(recipient=owner, kind=NotificationKind.STATUS_CHANGED, title="Mine")
    other = Notification.objects.create(recipient=owner, kind=NotificationKind.STATUS_CHANGED, title="Other")
    theirs = Notification.objects.create(recipient=manager, kind=NotificationKind.STATUS_CHANGED, title="Theirs")
    client = login(owner)
    response = client.post(f"/campaigns/notifications/{mine.pk}/read/", follow=True)
    assert "Marked as read." in response.content.decode()
    client.post(f"/campaigns/notifications/{theirs.pk}/read/")
    theirs.refresh_from_db()
    assert theirs.read_at is None

    response = client.post("/campaigns/notifications/read-all/", headers={"HX-Request": "true"})
    assert "notificationsChanged" in response["HX-Trigger"]
    other.refresh_from_db()
    assert other.read_at is not None


def test_preferences_update_own_memberships(login, account, other_account, owner):
    MembershipFactory(user=owner, account=other_account, role=Role.VIEWER)
    client = login(owner)
    page = client.get("/campaigns/notifications/preferences/").content.decode()
    assert "Acme Beauty" in page and "Other Agency" in page
    client.post(
        "/campaigns/notifications/preferences/",
        {f"notify_all_{account.pk}": "on", f"notify_email_{other_account.pk}": "on"},
    )
    rows = Membership.objects.filter(user=owner).values_list("account_id", "notify_all", "notify_email")
    prefs = {a: (all_, email) for a, all_, email in rows}
    assert prefs == {account.pk: (True, False), other_account.pk: (False, True)}


def test_watch_and_unwatch(login, campaign, viewer):
    client = login(viewer)
    response = client.post(f"/campaigns/{campaign.pk}/watch/", follow=True)
    assert "You are watching “Spring Glow”." in response.content.decode()
    assert CampaignWatch.objects.filter(user=viewer, campaign=campaign).exists()
    response = client.post(f"/campaigns/{campaign.pk}/unwatch/", headers={"HX-Request": "true"})
    assert b"Watch</button>" in response.content
    assert not CampaignWatch.objects.exists()


def test_watch_other_account_campaign_is_404(login, other_campaign, viewer):
    assert login(viewer).post(f"/campaigns/{other_campaign.pk}/watch/").status_code == 404
    assert not CampaignWatch.objects.exists()


def test_notification_pages_require_login(client):
    for url in ("/campaigns/notifications/", "/campaigns/notifications/preferences/"):
        assert client.get(url).status_code == 302


def test_admin_shows_email_state_and_retries_failed(client, staff, owner):
    n = Notification.objects.create(
        recipient=owner,
        kind=NotificationKind.STATUS_CHANGED,
        title="Ended",
        email_state=EmailState.GAVE_UP,
        email_attempts=5,
        email_error="SMTPServerDisconnected: gone",
    )
    client.force_login(staff)
    listing = client.get("/admin/campaigns/notification/").content.decode()
    assert "Failed (gave up)" in listing
    client.post(
        "/admin/campaigns/notification/",
        {"action": "notifications_email_retry", "_selected_action": [n.pk]},
    )
    n.refresh_from_db()
    assert n.email_state == EmailState.SENT
    assert len(mail.outbox) == 1


# Issue 13: schedule notifications are called; email queuing is robust


def test_schedule_failed_tells_managers_and_creator_even_when_not_following(account, owned, owner, manager):
    second_manager = member(account, "max-manager", Role.MANAGER)
    creator = member(account, "cleo-creator", Role.EDITOR)  # e.g. a manager since demoted: still told
    member(account, "quiet-viewer")
    scheduled = ScheduledAction.objects.create(
        campaign=owned,
        action=Action.PAUSE,
        run_at=timezone.now() + dt.timedelta(days=1),
        created_by=creator,
        state="failed",
        result="The platform refused: campaign is under review",
    )

    services.notify_schedule_failed(scheduled=scheduled)

    told = Notification.objects.filter(kind=NotificationKind.SCHEDULE_FAILED)
    assert set(told.values_list("recipient__username", flat=True)) == {
        owner.username,
        manager.username,
        second_manager.username,
        creator.username,
    }
    assert all("Why: The platform refused: campaign is under review" in n.body for n in told)


def test_email_queue_outage_keeps_the_notification_for_the_sweep(
    owned, owner, manager, caplog, django_capture_on_commit_callbacks
):
    broken = mock.Mock()
    broken.enqueue.side_effect = ConnectionError("queue is down")
    with mock.patch.object(tasks, "notification_emails_send", broken), django_capture_on_commit_callbacks(execute=True):
        transition([owned.pk], Action.PAUSE, manager)

    n = Notification.objects.get(recipient=owner)
    assert n.email_state == EmailState.PENDING and mail.outbox == []
    assert any("queue is down" in str(r.exc_info[1]) for r in caplog.records if r.exc_info)
    Notification.objects.filter(pk=n.pk).update(created_at=timezone.now() - dt.timedelta(hours=1))
    assert services.notification_emails_retry_due() == 1
    assert [m.to[0] for m in mail.outbox] == [owner.email]
