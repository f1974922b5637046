import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from campaigns import services
from campaigns.models import (
    WINDDOWN_STEP_COUNT,
    Action,
    Campaign,
    Connector,
    ContentState,
    EndReason,
    Role,
    Source,
    Status,
    StatusChange,
    SyncState,
    WindDownStep,
    WindDownStepKind,
)
from campaigns.selectors_winddown import pause_impact_for, winddown_open_campaigns_for_user
from campaigns.services import winddown
from tests.factories import CampaignFactory, ContentItemFactory, DailyMetricFactory, MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db

END = {"reason_code": EndReason.OBJECTIVES_MET}


def end(campaign, actor, source=Source.UI, **kwargs):
    return services.campaigns_transition(
        campaign_ids=[campaign.pk],
        action=Action.END,
        actor=actor,
        source=source,
        enforce_role=source == Source.UI,
        **(END | kwargs),
    )


def done_kinds(campaign):
    return set(WindDownStep.objects.filter(campaign=campaign, done_at__isnull=False).values_list("kind", flat=True))


# Checklist creation on every path to "ended" ----------------------------------------------------------------


@pytest.mark.parametrize("source", [Source.UI, Source.SCHEDULE, Source.PLATFORM, Source.COMMAND])
def test_end_through_service_creates_seven_steps_with_calendar_done(campaign, manager, source):
    end(campaign, manager if source == Source.UI else None, source=source)

    steps = list(WindDownStep.objects.filter(campaign=campaign).order_by("position"))
    assert [s.kind for s in steps] == WindDownStepKind.values
    assert [s.position for s in steps] == list(range(1, WINDDOWN_STEP_COUNT + 1))
    assert done_kinds(campaign) == {WindDownStepKind.CALENDAR_UPDATED}
    campaign.refresh_from_db()
    assert campaign.winddown_done == 1


def test_end_through_admin_action_creates_checklist(client, staff, campaign):
    client.force_login(staff)
    response = client.post(
        "/admin/campaigns/campaign/",
        {
            "action": "end_campaigns",
            "_selected_action": [campaign.pk],
            "apply": "1",
            "reason_code": EndReason.BUDGET_CONSTRAINTS,
        },
    )
    assert response.status_code == 302
    campaign.refresh_from_db()
    assert campaign.status == Status.ENDED
    assert WindDownStep.objects.filter(campaign=campaign).count() == WINDDOWN_STEP_COUNT


def test_bulk_end_creates_checklists_in_constant_queries(account, manager, django_assert_max_num_queries):
    few = [CampaignFactory(account=account).pk for _ in range(2)]
    # 150 × 7 steps: more rows than one batched INSERT would take on SQLite.
    many = [c.pk for c in Campaign.objects.bulk_create(CampaignFactory.build_batch(150, account=account))]

    def run(ids):
        services.campaigns_transition(campaign_ids=ids, action=Action.END, actor=manager, source=Source.UI, **END)

    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as small:
        run(few)
    with CaptureQueriesContext(connection) as big:
        run(many)
    assert len(big) == len(small)
    assert WindDownStep.objects.count() == 152 * WINDDOWN_STEP_COUNT
    calendar = WindDownStep.objects.filter(kind="calendar_updated")
    assert calendar.filter(done_at__isnull=False, automatic=True).count() == 152
    assert set(Campaign.objects.values_list("winddown_done", flat=True)) == {1}


