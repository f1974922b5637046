import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from campaigns.models import Action, ScheduledAction, Status, SyncState
from tests.factories import AccountFactory, CampaignFactory, MembershipFactory

pytestmark = pytest.mark.django_db

LIST = reverse("campaigns:list")


def rows(response):
    return list(response.context["table"].page.object_list)


def names(response):
    return [row.record.name for row in rows(response)]


def test_list_as_viewer_shows_own_campaigns_only(login, viewer, campaign, other_campaign):
    response = login(viewer).get(LIST)

    assert response.status_code == 200
    assert names(response) == ["Spring Glow"]
    assert b"Secret Other Launch" not in response.content


def test_list_query_count_is_constant_for_any_page_size(login, viewer, account, django_assert_num_queries):
    for i in range(120):
        changed = {"status_changed_by": viewer, "status_changed_at": timezone.now()} if i % 5 == 0 else {}
        c = CampaignFactory(account=account, status=Status.PAUSED if i % 3 else Status.ACTIVE, **changed)
        if i % 10 == 0:
            ScheduledAction.objects.create(
                campaign=c, action=Action.END, run_at=timezone.now() + dt.timedelta(hours=3), reason_code="other"
            )
    client = login(viewer)
    client.get(LIST)  # warm up the session
    # session, user with the unread bell (campaigns.auth), roles with account choices, one grouped aggregate, page
    # rows, their pending schedules, the users who changed their status
    for per_page in (25, 50, 100):
        with django_assert_num_queries(7):
            response = client.get(LIST, {"per_page": per_page})
        assert len(rows(response)) == per_page


def test_list_tabs_count_each_status_and_filter_rows(login, viewer, account):
    CampaignFactory.create_batch(3, account=account, status=Status.ACTIVE)
    CampaignFactory.create_batch(2, account=account, status=Status.PAUSED)
    CampaignFactory(account=account, status=Status.ENDED)

    response = login(viewer).get(LIST, {"tab": "paused"})

    assert {key: n for key, _, n in response.context["tabs"]} == {"active": 3, "paused": 2, "ended": 1, "all": 6}
    assert len(rows(response)) == 2
    assert {r.record.status for r in rows(response)} == {Status.PAUSED}


def test_list_footer_totals_sum_the_filtered_set(login, viewer, account):
    CampaignFactory(account=account, name="Alpha one", total_spend=Decimal("10.50"), total_video_views=100)
    CampaignFactory(account=account, name="Alpha two", total_spend=Decimal("5.25"), total_video_views=50)
    CampaignFactory(account=account, name="Beta", total_spend=Decimal("1000"), total_video_views=9999)

    response = login(viewer).get(LIST, {"q": "alpha"})

    assert response.context["table"].totals["spend"] == Decimal("15.75")
    assert response.context["table"].totals["video_views"] == 150
    assert b"15.75" in response.content


def test_list_search_matches_name_and_platform_id(login, viewer, account):
    CampaignFactory(account=account, name="Summer Sale", platform_id="1800000099999")
    CampaignFactory(account=account, name="Winter", platform_id="1800000011111")
    client = login(viewer)

    assert names(client.get(LIST, {"q": "summer"})) == ["Summer Sale"]
    assert names(client.get(LIST, {"q": "99999"})) == ["Summer Sale"]


def test_list_filters_status_objective_account_dates_and_flags(login, viewer, account):
    second = AccountFactory(name="Second")
    MembershipFactory(user=viewer, account=second)
    today = dt.date.today()
    a = CampaignFactory(account=account, name="A", status=Status.ACTIVE, objective="reach")
    b = CampaignFactory(account=second, name="B", status=Status.PAUSED, start_date=today + dt.timedelta(days=60))
    c = CampaignFactory(account=account, name="C", status=Status.ENDED, winddown_done=3)
    CampaignFactory(account=account, name="D", status=Status.ENDED, winddown_done=7)
    ScheduledAction.objects.create(campaign=a, action=Action.PAUSE, run_at=timezone.now() + dt.timedelta(hours=1))
    client = login(viewer)

    assert sorted(names(client.get(LIST, {"status": ["active", "paused"]}))) == ["A", "B"]
    assert names(client.get(LIST, {"objective": "reach"})) == ["A"]
    assert names(client.get(LIST, {"account": second.pk})) == ["B"]
    assert "B" not in names(client.get(LIST, {"date_to": (today + dt.timedelta(days=10)).isoformat()}))
    assert names(client.get(LIST, {"scheduled": "on"})) == ["A"]
    assert names(client.get(LIST, {"winddown_incomplete": "on"})) == ["C"]
    assert b"3 of 7" in client.get(LIST, {"tab": "ended"}).content
    assert {a.pk, b.pk, c.pk} <= {r.record.pk for r in rows(client.get(LIST))}


