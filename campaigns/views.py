"""Campaign pages. Views parse input, call selectors and services, and pick the response: a full page, or on an
htmx request only the partial that changed (`template.html#partial`) plus an HX-Trigger event. Every POST also
works as a plain form post answered with a redirect and a Django message."""

import calendar as pycalendar
import datetime as dt
import logging
import uuid

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import DatabaseError
from django.db.models import Q
from django.http import Http404, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import trigger_client_event

from . import charts, ics, selectors, selectors_winddown, services
from .filters import CampaignFilter
from .forms import ActionForm, CampaignForm, ConfirmForm, ContentItemFormSet, IdsField, ScheduleForm, zone
from .models import (
    Action,
    AdAccount,
    BudgetMode,
    Connector,
    Role,
    ScheduledAction,
    ScheduledState,
    Source,
)
from .services import TRANSITIONS, Outcome
from .tables import CampaignTable, KnownCountPaginator, scheduled_badge_text

logger = logging.getLogger(__name__)

PER_PAGE_CHOICES = (25, 50, 100)
CONFIRM_LIST_LIMIT = 50  # campaigns named one by one on a confirmation; the rest are counted


def _best_role(roles: dict) -> Role | None:
    return max(roles.values(), key=lambda r: r.rank, default=None)


def _int_param(params: QueryDict, name: str, default: int) -> int:
    try:
        return int(params.get(name, default))
    except (TypeError, ValueError):
        return default


def _safe_next(request, url: str, default: str) -> str:
    # Only a local path: `redirect()` would take anything else without a "/" (e.g. "0", ":") for a view name.
    if (
        url
        and url.startswith("/")
        and url_has_allowed_host_and_scheme(url, allowed_hosts={request.get_host()}, require_https=False)
    ):
        return url
    return default


# List ------------------------------------------------------------------------------------------------------


def _filtered_campaigns(request, params: QueryDict, *, accounts: list[tuple[int, str]] | None = None):
    if accounts is None:
        accounts = selectors.list_scope_for_user(user=request.user)[1]
    queryset = selectors.campaigns_list_for_user(
        user=request.user, account_ids=[pk for pk, _ in accounts], text_search=bool(params.get("q", "").strip())
    )
    filterset = CampaignFilter(params, queryset=queryset, request=request, accounts=accounts)
    tab = params.get("tab", "all")
    if tab not in selectors.LIST_TABS:
        tab = "all"
    return filterset, tab


