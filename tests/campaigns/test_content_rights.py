"""Content-rights expiry (issue 17): the warning N days ahead, the take-out on the day, the settings and the edits."""

import datetime as dt

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.urls import reverse

from campaigns import services
from campaigns.models import (
    Action,
    Connector,
    ContentItem,
    ContentState,
    Notification,
    NotificationKind,
    RightsExpiryAction,
    Role,
    Source,
    Status,
    StatusChange,
    WindDownStep,
    WindDownStepKind,
)
from campaigns.platforms import pull
from campaigns.worker import periodic
from tests.campaigns.fake_tiktok import fake_tiktok_fixture, tiktok_account_fixture  # noqa: F401
from tests.factories import CampaignFactory, ContentItemFactory, MembershipFactory, UserFactory

# Noon in Berlin (the accounts' zone in the factories) on 2 Dec 2026.
NOW = dt.datetime(2026, 12, 2, 11, 0, tzinfo=dt.UTC)
TODAY = dt.date(2026, 12, 2)


def days(n: int) -> dt.date:
    return TODAY + dt.timedelta(days=n)


@pytest.fixture
def owner(account):
    user = UserFactory(username="olga-owner")
    MembershipFactory(user=user, account=account, role=Role.EDITOR)
    return user


@pytest.fixture
def connected(account):
    account.connector = Connector.TIKTOK
    account.save(update_fields=["connector"])
    return account


def item_of(campaign, **kwargs) -> ContentItem:
    return ContentItemFactory(campaign=campaign, **kwargs)


def notes(user, kind):
    return list(Notification.objects.filter(recipient=user, kind=kind))


# --- the warning ---------------------------------------------------------------------------------------------


def test_warns_the_owner_and_managers_n_days_before_once(account, owner, manager, editor):
    campaign = CampaignFactory(account=account, name="Glow", owner=owner)
    item = item_of(campaign, title="Glow reel", creator_name="Ana Ruiz", rights_expire_on=days(3))

    run = services.content_rights_run(now=NOW)

    assert run.warned == [item.pk]
    [note] = notes(owner, NotificationKind.RIGHTS_EXPIRING)
    assert note.title == "Usage rights of “Glow reel” expire on 5 Dec 2026"
    assert "Usage rights of “Glow reel” (creator Ana Ruiz) expire on 5 Dec 2026" in note.body
    assert note.url == reverse("campaigns:detail", args=[campaign.pk])
    assert len(notes(manager, NotificationKind.RIGHTS_EXPIRING)) == 1
    assert notes(editor, NotificationKind.RIGHTS_EXPIRING) == []  # neither owner nor manager

    assert services.content_rights_run(now=NOW + dt.timedelta(hours=1)).warned == []
    assert services.content_rights_run(now=NOW + dt.timedelta(days=1)).warned == []
    assert Notification.objects.filter(kind=NotificationKind.RIGHTS_EXPIRING).count() == 2


def test_no_warning_before_the_lead_time_and_the_accounts_own_lead_time(account, owner):
    campaign = CampaignFactory(account=account, owner=owner)
    item = item_of(campaign, rights_expire_on=days(5))

    assert services.content_rights_run(now=NOW).warned == []  # 5 days ahead, warned 3 days ahead
    account.rights_warn_days = 7
    account.save(update_fields=["rights_warn_days"])
    assert services.content_rights_run(now=NOW).warned == [item.pk]


def test_a_changed_date_is_warned_about_again(account, owner):
    campaign = CampaignFactory(account=account, owner=owner)
    item = item_of(campaign, rights_expire_on=days(2))
    services.content_rights_run(now=NOW)
    ContentItem.objects.filter(pk=item.pk).update(rights_expire_on=days(3))

    assert services.content_rights_run(now=NOW).warned == [item.pk]
    assert len(notes(owner, NotificationKind.RIGHTS_EXPIRING)) == 2


@pytest.mark.parametrize("status", [Status.ENDED])
def test_no_warning_nor_take_out_when_the_campaign_is_not_live(account, owner, status):
    campaign = CampaignFactory(account=account, owner=owner, status=status)
    item_of(campaign, rights_expire_on=days(2))
    item_of(campaign, rights_expire_on=days(-1))

    run = services.content_rights_run(now=NOW)

    assert (run.warned, run.expired) == ([], [])
    assert Notification.objects.count() == 0


