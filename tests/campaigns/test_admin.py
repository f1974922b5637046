import pytest

from campaigns.models import Action, Campaign, EndReason, Source, Status, StatusChange
from tests.factories import CampaignFactory

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/campaigns/campaign/"


@pytest.mark.parametrize(
    "page",
    [
        "campaign",
        "statuschange",
        "dailymetric",
        "adaccount",
        "membership",
        "contentitem",
        "scheduledaction",
        "winddownstep",
        "notification",
        "metricimport",
        "campaignwatch",
    ],
)
def test_admin_changelists_open_for_staff(login, staff, campaign, page):
    response = login(staff).get(f"/admin/campaigns/{page}/")
    assert response.status_code == 200


def test_admin_pause_action_is_audited_like_the_ui(login, staff, account):
    campaigns = CampaignFactory.create_batch(2, account=account)
    ended = CampaignFactory(account=account, status=Status.ENDED)

    response = login(staff).post(
        CHANGELIST,
        {"action": "pause_campaigns", "_selected_action": [c.pk for c in campaigns] + [ended.pk]},
        follow=True,
    )

    assert "Paused 2 campaigns; 1 not allowed from its current state" in response.content.decode()
    changes = StatusChange.objects.filter(action=Action.PAUSE)
    assert changes.count() == 2
    assert {c.source for c in changes} == {Source.ADMIN}
    assert {c.actor for c in changes} == {staff}


def test_admin_end_action_asks_for_a_reason_first(login, staff, campaign):
    client = login(staff)
    form = client.post(CHANGELIST, {"action": "end_campaigns", "_selected_action": [campaign.pk]})
    assert form.status_code == 200
    assert "cannot be resumed" in form.content.decode()
    assert Campaign.objects.get(pk=campaign.pk).status == Status.ACTIVE

    missing_note = client.post(
        CHANGELIST,
        {"action": "end_campaigns", "_selected_action": [campaign.pk], "apply": "1", "reason_code": "other"},
    )
    assert "note" in missing_note.content.decode()
    assert Campaign.objects.get(pk=campaign.pk).status == Status.ACTIVE

    client.post(
        CHANGELIST,
        {
            "action": "end_campaigns",
            "_selected_action": [campaign.pk],
            "apply": "1",
            "reason_code": EndReason.BUDGET_CONSTRAINTS,
        },
    )
    change = StatusChange.objects.get(campaign=campaign)
    assert (change.to_status, change.source, change.reason_code) == (Status.ENDED, Source.ADMIN, "budget_constraints")


def test_admin_cannot_edit_audit_rows(login, staff, campaign):
    from campaigns import services

    services.campaign_transition(
        campaign=campaign, action=Action.PAUSE, actor=staff, source=Source.ADMIN, enforce_role=False
    )
    change = StatusChange.objects.get()
    response = login(staff).post(f"/admin/campaigns/statuschange/{change.pk}/change/", {"reason_note": "tampered"})
    assert response.status_code == 403
    assert StatusChange.objects.get().reason_note == ""


def test_seed_demo_is_idempotent_and_audits_its_ends():
    from django.core.management import call_command

    call_command("seed_demo")
    first = (Campaign.objects.count(), StatusChange.objects.count())
    call_command("seed_demo")
    assert (Campaign.objects.count(), StatusChange.objects.count()) == first
    assert Campaign.objects.filter(status=Status.ENDED).count() >= 5
    ended = Campaign.objects.filter(status=Status.ENDED)
    assert StatusChange.objects.filter(action=Action.END, campaign__in=ended).count() == ended.count()
    assert all(c.total_spend > 0 for c in ended)


# --- issue 16: the admin's End asks for an explicit reason on a confirmation page ---


def test_admin_end_confirmation_preselects_no_reason_and_states_what_ends(login, staff, account):
    from decimal import Decimal

    from campaigns.models import BudgetMode

    running = CampaignFactory(
        account=account,
        name="Running",
        budget_mode=BudgetMode.LIFETIME,
        budget_amount=Decimal("1000"),
        total_spend=Decimal("250"),
    )
    over = CampaignFactory(account=account, name="Over", status=Status.ENDED)

    page = login(staff).post(CHANGELIST, {"action": "end_campaigns", "_selected_action": [running.pk, over.pk]})

    html = page.content.decode()
    assert '<option value="" selected>Choose a reason…</option>' in html
    assert "selected>Change in marketing strategy" not in html
    assert "1 campaign will end" in html and "spent 250.00 USD" in html and "about 750.00 USD" in html
    assert "1 campaign will not change" in html and "Over (Acme Beauty): already ended" in html
    assert 'value="End 1 campaign"' in html
    assert 'name="idempotency_key"' in html
    assert Campaign.objects.get(pk=running.pk).status == Status.ACTIVE


def test_admin_end_without_a_reason_ends_nothing(login, staff, campaign):
    response = login(staff).post(
        CHANGELIST, {"action": "end_campaigns", "_selected_action": [campaign.pk], "apply": "1", "reason_code": ""}
    )

    assert response.status_code == 200
    assert "This field is required." in response.content.decode()
    assert Campaign.objects.get(pk=campaign.pk).status == Status.ACTIVE
    assert not StatusChange.objects.exists()


def test_admin_end_double_submit_with_its_key_ends_once(login, staff, campaign):
    data = {
        "action": "end_campaigns",
        "_selected_action": [campaign.pk],
        "apply": "1",
        "reason_code": EndReason.OBJECTIVES_MET,
        "idempotency_key": "admin-key-1",
    }
    client = login(staff)

    client.post(CHANGELIST, data)
    again = client.post(CHANGELIST, data, follow=True)

    assert "1 already in that state" in again.content.decode()
    change = StatusChange.objects.get(campaign=campaign)
    assert (change.source, change.idempotency_key, change.actor) == (Source.ADMIN, "admin-key-1", staff)


def test_admin_search_matches_name_and_platform_id_like_the_list(login, staff, account):
    """The changelist searches the way the campaign list does (the search index of each database: on PostgreSQL
    the campaign table has no trigram index of its own since migration 0010)."""
    CampaignFactory(account=account, name="Spring Glow Drop", platform_id="1811112222")
    CampaignFactory(account=account, name="Autumn Blast", platform_id="1833334444")
    client = login(staff)

    def found(term):
        response = client.get("/admin/campaigns/campaign/", {"q": term})
        assert response.status_code == 200
        return sorted(c.name for c in response.context["cl"].result_list)

    assert found("glow d") == ["Spring Glow Drop"]
    assert found("33334") == ["Autumn Blast"]
    assert found("100%") == []  # a LIKE wildcard is a character to find
    assert len(found("")) == 2
