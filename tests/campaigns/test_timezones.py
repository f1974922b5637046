"""Issue 16, point 2: one time-zone rule everywhere. Times are written in the account's zone with its
abbreviation ("16:17 EST, 3 Dec"), the viewer's own time on hover where it differs (the browser's zone, sent in
the `closeout_tz` cookie), history rows for people. One Python function (`timezones.moment_text`) and one
template filter (`local_time`) do it."""

import csv
import datetime as dt
import io
import re

import pytest
from django.core import mail
from django.template import Context, Template
from django.urls import reverse
from django.utils import timezone

from campaigns import services, timezones
from campaigns.models import Action, AdAccount, EndReason, Role, ScheduledAction, Source, StatusChange
from tests.factories import CampaignFactory, DailyMetricFactory, MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db

# 21:17 UTC on 3 Dec 2030 is 16:17 in New York (EST, UTC-5) and 22:17 in Berlin (CET, UTC+1).
MOMENT = dt.datetime(2030, 12, 3, 21, 17, tzinfo=dt.UTC)


@pytest.fixture
def new_york(account):
    AdAccount.objects.filter(pk=account.pk).update(timezone="America/New_York")
    account.refresh_from_db()
    return account


def test_moment_text_is_the_account_zone_with_its_abbreviation():
    now = dt.datetime(2030, 6, 1, tzinfo=dt.UTC)
    assert timezones.moment_text(MOMENT, "America/New_York", now=now) == "16:17 EST, 3 Dec"
    assert timezones.moment_text(MOMENT, "Europe/Berlin", now=now) == "22:17 CET, 3 Dec"
    assert timezones.moment_text(MOMENT, "Asia/Dubai", now=now) == "01:17 UTC+04, 4 Dec"
    summer = dt.datetime(2030, 7, 1, 12, tzinfo=dt.UTC)
    assert timezones.moment_text(summer, "America/New_York", now=now) == "08:00 EDT, 1 Jul"
    # The year when it is not this year, and always when asked (documents).
    assert timezones.moment_text(MOMENT, "UTC", now=dt.datetime(2031, 1, 1, tzinfo=dt.UTC)) == "21:17 UTC, 3 Dec 2030"
    assert timezones.moment_text(MOMENT, "UTC", year=True, now=now) == "21:17 UTC, 3 Dec 2030"
    # An unknown or malformed zone is UTC, never an error.
    for bad in ("Not/AZone", "../../etc/passwd", "", None, "x" * 200):
        assert timezones.moment_text(MOMENT, bad, now=now) == "21:17 UTC, 3 Dec"
    assert timezones.moment_text(None, "UTC") == "—"


def test_hover_shows_the_viewers_time_only_where_it_differs():
    def render(viewer):
        token = timezones.viewer_zone_set(timezones.zone_named(viewer))
        try:
            return Template("{% load campaign_tags %}{{ when|local_time:zone }}").render(
                Context({"when": MOMENT, "zone": "America/New_York"})
            )
        finally:
            timezones.viewer_zone_reset(token)

    html = render("Europe/Berlin")
    assert re.fullmatch(
        r'<time datetime="2030-12-03T21:17:00\+00:00" title="22:17 CET, 3 Dec( 2030)? in your time zone">'
        r"16:17 EST, 3 Dec( 2030)?</time>",
        html,
    ), html
    assert "title=" not in render("America/New_York")  # the same clock: no hover
    assert "title=" not in render("America/Toronto")  # another name, same time: no hover either
    assert "title=" not in render(None)  # no JavaScript, no cookie: the account's zone only


def test_the_cookie_sets_the_viewers_zone_for_the_request(login, new_york, viewer, client):
    campaign = CampaignFactory(account=new_york, status_changed_at=MOMENT)
    client = login(viewer)
    client.cookies[timezones.COOKIE] = "Europe/Berlin"
    html = client.get(reverse("campaigns:list")).content.decode()
    assert re.search(r'title="22:17 CET, 3 Dec( 2030)? in your time zone">16:17 EST, 3 Dec', html)
    client.cookies[timezones.COOKIE] = "<script>"
    html = client.get(reverse("campaigns:list")).content.decode()
    assert "in your time zone" not in html and "16:17 EST, 3 Dec" in html
    assert campaign.name in html


def test_schedule_panel_shows_the_account_zone_not_utc(login, new_york, manager):
    campaign = CampaignFactory(account=new_york)
    ScheduledAction.objects.create(campaign=campaign, action=Action.PAUSE, run_at=MOMENT, created_by=manager)
    html = login(manager).get(reverse("campaigns:detail", args=[campaign.pk])).content.decode()
    schedule = html[html.index('id="schedule-title"') :]
    assert re.search(r"Pause at <strong><time [^>]*>16:17 EST, 3 Dec", schedule)
    visible = re.sub(r"<[^>]+>", "", schedule[: schedule.index("</section>")])
    assert "21:17" not in visible and "UTC" not in visible


