"""The list's tab counts and footer totals kept on write (CampaignListStat, database triggers), and SQLite's
search index: whatever path writes a campaign, the list shows the same figures a GROUP BY over the campaigns
would (issue 9)."""

import re
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from campaigns import selectors, services
from campaigns.models import Action, Campaign, CampaignListStat, EndReason, Source, Status
from tests.factories import AccountFactory, CampaignFactory, MembershipFactory

pytestmark = pytest.mark.django_db

LIST = reverse("campaigns:list")


def _from_stats(account_ids, tab="all", statuses=None):
    return selectors.campaigns_list_summary_from_stats(account_ids=account_ids, statuses=statuses, tab=tab)


def _from_rows(account_ids, tab="all", statuses=None):
    queryset = Campaign.objects.filter(account_id__in=account_ids)
    if statuses:
        queryset = queryset.filter(status__in=statuses)
    return selectors.campaigns_list_summary(queryset=queryset, tab=tab)


def _assert_stats_match(account_ids):
    for tab in ("all", "active", "paused", "ended"):
        for statuses in (None, [Status.PAUSED, Status.ENDED]):
            kept, counted = _from_stats(account_ids, tab, statuses), _from_rows(account_ids, tab, statuses)
            assert kept["tab_counts"] == counted["tab_counts"]
            assert kept["count"] == counted["count"]
            assert Decimal(kept["totals"]["spend"]) == Decimal(counted["totals"]["spend"])
            assert kept["totals"]["video_views"] == counted["totals"]["video_views"]
            assert kept["totals"]["follows"] == counted["totals"]["follows"]


def test_every_write_path_keeps_the_list_totals_right(account, other_account, manager):
    ids = [account.pk, other_account.pk]
    a = CampaignFactory(account=account, total_spend=Decimal("10.50"), total_video_views=100, total_follows=3)
    b = CampaignFactory(account=account, total_spend=Decimal("2.25"), total_video_views=7)
    CampaignFactory.create_batch(3, account=other_account, status=Status.PAUSED, total_spend=Decimal("1.10"))
    _assert_stats_match(ids)

    # The transition service (a queryset UPDATE), bulk_update, save(), a raw queryset update, bulk_create, delete.
    services.campaigns_transition(campaign_ids=[a.pk, b.pk], action=Action.PAUSE, actor=manager, source=Source.UI)
    _assert_stats_match(ids)
    services.campaign_transition(
        campaign=Campaign.objects.get(pk=a.pk),
        action=Action.END,
        actor=manager,
        source=Source.UI,
        reason_code=EndReason.BUDGET_CONSTRAINTS,
    )
    _assert_stats_match(ids)
    b.refresh_from_db()
    b.total_spend, b.total_follows = Decimal("99.99"), 12
    b.save()
    b.total_video_views = 1234
    Campaign.objects.bulk_update([b], ["total_video_views"])
    Campaign.objects.filter(account=other_account).update(total_video_views=50)
    Campaign.objects.bulk_create(
        [Campaign(account=account, name="Bulk", budget_amount=10, total_spend=Decimal("3"), start_date=a.start_date)]
    )
    _assert_stats_match(ids)
    Campaign.objects.filter(account=other_account).first().delete()
    _assert_stats_match(ids)

    # Folding the deltas changes no figure, and leaves at most one row per key.
    assert CampaignListStat.objects.count() > 5
    services.campaign_list_stats_compact()
    _assert_stats_match(ids)
    keys = list(CampaignListStat.objects.values_list("account_id", "status"))
    assert len(keys) == len(set(keys))


def test_rebuild_recovers_from_a_lost_table(account):
    CampaignFactory.create_batch(4, account=account, total_spend=Decimal("5"))
    CampaignListStat.objects.all().delete()
    assert _from_stats([account.pk])["count"] == 0
    services.campaign_list_stats_rebuild()
    assert _from_stats([account.pk])["count"] == 4
    _assert_stats_match([account.pk])


def test_list_page_reads_kept_totals_and_compacts_when_deltas_pile_up(
    login, viewer, account, monkeypatch, django_assert_num_queries
):
    CampaignFactory.create_batch(6, account=account, status=Status.ACTIVE)
    Campaign.objects.filter(pk__in=Campaign.objects.values("pk")[:2]).update(status=Status.PAUSED)
    monkeypatch.setattr(selectors, "LIST_STATS_COMPACT_ABOVE", 3)
    response = login(viewer).get(LIST, {"tab": "paused"})
    assert {key: n for key, _, n in response.context["tabs"]} == {"active": 4, "paused": 2, "ended": 0, "all": 6}
    assert len(response.context["table"].page.object_list) == 2
    # The page folded the deltas it found (more than the threshold) into one row per key.
    assert CampaignListStat.objects.filter(account=account).count() == 2


def test_filtered_list_counts_come_from_the_campaigns(login, viewer, account):
    CampaignFactory(account=account, name="Spring Glow", objective="reach")
    CampaignFactory(account=account, name="Autumn Blast", objective="reach", status=Status.PAUSED)
    CampaignFactory(account=account, name="Glow Again", objective="traffic", status=Status.PAUSED)
    client = login(viewer)
    tabs = lambda r: {key: n for key, _, n in r.context["tabs"]}  # noqa: E731
    assert tabs(client.get(LIST, {"q": "glow"})) == {"active": 1, "paused": 1, "ended": 0, "all": 2}
    assert tabs(client.get(LIST, {"objective": "reach"})) == {"active": 1, "paused": 1, "ended": 0, "all": 2}
    assert tabs(client.get(LIST, {"status": "paused"})) == {"active": 0, "paused": 2, "ended": 0, "all": 2}


