import csv
import datetime as dt
import io
import json
import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from pypdf import PdfReader

from campaigns.models import ContentItem, EndReason, Role, Status
from campaigns.services import daily_metrics_upsert
from reports import presenters, selectors
from reports.models import CloseReport, LessonRevision
from reports.services import reports_create
from tests.factories import CampaignFactory, ContentItemFactory, MembershipFactory

from .conftest import START, campaign_end, metrics_generate


def _ended(campaign, manager, days, capture, **kwargs):
    metrics_generate(campaign, days=days, **kwargs)
    with capture(execute=True):
        campaign_end(campaign, manager)
    campaign.refresh_from_db()
    return campaign.close_report


def test_report_page_shows_frozen_figures(ended_report, login, viewer):
    campaign, report = ended_report
    response = login(viewer).get(reverse("reports:detail", args=[campaign.pk]))
    html = response.content.decode()
    assert response.status_code == 200
    assert "Spring Glow" in html
    assert f"{campaign.total_video_views:,}" in html
    assert f"USD {campaign.total_spend:,.2f}" in html
    for chart in ("chart-daily-data", "chart-followers-data", "chart-spend-data", "chart-mix-data"):
        assert f'data-chart="{chart}"' in html
        assert f'id="{chart}"' in html
    assert "Objectives met" in html
    assert 'id="feedback"' in html
    assert "Edit lessons" not in html  # viewers read


def test_report_page_reads_the_body_stored_when_the_report_was_frozen(
    campaign, manager, login, cache_cleared, monkeypatch, django_capture_on_commit_callbacks, django_assert_num_queries
):
    """Issue 19: the frozen body is rendered once, when the report is built, and the page reads it from there
    (365 × 50 took 132–148 ms to present on every view); the snapshot itself is never loaded by the page."""
    _ended(campaign, manager, 20, django_capture_on_commit_callbacks, content=3)
    rendered = []
    monkeypatch.setattr(presenters, "report_body", lambda **kw: rendered.append(kw) or pytest.fail("rendered again"))
    client = login(manager)
    url = reverse("reports:detail", args=[campaign.pk])
    client.get(url)
    with django_assert_num_queries(3) as queries:  # the same 3 as test_report_page_query_count_is_constant
        response = client.get(url)

    html = response.content.decode()
    assert rendered == []
    assert f"{campaign.total_video_views:,}" in html and 'data-chart="chart-daily-data"' in html
    assert "Ended by" in html or "by " in html.split("<dt>Ended</dt>")[1].split("</dd>")[0]  # the team's details
    report_reads = [q["sql"] for q in queries.captured_queries if 'FROM "reports_closereport"' in q["sql"]]
    # The column itself is never selected (only two keys of it are read, inside JSON functions).
    selected = re.compile(r'"reports_closereport"\."snapshot"(, "|\s+FROM)')
    assert report_reads and not any(selected.search(sql) for sql in report_reads)


def test_report_page_zero_views_shows_dashes(campaign, manager, login, django_capture_on_commit_callbacks):
    _ended(campaign, manager, 5, django_capture_on_commit_callbacks, zero_views=True)
    html = login(manager).get(reverse("reports:detail", args=[campaign.pk])).content.decode()
    assert 'data-kpi="engagement_rate"' in html
    kpi = html.split('data-kpi="engagement_rate"')[1].split("</div>\n      </div>")[0]
    assert "—" in kpi


@pytest.mark.parametrize("days", [10, 100])
def test_report_page_query_count_is_constant(
    days, campaign, manager, login, django_capture_on_commit_callbacks, django_assert_num_queries
):
    _ended(campaign, manager, days, django_capture_on_commit_callbacks, content=5)
    other = CampaignFactory(account=campaign.account)
    _ended(other, manager, 3, django_capture_on_commit_callbacks, content=1)
    client = login(manager)
    url = reverse("reports:detail", args=[campaign.pk])
    client.get(url)
    # session, user with the unread bell, the report with its campaign, the user's role, what the comparison is
    # made of (cached after the first view) and which sections have anything (issue 19): no lessons, share links,
    # feedback or recipients here, so nothing else (test_realistic_report_page_… fills every section: 8)
    with django_assert_num_queries(3):
        response = client.get(url)
    assert response.status_code == 200


