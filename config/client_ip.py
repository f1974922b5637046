"""The client's address, for the login lockout (django-axes: AXES_CLIENT_IP_CALLABLE) and every rate limit
(django-ratelimit: RATELIMIT_IP_META_KEY). One function, so both count the same client."""

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str:
    """REMOTE_ADDR, unless CLOSEOUT_TRUSTED_PROXY_HEADER names the header your proxies set (e.g. X-Forwarded-For).
    Then the address CLOSEOUT_TRUSTED_PROXY_COUNT entries from the right end of that header: each trusted proxy
    appends the address it received the request from, so the entries to the left of that one are whatever the
    client sent (and may be forged), and the ones to its right are our own proxies. A missing or malformed
    header falls back to REMOTE_ADDR."""
    remote = request.META.get("REMOTE_ADDR", "")
    header = settings.CLOSEOUT_TRUSTED_PROXY_HEADER
    if not header:
        return remote
    raw = request.META.get("HTTP_" + header.upper().replace("-", "_"), "")
    hops = [hop.strip() for hop in raw.split(",") if hop.strip()]
    if not hops:
        return remote
    count = max(1, settings.CLOSEOUT_TRUSTED_PROXY_COUNT)
    # Fewer entries than proxies: the request skipped the outer ones; the leftmost is the first a proxy wrote.
    candidate = hops[-count] if len(hops) >= count else hops[0]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return remote