def test_content_already_taken_down_is_left_alone(account, owner):
    campaign = CampaignFactory(account=account, owner=owner)
    item_of(campaign, rights_expire_on=days(1), state=ContentState.REMOVED)

    assert services.content_rights_run(now=NOW).warned == []


# --- the take-out on the day -----------------------------------------------------------------------------------


def test_at_expiry_the_winddown_content_step_opens_for_the_item_with_the_reason(account, owner, login):
    campaign = CampaignFactory(account=account, name="Glow", owner=owner)
    item = item_of(campaign, title="Glow reel", creator_name="Ana Ruiz", rights_expire_on=TODAY)
    item_of(campaign, title="Other video")  # still live, no end date

    run = services.content_rights_run(now=NOW)

    assert run.expired == [item.pk]
    step = WindDownStep.objects.get(campaign=campaign, kind=WindDownStepKind.CONTENT_REMOVED)
    assert not step.is_done
    reason = "Usage rights of “Glow reel” (creator Ana Ruiz) expired on 2 Dec 2026"
    assert step.data["rights_reason"] == [reason]
    entry = StatusChange.objects.get(campaign=campaign, action=Action.EDIT)
    assert entry.source == Source.RIGHTS
    assert entry.details["rights_reason"] == [reason]

    page = login(owner).get(reverse("campaigns:winddown", args=[campaign.pk]))
    assert page.status_code == 200
    text = page.content.decode()
    assert reason in text
    assert "Other video" not in text  # the open step is about the expired item only
    history = login(owner).get(reverse("campaigns:detail", args=[campaign.pk])).content.decode()
    assert "Wind-down: Associated content removed opened by Closeout: usage rights expired" in history


def test_marking_the_expired_item_removed_completes_the_step_of_a_running_campaign(account, editor):
    campaign = CampaignFactory(account=account)
    item = item_of(campaign, rights_expire_on=days(-1))
    item_of(campaign, title="Still fine")
    services.content_rights_run(now=NOW)

    services.winddown_content_item_mark(item=item, state=ContentState.REMOVED, note="", actor=editor)

    assert WindDownStep.objects.get(campaign=campaign, kind=WindDownStepKind.CONTENT_REMOVED).is_done


def test_pauses_a_connected_campaign_whose_only_live_content_expired(connected, owner, manager):
    campaign = CampaignFactory(account=connected, name="Glow", owner=owner)
    item_of(campaign, title="Glow reel", creator_name="Ana Ruiz", rights_expire_on=TODAY)
    item_of(campaign, title="Old one", state=ContentState.REMOVED)

    run = services.content_rights_run(now=NOW)

    assert run.paused == [campaign.pk]
    campaign.refresh_from_db()
    assert campaign.status == Status.PAUSED
    change = StatusChange.objects.get(campaign=campaign, action=Action.PAUSE)
    assert change.source == Source.RIGHTS
    assert change.actor is None
    reason = "Usage rights of “Glow reel” (creator Ana Ruiz) expired on 2 Dec 2026"
    assert change.details["rights_reason"] == [reason]
    from campaigns.history_text import history_row

    row = history_row(change, campaign=campaign)
    assert row.headline == "Paused by Closeout: usage rights expired"
    assert reason in row.details
    # The status change tells the owner and managers on commit (its own notification names the reason).
    services.notifications_for_status_changes(change_ids=[change.pk])
    [note] = notes(owner, NotificationKind.STATUS_CHANGED)
    assert note.title == "Closeout paused “Glow”"
    assert reason in note.body
    assert notes(owner, NotificationKind.RIGHTS_EXPIRED) == []


def test_does_not_pause_when_other_live_content_remains_and_tells_the_team(connected, owner, manager):
    campaign = CampaignFactory(account=connected, name="Glow", owner=owner)
    item_of(campaign, title="Glow reel", rights_expire_on=TODAY)
    item_of(campaign, title="Second reel", rights_expire_on=days(20))

    run = services.content_rights_run(now=NOW)

    assert run.paused == []
    campaign.refresh_from_db()
    assert campaign.status == Status.ACTIVE
    [note] = notes(owner, NotificationKind.RIGHTS_EXPIRED)
    assert note.title == "Usage rights of “Glow reel” expired: take it down"
    assert "Other content of “Glow” is still live, so it keeps running" in note.body
    assert note.url == reverse("campaigns:winddown", args=[campaign.pk])
    assert len(notes(manager, NotificationKind.RIGHTS_EXPIRED)) == 1