def test_report_page_other_account_is_404(ended_report, login, outsider):
    campaign, _ = ended_report
    client = login(outsider)
    assert client.get(reverse("reports:detail", args=[campaign.pk])).status_code == 404
    assert client.get(reverse("reports:export_pdf", args=[campaign.pk])).status_code == 404
    assert client.get(reverse("reports:export_daily", args=[campaign.pk])).status_code == 404
    assert client.get(reverse("reports:export_metrics", args=[campaign.pk])).status_code == 404


def test_report_page_requires_login(ended_report, client):
    campaign, _ = ended_report
    response = client.get(reverse("reports:detail", args=[campaign.pk]))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_late_metrics_shown_as_since_close_delta(ended_report, login, viewer):
    campaign, report = ended_report
    daily_metrics_upsert(
        rows=[
            {
                "campaign_id": campaign.pk,
                "content_item_id": None,
                "date": START.replace(day=28),
                "spend": Decimal("12.50"),
                "video_views": 400,
            }
        ]
    )
    html = login(viewer).get(reverse("reports:detail", args=[campaign.pk])).content.decode()
    assert "Since close" in html
    assert "+400" in html
    assert "+USD 12.50" in html
    # The KPI still shows the frozen total.
    assert f"{report.video_views:,}" in html


def test_ended_without_snapshot_shows_being_prepared_and_manager_builds(campaign, manager, viewer, login):
    campaign.status = Status.ENDED
    campaign.save(update_fields=["status"])
    client = login(viewer)
    html = client.get(reverse("reports:detail", args=[campaign.pk])).content.decode()
    assert "being prepared" in html
    assert "Build the report now" not in html
    assert client.post(reverse("reports:build", args=[campaign.pk])).status_code == 403

    client = login(manager)
    assert "Build the report now" in client.get(reverse("reports:detail", args=[campaign.pk])).content.decode()
    response = client.post(reverse("reports:build", args=[campaign.pk]))
    assert response.status_code == 302
    assert CloseReport.objects.filter(campaign=campaign).exists()


def test_active_campaign_has_no_report_yet(campaign, login, viewer):
    html = login(viewer).get(reverse("reports:detail", args=[campaign.pk])).content.decode()
    assert "No report yet" in html


def test_viewer_cannot_edit_lessons(ended_report, login, viewer):
    campaign, _ = ended_report
    client = login(viewer)
    url = reverse("reports:lessons_edit", args=[campaign.pk])
    response = client.post(url, {"what_worked": "x"})
    assert response.status_code == 403
    assert "editor role" in response.content.decode()
    assert not LessonRevision.objects.exists()


def test_editor_saves_lessons_without_javascript(ended_report, login, editor):
    campaign, report = ended_report
    client = login(editor)
    page = client.get(reverse("reports:detail", args=[campaign.pk]) + "?edit=lessons").content.decode()
    assert "Save lessons" in page
    response = client.post(
        reverse("reports:lessons_edit", args=[campaign.pk]),
        {"what_worked": "Short hooks", "what_to_change": "Post earlier", "next_steps": "Brief the creators"},
        follow=True,
    )
    html = response.content.decode()
    assert "Lessons saved." in html
    assert "Short hooks" in html
    assert report.lesson_revisions.get().author == editor


