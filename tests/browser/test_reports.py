import datetime as dt
import io
import os
import shutil
import subprocess
from decimal import Decimal
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import expect
from pypdf import PdfReader

from campaigns.models import Action, EndReason, Source, StatusChange
from campaigns.services import campaign_transition
from tests.factories import CampaignFactory
from tests.reports.conftest import metrics_generate

pytestmark = pytest.mark.django_db(transaction=True)

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def _charts_drawn(page):
    return page.evaluate(
        """() => Array.from(document.querySelectorAll('canvas[data-chart]')).map(c => ({
             id: c.dataset.chart, w: c.width, h: c.height, chart: !!(window.Chart && window.Chart.getChart(c)),
             points: window.Chart.getChart(c) ? window.Chart.getChart(c).data.datasets[0].data.length : 0
        }))"""
    )


def test_manager_ends_campaign_and_reads_the_report(login_page, live_server, account, manager, axe, screenshot):
    start = dt.date.today() - dt.timedelta(days=28)
    campaign = CampaignFactory(
        account=account, name="Summer Serum Launch", start_date=start, target_views=20000, target_followers=500
    )
    metrics_generate(campaign, days=28, content=4, start=start)
    campaign_transition(campaign=campaign, action=Action.PAUSE, actor=manager, source=Source.UI)
    campaign_transition(campaign=campaign, action=Action.RESUME, actor=manager, source=Source.UI)
    # Place the pause in the middle of the run, as if it had happened then.
    now = timezone.now()
    StatusChange.objects.filter(campaign=campaign, action=Action.PAUSE).update(created_at=now - dt.timedelta(days=12))
    StatusChange.objects.filter(campaign=campaign, action=Action.RESUME).update(created_at=now - dt.timedelta(days=9))
    campaign_transition(
        campaign=campaign,
        action=Action.END,
        actor=manager,
        source=Source.UI,
        reason_code=EndReason.OBJECTIVES_MET,
        reason_note="Launch goals reached early",
    )
    campaign.refresh_from_db()
    report = campaign.close_report  # built by the task after the end committed

    page = login_page(manager)
    page.goto(f"{live_server.url}/reports/{campaign.pk}/")
    page.wait_for_function("document.querySelectorAll('canvas[data-chart][data-drawn=\"1\"]').length === 4")
    charts = _charts_drawn(page)
    assert len(charts) == 4
    for chart in charts:
        assert chart["chart"], chart
        assert chart["w"] > 0 and chart["h"] > 0, chart
    assert charts[0]["points"] == 28

    assert page.locator('[data-kpi="video_views"] .kpi-value').inner_text() == f"{report.video_views:,}"
    assert page.locator('[data-kpi="spend"] .kpi-value').inner_text() == f"USD {report.spend:,.2f}"
    assert page.locator('[data-kpi="follows"] .kpi-value').inner_text() == f"{campaign.total_follows:,}"
    assert page.get_by_text("Launch goals reached early").is_visible()
    assert axe(page) == []
    screenshot(page, "report")

    # The numbers behind a chart are one click away.
    page.get_by_text("Show the numbers").first.click()
    assert page.locator("details[open] table tbody tr").count() == 28

    # Lessons edited in place with htmx.
    page.get_by_role("link", name="Edit lessons").click()
    page.get_by_label("What worked").fill("Creator duets on day one")
    page.get_by_role("button", name="Save lessons").click()
    page.get_by_text("Lessons saved.").wait_for()
    assert page.get_by_text("Creator duets on day one").is_visible()
    assert "edit=lessons" not in page.url

    # PDF download opens and contains the name and figures.
    with page.expect_download() as info:
        page.get_by_role("link", name="PDF").click()
    pdf_path = info.value.path()
    data = Path(pdf_path).read_bytes()
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(data)).pages)
    assert "Summer Serum Launch" in text
    assert f"{report.video_views:,}" in text
    if os.environ.get("UPDATE_SCREENSHOTS") == "1" and shutil.which("pdftoppm"):
        # docs/screenshots/report-pdf.png: page 1 of the PDF (poppler-utils' pdftoppm).
        pdf_file = SCREENSHOTS / "report.pdf.tmp"
        pdf_file.write_bytes(data)
        try:
            subprocess.run(
                [
                    "pdftoppm",
                    "-png",
                    "-r",
                    "80",
                    "-f",
                    "1",
                    "-l",
                    "1",
                    "-singlefile",
                    str(pdf_file),
                    str(SCREENSHOTS / "report-pdf"),
                ],
                check=True,
            )
        finally:
            pdf_file.unlink(missing_ok=True)


def test_report_on_a_phone(login_page, live_server, account, manager, axe, screenshot, page):
    start = dt.date.today() - dt.timedelta(days=10)
    campaign = CampaignFactory(account=account, name="Phone Check Campaign", start_date=start)
    metrics_generate(campaign, days=10, content=2, start=start)
    campaign_transition(
        campaign=campaign, action=Action.END, actor=manager, source=Source.UI, reason_code=EndReason.BUDGET_CONSTRAINTS
    )
    page.set_viewport_size({"width": 390, "height": 844})
    login_page(manager)
    page.goto(f"{live_server.url}/reports/{campaign.pk}/")
    page.wait_for_function("document.querySelectorAll('canvas[data-chart][data-drawn=\"1\"]').length === 4")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    assert axe(page) == []
    screenshot(page, "report-phone")

    page.set_viewport_size({"width": 1366, "height": 900})
    page.goto(f"{live_server.url}/reports/")
    assert page.get_by_role("link", name="Phone Check Campaign").is_visible()
    assert axe(page) == []
    screenshot(page, "report-index")


def test_final_figures_sit_beside_the_frozen_ones_at_desktop_and_phone_width(
    login_page, live_server, account, manager, axe, screenshot
):
    """Issue 15 §4: once the numbers were pulled again after the attribution window, the report says "Final as of"
    with each figure at close, final and the change, readable on a phone."""
    start = dt.date.today() - dt.timedelta(days=20)
    campaign = CampaignFactory(account=account, name="Autumn Glow Finale", start_date=start)
    metrics_generate(campaign, days=14, content=2, start=start)
    campaign_transition(
        campaign=campaign, action=Action.END, actor=manager, source=Source.UI, reason_code=EndReason.OBJECTIVES_MET
    )
    report = type(campaign.close_report).objects.get(campaign=campaign)
    final = dict(report.snapshot["totals"])
    final["spend"] = str(Decimal(final["spend"]) + Decimal("42.10"))
    final["video_views"] += 1250
    type(report).objects.filter(pk=report.pk).update(final_at=timezone.now(), final_totals=final)

    page = login_page(manager)
    page.goto(f"{live_server.url}/reports/{campaign.pk}/")
    box = page.locator("#final-figures")
    expect(box).to_contain_text("Final as of")
    expect(box.locator("tr[data-final='spend']")).to_contain_text("+USD 42.10")
    expect(box.locator("tr[data-final='video_views']")).to_contain_text("+1,250")
    assert axe(page) == []
    screenshot(page, "report-final", full_page=False)
    page.set_viewport_size({"width": 390, "height": 844})
    box.scroll_into_view_if_needed()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(page, "report-final-phone", full_page=False)
