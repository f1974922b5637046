import datetime as dt
import hashlib
import json
import re

import pytest
from django.contrib.messages import get_messages
from django.contrib.sessions.models import Session
from django.urls import reverse

from campaigns import ics
from campaigns.models import AdAccount, Status
from tests.factories import CampaignFactory

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


@pytest.mark.parametrize("month", ["2030-13", "garbage", "", "-1-1", "99999-01"])
def test_calendar_bad_month_shows_this_month(login, viewer, month):
    response = login(viewer).get(CAL, {"month": month})

    assert response.status_code == 200


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
