"""Ads Manager file import on the account page: upload → preview (every row error with its line) → commit or
discard. The parsing and the all-or-nothing commit are services; these views only route and report."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRedirect

from .. import services
from ..imports import ImportFileError
from ..models import ImportState, MetricImport, Role
from ..selectors import account_get_for_user, require_role, role_for
from ..text import counted


@login_required
@require_POST
def import_upload(request, pk):
    account = account_get_for_user(user=request.user, pk=pk)
    require_role(user=request.user, account_id=account.pk, role=Role.EDITOR, doing="import metrics")
    upload = request.FILES.get("file")
    try:
        metric_import = services.metric_import_preview(account=account, upload=upload, actor=request.user)
    except ImportFileError as error:
        messages.error(request, f"Nothing was imported: {error}")
        target = reverse("campaigns:account_detail", args=[account.pk])
    else:
        target = reverse("campaigns:import_preview", args=[account.pk, metric_import.pk])
    # Sent with htmx (for the upload progress bar): the browser then loads the page itself.
    return HttpResponseClientRedirect(target) if request.htmx else redirect(target)


def _import_get(request, pk, import_pk) -> MetricImport:
    account = account_get_for_user(user=request.user, pk=pk)
    metric_import = MetricImport.objects.filter(account=account, pk=import_pk).select_related("account").first()
    if metric_import is None:
        raise Http404("No such import.")
    return metric_import


@login_required
@require_GET
def import_preview(request, pk, import_pk):
    metric_import = _import_get(request, pk, import_pk)
    role = role_for(user=request.user, account_id=metric_import.account_id)
    summary = metric_import.summary or {}
    return render(
        request,
        "campaigns/import_preview.html",
        {
            "account": metric_import.account,
            "metric_import": metric_import,
            "summary": summary,
            "rows": summary.get("metric_rows", {}),
            "errors": summary.get("errors", []),
            "can_edit": role is not None and role.allows(Role.EDITOR),
            "is_preview": metric_import.state == ImportState.PREVIEW,
            "nav_section": "accounts",
        },
    )


def _import_finish(request, pk, import_pk, *, commit: bool):
    """Commit or discard a previewed import (editors), then back to the account page with what happened; a
    refusal (e.g. already committed) goes back to the preview with its reason."""
    metric_import = _import_get(request, pk, import_pk)
    require_role(user=request.user, account_id=metric_import.account_id, role=Role.EDITOR, doing="import metrics")
    try:
        if commit:
            result = services.metric_import_commit(metric_import=metric_import, actor=request.user)
        else:
            services.metric_import_discard(metric_import=metric_import)
    except services.CampaignError as error:
        messages.error(request, str(error))
        return redirect("campaigns:import_preview", pk=pk, import_pk=import_pk)
    if commit:
        messages.success(
            request,
            f"Imported “{metric_import.filename}”: {result['created']} new and {result['updated']} updated daily "
            f"rows, {counted(result['campaigns_created'], 'campaign')} created.",
        )
    else:
        messages.info(request, f"Discarded “{metric_import.filename}”. Nothing was imported.")
    return redirect("campaigns:account_detail", pk=pk)


@login_required
@require_POST
def import_commit(request, pk, import_pk):
    return _import_finish(request, pk, import_pk, commit=True)


@login_required
@require_POST
def import_discard(request, pk, import_pk):
    return _import_finish(request, pk, import_pk, commit=False)
