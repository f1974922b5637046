"""The platform seam, proven with a second platform: an in-memory "Snapchat-like" connector written against
`campaigns.platforms.base` in this one module, registered with one registry line, and driven through the
ordinary services (transitions, push, pull) and views (bulk action, end dialog, account sync, retry sync).
Nothing outside this module knows it exists."""

import ast
import dataclasses
import datetime as dt
import re
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone

from campaigns import models, services
from campaigns.models import (
    Action,
    Campaign,
    EndReason,
    Notification,
    NotificationKind,
    Status,
    StatusChange,
    SyncState,
)
from campaigns.platforms import Capabilities, Connector, ConnectorError, MetricLevel, pull, push, registry
from campaigns.platforms.base import CampaignRecord, MetricRecord, StatusResult
from campaigns.platforms.none import NoneConnector
from campaigns.platforms.tiktok import TikTokConnector
from tests.factories import CampaignFactory, MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db

BULK = reverse("campaigns:bulk_action")


# The second platform ----------------------------------------------------------------------------------------


class SnapPlatform:
    """The platform's own state, in its own words (ACTIVE / PAUSED / ARCHIVED / DELETED, "LIFETIME" budgets)."""

    def __init__(self):
        self.campaigns: dict[str, dict] = {}
        self.metrics: list[dict] = []  # {"campaign": id, "ad": id or "", "ad_name", "day", "spend", "views"}
        self.calls: list[tuple] = []
        self.unconfirmed: set[str] = set()
        self.failure: ConnectorError | None = None

    def add(self, platform_id, name="", *, state="ACTIVE", goal="AWARENESS", budget="50.00", lifetime=False):
        self.campaigns[platform_id] = {"name": name, "state": state, "goal": goal, "budget": budget, "lt": lifetime}


class SnapConnector(Connector):
    name = "snapfake"
    capabilities = Capabilities(
        display_name="Snapchat",
        status_batch_size=3,
        rate_limit_per_second=5,
        metric_levels=(MetricLevel.CAMPAIGN, MetricLevel.AD),
        report_window_days=7,
    )
    platform: SnapPlatform  # set by the fixture
    STATES = {"ACTIVE": Status.ACTIVE, "PAUSED": Status.PAUSED, "ARCHIVED": Status.ENDED, "DELETED": Status.ENDED}
    GOALS = {"AWARENESS": models.Objective.REACH, "SWIPES": models.Objective.TRAFFIC}

    def _set(self, verb, platform_ids, state) -> StatusResult:
        ids = self.batch_check(platform_ids)
        self.platform.calls.append((verb, tuple(ids)))
        if self.platform.failure:
            raise self.platform.failure
        ok = {i for i in ids if i in self.platform.campaigns and i not in self.platform.unconfirmed}
        for i in ok:
            self.platform.campaigns[i]["state"] = state
        return StatusResult(confirmed=frozenset(ok), not_confirmed=frozenset(ids) - ok, platform_status=state)

    def campaigns_pause(self, *, platform_ids):
        return self._set("pause", platform_ids, "PAUSED")

    def campaigns_resume(self, *, platform_ids):
        return self._set("resume", platform_ids, "ACTIVE")

    def campaigns_end(self, *, platform_ids, delete=False):
        return self._set("end", platform_ids, "DELETED" if delete else "ARCHIVED")

    def campaigns_pull(self, *, platform_ids=None):
        self.platform.calls.append(("campaigns_pull", tuple(platform_ids or ())))
        for pid, c in self.platform.campaigns.items():
            if platform_ids and pid not in platform_ids:
                continue
            yield CampaignRecord(
                platform_id=pid,
                name=c["name"],
                objective=self.GOALS.get(c["goal"]),
                budget_mode=models.BudgetMode.LIFETIME if c["lt"] else models.BudgetMode.DAILY,
                budget=Decimal(c["budget"]),
                status=self.STATES.get(c["state"]),
                deleted=c["state"] == "DELETED",
                platform_status=c["state"],
                created=dt.datetime(2026, 5, 1, tzinfo=dt.UTC),
                modified=None,
            )

    def metrics_pull(self, *, level, start, end, platform_ids=None):
        assert level in self.capabilities.metric_levels
        assert (end - start).days < self.capabilities.report_window_days  # pull cut the range for us
        self.platform.calls.append(("metrics_pull", level, start, end))
        for row in self.platform.metrics:
            if start <= row["day"] <= end and bool(row["ad"]) == (level == MetricLevel.AD):
                yield MetricRecord(
                    campaign_id=row["campaign"],
                    ad_id=row["ad"],
                    ad_name=row.get("ad_name", ""),
                    date=row["day"],
                    metrics={"spend": Decimal(row["spend"]), "video_views": row["views"]},
                )

    def credentials_check(self):
        self.platform.calls.append(("credentials_check",))


