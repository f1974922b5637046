"""Confirmations count and sum only what will change (issue 16, point 5), per currency, and name the rest with
why; the row menu's confirmation works as a plain page (point 10); focus goes back to the changed row."""

import json
from decimal import Decimal

import pytest
from django.urls import reverse

from campaigns.models import BudgetMode, EndReason, Role, Status
from campaigns.selectors_actions import transition_outcome, transition_preview
from campaigns.services import Outcome, campaigns_transition
from tests.factories import AccountFactory, CampaignFactory, MembershipFactory

pytestmark = pytest.mark.django_db

BULK = reverse("campaigns:bulk_action")
CONFIRM = reverse("campaigns:action_confirm")


def step_one(client, action, campaigns, **extra):
    return client.post(BULK, {"action": action, "ids": [c.pk for c in campaigns], **extra})


def test_pause_of_a_mixed_selection_counts_and_sums_only_what_changes(login, editor, account):
    account.currency = "EUR"
    account.save(update_fields=["currency"])
    a = CampaignFactory(account=account, name="Run A", budget_amount=Decimal("300"))
    b = CampaignFactory(account=account, name="Run B", budget_amount=Decimal("300"))
    paused = CampaignFactory(account=account, name="Resting", status=Status.PAUSED, budget_amount=Decimal("300"))
    ended = CampaignFactory(account=account, name="Over", status=Status.ENDED, budget_amount=Decimal("300"))

    html = step_one(login(editor), "pause", [a, b, paused, ended]).content.decode()

    assert "Pause 2 of 4 selected campaigns?" in html
    assert "600.00 EUR per day" in html
    assert "1,200.00" not in html
    assert "Unchanged (2)" in html
    assert 'Resting <span class="muted">· Acme Beauty · already paused' in html
    assert 'Over <span class="muted">· Acme Beauty · ended: cannot be paused' in html
    assert ">Pause 2 campaigns</button>" in html


def test_pause_totals_are_per_currency_never_added(login, editor, account):
    dollars = AccountFactory(name="US shop", currency="USD")
    MembershipFactory(user=editor, account=dollars, role=Role.EDITOR)
    account.currency = "EUR"
    account.save(update_fields=["currency"])
    eur = CampaignFactory(account=account, budget_amount=Decimal("300"))
    usd = CampaignFactory(account=dollars, budget_amount=Decimal("100"))

    html = step_one(login(editor), "pause", [eur, usd]).content.decode()

    assert "<strong>300.00 EUR per day</strong> and <strong>100.00 USD per day</strong>" in html
    assert "400.00" not in html


def test_campaigns_of_an_account_where_the_role_is_too_low_are_listed_as_not_permitted(login, editor, account):
    watched = AccountFactory(name="Read-only brand")
    MembershipFactory(user=editor, account=watched, role=Role.VIEWER)
    mine = CampaignFactory(account=account, name="Mine")
    theirs = CampaignFactory(account=watched, name="Theirs")

    html = step_one(login(editor), "pause", [mine, theirs]).content.decode()

    assert "Pause 1 of 2 selected campaigns?" in html
    assert 'Theirs <span class="muted">· Read-only brand · not permitted for your role in Read-only brand' in html


def test_end_of_a_mixed_selection_asks_to_type_the_number_that_will_end(login, manager, account):
    a, b = CampaignFactory.create_batch(2, account=account, total_spend=Decimal("10"))
    over = CampaignFactory(account=account, status=Status.ENDED, total_spend=Decimal("999"))
    client = login(manager)

    html = step_one(client, "end", [a, b, over]).content.decode()
    done = step_one(
        client,
        "end",
        [a, b, over],
        confirmed="on",
        idempotency_key="k",
        reason_code=EndReason.OBJECTIVES_MET,
        confirm_text="2",
    )

    assert "End 2 of 3 selected campaigns?" in html
    assert "Type <strong>2</strong>" in html
    assert "Spend so far: <strong>20.00 USD</strong>" in html
    assert done.status_code == 302
    assert {type(c).objects.get(pk=c.pk).status for c in (a, b)} == {Status.ENDED}


