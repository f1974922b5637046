"""Issue 16, point 1: an honest "team notified". A sensible default audience (an end tells every editor and
manager of the account; a pause or resume the owner, watchers and managers), adjustable per member, and the
wind-down step completes only when someone other than the actor was told; otherwise it stays open with
"Nobody was told — notify the team", one click."""

import re

import pytest
from django.urls import reverse

from campaigns import services
from campaigns.models import (
    Action,
    Campaign,
    CampaignWatch,
    EndReason,
    Membership,
    Notification,
    Role,
    Source,
    StatusChange,
    WindDownStep,
    WindDownStepKind,
)
from tests.factories import CampaignFactory

from .test_notifications import member

pytestmark = pytest.mark.django_db


def transition(campaigns, action, actor, source=Source.UI):
    extra = {"reason_code": EndReason.STRATEGY_CHANGE} if action == Action.END else {}
    return services.campaigns_transition(
        campaign_ids=[c.pk for c in campaigns], action=action, actor=actor, source=source, **extra
    )


def told(*users) -> set[str]:
    return {u.username for u in users}


def recipients() -> set[str]:
    return set(Notification.objects.values_list("recipient__username", flat=True))


def team_step(campaign) -> WindDownStep:
    return WindDownStep.objects.get(campaign=campaign, kind=WindDownStepKind.TEAM_NOTIFIED)


@pytest.fixture
def team(account, manager):
    """A manager (who acts), a second manager, two editors and a viewer; nobody chose anything."""
    return {
        "other_manager": member(account, "max-manager", Role.MANAGER),
        "editor": member(account, "eddie-editor", Role.EDITOR),
        "second_editor": member(account, "erin-editor", Role.EDITOR),
        "viewer": member(account, "vera-viewer", Role.VIEWER),
    }