def test_list_account_filter_for_other_account_is_ignored_not_leaked(login, viewer, campaign, other_account):
    response = login(viewer).get(LIST, {"account": other_account.pk})

    assert response.status_code == 200
    assert "account" in response.context["filter"].form.errors


@pytest.mark.parametrize(
    "params",
    [
        {"sort": "no_such_column"},
        {"sort": "-account__memberships__user__password"},
        {"page": "999"},
        {"page": "abc"},
        {"page": "-3"},
        {"per_page": "100000"},
        {"per_page": "x"},
        {"date_from": "2024-13-45"},
        {"date_to": "yesterday"},
        {"status": "bogus"},
        {"tab": "nope"},
        {"scheduled": "maybe"},
    ],
)
def test_list_bad_input_renders_a_normal_page(login, viewer, account, params):
    CampaignFactory.create_batch(3, account=account)

    response = login(viewer).get(LIST, params)

    assert response.status_code == 200
    assert b'id="campaign-table"' in response.content


def test_list_sorts_by_metric_totals(login, viewer, account):
    CampaignFactory(account=account, name="Low", total_spend=Decimal("1"))
    CampaignFactory(account=account, name="High", total_spend=Decimal("99"))
    client = login(viewer)

    assert names(client.get(LIST, {"sort": "-total_spend"})) == ["High", "Low"]
    assert names(client.get(LIST, {"sort": "total_spend"})) == ["Low", "High"]


def test_list_page_past_the_end_shows_the_last_page(login, viewer, account):
    CampaignFactory.create_batch(30, account=account)

    response = login(viewer).get(LIST, {"page": "7"})

    assert response.context["table"].page.number == 2
    assert len(rows(response)) == 5


def test_list_badges_show_pending_sync_still_delivering_and_schedule(login, viewer, account):
    pausing = CampaignFactory(account=account, status=Status.PAUSED, sync_state=SyncState.PENDING)
    CampaignFactory(account=account, status=Status.ENDED, still_delivering_since=dt.date.today())
    CampaignFactory(account=account, status=Status.ACTIVE, sync_state=SyncState.FAILED)
    scheduled = CampaignFactory(account=account)
    ScheduledAction.objects.create(
        campaign=scheduled,
        action=Action.END,
        run_at=timezone.now() + dt.timedelta(hours=3, minutes=5),
        reason_code="objectives_met",
    )

    html = login(viewer).get(LIST).content.decode()

    assert "Pausing…" in html
    assert "still delivering" in html
    assert "sync failed" in html
    assert "ends in 3 h" in html
    assert pausing.name in html


def test_list_htmx_request_returns_only_the_table_region(login, viewer, campaign):
    response = login(viewer).get(LIST, {"q": "spring"}, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="table-region")

    html = response.content.decode()
    assert html.lstrip().startswith('<div id="table-region"')
    assert "<html" not in html
    assert "Spring Glow" in html
    assert "HX-Request" in response["Vary"]


def test_list_sort_and_page_links_are_real_hrefs_that_keep_the_filter(login, viewer, account):
    CampaignFactory.create_batch(30, account=account, name="Glow")

    html = login(viewer).get(LIST, {"q": "glow"}).content.decode()

    assert 'href="?q=glow&amp;sort=name"' in html
    assert 'href="?q=glow&amp;page=2"' in html


