"""The accounts list (every account of the user: role, connector, last sync, import), the account page
(platform connection and sync state, "sync now") and the per-campaign "retry sync" / "re-send end" actions (the
file import is `imports`). Thin views: rules live in services, reads in selectors."""

import os

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q
from django.shortcuts import redirect, render
from django.tasks import TaskResultStatus
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import trigger_client_event

from .. import selectors_home, services
from ..forms import AccountRightsForm
from ..imports import MAX_UPLOAD_BYTES
from ..models import Campaign, MetricImport, MetricPull, PullKind, Role, SyncState
from ..platforms import platform_label, push
from ..selectors import account_get_for_user, campaign_get_for_user, require_role, role_for
from ..tasks import platform_pull_account_task
from ..text import counted
from .common import safe_next


@login_required
@require_GET
def account_list(request):
    """The user's accounts: three queries (session and user aside) whatever the number of campaigns."""
    scope = selectors_home.home_scope_for_user(user=request.user)
    counts = selectors_home.campaign_counts_by_account(account_ids=scope.account_ids)
    rows = [
        {
            "account": account,
            "counts": counts.get(account.pk, {}),
            "platform": platform_label(account),
            "can_import": account.role.allows(Role.EDITOR),
        }
        for account in scope.accounts.values()
    ]
    return render(request, "campaigns/account_list.html", {"rows": rows, "nav_section": "accounts"})


def _account_context(*, request, account) -> dict:
    role = role_for(user=request.user, account_id=account.pk)
    campaigns = Campaign.objects.filter(account=account)
    counts = campaigns.aggregate(
        total=Count("pk"),
        pending=Count("pk", filter=Q(sync_state=SyncState.PENDING)),
        failed=Count("pk", filter=Q(sync_state=SyncState.FAILED)),
        delivering=Count("pk", filter=Q(still_delivering_since__isnull=False)),
    )
    attention = list(
        campaigns.filter(
            Q(sync_state__in=[SyncState.PENDING, SyncState.FAILED]) | Q(still_delivering_since__isnull=False)
        )
        .only("pk", "name", "status", "sync_state", "sync_error", "still_delivering_since", "sync_attempts")
        .order_by("sync_state", "name")[:100]
    )
    token_env = account.access_token_env
    # The history backfills (the latest few): their progress is shown, and polled while one runs.
    backfills = (
        list(MetricPull.objects.filter(account=account, kind=PullKind.BACKFILL).order_by("-created_at", "-id")[:3])
        if account.is_connected
        else []
    )
    return {
        "backfills": backfills,
        "backfill_running": any(not b.is_done for b in backfills),
        "account": account,
        "role": role,
        "can_edit": role is not None and role.allows(Role.EDITOR),
        "can_manage": role is not None and role.allows(Role.MANAGER),
        "counts": counts,
        "attention": attention,
        "token_env": token_env,
        "token_present": bool(token_env and os.environ.get(token_env, "").strip()),
        "imports": MetricImport.objects.filter(account=account).select_related("uploaded_by")[:10],
        "max_upload_mb": MAX_UPLOAD_BYTES // 1024 // 1024,
        "rights_form": AccountRightsForm(instance=account) if role is not None and role.allows(Role.MANAGER) else None,
        "nav_section": "accounts",
    }


@login_required
@require_GET
def account_detail(request, pk):
    account = account_get_for_user(user=request.user, pk=pk)
    context = _account_context(request=request, account=account)
    if request.htmx:
        return render(request, "campaigns/account_detail.html#sync-status", context)
    return render(request, "campaigns/account_detail.html", context)


@login_required
@require_POST
def account_rights(request, pk):
    """Managers: what happens when content usage rights expire, and the warning lead time."""
    account = account_get_for_user(user=request.user, pk=pk)
    require_role(user=request.user, account_id=account.pk, role=Role.MANAGER, doing="change content-rights settings")
    form = AccountRightsForm(request.POST, instance=account)
    if not form.is_valid():
        errors = " ".join(e for field in form.errors.values() for e in field)
        messages.error(request, f"Content-rights settings not saved: {errors}")
        return redirect(reverse("campaigns:account_detail", args=[account.pk]) + "#content-rights")
    account.refresh_from_db()  # the ModelForm wrote its values onto the instance while validating
    try:
        changed = services.account_rights_settings_set(
            account=account,
            actor=request.user,
            expiry_action=form.cleaned_data["rights_expiry_action"],
            warn_days=form.cleaned_data["rights_warn_days"],
        )
    except services.NotPermitted as exc:
        raise PermissionDenied(str(exc)) from exc
    except services.RightsInvalid as exc:
        messages.error(request, f"Content-rights settings not saved: {exc}")
    else:
        if changed:
            messages.success(
                request,
                f"Saved: when usage rights expire, {account.get_rights_expiry_action_display().lower()}; owners are "
                f"warned {account.get_rights_warn_days_display()} before.",
            )
        else:
            messages.info(request, "Content-rights settings: nothing changed.")
    return redirect(reverse("campaigns:account_detail", args=[account.pk]) + "#content-rights")