def test_content_that_expired_earlier_is_not_other_live_content(connected, owner):
    campaign = CampaignFactory(account=connected, owner=owner)
    item_of(campaign, rights_expire_on=days(-3), rights_expired_for=days(-3))  # handled before, still up
    item_of(campaign, rights_expire_on=TODAY)

    assert services.content_rights_run(now=NOW).paused == [campaign.pk]


def test_notify_only_setting_only_notifies(connected, owner):
    connected.rights_expiry_action = RightsExpiryAction.NOTIFY
    connected.save(update_fields=["rights_expiry_action"])
    campaign = CampaignFactory(account=connected, name="Glow", owner=owner)
    item_of(campaign, title="Glow reel", rights_expire_on=TODAY)

    run = services.content_rights_run(now=NOW)

    assert run.paused == [] and run.notified == [campaign.pk]
    campaign.refresh_from_db()
    assert campaign.status == Status.ACTIVE
    [note] = notes(owner, NotificationKind.RIGHTS_EXPIRED)
    assert "is set to notify only" in note.body
    assert WindDownStep.objects.filter(campaign=campaign, kind=WindDownStepKind.CONTENT_REMOVED).exists()


def test_a_manual_account_is_never_paused(account, owner):
    campaign = CampaignFactory(account=account, owner=owner)
    item_of(campaign, rights_expire_on=TODAY)

    assert services.content_rights_run(now=NOW).paused == []
    campaign.refresh_from_db()
    assert campaign.status == Status.ACTIVE
    assert "has no platform connection" in notes(owner, NotificationKind.RIGHTS_EXPIRED)[0].body


def test_second_run_does_nothing_more_and_a_persons_resume_stands(connected, owner, editor):
    campaign = CampaignFactory(account=connected, owner=owner)
    item_of(campaign, rights_expire_on=TODAY)
    services.content_rights_run(now=NOW)
    counts = (StatusChange.objects.count(), Notification.objects.count(), WindDownStep.objects.count())
    services.campaign_transition(campaign=campaign, action=Action.RESUME, actor=editor, source=Source.UI)

    run = services.content_rights_run(now=NOW + dt.timedelta(hours=1))
    later = services.content_rights_run(now=NOW + dt.timedelta(days=2))

    assert (run.expired, run.paused, later.expired) == ([], [], [])
    campaign.refresh_from_db()
    assert campaign.status == Status.ACTIVE  # never re-paused
    assert (StatusChange.objects.count(), Notification.objects.count(), WindDownStep.objects.count()) == (
        counts[0] + 1,  # the person's resume
        counts[1],
        counts[2],
    )


def test_a_campaign_a_person_paused_is_not_touched_and_not_resumed(connected, owner, editor):
    campaign = CampaignFactory(account=connected, owner=owner, status=Status.PAUSED)
    item_of(campaign, rights_expire_on=TODAY)

    run = services.content_rights_run(now=NOW)

    assert run.paused == [] and run.notified == [campaign.pk]
    campaign.refresh_from_db()
    assert campaign.status == Status.PAUSED
    assert not StatusChange.objects.filter(campaign=campaign, action__in=[Action.PAUSE, Action.RESUME]).exists()


def test_a_done_content_step_of_an_ended_campaign_keeps_its_step_when_the_checklist_comes(connected, owner, manager):
    campaign = CampaignFactory(account=connected, owner=owner)
    item_of(campaign, rights_expire_on=TODAY)
    services.content_rights_run(now=NOW)
    services.campaign_transition(
        campaign=campaign, action=Action.END, actor=manager, source=Source.UI, reason_code="objectives_met"
    )

    steps = WindDownStep.objects.filter(campaign=campaign)
    assert steps.count() == 7
    content = steps.get(kind=WindDownStepKind.CONTENT_REMOVED)
    assert content.data["rights_reason"] and not content.is_done
    campaign.refresh_from_db()
    assert campaign.winddown_done == 1  # the calendar step only


def test_expiry_is_judged_in_the_accounts_day(account, owner):
    account.timezone = "America/Los_Angeles"
    account.save(update_fields=["timezone"])
    campaign = CampaignFactory(account=account, owner=owner)
    item = item_of(campaign, rights_expire_on=TODAY)
    early = dt.datetime(2026, 12, 2, 6, 0, tzinfo=dt.UTC)  # still 1 Dec in Los Angeles

    assert services.content_rights_run(now=early).expired == []
    assert services.content_rights_run(now=early + dt.timedelta(hours=3)).expired == [item.pk]


