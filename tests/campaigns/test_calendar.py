import datetime as dt
import hashlib
import json
import re

import pytest
from django.contrib.messages import get_messages
from django.contrib.sessions.models import Session
from django.urls import reverse
from django.utils import timezone

from campaigns import ics
from campaigns.models import AdAccount, Status
from tests.factories import AccountFactory, CampaignFactory, MembershipFactory

pytestmark = pytest.mark.django_db

CAL = reverse("campaigns:calendar")


def test_calendar_shows_month_with_campaigns_coloured_by_status(login, viewer, account, other_campaign):
    CampaignFactory(account=account, name="March Live", start_date=dt.date(2030, 3, 3), end_date=dt.date(2030, 3, 9))
    CampaignFactory(
        account=account, name="March Paused", status=Status.PAUSED, start_date=dt.date(2030, 3, 10), end_date=None
    )
    CampaignFactory(account=account, name="April", start_date=dt.date(2030, 4, 10), end_date=dt.date(2030, 4, 12))

    html = login(viewer).get(CAL, {"month": "2030-03"}).content.decode()

    assert "March 2030" in html
    assert 'class="event event-active" href' in html and "March Live" in html
    assert "event event-paused" in html
    assert "April</a>" not in html
    assert "Secret Other Launch" not in html
    assert '?month=2030-02"' in html and '?month=2030-04"' in html


@pytest.mark.parametrize("month", ["2030-13", "garbage", "", "-1-1", "99999-01", "0001-01", "9999-12", "1899-12"])
def test_calendar_bad_month_shows_this_month(login, viewer, month):
    response = login(viewer).get(CAL, {"month": month})

    assert response.status_code == 200
    this_month = timezone.localdate().replace(day=1)
    assert response.context["month"] == this_month


def test_calendar_ended_campaign_stops_at_its_end(login, viewer, account):
    CampaignFactory(
        account=account,
        name="Cut short",
        status=Status.ENDED,
        start_date=dt.date(2030, 3, 1),
        end_date=dt.date(2030, 3, 31),
        ended_at=dt.datetime(2030, 3, 5, 12, tzinfo=dt.UTC),
    )

    response = login(viewer).get(CAL, {"month": "2030-03"})

    days = [d for week in response.context["weeks"] for d in week if any(c.name == "Cut short" for c in d["events"])]
    assert (days[0]["date"], days[-1]["date"]) == (dt.date(2030, 3, 1), dt.date(2030, 3, 5))


def _feed_url(response) -> str:
    [url] = re.findall(r'value="(https?://[^"]+\.ics)"', response.content.decode())
    return url


def test_manager_publishes_feed_and_sees_url_once(login, manager, account, campaign):
    client = login(manager)

    response = client.post(reverse("campaigns:ics_token"), {"account": account.pk, "op": "create"})

    assert response.status_code == 200
    url = _feed_url(response)
    token = url.rsplit("/", 1)[1].removesuffix(".ics")
    account.refresh_from_db()
    assert account.ics_token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert response.content.decode().count(token) == 1  # the response shows it …
    assert "no-store" in response["Cache-Control"]
    assert token not in client.get(CAL).content.decode()  # … once

    feed = client.get(f"/campaigns/ics/{token}.ics")
    assert feed.status_code == 200
    assert feed["Content-Type"] == "text/calendar; charset=utf-8"
    body = feed.content.decode()
    assert body.startswith("BEGIN:VCALENDAR\r\n")
    assert "SUMMARY:Spring Glow (Active)" in body


@pytest.mark.parametrize("rotate", [False, True], ids=["publish", "rotate"])
def test_feed_secret_never_stored_in_session(login, manager, account, rotate):
    client = login(manager)
    if rotate:
        client.post(reverse("campaigns:ics_token"), {"account": account.pk, "op": "create"})

    response = client.post(reverse("campaigns:ics_token"), {"account": account.pk, "op": "create"})

    token = _feed_url(response).rsplit("/", 1)[1].removesuffix(".ics")
    assert ("New calendar feed address" in response.content.decode()) is rotate
    assert not list(get_messages(response.wsgi_request))
    sessions = list(Session.objects.all())
    assert sessions
    for session in sessions:
        assert token not in session.session_data
        assert token not in json.dumps(session.get_decoded(), default=str)


