import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone

from campaigns import services
from campaigns.models import Action, BudgetMode, EndReason, ScheduledAction, Status, StatusChange
from tests.factories import CampaignFactory, DailyMetricFactory

pytestmark = pytest.mark.django_db

BULK = reverse("campaigns:bulk_action")


def message_texts(response):
    return [str(m) for m in get_messages(response.wsgi_request)]


def post_action(client, action, campaigns, **extra):
    return client.post(BULK, {"action": action, "ids": [c.pk for c in campaigns], **extra})


def confirm(client, action, campaigns, key="key-1", **extra):
    data = {"confirmed": "on", "idempotency_key": key, **extra}
    return post_action(client, action, campaigns, **data)


def test_pause_step_one_names_campaigns_and_daily_spend_that_stops(login, editor, account):
    daily = CampaignFactory(account=account, name="Daily one", budget_amount=Decimal("80"))
    lifetime = CampaignFactory(account=account, name="Lifetime one", budget_mode=BudgetMode.LIFETIME)
    for day in range(7):
        DailyMetricFactory(campaign=lifetime, spend=Decimal("30"), date=dt.date.today() - dt.timedelta(days=day + 1))

    response = post_action(login(editor), "pause", [daily, lifetime])

    html = response.content.decode()
    assert response.status_code == 200
    assert "Pause 2 campaigns?" in html
    assert "Daily one" in html and "Lifetime one" in html
    assert "80.00 USD/day (daily budget)" in html
    assert "30.00 USD/day (7-day average spend)" in html
    assert "110.00 USD per day" in html
    assert statuses([daily, lifetime]) == {Status.ACTIVE}
    assert 'name="idempotency_key"' in html


def statuses(campaigns):
    return {type(c).objects.get(pk=c.pk).status for c in campaigns}


def test_pause_confirmed_pauses_and_offers_undo(login, editor, account):
    a, b = CampaignFactory.create_batch(2, account=account)
    client = login(editor)

    response = confirm(client, "pause", [a, b], next="/campaigns/?q=x")

    assert response.status_code == 302
    assert response["Location"] == "/campaigns/?q=x"
    assert statuses([a, b]) == {Status.PAUSED}
    [text] = message_texts(response)
    assert "Paused 2 campaigns." in text
    assert "Undo" in text
    assert StatusChange.objects.filter(action=Action.PAUSE, actor=editor, source="ui").count() == 2


def test_undo_resumes_the_paused_campaigns(login, editor, account):
    a, b = CampaignFactory.create_batch(2, account=account)
    client = login(editor)
    confirm(client, "pause", [a, b])

    response = confirm(client, "resume", [a, b], key="undo-key")

    assert statuses([a, b]) == {Status.ACTIVE}
    assert "Resumed 2 campaigns." in message_texts(response)[-1]


def test_double_submit_with_the_same_key_acts_once(login, editor, account):
    campaign = CampaignFactory(account=account)
    client = login(editor)

    confirm(client, "pause", [campaign], key="same")
    confirm(client, "resume", [campaign], key="other")
    response = confirm(client, "pause", [campaign], key="same")  # a replay of the first POST

    assert statuses([campaign]) == {Status.ACTIVE}
    assert "already in that state" in message_texts(response)[-1]
    assert StatusChange.objects.filter(campaign=campaign, action=Action.PAUSE).count() == 1


def test_bulk_message_reports_each_outcome(login, editor, account):
    active = CampaignFactory(account=account, name="Running")
    paused = CampaignFactory(account=account, name="Already", status=Status.PAUSED)
    ended = CampaignFactory(account=account, name="Over", status=Status.ENDED)

    response = confirm(login(editor), "pause", [active, paused, ended])

    text = message_texts(response)[-1]
    assert "Paused 1 campaign" in text
    assert "Already: already in that state" in text
    assert "Over: not allowed from its current state" in text


def test_viewer_cannot_pause(login, viewer, campaign):
    response = confirm(login(viewer), "pause", [campaign])

    assert response.status_code == 403
    assert statuses([campaign]) == {Status.ACTIVE}


def test_editor_cannot_end(login, editor, campaign):
    response = confirm(login(editor), "end", [campaign], reason_code=EndReason.OTHER, confirm_text=campaign.name)

    assert response.status_code == 403
    assert statuses([campaign]) == {Status.ACTIVE}


