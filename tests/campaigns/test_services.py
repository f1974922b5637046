import itertools
from decimal import Decimal

import pytest

from campaigns import services, signals
from campaigns.models import Action, Campaign, Connector, EndReason, Role, Source, Status, StatusChange, SyncState
from campaigns.services import Outcome
from tests.factories import CampaignFactory, DailyMetricFactory

pytestmark = pytest.mark.django_db

ALLOWED = {
    (Status.ACTIVE, Action.PAUSE): Status.PAUSED,
    (Status.PAUSED, Action.RESUME): Status.ACTIVE,
    (Status.ACTIVE, Action.END): Status.ENDED,
    (Status.PAUSED, Action.END): Status.ENDED,
}
NO_OP = {(Status.PAUSED, Action.PAUSE), (Status.ACTIVE, Action.RESUME), (Status.ENDED, Action.END)}
FORBIDDEN = {(Status.ENDED, Action.PAUSE), (Status.ENDED, Action.RESUME)}


def end_kwargs(action):
    return {"reason_code": EndReason.OBJECTIVES_MET} if action == Action.END else {}


def test_transition_table_covers_every_status_action_pair():
    pairs = set(itertools.product(Status.values, [Action.PAUSE, Action.RESUME, Action.END]))
    assert pairs == set(ALLOWED) | NO_OP | FORBIDDEN


@pytest.mark.parametrize(("start", "action"), sorted(ALLOWED))
def test_allowed_transition_changes_status_and_writes_one_audit_row(account, manager, start, action):
    campaign = CampaignFactory(account=account, status=start)

    outcome = services.campaign_transition(
        campaign=campaign, action=action, actor=manager, source=Source.UI, **end_kwargs(action)
    )

    assert outcome == Outcome.CHANGED
    assert campaign.status == ALLOWED[(start, action)]
    assert campaign.status_changed_by == manager
    change = StatusChange.objects.get(campaign=campaign)
    assert (change.from_status, change.to_status, change.action) == (start, ALLOWED[(start, action)], action)
    assert change.actor == manager
    assert change.source == Source.UI


@pytest.mark.parametrize(("start", "action"), sorted(NO_OP))
def test_move_into_current_state_is_a_quiet_no_op(account, manager, start, action):
    campaign = CampaignFactory(account=account, status=start)

    outcome = services.campaign_transition(
        campaign=campaign, action=action, actor=manager, source=Source.UI, **end_kwargs(action)
    )

    assert outcome == Outcome.ALREADY
    assert campaign.status == start
    assert not StatusChange.objects.exists()


@pytest.mark.parametrize(("start", "action"), sorted(FORBIDDEN))
def test_forbidden_transition_raises_readable_error_and_writes_nothing(account, manager, start, action):
    campaign = CampaignFactory(account=account, status=start, name="Winter Drop")

    with pytest.raises(services.TransitionNotAllowed, match="Winter Drop.*is ended"):
        services.campaign_transition(campaign=campaign, action=action, actor=manager, source=Source.UI)

    campaign.refresh_from_db()
    assert campaign.status == start
    assert not StatusChange.objects.exists()


def test_end_requires_a_reason(campaign, manager):
    with pytest.raises(services.ReasonRequired):
        services.campaign_transition(campaign=campaign, action=Action.END, actor=manager, source=Source.UI)
    with pytest.raises(services.ReasonRequired, match="note"):
        services.campaign_transition(
            campaign=campaign, action=Action.END, actor=manager, source=Source.UI, reason_code=EndReason.OTHER
        )
    campaign.refresh_from_db()
    assert campaign.status == Status.ACTIVE


def test_end_records_reason_and_end_time(campaign, manager):
    services.campaign_transition(
        campaign=campaign,
        action=Action.END,
        actor=manager,
        source=Source.UI,
        reason_code=EndReason.OTHER,
        reason_note="Influencer withdrew",
    )
    assert campaign.end_reason == EndReason.OTHER
    assert campaign.ended_at is not None
    change = campaign.history.get()
    assert change.reason_note == "Influencer withdrew"


@pytest.mark.parametrize(
    ("fixture", "action", "expected"),
    [
        ("viewer", Action.PAUSE, Outcome.NOT_PERMITTED),
        ("editor", Action.PAUSE, Outcome.CHANGED),
        ("editor", Action.END, Outcome.NOT_PERMITTED),
        ("manager", Action.END, Outcome.CHANGED),
        ("outsider", Action.PAUSE, Outcome.NOT_FOUND),
    ],
)
def test_role_decides_what_a_member_may_do(request, campaign, fixture, action, expected):
    user = request.getfixturevalue(fixture)
    result = services.campaigns_transition(
        campaign_ids=[campaign.pk], action=action, actor=user, source=Source.UI, **end_kwargs(action)
    )
    assert result.outcomes[campaign.pk] == expected
    assert StatusChange.objects.count() == (1 if expected == Outcome.CHANGED else 0)


def test_single_transition_by_viewer_raises_not_permitted(campaign, viewer):
    with pytest.raises(services.NotPermitted, match="editor role"):
        services.campaign_transition(campaign=campaign, action=Action.PAUSE, actor=viewer, source=Source.UI)


