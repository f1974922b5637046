"""Issue 16, point 3: money always carries its currency. The list's totals are one footer row per currency (never
EUR and USD added up), read from the kept per-(account, status) totals without another query; the Spend and
Remaining columns show the currency; report CSV headers and PDF tables name it."""

import re
from decimal import Decimal

import pytest
from django.urls import reverse

from campaigns.listing.summary import totals_by_currency
from campaigns.models import BudgetMode, Role, Status
from campaigns.money import money_text
from tests.factories import AccountFactory, CampaignFactory, MembershipFactory

pytestmark = pytest.mark.django_db

LIST = reverse("campaigns:list")


@pytest.fixture
def two_currencies(account, viewer):
    """The viewer's USD account (Acme Beauty) and a EUR account."""
    euro = AccountFactory(name="Euro Shop", currency="EUR")
    MembershipFactory(user=viewer, account=euro, role=Role.VIEWER)
    CampaignFactory(account=account, name="US one", total_spend=Decimal("100.50"), total_video_views=10)
    CampaignFactory(account=account, name="US two", total_spend=Decimal("20.00"), total_video_views=5)
    CampaignFactory(account=euro, name="EU one", total_spend=Decimal("7.25"), total_video_views=1, total_follows=3)
    CampaignFactory(account=euro, name="EU ended", status=Status.ENDED, total_spend=Decimal("1000"))
    return euro


def _inline(html: str) -> str:
    """The currency code's own <span> (a smaller face) is inline: its text reads "7.25\u00a0EUR"."""
    return re.sub(r'<span class="cur">([A-Z]{3})</span>', r"\1", html)


def _foot(html: str) -> list[str]:
    foot = _inline(html[html.index("<tfoot>") : html.index("</tfoot>")])
    return [re.sub(r"[ \t\n]+", " ", re.sub(r"<[^>]+>", " ", row)).strip() for row in foot.split("</tr>")[:-1]]


def test_footer_has_one_row_per_currency_and_never_adds_them_up(login, viewer, two_currencies):
    html = login(viewer).get(LIST).content.decode()

    rows = _foot(html)
    assert len(rows) == 2
    assert rows[0].startswith("Total in EUR 2 campaigns") and "1,007.25\u00a0EUR" in rows[0]
    assert rows[1].startswith("Total in USD 2 campaigns") and "120.50\u00a0USD" in rows[1]
    assert "1,127.75" not in html  # the cross-currency sum is nowhere


def test_footer_per_currency_follows_the_tab_and_filters(login, viewer, two_currencies):
    client = login(viewer)
    rows = _foot(client.get(LIST, {"tab": "active"}).content.decode())
    assert [r.split(" ")[2] for r in rows] == ["EUR", "USD"]
    assert "7.25\u00a0EUR" in rows[0] and " 1 campaign " in f" {rows[0]} "
    # A filter that narrows beyond status and account counts the campaigns themselves: the same per currency.
    rows = _foot(client.get(LIST, {"objective": "video_views"}).content.decode())
    assert "1,007.25\u00a0EUR" in rows[0] and "120.50\u00a0USD" in rows[1]
    # One currency left: one plain "Total" row, still with its currency.
    rows = _foot(client.get(LIST, {"account": two_currencies.pk}).content.decode())
    assert len(rows) == 1 and rows[0].startswith("Total ") and "1,007.25\u00a0EUR" in rows[0]


def test_spend_and_remaining_cells_carry_the_currency(login, viewer, two_currencies):
    html = login(viewer).get(LIST).content.decode()
    row = html[html.index(">EU one</a>") :]
    row = row[: row.index("</tr>")]
    cells = re.findall(r'<td class="num">(.*?)</td>', _inline(row))
    assert cells[1] == "7.25\u00a0EUR"  # spend
    assert cells[2].endswith("\u00a0EUR")  # remaining


def test_footer_per_currency_costs_no_extra_query(login, viewer, two_currencies, django_assert_max_num_queries):
    client = login(viewer)
    client.get(LIST)
    with django_assert_max_num_queries(8):  # what tests/campaigns/test_list.py holds the list to
        client.get(LIST, {"per_page": 50})


def test_totals_by_currency_adds_accounts_of_one_currency_only():
    figures = {
        1: {"n": 2, "spend": Decimal("1.50"), "video_views": 3, "follows": 0},
        2: {"n": 1, "spend": Decimal("2.00"), "video_views": 1, "follows": 1},
        3: {"n": 4, "spend": Decimal("10"), "video_views": 0, "follows": 0},
        4: {"n": 0, "spend": Decimal("0"), "video_views": 0, "follows": 0},
    }
    rows = totals_by_currency(figures, {1: "USD", 2: "USD", 3: "EUR", 4: "GBP"})
    assert rows == [
        ("EUR", {"n": 4, "spend": Decimal("10"), "video_views": 0, "follows": 0}),
        ("USD", {"n": 3, "spend": Decimal("3.50"), "video_views": 4, "follows": 1}),
    ]


def test_campaign_page_and_confirmation_money_name_the_currency(login, manager, account):
    campaign = CampaignFactory(
        account=account, budget_mode=BudgetMode.DAILY, budget_amount=Decimal("80"), total_spend=Decimal("2585.83")
    )
    html = login(manager).get(reverse("campaigns:detail", args=[campaign.pk])).content.decode()
    kpis = html[html.index('class="kpis"') : html.index('id="chart-title"')]
    assert "2,585.83 USD" in kpis
    assert money_text(Decimal("1234.5"), "EUR") == "1,234.50 EUR" and money_text(None, "EUR") == "—"
