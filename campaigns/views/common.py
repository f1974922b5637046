"""Small helpers the campaign views share: query-parameter parsing and safe "next" redirects."""

from django.http import QueryDict
from django.utils.http import url_has_allowed_host_and_scheme

from ..models import Role


def best_role(roles: dict) -> Role | None:
    """The highest of a user's roles ({account_id: Role}), None for no membership."""
    return max(roles.values(), key=lambda r: r.rank, default=None)


def int_param(params: QueryDict, name: str, default: int) -> int:
    try:
        return int(params.get(name, default))
    except (TypeError, ValueError):
        return default


def safe_next(request, url: str, default: str) -> str:
    """`url` if it is a path on this site, else `default`."""
    # Only a local path: `redirect()` would take anything else without a "/" (e.g. "0", ":") for a view name.
    if (
        url
        and url.startswith("/")
        and url_has_allowed_host_and_scheme(url, allowed_hosts={request.get_host()}, require_https=request.is_secure())
    ):
        return url
    return default
