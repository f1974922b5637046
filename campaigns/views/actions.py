"""Pause, resume and end, for one campaign or a selection: the confirmation (a dialog for htmx, a page
otherwise), then the change through `services.campaigns_transition`, reported per campaign."""

import logging
import uuid
from decimal import Decimal

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import DatabaseError
from django.http import Http404, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import trigger_client_event

from .. import selectors, services
from ..forms import ActionForm, ConfirmForm, IdsField, zone
from ..models import Action, BudgetMode, Source
from ..selectors_actions import money_by_currency, transition_preview
from ..services import TRANSITIONS, Outcome
from ..text import counted
from ..timezones import today_in
from .common import safe_next
from .list import filtered_campaigns, list_context

logger = logging.getLogger(__name__)

CONFIRM_LIST_LIMIT = 50  # campaigns named one by one on a confirmation; the rest are counted


def _daily_stop(campaign) -> tuple[str, object]:
    """What a pause stops per day: the daily budget, or the average daily spend of the last 7 days; nothing for a
    campaign that has not started (it is not delivering yet)."""
    if campaign.starts_later(today_in(campaign.account)):
        return "not started yet", Decimal("0")
    if campaign.budget_mode == BudgetMode.DAILY:
        return "daily budget", campaign.budget_amount
    return "7-day average spend", services.average_daily_spend(campaign=campaign)


def _confirm_context(
    request, *, action: str, campaigns: list, preview, form: ConfirmForm, origin: str, list_qs: str, nxt: str
):
    """The confirmation's figures count only what will change (`preview.changing`), per currency; the rest of the
    selection is listed as unchanged, with why."""
    shown = preview.changing[:CONFIRM_LIST_LIMIT]
    rows = []
    for campaign in shown:
        row = {"campaign": campaign}
        if action == Action.PAUSE:
            row["stop_basis"], row["stop_amount"] = _daily_stop(campaign)
        if action == Action.END:
            row["unused"] = campaign.budget_remaining
        rows.append(row)
    timezones = {c.account.timezone for c in campaigns}
    changing = len(preview.changing)
    return {
        "action": action,
        "verb": Action(action).label,
        "campaigns": campaigns,
        "preview": preview,
        "changing_count": changing,
        "selected_count": preview.selected,
        "rows": rows,
        "more": max(changing - len(shown), 0),
        "unchanged": preview.unchanged[:CONFIRM_LIST_LIMIT],
        "unchanged_more": max(len(preview.unchanged) - CONFIRM_LIST_LIMIT, 0),
        "form": form,
        "origin": origin,
        "list_qs": list_qs,
        "next": nxt,
        # Money per currency, never added across currencies.
        "stops": money_by_currency((r["campaign"].account.currency, r.get("stop_amount")) for r in rows),
        "spend": money_by_currency((c.account.currency, c.total_spend) for c in preview.changing),
        "unused": money_by_currency((c.account.currency, c.budget_remaining) for c in preview.changing),
        "timezone": form.tz.key,
        "mixed_timezones": len(timezones) > 1,
        "dialog_id": f"confirm-{action}",
    }


def _render_confirm(request, context, status=200):
    context["as_dialog"] = bool(request.htmx)
    if request.htmx:
        response = render(request, "campaigns/campaign_confirm.html#confirm-dialog", context, status=status)
        if status != 200:
            # htmx does not swap error responses by default: answer 200 and retarget to the dialog slot.
            response.status_code = 200
            response["HX-Retarget"] = "#dialog-slot"
            response["HX-Reswap"] = "innerHTML"
        return response
    return render(request, "campaigns/campaign_confirm.html", context, status=status)


def _selected_campaigns(request, *, ids: list[int], all_matching: bool, list_qs: str) -> list:
    if all_matching:
        # "Select all N matching": the filter is re-run here, on the server, for this user only.
        params = QueryDict(list_qs or "")
        filterset, tab = filtered_campaigns(request, params)
        queryset = filterset.qs if tab == "all" else filterset.qs.filter(status=tab)
        ids = list(queryset.values_list("pk", flat=True))
    return list(
        selectors.campaigns_for_user(user=request.user)
        .filter(pk__in=ids)
        .select_related("account")
        .order_by("name", "pk")
    )


def _zone_for(campaigns: list):
    names = {c.account.timezone for c in campaigns}
    return zone(names.pop() if len(names) == 1 else "UTC")


