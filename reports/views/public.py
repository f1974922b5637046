"""The public shared report, `/s/<secret>/…`: no login, read-only, for people outside the team.

Unknown, revoked and expired secrets all get the same 404 page, byte for byte (no oracle). Every response
carries `X-Robots-Tag: noindex`, `Referrer-Policy: no-referrer` (the secret is in the URL; `same-origin` on pages
with a form, see `_public_headers`) and
`Cache-Control: private, no-cache` (browsers keep it but revalidate, so a revoke takes effect at once). Before a
password link is unlocked nothing names the report: the password page has a neutral title.

Cheap by design (issue 9): the page answers conditional GETs from the link row alone (one query → 304); the whole
rendered page is cached per link state (`reports.public_cache` says what that state is), with each visitor's CSRF
token put in on the way out; a full page then costs
the link query (+1 with team notes), plus the view count, which `services.share_view_record` writes behind in
batches. Views are counted on full pages only: a 304 is the same browser revalidating a page it already has (a
reload), which we do not count as a new view."""

from django.core.cache import cache
from django.http import HttpResponse
from django.middleware.csrf import get_token
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.cache import get_conditional_response
from django.utils.http import http_date
from django.views.decorators.http import require_GET, require_http_methods
from django_ratelimit.core import is_ratelimited

from .. import exports, public_cache, selectors, services
from ..forms import FeedbackForm
from ..models import PdfAudience
from ..services.branding import branding_for_page, branding_of
from .common import csv_download, pdf_download

UNLOCK_COOKIE = "closeout_share"
UNLOCK_RATE = "5/15m"
FEEDBACK_RATE_PER_IP = "5/10m"
FEEDBACK_RATE_PER_LINK = "50/h"


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


def _password_page(request, secret, *, error="", status=200):
    # Nothing about the report (not even its name) before the password: the page has a neutral title.
    response = render(request, "reports/public_password.html", {"secret": secret, "error": error}, status=status)
    return _public_headers(response, has_form=True)


def _page(request, link, secret, *, form=None, form_error="", status=200):
    report = link.report
    lessons = selectors.lessons_for_report(report=report, history=0)[0] if link.show_team_notes else None
    if link.allow_feedback:
        get_token(request)  # the feedback form needs the CSRF cookie; its value is part of the ETag below
    branding = branding_of(report.account)  # selected with the link: no query
    last_modified = max(
        link.changed_at,
        report.created_at,
        lessons.created_at if lessons else link.changed_at,
        branding.updated_at if branding else link.changed_at,
        report.timeline_changed_at or link.changed_at,  # a note added after close (issue 18)
    )
    state = public_cache.page_state(link=link, report=report, lessons=lessons, branding=branding)
    etag = public_cache.page_etag(
        state=state, csrf_cookie=request.META.get("CSRF_COOKIE", ""), query=request.GET.urlencode()
    )
    if request.method == "GET" and form is None:
        not_modified = get_conditional_response(request, etag=etag, last_modified=int(last_modified.timestamp()))
        if not_modified is not None:
            not_modified["ETag"] = etag
            return _public_headers(not_modified, has_form=link.allow_feedback)
    sent = request.GET.get("sent") == "1"
    # The whole page is the same for every viewer of this link state (the CSRF token aside): cache it, with a
    # marker where the token goes, and put each visitor's token in on the way out.
    page_key = public_cache.page_key(state) if status == 200 and form is None and not request.GET else None
    html = cache.get(page_key) if page_key else None
    if html is None:
        if form is None and link.allow_feedback:
            form = FeedbackForm(initial={"role": link.feedback_role} if link.feedback_role else None)
        context = {
            "link": link,
            "report": report,
            "secret": secret,
            "body_html": public_cache.body_html(request, report, public_cache.body_options(link)),
            "lessons": lessons if lessons and not lessons.is_empty else None,
            "final": public_cache.final_for(report),
            "branding": branding_for_page(branding),
            "form": form,
            "form_error": form_error,
            "sent": sent,
        }
        if page_key:
            context["csrf_token"] = public_cache.CSRF_MARKER
        html = public_cache.compact(render_to_string("reports/public_report.html", context, request=request)).encode()
        if page_key:
            cache.set(page_key, html, public_cache.BODY_CACHE_SECONDS)
    if page_key and link.allow_feedback:
        html = html.replace(public_cache.CSRF_MARKER.encode(), get_token(request).encode())
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
        return _password_page(request, secret)
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
        return _password_page(request, secret, error="Too many attempts. Wait 15 minutes and try again.", status=429)
    if not services.share_password_check(link=link, password=request.POST.get("password", "")):
        return _password_page(request, secret, error="That password is not right.", status=400)
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


def _frozen_csv(request, secret, kind: str):
    link, refusal = _download_guard(request, secret)
    if refusal:
        return refusal
    header, rows = exports.FROZEN[kind](link.report.snapshot)
    return _public_headers(csv_download(link.report.campaign_name, kind, header, rows))


@require_GET
def share_daily_csv(request, secret):
    return _frozen_csv(request, secret, "daily")


@require_GET
def share_content_csv(request, secret):
    return _frozen_csv(request, secret, "content")


@require_GET
def share_pdf(request, secret):
    link, refusal = _download_guard(request, secret)
    if refusal:
        return refusal
    audience = PdfAudience.PUBLIC_NOTES if link.show_team_notes else PdfAudience.PUBLIC
    return _public_headers(pdf_download(link.report, audience))