def test_feed_works_without_login_and_dies_on_revoke(client, login, manager, account, campaign):
    login(manager).post(reverse("campaigns:ics_token"), {"account": account.pk, "op": "create"})
    token = "known-token"
    AdAccount.objects.filter(pk=account.pk).update(ics_token_hash=hashlib.sha256(token.encode()).hexdigest())
    client.logout()

    assert client.get(f"/campaigns/ics/{token}.ics").status_code == 200
    login(manager).post(reverse("campaigns:ics_token"), {"account": account.pk, "op": "revoke"})
    client.logout()
    assert client.get(f"/campaigns/ics/{token}.ics").status_code == 404
    assert client.get("/campaigns/ics/wrong.ics").status_code == 404


def test_feed_token_rotation_kills_the_old_url(client, login, manager, account):
    AdAccount.objects.filter(pk=account.pk).update(ics_token_hash=hashlib.sha256(b"old").hexdigest())

    login(manager).post(reverse("campaigns:ics_token"), {"account": account.pk, "op": "create"})

    assert client.get("/campaigns/ics/old.ics").status_code == 404


def test_editor_cannot_publish_feed(login, editor, account):
    response = login(editor).post(reverse("campaigns:ics_token"), {"account": account.pk, "op": "create"})

    assert response.status_code == 403


def test_outsider_cannot_touch_other_accounts_feed(login, outsider, account):
    response = login(outsider).post(reverse("campaigns:ics_token"), {"account": account.pk, "op": "create"})

    assert response.status_code == 404


def test_ics_escapes_text_and_folds_long_lines():
    events = [
        {
            "uid": "campaign-1@closeout",
            "start": dt.date(2030, 1, 1),
            "end": dt.date(2030, 1, 2),
            "summary": "Sale; 50%, now\\later\nnew line " + "ü" * 60,
            "description": "x",
            "updated": dt.datetime(2030, 1, 1, tzinfo=dt.UTC),
        }
    ]

    body = ics.calendar_feed(name="Acme", events=events)

    lines = body.split("\r\n")
    assert all(len(line.encode()) <= 75 for line in lines)
    unfolded = body.replace("\r\n ", "")
    assert "SUMMARY:Sale\\; 50%\\, now\\\\later\\nnew line " in unfolded
    assert "DTEND;VALUE=DATE:20300103" in unfolded
    assert body.endswith("END:VCALENDAR\r\n")


# --- issue 16, point 8: the calendar at agency scale, the ICS feed that calendar apps keep up to date ---


def _feed(client, account):
    token = "feed-token"
    AdAccount.objects.filter(pk=account.pk).update(ics_token_hash=hashlib.sha256(token.encode()).hexdigest())
    from icalendar import Calendar

    body = client.get(f"/campaigns/ics/{token}.ics").content
    return {str(e["UID"]): e for e in Calendar.from_ical(body).walk("VEVENT")}


def test_calendar_draws_each_campaign_once_per_week_as_a_bar_across_its_days(login, viewer, account):
    # March 2030: Monday-first weeks start 25 Feb, 4 Mar, 11 Mar, …
    CampaignFactory(account=account, name="Long run", start_date=dt.date(2030, 3, 6), end_date=dt.date(2030, 3, 13))

    response = login(viewer).get(CAL, {"month": "2030-03"})

    weeks = response.context["weeks"]
    bars = [(w.first, c["bar"]) for w in weeks for lane in w.lanes for c in lane if "bar" in c]
    assert [(first, bar.start, bar.span, bar.continues_before, bar.continues_after) for first, bar in bars] == [
        (dt.date(2030, 3, 4), 2, 5, False, True),
        (dt.date(2030, 3, 11), 0, 3, True, False),
    ]
    html = response.content.decode()
    assert html.count('Long run<span class="visually-hidden">, Active') == 2  # two bars (and one agenda line)
    assert 'colspan="5"' in html and 'data-continues="after"' in html and 'data-continues="before"' in html


def test_calendar_packs_lanes_and_counts_what_does_not_fit(login, viewer, account, settings):
    from campaigns import selectors_calendar

    for i in range(selectors_calendar.MAX_LANES + 3):
        CampaignFactory(account=account, name=f"Parallel {i:02}", start_date=dt.date(2030, 3, 4), end_date=None)
    CampaignFactory(account=account, name="Early", start_date=dt.date(2030, 3, 4), end_date=dt.date(2030, 3, 5))
    CampaignFactory(account=account, name="Late", start_date=dt.date(2030, 3, 7), end_date=dt.date(2030, 3, 8))

    response = login(viewer).get(CAL, {"month": "2030-03"})

    week = next(w for w in response.context["weeks"] if w.first == dt.date(2030, 3, 4))
    assert len(week.lanes) == selectors_calendar.MAX_LANES
    # 17 bars: the 12 lanes go to open-ended ones (longest first); 3 of them, Early and Late are counted.
    assert week.hidden == 5
    assert all(sum(c.get("gap", 0) or c["bar"].span for c in lane) == 7 for lane in week.lanes)
    assert "+5 more this week" in response.content.decode()


