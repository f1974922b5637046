"""Branding pages (issue 18): an account's branding (every member sees it, managers change it), and the two public
files the shared page loads: the logo and the accent's stylesheet. Rules live in `reports.services.branding`."""

import re

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from campaigns.models import Role
from campaigns.selectors import account_get_for_user, require_role

from .. import services
from ..forms import BrandingForm
from ..models import AccentText, AccountBranding, DeliveryEvent, DeliveryEventKind
from ..services import branding as brand

FOREVER = "public, max-age=31536000, immutable"  # the URL changes with the content
_HEX6 = re.compile(r"^[0-9a-f]{6}$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def _initial(branding: AccountBranding | None) -> dict | None:
    if branding is None:
        return None
    return {
        "display_name": branding.display_name,
        "accent_color": branding.accent_color,
        "accent_text": branding.accent_text,
        "footer_text": branding.footer_text,
    }


@login_required
@require_http_methods(["GET", "POST"])
def account_branding(request, account_id):
    """The account's branding on shared reports, their PDFs and report emails."""
    account = account_get_for_user(user=request.user, pk=account_id)
    role = require_role(user=request.user, account_id=account.pk, role=Role.VIEWER, doing="see the branding")
    branding = AccountBranding.objects.filter(account=account).defer("logo_png").first()
    form = BrandingForm(initial=_initial(branding) or {"display_name": account.name}, prefix="branding")
    status = 200
    if request.method == "POST":
        require_role(user=request.user, account_id=account.pk, role=Role.MANAGER, doing="change the branding")
        form = BrandingForm(request.POST, request.FILES, prefix="branding")
        if form.is_valid():
            try:
                services.account_branding_save(account=account, actor=request.user, **form.cleaned_data)
            except services.BrandingError as exc:
                form.add_error(exc.field if exc.field in form.fields else None, str(exc))
            else:
                messages.success(
                    request,
                    f"Branding saved: shared reports of {account.name}, their PDFs and report emails now show "
                    f"“{form.cleaned_data['display_name']}”.",
                )
                return redirect("reports:account_branding", account.pk)
        status = 400
    context = {
        "account": account,
        "branding": branding,
        "preview": brand.branding_for_page(branding),
        "form": form,
        "is_manager": role.allows(Role.MANAGER),
        "history": DeliveryEvent.objects.filter(account=account, kind=DeliveryEventKind.BRANDING)
        .select_related("actor")
        .order_by("-created_at", "-id")[:5],
        "nav_section": "accounts",
    }
    return render(request, "reports/account_branding.html", context, status=status)


@login_required
@require_POST
def account_branding_remove(request, account_id):
    account = account_get_for_user(user=request.user, pk=account_id)
    require_role(user=request.user, account_id=account.pk, role=Role.MANAGER, doing="change the branding")
    if services.account_branding_remove(account=account, actor=request.user):
        messages.success(request, f"Branding removed: shared reports of {account.name} show Closeout again.")
    else:
        messages.info(request, f"{account.name} had no branding.")
    return redirect("reports:account_branding", account.pk)


def _safe_file(response: HttpResponse) -> HttpResponse:
    # Public, content-addressed files: nothing in them may run, frame or be sniffed as another type.
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; img-src 'self'; style-src 'self'; sandbox"
    response["Cross-Origin-Resource-Policy"] = "same-origin"
    response["Cache-Control"] = FOREVER
    return response


@require_GET
def logo(request, sha256):
    """A re-encoded logo by the hash of its bytes: public (the shared page shows it to anyone with the link), and
    unguessable without the image itself."""
    if not _SHA256.match(sha256):
        raise Http404("No such logo.")
    png = AccountBranding.objects.filter(logo_sha256=sha256).values_list("logo_png", flat=True).first()
    if png is None:
        raise Http404("No such logo.")
    etag = f'"{sha256[:32]}"'
    if request.headers.get("If-None-Match") == etag:
        return _safe_file(HttpResponse(status=304, headers={"ETag": etag}))
    response = HttpResponse(bytes(png), content_type="image/png")
    response["Content-Disposition"] = 'inline; filename="logo.png"'
    response["ETag"] = etag
    return _safe_file(response)


@require_GET
def theme(request, accent, text):
    """The accent's stylesheet: custom properties only, from a colour the URL names (validated here too, so
    nothing else can be written into it). The rules using them are in app.css (`.branded`)."""
    if not _HEX6.match(accent) or text not in AccentText.values:
        raise Http404("No such theme.")
    ink = brand.ACCENT_TEXT_HEX[AccentText(text)]
    css = f".branded {{ --brand: #{accent}; --brand-ink: {ink}; --brand-accent: #{accent}; }}\n"
    return _safe_file(HttpResponse(css, content_type="text/css; charset=utf-8"))
