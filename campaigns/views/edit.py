"""Create and edit a campaign with its content items (managers of manual accounts)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from .. import selectors, services
from ..forms import CampaignForm, ContentItemFormSet
from ..models import Role


@login_required
@require_http_methods(["GET", "POST"])
def campaign_create(request):
    accounts = selectors.accounts_for_creating(user=request.user)
    if not accounts.exists():
        raise PermissionDenied(
            "You need the manager role in an account without a platform connection to create campaigns."
        )
    data = request.POST if request.method == "POST" else None
    form = CampaignForm(data, accounts=accounts, initial={"start_date": timezone.localdate()})
    formset = ContentItemFormSet(data, prefix="content")
    if data is not None and form.is_valid() and formset.is_valid():
        campaign = services.campaign_create(
            account=form.cleaned_data["account"],
            actor=request.user,
            values=form.edited_values(),
            content_formset=formset,
        )
        messages.success(request, f"Created “{campaign.name}”.")
        return redirect("campaigns:detail", pk=campaign.pk)
    status = 400 if data is not None else 200
    return render(request, "campaigns/campaign_form.html", {"form": form, "formset": formset}, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def campaign_edit(request, pk):
    campaign = selectors.campaign_get_for_user(user=request.user, pk=pk)
    selectors.require_role(user=request.user, account_id=campaign.account_id, role=Role.MANAGER, doing="edit")
    data = request.POST if request.method == "POST" else None
    form = CampaignForm(data, instance=campaign)
    formset = ContentItemFormSet(data, instance=campaign, prefix="content")
    if data is not None and form.is_valid() and formset.is_valid():
        campaign.refresh_from_db()  # the ModelForm wrote its values onto the instance while validating
        changed = services.campaign_edit(
            campaign=campaign, actor=request.user, values=form.edited_values(), content_formset=formset
        )
        messages.success(request, f"Saved “{campaign.name}”." if changed else "Nothing changed.")
        return redirect("campaigns:detail", pk=campaign.pk)
    status = 400 if data is not None else 200
    context = {"form": form, "formset": formset, "campaign": campaign}
    return render(request, "campaigns/campaign_form.html", context, status=status)
