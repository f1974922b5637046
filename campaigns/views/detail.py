"""The campaign page: status and the actions allowed now, plan, chart, schedule, content, history and, after
an end, the wind-down."""

import datetime as dt

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from .. import charts, history_text, selectors, selectors_annotations, selectors_winddown, services
from ..forms import ContentRightsForm, ScheduleForm, zone
from ..models import BudgetMode, ContentItem, ContentState, Role, ScheduledAction, ScheduledState
from ..tables import scheduled_badge_text
from ..text import counted, day_text
from ..timezones import today_in
from .annotations import annotations_context, chart_markers


def detail_context(request, campaign, *, schedule_form=None, annotation_form=None) -> dict:
    """The campaign page's context. `actions` are the status actions the user may take now
    (`services.available_actions`): the template offers exactly those."""
    role = selectors.role_for(user=request.user, account_id=campaign.account_id)
    tz = zone(campaign.account.timezone)
    history = list(selectors.campaign_history(campaign=campaign)[:200])
    series = selectors.campaign_daily_series(campaign=campaign)
    days = [m.date for m in series]
    pauses = selectors.campaign_pause_periods(history=history, tz=tz)
    bands = charts.ranges_to_indexes(days, pauses)
    timeline = selectors_annotations.campaign_timeline(campaign=campaign)
    chart = charts.line_chart(
        labels=charts.date_labels(days),
        series={"Video views": [m.video_views for m in series], "Spend": [m.spend for m in series]},
        colors={"Video views": charts.PALETTE["views"], "Spend": charts.PALETTE["spend"]},
        y2=("Spend",),
        bands=bands,
        markers=chart_markers(days=days, timeline=timeline),
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
        **annotations_context(request, campaign, role=role, timeline=timeline, form=annotation_form),
        "campaign": campaign,
        "role": role,
        "actions": services.available_actions(campaign=campaign, role=role),
        "winddown_steps": selectors_winddown.winddown_steps_for(campaign=campaign) if campaign.is_ended else [],
        "pause_impact": selectors_winddown.pause_impact_for(campaign=campaign),
        "is_watching": selectors_winddown.campaign_is_watched(user=request.user, campaign=campaign),
        "can_manage": is_manager,
        "tz": tz.key,
        "history": history[:50],
        "history_rows": history_text.history_rows(history[:50], campaign=campaign),
        "content_items": _content_items(campaign),
        "can_edit": role is not None and role.allows(Role.EDITOR),
        "chart": chart,
        "chart_rows": list(zip(days, [m.video_views for m in series], [m.spend for m in series], strict=True)),
        "has_pause_periods": bool(bands),
        "pause_note": _pause_note(pauses=pauses, bands=bands, days=days),
        "chart_has_data": any(m.video_views or m.spend for m in series),
        "budget_note": _budget_note(campaign),
        "pending": pending,
        "pending_text": scheduled_badge_text(pending) if pending else "",
        "schedule_form": schedule_form,
        "targets": [(label, target, actual) for label, target, actual in targets if target],
        "other_targets": {
            "engagement_rate": campaign.target_engagement_rate,
            "cost_per_result": campaign.target_cost_per_result,
        },
    }


def _content_items(campaign) -> list[ContentItem]:
    """The campaign's content, each with `rights_note` ("until 5 Dec 2026 (in 3 days)", "ended 2 Dec 2026") and
    `rights_urgent` (within the account's warning days, or expired, while it is live) and `rights_expired`."""
    items = list(campaign.content_items.all())
    today = today_in(campaign.account)
    lead = dt.timedelta(days=campaign.account.rights_warn_days)
    for item in items:
        item.rights_note, item.rights_urgent, item.rights_expired = "", False, False
        day = item.rights_expire_on
        if day is None:
            continue
        expired = item.rights_expired = day <= today
        item.rights_note = f"ended {day_text(day)}" if expired else f"until {day_text(day)}"
        if not expired:
            item.rights_note += f" (in {counted((day - today).days, 'day')})"
        item.rights_urgent = item.state == ContentState.LIVE and day <= today + lead
    return items


def _pause_note(*, pauses: list, bands: list, days: list) -> str:
    """What the chart says about pauses. A pause after the last day with metrics shades nothing, and must not read
    as "never paused" (issue 16)."""
    if bands:
        return "Shaded: days the campaign was paused."
    if not pauses:
        return "The campaign has not been paused."
    start, end = pauses[-1]
    if end is None:
        return f"Paused since {start:%-d %b %Y}: after the last day with metrics, so nothing is shaded yet."
    return f"Last paused {start:%-d %b} – {end:%-d %b %Y}, outside the days charted."


def _budget_note(campaign) -> str:
    """What "budget remaining" is out of: the lifetime budget, or the daily budget over the planned days."""
    currency = campaign.account.currency
    if campaign.budget_mode == BudgetMode.LIFETIME:
        return f"of {campaign.budget_amount:,.2f} {currency} lifetime budget"
    if campaign.lifetime_budget is None:
        return f"{campaign.budget_amount:,.2f} {currency} a day, no end date"
    days = (campaign.end_date - campaign.start_date).days + 1
    return (
        f"of {campaign.lifetime_budget:,.2f} {currency} planned "
        f"({campaign.budget_amount:,.2f} a day × {counted(days, 'day')})"
    )


@login_required
@require_GET
def campaign_detail(request, pk):
    campaign = selectors.campaign_get_for_user(user=request.user, pk=pk)
    return render(request, "campaigns/campaign_detail.html", detail_context(request, campaign))


@login_required
@require_POST
def content_rights_edit(request, pk, item_pk):
    """Set one content item's usage-rights end date and creator (editors and managers): a plain form on the
    campaign page, back to its content section with a message saying what happened."""
    campaign = selectors.campaign_get_for_user(user=request.user, pk=pk)
    item = get_object_or_404(ContentItem, pk=item_pk, campaign=campaign)
    selectors.require_role(
        user=request.user, account_id=campaign.account_id, role=Role.EDITOR, doing="change content usage rights"
    )
    form = ContentRightsForm(request.POST)
    back = reverse("campaigns:detail", args=[campaign.pk]) + "#content"
    if not form.is_valid():
        errors = " ".join(e for field in form.errors.values() for e in field)
        messages.error(request, f"Usage rights of “{item.title}” not saved: {errors}")
        return redirect(back)
    try:
        changed = services.content_item_rights_set(
            item=item,
            actor=request.user,
            expire_on=form.cleaned_data["rights_expire_on"],
            creator_name=form.cleaned_data["creator_name"],
        )
    except services.NotPermitted as exc:
        raise PermissionDenied(str(exc)) from exc
    except services.RightsInvalid as exc:
        messages.error(request, f"Usage rights of “{item.title}” not saved: {exc}")
        return redirect(back)
    if not changed:
        messages.info(request, f"Usage rights of “{item.title}”: nothing changed.")
    elif item.rights_expire_on:
        messages.success(request, f"Saved: usage rights of “{item.title}” expire on {day_text(item.rights_expire_on)}.")
    else:
        messages.success(request, f"Saved: “{item.title}” has no usage-rights end date.")
    return redirect(back)