def test_other_accounts_campaign_ids_are_ignored_with_a_message(login, manager, other_campaign):
    response = confirm(login(manager), "pause", [other_campaign])

    assert response.status_code == 302
    assert "Select at least one of your campaigns first." in message_texts(response)
    assert statuses([other_campaign]) == {Status.ACTIVE}


def test_mixed_ids_only_touch_own_campaigns(login, manager, campaign, other_campaign):
    confirm(login(manager), "pause", [campaign, other_campaign])

    assert statuses([campaign]) == {Status.PAUSED}
    assert statuses([other_campaign]) == {Status.ACTIVE}


@pytest.mark.parametrize("data", [{"action": "explode", "ids": ["1"]}, {"action": "pause", "ids": ["x", "-1"]}, {}])
def test_bad_action_posts_give_a_message_not_a_500(login, manager, campaign, data):
    response = login(manager).post(BULK, data)

    assert response.status_code == 302
    assert message_texts(response)


def test_end_confirmation_page_states_consequences(login, manager, account):
    campaign = CampaignFactory(
        account=account,
        name="Autumn",
        budget_mode=BudgetMode.LIFETIME,
        budget_amount=Decimal("1000"),
        total_spend=Decimal("400"),
    )

    response = login(manager).get(reverse("campaigns:end_confirm"), {"ids": campaign.pk})

    html = response.content.decode()
    assert "End 1 campaign?" in html
    assert "cannot be undone" in html
    assert "may still be billed" in html
    assert "spent 400.00 USD" in html
    assert "unused budget about 600.00 USD" in html
    assert "Type the campaign’s name to confirm" in html
    assert "Europe/Berlin" in html


def test_end_confirm_of_other_account_is_404(login, manager, other_campaign):
    response = login(manager).get(reverse("campaigns:end_confirm"), {"ids": other_campaign.pk})

    assert response.status_code == 404


def test_end_confirm_as_editor_is_403_with_a_message(login, editor, campaign):
    response = login(editor).get(reverse("campaigns:end_confirm"), {"ids": campaign.pk})

    assert response.status_code == 403
    assert b"manager role" in response.content


def test_end_requires_a_reason_and_the_name(login, manager, campaign):
    response = confirm(login(manager), "end", [campaign], reason_code="", confirm_text="wrong")

    html = response.content.decode()
    assert response.status_code == 400
    assert "This field is required." in html
    assert "That is not the campaign’s name." in html
    assert statuses([campaign]) == {Status.ACTIVE}


def test_end_of_several_requires_typing_their_number(login, manager, account):
    a, b = CampaignFactory.create_batch(2, account=account)
    client = login(manager)

    refused = confirm(client, "end", [a, b], reason_code=EndReason.OBJECTIVES_MET, confirm_text="3")
    done = confirm(client, "end", [a, b], key="k2", reason_code=EndReason.OBJECTIVES_MET, confirm_text="2")

    assert refused.status_code == 400
    assert done.status_code == 302
    assert statuses([a, b]) == {Status.ENDED}


def test_end_other_reason_needs_a_note(login, manager, campaign):
    response = confirm(login(manager), "end", [campaign], reason_code=EndReason.OTHER, confirm_text=campaign.name)

    assert response.status_code == 400
    assert "Say why in a note" in response.content.decode()


def test_end_with_reason_ends_and_records_history(login, manager, campaign):
    response = confirm(
        login(manager),
        "end",
        [campaign],
        reason_code=EndReason.BUDGET_CONSTRAINTS,
        reason_note="Q3 cuts",
        confirm_text="spring glow",
        next=reverse("campaigns:detail", args=[campaign.pk]),
    )

    assert response.status_code == 302
    campaign.refresh_from_db()
    assert campaign.status == Status.ENDED
    change = StatusChange.objects.get(campaign=campaign, action=Action.END)
    assert (change.reason_code, change.reason_note, change.actor) == (EndReason.BUDGET_CONSTRAINTS, "Q3 cuts", manager)
    assert "Undo" not in message_texts(response)[-1]