@login_required
@require_POST
def account_sync(request, pk):
    account = account_get_for_user(user=request.user, pk=pk)
    require_role(user=request.user, account_id=account.pk, role=Role.EDITOR, doing="sync this account")
    if not account.is_connected:
        messages.info(request, "This is a manual account: nothing to sync. Import an Ads Manager export instead.")
        return redirect("campaigns:account_detail", pk=account.pk)
    result = platform_pull_account_task.enqueue(account_id=account.pk)
    if result.status == TaskResultStatus.SUCCESSFUL:
        summary = result.return_value or {}
        if summary.get("error"):
            messages.error(request, f"Sync failed: {summary['error']}")
        else:
            c, m = summary.get("campaigns", {}), summary.get("metrics", {})
            messages.success(
                request,
                f"Synced {counted(c.get('campaigns_seen', 0), 'campaign')} ({c.get('created', 0)} new, "
                f"{c.get('drifted', 0)} changed on {platform_label(account)}) and "
                f"{counted(m.get('metric_rows', 0), 'daily metric row')}.",
            )
    elif result.status == TaskResultStatus.FAILED:
        messages.error(request, "Sync failed unexpectedly; the error was logged.")
    else:
        messages.info(request, "Sync started. Reload this page in a minute to see the result.")
    return redirect("campaigns:account_detail", pk=account.pk)


def _after_campaign_action(request, campaign, event):
    if request.htmx:
        response = render(
            request,
            "campaigns/account_detail.html#sync-status",
            {**_account_context(request=request, account=campaign.account), "oob_messages": True},
        )
        return trigger_client_event(response, event, {"id": campaign.pk})
    default = reverse("campaigns:account_detail", args=[campaign.account_id])
    return redirect(safe_next(request, request.POST.get("next", ""), default))


def _sync_outcome(request, campaign, *, request_sync, confirmed: str, failed: str, pending: str):
    """Ask the platform again (`request_sync`), then tell the user where that left the campaign."""
    try:
        request_sync(campaign=campaign, actor=request.user)
    except services.CampaignError as error:
        messages.error(request, str(error))
    else:
        campaign.refresh_from_db()
        platform = platform_label(campaign.account)
        if campaign.sync_state == SyncState.SYNCED:
            messages.success(
                request,
                confirmed.format(platform=platform, name=campaign.name, status=campaign.get_status_display().lower()),
            )
        elif campaign.sync_state == SyncState.FAILED:
            messages.error(request, failed.format(name=campaign.name, error=campaign.sync_error))
        else:
            messages.info(request, pending.format(platform=platform, name=campaign.name))
    return _after_campaign_action(request, campaign, "campaignSyncRequested")


@login_required
@require_POST
def campaign_retry_sync(request, pk):
    campaign = campaign_get_for_user(user=request.user, pk=pk)
    require_role(user=request.user, account_id=campaign.account_id, role=Role.EDITOR, doing="retry a sync")
    return _sync_outcome(
        request,
        campaign,
        request_sync=push.campaign_sync_retry,
        confirmed="{platform} confirmed “{name}”: {status}.",
        failed="Retrying “{name}” failed again: {error}",
        pending="Sending “{name}” to {platform} again…",
    )


@login_required
@require_POST
def campaign_resend_end(request, pk):
    campaign = campaign_get_for_user(user=request.user, pk=pk)
    require_role(user=request.user, account_id=campaign.account_id, role=Role.MANAGER, doing="re-send an end")
    # (The service refuses campaigns that have not ended.)
    return _sync_outcome(
        request,
        campaign,
        request_sync=push.campaign_end_resend,
        confirmed="The end of “{name}” was sent again and confirmed.",
        failed="Re-sending the end of “{name}” failed: {error}",
        pending="Re-sending the end of “{name}” to {platform}…",
    )