def test_end_counts_steps_done_before_it_and_writes_each_campaign_row_once(
    account, manager, django_assert_max_num_queries
):
    """The END's own UPDATE sets winddown_done to what the checklist will hold (issue 19: a second UPDATE of every
    ended campaign cost PostgreSQL more than the END itself): steps someone completed earlier count, and an
    existing calendar step is not counted twice."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    fresh = CampaignFactory(account=account)
    ahead = CampaignFactory(account=account)
    now = timezone.now()
    WindDownStep.objects.create(campaign=ahead, kind=WindDownStepKind.CONTENT_REMOVED, position=2, done_at=now)
    WindDownStep.objects.create(campaign=ahead, kind=WindDownStepKind.CALENDAR_UPDATED, position=3, done_at=now)

    with CaptureQueriesContext(connection) as queries:
        services.campaigns_transition(
            campaign_ids=[fresh.pk, ahead.pk], action=Action.END, actor=manager, source=Source.UI, **END
        )

    updates = [q["sql"] for q in queries.captured_queries if q["sql"].startswith('UPDATE "campaigns_campaign"')]
    assert len(updates) == 1
    assert dict(Campaign.objects.filter(pk__in=[fresh.pk, ahead.pk]).values_list("pk", "winddown_done")) == {
        fresh.pk: 1,
        ahead.pk: 2,
    }
    assert WindDownStep.objects.filter(campaign=ahead).count() == WINDDOWN_STEP_COUNT


def test_pause_does_not_create_checklist(campaign, editor):
    services.campaign_transition(campaign=campaign, action=Action.PAUSE, actor=editor, source=Source.UI)
    assert not WindDownStep.objects.exists()
    campaign.refresh_from_db()
    assert campaign.winddown_done is None


# Automatic steps ----------------------------------------------------------------------------------------------


def test_end_notifications_complete_team_notified_step(campaign, manager, editor, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        end(campaign, manager)
    assert done_kinds(campaign) == {WindDownStepKind.CALENDAR_UPDATED, WindDownStepKind.TEAM_NOTIFIED}
    campaign.refresh_from_db()
    assert campaign.winddown_done == 2
    step = WindDownStep.objects.get(campaign=campaign, kind=WindDownStepKind.TEAM_NOTIFIED)
    # The editor heard by default (issue 16). Before, this step was "done" with {"notifications": 0}: nobody
    # but the manager, who acted, was in the account (now: tests/campaigns/test_team_notified.py).
    assert step.automatic and step.data == {"notifications": 1, "nobody_told": False}


def test_platform_confirmation_completes_step_only_when_synced(account, manager):
    account.connector = Connector.TIKTOK
    account.save(update_fields=["connector"])
    campaign = CampaignFactory(account=account)
    end(campaign, manager)
    campaign.refresh_from_db()
    assert campaign.sync_state == SyncState.PENDING

    assert services.winddown_platform_confirmed(campaign_ids=[campaign.pk]) == []

    Campaign.objects.filter(pk=campaign.pk).update(sync_state=SyncState.SYNCED)
    assert services.winddown_platform_confirmed(campaign_ids=[campaign.pk]) == [campaign.pk]
    step = WindDownStep.objects.get(campaign=campaign, kind=WindDownStepKind.PLATFORM_CONFIRMED)
    assert step.automatic and step.done_at and step.done_by is None
    assert StatusChange.objects.get(campaign=campaign, action=Action.EDIT).source == Source.PLATFORM
    campaign.refresh_from_db()
    assert campaign.winddown_done == 2
    # a second confirmation is a quiet no-op
    assert services.winddown_platform_confirmed(campaign_ids=[campaign.pk]) == []


def test_reports_call_completes_performance_step_automatically(campaign, manager):
    end(campaign, manager)
    services.winddown_step_complete(campaign=campaign, kind=WindDownStepKind.PERFORMANCE_ANALYSED)
    step = WindDownStep.objects.get(campaign=campaign, kind=WindDownStepKind.PERFORMANCE_ANALYSED)
    assert step.automatic and step.is_done
    assert campaign.winddown_done == 2


# Manual steps -----------------------------------------------------------------------------------------------


def test_marking_last_live_content_item_completes_content_step(campaign, manager, editor):
    first = ContentItemFactory(campaign=campaign, title="Teaser")
    second = ContentItemFactory(campaign=campaign, title="Launch video")
    end(campaign, manager)

    services.winddown_content_item_mark(item=first, state=ContentState.REMOVED, note="", actor=editor)
    assert WindDownStepKind.CONTENT_REMOVED not in done_kinds(campaign)

    services.winddown_content_item_mark(item=second, state=ContentState.KEPT, note="Evergreen", actor=editor)
    step = WindDownStep.objects.get(campaign=campaign, kind=WindDownStepKind.CONTENT_REMOVED)
    assert step.is_done and step.done_by == editor and not step.automatic
    second.refresh_from_db()
    assert (second.state, second.state_note, second.state_changed_by) == (ContentState.KEPT, "Evergreen", editor)


def test_keeping_content_without_a_note_is_refused(campaign, manager, editor):
    item = ContentItemFactory(campaign=campaign)
    end(campaign, manager)
    with pytest.raises(services.CampaignError, match="Say why"):
        services.winddown_content_item_mark(item=item, state=ContentState.KEPT, note=" ", actor=editor)
    item.refresh_from_db()
    assert item.state == ContentState.LIVE


def test_content_confirm_refused_while_items_live(campaign, manager, editor):
    ContentItemFactory(campaign=campaign)
    end(campaign, manager)
    with pytest.raises(services.CampaignError, match="1 content item still live"):
        services.winddown_content_confirm(campaign=campaign, actor=editor)


def test_content_confirm_without_items_completes_step(campaign, manager, editor):
    end(campaign, manager)
    services.winddown_content_confirm(campaign=campaign, actor=editor)
    assert WindDownStepKind.CONTENT_REMOVED in done_kinds(campaign)


@pytest.mark.parametrize(
    ("reason", "phrase"),
    [
        (EndReason.OBJECTIVES_MET, "did everything we hoped"),
        (EndReason.BUDGET_CONSTRAINTS, "end of its run"),
        (EndReason.LEGAL_ETHICAL, "reviewing how we run promotions"),
    ],
)
def test_announcement_draft_uses_public_wording_for_reason(campaign, manager, reason, phrase):
    end(campaign, manager, reason_code=reason)
    campaign.refresh_from_db()
    draft = services.winddown_announcement_draft(campaign=campaign)
    assert "“Spring Glow” ended on" in draft
    assert phrase in draft
    assert "Thank you" in draft
    assert "budget" not in draft.lower()


def test_every_end_reason_has_public_wording():
    assert set(services.END_REASON_PUBLIC) == set(EndReason)


def test_announcement_posted_stores_text_and_where(campaign, manager, editor):
    end(campaign, manager)
    services.winddown_announcement_posted(campaign=campaign, actor=editor, text="Thanks all!", where="TikTok")
    step = WindDownStep.objects.get(campaign=campaign, kind=WindDownStepKind.AUDIENCE_INFORMED)
    assert step.data == {"text": "Thanks all!", "where": "TikTok"}
    assert step.done_by == editor


def test_budget_followup_requires_ticket_reference(campaign, manager, editor):
    end(campaign, manager)
    with pytest.raises(services.CampaignError, match="ticket reference"):
        services.winddown_budget_record(campaign=campaign, actor=editor, outcome="ticket", ticket="")
    services.winddown_budget_record(campaign=campaign, actor=editor, outcome="ticket", ticket="TT-4411")
    step = WindDownStep.objects.get(campaign=campaign, kind=WindDownStepKind.BUDGET_FOLLOWUP)
    assert step.data["ticket"] == "TT-4411"
    assert step.data["estimated_unused"] == str(campaign.budget_remaining)
    assert step.note == "Support ticket TT-4411"


def test_viewer_cannot_complete_and_editor_cannot_reopen(campaign, manager, editor, viewer):
    end(campaign, manager)
    with pytest.raises(services.NotPermitted, match="editor role"):
        services.winddown_step_complete(
            campaign=campaign, kind=WindDownStepKind.PLATFORM_CONFIRMED, actor=viewer, automatic=False
        )
    services.winddown_step_complete(
        campaign=campaign, kind=WindDownStepKind.PLATFORM_CONFIRMED, actor=editor, automatic=False
    )
    with pytest.raises(services.NotPermitted, match="manager role"):
        services.winddown_step_reopen(campaign=campaign, kind=WindDownStepKind.PLATFORM_CONFIRMED, actor=editor)


def test_manager_reopen_clears_completion_recounts_and_audits(campaign, manager, editor):
    end(campaign, manager)
    services.winddown_step_complete(
        campaign=campaign, kind=WindDownStepKind.PLATFORM_CONFIRMED, actor=editor, automatic=False
    )
    assert campaign.winddown_done == 2

    services.winddown_step_reopen(campaign=campaign, kind=WindDownStepKind.PLATFORM_CONFIRMED, actor=manager)

    step = WindDownStep.objects.get(campaign=campaign, kind=WindDownStepKind.PLATFORM_CONFIRMED)
    assert step.done_at is None and step.done_by is None
    assert campaign.winddown_done == 1
    audit = list(
        StatusChange.objects.filter(campaign=campaign, action=Action.EDIT)
        .order_by("id")
        .values_list("actor__username", "details")
    )
    assert audit == [
        ("eddie-editor", {"winddown_step": "platform_confirmed", "done": True}),
        ("mona-manager", {"winddown_step": "platform_confirmed", "done": False}),
    ]


def test_completing_a_done_step_again_is_a_quiet_no_op(campaign, manager, editor):
    end(campaign, manager)
    for _ in range(2):
        services.winddown_step_complete(
            campaign=campaign, kind=WindDownStepKind.PLATFORM_CONFIRMED, actor=editor, automatic=False
        )
    assert StatusChange.objects.filter(campaign=campaign, action=Action.EDIT).count() == 1
    assert campaign.winddown_done == 2


# Pages --------------------------------------------------------------------------------------------------------


def test_winddown_page_shows_progress_and_steps(login, campaign, manager, viewer):
    end(campaign, manager)
    response = login(viewer).get(f"/campaigns/{campaign.pk}/wind-down/")
    assert response.status_code == 200
    text = response.content.decode()
    assert "1 of 7" in text
    assert "Associated content removed" in text
    assert "Mark as posted" not in text  # viewers read only
    assert "Reopen" not in text


def test_winddown_page_of_other_account_is_404(login, other_campaign, outsider, manager):
    end(other_campaign, outsider)
    response = login(manager).get(f"/campaigns/{other_campaign.pk}/wind-down/")
    assert response.status_code == 404


def test_viewer_post_to_step_is_403_with_message(login, campaign, manager, viewer):
    end(campaign, manager)
    response = login(viewer).post(f"/campaigns/{campaign.pk}/wind-down/platform_confirmed/")
    assert response.status_code == 403
    assert WindDownStepKind.PLATFORM_CONFIRMED not in done_kinds(campaign)


def test_editor_reopen_is_403(login, campaign, manager):
    end(campaign, manager)
    editor = UserFactory(username="ed2")
    MembershipFactory(user=editor, account=campaign.account, role=Role.EDITOR)
    response = login(editor).post(f"/campaigns/{campaign.pk}/wind-down/calendar_updated/", {"op": "reopen"})
    assert response.status_code == 403


def test_unknown_step_kind_is_404(login, campaign, manager):
    end(campaign, manager)
    assert login(manager).post(f"/campaigns/{campaign.pk}/wind-down/nonsense/").status_code == 404


def test_step_post_without_js_redirects_with_message(login, campaign, manager):
    end(campaign, manager)
    client = login(manager)
    response = client.post(
        f"/campaigns/{campaign.pk}/wind-down/budget_followup/", {"outcome": "not_needed"}, follow=True
    )
    assert response.redirect_chain[-1][0].startswith(f"/campaigns/{campaign.pk}/wind-down/")
    assert "Unused budget followed up: done." in response.content.decode()
    assert "2 of 7" in response.content.decode()


def test_step_post_with_htmx_returns_step_partial_and_event(login, campaign, manager):
    end(campaign, manager)
    response = login(manager).post(
        f"/campaigns/{campaign.pk}/wind-down/budget_followup/",
        {"outcome": "not_needed"},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    text = response.content.decode()
    assert text.strip().startswith('<li id="winddown-step-budget_followup"')
    assert "No refund needed" in text
    assert "winddownChanged" in response["HX-Trigger"]


def test_step_bad_input_with_htmx_shows_error_in_step(login, campaign, manager):
    end(campaign, manager)
    response = login(manager).post(
        f"/campaigns/{campaign.pk}/wind-down/budget_followup/",
        {"outcome": "ticket", "ticket": ""},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    assert "Enter the support ticket reference" in response.content.decode()
    assert "HX-Trigger" not in response


def test_progress_region_refetch_renders_only_progress(login, campaign, manager):
    end(campaign, manager)
    response = login(manager).get(
        f"/campaigns/{campaign.pk}/wind-down/", headers={"HX-Request": "true", "HX-Target": "winddown-progress"}
    )
    text = response.content.decode().strip()
    assert text.startswith('<div id="winddown-progress"')
    assert "1 of 7" in text
    assert "<html" not in text


def test_content_item_post_marks_removed(login, campaign, manager):
    item = ContentItemFactory(campaign=campaign, title="Launch video")
    end(campaign, manager)
    response = login(manager).post(
        f"/campaigns/{campaign.pk}/wind-down/content/{item.pk}/", {"state": "removed"}, follow=True
    )
    assert "“Launch video” marked removed." in response.content.decode()
    assert WindDownStepKind.CONTENT_REMOVED in done_kinds(campaign)


def test_content_item_of_other_campaign_is_404(login, campaign, manager):
    other = ContentItemFactory(campaign=CampaignFactory(account=campaign.account))
    end(campaign, manager)
    response = login(manager).post(f"/campaigns/{campaign.pk}/wind-down/content/{other.pk}/", {"state": "removed"})
    assert response.status_code == 404


def test_winddown_list_shows_open_ended_campaigns_oldest_first(login, account, manager, django_assert_max_num_queries):
    now = timezone.now()
    for i in range(5):
        c = CampaignFactory(account=account, name=f"Old {i}")
        end(c, manager)
        Campaign.objects.filter(pk=c.pk).update(ended_at=now - dt.timedelta(days=10 - i))
    complete = CampaignFactory(account=account, name="All done")
    end(complete, manager)
    WindDownStep.objects.filter(campaign=complete).update(done_at=now)
    winddown._winddown_done_refresh(campaign_ids=[complete.pk])
    CampaignFactory(account=account, name="Still running")
    CampaignFactory(name="Other account ended", status=Status.ENDED, ended_at=now)

    client = login(manager)
    with django_assert_max_num_queries(7):
        response = client.get("/campaigns/wind-down/")
    text = response.content.decode()
    positions = [text.index(f"Old {i}") for i in range(5)]
    assert positions == sorted(positions)
    assert "All done" not in text and "Still running" not in text and "Other account" not in text
    assert "Overdue" in text


def test_winddown_list_query_count_does_not_grow(login, account, manager, django_assert_max_num_queries):
    for _ in range(25):
        end(CampaignFactory(account=account), manager)
    client = login(manager)
    with django_assert_max_num_queries(7):
        client.get("/campaigns/wind-down/")


def test_open_campaigns_selector_includes_ended_without_checklist(account, manager):
    c = CampaignFactory(account=account, status=Status.ENDED, ended_at=timezone.now())
    assert list(winddown_open_campaigns_for_user(user=manager)) == [c]


def test_start_checklist_for_campaign_ended_before_checklists(login, account, manager):
    c = CampaignFactory(account=account, status=Status.ENDED, ended_at=timezone.now())
    response = login(manager).post(f"/campaigns/{c.pk}/wind-down/start/", follow=True)
    assert "Wind-down checklist started." in response.content.decode()
    assert WindDownStep.objects.filter(campaign=c).count() == WINDDOWN_STEP_COUNT


def test_winddown_pages_require_login(client, campaign):
    for url in ("/campaigns/wind-down/", f"/campaigns/{campaign.pk}/wind-down/"):
        response = client.get(url)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]


# Pause impact -------------------------------------------------------------------------------------------------


def test_pause_impact_compares_before_and_during_and_flags_late_spend(campaign, editor):
    today = timezone.localdate()
    pause_day = today - dt.timedelta(days=3)
    for offset in range(1, 8):
        DailyMetricFactory(
            campaign=campaign,
            date=pause_day - dt.timedelta(days=offset),
            spend=Decimal("70"),
            video_views=700,
            follows=7,
        )
    DailyMetricFactory(campaign=campaign, date=pause_day, spend=Decimal("30"), video_views=300, follows=3)
    DailyMetricFactory(
        campaign=campaign, date=pause_day + dt.timedelta(days=1), spend=Decimal("6"), video_views=10, follows=0
    )
    services.campaign_transition(campaign=campaign, action=Action.PAUSE, actor=editor, source=Source.UI)
    StatusChange.objects.filter(campaign=campaign).update(
        created_at=timezone.make_aware(dt.datetime.combine(pause_day, dt.time(12)))
    )

    impact = pause_impact_for(campaign=campaign, today=today)

    assert impact.before.spend == Decimal("70.00")
    assert impact.before.views == Decimal("700.00")
    assert impact.during.days == 3
    assert impact.during.spend == Decimal("2.00")
    assert impact.spend_after_pause == Decimal("6")
    assert impact.still_delivering is True
    assert impact.change("spend") == Decimal("-97")


def test_pause_impact_clean_stop_and_never_paused(campaign, editor):
    assert pause_impact_for(campaign=campaign) is None
    DailyMetricFactory(campaign=campaign, date=timezone.localdate() - dt.timedelta(days=2), spend=Decimal("50"))
    services.campaign_transition(campaign=campaign, action=Action.PAUSE, actor=editor, source=Source.UI)
    impact = pause_impact_for(campaign=campaign)
    assert impact.still_delivering is False
    assert impact.before.spend == Decimal("7.14")


# Includes for the detail page ---------------------------------------------------------------------------------


def test_winddown_panel_include_renders_summary_with_link(rf, campaign, manager):
    from django.template.loader import render_to_string

    from campaigns.selectors_winddown import winddown_steps_for

    assert render_to_string("campaigns/includes/winddown_panel.html", {"campaign": campaign}).strip() == ""
    end(campaign, manager)
    campaign.refresh_from_db()
    html = render_to_string(
        "campaigns/includes/winddown_panel.html",
        {"campaign": campaign, "steps": winddown_steps_for(campaign=campaign)},
    )
    assert "1 of 7" in html
    assert f'href="/campaigns/{campaign.pk}/wind-down/"' in html
    assert 'Campaign calendar updated<span class="visually-hidden">: done' in html


def test_pause_impact_include_warns_when_delivery_continued(campaign, editor):
    from django.template.loader import render_to_string

    services.campaign_transition(campaign=campaign, action=Action.PAUSE, actor=editor, source=Source.UI)
    StatusChange.objects.filter(campaign=campaign).update(created_at=timezone.now() - dt.timedelta(days=3))
    DailyMetricFactory(campaign=campaign, date=timezone.localdate() - dt.timedelta(days=1), spend=Decimal("12.50"))

    impact = pause_impact_for(campaign=campaign)
    html = render_to_string("campaigns/includes/pause_impact.html", {"impact": impact, "currency": "USD"})
    assert "Delivery did not stop." in html and "12.50 USD" in html
    assert "Spend per day" in html
    assert render_to_string("campaigns/includes/pause_impact.html", {"impact": None}).strip() == ""


def test_watch_button_include_renders_both_states(rf, campaign):
    from django.template.loader import render_to_string

    request = rf.get("/campaigns/1/")
    off = render_to_string(
        "campaigns/includes/watch_button.html", {"campaign": campaign, "is_watching": False}, request=request
    )
    on = render_to_string(
        "campaigns/includes/watch_button.html", {"campaign": campaign, "is_watching": True}, request=request
    )
    assert f'action="/campaigns/{campaign.pk}/watch/"' in off
    assert f'action="/campaigns/{campaign.pk}/unwatch/"' in on


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_step_completions_keep_progress_count_exact(account, manager, editor):
    import threading

    from django.db import connection

    campaigns = [CampaignFactory(account=account) for _ in range(3)]
    for c in campaigns:
        end(c, manager)
    kinds = [WindDownStepKind.PLATFORM_CONFIRMED, WindDownStepKind.PERFORMANCE_ANALYSED, WindDownStepKind.TEAM_NOTIFIED]
    barrier = threading.Barrier(len(kinds) * len(campaigns))
    errors = []

    def complete(campaign, kind):
        try:
            barrier.wait(timeout=10)
            services.winddown_step_complete(campaign=campaign, kind=kind, actor=editor, automatic=False)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=complete, args=(c, k)) for c in campaigns for k in kinds]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert errors == []
    assert set(Campaign.objects.filter(pk__in=[c.pk for c in campaigns]).values_list("winddown_done", flat=True)) == {4}


@pytest.mark.parametrize("htmx", [False, True])
def test_step_post_on_campaign_without_checklist_explains(login, campaign, manager, htmx):
    headers = {"HX-Request": "true"} if htmx else {}
    response = login(manager).post(f"/campaigns/{campaign.pk}/wind-down/platform_confirmed/", headers=headers)
    assert response.status_code == 200 if htmx else 302
    page = login(manager).get(f"/campaigns/{campaign.pk}/wind-down/").content.decode()
    assert "This campaign has no wind-down checklist yet." in page
    assert "Its wind-down checklist starts when it ends." in page