@pytest.fixture
def snap(monkeypatch):
    platform = SnapPlatform()
    monkeypatch.setattr(SnapConnector, "platform", platform, raising=False)
    monkeypatch.setitem(registry.CONNECTORS, SnapConnector.name, SnapConnector)  # the one registry line
    return platform


@pytest.fixture
def snap_account(account, snap):
    account.connector = SnapConnector.name
    account.save(update_fields=["connector"])
    return account


def snap_campaigns(account, snap, n, *, status=Status.ACTIVE):
    campaigns = [
        CampaignFactory(account=account, name=f"Snap {i}", platform_id=f"snap-{i}", status=status) for i in range(n)
    ]
    for c in campaigns:
        snap.add(c.platform_id, c.name, state={Status.ACTIVE: "ACTIVE", Status.PAUSED: "PAUSED"}[status])
    return campaigns


def messages_of(response):
    return [str(m) for m in get_messages(response.wsgi_request)]


def account_today(account):
    return timezone.now().astimezone(ZoneInfo(account.timezone)).date()


# Through the views ------------------------------------------------------------------------------------------


def test_bulk_pause_view_pushes_in_the_declared_batch_size_and_confirms(
    snap_account, snap, manager, login, django_capture_on_commit_callbacks
):
    campaigns = snap_campaigns(snap_account, snap, 7)
    client = login(manager)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            BULK, {"action": "pause", "ids": [c.pk for c in campaigns], "confirmed": "on", "idempotency_key": "k1"}
        )

    assert response.status_code == 302
    assert [len(ids) for verb, ids in snap.calls] == [3, 3, 1]  # status_batch_size = 3
    assert {verb for verb, _ in snap.calls} == {"pause"}
    assert {c["state"] for c in snap.campaigns.values()} == {"PAUSED"}
    rows = Campaign.objects.filter(account=snap_account)
    assert set(rows.values_list("status", "sync_state", "platform_status")) == {
        (Status.PAUSED, SyncState.SYNCED, "PAUSED")
    }
    assert StatusChange.objects.filter(action=Action.PAUSE, actor=manager, source=models.Source.UI).count() == 7
    sync = StatusChange.objects.filter(action=Action.SYNC)
    assert sync.count() == 7
    assert {tuple(sorted(d.items())) for d in sync.values_list("details", flat=True)} == {
        (("event", "confirmed"), ("operation", "PAUSED"), ("platform", "snapfake"))
    }


def test_bulk_resume_view_resumes_on_the_platform(
    snap_account, snap, manager, login, django_capture_on_commit_callbacks
):
    (campaign,) = snap_campaigns(snap_account, snap, 1, status=Status.PAUSED)

    with django_capture_on_commit_callbacks(execute=True):
        login(manager).post(
            BULK, {"action": "resume", "ids": [campaign.pk], "confirmed": "on", "idempotency_key": "k2"}
        )

    campaign.refresh_from_db()
    assert (campaign.status, campaign.sync_state, campaign.platform_status) == (
        Status.ACTIVE,
        SyncState.SYNCED,
        "ACTIVE",
    )
    assert snap.calls == [("resume", (campaign.platform_id,))]


