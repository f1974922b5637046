"""The home page (issue 16, point 9): what needs attention now, each line linked to where it is fixed, in a
constant number of queries; the Accounts page (point 10); the navigation's count."""

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from campaigns import services
from campaigns.models import (
    WINDDOWN_STEP_COUNT,
    Action,
    BudgetMode,
    Campaign,
    Connector,
    EndReason,
    ScheduledAction,
    Source,
    Status,
    SyncState,
    WindDownStep,
    WindDownStepKind,
)
from campaigns.selectors_home import ATTENTION_LIMIT, home_attention, home_scope_for_user
from tests.factories import AccountFactory, CampaignFactory, MembershipFactory

pytestmark = pytest.mark.django_db

HOME = reverse("home")


def _attention(account, manager, n=1, tag=""):
    """`n` campaigns for every line of the home page, in `account`."""
    now = timezone.now()
    for i in range(n):
        CampaignFactory(
            account=account,
            name=f"Delivering {tag}{i}",
            status=Status.ENDED,
            ended_at=now - dt.timedelta(days=2),
            winddown_done=WINDDOWN_STEP_COUNT,
            still_delivering_since=dt.date.today() - dt.timedelta(days=1),
        )
        CampaignFactory(account=account, name=f"Failing {tag}{i}", sync_state=SyncState.FAILED)
        CampaignFactory(
            account=account,
            name=f"Overdue {tag}{i}",
            status=Status.ENDED,
            ended_at=now - dt.timedelta(days=10),
            winddown_done=3,
        )
        soon = CampaignFactory(account=account, name=f"Soon {tag}{i}")
        ScheduledAction.objects.create(
            campaign=soon, action=Action.PAUSE, run_at=now + dt.timedelta(hours=3), created_by=manager
        )
        CampaignFactory(
            account=account,
            name=f"Budget {tag}{i}",
            budget_mode=BudgetMode.LIFETIME,
            budget_amount=Decimal("1000"),
            total_spend=Decimal("950"),
        )
        ended = CampaignFactory(account=account, name=f"Lessons {tag}{i}")
        services.campaign_transition(
            campaign=ended, action=Action.END, actor=manager, source=Source.UI, reason_code=EndReason.OBJECTIVES_MET
        )


def test_home_names_each_kind_of_attention_with_a_link_to_the_fix(login, manager, account):
    _attention(account, manager)
    overdue = Campaign.objects.get(name="Overdue 0")
    soon = Campaign.objects.get(name="Soon 0")
    lessons = Campaign.objects.get(name="Lessons 0")
    budget = Campaign.objects.get(name="Budget 0")

    response = login(manager).get(HOME)

    html = response.content.decode()
    titles = [line.title for line in response.context["attention"].open_lines]
    assert titles == [
        "1 campaign still delivering after its end",
        "1 sync failure",
        "1 wind-down overdue",
        "1 scheduled action in the next 24\u00a0h",
        "1 report waiting for lessons",
        "1 lifetime budget nearly spent",
    ]
    assert '<span class="visually-hidden">1 </span>Campaign still delivering after its end</a>' in html
    account_page = f"/campaigns/accounts/{account.pk}/#sync-status"
    assert f'<a href="{account_page}">Delivering 0</a>' in html
    assert f'<a href="{account_page}">Failing 0</a>' in html
    assert f'<a href="/campaigns/{overdue.pk}/wind-down/">Overdue 0</a>' in html
    assert "3 of 7 steps done" in html
    assert f'<a href="/campaigns/{soon.pk}/">Soon 0</a>' in html
    assert "pauses " in html and "(Europe/Berlin)" in html
    assert f'<a href="/reports/{lessons.pk}/?edit=lessons">Lessons 0</a>' in html
    assert f'<a href="/campaigns/{budget.pk}/">Budget 0</a>' in html
    assert "spent 950.00 of 1,000.00 USD" in html
    assert 'href="/campaigns/?scheduled=on"' in html and 'href="/campaigns/wind-down/"' in html


def test_home_shows_new_feedback_from_reports(login, manager, account):
    from reports.models import Feedback
    from reports.services import report_create

    campaign = CampaignFactory(account=account, name="Loved")
    services.campaign_transition(
        campaign=campaign, action=Action.END, actor=manager, source=Source.UI, reason_code=EndReason.OBJECTIVES_MET
    )
    report = report_create(campaign=campaign)
    Feedback.objects.create(report=report, role="stakeholder", rating=4, would_take_part_again=True)
    Feedback.objects.create(
        report=report, role="stakeholder", rating=1, would_take_part_again=False, hidden_at=timezone.now()
    )

    html = login(manager).get(HOME).content.decode()

    assert '<span class="visually-hidden">1 </span>New feedback</a>' in html
    assert f'<a href="/reports/{campaign.pk}/#feedback">Loved</a>' in html
    assert "4/5 from a stakeholder" in html


def test_home_queries_stay_the_same_with_ten_times_the_campaigns(login, manager, account, django_assert_num_queries):
    client = login(manager)
    _attention(account, manager, n=2, tag="a")
    with django_assert_num_queries(4):  # session, user with the unread bell, the user's accounts, one UNION
        client.get(HOME)
    _attention(account, manager, n=20, tag="b")
    with django_assert_num_queries(4):
        response = client.get(HOME)
    assert '<span class="visually-hidden">22 </span>Sync failures</a>' in response.content.decode()


