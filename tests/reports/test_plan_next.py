"""Plan the next campaign (issue 18): the create form prefilled from an ended campaign's frozen report."""

import datetime as dt
import math
from decimal import ROUND_FLOOR, Decimal

import pytest
from django.urls import reverse

from campaigns.models import Campaign, Connector, Role, Status, StatusChange
from campaigns.services import CampaignError, campaign_create
from campaigns.timezones import today_in
from reports import presenters
from reports.services import lessons_save, reports_create
from reports.services.plan_next import target_round
from tests.factories import AccountFactory, CampaignFactory, MembershipFactory, UserFactory

from .conftest import campaign_end, metrics_generate

LESSONS = {
    "what_worked": "Short clips posted on Tuesdays.",
    "what_to_change": "Fewer hashtag challenges.",
    "next_steps": "Brief the creators a week earlier.",
}


@pytest.fixture
def planned_report(campaign, manager, django_capture_on_commit_callbacks):
    """The fixture campaign with targets and an audience, 21 days of metrics (every weekday three times, three
    kinds of content), ended, its lessons written; returns (campaign, report)."""
    Campaign.objects.filter(pk=campaign.pk).update(
        target_views=20_000,
        target_engagement_rate=Decimal("3.00"),
        target_cost_per_result=Decimal("0.0500"),
        audience="Women 25-34, skincare",
        budget_amount=Decimal("150.00"),
    )
    campaign.refresh_from_db()
    metrics_generate(campaign, days=21)
    with django_capture_on_commit_callbacks(execute=True):
        campaign_end(campaign, manager)
    campaign.refresh_from_db()
    report = campaign.close_report
    lessons_save(report=report, author=manager, base_revision_id=None, **LESSONS)
    return campaign, report


def _url(campaign):
    return reverse("reports:plan_next", args=[campaign.pk])


def _form_data(response, **changes) -> dict:
    """The form's values as a browser would post them (the prefilled ones), with `changes`."""
    data = {}
    for field in response.context["form"]:
        if field.field.disabled:
            continue
        value = field.value()
        data[field.html_name] = "" if value is None else str(value)
    formset = response.context["formset"]
    for form in [formset.management_form, *formset]:
        for field in form:
            value = field.value()
            if value is not None and value is not False:
                data[field.html_name] = str(value)
    return {**data, **changes}


def _two_figures(value, *, up: bool) -> Decimal:
    """The stated rounding rule written the long way: two significant figures, up or down."""
    value = Decimal(str(value))
    quantum = Decimal(10) ** (math.floor(math.log10(value)) - 1)
    steps = math.ceil(value / quantum) if up else math.floor(value / quantum)
    return Decimal(steps) * quantum


def _frozen_target(report, key):
    return next(t for t in report.snapshot["targets"] if t["key"] == key)


# --- the rounding rule --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reached", "up", "step", "expected"),
    [
        ("136304", True, "1", "140000"),
        ("8420", True, "1", "8500"),
        ("8400", True, "1", "8400"),
        ("99", True, "1", "99"),
        ("7", True, "1", "7"),
        ("4.3721", True, "0.01", "4.40"),
        ("0.0523", False, "0.0001", "0.0520"),
        ("1.2399", False, "0.0001", "1.2000"),
    ],
)
def test_target_round_two_significant_figures_in_the_better_direction(reached, up, step, expected):
    assert target_round(Decimal(reached), up=up, step=Decimal(step)) == Decimal(expected)


# --- the form, prefilled ------------------------------------------------------------------------------------


