"""Issue 16, point 6: campaign data validated (form and database), a campaign that starts later reads
"Starts 5 Dec" and is not delivering, creating reads "Created", edits name their fields and values, and an import
that creates unknown campaigns marks them "needs details" with the importer as owner."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import IntegrityError, transaction
from django.urls import reverse

from campaigns import history_text, services, tables
from campaigns.models import Action, Campaign, Source, Status, StatusChange
from campaigns.views.actions import _daily_stop
from tests.factories import CampaignFactory

from .test_forms import form_data

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("budget_amount", "0", "The budget must be more than 0."),
        ("budget_amount", "-5", "The budget must be more than 0."),
        ("target_engagement_rate", "150", "An engagement rate is a percentage from 0 to 100."),
        ("target_engagement_rate", "-1", "An engagement rate is a percentage from 0 to 100."),
        ("target_cost_per_result", "-1", "A cost per result cannot be negative."),
        ("target_views", "0", "A target must be more than 0 (leave it empty for no target)."),
        ("target_followers", "0", "A target must be more than 0 (leave it empty for no target)."),
    ],
)
def test_form_refuses_out_of_range_campaign_data(login, manager, account, field, value, message):
    response = login(manager).post(reverse("campaigns:create"), form_data(account=account.pk, **{field: value}))
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Campaign.objects.filter(name="Handmade").exists()


def test_form_accepts_the_edges(login, manager, account):
    data = form_data(
        account=account.pk,
        budget_amount="0.01",
        target_engagement_rate="100",
        target_cost_per_result="0",
        target_views="1",
    )
    assert login(manager).post(reverse("campaigns:create"), data).status_code == 302


@pytest.mark.parametrize(
    "values",
    [
        {"budget_amount": Decimal("0"), "platform_id": ""},
        {"target_engagement_rate": Decimal("150")},
        {"target_engagement_rate": Decimal("-0.5")},
        {"target_cost_per_result": Decimal("-1")},
        {"target_views": 0},
        {"target_reach": 0},
        {"target_clicks": 0},
        {"target_followers": 0},
    ],
)
def test_database_refuses_out_of_range_campaign_data(account, values):
    with pytest.raises(IntegrityError), transaction.atomic():
        CampaignFactory(account=account, **values)


def test_budget_zero_is_allowed_only_while_details_are_missing_or_the_platform_owns_it(account):
    CampaignFactory(account=account, budget_amount=Decimal("0"), platform_id="", needs_details=True)
    CampaignFactory(account=account, budget_amount=Decimal("0"), platform_id="1800000012345")  # e.g. no limit


def test_a_campaign_that_starts_later_reads_starts_and_is_not_delivering(login, viewer, account):
    start = dt.date.today() + dt.timedelta(days=10)
    later = CampaignFactory(account=account, name="Later", start_date=start, end_date=start + dt.timedelta(days=5))
    now = CampaignFactory(account=account, name="Running")

    badge = tables.status_badge(later)
    assert f"Starts {start.day} {start:%b}" in badge and "badge-starts" in badge and "Active" not in badge
    assert "Active" in tables.status_badge(now)
    assert later.starts_later(dt.date.today()) and not later.is_delivering(dt.date.today())
    assert _daily_stop(later) == ("not started yet", Decimal("0"))
    assert _daily_stop(now)[1] == now.budget_amount

    html = login(viewer).get(reverse("campaigns:list")).content.decode()
    row = html[html.index(">Later</a>") :]
    assert f"Starts {start.day} {start:%b}" in row[: row.index("</tr>")]
    page = login(viewer).get(reverse("campaigns:detail", args=[later.pk])).content.decode()
    assert f"Starts {start.day} {start:%b}" in page[page.index('class="status-line"') :][:400]


def test_a_paused_campaign_that_starts_later_still_reads_paused(account):
    later = CampaignFactory(account=account, status=Status.PAUSED, start_date=dt.date.today() + dt.timedelta(days=3))
    assert "Paused" in tables.status_badge(later)


def test_creating_reads_created_and_edits_name_fields_and_values(login, manager, account):
    client = login(manager)
    client.post(reverse("campaigns:create"), form_data(account=account.pk))
    campaign = Campaign.objects.get(name="Handmade")
    edit = form_data(
        campaign,
        budget_amount="75.00",
        target_views="20000",
        objective="traffic",
        end_date="2030-02-15",
        **{"content-INITIAL_FORMS": "1", "content-0-id": str(campaign.content_items.get().pk)},
    )
    assert client.post(reverse("campaigns:edit", args=[campaign.pk]), edit).status_code == 302

    rows = history_text.history_rows(StatusChange.objects.filter(campaign=campaign), campaign=campaign)
    by_headline = {row.headline: row.details for row in rows}
    assert by_headline["Created by mona-manager"] == ["Content added: Teaser"]
    edited = by_headline["Edited by mona-manager"]
    assert "Budget: 50.00 USD → 75.00 USD" in edited
    assert "Video views target: — → 20,000" in edited
    assert "Objective: Reach → Traffic" in edited
    assert "End date: 31 Jan 2030 → 15 Feb 2030" in edited
    html = client.get(reverse("campaigns:detail", args=[campaign.pk])).content.decode()
    history = html[html.index('id="history-title"') :]
    assert "Created by mona-manager" in history and "Edited" in history
    assert "target_views" not in history and "budget_amount" not in history


def test_history_reads_schedules_skips_and_platform_sync(account, manager):
    campaign = CampaignFactory(account=account)
    rows = [
        StatusChange(
            campaign=campaign,
            action=Action.SCHEDULE_SKIPPED,
            from_status="active",
            to_status="active",
            source=Source.SCHEDULE,
            details={"action": "pause", "result": "Nothing to do: already paused."},
        ),
        StatusChange(
            campaign=campaign,
            action=Action.SYNC,
            from_status="active",
            to_status="active",
            source=Source.PLATFORM,
            details={"event": "failed", "operation": "DISABLE", "error": "rate limited"},
        ),
        StatusChange(
            campaign=campaign,
            action=Action.EDIT,
            from_status="ended",
            to_status="ended",
            source=Source.COMMAND,
            details={"winddown_step": "platform_confirmed", "done": True, "automatic": True},
        ),
    ]
    text = [(r.headline, r.details) for r in history_text.history_rows(rows, campaign=campaign)]
    assert text == [
        ("Scheduled pause skipped", ["Nothing to do: already paused."]),
        ("TikTok did not apply the change", ["rate limited"]),
        ("Wind-down: Platform confirmed the end done automatically", []),
    ]


IMPORT = (
    "Campaign name,By Day,Cost,Impressions,Reach,Clicks (destination),Video views,Paid likes,Paid comments,"
    "Paid shares,Paid follows,Profile visits\nBrand New Drop,2026-05-01,5,100,80,2,50,1,0,0,0,1\n"
)


def test_import_marks_unknown_campaigns_needs_details_owned_by_the_importer(
    login, account, editor, manager, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path
    client = login(editor)
    client.post(
        reverse("campaigns:import_upload", args=[account.pk]),
        {"file": SimpleUploadedFile("export.csv", IMPORT.encode())},
    )
    from campaigns.models import MetricImport

    client.post(reverse("campaigns:import_commit", args=[account.pk, MetricImport.objects.get().pk]))
    created = Campaign.objects.get(name="Brand New Drop")
    assert created.needs_details and created.owner == editor and created.budget_amount == 0

    listing = client.get(reverse("campaigns:list")).content.decode()
    row = listing[listing.index(">Brand New Drop</a>") :]
    assert "needs details" in row[: row.index("</tr>")]
    page = login(manager).get(reverse("campaigns:detail", args=[created.pk])).content.decode()
    assert "Needs details." in page and reverse("campaigns:edit", args=[created.pk]) in page

    # A manager fills them in: the campaign stops asking, and the history says so.
    values = {
        "name": created.name,
        "platform_id": "",
        "objective": created.objective,
        "budget_mode": "daily",
        "budget_amount": Decimal("40"),
        "start_date": created.start_date,
        "end_date": None,
    }
    services.campaign_edit(campaign=created, actor=manager, values=values)
    created.refresh_from_db()
    assert not created.needs_details
    [edit] = list(StatusChange.objects.filter(campaign=created, action=Action.EDIT))
    row = history_text.history_row(edit, campaign=created)
    assert "Needs details: yes → no" in row.details and "Budget: 0.00 USD → 40.00 USD" in row.details


@pytest.mark.django_db(transaction=True)
def test_migration_keeps_the_campaign_triggers(account):
    """Adding the constraints rebuilds campaigns_campaign on SQLite, which drops its triggers: migration 0007
    puts them back, both ways (the list totals stay right after unapplying and re-applying it)."""
    from django.core.management import call_command

    from tests.campaigns.test_list_stats import _assert_stats_match

    CampaignFactory.create_batch(2, account=account, total_spend=Decimal("4.50"))
    call_command("migrate", "campaigns", "0006", verbosity=0)
    from django.db import connection

    with connection.cursor() as cursor:  # the 0006 schema has no needs_details: the row as an old import wrote it
        cursor.execute(
            "INSERT INTO campaigns_campaign (account_id, platform_id, name, objective, status, sync_state, sync_error,"
            " sync_attempts, delete_on_platform, platform_status, budget_mode, budget_amount, start_date, audience,"
            " created_at, updated_at, end_reason, total_spend, total_impressions, total_reach, total_clicks,"
            " total_video_views, total_likes, total_comments, total_shares, total_follows, total_profile_visits)"
            " VALUES (%s, '', 'Old import', 'reach', 'active', 'synced', '', 0, FALSE, '', 'daily', 0, '2030-01-01',"
            " '', '2030-01-01', '2030-01-01', '', 1, 0, 0, 0, 0, 0, 0, 0, 0, 0)",
            [account.pk],
        )
    _assert_stats_match([account.pk])  # the 0006 triggers are back after unapplying 0007
    call_command("migrate", verbosity=0)  # every app: going back unapplied the reports migrations built on these
    assert Campaign.objects.get(name="Old import").needs_details  # budget 0 without a platform: needs details
    CampaignFactory(account=account, total_spend=Decimal("1"))
    _assert_stats_match([account.pk])  # and after re-applying it
