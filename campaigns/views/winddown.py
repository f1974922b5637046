"""The wind-down checklist pages. Thin: reads through selectors, every write through services."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRedirect, trigger_client_event

from .. import services
from ..models import WINDDOWN_STEP_COUNT, ContentItem, ContentState, Role, WindDownStepKind
from ..selectors import campaign_get_for_user, role_for
from ..selectors_winddown import winddown_open_campaigns_for_user, winddown_steps_for

TEMPLATE = "campaigns/winddown_detail.html"


def _context(request, campaign, steps=None):
    role = role_for(user=request.user, account_id=campaign.account_id)
    steps = winddown_steps_for(campaign=campaign) if steps is None else steps
    announcement = next((s for s in steps if s.kind == WindDownStepKind.AUDIENCE_INFORMED), None)
    content = campaign.content_items.select_related("state_changed_by")
    if not campaign.is_ended:  # a running campaign's open step is about the content whose usage rights expired
        step = next((s for s in steps if s.kind == WindDownStepKind.CONTENT_REMOVED), None)
        content = content.filter(pk__in=step.data.get("rights_items", []) if step else [])
    return {
        "campaign": campaign,
        "steps": steps,
        "done_count": sum(1 for s in steps if s.is_done),
        "step_count": WINDDOWN_STEP_COUNT,
        "can_edit": role is not None and role.allows(Role.EDITOR),
        "can_reopen": role is not None and role.allows(Role.MANAGER),
        "content_items": list(content),
        "announcement_text": (announcement.data.get("text") if announcement else "")
        or services.winddown_announcement_draft(campaign=campaign),
        "budget_remaining": campaign.budget_remaining,
        "kinds": WindDownStepKind,
    }


@login_required
@require_GET
def winddown_list(request):
    campaigns = winddown_open_campaigns_for_user(user=request.user)
    page = Paginator(campaigns, 50).get_page(request.GET.get("page"))
    overdue_before = timezone.now() - timezone.timedelta(days=services.WINDDOWN_OVERDUE_DAYS)
    for campaign in page.object_list:
        campaign.overdue = campaign.ended_at is not None and campaign.ended_at <= overdue_before
    return render(
        request,
        "campaigns/winddown_list.html",
        {"page": page, "campaigns": page.object_list, "step_count": WINDDOWN_STEP_COUNT},
    )


@login_required
@require_GET
def winddown_detail(request, pk):
    campaign = campaign_get_for_user(user=request.user, pk=pk)
    context = _context(request, campaign)
    if request.htmx and request.htmx.target == "winddown-progress":
        return TemplateResponse(request, f"{TEMPLATE}#winddown-progress", context)
    return TemplateResponse(request, TEMPLATE, context)


@login_required
@require_POST
def winddown_start(request, pk):
    """Start a checklist for a campaign that ended before checklists existed (e.g. imported as ended)."""
    campaign = campaign_get_for_user(user=request.user, pk=pk)
    if role_for(user=request.user, account_id=campaign.account_id) not in (Role.EDITOR, Role.MANAGER):
        raise PermissionDenied("You need the editor role in this account to start the wind-down checklist.")
    if not campaign.is_ended:
        messages.error(request, f"“{campaign.name}” has not ended: the checklist starts when it ends.")
    else:
        services.winddown_checklists_create(campaign_ids=[campaign.pk])
        messages.success(request, "Wind-down checklist started.")
    return redirect("campaigns:winddown", pk=campaign.pk)


def _step_response(request, campaign, kind, error=""):
    url = reverse("campaigns:winddown", args=[campaign.pk]) + f"#winddown-step-{kind}"
    context = _context(request, campaign) if request.htmx else {}
    context["step"] = next((s for s in context.get("steps", []) if s.kind == kind), None)
    if context["step"] is None:  # no htmx, or no checklist to render a step of: a full page with the message
        if error:
            messages.error(request, error)
        return HttpResponseClientRedirect(url) if request.htmx else redirect(url)
    context["error"] = error
    response = TemplateResponse(request, f"{TEMPLATE}#winddown-step", context)
    if not error:
        trigger_client_event(response, "winddownChanged", {"done": context["done_count"]})
    return response


class _TextOnly:
    """Posted free text without NUL characters, which PostgreSQL text columns refuse (a DataError, a 500)."""

    def __init__(self, post):
        self.post = post

    def get(self, name, default=None):
        value = self.post.get(name, default)
        return value.replace("\x00", "") if isinstance(value, str) else value


@login_required
@require_POST
def winddown_step(request, pk, kind):
    campaign = campaign_get_for_user(user=request.user, pk=pk)
    if kind not in WindDownStepKind.values:
        raise Http404("No such wind-down step.")
    post, op = _TextOnly(request.POST), request.POST.get("op", "complete")
    try:
        if op == "reopen":
            services.winddown_step_reopen(campaign=campaign, kind=kind, actor=request.user)
        elif kind == WindDownStepKind.TEAM_NOTIFIED and op == "notify":
            services.winddown_team_notify(campaign=campaign, actor=request.user)
        elif kind == WindDownStepKind.TEAM_NOTIFIED:
            services.winddown_team_told(campaign=campaign, actor=request.user, note=post.get("note", ""))
        elif kind == WindDownStepKind.CONTENT_REMOVED:
            services.winddown_content_confirm(campaign=campaign, actor=request.user)
        elif kind == WindDownStepKind.AUDIENCE_INFORMED:
            services.winddown_announcement_posted(
                campaign=campaign, actor=request.user, text=post.get("text", ""), where=post.get("where", "")
            )
        elif kind == WindDownStepKind.BUDGET_FOLLOWUP:
            services.winddown_budget_record(
                campaign=campaign, actor=request.user, outcome=post.get("outcome", ""), ticket=post.get("ticket", "")
            )
        else:
            services.winddown_step_complete(
                campaign=campaign, kind=kind, actor=request.user, automatic=False, note=post.get("note") or None
            )
    except services.NotPermitted as exc:
        raise PermissionDenied(str(exc)) from exc
    except services.CampaignError as exc:
        return _step_response(request, campaign, kind, error=str(exc))
    if not request.htmx:
        done = "reopened" if op == "reopen" else "done"
        messages.success(request, f"{WindDownStepKind(kind).label}: {done}.")
    return _step_response(request, campaign, kind)


@login_required
@require_POST
def winddown_content_item(request, pk, item_pk):
    campaign = campaign_get_for_user(user=request.user, pk=pk)
    item = get_object_or_404(ContentItem, pk=item_pk, campaign=campaign)
    state = request.POST.get("state", "")
    try:
        services.winddown_content_item_mark(
            item=item, state=state, note=_TextOnly(request.POST).get("note", ""), actor=request.user
        )
    except services.NotPermitted as exc:
        raise PermissionDenied(str(exc)) from exc
    except services.CampaignError as exc:
        return _step_response(request, campaign, WindDownStepKind.CONTENT_REMOVED, error=str(exc))
    if not request.htmx:
        messages.success(request, f"“{item.title}” marked {ContentState(state).label.lower()}.")
    return _step_response(request, campaign, WindDownStepKind.CONTENT_REMOVED)
