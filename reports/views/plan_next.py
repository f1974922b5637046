"""Plan the next campaign (issue 18): the campaign create form, prefilled from an ended campaign's report. Opening
it saves nothing; submitting it creates the campaign (`services.plan_next_create`)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from campaigns.forms import CampaignForm, ContentItemFormSet
from campaigns.models import AdAccount
from campaigns.selectors import role_for
from campaigns.timezones import today_in

from .. import selectors, services
from .common import plan_next_allowed, report_or_404


@login_required
@require_http_methods(["GET", "POST"])
def plan_next(request, campaign_id):
    campaign, report = report_or_404(request, campaign_id)  # 404: not the user's, or not ended with a report
    role = role_for(user=request.user, account_id=campaign.account_id)
    if not plan_next_allowed(role=role, campaign=campaign):
        raise PermissionDenied(
            "You need the manager role in this account, and an account without a platform connection, to plan "
            "its next campaign."
        )
    lessons, _ = selectors.lessons_for_report(report=report, history=0)
    today = today_in(campaign.account)
    proposal = services.plan_next_propose(campaign=campaign, report=report, lessons=lessons, today=today)
    data = request.POST if request.method == "POST" else None
    form = CampaignForm(
        data,
        accounts=AdAccount.objects.filter(pk=campaign.account_id),
        initial={**proposal.initial, "account": campaign.account_id},
    )
    # A planned campaign is Closeout's own until someone links it: no platform id, so nothing is pushed.
    form.fields["platform_id"].disabled = True
    form.fields["platform_id"].help_text = "A planned campaign is not linked to the platform: nothing is pushed."
    formset = ContentItemFormSet(data, prefix="content")
    if data is not None and form.is_valid() and formset.is_valid():
        planned = services.plan_next_create(
            campaign=campaign,
            report=report,
            lessons=lessons,
            today=today,
            actor=request.user,
            values=form.edited_values(),
            content_formset=formset,
        )
        text = f"Planned “{planned.name}” from “{campaign.name}”."
        if planned.start_date > today:
            text += f" It starts {planned.start_date:%-d %b %Y}: edit it until then."
        messages.success(request, text)
        return redirect("campaigns:detail", pk=planned.pk)
    context = {
        "form": form,
        "formset": formset,
        "planning": {
            "previous": campaign,
            "plan": proposal.plan,
            "cancel_url": reverse("reports:detail", args=[campaign.pk]),
        },
    }
    return render(request, "campaigns/campaign_form.html", context, status=400 if data is not None else 200)
