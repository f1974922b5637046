"""The project's own few views: the health check and the 500 handler."""

import sys

from django.db import connection
from django.http import HttpResponse
from django.views import defaults
from django.views.decorators.http import require_GET

from .unavailable import is_database_unavailable, unavailable_response


@require_GET
def healthz(request):
    """200 "ok" when the database answers; the 503 page (config.unavailable) when it does not, within the
    connection's timeouts."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return HttpResponse("ok", content_type="text/plain")


def server_error(request):
    """handler500: Django calls it while handling the uncaught exception, so sys.exc_info() is that exception. A
    database timeout raised outside a view (a middleware saving the session) still gets the 503 page."""
    if is_database_unavailable(sys.exc_info()[1]):
        return unavailable_response()
    return defaults.server_error(request)