def test_list_selection_bar_offers_actions_of_the_users_role(login, viewer, editor, manager, campaign):
    def buttons(user):
        html = login(user).get(LIST).content.decode()
        return [a for a in ("pause", "resume", "end") if f'name="action" value="{a}"' in html]

    assert buttons(viewer) == []
    assert buttons(editor) == ["pause", "resume"]
    assert buttons(manager) == ["pause", "resume", "end"]


def test_list_requires_login(client):
    response = client.get(LIST)

    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_list_pages_sorted_by_a_tied_column_cover_every_campaign_once(login, viewer, account):
    CampaignFactory.create_batch(60, account=account, status=Status.ACTIVE)
    client = login(viewer)

    seen = [r.record.pk for page in (1, 2, 3) for r in rows(client.get(LIST, {"sort": "status", "page": page}))]

    assert len(seen) == len(set(seen)) == 60


@pytest.mark.parametrize(
    "params",
    [
        {"q": "glow"},
        {"status": ["paused", "ended"]},
        {"sort": "-total_spend"},
        {"sort": "account", "page": 2},
        {"tab": "paused", "objective": "traffic", "date_from": "2020-01-01", "scheduled": "on"},
        {"winddown_incomplete": "on", "sort": "status_changed_at", "per_page": 100},
    ],
)
def test_list_query_count_stays_at_most_8_for_search_filter_and_sort(
    login, viewer, account, params, django_assert_max_num_queries
):
    for i in range(60):
        changed = {"status_changed_by": viewer, "status_changed_at": timezone.now()} if i % 4 == 0 else {}
        CampaignFactory(
            account=account, name=f"Glow {i}", status=(Status.ACTIVE, Status.PAUSED, Status.ENDED)[i % 3], **changed
        )
    client = login(viewer)
    client.get(LIST)  # warm up the session

    with django_assert_max_num_queries(8):
        response = client.get(LIST, params)

    assert response.status_code == 200


def test_sort_by_budget_remaining_matches_what_the_column_shows(login, viewer, account):
    from decimal import Decimal

    from campaigns.models import BudgetMode

    today = dt.date.today()
    CampaignFactory(
        account=account,
        name="Daily lots left",
        budget_mode=BudgetMode.DAILY,
        budget_amount=100,
        start_date=today,
        end_date=today + dt.timedelta(days=9),
        total_spend=Decimal("50"),
    )  # 950 left
    CampaignFactory(
        account=account,
        name="Lifetime some left",
        budget_mode=BudgetMode.LIFETIME,
        budget_amount=500,
        total_spend=Decimal("300"),
    )  # 200 left
    CampaignFactory(
        account=account,
        name="Overspent",
        budget_mode=BudgetMode.LIFETIME,
        budget_amount=100,
        total_spend=Decimal("180"),
    )  # 0 left
    CampaignFactory(account=account, name="No end date", budget_mode=BudgetMode.DAILY, end_date=None)  # unknown
    client = login(viewer)

    ascending = client.get(LIST, {"sort": "remaining"})
    descending = client.get(LIST, {"sort": "-remaining"})

    assert names(ascending) == ["Overspent", "Lifetime some left", "Daily lots left", "No end date"]
    assert names(descending) == ["Daily lots left", "Lifetime some left", "Overspent", "No end date"]
    shown = [row.record.budget_remaining for row in rows(descending)]
    assert shown == [Decimal("950"), Decimal("200"), Decimal("0"), None]


def test_list_totals_of_the_largest_figures_each_account_stores_do_not_overflow(login, viewer, account):
    """Each account's totals may reach what its column holds (imports refuse more), and several such accounts
    summed past 2^63 must still give a page: SQLite's SUM raises on integer overflow, so the cross-account sum is
    never asked of the database."""
    biggest = 9_223_372_036_854_775_807
    second = AccountFactory(name="Second", currency=account.currency)
    MembershipFactory(user=viewer, account=second)
    for acc in (account, second):
        CampaignFactory(account=acc, total_video_views=biggest, total_follows=biggest)

    response = login(viewer).get(LIST)

    assert response.status_code == 200
    assert f"{2 * biggest:,}" in response.content.decode()