def test_plan_form_is_prefilled_with_what_the_frozen_report_says(planned_report, login, manager):
    campaign, report = planned_report
    snapshot = report.snapshot
    response = login(manager).get(_url(campaign))
    assert response.status_code == 200
    form = response.context["form"]
    html = response.content.decode()

    assert form["objective"].value() == snapshot["campaign"]["objective"]
    assert form["budget_mode"].value() == snapshot["budget"]["mode"]
    assert Decimal(form["budget_amount"].value()) == Decimal(snapshot["budget"]["amount"]) == Decimal("150.00")
    assert form["audience"].value() == "Women 25-34, skincare"
    assert form["account"].value() == campaign.account_id
    assert form["name"].value() == "Spring Glow (next)"

    views = _frozen_target(report, "video_views")["actual"]
    assert form["target_views"].value() == int(_two_figures(views, up=True)) >= views
    er = _frozen_target(report, "engagement_rate")["actual"]
    assert Decimal(form["target_engagement_rate"].value()) == _two_figures(er, up=True)
    cpr = _frozen_target(report, "cost_per_result")["actual"]
    expected_cpr = _two_figures(cpr, up=False).quantize(Decimal("0.0001"), rounding=ROUND_FLOOR)
    assert Decimal(form["target_cost_per_result"].value()) == expected_cpr <= Decimal(cpr)
    # Targets the previous campaign did not have stay empty.
    assert form["target_reach"].value() is None and form["target_followers"].value() is None
    assert f"Video views target {int(_two_figures(views, up=True)):,}: reached {views:,} last time" in html
    assert "its target was 20,000" in html
    assert "rounded to two significant figures" in html

    # Dates: from tomorrow in the account's calendar, as long as last time's plan; no platform id.
    tomorrow = today_in(campaign.account) + dt.timedelta(days=1)
    assert form["start_date"].value() == tomorrow
    assert form["end_date"].value() == tomorrow + (campaign.end_date - campaign.start_date)
    assert form.fields["platform_id"].disabled

    # Best weekdays and content kinds: the ones the report's insights name.
    insights = presenters.report_body(snapshot=snapshot)["insights"]
    best_days = [r["label"] for r in insights["weekdays"] if r["best_er"] or r["best_cpr"]]
    best_kinds = [r["label"] for r in insights["kinds"] if r["best_er"] or r["best_cpr"]]
    plan = response.context["planning"]["plan"]
    assert [d["label"] for d in plan["weekdays"]] == best_days and best_days
    assert [k["label"] for k in plan["content_kinds"]] == best_kinds and best_kinds
    for label in best_days + best_kinds:
        assert f"<strong>{label}</strong>" in html
    for finding in insights["findings"]:
        label = finding.split(": ", 1)[1].split(" (")[0]
        assert label in best_days + best_kinds

    # The lessons and where it all comes from.
    for text in LESSONS.values():
        assert text in html
    assert "Carried over from “" in html and reverse("reports:detail", args=[campaign.pk]) in html
    assert "Nothing is saved until you create the campaign" in html


def test_opening_the_plan_form_saves_nothing(planned_report, login, manager):
    campaign, _ = planned_report
    campaigns, history = Campaign.objects.count(), StatusChange.objects.count()
    assert login(manager).get(_url(campaign)).status_code == 200
    assert Campaign.objects.count() == campaigns and StatusChange.objects.count() == history


def test_a_campaign_without_targets_gets_its_result_metric_target(
    campaign, manager, login, django_capture_on_commit_callbacks
):
    metrics_generate(campaign, days=7, content=1)
    with django_capture_on_commit_callbacks(execute=True):
        campaign_end(campaign, manager)
    report = campaign.close_report
    assert report.snapshot["targets"] == []
    response = login(manager).get(_url(campaign))
    views = report.snapshot["totals"]["video_views"]
    assert response.context["form"]["target_views"].value() == int(_two_figures(views, up=True))
    assert "No lessons were written on its report." in response.content.decode()


# --- saving ---------------------------------------------------------------------------------------------------