def test_manager_saves_lessons_with_htmx_and_history_is_kept(ended_report, login, manager):
    campaign, report = ended_report
    client = login(manager)
    url = reverse("reports:lessons_edit", args=[campaign.pk])
    form = client.get(url, headers={"HX-Request": "true"}).content.decode()
    assert "<form" in form and "<html" not in form
    client.post(url, {"what_worked": "v1", "base_revision": ""}, headers={"HX-Request": "true"})
    first = report.lesson_revisions.get()
    response = client.post(url, {"what_worked": "v2", "base_revision": first.pk}, headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert "lessonsSaved" in json.loads(response["HX-Trigger"])
    html = response.content.decode()
    assert "v2" in html and "Edit history" in html
    assert report.lesson_revisions.count() == 2


def test_stale_lessons_edit_is_refused_with_a_message(ended_report, login, manager, editor):
    campaign, report = ended_report
    url = reverse("reports:lessons_edit", args=[campaign.pk])
    login(editor).post(url, {"what_worked": "theirs", "base_revision": ""})
    response = login(manager).post(url, {"what_worked": "mine", "base_revision": ""})
    assert response.status_code == 409
    assert "Someone else saved" in response.content.decode()
    assert report.lesson_revisions.get().what_worked == "theirs"


def test_content_table_sorts_by_column(campaign, manager, login, django_capture_on_commit_callbacks):
    _ended(campaign, manager, 4, django_capture_on_commit_callbacks, content=3)
    client = login(manager)
    url = reverse("reports:detail", args=[campaign.pk])
    html = client.get(url + "?sort=title").content.decode()
    assert html.index("Clip 1") < html.index("Clip 2") < html.index("Clip 3")
    html = client.get(url + "?sort=-title").content.decode()
    assert html.index("Clip 3") < html.index("Clip 2") < html.index("Clip 1")


def test_comparison_shows_median_of_other_reports(account, manager, login, django_capture_on_commit_callbacks):
    campaigns = CampaignFactory.create_batch(3, account=account)
    for seed, c in enumerate(campaigns):
        _ended(c, manager, 5, django_capture_on_commit_callbacks, seed=seed + 1)
    html = login(manager).get(reverse("reports:detail", args=[campaigns[0].pk])).content.decode()
    assert "Median of 2 others" in html


def test_comparison_is_read_from_the_cache_until_the_accounts_reports_change(
    account, manager, login, django_capture_on_commit_callbacks, cache_cleared
):
    """Issue 19: the comparison reads every other report of the account; it is cached under the account's report
    count and newest id (read with the report), so it is made again exactly when a report is added or deleted."""
    campaigns = CampaignFactory.create_batch(3, account=account)
    for seed, c in enumerate(campaigns[:2]):
        _ended(c, manager, 5, django_capture_on_commit_callbacks, seed=seed + 1)
    client = login(manager)
    url = reverse("reports:detail", args=[campaigns[0].pk])

    def comparison_reads():
        with CaptureQueriesContext(connection) as queries:
            html = client.get(url).content.decode()
        first_column = f'SELECT "reports_closereport"."{selectors.COMPARISON_METRICS[0].column}"'
        reads = [q for q in queries if q["sql"].startswith(first_column)]
        return html, len(reads)

    html, reads = comparison_reads()
    assert "Median of 1 other" in html and reads == 1
    html, reads = comparison_reads()
    assert "Median of 1 other" in html and reads == 0  # from the cache
    _ended(campaigns[2], manager, 5, django_capture_on_commit_callbacks, seed=3)  # a report is added
    html, reads = comparison_reads()
    assert "Median of 2 others" in html and reads == 1
    campaigns[1].close_report.delete()  # a superuser deletes one (to rebuild it)
    html, reads = comparison_reads()
    assert "Median of 1 other" in html and reads == 1
    campaigns[2].close_report.delete()  # no other report left: nothing to compare with
    html, reads = comparison_reads()
    assert "Median of 0 others" not in html and reads == 1


def test_index_lists_only_my_accounts_reports(
    ended_report, login, viewer, outsider, other_campaign, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        campaign_end(other_campaign, outsider)
    html = login(viewer).get(reverse("reports:index")).content.decode()
    assert "Spring Glow" in html
    assert "Secret Other Launch" not in html


def test_index_filters_by_reason(account, manager, login, django_capture_on_commit_callbacks):
    a = CampaignFactory(account=account, name="Budget Cut")
    b = CampaignFactory(account=account, name="All Goals")
    with django_capture_on_commit_callbacks(execute=True):
        campaign_end(a, manager, reason=EndReason.BUDGET_CONSTRAINTS)
        campaign_end(b, manager)
    html = login(manager).get(reverse("reports:index"), {"end_reason": "budget_constraints"}).content.decode()
    assert "Budget Cut" in html and "All Goals" not in html
    html = login(manager).get(reverse("reports:index"), {"ended_after": "2000-01-01", "objective": "video_views"})
    assert "All Goals" in html.content.decode()


def test_index_query_count_is_constant(
    account, manager, login, django_assert_num_queries, django_capture_on_commit_callbacks
):
    client = login(manager)
    counts = []
    for n in (2, 12):
        campaigns = CampaignFactory.create_batch(n, account=account)
        with django_capture_on_commit_callbacks(execute=True):
            for c in campaigns:
                campaign_end(c, manager)
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as ctx:
            assert client.get(reverse("reports:index"), {"sort": "-spend"}).status_code == 200
        counts.append(len(ctx.captured_queries))
    assert counts[0] == counts[1] <= 7  # + the accounts for their recipient-list links (issue 18)


def test_compare_is_scoped_and_limited_to_four(
    account, manager, outsider, other_campaign, login, django_capture_on_commit_callbacks
):
    mine = CampaignFactory.create_batch(5, account=account)
    with django_capture_on_commit_callbacks(execute=True):
        for c in mine:
            campaign_end(c, manager)
        campaign_end(other_campaign, outsider)
    ids = ",".join(str(c.pk) for c in [other_campaign, *mine])
    response = login(manager).get(reverse("reports:compare") + f"?ids={ids}", follow=True)
    html = response.content.decode()
    assert "Secret Other Launch" not in html
    assert sum(1 for c in mine if c.name in html) == 3  # first four asked, one of them not mine
    assert "At most 4" in html


def _csv(response):
    assert response.streaming
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))


