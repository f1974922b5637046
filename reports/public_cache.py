"""What the public shared page depends on, and the cache keys and validators made from it (issue 9).

A shared page is the same for every visitor of one link state, so it is cached whole (with a marker where each
visitor's CSRF token goes), and the frozen report body inside it is cached per report and per rendering option;
the team's report page takes its body from the same cache (`TEAM_OPTIONS`), warmed when the report is frozen.
Neither key trusts anyone to remember it:

- the page key and the ETag cover every field of the link except its view counters (`NOT_SHOWN`), so a new share
  option, or an option changed by any writer (a service, the admin, a bulk UPDATE that forgets `changed_at`),
  gives a new key: there is nothing to add here when a share option is added;
- the body key is made from exactly the arguments the body is rendered with (`body_options(link)`), so an option
  that changes the body cannot be served from another option's copy.

Pure functions and the cache; the views in `reports.views.public` decide when to use them."""

import hashlib
import re

from django.core.cache import cache
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.utils.safestring import SafeString, mark_safe

from .models import AccountBranding, CloseReport, LessonRevision, ShareLink
from .presenters import final_figures, report_body
from .services.branding import branding_state
from .services.timeline import report_notes_added_after_close
from .tables import ContentTable

BODY_CACHE_SECONDS = 60 * 60
BODY_CACHE_VERSION = 5  # bump when reports/includes/report_body.html or what presenters give it changes
PAGE_VERSION = "5"  # bump when the public templates change, so browsers (and the page cache) drop old copies
# Stands in for the CSRF token in a cached page; replaced by the visitor's own token on every response.
CSRF_MARKER = "csrf-token-placeholder-4b9d1c"
# Fields of a link that never change what a visitor sees: written by the visits themselves.
NOT_SHOWN = frozenset({"view_count", "last_viewed_at"})

SORT_KEYS = frozenset(k for name in ContentTable.base_columns for k in (name, f"-{name}"))


def body_options(link: ShareLink) -> dict:
    """The `presenters.report_body` options this link decides: internal details follow its team-notes setting."""
    return {"internal_details": link.show_team_notes}


def link_state(link: ShareLink) -> tuple:
    """Every field of the link that can change the page (all but `NOT_SHOWN`), in model order."""
    return tuple(
        (field.attname, getattr(link, field.attname))
        for field in link._meta.concrete_fields
        if field.name not in NOT_SHOWN
    )


def page_state(
    *, link: ShareLink, report: CloseReport, lessons: LessonRevision | None, branding: AccountBranding | None = None
) -> str:
    """Everything the page shows depends on these, not on the visitor: the account's branding too (every field
    but the logo's bytes, which its hash stands for), so a branding change is a new page at once."""
    parts = (
        PAGE_VERSION,
        link_state(link),
        branding_state(branding),
        report.pk,
        report.created_at.timestamp(),
        report.snapshot_version,
        report.final_at.timestamp() if report.final_at else "",  # the final figures appear
        report.timeline_changed_at.timestamp() if report.timeline_changed_at else "",  # a note added after close
        lessons.pk if lessons else "",
    )
    return "|".join(str(part) for part in parts)


def page_key(state: str) -> str:
    return "share:page:" + hashlib.sha256(state.encode()).hexdigest()


def page_etag(*, state: str, csrf_cookie: str, query: str) -> str:
    """The page's ETag: its state, plus what differs per visitor or URL (the CSRF cookie the form carries)."""
    return '"' + hashlib.sha256(f"{state}|{csrf_cookie}|{query}".encode()).hexdigest()[:32] + '"'


def _body_key(report: CloseReport, sort: str, options: dict) -> str:
    chosen = ",".join(f"{name}={value}" for name, value in sorted(options.items()))
    # The notes added after close are in the body too: a changed note stamps the report (`timeline_changed_at`).
    notes = report.timeline_changed_at.timestamp() if report.timeline_changed_at else ""
    return (
        f"share:body:{report.pk}:{report.created_at.timestamp()}:{report.snapshot_version}:{notes}:{sort}:{chosen}:"
        f"{BODY_CACHE_VERSION}"
    )


def body_html(request, report: CloseReport, options: dict) -> SafeString:
    """The frozen report body as HTML, rendered with `options` (see `body_options`), with the notes added after
    close. Cached when the query string is empty or a known sort: it depends only on the snapshot, the options and
    the notes' stamp (`timeline_changed_at`), so every viewer gets the same bytes."""
    keys = set(request.GET)
    sort = request.GET.get("sort", "")
    cacheable = not keys or (keys == {"sort"} and sort in SORT_KEYS)
    key = _body_key(report, sort, options)
    html = cache.get(key) if cacheable else None
    if html is None:
        snapshot = CloseReport.objects.filter(pk=report.pk).values_list("snapshot", flat=True).get()
        later = report_notes_added_after_close(report=report, snapshot=snapshot)
        body = report_body(snapshot=snapshot, request=request, added_after_close=later, **options)
        html = render_to_string("reports/includes/report_body.html", {"body": body}, request=request)
        if cacheable:
            cache.set(key, html, BODY_CACHE_SECONDS)
    # Rendered by the template engine above (every value escaped there); the cache may hand back a plain str.
    return mark_safe(html)  # noqa: S308  # nosec B308 B703


def final_for(report: CloseReport) -> dict | None:
    """The shared page's final figures (`presenters.final_figures`); one query for the frozen totals, only once
    they are final."""
    if report.final_at is None:
        return None
    frozen, currency, zone = (
        CloseReport.objects.filter(pk=report.pk)
        .values_list("snapshot__totals", "snapshot__campaign__currency", "snapshot__campaign__timezone")
        .get()
    )
    return final_figures(report=report, frozen_totals=frozen, currency=currency, zone=zone)


TEAM_OPTIONS = {"internal_details": True}  # the team's own report page (`views.common.detail_context`)


def body_warm(report: CloseReport) -> None:
    """Render the team's report body into the cache once it is frozen (`tasks.close_reports_build`), so the first
    visit of the report page reads a stored presentation too, not only the second."""
    body_html(HttpRequest(), report, TEAM_OPTIONS)


_KEEP_WHITESPACE = re.compile(r"(<(pre|textarea|script)\b.*?</\2\s*>)", re.IGNORECASE | re.DOTALL)
_BETWEEN_TAGS = re.compile(r">\s+<")


def compact(html: str) -> str:
    """Indentation between tags, collapsed to one whitespace character (a newline where there was one): the
    browser renders a run of whitespace as one space anyway, and the report page is a fifth indentation.
    <pre>, <textarea> and <script> keep theirs."""
    parts = _KEEP_WHITESPACE.split(html)
    out = []
    # split() with two groups yields [text, whole kept element, its tag name, text, …]
    for i in range(0, len(parts), 3):
        out.append(_BETWEEN_TAGS.sub(lambda m: ">\n<" if "\n" in m.group() else "> <", parts[i]))
        if i + 1 < len(parts):
            out.append(parts[i + 1])
    return "".join(out)