def test_the_run_reads_due_items_in_constant_queries(connected, owner, django_assert_max_num_queries):
    for _ in range(3):
        campaign = CampaignFactory(account=connected, owner=owner)
        item_of(campaign, rights_expire_on=TODAY)
    with django_assert_max_num_queries(40) as few:
        services.content_rights_run(now=NOW)
    for _ in range(9):
        campaign = CampaignFactory(account=connected, owner=owner)
        item_of(campaign, rights_expire_on=TODAY)
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert len(services.content_rights_run(now=NOW).paused) == 9


# --- run by the workers, and by a command ------------------------------------------------------------------------


def test_the_periodic_job_is_registered_hourly_and_runs_it(connected, owner):
    job = periodic.periodic_jobs()["campaigns.rights_expiry"]
    assert job.next_run(NOW) == NOW + dt.timedelta(hours=1)
    campaign = CampaignFactory(account=connected, owner=owner)
    item_of(campaign, rights_expire_on=dt.date.today() - dt.timedelta(days=1))

    job.task.enqueue(**job.kwargs)  # what the worker queues every hour (the immediate backend runs it now)

    campaign.refresh_from_db()
    assert campaign.status == Status.PAUSED


def test_the_command_runs_it(account, owner, capsys):
    campaign = CampaignFactory(account=account, owner=owner)
    item_of(campaign, rights_expire_on=dt.date.today() - dt.timedelta(days=1))

    call_command("content_rights_expiry")

    assert "1 item expired" in capsys.readouterr().out
    assert WindDownStep.objects.filter(campaign=campaign).exists()


# --- the home page -----------------------------------------------------------------------------------------------


def test_home_lists_content_whose_rights_expire_within_n_days_or_expired(account, owner, login):
    campaign = CampaignFactory(account=account, name="Glow", owner=owner)
    today = dt.date.today()
    item_of(campaign, title="Soon reel", creator_name="Ana", rights_expire_on=today + dt.timedelta(days=2))
    item_of(campaign, title="Gone reel", rights_expire_on=today - dt.timedelta(days=1))
    item_of(campaign, title="Far reel", rights_expire_on=today + dt.timedelta(days=20))
    item_of(campaign, title="Taken down", rights_expire_on=today, state=ContentState.REMOVED)
    ended = CampaignFactory(account=account, status=Status.ENDED)
    item_of(ended, title="Ended reel", rights_expire_on=today)

    page = login(owner).get(reverse("home")).content.decode()

    assert '<span class="visually-hidden">2 </span>Content items whose usage rights end soon' in page
    assert "Soon reel" in page and "Gone reel" in page
    assert "Far reel" not in page and "Taken down" not in page and "Ended reel" not in page
    assert "usage rights expired on" in page and "usage rights expire on" in page


# --- editing: permissions and validation -----------------------------------------------------------------------


def test_an_editor_sets_the_date_and_creator_on_the_campaign_page_audited(account, editor, login, campaign):
    item = item_of(campaign, title="Glow reel")
    client = login(editor)

    response = client.post(
        reverse("campaigns:content_rights", args=[campaign.pk, item.pk]),
        {"rights_expire_on": "2026-12-05", "creator_name": " Ana Ruiz "},
        follow=True,
    )

    item.refresh_from_db()
    assert (item.rights_expire_on, item.creator_name) == (dt.date(2026, 12, 5), "Ana Ruiz")
    page = response.content.decode()
    assert "Saved: usage rights of “Glow reel” expire on 5 Dec 2026." in page
    assert "Usage rights of “Glow reel”: expire on — → 5 Dec 2026" in page  # the history
    assert StatusChange.objects.get(campaign=campaign, action=Action.EDIT).actor == editor


def test_a_viewer_cannot_edit_the_date(account, viewer, login, campaign):
    item = item_of(campaign)
    client = login(viewer)

    page = client.get(reverse("campaigns:detail", args=[campaign.pk])).content.decode()
    response = client.post(
        reverse("campaigns:content_rights", args=[campaign.pk, item.pk]), {"rights_expire_on": "2026-12-05"}
    )

    assert "Change usage rights" not in page
    assert response.status_code == 403
    item.refresh_from_db()
    assert item.rights_expire_on is None
    with pytest.raises(services.NotPermitted):
        services.content_item_rights_set(item=item, actor=viewer, expire_on=TODAY, creator_name="")