@pytest.mark.parametrize(("delete", "state"), [(False, "ARCHIVED"), (True, "DELETED")])
def test_end_dialog_and_bulk_end_view_end_on_the_platform_and_confirm_the_winddown_step(
    snap_account, snap, manager, login, django_capture_on_commit_callbacks, delete, state
):
    (campaign,) = snap_campaigns(snap_account, snap, 1)
    client = login(manager)

    dialog = client.get(reverse("campaigns:end_confirm") + f"?ids={campaign.pk}").content.decode()
    assert "Also delete on Snapchat" in dialog
    assert "Irreversible on Snapchat too" in dialog
    assert "TikTok" not in dialog

    data = {
        "action": "end",
        "ids": [campaign.pk],
        "confirmed": "on",
        "idempotency_key": f"k-end-{delete}",
        "reason_code": EndReason.OBJECTIVES_MET,
        "confirm_text": campaign.name,
    }
    if delete:
        data["delete_on_platform"] = "on"
    with django_capture_on_commit_callbacks(execute=True):
        client.post(BULK, data)

    campaign.refresh_from_db()
    assert (campaign.status, campaign.sync_state, campaign.platform_status) == (Status.ENDED, SyncState.SYNCED, state)
    assert snap.campaigns[campaign.platform_id]["state"] == state
    assert StatusChange.objects.get(campaign=campaign, action=Action.END).actor == manager
    step = models.WindDownStep.objects.get(campaign=campaign, kind=models.WindDownStepKind.PLATFORM_CONFIRMED)
    assert step.done_at is not None and step.automatic
    page = client.get(reverse("campaigns:winddown", args=[campaign.pk])).content.decode()
    assert "Snapchat confirmed the end." in page
    assert "TikTok" not in page


def test_account_sync_view_pulls_campaigns_drift_and_metrics_in_declared_windows(
    snap_account, snap, editor, login, django_capture_on_commit_callbacks
):
    (known,) = snap_campaigns(snap_account, snap, 1)
    gone = CampaignFactory(account=snap_account, name="Gone", platform_id="snap-gone")
    snap.add("snap-gone", "Gone", state="DELETED")
    snap.campaigns[known.platform_id]["state"] = "PAUSED"  # paused in the platform's own UI
    snap.add("snap-new", "", goal="SWIPES", budget="900.00", lifetime=True)
    today = account_today(snap_account)
    snap.metrics += [
        {"campaign": known.platform_id, "ad": "", "day": today - dt.timedelta(days=20), "spend": "12.50", "views": 300},
        {"campaign": known.platform_id, "ad": "", "day": today, "spend": "2.25", "views": 40},
        {"campaign": known.platform_id, "ad": "ad-1", "ad_name": "Lens", "day": today, "spend": "1.00", "views": 9},
        {"campaign": "not-ours", "ad": "", "day": today, "spend": "5.00", "views": 1},
    ]

    with django_capture_on_commit_callbacks(execute=True):
        response = login(editor).post(reverse("campaigns:account_sync", args=[snap_account.pk]), follow=True)

    (message,) = messages_of(response)
    assert message == "Synced 3 campaigns (1 new, 2 changed on Snapchat) and 3 daily metric rows."
    known.refresh_from_db()
    gone.refresh_from_db()
    assert (known.status, known.sync_state, known.platform_status) == (Status.PAUSED, SyncState.SYNCED, "PAUSED")
    assert (known.total_spend, known.total_video_views) == (Decimal("14.75"), 340)
    change = StatusChange.objects.get(campaign=known, action=Action.PAUSE)
    assert (change.source, change.actor) == (models.Source.PLATFORM, None)
    assert gone.status == Status.ENDED
    assert StatusChange.objects.get(campaign=gone, action=Action.END).reason_note == "Deleted in Snapchat Ads Manager."
    new = Campaign.objects.get(platform_id="snap-new")
    assert (new.name, new.objective, new.budget_mode, new.budget_amount) == (
        "Snapchat campaign snap-new",
        models.Objective.TRAFFIC,
        models.BudgetMode.LIFETIME,
        Decimal("900.00"),
    )
    ad = models.ContentItem.objects.get(campaign=known, platform_id="ad-1")
    assert (ad.title, models.DailyMetric.objects.get(content_item=ad).video_views) == ("Lens", 9)
    windows = [(call[1], (call[3] - call[2]).days + 1) for call in snap.calls if call[0] == "metrics_pull"]
    # The sync's windows; the backfill of the account's history (its first sync) follows on commit.
    assert windows[:10] == [(MetricLevel.CAMPAIGN, d) for d in (7, 7, 7, 7, 2)] + [
        (MetricLevel.AD, d) for d in (7, 7, 7, 7, 2)
    ]
    # Nothing that came from the platform is pushed back to it.
    assert not [call for call in snap.calls if call[0] in ("pause", "resume", "end")]
    page = login(editor).get(reverse("campaigns:account_detail", args=[snap_account.pk])).content.decode()
    assert "Awaiting Snapchat" in page
    assert "Awaiting TikTok" not in page


