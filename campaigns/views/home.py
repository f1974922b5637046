"""The home page, where a signed-in user lands: what needs attention now across their accounts, each line linked
to the page that fixes it; and the navigation's count of it."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.views.decorators.http import require_GET

from .. import selectors_home


@login_required
@require_GET
def home(request):
    """A constant number of queries at any size: the user's accounts, then one UNION of LIMITed reads
    (`selectors_home.home_attention`), then the header's unread count."""
    scope = selectors_home.home_scope_for_user(user=request.user)
    attention = selectors_home.home_attention(scope=scope)
    return render(
        request,
        "campaigns/home.html",
        {"attention": attention, "accounts": list(scope.accounts.values()), "home_badge": attention.badge},
    )


@login_required
@require_GET
def home_badge(request):
    """The navigation's "needs attention" count. Other pages fetch it after they load (htmx), so they keep their
    own query budget (the list's 8); it re-fetches itself when a status changes."""
    attention = selectors_home.home_attention(scope=selectors_home.home_scope_for_user(user=request.user))
    return render(request, "campaigns/includes/home_badge.html", {"home_badge": attention.badge})