def test_end_at_in_the_future_schedules_instead_of_ending(login, manager, campaign):
    # The typed time is read in the account's timezone (Europe/Berlin, UTC+2 in June).
    response = confirm(
        login(manager),
        "end",
        [campaign],
        reason_code=EndReason.OBJECTIVES_MET,
        confirm_text=campaign.name,
        end_at="2099-06-01T18:30",
    )

    assert response.status_code == 302
    scheduled = ScheduledAction.objects.get(campaign=campaign)
    assert scheduled.action == Action.END
    assert scheduled.run_at == dt.datetime(2099, 6, 1, 16, 30, tzinfo=dt.UTC)
    assert statuses([campaign]) == {Status.ACTIVE}
    assert "Scheduled the end of 1 campaign at 2099-06-01 18:30 (Europe/Berlin)" in message_texts(response)[-1]


def test_end_at_in_the_past_is_refused(login, manager, campaign):
    response = confirm(
        login(manager),
        "end",
        [campaign],
        reason_code=EndReason.OBJECTIVES_MET,
        confirm_text=campaign.name,
        end_at="2001-01-01T10:00",
    )

    assert response.status_code == 400
    assert "Choose a time in the future" in response.content.decode()


def test_select_all_matching_reruns_the_filter_for_this_user(login, editor, account, other_account):
    for i in range(30):
        CampaignFactory(account=account, name=f"Promo {i}")
    CampaignFactory(account=account, name="Unrelated")
    CampaignFactory(account=other_account, name="Promo secret")
    client = login(editor)

    step_one = post_action(client, "pause", [], all_matching="on", list_qs="q=promo")
    assert "Pause 30 campaigns?" in step_one.content.decode()
    ids = step_one.context["campaigns"]
    confirm(client, "pause", ids)

    assert StatusChange.objects.filter(action=Action.PAUSE).count() == 30
    assert set(type(ids[0]).objects.filter(status=Status.PAUSED).values_list("name", flat=True)) == {
        f"Promo {i}" for i in range(30)
    }


def test_htmx_step_one_returns_a_dialog(login, editor, campaign):
    response = login(editor).post(
        BULK, {"action": "pause", "ids": [campaign.pk], "origin": "list"}, HTTP_HX_REQUEST="true"
    )

    html = response.content.decode()
    assert html.startswith("<dialog")
    assert "data-dialog" in html
    assert 'hx-post="/campaigns/actions/"' in html


def test_htmx_confirm_returns_table_region_messages_and_event(login, editor, campaign):
    response = login(editor).post(
        BULK,
        {
            "action": "pause",
            "ids": [campaign.pk],
            "origin": "list",
            "confirmed": "on",
            "idempotency_key": "k",
            "list_qs": "q=spring",
        },
        HTTP_HX_REQUEST="true",
    )

    html = response.content.decode()
    assert response["HX-Trigger"] == '{"campaignStatusChanged": {}}'
    assert response["HX-Retarget"] == "#table-region"
    assert html.startswith('\n<div id="table-region"') or html.lstrip().startswith('<div id="table-region"')
    assert 'hx-swap-oob="innerHTML"' in html
    assert "Paused 1 campaign." in html
    assert "Pausing…" in html or "Paused" in html


def test_htmx_invalid_end_rerenders_the_dialog(login, manager, campaign):
    response = login(manager).post(
        BULK,
        {"action": "end", "ids": [campaign.pk], "origin": "list", "confirmed": "on", "idempotency_key": "k"},
        HTTP_HX_REQUEST="true",
    )

    assert response.status_code == 200
    assert response["HX-Retarget"] == "#dialog-slot"
    assert response.content.decode().startswith("<dialog")


def test_detail_shows_plan_history_chart_and_actions(login, manager, campaign):
    DailyMetricFactory(campaign=campaign, date=dt.date.today() - dt.timedelta(days=3))
    client = login(manager)
    confirm(client, "pause", [campaign])

    response = client.get(reverse("campaigns:detail", args=[campaign.pk]))

    html = response.content.decode()
    assert response.status_code == 200
    assert "Resume…" in html and "End campaign…" in html and "Edit" in html
    assert 'id="daily-chart"' in html and 'data-chart="daily-chart"' in html
    assert "Pause impact" in html  # paused: the impact monitor is shown
    assert 'class="card wd-panel"' not in html  # not ended: no wind-down checklist yet
    assert "Watch" in html
    assert "Active → Paused" in html


