"""The rule pages (issue 17): list, create/edit with a preview that works without JavaScript and as an htmx
partial, enable/disable, the rule log; managers write, members read; the admin goes through the services."""

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse

from campaigns import services
from campaigns.models import BudgetMode, DailyMetric, Rule, RuleLogEntry, RuleLogKind
from campaigns.rules import evaluate
from campaigns.rules import services as rule_services
from campaigns.timezones import today_in
from tests.factories import CampaignFactory

pytestmark = pytest.mark.django_db

FORM = {
    "name": "Budget guard",
    "condition": "budget_spent",
    "threshold": "90",
    "days": "",
    "impressions": "",
    "action": "pause",
    "end_reason": "",
    "end_note": "",
    "scope": "all",
    "objective": "",
    "guard_impressions": "0",
    "guard_days": "0",
}


@pytest.fixture
def spent(account):
    today = today_in(account)
    campaign = CampaignFactory(
        account=account,
        name="Glow Drop #12",
        budget_mode=BudgetMode.LIFETIME,
        budget_amount=Decimal("1000"),
        start_date=today - dt.timedelta(days=20),
    )
    DailyMetric.objects.create(campaign=campaign, date=today - dt.timedelta(days=3), spend=Decimal("960"))
    services.campaign_totals_refresh(campaign_ids=[campaign.pk])
    return campaign


def test_preview_without_js_rerenders_the_form_with_what_the_rule_would_have_done(login, manager, account, spent):
    response = login(manager).post(reverse("campaigns:rule_create", args=[account.pk]), {**FORM, "preview": "1"})
    html = response.content.decode()
    assert response.status_code == 200
    day = today_in(account) - dt.timedelta(days=3)
    assert f"<strong>Glow Drop #12</strong> on {day.day} {day:%b}: spend 96 % of the lifetime budget" in html
    assert "Pause when spend reaches 90 % of the lifetime budget" in html
    assert "Today it would act on <strong>1 campaign</strong>" in html
    assert 'name="name"' in html  # the form is still there, filled in
    assert not Rule.objects.exists()


def test_preview_with_htmx_returns_only_the_partial(login, manager, account, spent):
    response = login(manager).post(
        reverse("campaigns:rule_create", args=[account.pk]), {**FORM, "preview": "1"}, HTTP_HX_REQUEST="true"
    )
    html = response.content.decode()
    assert html.lstrip().startswith('<section id="rule-preview"')
    assert "spend 96 % of the lifetime budget" in html and "<form" not in html


def test_save_creates_the_rule_and_the_list_says_what_it_does(login, manager, account):
    client = login(manager)
    response = client.post(reverse("campaigns:rule_create", args=[account.pk]), {**FORM, "save": "1"})
    assert response.status_code == 302
    rule = Rule.objects.get()
    assert rule.created_by == manager and RuleLogEntry.objects.get().kind == RuleLogKind.CREATED
    html = client.get(reverse("campaigns:rules", args=[account.pk])).content.decode()
    assert "Pause when spend reaches 90 % of the lifetime budget" in html


def test_form_errors_name_the_missing_numbers(login, manager, account):
    response = login(manager).post(
        reverse("campaigns:rule_create", args=[account.pk]), {**FORM, "condition": "low_ctr", "threshold": ""}
    )
    html = response.content.decode()
    assert "Give a number above 0." in html and "Give the number of impressions" in html
    assert not Rule.objects.exists()


def test_edit_and_disable_are_logged(login, manager, account):
    rule = rule_services.rule_create(account=account, actor=manager, values={**FORM, "threshold": Decimal("90")})
    client = login(manager)
    client.post(reverse("campaigns:rule_edit", args=[account.pk, rule.pk]), {**FORM, "threshold": "95", "save": "1"})
    client.post(reverse("campaigns:rule_enabled", args=[account.pk, rule.pk]), {"enabled": "0"})
    rule.refresh_from_db()
    assert rule.threshold == Decimal("95") and not rule.enabled
    log = client.get(reverse("campaigns:rule_log", args=[account.pk])).content.decode()
    assert "Threshold: 90 → 95" in log and "Disabled" in log and "mona-manager" in log


def test_rule_log_shows_actions_with_numbers(login, manager, viewer, account, spent):
    rule = rule_services.rule_create(account=account, actor=manager, values={**FORM, "threshold": Decimal("90")})
    evaluate.rule_evaluate(rule_id=rule.pk)
    html = login(viewer).get(reverse("campaigns:rule_log", args=[account.pk])).content.decode()
    assert "Paused “Glow Drop #12” on" in html and "spend 96 % of the lifetime budget" in html


def test_viewers_and_editors_read_rules_but_cannot_write_them(login, viewer, editor, account):
    client = login(editor)
    assert client.get(reverse("campaigns:rules", args=[account.pk])).status_code == 200
    assert client.get(reverse("campaigns:rule_create", args=[account.pk])).status_code == 403
    assert client.post(reverse("campaigns:rule_create", args=[account.pk]), FORM).status_code == 403
    assert not Rule.objects.exists()


def test_outsiders_do_not_see_an_accounts_rules(login, outsider, account):
    assert login(outsider).get(reverse("campaigns:rules", args=[account.pk])).status_code == 404


def test_account_pages_link_to_the_rules(login, manager, account):
    client = login(manager)
    link = reverse("campaigns:rules", args=[account.pk])
    assert link in client.get(reverse("campaigns:account_detail", args=[account.pk])).content.decode()
    assert link in client.get(reverse("campaigns:accounts")).content.decode()


def test_admin_creates_rules_through_the_service(login, staff, account):
    response = login(staff).post(
        "/admin/campaigns/rule/add/",
        {**FORM, "account": account.pk, "enabled": "on", "end_reason": "", "threshold": "90"},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    rule = Rule.objects.get()
    assert RuleLogEntry.objects.get(rule=rule).actor == staff


def test_admin_refuses_a_rule_missing_its_numbers(login, staff, account):
    response = login(staff).post("/admin/campaigns/rule/add/", {**FORM, "account": account.pk, "threshold": ""})
    assert response.status_code == 200 and "Give a number above 0." in response.content.decode()
    assert not Rule.objects.exists()