def test_a_selection_where_nothing_changes_offers_no_submit(login, editor, account):
    ended = CampaignFactory.create_batch(2, account=account, status=Status.ENDED)

    html = step_one(login(editor), "resume", ended).content.decode()

    assert "Nothing to resume" in html
    assert "None of the 2 selected campaigns can be resumed" in html
    assert 'type="submit"' not in html.split("dialog-actions", 1)[1]


def test_the_preview_agrees_with_what_the_service_then_does(editor, account):
    campaigns = [
        CampaignFactory(account=account, status=status) for status in (Status.ACTIVE, Status.PAUSED, Status.ENDED)
    ]
    for action in ("pause", "resume"):
        roles = {account.pk: Role.EDITOR}
        predicted = {c.pk: transition_outcome(campaign=c, action=action, role=roles[c.account_id]) for c in campaigns}
        preview = transition_preview(campaigns=campaigns, action=action, roles=roles)
        result = campaigns_transition(
            campaign_ids=[c.pk for c in campaigns], action=action, actor=editor, source="ui", idempotency_key=action
        )
        assert result.outcomes == predicted
        assert [c.pk for c in preview.changing] == result.ids_with(Outcome.CHANGED)
        for c in campaigns:
            c.refresh_from_db()


def test_row_menu_confirmation_is_a_page_without_javascript(login, editor, campaign):
    query = {"action": "pause", "ids": campaign.pk, "origin": "list", "next": "/campaigns/"}
    response = login(editor).get(CONFIRM, query)

    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith("<!doctype html>")
    assert "Pause 1 campaign?" in html
    assert 'action="/campaigns/actions/"' in html
    assert '<a class="button" href="/campaigns/">Cancel</a>' in html


@pytest.mark.parametrize(("who", "action", "status"), [("viewer", "pause", 403), ("editor", "end", 403)])
def test_row_menu_confirmation_refuses_a_role_too_low(request, login, campaign, who, action, status):
    response = login(request.getfixturevalue(who)).get(CONFIRM, {"action": action, "ids": campaign.pk})

    assert response.status_code == status


def test_row_menu_confirmation_of_an_unknown_action_or_campaign_is_404(login, editor, campaign, other_campaign):
    client = login(editor)

    assert client.get(CONFIRM, {"action": "explode", "ids": campaign.pk}).status_code == 404
    assert client.get(CONFIRM, {"action": "pause", "ids": other_campaign.pk}).status_code == 404


def test_after_a_confirm_from_the_list_focus_returns_to_the_changed_row(login, editor, account):
    campaign = CampaignFactory(account=account)
    client = login(editor)
    data = {"action": "pause", "ids": [campaign.pk], "origin": "list", "confirmed": "on", "next": "/campaigns/"}

    plain = client.post(BULK, {**data, "idempotency_key": "a"})
    client.post(BULK, {"action": "resume", "ids": [campaign.pk], "confirmed": "on", "idempotency_key": "b"})
    htmx = client.post(BULK, {**data, "idempotency_key": "c"}, HTTP_HX_REQUEST="true")

    assert plain["Location"] == f"/campaigns/#campaign-{campaign.pk}"
    assert json.loads(htmx["HX-Trigger-After-Settle"]) == {"campaignRowFocus": {"id": campaign.pk}}
    assert f'id="campaign-{campaign.pk}"' in htmx.content.decode()


def test_daily_and_lifetime_budgets_each_say_what_stops(login, editor, account):
    daily = CampaignFactory(account=account, budget_amount=Decimal("80"))
    lifetime = CampaignFactory(account=account, budget_mode=BudgetMode.LIFETIME, budget_amount=Decimal("900"))

    html = step_one(login(editor), "pause", [daily, lifetime]).content.decode()

    assert "80.00 USD/day (daily budget)" in html
    assert "0.00 USD/day (7-day average spend)" in html


def test_list_with_row_menus_keeps_its_7_queries(login, manager, account, django_assert_num_queries):
    CampaignFactory.create_batch(30, account=account, status_changed_by=manager)
    CampaignFactory.create_batch(10, account=account, status=Status.PAUSED)
    client = login(manager)
    with django_assert_num_queries(7):
        html = client.get(reverse("campaigns:list"), {"per_page": 50}).content.decode()
    assert html.count("data-row-menu") == 40
    # each action link twice: its href and its hx-get
    assert html.count("&amp;action=resume") == 20 and html.count("&amp;action=end") == 80