def test_history_rows_are_written_for_people(login, new_york, manager):
    editor = UserFactory(username="editor")
    MembershipFactory(user=editor, account=new_york, role=Role.EDITOR)
    campaign = CampaignFactory(account=new_york, name="Glow")
    services.campaign_transition(campaign=campaign, action=Action.PAUSE, actor=editor, source=Source.UI)
    StatusChange.objects.filter(campaign=campaign).update(created_at=MOMENT)
    services.scheduled_action_create(
        campaign=campaign,
        action=Action.END,
        run_at=timezone.now() + dt.timedelta(days=400),
        actor=manager,
        reason_code=EndReason.OBJECTIVES_MET,
    )

    html = login(manager).get(reverse("campaigns:detail", args=[campaign.pk])).content.decode()
    history = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", html[html.index('id="history-title"') :]))
    assert "Paused by editor at 16:17 EST, 3 Dec" in history
    assert "Active → Paused" in history
    assert re.search(r"Scheduled by mona-manager: end at \d\d:\d\d E[SD]T, \d+ \w+ \d{4}", history)
    assert "Objectives met" in history
    assert "+00:00" not in history and "T21:17" not in history  # never raw ISO


def test_notification_email_says_the_account_zone(new_york, manager, django_capture_on_commit_callbacks):
    owner = UserFactory(username="owner")
    MembershipFactory(user=owner, account=new_york, role=Role.VIEWER)
    campaign = CampaignFactory(account=new_york, owner=owner, name="Glow")
    with django_capture_on_commit_callbacks(execute=True):
        services.campaign_transition(campaign=campaign, action=Action.PAUSE, actor=manager, source=Source.UI)
    [email] = mail.outbox
    local = timezone.localtime(StatusChange.objects.get(campaign=campaign).created_at, timezones.zone_of(new_york))
    assert f"at {local:%H:%M} {local:%Z}, {local.day} {local:%b}" in email.body
    assert "UTC" not in email.body


def test_raw_metrics_csv_writes_moments_with_the_account_offset(login, new_york, manager):
    campaign = CampaignFactory(account=new_york)
    DailyMetricFactory(campaign=campaign)
    from campaigns.models import DailyMetric

    DailyMetric.objects.filter(campaign=campaign).update(updated_at=MOMENT)
    from tests.reports.conftest import campaign_end

    campaign_end(campaign, manager)
    response = login(manager).get(reverse("reports:export_metrics", args=[campaign.pk]))
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    assert rows[0][3] == "spend_usd" and rows[0][-1] == "updated_at"
    assert rows[1][-1] == "2030-12-03T16:17:00-05:00"


def test_ics_all_day_end_is_the_accounts_day(client, new_york, manager):
    # Ended at 23:30 in New York on 5 Mar (04:30 UTC on 6 Mar): the event's last day is 5 Mar, so DTEND (exclusive)
    # is 6 Mar, not 7 Mar.
    from campaigns.models import Status

    CampaignFactory(
        account=new_york,
        status=Status.ENDED,
        start_date=dt.date(2030, 3, 1),
        end_date=dt.date(2030, 3, 31),
        ended_at=dt.datetime(2030, 3, 6, 4, 30, tzinfo=dt.UTC),
    )
    token = services.ics_token_create(account=new_york, actor=manager)
    body = client.get(reverse("campaigns:ics", kwargs={"token": token})).content.decode()
    assert re.search(r"DTSTART;VALUE=DATE:20300301\r\n", body)
    assert re.search(r"DTEND;VALUE=DATE:20300306\r\n", body)


def test_notification_list_dates_each_notification_in_its_accounts_zone(login, new_york, viewer, other_account):
    from campaigns.models import Notification, NotificationKind

    ny = Notification.objects.create(recipient=viewer, kind=NotificationKind.STATUS_CHANGED, title="About New York")
    ny.campaigns.add(CampaignFactory(account=new_york))
    Notification.objects.filter(pk=ny.pk).update(created_at=MOMENT)
    loose = Notification.objects.create(recipient=viewer, kind=NotificationKind.STATUS_CHANGED, title="About nothing")
    Notification.objects.filter(pk=loose.pk).update(created_at=MOMENT)

    html = login(viewer).get(reverse("campaigns:notifications")).content.decode()
    assert re.search(r">16:17 EST, 3 Dec( 2030)?</time>", html)  # its account's zone
    assert re.search(r">21:17 UTC, 3 Dec( 2030)?</time>", html)  # no account, no cookie: UTC
