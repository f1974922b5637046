"""Project middleware: caching rules for private responses."""

EXPORT_CONTENT_TYPES = frozenset({"text/csv", "application/pdf"})
PRIVATE = "private, no-store"


class PrivateCacheMiddleware:
    """`Cache-Control: private, no-store` on every response to a signed-in user, and on every CSV or PDF export
    whoever downloads it (a stakeholder's download from a share link too): neither a shared cache nor the
    browser's disk keeps account data after the session. A view that set its own Cache-Control keeps it (the
    public share page revalidates with its ETag; Django admin is already `no-store`), exports excepted."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        content_type = response.get("Content-Type", "").split(";", 1)[0].strip().lower()
        export = content_type in EXPORT_CONTENT_TYPES
        # The view's own Cache-Control is checked first: it spares loading the user for the anonymous pages.
        if export or (not response.has_header("Cache-Control") and request.user.is_authenticated):
            response["Cache-Control"] = PRIVATE
        return response