def test_retry_sync_view_names_the_platform(snap_account, snap, editor, login, django_capture_on_commit_callbacks):
    (campaign,) = snap_campaigns(snap_account, snap, 1, status=Status.PAUSED)
    Campaign.objects.filter(pk=campaign.pk).update(sync_state=SyncState.FAILED, sync_error="x")
    snap.campaigns[campaign.platform_id]["state"] = "ACTIVE"

    with django_capture_on_commit_callbacks(execute=True):
        response = login(editor).post(reverse("campaigns:retry_sync", args=[campaign.pk]), follow=True)

    # The push runs after the request's commit: the page says it is on its way, then the platform has it.
    assert messages_of(response) == ["Sending “Snap 0” to Snapchat again…"]
    assert snap.campaigns[campaign.platform_id]["state"] == "PAUSED"
    campaign.refresh_from_db()
    assert campaign.sync_state == SyncState.SYNCED


# Through the services ---------------------------------------------------------------------------------------


def test_services_transition_then_push_pause_resume_end(snap_account, snap, manager):
    (campaign,) = snap_campaigns(snap_account, snap, 1)
    end = {"reason_code": EndReason.OBJECTIVES_MET, "delete_on_platform": True}
    steps = [
        (Action.PAUSE, {}, "Pausing…", "PAUSED"),
        (Action.RESUME, {}, "Resuming…", "ACTIVE"),
        (Action.END, end, "Ending…", "DELETED"),
    ]
    for action, extra, waiting, state in steps:
        result = services.campaigns_transition(
            campaign_ids=[campaign.pk], action=action, actor=manager, source=models.Source.UI, **extra
        )
        assert result.changed_ids == [campaign.pk]
        campaign.refresh_from_db()
        assert (campaign.sync_state, campaign.display_status) == (SyncState.PENDING, waiting)

        assert push.platform_push(campaign_ids=[campaign.pk]) == {
            "calls": 1,
            "confirmed": 1,
            "retrying": 0,
            "failed": 0,
        }

        campaign.refresh_from_db()
        assert (campaign.sync_state, campaign.platform_status) == (SyncState.SYNCED, state)
    assert [verb for verb, _ in snap.calls] == ["pause", "resume", "end"]


def test_push_unconfirmed_ids_retry_then_fail_with_the_platforms_name(snap_account, snap, manager):
    first, second = snap_campaigns(snap_account, snap, 2)
    snap.unconfirmed.add(second.platform_id)
    Campaign.objects.filter(pk__in=[first.pk, second.pk]).update(status=Status.PAUSED, sync_state=SyncState.PENDING)

    assert push.platform_push(campaign_ids=[first.pk, second.pk]) == {
        "calls": 1,
        "confirmed": 1,
        "retrying": 1,
        "failed": 0,
    }
    second.refresh_from_db()
    assert second.sync_error == "Retrying: Snapchat did not confirm the change for this campaign."
    for _ in range(push.PUSH_MAX_ATTEMPTS):
        push.platform_push(campaign_ids=[second.pk])

    second.refresh_from_db()
    assert second.sync_state == SyncState.FAILED
    notification = Notification.objects.get(kind=NotificationKind.SYNC_FAILED, recipient=manager)
    assert notification.title == "Snapchat did not apply a change to 1 campaign"
    failed = StatusChange.objects.filter(campaign=second, action=Action.SYNC).get()
    assert failed.details["event"] == "failed" and failed.details["operation"] == "pause"


