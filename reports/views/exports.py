"""Downloads of a report for members: the frozen daily and content CSVs, every stored metric row, the PDF."""

from django.contrib.auth.decorators import login_required
from django.views.decorators.http import require_GET

from campaigns.selectors import campaign_get_for_user

from .. import exports
from .common import csv_download, pdf_download, report_or_404


def _frozen_csv(request, campaign_id, kind: str):
    _, report = report_or_404(request, campaign_id)
    header, rows = exports.FROZEN[kind](report.snapshot)
    return csv_download(report.campaign_name, kind, header, rows)


@login_required
@require_GET
def export_daily_csv(request, campaign_id):
    return _frozen_csv(request, campaign_id, "daily")


@login_required
@require_GET
def export_content_csv(request, campaign_id):
    return _frozen_csv(request, campaign_id, "content")


@login_required
@require_GET
def export_metrics_csv(request, campaign_id):
    campaign = campaign_get_for_user(user=request.user, pk=campaign_id)
    account = campaign.account
    header, rows = exports.raw_metric_rows(campaign_id=campaign.pk, currency=account.currency, zone=account)
    return csv_download(campaign.name, "all-metric-rows", header, rows)


@login_required
@require_GET
def export_pdf(request, campaign_id):
    _, report = report_or_404(request, campaign_id)
    return pdf_download(report)
