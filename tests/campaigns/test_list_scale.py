"""The list's deep pages at scale (issue 19): a page past the middle is fetched from the far end of the order, so
its OFFSET walks the rows after it, not before it — with the same rows, in the same order, in the same queries."""

import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from campaigns import tables
from campaigns.models import Status
from tests.factories import CampaignFactory

pytestmark = pytest.mark.django_db

LIST = reverse("campaigns:list")


@pytest.fixture
def seventy(account):
    statuses = [Status.ACTIVE, Status.PAUSED, Status.ENDED]
    for i in range(70):
        CampaignFactory(account=account, name=f"C{i % 7}-{i:02d}", total_spend=Decimal(i % 5), status=statuses[i % 3])


def _page(client, params):
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(LIST, params)
    assert response.status_code == 200
    return [r.record.pk for r in response.context["table"].page.object_list], ctx.captured_queries, response


def _offsets(queries) -> list[int]:
    return [int(n) for q in queries for n in re.findall(r"OFFSET (\d+)", q["sql"])]


@pytest.mark.parametrize("sort", ["", "-total_spend", "name", "status"])
@pytest.mark.parametrize("page", [2, 3])
def test_page_past_the_middle_comes_from_the_far_end_with_the_same_rows(
    login, viewer, seventy, monkeypatch, sort, page
):
    """70 campaigns, 25 a page: page 2 (rows 26–50) has 20 rows after it and 25 before, page 3 (rows 51–70) none
    after; both are read from the end, and show exactly what the plain OFFSET shows."""
    client = login(viewer)
    params = {"per_page": 25, "page": page} | ({"sort": sort} if sort else {})
    plain, plain_queries, _ = _page(client, params)
    monkeypatch.setattr(tables, "DEFERRED_JOIN_FROM", 1)
    rows, queries, response = _page(client, params)
    assert rows == plain
    assert len(rows) == (25 if page == 2 else 20)
    assert len(queries) == len(plain_queries)
    deferred = [q["sql"] for q in queries if "IN (SELECT" in q["sql"]]
    assert deferred, "the page is a deferred join"
    # The inner SELECT skips the rows after the page (20 for page 2; none for the last page), not the 25 or 50
    # before it.
    assert _offsets(queries) == ([20] if page == 2 else [])
    assert f"page {page} of 3" in response.content.decode()


def test_page_before_the_middle_keeps_its_offset_from_the_start(login, viewer, account, seventy, monkeypatch):
    client = login(viewer)
    params = {"per_page": 25, "page": 2, "sort": "name"}
    CampaignFactory.create_batch(30, account=account)
    plain, _, _ = _page(client, params)  # 100 campaigns: page 2 has 50 rows after it, 25 before
    monkeypatch.setattr(tables, "DEFERRED_JOIN_FROM", 1)
    rows, queries, _ = _page(client, params)
    assert rows == plain
    assert _offsets(queries) == [25]


def test_status_tab_past_the_middle_from_the_far_end(login, viewer, account, seventy, monkeypatch):
    """A tab's count comes from the list totals; counted from the end, the page still shows the tab's rows."""
    CampaignFactory.create_batch(30, account=account, status=Status.ACTIVE)
    client = login(viewer)
    params = {"per_page": 25, "page": 2, "tab": Status.ACTIVE}  # 54 active: rows 26–50, 4 after
    plain, _, _ = _page(client, params)
    monkeypatch.setattr(tables, "DEFERRED_JOIN_FROM", 1)
    rows, queries, _ = _page(client, params)
    assert rows == plain and len(rows) == 25
    assert _offsets(queries) == [4]
