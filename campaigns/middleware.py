"""Per-request context the pages need before any view runs."""

from . import timezones


class ViewerTimezoneMiddleware:
    """Make the browser's time zone (the `closeout_tz` cookie that static/js/app.js sets) this request's
    `timezones.viewer_zone()`, so times can show the viewer's own clock on hover. An unknown or malformed name is
    ignored (no cookie, no JavaScript: the account's zone only). The server's zone (`TIME_ZONE`) is not touched."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = timezones.viewer_zone_set(timezones.zone_named(request.COOKIES.get(timezones.COOKIE)))
        try:
            return self.get_response(request)
        finally:
            timezones.viewer_zone_reset(token)