def test_home_says_99_plus_past_the_limit_and_reads_no_more(manager, account):
    CampaignFactory.create_batch(ATTENTION_LIMIT + 5, account=account, sync_state=SyncState.FAILED)

    attention = home_attention(scope=home_scope_for_user(user=manager))

    [line] = [line for line in attention.lines if line.key == "sync_failed"]
    assert line.count == ATTENTION_LIMIT
    assert line.badge == "99+"
    assert line.title == "99+ sync failures"
    assert len(line.items) == 5


def test_home_shows_nothing_of_other_accounts(login, manager, account, other_account, outsider):
    _attention(other_account, outsider)

    html = login(manager).get(HOME).content.decode()

    assert "Nothing needs attention right now" in html
    assert "Failing 0" not in html


def test_home_counts_account_connection_problems_as_sync_failures(login, manager, account):
    account.connector = Connector.TIKTOK
    account.needs_reconnect = True
    account.save(update_fields=["connector", "needs_reconnect"])

    html = login(manager).get(HOME).content.decode()

    assert '<span class="visually-hidden">1 </span>Sync failure</a>' in html
    assert "Account Acme Beauty" in html and "needs reconnecting" in html


def test_the_winddown_index_condition_follows_the_step_count():
    from campaigns.models import ATTENTION_WINDDOWN_OPEN

    assert ("winddown_done__lt", WINDDOWN_STEP_COUNT) in ATTENTION_WINDDOWN_OPEN.children[1].children


def test_login_lands_on_the_home_page(client, manager, password):
    response = client.post(reverse("login"), {"username": manager.username, "password": password})

    assert response["Location"] == "/"


def test_navigation_badge_counts_what_needs_attention(login, manager, account):
    _attention(account, manager)

    html = login(manager).get(reverse("campaigns:home_badge")).content.decode()

    assert '<span class="nav-count">6<span class="visually-hidden"> need attention</span></span>' in html


def test_every_page_fetches_the_badge_after_it_loads_and_the_home_renders_it(login, manager, account):
    _attention(account, manager)
    client = login(manager)

    listing = client.get(reverse("campaigns:list")).content.decode()
    home = client.get(HOME).content.decode()

    assert 'hx-trigger="load, campaignStatusChanged from:body"' in listing
    assert '<a href="/" aria-current="page">Home<span id="home-badge"' in home
    assert '<span class="nav-count">6<' in home


# --- the Accounts page (point 10) ---


def test_accounts_page_lists_role_connector_last_sync_and_import(login, editor, account, django_assert_num_queries):
    connected = AccountFactory(
        name="Zeta TikTok", connector=Connector.TIKTOK, last_synced_at=timezone.now(), sync_error="Token expired"
    )
    MembershipFactory(user=editor, account=connected, role="viewer")
    CampaignFactory.create_batch(3, account=account)
    CampaignFactory(account=account, status=Status.PAUSED)
    client = login(editor)

    with django_assert_num_queries(4):  # session, user with the unread bell, memberships with accounts, campaign counts
        response = client.get(reverse("campaigns:accounts"))

    html = response.content.decode()
    assert html.index("Acme Beauty") < html.index("Zeta TikTok")
    assert f'<a href="/campaigns/accounts/{account.pk}/">Acme Beauty</a>' in html
    assert "Your role: </span>Editor</td>" in html and "Your role: </span>Viewer</td>" in html
    assert "TikTok Marketing API" in html and "Manual" in html
    assert "Last sync failed" in html
    assert f'href="/campaigns/?account={account.pk}">3 active</a>' in html and "1 paused" in html
    assert f'href="/campaigns/accounts/{account.pk}/#import-heading">Import export' in html
    assert "Editors import" in html  # the viewer's account offers no import
    assert '<a href="/campaigns/accounts/" aria-current="page">Accounts</a>' in html


def test_accounts_page_shows_only_the_users_accounts(login, viewer, account, other_account):
    html = login(viewer).get(reverse("campaigns:accounts")).content.decode()

    assert "Acme Beauty" in html and "Other Agency" not in html


def test_overdue_winddown_stops_being_attention_once_its_steps_are_done(manager, account):
    campaign = CampaignFactory(account=account)
    services.campaign_transition(
        campaign=campaign, action=Action.END, actor=manager, source=Source.UI, reason_code=EndReason.OBJECTIVES_MET
    )
    Campaign.objects.filter(pk=campaign.pk).update(ended_at=timezone.now() - dt.timedelta(days=9))

    def line(key):
        lines = home_attention(scope=home_scope_for_user(user=manager)).lines
        return next(line for line in lines if line.key == key)

    assert line("winddown_overdue").count == 1 and line("lessons_waiting").count == 1
    WindDownStep.objects.filter(campaign=campaign).update(done_at=timezone.now())
    Campaign.objects.filter(pk=campaign.pk).update(winddown_done=WINDDOWN_STEP_COUNT)
    assert line("winddown_overdue").count == 0 and line("lessons_waiting").count == 0
    assert WindDownStepKind.PERFORMANCE_ANALYSED in WindDownStep.objects.values_list("kind", flat=True)
