"""The campaign calendar (a month of campaigns coloured by status) and the account's secret ICS feed."""

import calendar as pycalendar
import datetime as dt

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Q
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.views.decorators.http import require_GET, require_POST

from .. import ics, selectors, services
from ..forms import zone
from ..models import AdAccount, Role


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
