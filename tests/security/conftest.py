import pytest

from campaigns import services
from campaigns.models import Action, EndReason, Source, Status
from tests.factories import CampaignFactory, ContentItemFactory, DailyMetricFactory


@pytest.fixture
def ended_campaign(account, django_capture_on_commit_callbacks):
    """An ended campaign with content, metrics, its frozen report and its wind-down checklist (the real path)."""
    campaign = CampaignFactory(account=account, status=Status.ACTIVE, name="Autumn Close")
    ContentItemFactory(campaign=campaign)
    DailyMetricFactory(campaign=campaign)
    with django_capture_on_commit_callbacks(execute=True):
        services.campaigns_transition(
            campaign_ids=[campaign.pk],
            action=Action.END,
            actor=None,
            source=Source.COMMAND,
            reason_code=EndReason.OBJECTIVES_MET,
            enforce_role=False,
        )
    campaign.refresh_from_db()
    return campaign
