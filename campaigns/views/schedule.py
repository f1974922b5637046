"""Scheduled actions of one campaign: schedule a pause or an end, or remove the pending one."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from .. import selectors, services
from ..forms import ScheduleForm, zone
from ..models import Role
from .common import safe_next
from .detail import detail_context


@login_required
@require_POST
def campaign_schedule(request, pk):
    campaign = selectors.campaign_get_for_user(user=request.user, pk=pk)
    selectors.require_role(user=request.user, account_id=campaign.account_id, role=Role.MANAGER, doing="schedule")
    form = ScheduleForm(request.POST, tz=zone(campaign.account.timezone))
    if form.is_valid():
        try:
            scheduled = services.scheduled_action_create(
                campaign=campaign,
                action=form.cleaned_data["action"],
                run_at=form.cleaned_data["run_at"],
                actor=request.user,
                reason_code=form.cleaned_data.get("reason_code", ""),
                reason_note=form.cleaned_data.get("reason_note", ""),
            )
        except services.CampaignError as exc:
            form.add_error(None, str(exc))
        else:
            local = timezone.localtime(scheduled.run_at, form.tz).strftime("%Y-%m-%d %H:%M")
            messages.success(
                request,
                f"Scheduled: {scheduled.get_action_display().lower()} “{campaign.name}” at {local} ({form.tz.key}).",
            )
            return redirect("campaigns:detail", pk=campaign.pk)
    context = detail_context(request, campaign, schedule_form=form)
    return render(request, "campaigns/campaign_detail.html", context, status=400)


@login_required
@require_POST
def campaign_unschedule(request, pk):
    campaign = selectors.campaign_get_for_user(user=request.user, pk=pk)
    selectors.require_role(user=request.user, account_id=campaign.account_id, role=Role.MANAGER, doing="unschedule")
    if services.scheduled_action_cancel(campaign=campaign, actor=request.user):
        messages.success(request, f"Unscheduled the pending action of “{campaign.name}”.")
    else:
        messages.info(request, f"“{campaign.name}” had no scheduled action left to remove.")
    nxt = safe_next(request, request.POST.get("next", ""), reverse("campaigns:detail", args=[campaign.pk]))
    return redirect(nxt)