@pytest.mark.parametrize(
    ("term", "expected"),
    [
        ("glow", {"Spring Glow", "GLOWING", "Backlog"}),  # Backlog: platform id 17-glow-9
        ("GLOW", {"Spring Glow", "GLOWING", "Backlog"}),
        ("ng gl", {"Spring Glow"}),  # spans a space
        ("gl", {"Spring Glow", "GLOWING", "Backlog", "Angle"}),  # shorter than a trigram: still found
        ('"glow', set()),
        ("100%", {"100% cotton"}),
        ("zzz", set()),
    ],
)
def test_search_matches_substrings_of_name_and_platform_id(login, viewer, account, term, expected):
    for name, platform_id in [
        ("Spring Glow", ""),
        ("GLOWING", ""),
        ("Backlog", "17-glow-9"),
        ("Angle", ""),
        ("100% cotton", ""),
        ("Unrelated", ""),
    ]:
        CampaignFactory(account=account, name=name, platform_id=platform_id)
    response = login(viewer).get(LIST, {"q": term})
    assert response.status_code == 200
    assert {row.record.name for row in response.context["table"].page.object_list} == expected


def test_search_index_follows_renames_and_deletes(login, viewer, account):
    campaign = CampaignFactory(account=account, name="Winter Sale")
    client = login(viewer)
    Campaign.objects.filter(pk=campaign.pk).update(name="Summer Splash")
    assert not client.get(LIST, {"q": "winter"}).context["table"].page.object_list
    assert len(client.get(LIST, {"q": "splash"}).context["table"].page.object_list) == 1
    campaign.delete()
    CampaignFactory(account=account, name="Other")
    assert not client.get(LIST, {"q": "splash"}).context["table"].page.object_list


def test_migrate_and_flush_leave_totals_right(transactional_db, account):
    """`flush` deletes table by table (on SQLite through the triggers); the post-migrate rebuild puts it right."""
    CampaignFactory.create_batch(3, account=account)
    call_command("flush", interactive=False, verbosity=0)
    assert (
        not CampaignListStat.objects.exists() or sum(CampaignListStat.objects.values_list("campaigns", flat=True)) == 0
    )
    fresh = AccountFactory()
    CampaignFactory.create_batch(2, account=fresh)
    _assert_stats_match([fresh.pk])


def test_other_accounts_never_leak_into_counts(login, account, other_account):
    user = MembershipFactory(account=account).user
    CampaignFactory.create_batch(2, account=account)
    CampaignFactory.create_batch(5, account=other_account)
    response = login(user).get(LIST)
    assert response.context["count"] == 2
    assert connection.vendor in ("sqlite", "postgresql")


@pytest.mark.parametrize("sort", ["", "-total_spend", "name"])
def test_deep_pages_by_deferred_join_show_the_same_rows(
    login, viewer, account, monkeypatch, sort, django_assert_num_queries
):
    """From DEFERRED_JOIN_FROM rows in, a page is fetched as `id IN (SELECT id … LIMIT/OFFSET)`: same rows, same
    order, same number of queries as the plain OFFSET."""
    from campaigns import tables

    for i in range(60):
        CampaignFactory(account=account, name=f"C{i % 7}-{i:02d}", total_spend=Decimal(i % 5))
    client = login(viewer)
    params = {"per_page": 25, "page": 2} | ({"sort": sort} if sort else {})
    with CaptureQueriesContext(connection) as plain_queries:
        plain = [r.record.pk for r in client.get(LIST, params).context["table"].page.object_list]
    monkeypatch.setattr(tables, "DEFERRED_JOIN_FROM", 1)
    with django_assert_num_queries(len(plain_queries)) as deferred_queries:
        deferred = client.get(LIST, params)
    assert not any("IN (SELECT" in q["sql"] for q in plain_queries.captured_queries)
    assert any("IN (SELECT" in q["sql"] and "OFFSET" in q["sql"] for q in deferred_queries.captured_queries)
    assert [r.record.pk for r in deferred.context["table"].page.object_list] == plain
    assert len(plain) == 25
    assert "page 2 of 3" in deferred.content.decode()


def test_filter_widgets_render_as_django_does():
    """campaigns/widgets.py writes the same markup as Django's widget templates, escaping included."""
    from django import forms

    from campaigns import widgets

    pairs = [
        (
            widgets.TextInput(attrs={"placeholder": 'a "b" <c>', "data-x": ""}),
            forms.TextInput(attrs={"placeholder": 'a "b" <c>', "data-x": ""}),
            'x"><script>',
        ),
        (widgets.DateInput(attrs={"type": "date"}), forms.DateInput(attrs={"type": "date"}), "2026-01-02"),
        (widgets.CheckboxInput(), forms.CheckboxInput(), True),
        (widgets.CheckboxInput(), forms.CheckboxInput(), False),
    ]
    choices = [("", "Any"), ("1", "A & B"), ("2", "<i>x</i>")]
    pairs.append((widgets.Select(choices=choices), forms.Select(choices=choices), "2"))
    for ours, django_widget, value in pairs:
        ours_html = re.sub(r">\s+<", "><", str(ours.render("f", value, attrs={"id": "id_f"})))
        django_html = re.sub(r">\s+<", "><", str(django_widget.render("f", value, attrs={"id": "id_f"})))
        assert ours_html == django_html