def test_detail_shades_pause_periods(login, viewer, account):
    campaign = CampaignFactory(account=account)
    # Days as the account counts them (Europe/Berlin): between 23:00 and 24:00 UTC its today is UTC's tomorrow.
    today = timezone.now().astimezone(ZoneInfo(account.timezone)).date()
    for day in range(5):
        DailyMetricFactory(campaign=campaign, date=today - dt.timedelta(days=5 - day))
    paused_at = timezone.now() - dt.timedelta(days=3)
    resumed_at = timezone.now() - dt.timedelta(days=2)
    for when, frm, to, action in ((paused_at, "active", "paused", "pause"), (resumed_at, "paused", "active", "resume")):
        change = StatusChange.objects.create(
            campaign=campaign, action=action, from_status=frm, to_status=to, source="ui"
        )
        StatusChange.objects.filter(pk=change.pk).update(created_at=when)

    response = login(viewer).get(reverse("campaigns:detail", args=[campaign.pk]))

    assert response.context["chart"]["options"]["plugins"]["bands"]["ranges"] == [[2, 3]]


def test_detail_of_other_account_is_404(login, manager, other_campaign):
    assert login(manager).get(reverse("campaigns:detail", args=[other_campaign.pk])).status_code == 404


def test_detail_viewer_sees_no_action_buttons(login, viewer, campaign):
    html = login(viewer).get(reverse("campaigns:detail", args=[campaign.pk])).content.decode()

    assert "Pause…" not in html and "End campaign…" not in html


def test_detail_ended_campaign_shows_report_spot(login, manager, campaign):
    confirm(login(manager), "end", [campaign], reason_code=EndReason.OBJECTIVES_MET, confirm_text=campaign.name)

    html = login(manager).get(reverse("campaigns:detail", args=[campaign.pk])).content.decode()

    assert "Objectives met" in html
    assert "post-close report" in html


def test_end_dialog_offers_delete_on_tiktok_only_for_connected_accounts(login, manager, campaign):
    client = login(manager)
    url = reverse("campaigns:end_confirm") + f"?ids={campaign.pk}"
    assert "Also delete on TikTok" not in client.get(url).content.decode()

    campaign.account.connector = "tiktok"
    campaign.account.save(update_fields=["connector"])
    assert "Also delete on TikTok" in client.get(url).content.decode()

    confirm(
        client,
        "end",
        [campaign],
        reason_code=EndReason.OBJECTIVES_MET,
        confirm_text=campaign.name,
        delete_on_platform="on",
    )
    campaign.refresh_from_db()
    assert campaign.status == Status.ENDED and campaign.delete_on_platform
    assert StatusChange.objects.get(campaign=campaign, action=Action.END).details == {"delete_on_platform": True}


# The campaign page offers exactly the actions `services.available_actions` allows (pause, resume, end).
ACTIONS_SHOWN = {
    ("viewer", Status.ACTIVE): set(),
    ("viewer", Status.PAUSED): set(),
    ("viewer", Status.ENDED): set(),
    ("editor", Status.ACTIVE): {"pause"},
    ("editor", Status.PAUSED): {"resume"},
    ("editor", Status.ENDED): set(),
    ("manager", Status.ACTIVE): {"pause", "end"},
    ("manager", Status.PAUSED): {"resume", "end"},
    ("manager", Status.ENDED): set(),
}


def actions_on_page(html: str) -> set[str]:
    shown = {name for name in ("pause", "resume") if f'name="action" value="{name}"' in html}
    return shown | ({"end"} if "End campaign…" in html else set())


@pytest.mark.parametrize(("role", "status"), list(ACTIONS_SHOWN), ids=lambda v: str(v))
def test_detail_offers_the_actions_of_role_and_status(request, login, account, role, status):
    campaign = CampaignFactory(account=account, status=status)

    html = login(request.getfixturevalue(role)).get(reverse("campaigns:detail", args=[campaign.pk])).content.decode()

    assert actions_on_page(html) == ACTIONS_SHOWN[role, status]


def test_detail_actions_come_from_available_actions_not_the_status(login, manager, campaign, monkeypatch):
    asked = []

    def only_end(*, campaign, role):
        asked.append((campaign.pk, role))
        return [Action.END]

    monkeypatch.setattr(services, "available_actions", only_end)

    html = login(manager).get(reverse("campaigns:detail", args=[campaign.pk])).content.decode()

    assert asked == [(campaign.pk, "manager")]
    assert actions_on_page(html) == {"end"}  # an active campaign, yet no "Pause…": the template asked
