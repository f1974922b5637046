"""Late numbers (issue 15 §4): the frozen report stays the record of what was known at close; CLOSEOUT_FINAL_AFTER_DAYS
after the end the numbers are pulled again and shown beside the frozen ones as the final figures, on the report
page, the shared page and the PDF, and the owner is told. Against the HTTP fake of TikTok's API, through the
reconciler that finds due reports and the task that finalises them."""

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from campaigns import services
from campaigns.models import Action, Campaign, EndReason, MetricPull, Notification, NotificationKind, PullKind, Source
from campaigns.platforms import history
from reports import pdf, reconcile
from reports.models import CloseReport
from reports.services import pdf_store, share_link_create
from tests.campaigns.fake_tiktok import fake_tiktok_fixture, tiktok_account_fixture  # noqa: F401
from tests.factories import CampaignFactory, DailyMetricFactory

pytestmark = pytest.mark.django_db

DAYS = 10


@pytest.fixture
def ended(tiktok_account, fake_tiktok, manager, editor, django_capture_on_commit_callbacks):
    """A connected campaign with 10 days on TikTok, owned by the editor, ended by the manager: its report is
    frozen with TikTok's whole history."""
    today = history.account_today(tiktok_account)
    start = today - dt.timedelta(days=DAYS - 1)
    campaign = CampaignFactory(
        account=tiktok_account, name="Late Glow", platform_id="1800000000000077", start_date=start, owner=editor
    )
    fake_tiktok.add_campaign(campaign.platform_id, campaign.name)
    for n in range(DAYS):
        fake_tiktok.add_metrics(
            campaign.platform_id,
            start + dt.timedelta(days=n),
            spend="10.00",
            impressions="4000",
            video_play_actions="1000",
        )
    MetricPull.objects.create(
        account=tiktok_account, kind=PullKind.BACKFILL, state="done", start_date=today, end_date=today
    )
    with django_capture_on_commit_callbacks(execute=True):
        services.campaign_transition(
            campaign=campaign, action=Action.END, actor=manager, source=Source.UI, reason_code=EndReason.OBJECTIVES_MET
        )
    report = CloseReport.objects.get(campaign=campaign)
    assert Decimal(report.snapshot["totals"]["spend"]) == Decimal("100.00")
    return campaign, report, start


def revise(fake_tiktok, campaign, day, **metrics):
    """TikTok revises a day after the end (attribution): the same row answers other numbers."""
    for row in fake_tiktok.report_rows:
        if row["campaign_id"] == campaign.platform_id and not row["ad_id"] and row["date"] == day:
            row["metrics"].update({k: str(v) for k, v in metrics.items()})


def days_ago(report, days):
    moment = timezone.now() - dt.timedelta(days=days)
    CloseReport.objects.filter(pk=report.pk).update(ended_at=moment)
    Campaign.objects.filter(pk=report.campaign_id).update(ended_at=moment)


def test_final_figures_after_the_attribution_window_differ_and_the_frozen_ones_never_change(
    ended, fake_tiktok, login, manager, editor, client
):
    campaign, report, start = ended
    revise(fake_tiktok, campaign, start, spend="15.25", video_play_actions="1300")  # its first day, revised late
    days_ago(report, 6)
    assert reconcile.reports_final_due_check(now=timezone.now()) == 0  # not yet: 7 days by default

    days_ago(report, 8)
    assert reconcile.reports_final_due_check(now=timezone.now()) == 1  # queued (run at once in tests)

    report.refresh_from_db()
    assert report.final_at is not None
    assert Decimal(report.final_totals["spend"]) == Decimal("105.25")
    assert report.final_totals["video_views"] == 10_300
    assert Decimal(report.snapshot["totals"]["spend"]) == Decimal("100.00")  # frozen stays frozen
    assert reconcile.reports_final_due_check(now=timezone.now()) == 0  # once

    told = Notification.objects.get(recipient=editor, kind=NotificationKind.REPORT_FINAL)
    assert told.title == "Final figures of “Late Glow”: Spend +USD 5.25; Video views +300"

    page = login(manager).get(reverse("reports:detail", args=[campaign.pk])).content.decode()
    final = page.split('id="final-figures"')[1].split("</section>")[0]
    assert "Final as of" in final
    assert "USD 100.00" in final and "USD 105.25" in final and "+USD 5.25" in final
    assert 'id="since-close"' not in page  # the final figures say it

    link, secret = share_link_create(report=report, actor=manager, label="Client")
    shared = client.get(f"/s/{secret}/").content.decode()
    assert "Final as of" in shared and "USD 105.25" in shared

    extras = pdf_store.pdf_extras(report=CloseReport.objects.get(pk=report.pk), audience="public")
    html = pdf.report_pdf_html(snapshot=report.snapshot, images=[], extras=extras)
    assert "Final figures" in html and "USD 105.25" in html
    assert "Final figures as of" in html.split('class="scope"')[1].split("</div>")[0]


