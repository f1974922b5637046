from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from .auth import UNREAD_ATTRIBUTE
from .selectors_winddown import notifications_unread_count

# Pages of the campaigns app that have their own entry in the navigation (else the app's: "campaigns").
NAV_SECTIONS = {
    "calendar": "calendar",
    "accounts": "accounts",
    "account_detail": "accounts",
    "import_preview": "accounts",
    "winddown_list": "winddown",
    "winddown": "winddown",
}


def navigation(request: HttpRequest) -> dict:
    """What the header needs on every page: which section is current ("home", "campaigns", "calendar",
    "accounts", "winddown", "reports"). A view may also set `nav_section` in its context."""
    match = getattr(request, "resolver_match", None)
    if match is None:
        return {"nav_section": ""}
    if match.url_name == "home" and not match.namespace:
        return {"nav_section": "home"}
    if match.namespace == "campaigns":
        return {"nav_section": NAV_SECTIONS.get(match.url_name, "campaigns")}
    return {"nav_section": match.namespace}


def notifications_bell(request: HttpRequest) -> dict:
    """The unread count for the header bell, for signed-in users: loaded with the user (`auth.UserBackend`), else
    one COUNT query, run only if a template shows it (lazy)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    unread = getattr(user, UNREAD_ATTRIBUTE, None)
    if unread is not None:
        return {"notifications_unread": unread}
    return {"notifications_unread": SimpleLazyObject(lambda: notifications_unread_count(user=user))}
