"""The public shared report, `/s/<secret>/…`: no login, read-only, for people outside the team.

Unknown, revoked and expired secrets all get the same 404 page, byte for byte (no oracle). Every response
carries `X-Robots-Tag: noindex`, `Referrer-Policy: no-referrer` (the secret is in the URL; `same-origin` on pages
with a form, see `_public_headers`) and
`Cache-Control: private, no-cache` (browsers keep it but revalidate, so a revoke takes effect at once).

Cheap by design (issue 9): the page answers conditional GETs from the link row alone (one query → 304); the whole
rendered page is cached per link state, with each visitor's CSRF token put in on the way out; a full page then costs
the link query (+1 with team notes), plus the view count, which `services.share_view_record` writes behind in
batches. Views are counted on full pages only: a 304 is the same browser revalidating a page it already has (a
reload), which we do not count as a new view."""

import hashlib
import re

from django.core.cache import cache
from django.http import HttpResponse, StreamingHttpResponse
from django.middleware.csrf import get_token
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.cache import get_conditional_response
from django.utils.http import http_date
from django.utils.safestring import mark_safe
from django.utils.text import slugify
from django.views.decorators.http import require_GET, require_http_methods
from django_ratelimit.core import is_ratelimited

from . import exports, selectors, services
from .forms import FeedbackForm
from .models import CloseReport
from .presenters import report_body
from .tables import ContentTable

UNLOCK_COOKIE = "closeout_share"
UNLOCK_RATE = "5/15m"
FEEDBACK_RATE_PER_IP = "5/10m"
FEEDBACK_RATE_PER_LINK = "50/h"
BODY_CACHE_SECONDS = 60 * 60
BODY_CACHE_VERSION = 2
PAGE_VERSION = "3"  # bump when the public templates change, so browsers (and the page cache) drop old copies
# Stands in for the CSRF token in a cached page; replaced by the visitor's own token on every response.
CSRF_MARKER = "csrf-token-placeholder-4b9d1c"

SORT_KEYS = frozenset(k for name in ContentTable.base_columns for k in (name, f"-{name}"))


def _public_headers(response, *, has_form: bool = False):
    response["X-Robots-Tag"] = "noindex, nofollow"
    # The secret is in the URL: never send it to another site. Pages holding a form use `same-origin` instead of
    # `no-referrer`, because under `no-referrer` browsers send `Origin: null` with the POST and Django's CSRF
    # origin check (rightly) refuses it; `same-origin` still sends nothing to other sites.
    response["Referrer-Policy"] = "same-origin" if has_form else "no-referrer"
    response["Cache-Control"] = "private, no-cache"
    return response


_GONE_HTML: bytes | None = None


def _gone() -> HttpResponse:
    """The one page for unknown, revoked and expired links. Rendered without the request, so nothing in it
    (no CSRF token, no cookie) depends on who asks or which link it was."""
    global _GONE_HTML
    if _GONE_HTML is None:
        _GONE_HTML = render_to_string("reports/public_gone.html").encode()
    return _public_headers(HttpResponse(_GONE_HTML, status=404))


def _unlocked(request, link) -> bool:
    return not link.has_password or services.share_unlock_valid(link=link, token=request.COOKIES.get(UNLOCK_COOKIE))


def _page_url(secret: str) -> str:
    return reverse("share:page", args=[secret])


def _password_page(request, link, secret, *, error="", status=200):
    response = render(
        request,
        "reports/public_password.html",
        {"link": link, "secret": secret, "error": error, "campaign_name": link.report.campaign_name},
        status=status,
    )
    return _public_headers(response, has_form=True)