def _transition_message(request, *, result, action: str, origin: str, list_qs: str, nxt: str) -> str:
    html = render_to_string(
        "campaigns/includes/transition_message.html",
        {
            "summary": result.summary(),
            "outcomes": [
                (result.names.get(pk, f"#{pk}"), outcome.label)
                for pk, outcome in result.outcomes.items()
                if outcome != Outcome.NOT_FOUND
            ][:20],
            "undo_ids": result.changed_ids if action == Action.PAUSE else [],
            "undo_key": uuid.uuid4().hex,
            "origin": origin,
            "list_qs": list_qs,
            "next": nxt,
        },
        request=request,
    )
    return html  # render_to_string returns SafeString (every value escaped by the template); messages keep it safe


def _action_done(request, *, origin: str, list_qs: str, nxt: str, focus_id: int | None = None):
    """The answer after a successful action: the refreshed table region and the messages (htmx, from the
    list), or a redirect. From the list, focus goes back to the (first) changed row, not the top of the page:
    `campaignRowFocus` after the swap settles (app.js), or the row's `#campaign-<id>` anchor without JS."""
    if request.htmx and origin == "list":
        context = list_context(request, QueryDict(list_qs or ""))
        body = render_to_string("campaigns/campaign_list.html#table-region", context, request=request)
        body += render_to_string("campaigns/campaign_list.html#messages-oob", {}, request=request)
        response = HttpResponse(body)
        response["HX-Retarget"] = "#table-region"
        response["HX-Reswap"] = "outerHTML"
        response["HX-Push-Url"] = context["list_url"]
        if focus_id is not None:
            trigger_client_event(response, "campaignRowFocus", {"id": focus_id}, after="settle")
        return trigger_client_event(response, "campaignStatusChanged", {})
    if origin == "list" and focus_id is not None and "#" not in nxt:
        nxt = f"{nxt}#campaign-{focus_id}"
    response = redirect(nxt)
    if request.htmx:
        response = HttpResponse(status=204)
        response["HX-Redirect"] = nxt
    return response


@login_required
@require_POST
def campaign_bulk_action(request):
    """Step one (no `confirmed`): the confirmation for the selected campaigns. Step two: carry it out.

    Pause and resume confirm lightly; ending asks for a reason and typed confirmation, and with `end_at`
    schedules the end instead. The idempotency key rendered into the confirmation makes a double submit or a
    replay act once."""
    form = ActionForm(request.POST)
    list_url = reverse("campaigns:list")
    if not form.is_valid():
        messages.error(request, "Choose pause, resume or end, and at least one campaign.")
        return redirect(list_url)
    data = form.cleaned_data
    action, origin, list_qs = data["action"], request.POST.get("origin", ""), data["list_qs"]
    default_next = list_url + (f"?{list_qs}" if list_qs else "")
    nxt = safe_next(request, data["next"], default_next)
    campaigns = _selected_campaigns(request, ids=data["ids"], all_matching=data["all_matching"], list_qs=list_qs)
    if not campaigns:
        messages.error(request, "Select at least one of your campaigns first.")
        if request.htmx:
            return _action_done(request, origin=origin, list_qs=list_qs, nxt=nxt)
        return redirect(nxt)
    roles = selectors.roles_for_user(user=request.user)
    needed = TRANSITIONS[action].role
    if not any(roles[c.account_id].allows(needed) for c in campaigns):
        raise PermissionDenied(
            f"You need the {needed.label.lower()} role in this account to {Action(action).label.lower()} campaigns."
        )

    tz = _zone_for(campaigns)
    back = {"origin": origin, "list_qs": list_qs, "nxt": nxt}
    preview = transition_preview(campaigns=campaigns, action=action, roles=roles)
    # The typed confirmation and the platform option are about the campaigns that will change.
    confirm = ConfirmForm(
        request.POST if data["confirmed"] else None,
        action=action,
        campaigns=preview.changing,
        tz=tz,
        selected=len(campaigns),
    )
    if not data["confirmed"] or not confirm.is_valid():
        context = _confirm_context(request, action=action, campaigns=campaigns, preview=preview, form=confirm, **back)
        return _render_confirm(request, context, status=400 if data["confirmed"] else 200)
    cleaned = confirm.cleaned_data
    if action == Action.END and cleaned.get("end_at"):
        _schedule_many(request, campaigns=campaigns, cleaned=cleaned, tz=tz)
        return _action_done(request, origin=origin, list_qs=list_qs, nxt=nxt)

    try:
        result = services.campaigns_transition(
            campaign_ids=[c.pk for c in campaigns],
            action=action,
            actor=request.user,
            source=Source.UI,
            reason_code=cleaned.get("reason_code", ""),
            reason_note=cleaned.get("reason_note", ""),
            idempotency_key=cleaned["idempotency_key"],
            delete_on_platform=bool(cleaned.get("delete_on_platform")),
        )
    except DatabaseError:
        # The transition is one transaction: it was rolled back whole, so "nothing changed" is the truth.
        logger.exception("Bulk %s of %d campaigns failed in the database", action, len(campaigns))
        messages.error(
            request,
            f"Nothing was changed: the database did not complete the {Action(action).label.lower()}. "
            "Please try again in a moment.",
        )
        return _action_done(request, origin=origin, list_qs=list_qs, nxt=nxt)
    level = messages.SUCCESS if result.changed_ids else messages.WARNING
    messages.add_message(
        request,
        level,
        _transition_message(request, result=result, action=action, origin=origin, list_qs=list_qs, nxt=nxt),
        extra_tags="transition",
    )
    changed = result.changed_ids
    return _action_done(request, origin=origin, list_qs=list_qs, nxt=nxt, focus_id=changed[0] if changed else None)