def test_push_auth_error_asks_to_reconnect_to_the_platform(snap_account, snap, manager):
    campaigns = snap_campaigns(snap_account, snap, 5)
    snap.failure = ConnectorError("Snapchat says the token was revoked.", auth=True)
    ids = [c.pk for c in campaigns]
    Campaign.objects.filter(pk__in=ids).update(status=Status.PAUSED, sync_state=SyncState.PENDING)

    counts = push.platform_push(campaign_ids=ids)

    assert counts["failed"] == 5 and len(snap.calls) == 1  # the second batch is not even tried
    snap_account.refresh_from_db()
    assert snap_account.needs_reconnect
    (notification,) = Notification.objects.filter(kind=NotificationKind.RECONNECT)
    assert notification.title == "Reconnect Acme Beauty to Snapchat"


def test_push_of_an_unlinked_campaign_names_the_platform(snap_account, snap):
    campaign = CampaignFactory(account=snap_account, platform_id="")
    Campaign.objects.filter(pk=campaign.pk).update(status=Status.PAUSED, sync_state=SyncState.PENDING)

    push.platform_push(campaign_ids=[campaign.pk])

    campaign.refresh_from_db()
    assert campaign.sync_state == SyncState.FAILED
    assert campaign.sync_error.startswith("This campaign has no Snapchat campaign id yet")
    assert snap.calls == []


def test_pull_account_stores_metrics_and_flags_delivery_after_the_end(snap_account, snap, manager, settings):
    settings.CLOSEOUT_DELIVERY_GRACE_DAYS = 1
    (campaign,) = snap_campaigns(snap_account, snap, 1)
    ended_at = dt.datetime(2026, 6, 1, 12, tzinfo=dt.UTC)
    Campaign.objects.filter(pk=campaign.pk).update(status=Status.ENDED, ended_at=ended_at, end_reason="other")
    snap.campaigns[campaign.platform_id]["state"] = "ARCHIVED"
    snap.metrics.append(
        {"campaign": campaign.platform_id, "ad": "", "day": dt.date(2026, 6, 5), "spend": "9", "views": 1}
    )

    summary = pull.platform_pull_account(account=snap_account, days=10, today=dt.date(2026, 6, 10))

    assert summary["metrics"]["metric_rows"] == 1 and summary["still_delivering"] == [campaign.pk]
    (notification,) = Notification.objects.filter(kind=NotificationKind.STILL_DELIVERING)
    assert "Check it in Snapchat Ads Manager" in notification.body


def test_pull_asks_only_for_the_levels_a_connector_declares(snap_account, snap, monkeypatch):
    campaign_only = dataclasses.replace(SnapConnector.capabilities, metric_levels=(MetricLevel.CAMPAIGN,))
    monkeypatch.setattr(SnapConnector, "capabilities", campaign_only)
    snap_campaigns(snap_account, snap, 1)

    pull.platform_pull_account(account=snap_account, days=3, today=dt.date(2026, 6, 10))

    assert {call[1] for call in snap.calls if call[0] == "metrics_pull"} == {MetricLevel.CAMPAIGN}


def test_pull_campaign_final_pull_asks_for_that_campaign_only(snap_account, snap):
    (campaign,) = snap_campaigns(snap_account, snap, 1)
    Campaign.objects.filter(pk=campaign.pk).update(start_date=dt.date(2026, 6, 1))
    campaign.refresh_from_db()

    summary = pull.platform_pull_campaign(campaign=campaign, today=dt.date(2026, 6, 10))

    assert "error" not in summary
    assert snap.calls[0] == ("campaigns_pull", (campaign.platform_id,))
    assert len([call for call in snap.calls if call[0] == "metrics_pull"]) == 4  # 10 days, 7-day windows, 2 levels


