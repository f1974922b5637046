"""A database that is locked, too slow or gone is a 503 with a page that says so, not a 500.

PostgreSQL cancels a statement after `lock_timeout` / `statement_timeout` (set per connection in
config.settings.base.database_config); SQLite gives up after its busy timeout ("database is locked"). Django
raises both as `OperationalError`, as it does for a server that cannot be reached."""

import logging
import sqlite3

from django.db import OperationalError
from django.http import HttpResponse
from django.template.loader import render_to_string

logger = logging.getLogger("closeout.unavailable")

RETRY_AFTER_SECONDS = 10
_SQLITE_UNAVAILABLE = ("database is locked", "database table is locked", "unable to open database", "disk i/o error")


def is_database_unavailable(exc: BaseException | None) -> bool:
    """True for a database that could not answer in time or at all; False for everything else, including
    SQLite's OperationalErrors that are bugs (no such table, syntax error), which stay 500s."""
    if not isinstance(exc, OperationalError):
        return False
    if isinstance(exc.__cause__, sqlite3.OperationalError):
        return str(exc).lower().startswith(_SQLITE_UNAVAILABLE)
    return True


def unavailable_response() -> HttpResponse:
    """The 503 page. Rendered without the request: no context processor, no session, no query (the database is
    what failed)."""
    response = HttpResponse(render_to_string("503.html"), status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    response["Cache-Control"] = "no-store"
    return response


class DatabaseUnavailableMiddleware:
    """Turns a database timeout or outage raised by a view into the 503 page (config.views.server_error does the
    same for one raised outside a view, e.g. by a middleware)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not is_database_unavailable(exception):
            return None
        logger.warning("Database unavailable on %s %s: %s", request.method, request.path, exception)
        return unavailable_response()
