"""The report page of one ended campaign, and building a missing report by hand."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from campaigns.models import Role
from campaigns.platforms import platform_label
from campaigns.selectors import campaign_get_for_user, require_role, role_for

from .. import selectors, services
from .common import detail_context
from .lessons import lessons_form


@login_required
@require_GET
def report_detail(request, campaign_id):
    # The usual case in one query; a missing report (pending, or a 404) is told apart the usual way.
    found = selectors.report_page_for_user(user=request.user, campaign_id=campaign_id)
    if found is not None:
        report, role = found
        campaign = report.campaign
    else:
        campaign = campaign_get_for_user(user=request.user, pk=campaign_id)
        role = role_for(user=request.user, account_id=campaign.account_id)
        report = selectors.report_for_campaign(campaign=campaign, page=True)
    if report is None:
        return render(
            request,
            "reports/report_pending.html",
            {
                "campaign": campaign,
                "can_build": role is not None and role.allows(Role.MANAGER),
                "wait": selectors.report_wait_for_campaign(campaign=campaign),
                "platform": platform_label(campaign.account),
                "max_wait_hours": settings.REPORT_FINAL_PULL_MAX_WAIT_HOURS,
            },
        )
    context = detail_context(request, campaign, report, role)
    context["report"] = report
    context["editing"] = request.GET.get("edit") == "lessons" and context["can_edit"]
    if context["editing"]:
        context["form"] = lessons_form(context["lessons"])
    return render(request, "reports/report_detail.html", context)


@login_required
@require_POST
def report_build(request, campaign_id):
    campaign = campaign_get_for_user(user=request.user, pk=campaign_id)
    require_role(user=request.user, account_id=campaign.account_id, role=Role.MANAGER, doing="build reports")
    if not campaign.is_ended:
        messages.error(request, f"“{campaign.name}” has not ended, so there is no report to build yet.")
    elif campaign.pk in services.reports_close(campaign_ids=[campaign.pk])["built"] or selectors.report_for_campaign(
        campaign=campaign
    ):
        messages.success(request, "The report is ready.")
    else:
        messages.warning(
            request,
            f"The final numbers could not be pulled from {platform_label(campaign.account)} yet; the report "
            "waits for them and is tried again automatically.",
        )
    return redirect("reports:detail", campaign_id=campaign.pk)