def _body_html(request, report: CloseReport) -> str:
    """The frozen report body as HTML. Cached when the query string is empty or a known sort: it depends only
    on the snapshot, so every viewer of the report gets the same bytes."""
    keys = set(request.GET)
    sort = request.GET.get("sort", "")
    cacheable = not keys or (keys == {"sort"} and sort in SORT_KEYS)
    key = (
        f"share:body:{report.pk}:{report.created_at.timestamp()}:{report.snapshot_version}:{sort}:{BODY_CACHE_VERSION}"
    )
    html = cache.get(key) if cacheable else None
    if html is None:
        snapshot = CloseReport.objects.filter(pk=report.pk).values_list("snapshot", flat=True).get()
        body = report_body(snapshot=snapshot, request=request)
        html = render_to_string("reports/includes/report_body.html", {"body": body}, request=request)
        if cacheable:
            cache.set(key, html, BODY_CACHE_SECONDS)
    # Rendered by the template engine above (every value escaped there); the cache may hand back a plain str.
    return mark_safe(html)  # noqa: S308  # nosec B308 B703


_KEEP_WHITESPACE = re.compile(r"(<(pre|textarea|script)\b.*?</\2\s*>)", re.IGNORECASE | re.DOTALL)
_BETWEEN_TAGS = re.compile(r">\s+<")


def _compact(html: str) -> str:
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


def _page(request, link, secret, *, form=None, form_error="", status=200):
    report = link.report
    lessons = selectors.lessons_for_report(report=report, history=0)[0] if link.show_team_notes else None
    if link.allow_feedback:
        get_token(request)  # the feedback form needs the CSRF cookie; its value is part of the ETag below
    last_modified = max(link.changed_at, report.created_at, lessons.created_at if lessons else link.changed_at)
    # Everything the page shows depends on these (the link's settings move `changed_at`), not on the visitor.
    state = "|".join(
        str(part)
        for part in (
            PAGE_VERSION,
            link.pk,
            link.secret_hash,
            link.changed_at.timestamp(),
            report.pk,
            report.created_at.timestamp(),
            report.snapshot_version,
            lessons.pk if lessons else "",
        )
    )
    etag_source = f"{state}|{request.META.get('CSRF_COOKIE', '')}|{request.GET.urlencode()}"
    etag = '"' + hashlib.sha256(etag_source.encode()).hexdigest()[:32] + '"'
    if request.method == "GET" and form is None:
        not_modified = get_conditional_response(request, etag=etag, last_modified=int(last_modified.timestamp()))
        if not_modified is not None:
            not_modified["ETag"] = etag
            return _public_headers(not_modified, has_form=link.allow_feedback)
    sent = request.GET.get("sent") == "1"
    # The whole page is the same for every viewer of this link state (the CSRF token aside): cache it, with a
    # marker where the token goes, and put each visitor's token in on the way out.
    page_key = None
    if status == 200 and form is None and not request.GET:
        page_key = "share:page:" + hashlib.sha256(state.encode()).hexdigest()
    html = cache.get(page_key) if page_key else None
    if html is None:
        if form is None and link.allow_feedback:
            form = FeedbackForm(initial={"role": link.feedback_role} if link.feedback_role else None)
        context = {
            "link": link,
            "report": report,
            "secret": secret,
            "body_html": _body_html(request, report),
            "lessons": lessons if lessons and not lessons.is_empty else None,
            "form": form,
            "form_error": form_error,
            "sent": sent,
        }
        if page_key:
            context["csrf_token"] = CSRF_MARKER
        html = _compact(render_to_string("reports/public_report.html", context, request=request)).encode()
        if page_key:
            cache.set(page_key, html, BODY_CACHE_SECONDS)
    if page_key and link.allow_feedback:
        html = html.replace(CSRF_MARKER.encode(), get_token(request).encode())
    response = HttpResponse(html, status=status)
    if status == 200:
        if not sent:  # the thank-you page is the same visitor, not a new view
            services.share_view_record(link=link, user_agent=request.headers.get("User-Agent", ""))
        response["ETag"] = etag
        response["Last-Modified"] = http_date(last_modified.timestamp())
    return _public_headers(response, has_form=link.allow_feedback)


