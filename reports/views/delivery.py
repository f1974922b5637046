"""Stakeholder delivery pages (issue 18): a report's recipients and "send now" (on its share panel), an account's
default recipients, and the public unsubscribe page. Managers edit and send; editors and viewers see the delivery
state only. Plain forms that redirect with a message, so everything works without JavaScript. Rules live in
`reports.services.delivery`."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from campaigns.models import Role
from campaigns.selectors import account_get_for_user, require_role

from .. import services
from ..forms import RecipientForm
from ..models import AccountRecipient, ReportRecipient
from .common import report_or_404
from .public import _public_headers


def _delivery_url(campaign) -> str:
    return reverse("reports:detail", args=[campaign.pk]) + "#delivery"


def _manager_report(request, campaign_id, doing):
    campaign, report = report_or_404(request, campaign_id)
    require_role(user=request.user, account_id=campaign.account_id, role=Role.MANAGER, doing=doing)
    return campaign, report


def _form_errors(form) -> str:
    return " ".join(f"{form.fields[f].label}: {' '.join(e)}" for f, e in form.errors.items() if f in form.fields)


@login_required
@require_POST
def delivery_send_now(request, campaign_id):
    campaign, report = _manager_report(request, campaign_id, "send reports")
    queued = services.report_deliver(report=report, occasion="manual", actor=request.user)
    if queued:
        messages.success(request, f"The report is being emailed to {queued} recipient{'s' if queued != 1 else ''}.")
    else:
        messages.error(request, "Nobody to email: add a recipient first (removed and unsubscribed people are skipped).")
    return redirect(_delivery_url(campaign))


@login_required
@require_POST
def report_recipient_add(request, campaign_id):
    campaign, report = _manager_report(request, campaign_id, "change recipients")
    form = RecipientForm(request.POST, prefix="recipient")
    if not form.is_valid():
        messages.error(request, f"Not added. {_form_errors(form)}")
        return redirect(_delivery_url(campaign))
    try:
        recipient = services.report_recipient_add(report=report, actor=request.user, **form.cleaned_data)
    except services.ReportError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"{recipient.email} will receive this report’s next email (use “Send now”).")
    return redirect(_delivery_url(campaign))


@login_required
@require_POST
def report_recipient_remove(request, campaign_id, recipient_id):
    campaign, report = _manager_report(request, campaign_id, "change recipients")
    recipient = ReportRecipient.objects.filter(pk=recipient_id, report=report).select_related("link", "report").first()
    if recipient is None:
        raise Http404("No such recipient.")
    if services.report_recipient_remove(recipient=recipient, actor=request.user):
        messages.success(request, f"{recipient.email} is removed from this report and their link no longer works.")
    else:
        messages.info(request, f"{recipient.email} was already removed.")
    return redirect(_delivery_url(campaign))


@login_required
@require_http_methods(["GET", "POST"])
def account_recipients(request, account_id):
    """An account's default recipients: every member sees them, managers add and remove."""
    account = account_get_for_user(user=request.user, pk=account_id)
    role = require_role(user=request.user, account_id=account.pk, role=Role.VIEWER, doing="see recipients")
    is_manager = role.allows(Role.MANAGER)
    form = RecipientForm(prefix="recipient")
    status = 200
    if request.method == "POST":
        require_role(user=request.user, account_id=account.pk, role=Role.MANAGER, doing="change recipients")
        form = RecipientForm(request.POST, prefix="recipient")
        if form.is_valid():
            try:
                added = services.account_recipient_add(account=account, actor=request.user, **form.cleaned_data)
            except services.ReportError as exc:
                form.add_error("email", str(exc))
            else:
                messages.success(request, f"{added.email} will receive every new report of {account.name}.")
                return redirect("reports:account_recipients", account.pk)
        status = 400
    context = {
        "account": account,
        "recipients": AccountRecipient.objects.filter(account=account).order_by("email"),
        "form": form,
        "is_manager": is_manager,
        "nav_section": "accounts",
    }
    return render(request, "reports/account_recipients.html", context, status=status)


@login_required
@require_POST
def account_recipient_remove(request, account_id, recipient_id):
    account = account_get_for_user(user=request.user, pk=account_id)
    require_role(user=request.user, account_id=account.pk, role=Role.MANAGER, doing="change recipients")
    recipient = AccountRecipient.objects.filter(pk=recipient_id, account=account).first()
    if recipient is None:
        raise Http404("No such recipient.")
    services.account_recipient_remove(recipient=recipient, actor=request.user)
    messages.success(request, f"{recipient.email} will not receive new reports (reports already sent keep it).")
    return redirect("reports:account_recipients", account.pk)


@require_http_methods(["GET", "POST"])
def unsubscribe(request, token):
    """Public, no login: the token in the email's unsubscribe link. Names neither the report nor the account; a
    GET only asks (mail scanners open links), the POST unsubscribes."""
    recipient = services.recipient_for_unsubscribe_token(token=token)
    done = False
    if recipient is not None and request.method == "POST":
        services.recipient_unsubscribe(recipient=recipient)
        done = True
    context = {
        "valid": recipient is not None,
        "done": done,
        "already": recipient is not None and bool(recipient.unsubscribed_at),
    }
    response = render(request, "reports/public_unsubscribe.html", context, status=200 if recipient else 404)
    return _public_headers(response, has_form=True)