def _list_context(request, params: QueryDict) -> dict:
    """Everything the list page shows, from a query string. A constant number of queries whatever the page
    size: roles with the account choices of the filter form, one grouped aggregate (tab counts, row count, footer
    totals), the page of rows, its pending schedules and its status changers."""
    roles, accounts, account_info = selectors.list_scope_for_user(user=request.user)
    filterset, tab = _filtered_campaigns(request, params, accounts=accounts)
    filtered = filterset.qs
    summary = selectors.campaigns_list_summary_for_filters(
        queryset=filtered,
        tab=tab,
        account_ids=[pk for pk, _ in accounts],
        filters=filterset.form.cleaned_data,
    )
    rows = filtered if tab == "all" else filtered.filter(status=tab)

    per_page = _int_param(params, "per_page", PER_PAGE_CHOICES[0])
    if per_page not in PER_PAGE_CHOICES:
        per_page = PER_PAGE_CHOICES[0]
    table = CampaignTable(rows, params=params, accounts=account_info, totals=summary["totals"], htmx="#table-region")
    table.caption = "Campaigns"
    sort = [key for key in params.getlist("sort") if key]
    if sort:
        table.order_by = sort
    # A unique last key keeps pages stable when the sort column has ties (e.g. status).
    table.data.data = table.data.data.order_by(*table.data.data.query.order_by, "-pk")
    num_pages = max(1, -(-summary["count"] // per_page))
    page = min(max(_int_param(params, "page", 1), 1), num_pages)
    table.paginate(paginator_class=KnownCountPaginator, per_page=per_page, page=page, count=summary["count"])

    best = _best_role(roles)
    allowed = [a for a in (Action.PAUSE, Action.RESUME, Action.END) if best and best.allows(TRANSITIONS[a].role)]
    list_qs = params.urlencode()
    return {
        "table": table,
        "filter": filterset,
        "tab": tab,
        "tabs": [(key, label, summary["tab_counts"][key]) for key, label in selectors.LIST_TABS.items()],
        "count": summary["count"],
        "params": params,
        "per_page": per_page,
        "per_page_choices": PER_PAGE_CHOICES,
        "list_qs": list_qs,
        "list_url": reverse("campaigns:list") + (f"?{list_qs}" if list_qs else ""),
        "allowed_actions": allowed,
        "can_create": best is not None and best.allows(Role.MANAGER),
        "page_count": max(0, min(per_page, summary["count"] - (page - 1) * per_page)),
        "sort_keys": [str(key) for key in table.order_by] if sort else [],
    }


@login_required
@require_GET
def campaign_list(request):
    context = _list_context(request, request.GET)
    if request.htmx and request.htmx.target == "table-region" and not request.htmx.history_restore_request:
        response = render(request, "campaigns/campaign_list.html#table-region", context)
    else:
        response = render(request, "campaigns/campaign_list.html", context)
    patch_vary_headers(response, ["HX-Request"])
    return response


# Pause / resume / end -------------------------------------------------------------------------------------


def _daily_stop(campaign) -> tuple[str, object]:
    """What a pause stops per day: the daily budget, or the average daily spend of the last 7 days."""
    if campaign.budget_mode == BudgetMode.DAILY:
        return "daily budget", campaign.budget_amount
    return "7-day average spend", services.average_daily_spend(campaign=campaign)


def _confirm_context(request, *, action: str, campaigns: list, form: ConfirmForm, origin: str, list_qs: str, nxt: str):
    shown = campaigns[:CONFIRM_LIST_LIMIT]
    rows = []
    currencies = {c.account.currency for c in campaigns}
    total_stop = 0
    for campaign in shown:
        row = {"campaign": campaign}
        if action == Action.PAUSE:
            row["stop_basis"], row["stop_amount"] = _daily_stop(campaign)
            total_stop += row["stop_amount"] or 0
        if action == Action.END:
            row["unused"] = campaign.budget_remaining
        rows.append(row)
    timezones = {c.account.timezone for c in campaigns}
    return {
        "action": action,
        "verb": Action(action).label,
        "campaigns": campaigns,
        "rows": rows,
        "more": max(len(campaigns) - len(shown), 0),
        "form": form,
        "origin": origin,
        "list_qs": list_qs,
        "next": nxt,
        "currency": currencies.pop() if len(currencies) == 1 else "",
        "total_stop": total_stop,
        "total_spend": sum((c.total_spend for c in campaigns), 0),
        "total_unused": sum((r.get("unused") or 0 for r in rows), 0),
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
        filterset, tab = _filtered_campaigns(request, params)
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


def _action_done(request, *, origin: str, list_qs: str, nxt: str):
    """The answer after a successful action: the refreshed table region and the messages (htmx, from the
    list), or a redirect."""
    if request.htmx and origin == "list":
        context = _list_context(request, QueryDict(list_qs or ""))
        body = render_to_string("campaigns/campaign_list.html#table-region", context, request=request)
        body += render_to_string("campaigns/campaign_list.html#messages-oob", {}, request=request)
        response = HttpResponse(body)
        response["HX-Retarget"] = "#table-region"
        response["HX-Reswap"] = "outerHTML"
        response["HX-Push-Url"] = context["list_url"]
        return trigger_client_event(response, "campaignStatusChanged", {})
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
    nxt = _safe_next(request, data["next"], default_next)
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
    if not data["confirmed"]:
        confirm = ConfirmForm(action=action, campaigns=campaigns, tz=tz)
        context = _confirm_context(
            request, action=action, campaigns=campaigns, form=confirm, origin=origin, list_qs=list_qs, nxt=nxt
        )
        return _render_confirm(request, context)

    confirm = ConfirmForm(request.POST, action=action, campaigns=campaigns, tz=tz)
    if not confirm.is_valid():
        context = _confirm_context(
            request, action=action, campaigns=campaigns, form=confirm, origin=origin, list_qs=list_qs, nxt=nxt
        )
        return _render_confirm(request, context, status=400)
    cleaned = confirm.cleaned_data
    if action == Action.END and cleaned.get("end_at"):
        _schedule_many(request, campaigns=campaigns, roles=roles, cleaned=cleaned, tz=tz)
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
    return _action_done(request, origin=origin, list_qs=list_qs, nxt=nxt)


def _schedule_many(request, *, campaigns, roles, cleaned, tz) -> None:
    # One service call; it authorises each campaign itself (`roles` is the caller's, unused here).
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
            f"Scheduled the end of {len(scheduled)} campaign{'' if len(scheduled) == 1 else 's'} "
            f"at {when} ({tz.key}): {', '.join(scheduled[:5])}{' …' if len(scheduled) > 5 else ''}.",
        )
    if problems:
        messages.warning(request, "Not scheduled: " + "; ".join(problems[:5]))


@login_required
@require_GET
def campaign_end_confirm(request):
    """The end confirmation for `?ids=` (a dialog partial for htmx, a page otherwise); it posts to bulk_action."""
    ids = IdsField().to_python(request.GET.getlist("ids"))
    campaigns = _selected_campaigns(request, ids=ids, all_matching=False, list_qs="")
    if not campaigns:
        raise Http404("No such campaign.")
    for account_id in {c.account_id for c in campaigns}:
        selectors.require_role(user=request.user, account_id=account_id, role=Role.MANAGER, doing="end campaigns")
    default_next = reverse("campaigns:detail", args=[campaigns[0].pk]) if len(campaigns) == 1 else ""
    nxt = _safe_next(request, request.GET.get("next", ""), default_next or reverse("campaigns:list"))
    tz = _zone_for(campaigns)
    form = ConfirmForm(action=Action.END, campaigns=campaigns, tz=tz)
    context = _confirm_context(
        request,
        action=Action.END,
        campaigns=campaigns,
        form=form,
        origin=request.GET.get("origin", ""),
        list_qs="",
        nxt=nxt,
    )
    return _render_confirm(request, context)


# Detail ---------------------------------------------------------------------------------------------------


def _detail_context(request, campaign, *, schedule_form=None) -> dict:
    role = selectors.role_for(user=request.user, account_id=campaign.account_id)
    tz = zone(campaign.account.timezone)
    history = list(selectors.campaign_history(campaign=campaign)[:200])
    series = selectors.campaign_daily_series(campaign=campaign)
    days = [m.date for m in series]
    bands = charts.ranges_to_indexes(days, selectors.campaign_pause_periods(history=history, tz=tz))
    chart = charts.line_chart(
        labels=charts.date_labels(days),
        series={"Video views": [m.video_views for m in series], "Spend": [m.spend for m in series]},
        colors={"Video views": charts.PALETTE["views"], "Spend": charts.PALETTE["spend"]},
        y2=("Spend",),
        bands=bands,
    )
    pending = ScheduledAction.objects.filter(campaign=campaign, state=ScheduledState.PENDING).first()
    is_manager = role is not None and role.allows(Role.MANAGER)
    if schedule_form is None and is_manager and not campaign.is_ended and pending is None:
        schedule_form = ScheduleForm(tz=tz)
    targets = [
        ("Video views", campaign.target_views, campaign.total_video_views),
        ("Reach", campaign.target_reach, campaign.total_reach),
        ("Clicks", campaign.target_clicks, campaign.total_clicks),
        ("Followers", campaign.target_followers, campaign.total_follows),
    ]
    return {
        "campaign": campaign,
        "role": role,
        "winddown_steps": selectors_winddown.winddown_steps_for(campaign=campaign) if campaign.is_ended else [],
        "pause_impact": selectors_winddown.pause_impact_for(campaign=campaign),
        "is_watching": selectors_winddown.campaign_is_watched(user=request.user, campaign=campaign),
        "can_pause": role is not None and role.allows(Role.EDITOR),
        "can_manage": is_manager,
        "tz": tz.key,
        "history": history[:50],
        "content_items": list(campaign.content_items.all()),
        "chart": chart,
        "chart_rows": list(zip(days, [m.video_views for m in series], [m.spend for m in series], strict=True)),
        "has_pause_periods": bool(bands),
        "pending": pending,
        "pending_text": scheduled_badge_text(pending) if pending else "",
        "schedule_form": schedule_form,
        "targets": [(label, target, actual) for label, target, actual in targets if target],
        "other_targets": {
            "engagement_rate": campaign.target_engagement_rate,
            "cost_per_result": campaign.target_cost_per_result,
        },
    }


@login_required
@require_GET
def campaign_detail(request, pk):
    campaign = selectors.campaign_get_for_user(user=request.user, pk=pk)
    return render(request, "campaigns/campaign_detail.html", _detail_context(request, campaign))


# Scheduled actions ----------------------------------------------------------------------------------------


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
    context = _detail_context(request, campaign, schedule_form=form)
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
    nxt = _safe_next(request, request.POST.get("next", ""), reverse("campaigns:detail", args=[campaign.pk]))
    return redirect(nxt)


# Create and edit ------------------------------------------------------------------------------------------


def _creatable_accounts(user):
    return AdAccount.objects.filter(
        memberships__user=user, memberships__role=Role.MANAGER, connector=Connector.NONE
    ).order_by("name")


@login_required
@require_http_methods(["GET", "POST"])
def campaign_create(request):
    accounts = _creatable_accounts(request.user)
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


# Calendar and ICS -----------------------------------------------------------------------------------------


def _month_param(value: str | None) -> dt.date:
    today = timezone.localdate()
    try:
        year, month = (int(part) for part in (value or "").split("-"))
        return dt.date(year, month, 1)
    except (TypeError, ValueError):
        return today.replace(day=1)


def _effective_end(campaign) -> dt.date | None:
    if campaign.is_ended and campaign.ended_at:
        ended = timezone.localtime(campaign.ended_at, zone(campaign.account.timezone)).date()
        return min(ended, campaign.end_date) if campaign.end_date else ended
    return campaign.end_date


@login_required
@require_GET
def campaign_calendar(request):
    first = _month_param(request.GET.get("month"))
    weeks = pycalendar.Calendar(firstweekday=0).monthdatescalendar(first.year, first.month)
    grid_start, grid_end = weeks[0][0], weeks[-1][-1]
    campaigns = list(
        selectors.campaigns_in_month_for_user(user=request.user, first_day=grid_start, last_day=grid_end)[:500]
    )
    spans = [(c, c.start_date, _effective_end(c) or grid_end) for c in campaigns]
    today = timezone.localdate()
    grid = [
        [
            {
                "date": day,
                "in_month": day.month == first.month,
                "today": day == today,
                "events": [c for c, start, end in spans if start <= day <= end],
            }
            for day in week
        ]
        for week in weeks
    ]
    prev_month = (first - dt.timedelta(days=1)).replace(day=1)
    next_month = (first + dt.timedelta(days=32)).replace(day=1)
    roles = selectors.roles_for_user(user=request.user)
    managed = AdAccount.objects.filter(pk__in=[pk for pk, r in roles.items() if r.allows(Role.MANAGER)])
    month_campaigns = [(c, _effective_end(c)) for c, start, end in spans if end >= first]
    return render(
        request,
        "campaigns/campaign_calendar.html",
        {
            "month": first,
            "weeks": grid,
            "weekdays": ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"],
            "prev_month": prev_month,
            "next_month": next_month,
            "this_month": today.replace(day=1),
            "managed_accounts": managed,
            "month_campaigns": month_campaigns,
        },
    )


@login_required
@require_POST
def campaign_ics_token(request):
    account = selectors.account_get_for_user(user=request.user, pk=request.POST.get("account"))
    selectors.require_role(
        user=request.user, account_id=account.pk, role=Role.MANAGER, doing="publish the calendar feed"
    )
    if request.POST.get("op") == "revoke":
        services.ics_token_revoke(account=account, actor=request.user)
        messages.success(request, f"The calendar feed of {account.name} is revoked; its old URL no longer works.")
    else:
        token = services.ics_token_create(account=account, actor=request.user)
        url = request.build_absolute_uri(reverse("campaigns:ics", kwargs={"token": token}))
        messages.success(
            request,
            f"Calendar feed for {account.name}: {url} — copy it now, it is shown only once. "
            "Any earlier feed URL of this account stopped working.",
            extra_tags="ics-url",
        )
    return redirect("campaigns:calendar")


@require_GET
def campaign_ics(request, token):
    """The account's campaigns as an iCalendar feed. No login: the secret URL is the key (only its hash is
    stored; revoking or rotating it turns the old URL into a 404)."""
    account = selectors.account_for_ics_token(token=token)
    if account is None:
        raise Http404("No such calendar.")
    campaigns = account.campaigns.select_related("account").filter(~Q(start_date=None)).order_by("start_date")
    events = []
    for campaign in campaigns[:2000]:
        end = _effective_end(campaign) or campaign.start_date
        status = campaign.display_status
        events.append(
            {
                "uid": f"campaign-{campaign.pk}@closeout",
                "start": campaign.start_date,
                "end": end,
                "summary": f"{campaign.name} ({status})",
                "description": f"Status: {status}. Objective: {campaign.get_objective_display()}. "
                f"Budget: {campaign.budget_amount} {account.currency} {campaign.get_budget_mode_display().lower()}.",
                "url": request.build_absolute_uri(reverse("campaigns:detail", args=[campaign.pk])),
                "updated": campaign.updated_at,
            }
        )
    body = ics.calendar_feed(name=f"{account.name} campaigns", events=events)
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = 'inline; filename="campaigns.ics"'
    response["Cache-Control"] = "private, max-age=300"
    return response