@require_GET
def share_page(request, secret):
    link = services.share_link_for_secret(secret=secret)
    if link is None:
        return _gone()
    if not _unlocked(request, link):
        return _password_page(request, link, secret)
    return _page(request, link, secret)


@require_http_methods(["GET", "POST"])
def share_unlock(request, secret):
    link = services.share_link_for_secret(secret=secret)
    if link is None:
        return _gone()
    if request.method == "GET" or not link.has_password:
        return redirect(_page_url(secret))
    # Throttled per link and client address, counting every attempt.
    if is_ratelimited(request, group=f"share-unlock:{link.pk}", key="ip", rate=UNLOCK_RATE, increment=True):
        return _password_page(
            request, link, secret, error="Too many attempts. Wait 15 minutes and try again.", status=429
        )
    if not services.share_password_check(link=link, password=request.POST.get("password", "")):
        return _password_page(request, link, secret, error="That password is not right.", status=400)
    response = redirect(_page_url(secret))
    response.set_cookie(
        UNLOCK_COOKIE,
        services.share_unlock_token(link=link),
        max_age=services.SHARE_UNLOCK_SECONDS,
        path=_page_url(secret),  # this link only
        secure=request.is_secure(),
        httponly=True,
        samesite="Lax",
    )
    return _public_headers(response)


@require_http_methods(["GET", "POST"])
def share_feedback(request, secret):
    link = services.share_link_for_secret(secret=secret)
    if link is None:
        return _gone()
    if request.method == "GET" or not _unlocked(request, link) or not link.allow_feedback:
        return redirect(_page_url(secret) + "#feedback-form")
    limited = is_ratelimited(
        request, group=f"share-feedback:{link.pk}", key="ip", rate=FEEDBACK_RATE_PER_IP, increment=True
    )
    limited = (
        is_ratelimited(
            request,
            group="share-feedback-link",
            key=lambda group, req: str(link.pk),
            rate=FEEDBACK_RATE_PER_LINK,
            increment=True,
        )
        or limited
    )
    form = FeedbackForm(request.POST)
    if limited:
        message = "Thank you, but we have received a lot of feedback from here just now. Please try again later."
        return _page(request, link, secret, form=form, form_error=message, status=429)
    thanks = redirect(_page_url(secret) + "?sent=1#feedback-form")
    if form.is_spam:
        return thanks  # a bot filled the honeypot: look successful, store nothing
    if not form.is_valid():
        return _page(request, link, secret, form=form, status=400)
    data = {k: v for k, v in form.cleaned_data.items() if k != "website"}
    try:
        services.feedback_create(report=link.report, link=link, author=None, **data)
    except services.ReportError:
        return _gone()
    return thanks


def _download_guard(request, secret):
    link = services.share_link_for_secret(secret=secret)
    if link is None:
        return None, _gone()
    if not _unlocked(request, link):
        return None, _public_headers(redirect(_page_url(secret)))
    return link, None


def _csv(report: CloseReport, suffix: str, header, rows):
    response = StreamingHttpResponse(exports.csv_stream(header, rows), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="{slugify(report.campaign_name) or "campaign"}-{suffix}.csv"'
    )
    return _public_headers(response)


@require_GET
def share_daily_csv(request, secret):
    link, refusal = _download_guard(request, secret)
    if refusal:
        return refusal
    header, rows = exports.daily_rows(link.report.snapshot)
    return _csv(link.report, "daily", header, rows)


@require_GET
def share_content_csv(request, secret):
    link, refusal = _download_guard(request, secret)
    if refusal:
        return refusal
    header, rows = exports.content_rows(link.report.snapshot)
    return _csv(link.report, "content", header, rows)


@require_GET
def share_pdf(request, secret):
    link, refusal = _download_guard(request, secret)
    if refusal:
        return refusal
    response = HttpResponse(services.report_pdf_bytes(report=link.report), content_type="application/pdf")
    response["Content-Disposition"] = (
        f'attachment; filename="{slugify(link.report.campaign_name) or "campaign"}-report.pdf"'
    )
    return _public_headers(response)
