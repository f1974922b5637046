from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from .selectors_winddown import notifications_unread_count


def navigation(request: HttpRequest) -> dict:
    """What the header needs on every page: which section is current."""
    match = getattr(request, "resolver_match", None)
    return {"nav_section": match.namespace if match else ""}


def notifications_bell(request: HttpRequest) -> dict:
    """The unread count for the header bell: one COUNT query, run only if a template shows it (lazy) and
    only for signed-in users."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"notifications_unread": SimpleLazyObject(lambda: notifications_unread_count(user=user))}
