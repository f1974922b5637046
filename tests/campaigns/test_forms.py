from decimal import Decimal

import pytest
from django.urls import reverse

from campaigns.models import Action, Campaign, Connector, ContentItem, StatusChange
from tests.factories import AccountFactory, CampaignFactory, ContentItemFactory, MembershipFactory

pytestmark = pytest.mark.django_db


def form_data(campaign=None, **overrides):
    data = {
        "name": "Handmade",
        "platform_id": "",
        "objective": "reach",
        "budget_mode": "daily",
        "budget_amount": "50.00",
        "start_date": "2030-01-01",
        "end_date": "2030-01-31",
        "audience": "Students",
        "target_views": "",
        "target_reach": "10000",
        "target_clicks": "",
        "target_followers": "",
        "target_engagement_rate": "",
        "target_cost_per_result": "",
        "content-TOTAL_FORMS": "1",
        "content-INITIAL_FORMS": "0",
        "content-MIN_NUM_FORMS": "0",
        "content-MAX_NUM_FORMS": "1000",
        "content-0-kind": "video",
        "content-0-title": "Teaser",
        "content-0-url": "https://www.tiktok.com/@brand/video/1",
        "content-0-platform_id": "",
        "content-0-state": "live",
    }
    data.update(overrides)
    return data


def test_manager_creates_campaign_with_content(login, manager, account):
    response = login(manager).post(reverse("campaigns:create"), form_data(account=account.pk))

    campaign = Campaign.objects.get(name="Handmade")
    assert response.status_code == 302
    assert campaign.account == account
    assert campaign.owner == manager
    assert [c.title for c in campaign.content_items.all()] == ["Teaser"]
    assert StatusChange.objects.get(campaign=campaign, action=Action.EDIT).details["created"] is True


def test_create_shows_errors_inline(login, manager, account):
    response = login(manager).post(
        reverse("campaigns:create"), form_data(account=account.pk, name="", end_date="2029-01-01")
    )

    html = response.content.decode()
    assert response.status_code == 400
    assert "This field is required." in html
    assert "The end date must be on or after the start date." in html
    assert 'aria-invalid="true"' in html


def test_create_refused_for_connected_accounts_and_non_managers(login, editor, account):
    assert login(editor).get(reverse("campaigns:create")).status_code == 403
    connected = AccountFactory(connector=Connector.TIKTOK)
    manager_elsewhere = MembershipFactory(account=connected, role="manager").user
    assert login(manager_elsewhere).get(reverse("campaigns:create")).status_code == 403


def test_edit_records_changed_fields_in_history(login, manager, campaign):
    item = ContentItemFactory(campaign=campaign, title="Old video")
    data = form_data(
        name="Spring Glow",
        platform_id=campaign.platform_id,
        objective=campaign.objective,
        budget_amount="120.00",
        start_date=campaign.start_date.isoformat(),
        end_date=campaign.end_date.isoformat(),
        **{
            "content-TOTAL_FORMS": "2",
            "content-INITIAL_FORMS": "1",
            "content-0-id": str(item.pk),
            "content-0-title": "Old video",
            "content-0-kind": "video",
            "content-0-url": item.url,
            "content-0-state": "removed",
            "content-1-kind": "post",
            "content-1-title": "New post",
            "content-1-url": "",
            "content-1-platform_id": "",
            "content-1-state": "live",
        },
    )

    response = login(manager).post(reverse("campaigns:edit", args=[campaign.pk]), data)

    assert response.status_code == 302
    campaign.refresh_from_db()
    assert campaign.budget_amount == Decimal("120.00")
    entry = StatusChange.objects.get(campaign=campaign, action=Action.EDIT)
    assert entry.actor == manager
    assert entry.details["changed"]["budget_amount"] == ["100.00", "120.00"]
    assert entry.details["changed"]["audience"] == ["", "Students"]
    assert entry.details["content_added"] == ["New post"]
    assert entry.details["content_changed"] == {"Old video": ["state"]}
    assert ContentItem.objects.get(pk=item.pk).state == "removed"


def test_edit_of_connected_campaign_keeps_platform_fields(login, manager, account):
    account.connector = Connector.TIKTOK
    account.save(update_fields=["connector"])
    campaign = CampaignFactory(account=account, name="Platform name", budget_amount=Decimal("100"))
    client = login(manager)

    page = client.get(reverse("campaigns:edit", args=[campaign.pk])).content.decode()
    response = client.post(
        reverse("campaigns:edit", args=[campaign.pk]),
        form_data(name="Hacked", budget_amount="1", audience="New audience", **{"content-TOTAL_FORMS": "0"}),
    )

    assert "managed on the platform" in page
    assert response.status_code == 302
    campaign.refresh_from_db()
    assert (campaign.name, campaign.budget_amount) == ("Platform name", Decimal("100"))
    assert campaign.audience == "New audience"


def test_edit_without_changes_writes_no_history(login, manager, campaign):
    data = form_data(
        name=campaign.name,
        platform_id=campaign.platform_id,
        objective=campaign.objective,
        budget_amount="100.00",
        start_date=campaign.start_date.isoformat(),
        end_date=campaign.end_date.isoformat(),
        audience="",
        target_reach="",
        **{"content-TOTAL_FORMS": "0"},
    )

    login(manager).post(reverse("campaigns:edit", args=[campaign.pk]), data)

    assert not StatusChange.objects.filter(campaign=campaign).exists()


def test_edit_as_editor_is_403_and_other_account_404(login, editor, outsider, campaign):
    assert login(editor).get(reverse("campaigns:edit", args=[campaign.pk])).status_code == 403
    assert login(outsider).get(reverse("campaigns:edit", args=[campaign.pk])).status_code == 404


def test_edit_page_renders_dates_for_date_inputs(login, manager, campaign):
    html = login(manager).get(reverse("campaigns:edit", args=[campaign.pk])).content.decode()

    assert f'value="{campaign.start_date.isoformat()}"' in html