def test_an_account_can_ask_for_its_final_figures_sooner(ended, tiktok_account):
    _campaign, report, _start = ended
    tiktok_account.final_after_days = 3
    tiktok_account.save(update_fields=["final_after_days"])
    days_ago(report, 2)
    assert reconcile.reports_final_due_check(now=timezone.now()) == 0
    days_ago(report, 4)
    assert reconcile.reports_final_due_check(now=timezone.now()) == 1
    report.refresh_from_db()
    assert report.final_at is not None and report.final_totals["spend"] == "100.00"


def test_a_failing_final_pull_waits_visibly_and_is_tried_again_an_hour_later(ended, fake_tiktok, login, manager):
    campaign, report, _start = ended
    days_ago(report, 8)
    fake_tiktok.fail("report/integrated/get", code=40001, times=50, message="Authorization revoked")

    assert reconcile.reports_final_due_check(now=timezone.now()) == 1
    report.refresh_from_db()
    assert report.final_at is None and "revoked" in report.final_error.lower()
    page = login(manager).get(reverse("reports:detail", args=[campaign.pk])).content.decode()
    assert 'id="final-pending"' in page and 'id="final-figures"' not in page

    assert reconcile.reports_final_due_check(now=timezone.now() + dt.timedelta(minutes=10)) == 0
    fake_tiktok.failures.clear()
    campaign.account.needs_reconnect = False
    campaign.account.save(update_fields=["needs_reconnect"])
    assert reconcile.reports_final_due_check(now=timezone.now() + dt.timedelta(minutes=61)) == 1
    report.refresh_from_db()
    assert report.final_at is not None and report.final_error == ""


def test_a_manual_account_finalises_with_what_was_imported_after_close(
    account, manager, login, django_capture_on_commit_callbacks
):
    campaign = CampaignFactory(account=account, name="By Hand")
    DailyMetricFactory(
        campaign=campaign, date=dt.date.today() - dt.timedelta(days=2), spend=Decimal("40"), video_views=500
    )
    services.campaign_totals_refresh(campaign_ids=[campaign.pk])
    with django_capture_on_commit_callbacks(execute=True):
        services.campaign_transition(
            campaign=campaign, action=Action.END, actor=manager, source=Source.UI, reason_code=EndReason.OBJECTIVES_MET
        )
    report = CloseReport.objects.get(campaign=campaign)
    services.daily_metrics_upsert(
        rows=[{"campaign_id": campaign.pk, "content_item_id": None, "date": dt.date.today() - dt.timedelta(days=1),
               "spend": Decimal("2.50"), "video_views": 20}]
    )  # fmt: skip
    days_ago(report, 8)

    assert reconcile.reports_final_due_check(now=timezone.now()) == 1
    report.refresh_from_db()
    assert Decimal(report.final_totals["spend"]) == Decimal(report.snapshot["totals"]["spend"]) + Decimal("2.50")


def test_the_recipients_get_the_final_figures_by_email(
    ended, fake_tiktok, manager, mailoutbox, django_capture_on_commit_callbacks
):
    from reports.services import report_recipient_add

    campaign, report, start = ended
    report_recipient_add(report=report, email="client@example.com", name="Cleo", role="stakeholder", actor=manager)
    revise(fake_tiktok, campaign, start, spend="15.25")
    days_ago(report, 8)
    mailoutbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        assert reconcile.reports_final_due_check(now=timezone.now()) == 1

    [email] = [m for m in mailoutbox if "client@example.com" in m.to]
    assert email.subject == "Final report: Late Glow"
    assert "Final as of" in email.body and "USD 100.00 at close, USD 105.25 final (+USD 5.25)" in email.body
