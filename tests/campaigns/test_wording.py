"""Wording and layout (issue 16, point 11): what the campaign page says after a pause, what a budget is out of,
counts with the right noun, schedule errors at the top, an empty chart said in words, a report without data."""

import datetime as dt
import zoneinfo
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from campaigns import services
from campaigns.models import Action, BudgetMode, EndReason, Source
from campaigns.text import counted, plural
from tests.factories import CampaignFactory, DailyMetricFactory

pytestmark = pytest.mark.django_db


def detail(client, campaign):
    return client.get(reverse("campaigns:detail", args=[campaign.pk])).content.decode()


def test_counted_says_one_noun_or_many():
    assert counted(1, "campaign") == "1 campaign"
    assert counted(0, "campaign") == "0 campaigns"
    assert counted(1204, "campaign") == "1,204 campaigns"
    assert counted(2, "address", "addresses") == "2 addresses"
    assert counted(150, "sync failure", at_most=99) == "99+ sync failures"
    assert plural(1, "day") == "day" and plural(3, "day") == "days"


def test_right_after_a_pause_the_page_does_not_say_it_was_never_paused(login, editor, campaign):
    DailyMetricFactory(campaign=campaign, date=dt.date.today() - dt.timedelta(days=2), video_views=10)
    client = login(editor)
    services.campaign_transition(campaign=campaign, action=Action.PAUSE, actor=editor, source=Source.UI)

    html = detail(client, campaign)

    assert "The campaign has not been paused." not in html
    today = timezone.localdate(timezone=zoneinfo.ZoneInfo(campaign.account.timezone))
    assert f"Paused since {today:%-d %b %Y}: after the last day with metrics" in html


def test_budget_remaining_says_what_it_is_out_of(login, viewer, account):
    daily = CampaignFactory(
        account=account,
        budget_amount=Decimal("80"),
        start_date=dt.date(2030, 1, 1),
        end_date=dt.date(2030, 2, 4),
        total_spend=Decimal("214.17"),
    )
    lifetime = CampaignFactory(account=account, budget_mode=BudgetMode.LIFETIME, budget_amount=Decimal("5000"))
    open_ended = CampaignFactory(account=account, budget_amount=Decimal("80"), end_date=None)
    client = login(viewer)

    assert "of 2,800.00 USD planned (80.00 a day × 35 days)" in detail(client, daily)
    assert "2,585.83" in detail(client, daily) and "of 80.00 daily" not in detail(client, daily)
    assert "of 5,000.00 USD lifetime budget" in detail(client, lifetime)
    assert "80.00 USD a day, no end date" in detail(client, open_ended)


def test_metrics_of_only_zeros_show_an_empty_state_not_blank_axes(login, viewer, campaign):
    for day in range(3):
        DailyMetricFactory(campaign=campaign, date=dt.date.today() - dt.timedelta(days=day + 1), video_views=0, spend=0)

    html = detail(login(viewer), campaign)

    assert "Nothing to chart yet: views and spend were 0 on each of the 3 days with metrics." in html
    assert 'data-chart="daily-chart"' not in html


def test_schedule_errors_are_said_at_the_top_and_focused(login, manager, campaign):
    response = login(manager).post(
        reverse("campaigns:schedule", args=[campaign.pk]), {"action": "end", "run_at": "2000-01-01T10:00"}
    )

    html = response.content.decode()
    assert response.status_code == 400
    summary = html.index('id="schedule-errors"')
    assert summary < html.index('id="schedule-title"') and summary < html.index("Daily views and spend")
    assert 'role="alert" tabindex="-1" autofocus data-focus-on-load' in html
    assert '<a href="#schedule_run_at">At: Choose a time in the future.</a>' in html


def test_watch_button_is_the_size_of_its_neighbours(login, manager, campaign):
    html = detail(login(manager), campaign)

    assert '<button class="button" type="submit" aria-pressed="false">Watch</button>' in html


def test_a_report_without_data_does_not_say_it_ran_backwards(login, manager, account):
    from reports.services import report_create

    campaign = CampaignFactory(account=account, start_date=timezone.localdate() + dt.timedelta(days=4), end_date=None)
    services.campaign_transition(
        campaign=campaign,
        action=Action.END,
        actor=manager,
        source=Source.UI,
        reason_code=EndReason.OTHER,
        reason_note="Cancelled before launch",
    )
    report_create(campaign=campaign)

    html = login(manager).get(reverse("reports:detail", kwargs={"campaign_id": campaign.pk})).content.decode()

    assert "No delivery recorded" in html
    assert "metrics for 0 days" not in html
