"""Ads Manager file import on the account page: upload → preview (every row error with its line) → commit or
discard. The parsing and the all-or-nothing commit are services, run by background tasks for big files (issue
19); these views only route and report. While a task works, the import's page shows its progress: htmx polls the
`import-progress` partial (which asks for a full refresh once the task is done), and without JavaScript the page
refreshes itself (`<noscript>` meta refresh) and has a plain "Refresh" link."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRedirect, HttpResponseClientRefresh

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
        metric_import = services.metric_import_start(account=account, upload=upload, actor=request.user)
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


def _progress(metric_import: MetricImport) -> dict:
    """What the page says about a task at work: its step, rows done, rows expected (~), percent (or None)."""
    progress = metric_import.progress or {}
    done, total = progress.get("done", 0), progress.get("total", 0)
    step = {
        ImportState.QUEUED: "waiting for a worker",
        ImportState.PARSING: "reading",
        ImportState.COMMITTING: {"checking": "checking", "writing": "writing"}.get(progress.get("step"), "writing"),
    }.get(metric_import.state, "")
    return {
        "step": step,
        "done": done,
        "total": total,
        "percent": min(99, round(100 * done / total)) if total and done else None,
    }


@login_required
@require_GET
def import_preview(request, pk, import_pk):
    """The import's page: where its task is (polled), or the preview to confirm, or the result."""
    metric_import = _import_get(request, pk, import_pk)
    working = metric_import.state in services.metric_imports.WORKING_STATES
    if request.htmx and request.GET.get("progress"):
        if not working:  # the task finished: the whole page changes (preview, result or failure)
            return HttpResponseClientRefresh()
        return render(
            request,
            "campaigns/import_preview.html#import-progress",
            {"account": metric_import.account, "metric_import": metric_import, "progress": _progress(metric_import)},
        )
    role = role_for(user=request.user, account_id=metric_import.account_id)
    summary = metric_import.summary or {}
    return render(
        request,
        "campaigns/import_preview.html",
        {
            "working": working,
            "progress": _progress(metric_import),
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
            metric_import = services.metric_import_commit(metric_import=metric_import, actor=request.user)
        else:
            services.metric_import_discard(metric_import=metric_import)
    except services.CampaignError as error:
        messages.error(request, str(error))
        return redirect("campaigns:import_preview", pk=pk, import_pk=import_pk)
    if commit:
        if metric_import.state == ImportState.FAILED:
            messages.error(request, metric_import.error)
            return redirect("campaigns:import_preview", pk=pk, import_pk=import_pk)
        if metric_import.state != ImportState.COMMITTED:  # the worker is on it: its page shows how far it is
            messages.info(request, f"Importing “{metric_import.filename}”. This page shows how far it is.")
            return redirect("campaigns:import_preview", pk=pk, import_pk=import_pk)
        result = metric_import.summary["result"]
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
