"""The campaign calendar (a month of campaigns coloured by status) and the account's secret ICS feed."""

import calendar as pycalendar
import datetime as dt

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.views.decorators.http import require_GET, require_POST

from .. import ics, selectors, selectors_calendar, services
from ..models import AdAccount, Objective, Role, Status


@login_required
@require_GET
def campaign_calendar(request):
    """A month of the user's campaigns as bars across their days (filters: account, status, objective), an agenda
    of the same for narrow screens, and the ICS feeds a manager may publish. Three queries."""
    today = timezone.localdate()
    first = selectors_calendar.month_param(request.GET.get("month"), today=today)
    roles, accounts, _ = selectors.list_scope_for_user(user=request.user)
    filters = selectors_calendar.CalendarFilters.from_query(request.GET, account_ids=set(roles))
    weeks_dates = pycalendar.Calendar(firstweekday=0).monthdatescalendar(first.year, first.month)
    grid_start, grid_end = weeks_dates[0][0], weeks_dates[-1][-1]
    campaigns, truncated = selectors_calendar.calendar_campaigns_for_user(
        user=request.user, first_day=grid_start, last_day=grid_end, filters=filters
    )
    next_month = (first + dt.timedelta(days=32)).replace(day=1)
    in_month = [
        c for c in campaigns if c.start_date < next_month and (selectors_calendar.effective_end(c) or grid_end) >= first
    ]
    managed_ids = [pk for pk, role in roles.items() if role.allows(Role.MANAGER)]
    return render(
        request,
        "campaigns/campaign_calendar.html",
        {
            "month": first,
            "weeks": selectors_calendar.month_grid(month=first, campaigns=campaigns, today=today),
            "weekdays": selectors_calendar.WEEKDAYS,
            "prev_month": (first - dt.timedelta(days=1)).replace(day=1),
            "next_month": next_month,
            "this_month": today.replace(day=1),
            "filters": filters,
            "filter_query": filters.query(),
            "accounts": accounts,
            "statuses": Status.choices,
            "objectives": Objective.choices,
            "truncated": truncated,
            "limit": selectors_calendar.CALENDAR_LIMIT,
            "agenda": selectors_calendar.agenda(month=first, campaigns=in_month),
            "month_count": len(in_month),
            "managed_accounts": list(AdAccount.objects.filter(pk__in=managed_ids).order_by("name")),
        },
    )


@login_required
@require_POST
def campaign_ics_token(request):
    """Publish (or rotate) the account's feed, or revoke it (managers).

    The new secret URL is written into this response only, never into a message: messages live in the session
    (`django_session`), where the secret would be stored readable. The response is not cacheable either; only
    the secret's hash is kept (`services.ics_token_create`), so the page cannot be shown again."""
    account = selectors.account_get_for_user(user=request.user, pk=request.POST.get("account"))
    selectors.require_role(
        user=request.user, account_id=account.pk, role=Role.MANAGER, doing="publish the calendar feed"
    )
    if request.POST.get("op") == "revoke":
        services.ics_token_revoke(account=account, actor=request.user)
        messages.success(request, f"The calendar feed of {account.name} is revoked; its old URL no longer works.")
        return redirect("campaigns:calendar")
    rotated = bool(account.ics_token_hash)
    token = services.ics_token_create(account=account, actor=request.user)
    url = request.build_absolute_uri(reverse("campaigns:ics", kwargs={"token": token}))
    response = render(
        request, "campaigns/ics_feed_created.html", {"account": account, "feed_url": url, "rotated": rotated}
    )
    add_never_cache_headers(response)
    return response


@require_GET
def campaign_ics(request, token):
    """The account's campaigns as an iCalendar feed. No login: the secret URL is the key (only its hash is
    stored; revoking or rotating it turns the old URL into a 404). A campaign ended early is `STATUS:CANCELLED`;
    `SEQUENCE` counts its recorded changes, so calendar apps replace their copy when it changes."""
    account = selectors.account_for_ics_token(token=token)
    if account is None:
        raise Http404("No such calendar.")
    campaigns = selectors_calendar.ics_campaigns(account=account)
    events = []
    for campaign in campaigns:
        end = selectors_calendar.effective_end(campaign) or campaign.start_date
        status = campaign.display_status
        early = selectors_calendar.ended_early(campaign)
        planned = f" Planned until {campaign.end_date:%Y-%m-%d}." if early and campaign.end_date else ""
        events.append(
            {
                "uid": f"campaign-{campaign.pk}@closeout",
                "start": campaign.start_date,
                "end": end,
                "summary": f"{campaign.name} ({status})",
                "description": f"Status: {status}. Objective: {campaign.get_objective_display()}. "
                f"Budget: {campaign.budget_amount} {account.currency} {campaign.get_budget_mode_display().lower()}."
                + (f" Ended early on {end:%Y-%m-%d}.{planned}" if early else ""),
                "url": request.build_absolute_uri(reverse("campaigns:detail", args=[campaign.pk])),
                "updated": campaign.updated_at,
                "cancelled": early,
                "sequence": campaign.ics_sequence,
            }
        )
    body = ics.calendar_feed(name=f"{account.name} campaigns", events=events)
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = 'inline; filename="campaigns.ics"'
    response["Cache-Control"] = "private, max-age=300"
    return response