def test_an_outsider_gets_404(outsider, login, campaign):
    item = item_of(campaign)
    response = login(outsider).post(
        reverse("campaigns:content_rights", args=[campaign.pk, item.pk]), {"rights_expire_on": "2026-12-05"}
    )
    assert response.status_code == 404


@pytest.mark.parametrize(
    ("date", "creator", "message"),
    [
        ("5/12/2026x", "", "Enter the date as YYYY-MM-DD."),
        ("1850-01-01", "", "Enter a date between 2000 and 2100."),
        ("2026-12-05", "x" * 201, "at most 200 characters"),
    ],
)
def test_bad_input_is_refused_with_a_clear_message(editor, login, campaign, date, creator, message):
    item = item_of(campaign, title="Glow reel")

    response = login(editor).post(
        reverse("campaigns:content_rights", args=[campaign.pk, item.pk]),
        {"rights_expire_on": date, "creator_name": creator},
        follow=True,
    )

    assert "Usage rights of “Glow reel” not saved" in response.content.decode()
    assert message in response.content.decode()
    item.refresh_from_db()
    assert item.rights_expire_on is None


def test_the_campaign_form_edits_and_checks_the_rights_fields(manager, login, campaign):
    item = item_of(campaign, title="Glow reel")
    data = {
        "name": campaign.name,
        "platform_id": campaign.platform_id,
        "objective": campaign.objective,
        "budget_mode": campaign.budget_mode,
        "budget_amount": "100.00",
        "start_date": campaign.start_date.isoformat(),
        "end_date": campaign.end_date.isoformat(),
        "content-TOTAL_FORMS": "1",
        "content-INITIAL_FORMS": "1",
        "content-0-id": str(item.pk),
        "content-0-kind": item.kind,
        "content-0-title": item.title,
        "content-0-url": item.url,
        "content-0-state": item.state,
        "content-0-rights_expire_on": "1999-01-01",
        "content-0-creator_name": "Ana",
    }
    client = login(manager)

    refused = client.post(reverse("campaigns:edit", args=[campaign.pk]), data)
    assert refused.status_code == 400
    assert "Enter a date between 2000 and 2100." in refused.content.decode()

    data["content-0-rights_expire_on"] = "2026-12-09"
    assert client.post(reverse("campaigns:edit", args=[campaign.pk]), data).status_code == 302
    item.refresh_from_db()
    assert (item.rights_expire_on, item.creator_name) == (dt.date(2026, 12, 9), "Ana")


def test_managers_change_the_account_settings_editors_cannot(account, manager, editor, login):
    url = reverse("campaigns:account_rights", args=[account.pk])
    assert (
        "Save content-rights settings"
        not in login(editor).get(reverse("campaigns:account_detail", args=[account.pk])).content.decode()
    )
    assert login(editor).post(url, {"rights_expiry_action": "notify", "rights_warn_days": "7"}).status_code == 403

    client = login(manager)
    assert (
        "Save content-rights settings"
        in client.get(reverse("campaigns:account_detail", args=[account.pk])).content.decode()
    )
    response = client.post(url, {"rights_expiry_action": "notify", "rights_warn_days": "7"}, follow=True)

    account.refresh_from_db()
    assert (account.rights_expiry_action, account.rights_warn_days) == ("notify", 7)
    assert "owners are warned 7 days before" in response.content.decode()
    bad = client.post(url, {"rights_expiry_action": "explode", "rights_warn_days": "4"}, follow=True)
    assert "Content-rights settings not saved" in bad.content.decode()
    account.refresh_from_db()
    assert account.rights_warn_days == 7


def test_the_admin_edits_the_rights_fields_with_the_same_checks(staff, client, campaign):
    item = item_of(campaign, title="Glow reel")
    client.force_login(staff)
    url = reverse("admin:campaigns_contentitem_change", args=[item.pk])
    data = {
        "campaign": campaign.pk,
        "kind": item.kind,
        "title": item.title,
        "url": item.url,
        "state": item.state,
        "rights_expire_on": "1900-01-01",
        "creator_name": "Ana",
    }
    assert "Enter a date between 2000 and 2100." in client.post(url, data).content.decode()
    data["rights_expire_on"] = "2026-12-09"
    assert client.post(url, data).status_code == 302
    item.refresh_from_db()
    assert item.rights_expire_on == dt.date(2026, 12, 9)
    account_page = client.get(reverse("admin:campaigns_adaccount_change", args=[campaign.account_id]))
    assert "rights_warn_days" in account_page.content.decode()


# --- the import fills the date, the connector never wipes it ----------------------------------------------------