def _schedule_many(request, *, campaigns, cleaned, tz) -> None:
    # One service call; it authorises each campaign itself.
    try:
        result = services.scheduled_actions_create(
            campaign_ids=[c.pk for c in campaigns],
            action=Action.END,
            run_at=cleaned["end_at"],
            actor=request.user,
            reason_code=cleaned["reason_code"],
            reason_note=cleaned.get("reason_note", ""),
        )
    except services.CampaignError as exc:
        messages.warning(request, f"Not scheduled: {exc}")
        return
    scheduled = [c.name for c in campaigns if c.pk in result.scheduled]
    problems = result.problems()
    when = timezone.localtime(cleaned["end_at"], tz).strftime("%Y-%m-%d %H:%M")
    if scheduled:
        messages.success(
            request,
            f"Scheduled the end of {counted(len(scheduled), 'campaign')} "
            f"at {when} ({tz.key}): {', '.join(scheduled[:5])}{' …' if len(scheduled) > 5 else ''}.",
        )
    if problems:
        messages.warning(request, "Not scheduled: " + "; ".join(problems[:5]))


@login_required
@require_GET
def campaign_action_confirm(request):
    """The confirmation of `?action=pause|resume|end` for `?ids=` (a dialog partial for htmx, a page otherwise):
    what a list row's action menu links to, so it works without JavaScript. It posts to bulk_action, which checks
    everything again."""
    action = request.GET.get("action", "")
    if action not in TRANSITIONS:
        raise Http404("No such action.")
    return _confirm_get(request, action=action)


@login_required
@require_GET
def campaign_end_confirm(request):
    """The end confirmation for `?ids=` (a dialog partial for htmx, a page otherwise); it posts to bulk_action."""
    return _confirm_get(request, action=Action.END)


def _confirm_get(request, *, action: str):
    ids = IdsField().to_python(request.GET.getlist("ids"))
    campaigns = _selected_campaigns(request, ids=ids, all_matching=False, list_qs="")
    if not campaigns:
        raise Http404("No such campaign.")
    needed = TRANSITIONS[action].role
    doing = f"{Action(action).label.lower()} campaigns"
    for account_id in {c.account_id for c in campaigns}:
        selectors.require_role(user=request.user, account_id=account_id, role=needed, doing=doing)
    origin = request.GET.get("origin", "")
    list_qs = request.GET.get("list_qs", "") if origin == "list" else ""
    default_next = reverse("campaigns:detail", args=[campaigns[0].pk]) if len(campaigns) == 1 else ""
    nxt = safe_next(request, request.GET.get("next", ""), default_next or reverse("campaigns:list"))
    tz = _zone_for(campaigns)
    preview = transition_preview(campaigns=campaigns, action=action, roles=selectors.roles_for_user(user=request.user))
    form = ConfirmForm(action=action, campaigns=preview.changing, tz=tz, selected=len(campaigns))
    back = {"origin": origin, "list_qs": list_qs, "nxt": nxt}
    context = _confirm_context(request, action=action, campaigns=campaigns, preview=preview, form=form, **back)
    return _render_confirm(request, context)
