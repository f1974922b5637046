"""The notification centre, preferences and the watch toggle. Thin: reads through selectors, writes through
services."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.template.response import TemplateResponse
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import trigger_client_event

from .. import services
from ..models import NOTIFY_DEFAULT_ROLE, Membership, membership_follows
from ..selectors import campaign_get_for_user
from ..selectors_winddown import notifications_for_user, notifications_unread_count
from ..text import counted
from .common import safe_next

LIST_TEMPLATE = "notifications/notification_list.html"


def _back(request, default: str):
    return redirect(safe_next(request, request.POST.get("next", ""), default))


@login_required
@require_GET
def notification_list(request):
    qs = notifications_for_user(user=request.user)
    if request.GET.get("show") == "unread":
        qs = qs.filter(read_at__isnull=True)
    page = Paginator(qs, 30).get_page(request.GET.get("page"))
    return render(
        request,
        LIST_TEMPLATE,
        {"page": page, "notifications": page.object_list, "show": request.GET.get("show", "all")},
    )


@login_required
@require_GET
def notification_bell(request):
    """The header bell alone (re-fetched on `notificationsChanged`)."""
    return TemplateResponse(
        request,
        "notifications/includes/bell.html",
        {"notifications_unread": notifications_unread_count(user=request.user)},
    )


def _read_response(request, changed: int, message: str):
    if request.htmx:
        response = TemplateResponse(
            request,
            f"{LIST_TEMPLATE}#notification-items",
            {"notifications": notifications_for_user(user=request.user)[:30], "page": None},
        )
        return trigger_client_event(response, "notificationsChanged", {"changed": changed})
    if changed:
        messages.success(request, message)
    return _back(request, "campaigns:notifications")


@login_required
@require_POST
def notification_read(request, pk):
    changed = services.notifications_mark_read(user=request.user, notification_ids=[pk])
    return _read_response(request, changed, "Marked as read.")


@login_required
@require_POST
def notification_read_all(request):
    changed = services.notifications_mark_read(user=request.user)
    return _read_response(request, changed, f"Marked {counted(changed, 'notification')} as read.")


PREFERENCES = ("notify_all", "notify_email", "notify_ends", "notify_pauses")


def _preference_rows(memberships) -> list[dict]:
    """Per membership: what each "every end" / "every pause" box shows (the member's choice, else the role's
    default) and whether that is the role's default."""
    rows = []
    for m in memberships:
        row = {"m": m}
        for kind in NOTIFY_DEFAULT_ROLE:
            chosen = getattr(m, f"notify_{kind}")
            default = membership_follows(kind, role=m.role, notify_all=False, chosen=None)
            row[kind] = default if chosen is None else chosen
            row[f"{kind}_default"] = default
        rows.append(row)
    return rows


@login_required
@require_http_methods(["GET", "POST"])
def notification_preferences(request):
    memberships = list(Membership.objects.filter(user=request.user).select_related("account").order_by("account__name"))
    if request.method == "POST":
        prefs = {
            m.account_id: {name: request.POST.get(f"{name}_{m.account_id}") == "on" for name in PREFERENCES}
            for m in memberships
        }
        services.notification_preferences_update(user=request.user, preferences=prefs)
        messages.success(request, "Notification preferences saved.")
        return redirect("campaigns:notification_preferences")
    watched = request.user.watches.select_related("campaign__account").order_by("campaign__name")
    return render(
        request,
        "notifications/notification_preferences.html",
        {"memberships": memberships, "rows": _preference_rows(memberships), "watched": watched},
    )


def _watch(request, pk, watching: bool):
    campaign = campaign_get_for_user(user=request.user, pk=pk)
    services.campaign_watch_set(user=request.user, campaign=campaign, watching=watching)
    if request.htmx:
        response = TemplateResponse(
            request,
            "campaigns/includes/watch_button.html",
            {
                "campaign": campaign,
                "is_watching": watching,
                "watch_next": request.htmx.current_url_abs_path or "",
                # Small in the preferences' list of watched campaigns, full size beside the campaign page's buttons.
                "watch_small": (request.htmx.current_url_abs_path or "").startswith(
                    reverse("campaigns:notification_preferences")
                ),
            },
        )
        return trigger_client_event(response, "watchChanged", {"campaign": campaign.pk, "watching": watching})
    messages.success(
        request,
        f"You are watching “{campaign.name}”." if watching else f"You no longer watch “{campaign.name}”.",
    )
    return _back(request, reverse("campaigns:detail", args=[campaign.pk]))


@login_required
@require_POST
def campaign_watch(request, pk):
    return _watch(request, pk, True)


@login_required
@require_POST
def campaign_unwatch(request, pk):
    return _watch(request, pk, False)