def test_end_tells_every_editor_and_manager_by_default_not_viewers_nor_the_actor(
    campaign, manager, team, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        transition([campaign], Action.END, manager)

    assert recipients() == told(team["other_manager"], team["editor"], team["second_editor"])
    step = team_step(campaign)
    assert step.is_done and step.automatic and step.data["notifications"] == 3


def test_pause_tells_owner_watchers_and_managers_by_default_not_other_editors(
    campaign, manager, team, django_capture_on_commit_callbacks
):
    owner = member(campaign.account, "olga-owner", Role.VIEWER)
    watcher = member(campaign.account, "walt-watcher", Role.VIEWER)
    Campaign.objects.filter(pk=campaign.pk).update(owner=owner)
    CampaignWatch.objects.create(user=watcher, campaign=campaign)

    with django_capture_on_commit_callbacks(execute=True):
        transition([campaign], Action.PAUSE, team["editor"])

    assert recipients() == told(owner, watcher, manager, team["other_manager"])


def test_members_adjust_the_default_audience_for_their_account(
    campaign, manager, team, django_capture_on_commit_callbacks
):
    Membership.objects.filter(user=team["editor"]).update(notify_ends=False)
    Membership.objects.filter(user=team["viewer"]).update(notify_ends=True)
    Membership.objects.filter(user=team["other_manager"]).update(notify_pauses=False)
    Membership.objects.filter(user=team["second_editor"]).update(notify_pauses=True)

    with django_capture_on_commit_callbacks(execute=True):
        transition([campaign], Action.PAUSE, manager)
    assert recipients() == told(team["second_editor"])

    Notification.objects.all().delete()
    with django_capture_on_commit_callbacks(execute=True):
        transition([campaign], Action.END, manager)
    assert recipients() == told(team["other_manager"], team["second_editor"], team["viewer"])


def test_end_that_tells_nobody_but_the_actor_leaves_the_step_open(
    campaign, manager, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        transition([campaign], Action.END, manager)

    step = team_step(campaign)
    assert not step.is_done
    assert step.data == {"notifications": 0, "nobody_told": True}
    campaign.refresh_from_db()
    assert campaign.winddown_done == 1  # the calendar only


def test_bulk_end_completes_the_step_only_for_campaigns_someone_was_told_about(
    account, manager, django_capture_on_commit_callbacks
):
    watched, unwatched = CampaignFactory(account=account), CampaignFactory(account=account)
    CampaignWatch.objects.create(user=member(account, "walt-watcher"), campaign=watched)

    with django_capture_on_commit_callbacks(execute=True):
        result = transition([watched, unwatched], Action.END, manager)

    assert team_step(watched).is_done and team_step(watched).data["notifications"] == 1
    assert not team_step(unwatched).is_done and team_step(unwatched).data["nobody_told"] is True
    # A retried notification task (dedupe: nothing new) keeps the told campaign told.
    services.notifications_for_status_changes(change_ids=result.change_ids)
    assert team_step(watched).is_done and not team_step(unwatched).is_done


def test_page_says_nobody_was_told_and_one_click_notifies_editors_and_managers(
    login, account, campaign, manager, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        transition([campaign], Action.END, manager)
    # Members who joined after the end (nobody else was there to tell).
    editor = member(account, "eddie-editor", Role.EDITOR)
    viewer = member(account, "vera-viewer", Role.VIEWER)
    url = reverse("campaigns:winddown", args=[campaign.pk])
    client = login(manager)

    html = client.get(url).content.decode()
    assert "Nobody was told — notify the team." in html
    assert 'name="op" value="notify"' in html

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("campaigns:winddown_step", args=[campaign.pk, WindDownStepKind.TEAM_NOTIFIED]),
            {"op": "notify"},
            follow=True,
        )

    assert response.status_code == 200
    assert recipients() == told(editor)  # the viewer does not follow ends, the manager clicked
    [n] = Notification.objects.filter(recipient=editor)
    assert n.title == "mona-manager: “Spring Glow” has ended" and n.url == url
    assert viewer.username not in recipients()
    step = team_step(campaign)
    assert step.is_done and not step.automatic and step.done_by == manager and step.data["notifications"] == 1
    assert StatusChange.objects.filter(campaign=campaign, details__winddown_step="team_notified").exists()
    assert "Nobody was told" not in response.content.decode()


def test_one_click_with_nobody_else_to_tell_keeps_the_step_open_and_says_why(
    login, campaign, manager, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        transition([campaign], Action.END, manager)

    response = login(manager).post(
        reverse("campaigns:winddown_step", args=[campaign.pk, WindDownStepKind.TEAM_NOTIFIED]),
        {"op": "notify"},
        headers={"HX-Request": "true"},
    )

    assert "Nobody else in this account can be told" in response.content.decode()
    assert not team_step(campaign).is_done and not Notification.objects.exists()


def test_told_another_way_needs_a_note_and_viewers_cannot_notify(
    login, campaign, manager, viewer, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        transition([campaign], Action.END, manager)
    step_url = reverse("campaigns:winddown_step", args=[campaign.pk, WindDownStepKind.TEAM_NOTIFIED])

    assert login(viewer).post(step_url, {"op": "notify"}).status_code == 403
    client = login(manager)
    client.post(step_url, {"op": "complete", "note": "  "})
    assert not team_step(campaign).is_done
    client.post(step_url, {"op": "complete", "note": "In the Monday stand-up"})
    step = team_step(campaign)
    assert step.is_done and step.note == "In the Monday stand-up" and step.data["told_elsewhere"] is True
    assert (
        "Told outside Closeout: In the Monday stand-up"
        in client.get(reverse("campaigns:winddown", args=[campaign.pk])).content.decode()
    )


def test_preferences_page_shows_role_defaults_and_stores_a_default_as_none(login, account, editor):
    url = reverse("campaigns:notification_preferences")
    client = login(editor)
    html = client.get(url).content.decode()
    assert f'name="notify_ends_{account.pk}" checked' in html  # an editor follows ends by default
    assert re.search(rf'name="notify_pauses_{account.pk}"\s*>', html)  # but not pauses
    assert "(default for your role: on)" in html and "(default for your role: off)" in html

    client.post(url, {f"notify_ends_{account.pk}": "on", f"notify_pauses_{account.pk}": "on"})
    m = Membership.objects.get(user=editor)
    assert (m.notify_ends, m.notify_pauses) == (None, True)  # ends: the role's default; pauses: chosen

    client.post(url, {})
    m.refresh_from_db()
    assert (m.notify_ends, m.notify_pauses) == (False, None)
    # A default follows the role: promoted to manager, the editor now hears about pauses.
    Membership.objects.filter(pk=m.pk).update(role=Role.MANAGER)
    m.refresh_from_db()
    assert m.follows("pauses") and not m.follows("ends")