def test_daily_csv_is_the_frozen_series(ended_report, login, viewer):
    campaign, report = ended_report
    rows = _csv(login(viewer).get(reverse("reports:export_daily", args=[campaign.pk])))
    assert rows[0][:3] == ["date", "spend_usd", "impressions"]  # money columns name their currency (issue 16)
    assert len(rows) == 1 + 14
    assert sum(Decimal(r[1]) for r in rows[1:]) == report.spend


def test_content_csv_neutralises_formulas(campaign, manager, login, django_capture_on_commit_callbacks):
    ContentItemFactory(campaign=campaign, title='=HYPERLINK("http://evil","x")')
    ContentItemFactory(campaign=campaign, title="+1+2")
    ContentItemFactory(campaign=campaign, title="@SUM(A1)")
    ContentItemFactory(campaign=campaign, title="-2+3")
    ContentItemFactory(campaign=campaign, title="\tcmd")
    ContentItemFactory(campaign=campaign, title="Plain title")
    with django_capture_on_commit_callbacks(execute=True):
        campaign_end(campaign, manager)
    rows = _csv(login(manager).get(reverse("reports:export_content", args=[campaign.pk])))
    titles = [r[1] for r in rows[1:]]
    assert titles == ['\'=HYPERLINK("http://evil","x")', "'+1+2", "'@SUM(A1)", "'-2+3", "'\tcmd", "Plain title"]


def test_raw_metric_rows_csv_streams_every_stored_row(ended_report, login, viewer):
    campaign, _ = ended_report
    ContentItem.objects.filter(campaign=campaign).update(title="=cmd|' /C calc'!A0")
    rows = _csv(login(viewer).get(reverse("reports:export_metrics", args=[campaign.pk])))
    assert len(rows) - 1 == campaign.daily_metrics.count()
    assert all(not r[2].startswith("=") for r in rows[1:])


def test_pdf_contains_campaign_name_and_figures(ended_report, login, viewer):
    campaign, report = ended_report
    response = login(viewer).get(reverse("reports:export_pdf", args=[campaign.pk]))
    assert response["Content-Type"] == "application/pdf"
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(response.content)).pages)
    assert "Spring Glow" in text
    assert f"{report.video_views:,}" in text
    assert f"{report.spend:,.2f}" in text


def test_viewer_of_second_account_sees_its_reports_only(ended_report, login, other_account):
    from tests.factories import UserFactory

    user = UserFactory(username="multi")
    MembershipFactory(user=user, account=other_account, role=Role.VIEWER)
    campaign, _ = ended_report
    assert login(user).get(reverse("reports:detail", args=[campaign.pk])).status_code == 404


def test_rebuilt_report_for_campaign_without_history(account, login, manager):
    campaign = CampaignFactory(account=account, status=Status.ENDED, end_reason="other")
    reports_create(campaign_ids=[campaign.pk])
    html = login(manager).get(reverse("reports:detail", args=[campaign.pk])).content.decode()
    assert "Post-close report" in html