def test_saving_creates_one_planned_campaign_audited_and_not_linked(planned_report, login, manager):
    campaign, report = planned_report
    client = login(manager)
    response = client.get(_url(campaign))
    before = set(Campaign.objects.values_list("pk", flat=True))
    data = _form_data(response, name="Autumn Glow", budget_amount="175.00", platform_id="1800000099999")
    response = client.post(_url(campaign), data)

    created = Campaign.objects.exclude(pk__in=before)
    assert created.count() == 1
    planned = created.get()
    assert response.status_code == 302 and response["Location"] == reverse("campaigns:detail", args=[planned.pk])
    assert planned.planned_from == campaign and planned.account == campaign.account
    assert planned.name == "Autumn Glow" and planned.budget_amount == Decimal("175.00")
    assert planned.platform_id == ""  # never linked, whatever was posted: nothing is pushed
    assert planned.status == Status.ACTIVE and planned.starts_later(today_in(planned.account))
    assert planned.owner == manager
    assert planned.plan["from"] == {
        "id": campaign.pk,
        "name": "Spring Glow",
        "report_id": report.pk,
        "ended": report.snapshot["ended"]["date"],
        "ended_display": planned.plan["from"]["ended_display"],
    }
    assert {k: planned.plan["lessons"][k] for k in LESSONS} == LESSONS
    assert [t["field"] for t in planned.plan["targets"]] == [
        "target_views",
        "target_engagement_rate",
        "target_cost_per_result",
    ]
    entry = StatusChange.objects.get(campaign=planned)
    assert entry.details["created"] and entry.details["planned_from"] == {"id": campaign.pk, "name": "Spring Glow"}
    assert entry.actor == manager

    page = client.get(response["Location"]).content.decode()
    assert "Planned from “Spring Glow” by mona-manager" in page  # the history
    assert f"Starts {planned.start_date.day} {planned.start_date:%b}" in page  # scheduled, not delivering
    assert "sync" not in entry.details


def test_new_campaign_page_shows_planned_from_and_the_lessons(planned_report, login, manager, viewer):
    campaign, _ = planned_report
    client = login(manager)
    client.post(_url(campaign), _form_data(client.get(_url(campaign))))
    planned = Campaign.objects.get(planned_from=campaign)
    html = login(viewer).get(reverse("campaigns:detail", args=[planned.pk])).content.decode()
    panel = html[html.index('id="plan-from"') :]
    panel = panel[: panel.index("</section>")]
    assert "Planned from" in panel and reverse("campaigns:detail", args=[campaign.pk]) in panel
    for text in LESSONS.values():
        assert text in panel
    assert "Video views target" in panel and "reached" in panel
    for day in planned.plan["weekdays"]:
        assert day["label"] in panel


def test_bad_input_says_what_is_wrong_and_keeps_the_prefilled_values(planned_report, login, manager):
    campaign, _ = planned_report
    client = login(manager)
    data = _form_data(client.get(_url(campaign)), budget_amount="0", name="Kept Name")
    count = Campaign.objects.count()
    response = client.post(_url(campaign), data)
    html = response.content.decode()
    assert response.status_code == 400
    assert Campaign.objects.count() == count
    assert "The budget must be more than 0." in html
    assert 'value="Kept Name"' in html and f'value="{data["target_views"]}"' in html
    assert "Carried over from “" in html  # what was carried over is still shown


def test_the_planned_campaign_is_edited_before_it_runs(planned_report, login, manager):
    campaign, _ = planned_report
    client = login(manager)
    client.post(_url(campaign), _form_data(client.get(_url(campaign))))
    planned = Campaign.objects.get(planned_from=campaign)
    edit_url = reverse("campaigns:edit", args=[planned.pk])
    response = client.get(edit_url)
    data = _form_data(response, target_views="250000", audience="Women 25-44")
    response = client.post(edit_url, data)
    assert response.status_code == 302
    planned.refresh_from_db()
    assert planned.target_views == 250_000 and planned.audience == "Women 25-44"
    assert planned.planned_from == campaign and planned.plan["lessons"]  # the plan stays
    assert planned.starts_later(today_in(planned.account))
    page = client.get(reverse("campaigns:detail", args=[planned.pk])).content.decode()
    suggested = planned.plan["targets"][0]["value"]
    assert "Edited by mona-manager" in page and f"Video views target: {suggested:,} → 250,000" in page


def test_the_plan_stays_readable_after_the_previous_campaign_is_deleted(planned_report, login, manager):
    campaign, _ = planned_report
    client = login(manager)
    client.post(_url(campaign), _form_data(client.get(_url(campaign))))
    planned = Campaign.objects.get(planned_from=campaign)
    campaign.delete()
    planned.refresh_from_db()
    assert planned.planned_from is None
    html = client.get(reverse("campaigns:detail", args=[planned.pk])).content.decode()
    assert '“Spring Glow” <span class="muted">(since deleted)</span>' in html
    assert LESSONS["what_worked"] in html