def test_sync_failed_notification_names_the_platform(snap_account):
    owner = UserFactory(username="olga-owner")
    MembershipFactory(user=owner, account=snap_account, role=models.Role.EDITOR)
    a = CampaignFactory(account=snap_account, owner=owner)
    b = CampaignFactory(account=snap_account, owner=owner)

    services.notify_sync_failed(campaign_ids=[a.pk, b.pk], error="boom", attempt_key="1")

    notification = Notification.objects.get(recipient=owner)
    assert notification.title == "Snapchat did not confirm changes to 2 campaigns"
    assert "Check the campaign in Snapchat Ads Manager" in notification.body


# The registry and the seam itself ---------------------------------------------------------------------------


def test_platform_label_names_connected_and_manual_accounts(account, snap):
    assert registry.platform_label(account) == "TikTok"  # manual: the account's platform
    account.connector = SnapConnector.name
    assert registry.platform_label(account) == "Snapchat"
    account.connector = "tiktok"
    assert registry.platform_label(account) == "TikTok"
    account.connector = "unknown"
    assert registry.connector_class_for(account) is NoneConnector  # never sends anything anywhere


def test_every_registered_connector_implements_the_interface_and_declares_capabilities(account):
    assert {NoneConnector, TikTokConnector} <= set(registry.CONNECTORS.values())
    for value, cls in registry.CONNECTORS.items():
        assert cls.name == value
        assert isinstance(cls.capabilities, Capabilities)
        assert not cls.__abstractmethods__
    assert TikTokConnector.capabilities == Capabilities(
        display_name="TikTok",
        status_batch_size=20,
        rate_limit_per_second=10,
        metric_levels=(MetricLevel.CAMPAIGN, MetricLevel.AD),
        report_window_days=30,
    )


def test_status_batches_larger_than_declared_are_refused(snap_account, snap):
    connector = registry.connector_for(snap_account)

    with pytest.raises(ValueError, match="1–3 ids"):
        connector.campaigns_pause(platform_ids=["a", "b", "c", "d"])
    with pytest.raises(ValueError, match="1–3 ids"):
        connector.campaigns_pause(platform_ids=[])


# The platform's words stay in its module: TikTok's operations, statuses, fields and mappings appear in no other
# code of the seam's users (docstrings and comments may cite TikTok as the example; code and user-facing strings
# may not). The registry is the one place that names the TikTok connector class.
TIKTOK_STRINGS = re.compile(
    r"TikTok|\b(ENABLE|DISABLE|DELETE)\b|secondary_status|operation_status|BUDGET_MODE|AUCTION_|objective_type"
)
TIKTOK_NAMES = re.compile(
    r"(?i:tiktok)|^(ENABLE|DISABLE|STATUS_BATCH_SIZE|BUDGET_MODE_TOTAL|OBJECTIVE_FROM_PLATFORM|PLATFORM_STATUS_TO_OURS"
    r"|platform_operation|secondary_status|operation_status)$"
)
APP = Path(__file__).resolve().parents[2] / "campaigns"
SEAM_USERS = sorted(
    str(p.relative_to(APP.parent))
    for p in [
        *APP.glob("platforms/*.py"),
        *APP.glob("services/*.py"),
        *APP.glob("views*.py"),
        *APP.glob("views/*.py"),
        *APP.glob("templatetags/*.py"),
        APP / "forms.py",
    ]
    if p.name != "tiktok.py"
)


def _code_words(source: str) -> tuple[list[str], list[str]]:
    """(string constants that are not docstrings, identifiers) of a module."""
    tree = ast.parse(source)
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    strings, names = [], []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            strings.append(node.value)
        elif isinstance(node, ast.Name):
            names.append(node.id)
        elif isinstance(node, ast.Attribute):
            names.append(node.attr)
        elif isinstance(node, ast.alias):
            names.append((node.asname or node.name).rsplit(".", 1)[-1])
    return strings, names


@pytest.mark.parametrize("path", SEAM_USERS)
def test_tiktok_words_live_only_in_the_tiktok_connector(path):
    strings, names = _code_words((APP.parent / path).read_text())

    assert [s for s in strings if TIKTOK_STRINGS.search(s)] == []
    if path != "campaigns/platforms/registry.py":
        assert [n for n in names if TIKTOK_NAMES.search(n)] == []