def test_the_ads_manager_import_fills_rights_per_ad_and_never_clears_them(account, manager, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    campaign = CampaignFactory(account=account, name="Glow", platform_id="")
    kept = item_of(campaign, title="Kept", platform_id="", rights_expire_on=days(9), creator_name="Bo")
    csv = (
        "Campaign name,Ad name,By Day,Cost,Spark Ads authorization end date,Creator\n"
        "Glow,Hero,2026-11-01,10,2026-12-20,Ana Ruiz\n"
        "Glow,Kept,2026-11-01,5,-,\n"
    )
    metric_import = services.metric_import_preview(
        account=account, upload=SimpleUploadedFile("e.csv", csv.encode()), actor=manager
    )
    assert metric_import.summary["error_count"] == 0
    assert metric_import.summary["content_rights"] == 1
    services.metric_import_commit(metric_import=metric_import, actor=manager)

    hero = ContentItem.objects.get(campaign=campaign, title="Hero")
    assert (hero.rights_expire_on, hero.creator_name) == (dt.date(2026, 12, 20), "Ana Ruiz")
    kept.refresh_from_db()
    assert (kept.rights_expire_on, kept.creator_name) == (days(9), "Bo")  # empty cells change nothing

    bad = "Campaign name,Ad name,By Day,Cost,Usage rights expiry\nGlow,Hero,2026-11-02,10,soon\n"
    refused = services.metric_import_preview(
        account=account, upload=SimpleUploadedFile("f.csv", bad.encode()), actor=manager
    )
    assert "Usage rights expiry: “soon” is not a date" in refused.summary["errors"][0]["message"]


def test_a_platform_pull_never_wipes_a_manually_entered_expiry_or_creator(tiktok_account, fake_tiktok):
    campaign = CampaignFactory(account=tiktok_account, name="Glow", platform_id="1800000000000001")
    fake_tiktok.add_campaign(campaign.platform_id, campaign.name)
    item = item_of(campaign, title="Hero video", platform_id="7100000000000001")
    ContentItem.objects.filter(pk=item.pk).update(rights_expire_on=days(9), creator_name="Ana Ruiz")
    day = dt.date(2026, 6, 30)
    fake_tiktok.add_metrics(campaign.platform_id, day, spend="5.00", impressions="100")
    fake_tiktok.add_metrics(
        campaign.platform_id, day, ad_id="7100000000000001", ad_name="Hero video (new name)", spend="4.00"
    )
    fake_tiktok.add_metrics(campaign.platform_id, day, ad_id="7100000000000002", ad_name="New ad", spend="1.00")

    pull.platform_pull_account(account=tiktok_account, days=7, today=day)
    pull.platform_pull_account(account=tiktok_account, days=7, today=day)

    item.refresh_from_db()
    assert (item.rights_expire_on, item.creator_name) == (days(9), "Ana Ruiz")
    new = ContentItem.objects.get(platform_id="7100000000000002")
    assert (new.rights_expire_on, new.creator_name) == (None, "")  # the platform does not say


# --- two runs at once (real row locks: PostgreSQL) -------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_runs_at_once_take_the_item_out_once(connected, owner):
    from tests.campaigns.test_concurrency import run_in_threads

    paused = CampaignFactory(account=connected, owner=owner)
    item_of(paused, rights_expire_on=TODAY)
    told = CampaignFactory(account=connected, owner=owner)
    item_of(told, rights_expire_on=TODAY)
    item_of(told, title="Still fine")
    warned = CampaignFactory(account=connected, owner=owner)
    item_of(warned, rights_expire_on=days(2))

    runs = run_in_threads(3, lambda i: services.content_rights_run(now=NOW))

    assert not [r for r in runs if isinstance(r, Exception)], runs
    assert sorted(pk for r in runs for pk in r.paused) == [paused.pk]
    assert sorted(pk for r in runs for pk in r.notified) == [told.pk]
    assert len([pk for r in runs for pk in r.warned]) == 1
    assert StatusChange.objects.filter(action=Action.PAUSE).count() == 1
    assert StatusChange.objects.filter(action=Action.EDIT, source=Source.RIGHTS).count() == 2
    kinds = sorted(Notification.objects.filter(recipient=owner).values_list("kind", flat=True))
    # Each once: the pause (its status change, on commit), the take-down, the warning.
    assert kinds == sorted([NotificationKind.STATUS_CHANGED, NotificationKind.RIGHTS_EXPIRED, "rights_expiring"])