def test_bulk_reports_each_campaigns_outcome(account, editor, other_campaign):
    active = CampaignFactory.create_batch(3, account=account, status=Status.ACTIVE)
    paused = CampaignFactory(account=account, status=Status.PAUSED)
    ended = CampaignFactory(account=account, status=Status.ENDED, name="Old Promo")
    ids = [c.pk for c in active] + [paused.pk, ended.pk, other_campaign.pk, 999_999]

    result = services.campaigns_transition(campaign_ids=ids, action=Action.PAUSE, actor=editor, source=Source.UI)

    assert sorted(result.changed_ids) == sorted(c.pk for c in active)
    assert result.outcomes[paused.pk] == Outcome.ALREADY
    assert result.outcomes[ended.pk] == Outcome.NOT_ALLOWED
    assert result.outcomes[other_campaign.pk] == Outcome.NOT_FOUND
    assert result.outcomes[999_999] == Outcome.NOT_FOUND
    assert other_campaign.name not in result.summary()
    assert result.summary().startswith("Paused 3 campaigns; 1 already in that state")
    assert "Old Promo" in result.summary()
    assert Campaign.objects.filter(status=Status.PAUSED).count() == 4
    assert StatusChange.objects.filter(action=Action.PAUSE).count() == 3


def test_bulk_costs_the_same_number_of_queries_for_3_or_60_campaigns(
    account, manager, django_assert_max_num_queries, django_capture_on_commit_callbacks
):
    few = [c.pk for c in CampaignFactory.create_batch(3, account=account)]
    many = [c.pk for c in CampaignFactory.create_batch(60, account=account)]
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as small:
        services.campaigns_transition(campaign_ids=few, action=Action.PAUSE, actor=manager, source=Source.UI)
    with CaptureQueriesContext(connection) as large:
        services.campaigns_transition(campaign_ids=many, action=Action.PAUSE, actor=manager, source=Source.UI)
    assert len(large.captured_queries) == len(small.captured_queries) <= 10


def test_same_idempotency_key_performs_the_action_once(campaign, manager):
    kwargs = {"action": Action.PAUSE, "actor": manager, "source": Source.UI, "idempotency_key": "k-123"}
    first = services.campaigns_transition(campaign_ids=[campaign.pk], **kwargs)
    services.campaigns_transition(campaign_ids=[campaign.pk], action=Action.RESUME, actor=manager, source=Source.UI)
    replay = services.campaigns_transition(campaign_ids=[campaign.pk], **kwargs)

    assert first.outcomes[campaign.pk] == Outcome.CHANGED
    assert replay.outcomes[campaign.pk] == Outcome.ALREADY
    campaign.refresh_from_db()
    assert campaign.status == Status.ACTIVE  # the replayed pause did not pause again
    assert StatusChange.objects.filter(action=Action.PAUSE).count() == 1


def test_connected_account_marks_change_pending_until_platform_confirms(account, editor):
    account.connector = Connector.TIKTOK
    account.save(update_fields=["connector"])
    campaign = CampaignFactory(account=account)

    services.campaign_transition(campaign=campaign, action=Action.PAUSE, actor=editor, source=Source.UI)

    assert campaign.status == Status.PAUSED
    assert campaign.sync_state == SyncState.PENDING
    assert campaign.display_status == "Pausing…"


def test_side_effects_start_only_after_commit(campaign, manager, django_capture_on_commit_callbacks):
    received = []

    def receiver(sender, change_ids, **kwargs):
        received.append(change_ids)

    signals.status_changed.connect(receiver)
    try:
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            services.campaign_transition(
                campaign=campaign, action=Action.END, actor=manager, source=Source.UI, **end_kwargs(Action.END)
            )
        assert received == []
        for callback in callbacks:
            callback()
        assert received == [[StatusChange.objects.get().pk]]
    finally:
        signals.status_changed.disconnect(receiver)


def test_totals_refresh_sums_campaign_level_metrics_only(campaign):
    DailyMetricFactory.create_batch(3, campaign=campaign, spend=Decimal("12.50"), video_views=100)
    from tests.factories import ContentItemFactory

    item = ContentItemFactory(campaign=campaign)
    DailyMetricFactory(campaign=campaign, content_item=item, spend=Decimal("99"), video_views=9999)

    services.campaign_totals_refresh(campaign_ids=[campaign.pk])

    campaign.refresh_from_db()
    assert campaign.total_spend == Decimal("37.50")
    assert campaign.total_video_views == 300


def test_metrics_upsert_is_idempotent(campaign):
    import datetime as dt

    rows = [
        {"campaign_id": campaign.pk, "content_item_id": None, "date": dt.date(2026, 1, d), "spend": "5.5", "likes": d}
        for d in range(1, 6)
    ]
    assert services.daily_metrics_upsert(rows=rows) == (5, 0)
    assert services.daily_metrics_upsert(rows=rows) == (0, 0)
    rows[0]["likes"] = 100
    assert services.daily_metrics_upsert(rows=rows) == (0, 1)
    campaign.refresh_from_db()
    assert campaign.total_spend == Decimal("27.50")
    assert campaign.total_likes == 100 + 2 + 3 + 4 + 5


@pytest.mark.parametrize(
    ("status", "role", "expected"),
    [
        (Status.ACTIVE, Role.VIEWER, []),
        (Status.ACTIVE, Role.EDITOR, ["pause"]),
        (Status.ACTIVE, Role.MANAGER, ["pause", "end"]),
        (Status.PAUSED, Role.EDITOR, ["resume"]),
        (Status.PAUSED, Role.MANAGER, ["resume", "end"]),
        (Status.ENDED, Role.MANAGER, []),
        (Status.ACTIVE, None, []),
    ],
)
def test_available_actions_follow_the_transition_table_and_role(account, status, role, expected):
    campaign = CampaignFactory(account=account, status=status)

    assert [str(a) for a in services.available_actions(campaign=campaign, role=role)] == expected