def test_calendar_filters_by_account_status_and_objective(login, viewer, account):
    other = AccountFactory(name="Second brand")
    MembershipFactory(user=viewer, account=other)
    march = {"start_date": dt.date(2030, 3, 3), "end_date": None}
    CampaignFactory(account=account, name="Acme live", **march)
    CampaignFactory(account=account, name="Acme paused", status=Status.PAUSED, **march)
    CampaignFactory(account=other, name="Second reach", objective="reach", **march)
    client = login(viewer)

    def names(**params):
        response = client.get(CAL, {"month": "2030-03", **params})
        return sorted(i["campaign"].name for g in response.context["agenda"] for i in g["items"])

    assert names() == ["Acme live", "Acme paused", "Second reach"]
    assert names(account=other.pk) == ["Second reach"]
    assert names(status="paused") == ["Acme paused"]
    assert names(objective="reach") == ["Second reach"]
    assert names(account=999999, status="bogus") == ["Acme live", "Acme paused", "Second reach"]
    html = client.get(CAL, {"month": "2030-03", "status": "paused"}).content.decode()
    assert '?month=2030-04&amp;status=paused"' in html and "Clear filters" in html


def test_calendar_agenda_lists_each_campaign_once_by_the_week_it_starts(login, viewer, account):
    CampaignFactory(account=account, name="Carried over", start_date=dt.date(2030, 2, 20), end_date=None)
    CampaignFactory(account=account, name="Mid month", start_date=dt.date(2030, 3, 13), end_date=dt.date(2030, 4, 2))

    agenda = login(viewer).get(CAL, {"month": "2030-03"}).context["agenda"]

    assert [(g["title"], [i["campaign"].name for i in g["items"]]) for g in agenda] == [
        ("Running from before 1 March", ["Carried over"]),
        ("Starting the week of 11 March", ["Mid month"]),
    ]


def test_calendar_queries_do_not_grow_with_campaigns(login, manager, account, django_assert_num_queries):
    client = login(manager)
    CampaignFactory.create_batch(3, account=account)
    with django_assert_num_queries(5):  # session, user with the unread bell, scope, campaigns, managed accounts
        client.get(CAL)
    CampaignFactory.create_batch(30, account=account)
    with django_assert_num_queries(5):
        client.get(CAL)


def test_ics_marks_a_campaign_ended_early_cancelled(client, account):
    running = CampaignFactory(account=account, name="Running", end_date=dt.date(2030, 3, 31))
    early = CampaignFactory(
        account=account,
        name="Cut short",
        status=Status.ENDED,
        start_date=dt.date(2030, 3, 1),
        end_date=dt.date(2030, 3, 31),
        ended_at=dt.datetime(2030, 3, 5, 12, tzinfo=dt.UTC),
    )

    events = _feed(client, account)

    assert str(events[f"campaign-{running.pk}@closeout"]["STATUS"]) == "CONFIRMED"
    cancelled = events[f"campaign-{early.pk}@closeout"]
    assert str(cancelled["STATUS"]) == "CANCELLED"
    assert cancelled.decoded("DTEND") == dt.date(2030, 3, 6)  # exclusive: the last day was 5 March
    assert "Ended early on 2030-03-05. Planned until 2030-03-31." in str(cancelled["DESCRIPTION"])


def test_ics_sequence_grows_with_every_change(client, account, manager):
    from campaigns import services
    from campaigns.models import Action, EndReason, Source

    campaign = CampaignFactory(account=account, name="Tracked")
    uid = f"campaign-{campaign.pk}@closeout"

    def sequence():
        return int(_feed(client, account)[uid]["SEQUENCE"])

    seen = [sequence()]
    for action, extra in (("pause", {}), ("resume", {}), ("end", {"reason_code": EndReason.OBJECTIVES_MET})):
        services.campaign_transition(campaign=campaign, action=Action(action), actor=manager, source=Source.UI, **extra)
        seen.append(sequence())
    services.campaign_edit(campaign=campaign, actor=manager, values={"audience": "Everyone"})
    seen.append(sequence())

    assert seen == sorted(seen) and len(set(seen)) == len(seen), seen


def test_ics_feed_round_trips_through_the_icalendar_parser(client, account):
    CampaignFactory(account=account, name="Sale; 50%, now\\later", start_date=dt.date(2030, 1, 1), end_date=None)

    [event] = _feed(client, account).values()

    assert str(event["SUMMARY"]) == "Sale; 50%, now\\later (Active)"
    assert event.decoded("DTSTART") == dt.date(2030, 1, 1)