# --- where it is offered --------------------------------------------------------------------------------------


def test_offered_on_the_ended_campaigns_report_and_page_to_managers(planned_report, login, manager):
    campaign, _ = planned_report
    client = login(manager)
    for url in (reverse("reports:detail", args=[campaign.pk]), reverse("campaigns:detail", args=[campaign.pk])):
        html = client.get(url).content.decode()
        assert f'href="{_url(campaign)}"' in html and "Plan the next one…" in html


def test_not_offered_for_a_campaign_that_has_not_ended(campaign, login, manager):
    client = login(manager)
    assert "Plan the next one" not in client.get(reverse("campaigns:detail", args=[campaign.pk])).content.decode()
    assert client.get(_url(campaign)).status_code == 404
    assert client.post(_url(campaign), {"name": "x"}).status_code == 404


def test_not_offered_for_an_ended_campaign_without_a_report(campaign, login, manager):
    campaign_end(campaign, manager)  # the report is built on commit: not run here
    campaign.refresh_from_db()
    assert campaign.is_ended
    client = login(manager)
    assert "Plan the next one" not in client.get(reverse("campaigns:detail", args=[campaign.pk])).content.decode()
    assert client.get(_url(campaign)).status_code == 404


# --- permissions ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", [Role.VIEWER, Role.EDITOR])
def test_viewers_and_editors_cannot_plan(planned_report, login, role):
    campaign, _ = planned_report
    user = UserFactory(username=f"someone-{role}")
    MembershipFactory(user=user, account=campaign.account, role=role)
    client = login(user)
    for url in (reverse("reports:detail", args=[campaign.pk]), reverse("campaigns:detail", args=[campaign.pk])):
        assert "Plan the next one" not in client.get(url).content.decode()
    count = Campaign.objects.count()
    assert client.get(_url(campaign)).status_code == 403
    assert client.post(_url(campaign), {"name": "Sneaky"}).status_code == 403
    assert Campaign.objects.count() == count


def test_a_user_without_access_to_the_account_gets_404(planned_report, login, outsider):
    campaign, _ = planned_report
    count = Campaign.objects.count()
    client = login(outsider)
    assert client.get(_url(campaign)).status_code == 404
    assert client.post(_url(campaign), {"name": "Sneaky"}).status_code == 404
    assert Campaign.objects.count() == count


def test_login_required(planned_report, client):
    campaign, _ = planned_report
    response = client.get(_url(campaign))
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_not_offered_in_an_account_connected_to_the_platform(manager, login, django_capture_on_commit_callbacks):
    connected = AccountFactory(name="Connected", connector=Connector.TIKTOK)
    MembershipFactory(user=manager, account=connected, role=Role.MANAGER)
    campaign = CampaignFactory(account=connected, name="Linked")
    metrics_generate(campaign, days=7, content=1)
    Campaign.objects.filter(pk=campaign.pk).update(status=Status.ENDED)
    reports_create(campaign_ids=[campaign.pk])
    campaign.refresh_from_db()
    assert campaign.close_report
    client = login(manager)
    assert "Plan the next one" not in client.get(reverse("reports:detail", args=[campaign.pk])).content.decode()
    assert "Plan the next one" not in client.get(reverse("campaigns:detail", args=[campaign.pk])).content.decode()
    assert client.get(_url(campaign)).status_code == 403


def test_a_campaign_is_planned_only_from_one_of_its_own_account(planned_report, manager, other_account):
    campaign, _ = planned_report
    with pytest.raises(CampaignError):
        campaign_create(
            account=other_account,
            actor=manager,
            values={"name": "Elsewhere", "start_date": dt.date.today(), "budget_amount": Decimal("10")},
            planned_from=campaign,
            plan={"from": {"id": campaign.pk}},
        )
    assert not Campaign.objects.filter(name="Elsewhere").exists()
