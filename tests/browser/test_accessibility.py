"""axe-core on every page a manager can reach with demo-like data (admin excluded): no serious or critical
violation, on desktop and on a phone-sized viewport. Plus the pause dialog and the end dialog opened from the
keyboard."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from campaigns import services
from campaigns.models import Action, EndReason, Notification, NotificationKind, Source, Status
from tests.factories import CampaignFactory, ContentItemFactory, DailyMetricFactory

pytestmark = pytest.mark.django_db(transaction=True)


def _metrics(campaign, days=20):
    for n in range(days):
        DailyMetricFactory(
            campaign=campaign,
            date=dt.date.today() - dt.timedelta(days=n + 1),
            spend=Decimal(40 + n),
            impressions=5000 + 100 * n,
            video_views=2000 + 50 * n,
        )
    services.campaign_totals_refresh(campaign_ids=[campaign.pk])


@pytest.fixture
def demo(account, manager, editor, viewer, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    live = CampaignFactory(account=account, name="Spring Glow", owner=manager, audience="Skincare fans 18–34")
    paused = CampaignFactory(account=account, name="Night Serum", status=Status.PAUSED)
    ContentItemFactory(campaign=live, title="Launch video")
    for campaign in (live, paused):
        _metrics(campaign)
    ended = []
    for name, reason in (("Summer Launch", EndReason.OBJECTIVES_MET), ("Autumn Teaser", EndReason.BUDGET_CONSTRAINTS)):
        campaign = CampaignFactory(account=account, name=name, owner=manager)
        ContentItemFactory(campaign=campaign, title=f"{name} video")
        _metrics(campaign)
        services.campaign_transition(
            campaign=campaign, action=Action.END, actor=manager, source=Source.UI, reason_code=reason
        )
        ended.append(campaign)
    services.scheduled_action_create(
        campaign=paused,
        action=Action.END,
        run_at=timezone.now() + dt.timedelta(days=3),
        actor=manager,
        reason_code=EndReason.OBJECTIVES_MET,
    )
    Notification.objects.create(
        recipient=manager, kind=NotificationKind.STATUS_CHANGED, title="Night Serum paused", body="By Eddie."
    )
    upload = SimpleUploadedFile(
        "export.csv", f"Campaign name,By Day,Cost\n{live.name},2026-05-01,1.00\nNope,2026-05-01,x\n".encode()
    )
    metric_import = services.metric_import_preview(account=account, upload=upload, actor=manager)
    return {"live": live, "paused": paused, "ended": ended, "account": account, "import": metric_import}


def _pages(demo):
    live, ended, account = demo["live"], demo["ended"], demo["account"]
    return {
        "campaign list": "/campaigns/",
        "campaign list filtered": "/campaigns/?tab=paused&sort=-name",
        "campaign detail": f"/campaigns/{live.pk}/",
        "campaign edit": f"/campaigns/{live.pk}/edit/",
        "campaign create": "/campaigns/new/",
        "end confirmation page": f"/campaigns/end/?ids={live.pk}",
        "calendar": "/campaigns/calendar/",
        "wind-down list": "/campaigns/wind-down/",
        "wind-down detail": f"/campaigns/{ended[0].pk}/wind-down/",
        "notifications": "/campaigns/notifications/",
        "notification preferences": "/campaigns/notifications/preferences/",
        "reports index": "/reports/",
        "report detail": f"/reports/{ended[0].pk}/",
        "report lessons editor": f"/reports/{ended[0].pk}/?edit=lessons",
        "report compare": f"/reports/compare/?ids={ended[0].pk}&ids={ended[1].pk}",
        "account page": f"/campaigns/accounts/{account.pk}/",
        "import preview": f"/campaigns/accounts/{account.pk}/imports/{demo['import'].pk}/",
    }


@pytest.mark.parametrize("width", [1366, 390], ids=["desktop", "phone"])
def test_every_manager_page_has_no_serious_axe_violation(login_page, live_server, manager, demo, axe, width):
    page = login_page(manager)
    page.set_viewport_size({"width": width, "height": 900})
    problems = {}
    for name, path in _pages(demo).items():
        response = page.goto(f"{live_server.url}{path}")
        assert response.status == 200, (name, response.status)
        page.wait_for_load_state("networkidle")
        violations = axe(page)
        if violations:
            problems[name] = violations
    assert problems == {}


def test_login_and_lockout_pages_have_no_serious_axe_violation(page, live_server, axe):
    page.goto(f"{live_server.url}/accounts/login/")
    assert axe(page) == []


def test_dialogs_opened_from_the_keyboard_have_no_serious_axe_violation(login_page, live_server, manager, demo, axe):
    page = login_page(manager)
    page.goto(f"{live_server.url}/campaigns/{demo['live'].pk}/")
    trigger = page.get_by_role("link", name="End campaign…")
    trigger.focus()
    page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog")
    dialog.wait_for()
    assert axe(page) == []
    page.keyboard.press("Escape")

    page.goto(f"{live_server.url}/campaigns/")
    page.get_by_label(f"Select {demo['live'].name}").check()
    page.get_by_role("button", name="Pause…").click()
    page.get_by_role("dialog").wait_for()
    assert axe(page) == []