def test_compare_accepts_checkbox_ids(account, manager, login, django_capture_on_commit_callbacks):
    a, b = CampaignFactory(account=account, name="Alpha Run"), CampaignFactory(account=account, name="Beta Run")
    with django_capture_on_commit_callbacks(execute=True):
        campaign_end(a, manager)
        campaign_end(b, manager)
    html = login(manager).get(reverse("reports:compare"), {"ids": [a.pk, b.pk]}).content.decode()
    assert "Alpha Run" in html and "Beta Run" in html


def test_pdf_of_a_long_campaign_lists_months(account, manager, login, django_capture_on_commit_callbacks):
    campaign = CampaignFactory(account=account, name="Long Run")
    _ended(campaign, manager, 70, django_capture_on_commit_callbacks, content=1)
    response = login(manager).get(reverse("reports:export_pdf", args=[campaign.pk]))
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(response.content)).pages)
    assert "Monthly figures" in text and "Long Run" in text


def _busy_report(campaign, manager, editor, capture):
    """A realistic report: branding, two default recipients, a note before close, lessons (edited twice), a share
    link."""
    from campaigns import services as campaign_services
    from campaigns.models import Campaign
    from reports import services

    from .test_branding import png_bytes

    Campaign.objects.filter(pk=campaign.pk).update(start_date=START)
    campaign.refresh_from_db()
    services.account_branding_save(
        account=campaign.account,
        actor=manager,
        display_name="Acme",
        accent_color="#0a5f3c",
        footer_text="Acme footer",
        logo=services.logo_prepare(png_bytes()),
    )
    for email in ("ana@client.example", "ben@client.example"):
        services.account_recipient_add(account=campaign.account, actor=manager, email=email)
    metrics_generate(campaign, days=14)
    with capture(execute=True):
        campaign_services.annotation_create(campaign=campaign, actor=editor, day=START, text="Creator posted")
        campaign_end(campaign, manager)
    campaign.refresh_from_db()
    report = campaign.close_report
    texts = {"what_to_change": "Start the teaser earlier", "next_steps": "Brief two creators"}
    first = services.lessons_save(report=report, author=manager, what_worked="Duets", base_revision_id=None, **texts)
    services.lessons_save(
        report=report, author=editor, what_worked="Duets on day one", base_revision_id=first.pk, **texts
    )
    link, _ = services.share_link_create(report=report, actor=manager, label="Creators")
    return report, link


def _busier(campaign, report, link, manager, editor, capture, n):
    """`n` more notes after close, feedback answers, report recipients, and an email to everyone."""
    from campaigns import services as campaign_services
    from reports import services

    with capture(execute=True):
        for i in range(n):
            day = START + dt.timedelta(days=1 + i % 10)
            campaign_services.annotation_create(campaign=campaign, actor=editor, day=day, text=f"Later note {i}")
    for i in range(n):
        services.feedback_create(
            report=report, link=link, author=None, role="influencer", rating=4, would_take_part_again=True, comment="ok"
        )
        services.report_recipient_add(report=report, actor=manager, email=f"p{n}-{i}@client.example")
    with capture(execute=True):
        services.report_deliver(report=report, occasion="manual")


def test_realistic_report_page_queries_do_not_grow_with_feedback_notes_or_recipients(
    campaign, manager, editor, login, cache_cleared, django_capture_on_commit_callbacks, django_assert_num_queries
):
    """Issue 19: 15 queries before, 8 now, with every section filled: session, user with the unread bell, the
    report with its campaign, role, comparison stamp (the comparison itself cached) and which sections have
    anything, lessons, share links, feedback by role and recipient, comments, recipients joined to their emails.
    (The account's default recipients are all on the report's list once it was sent: not read.)"""
    report, link = _busy_report(campaign, manager, editor, django_capture_on_commit_callbacks)
    client = login(manager)
    url = reverse("reports:detail", args=[campaign.pk])
    for n, total in ((1, 1), (6, 7)):
        _busier(campaign, report, link, manager, editor, django_capture_on_commit_callbacks, n)
        client.get(url)  # renders the body again with the later notes
        with django_assert_num_queries(8):
            html = client.get(url).content.decode()
        assert "Duets on day one" in html and "Edit history (2 most recent)" in html
        assert f"Later note {n - 1}" in html and "added after close" in html
        assert html.count("data-recipient=") == 2 + total and html.count("data-feedback=") == total
        assert 'id="share-links"' in html and f'Feedback <span class="muted">({total})</span>' in html
