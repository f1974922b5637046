"""The status badge is written once (`campaigns.tables.status_badges`): the list's rows and the template tags
used by the campaign page, the calendar and the account page produce the same HTML."""

import datetime as dt
import itertools
import re

import pytest
from django.template import Context, Template
from django.urls import reverse
from django.utils import timezone

from campaigns.models import Action, Connector, ScheduledAction, Status, SyncState
from tests.factories import CampaignFactory

pytestmark = pytest.mark.django_db

STATES = list(itertools.product(Status.values, SyncState.values))


def render(source: str, **context) -> str:
    return Template("{% load campaign_tags %}" + source).render(Context(context))


def list_status_cells(html: str) -> dict[int, str]:
    """{campaign id: the status cell's HTML} from the list page's rows (select, name, then status)."""
    cells = {}
    for pk, row in re.findall(r'<tr data-id="(\d+)"[^>]*>(.*?)</tr>', html, re.S):
        cells[int(pk)] = re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)[1]
    return cells


@pytest.fixture
def campaigns_in_every_state(account):
    account.connector = Connector.TIKTOK
    account.save(update_fields=["connector"])
    today = dt.date.today()
    campaigns = {
        (status, sync): CampaignFactory(
            account=account, name=f"{status} {sync}", status=status, sync_state=sync, end_date=today
        )
        for status, sync in STATES
    }
    delivering = CampaignFactory(
        account=account, name="delivering", status=Status.ENDED, still_delivering_since=today, end_date=today
    )
    scheduled = CampaignFactory(account=account, name="scheduled", end_date=today)
    ScheduledAction.objects.create(
        campaign=scheduled, action=Action.END, run_at=timezone.now() + dt.timedelta(hours=5), reason_code="other"
    )
    return {**campaigns, "delivering": delivering, "scheduled": scheduled}


def test_list_rows_and_template_tag_write_the_same_badges(login, manager, campaigns_in_every_state):
    cells = list_status_cells(login(manager).get(reverse("campaigns:list")).content.decode())

    assert len(cells) == len(campaigns_in_every_state)
    for campaign in campaigns_in_every_state.values():
        pending = ScheduledAction.objects.filter(campaign=campaign).first()
        assert cells[campaign.pk] == render("{% status_badges c s %}", c=campaign, s=pending), campaign.name


def test_campaign_page_calendar_and_account_page_show_the_list_badge(login, manager, campaigns_in_every_state):
    client = login(manager)
    cells = list_status_cells(client.get(reverse("campaigns:list")).content.decode())
    calendar = client.get(reverse("campaigns:calendar")).content.decode()
    account = client.get(reverse("campaigns:account_detail", args=[manager.memberships.get().account_id]))

    for campaign in campaigns_in_every_state.values():
        detail = client.get(reverse("campaigns:detail", args=[campaign.pk])).content.decode()
        assert f'<p class="status-line">{cells[campaign.pk]}' in detail, campaign.name
        if campaign.name != "scheduled":  # the calendar shows no schedules
            assert f"{campaign.name}</a> {cells[campaign.pk]} <span" in calendar, campaign.name
        if campaign.sync_state != SyncState.SYNCED or campaign.still_delivering_since:
            assert f"<td>{render('{% status_badge c %}', c=campaign)}</td>" in account.content.decode()


@pytest.mark.parametrize(
    ("status", "sync", "expected"),
    [
        (Status.ACTIVE, SyncState.SYNCED, '<span class="badge badge-active">Active</span>'),
        (Status.PAUSED, SyncState.PENDING, '<span class="badge badge-pending">Pausing…</span>'),
        (Status.ACTIVE, SyncState.PENDING, '<span class="badge badge-pending">Resuming…</span>'),
        (Status.ENDED, SyncState.PENDING, '<span class="badge badge-pending">Ending…</span>'),
        (Status.PAUSED, SyncState.FAILED, '<span class="badge badge-failed">Paused · sync failed</span>'),
        (Status.ENDED, SyncState.SYNCED, '<span class="badge badge-ended">Ended</span>'),
    ],
)
def test_status_badge_wording_and_colour(status, sync, expected):
    campaign = CampaignFactory.build(status=status, sync_state=sync)

    assert render("{% status_badge c %}", c=campaign) == expected
    assert render("{% status_badges c %}", c=campaign) == expected


def test_status_badges_add_still_delivering():
    campaign = CampaignFactory.build(status=Status.ENDED, still_delivering_since=dt.date(2030, 5, 1))

    html = render("{% status_badges c %}", c=campaign)

    assert html == (
        '<span class="badge badge-ended">Ended</span> <span class="badge badge-warn" '
        'title="Metrics show delivery since 2030-05-01">still delivering</span>'
    )
