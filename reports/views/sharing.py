"""Internal sharing and feedback actions on a report page: create, rotate and revoke share links, request
feedback, leave feedback as a member, and moderate feedback. Rules live in `reports.services`; the report page
around them is `common.detail_context`.

A new secret is shown once, in the response to the POST that made it (a page, or the panel partial under htmx),
and never stored: not in the database, not in a session message. So these POSTs render instead of redirecting."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST
from django_htmx.http import trigger_client_event

from campaigns.models import Role
from campaigns.selectors import require_role

from .. import services
from ..forms import FeedbackForm, FeedbackRequestForm, ShareLinkForm
from ..models import Feedback, ShareLink
from .common import detail_context, report_or_404, sharing_context


def _report(request, campaign_id, *, role_needed: Role, doing: str):
    campaign, report = report_or_404(request, campaign_id, page=True)
    role = require_role(user=request.user, account_id=campaign.account_id, role=role_needed, doing=doing)
    return campaign, report, role


def _detail_page(request, campaign, report, role, *, status, **extra):
    context = detail_context(request, campaign, report, role) | extra
    return render(request, "reports/report_detail.html", context, status=status)


def _panel(request, report, role, **extra):
    context = sharing_context(request=request, report=report, role=role) | {"report": report, **extra}
    context["campaign"] = report.campaign
    response = render(request, "reports/share_panel.html#share-panel", context)
    return trigger_client_event(response, "shareLinksChanged")


def _link_or_404(report, link_id) -> ShareLink:
    link = ShareLink.objects.filter(pk=link_id, report=report).select_related("created_by").first()
    if link is None:
        raise Http404("No such share link.")
    return link


def _detail_url(campaign, anchor="share-panel"):
    return reverse("reports:detail", args=[campaign.pk]) + f"#{anchor}"


def _created_page(request, campaign, report, link, url, **extra):
    """The page that shows a new secret once (after create, rotate, or a feedback request)."""
    context = {"campaign": campaign, "report": report, "link": link, "url": url, "rotated": False, **extra}
    return render(request, "reports/share_created.html", context)


@login_required
@require_POST
def share_create(request, campaign_id):
    campaign, report, role = _report(request, campaign_id, role_needed=Role.MANAGER, doing="share reports")
    form = ShareLinkForm(request.POST, prefix="share")
    if not form.is_valid():
        return _detail_page(request, campaign, report, role, status=400, share_form=form, share_open=True)
    link, secret = services.share_link_create(report=report, actor=request.user, **form.link_options())
    return _created_page(request, campaign, report, link, services.share_url(secret))


@login_required
@require_POST
def feedback_request(request, campaign_id):
    campaign, report, role = _report(request, campaign_id, role_needed=Role.MANAGER, doing="request feedback")
    form = FeedbackRequestForm(request.POST, prefix="ask")
    if not form.is_valid():
        return _detail_page(request, campaign, report, role, status=400, request_form=form, request_open=True)
    data = form.cleaned_data
    link, secret, text = services.feedback_request(
        report=report,
        actor=request.user,
        role=data["role"],
        label=data["label"],
        emails=data["emails"],
        expires_at=data["expires_at"],
    )
    url = services.share_url(secret)
    return _created_page(request, campaign, report, link, url, invitation=text, emailed=len(data["emails"]))


@login_required
@require_POST
def share_rotate(request, campaign_id, link_id):
    campaign, report, role = _report(request, campaign_id, role_needed=Role.MANAGER, doing="rotate share links")
    link = _link_or_404(report, link_id)
    try:
        secret = services.share_link_rotate(link=link, actor=request.user)
    except services.ReportError as exc:
        if request.htmx:
            return _panel(request, report, role, share_error=str(exc))
        messages.error(request, str(exc))
        return redirect(_detail_url(campaign))
    url = services.share_url(secret)
    if request.htmx:
        return _panel(request, report, role, new_share={"link": link, "url": url})
    return _created_page(request, campaign, report, link, url, rotated=True)


@login_required
@require_POST
def share_revoke(request, campaign_id, link_id):
    campaign, report, role = _report(request, campaign_id, role_needed=Role.MANAGER, doing="revoke share links")
    link = _link_or_404(report, link_id)
    done = services.share_link_revoke(link=link, actor=request.user)
    text = f"“{link.label}” is revoked: the link no longer works." if done else "That link was already revoked."
    if request.htmx:
        return _panel(request, report, role, share_message=text)
    messages.success(request, text)
    return redirect(_detail_url(campaign))


@login_required
@require_POST
def feedback_create(request, campaign_id):
    campaign, report, role = _report(request, campaign_id, role_needed=Role.VIEWER, doing="leave feedback")
    form = FeedbackForm(request.POST, prefix_id="fbi")
    if form.is_spam:
        return redirect(_detail_url(campaign, "feedback"))
    if not form.is_valid():
        return _detail_page(request, campaign, report, role, status=400, feedback_form=form)
    data = {k: v for k, v in form.cleaned_data.items() if k != "website"}
    services.feedback_create(report=report, link=None, author=request.user, **data)
    messages.success(request, "Thank you! Your feedback was added.")
    return redirect(_detail_url(campaign, "feedback"))


@login_required
@require_POST
def feedback_hide(request, campaign_id, feedback_id):
    campaign, report, role = _report(request, campaign_id, role_needed=Role.MANAGER, doing="moderate feedback")
    feedback = Feedback.objects.filter(pk=feedback_id, report=report).first()
    if feedback is None:
        raise Http404("No such feedback.")
    hide = request.POST.get("hidden", "1") != "0"
    services.feedback_set_hidden(feedback=feedback, actor=request.user, hidden=hide)
    text = "Feedback hidden (kept in the admin)." if hide else "Feedback shown again."
    if request.htmx:
        context = {
            "campaign": campaign,
            "report": report,
            "is_manager": True,
            "feedback": services.feedback_summary(report=report, include_hidden=True),
            "feedback_message": text,
        }
        response = render(request, "reports/includes/feedback_summary.html#feedback-summary", context)
        return trigger_client_event(response, "feedbackChanged")
    messages.success(request, text)
    return redirect(_detail_url(campaign, "feedback"))
