"""Branding of what leaves Closeout (issue 18): an account's display name, logo, accent colour and footer on the
shared page, the share links' PDFs and the report emails; never on Closeout's own screens. The accent is refused
below WCAG AA contrast (saying which text colour and the ratio); hostile logo files are refused; good ones are
re-encoded and served safely; managers alone change it, audited."""

import base64
import hashlib
import io
import re
import struct
import zlib

import pytest
from django.conf import settings
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image, PngImagePlugin
from pypdf import PdfReader

from reports import services
from reports.models import AccountBranding, DeliveryEvent, DeliveryEventKind
from reports.services import branding as brand
from reports.services.delivery import delivery_envelope

from .conftest import campaign_end, metrics_generate

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("cache_cleared")]

NAME = "Northwind Creative"
FOOTER = "Northwind Creative Ltd · 12 Harbour St · hello@northwind.example"
ACCENT = "#0a5f3c"  # white text on it: 7.73:1


def png_bytes(size=(120, 60), color=(10, 95, 60, 255), text: dict | None = None) -> bytes:
    image = Image.new("RGBA", size, color)
    info = None
    if text:
        info = PngImagePlugin.PngInfo()
        for key, value in text.items():
            info.add_text(key, value)
    out = io.BytesIO()
    image.save(out, format="PNG", pnginfo=info)
    return out.getvalue()


def jpeg_with_exif() -> bytes:
    image = Image.new("RGB", (200, 100), (200, 30, 30))
    exif = Image.Exif()
    exif[0x010F] = "SpyCam Industries"  # Make
    exif[0x9286] = "secret-gps-note"  # UserComment
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif.tobytes(), quality=90)
    return out.getvalue()


def png_claiming(width: int, height: int) -> bytes:
    """A small, valid-looking PNG whose header declares width × height pixels (a decompression bomb)."""
    data = bytearray(png_bytes(size=(1, 1)))
    ihdr = data[16:29]
    ihdr[0:8] = struct.pack(">II", width, height)
    data[16:29] = ihdr
    data[29:33] = struct.pack(">I", zlib.crc32(b"IHDR" + bytes(ihdr)))
    return bytes(data)


def _upload(content: bytes, name="logo.png", kind="image/png"):
    return SimpleUploadedFile(name, content, content_type=kind)


def _brand_url(account):
    return reverse("reports:account_branding", args=[account.pk])


def _post(client, account, **fields):
    data = {
        "branding-display_name": fields.pop("display_name", NAME),
        "branding-accent_color": fields.pop("accent_color", ACCENT),
        "branding-accent_text": fields.pop("accent_text", "light"),
        "branding-footer_text": fields.pop("footer_text", FOOTER),
    }
    if "logo" in fields:
        data["branding-logo"] = fields.pop("logo")
    if fields.pop("remove_logo", False):
        data["branding-remove_logo"] = "on"
    assert not fields
    return client.post(_brand_url(account), data)


@pytest.fixture
def branded(account, manager):
    return services.account_branding_save(
        account=account,
        actor=manager,
        display_name=NAME,
        accent_color=ACCENT,
        footer_text=FOOTER,
        logo=services.logo_prepare(png_bytes()),
    )


@pytest.fixture
def report(campaign, manager, django_capture_on_commit_callbacks):
    metrics_generate(campaign, days=5, content=1)
    with django_capture_on_commit_callbacks(execute=True):
        campaign_end(campaign, manager)
    campaign.refresh_from_db()
    return campaign.close_report


def _pdf_text(content: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)


# --- The accent's contrast ---------------------------------------------------------------------------------------


def test_contrast_ratio_matches_wcag_reference_values():
    assert services.contrast_ratio("#000000", "#ffffff") == pytest.approx(21.0)
    assert services.contrast_ratio("#767676", "#ffffff") == pytest.approx(4.54, abs=0.01)  # the lightest AA grey


def test_a_light_accent_under_white_text_is_refused_saying_the_text_colour_and_ratio(account, manager, login):
    response = _post(login(manager), account, accent_color="#777777")
    assert response.status_code == 400
    html = response.content.decode()
    assert "White text (#ffffff) on #777777 has a contrast of 4.47:1" in html
    assert "WCAG AA needs at least 4.5:1" in html
    assert not AccountBranding.objects.filter(account=account).exists()
    # The service refuses it too, whoever calls (the admin, a script).
    with pytest.raises(services.BrandingError, match=r"Dark text \(#1b2430\) on #0a5f3c has a contrast of 2\.\d\d:1"):
        services.account_branding_save(
            account=account, actor=manager, display_name=NAME, accent_color=ACCENT, accent_text="dark"
        )


def test_a_yellow_accent_says_dark_text_would_pass_and_is_accepted_with_it(account, manager, login):
    refused = _post(login(manager), account, accent_color="#F5C400").content.decode()
    assert "White text (#ffffff) on #f5c400 has a contrast of 1.6" in refused
    assert "Dark text (#1b2430) would have 9.52:1." in refused
    response = _post(login(manager), account, accent_color="#F5C400", accent_text="dark")
    assert response.status_code == 302
    saved = AccountBranding.objects.get(account=account)
    assert (saved.accent_color, saved.accent_text) == ("#f5c400", "dark")


def test_a_dark_accent_with_white_text_is_accepted(account, manager, login):
    assert services.accent_check(accent_color="0B63C4", accent_text="light") == "#0b63c4"
    assert services.accent_check(accent_color="#06c", accent_text="light") == "#0066cc"
    assert _post(login(manager), account).status_code == 302
    assert AccountBranding.objects.get(account=account).accent_color == ACCENT


def test_not_a_colour_is_refused(account, manager, login):
    html = _post(login(manager), account, accent_color="red;x:url(y)").content.decode()
    assert "is not a colour: write it as #rrggbb" in html


# --- Hostile logos -----------------------------------------------------------------------------------------------

HOSTILE = {
    "pdf-renamed": (b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\n%%EOF\n", "not a PNG, JPEG or WebP image"),
    "text-renamed": (b"hello, I am not an image\n" * 20, "not a PNG, JPEG or WebP image"),
    "svg-with-script": (
        b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
        "SVG images are not accepted (they can carry scripts)",
    ),
    "bare-svg": (b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>', "SVG images are not accepted"),
    "decompression-bomb": (png_claiming(50_000, 50_000), "The image declares over 89 million pixels"),
    "too-many-pixels": (png_claiming(5_000, 5_000), "The image is 5,000 × 5,000 pixels; a logo can be at most 4,000"),
    "too-wide": (png_claiming(9_000, 10), "The image is 9,000 × 10 pixels"),
    "truncated-png": (png_bytes()[:60], "damaged"),
}


@pytest.mark.parametrize("kind", sorted(HOSTILE))
def test_hostile_logo_files_are_refused_and_nothing_is_stored(kind, account, manager, login):
    content, said = HOSTILE[kind]
    response = _post(login(manager), account, logo=_upload(content, name="logo.png"))
    assert response.status_code == 400
    assert said in response.content.decode()
    assert not AccountBranding.objects.filter(account=account).exists()


def test_a_gif_is_refused_by_its_content_whatever_its_name(account, manager, login):
    out = io.BytesIO()
    Image.new("RGB", (10, 10)).save(out, format="GIF")
    html = _post(login(manager), account, logo=_upload(out.getvalue(), name="logo.png")).content.decode()
    assert "This is a GIF image; upload a PNG, JPEG or WebP." in html


def test_a_file_over_the_byte_limit_is_refused(account, manager, login):
    big = png_bytes() + b"\0" * brand.LOGO_MAX_BYTES
    html = _post(login(manager), account, logo=_upload(big)).content.decode()
    assert "a logo can be at most 2.0 MB" in html
    with pytest.raises(services.BrandingError, match="at most 2.0 MB"):
        services.logo_prepare(big)  # bytes, as a script would pass them
    assert not AccountBranding.objects.filter(account=account).exists()


# --- Good logos: re-encoded, served safely -----------------------------------------------------------------------


def test_a_jpeg_is_re_encoded_as_png_without_its_exif(account, manager, login):
    original = jpeg_with_exif()
    assert b"SpyCam" in original
    assert _post(login(manager), account, logo=_upload(original, "photo.jpg", "image/jpeg")).status_code == 302
    saved = AccountBranding.objects.get(account=account)
    stored = bytes(saved.logo_png)
    assert stored != original and stored.startswith(b"\x89PNG\r\n\x1a\n")
    assert b"SpyCam" not in stored and b"secret-gps-note" not in stored and b"Exif" not in stored
    with Image.open(io.BytesIO(stored)) as image:
        assert image.format == "PNG" and image.size == (200, 100)
        assert dict(image.getexif()) == {} and "exif" not in image.info
    assert saved.logo_sha256 == hashlib.sha256(stored).hexdigest()


def test_a_png_loses_its_text_chunks_and_is_served_with_safe_headers(account, manager, login, client):
    original = png_bytes(text={"Comment": "internal-secret-xyz", "Author": "someone"})
    assert _post(login(manager), account, logo=_upload(original)).status_code == 302
    saved = AccountBranding.objects.get(account=account)
    stored = bytes(saved.logo_png)
    assert stored != original and b"internal-secret-xyz" not in stored
    client.logout()  # a stranger, as on the shared page
    url = reverse("branding:logo", args=[saved.logo_sha256])
    assert saved.logo_sha256 in url
    response = client.get(url)
    assert response.status_code == 200 and response.content == stored
    assert response["Content-Type"] == "image/png"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Disposition"].startswith("inline")
    assert "default-src 'none'" in response["Content-Security-Policy"]
    assert "sandbox" in response["Content-Security-Policy"]
    assert "immutable" in response["Cache-Control"]
    assert client.get(url, HTTP_IF_NONE_MATCH=response["ETag"]).status_code == 304
    assert client.get(reverse("branding:logo", args=["0" * 64])).status_code == 404
    assert client.get("/b/logo/..%2F..%2Fetc.png").status_code == 404


@pytest.mark.parametrize(("kind", "mode"), [("PNG", "P"), ("JPEG", "CMYK"), ("WEBP", "RGBA")])
def test_png_jpeg_and_webp_are_accepted_and_stored_as_png(kind, mode):
    image = Image.new(mode, (64, 32))
    out = io.BytesIO()
    image.save(out, format=kind)
    prepared = services.logo_prepare(out.getvalue())
    with Image.open(io.BytesIO(prepared.png)) as stored:
        assert stored.format == "PNG" and stored.size == (64, 32)


def test_a_big_logo_is_stored_scaled_down(account, manager):
    prepared = services.logo_prepare(png_bytes(size=(3000, 1000)))
    assert (prepared.width, prepared.height) == (800, 267)


def test_the_theme_stylesheet_holds_only_the_colours_its_url_names(client):
    css = client.get(reverse("branding:theme", args=["0a5f3c", "light"]))
    assert css.status_code == 200 and css["Content-Type"].startswith("text/css")
    assert "--brand: #0a5f3c" in css.content.decode() and "--brand-ink: #ffffff" in css.content.decode()
    assert client.get("/b/theme/0a5f3c;x-light.css").status_code == 404
    assert client.get("/b/theme/0a5f3c-purple.css").status_code == 404


# --- Where branding shows --------------------------------------------------------------------------------------


def test_branding_appears_on_the_shared_page(branded, report, manager, client):
    _, secret = services.share_link_create(report=report, actor=manager, label="Client")
    html = client.get(reverse("share:page", args=[secret])).content.decode()
    assert f'<span class="brand-name">{NAME}</span>' in html
    assert f"<title>{report.campaign_name} · {NAME}</title>" in html
    assert reverse("branding:logo", args=[branded.logo_sha256]) in html
    assert reverse("branding:theme", args=["0a5f3c", "light"]) in html
    assert FOOTER in html and 'class="public-page report-page branded"' in html
    assert "◼</span> Closeout" not in html  # Closeout's own header is gone


def test_branding_is_not_on_closeouts_own_report_page_nor_before_the_password(branded, report, manager, login):
    own = login(manager).get(reverse("reports:detail", args=[report.campaign_id])).content.decode()
    assert NAME not in own and FOOTER not in own and "/b/theme/" not in own
    _, secret = services.share_link_create(report=report, actor=manager, label="Locked", password="hunter22hunter")
    login(manager).logout()
    locked = login(manager).get(reverse("share:page", args=[secret]))
    login(manager).logout()
    assert NAME not in locked.content.decode()  # the password page names nothing


def test_a_branding_change_shows_on_the_cached_shared_page_at_once(branded, report, manager, client):
    _, secret = services.share_link_create(report=report, actor=manager, label="Client")
    url = reverse("share:page", args=[secret])
    first = client.get(url)
    assert NAME in first.content.decode()
    assert client.get(url, HTTP_IF_NONE_MATCH=first["ETag"]).status_code == 304  # cached and unchanged
    services.account_branding_save(
        account=report.account, actor=manager, display_name="Southwind Studio", accent_color="#1f4fd1"
    )
    again = client.get(url, HTTP_IF_NONE_MATCH=first["ETag"])
    assert again.status_code == 200 and again["ETag"] != first["ETag"]
    html = again.content.decode()
    assert "Southwind Studio" in html and NAME not in html
    assert reverse("branding:theme", args=["1f4fd1", "light"]) in html
    services.account_branding_remove(account=report.account, actor=manager)
    assert "◼</span> Closeout" in client.get(url).content.decode()


def test_the_shared_page_still_answers_304_in_one_query_when_branded(
    branded, report, manager, client, django_assert_num_queries
):
    _, secret = services.share_link_create(report=report, actor=manager, label="Client")
    url = reverse("share:page", args=[secret])
    etag = client.get(url)["ETag"]
    with django_assert_num_queries(1):
        assert client.get(url, HTTP_IF_NONE_MATCH=etag).status_code == 304


def test_the_share_pdf_carries_the_name_and_footer_and_the_teams_does_not(branded, report, manager, login, client):
    _, secret = services.share_link_create(report=report, actor=manager, label="Client")
    shared = _pdf_text(client.get(reverse("share:pdf", args=[secret])).content)
    assert NAME in shared
    assert "hello@northwind.example" in shared  # the footer, in every page's margin
    assert shared.count("hello@northwind.example") == len(
        PdfReader(io.BytesIO(client.get(reverse("share:pdf", args=[secret])).content)).pages
    )
    team = _pdf_text(login(manager).get(reverse("reports:export_pdf", args=[report.campaign_id])).content)
    assert NAME not in team and "hello@northwind.example" not in team


def test_the_pdf_embeds_the_logo_as_a_data_uri(branded, report):
    from reports import pdf

    extras = services.pdf_extras(report=report, audience="public")
    html = pdf.report_pdf_html(snapshot=report.snapshot, images=[], extras=extras)
    assert f'src="data:image/png;base64,{base64.b64encode(bytes(branded.logo_png)).decode()}"' in html
    assert "/b/logo/" not in html  # WeasyPrint fetches nothing
    team = pdf.report_pdf_html(
        snapshot=report.snapshot, images=[], extras=services.pdf_extras(report=report, audience="team")
    )
    assert "data:image/png" not in team and NAME not in team


def test_a_branding_change_renders_the_share_pdf_again(branded, report, manager, client):
    _, secret = services.share_link_create(report=report, actor=manager, label="Client")
    url = reverse("share:pdf", args=[secret])
    assert NAME in _pdf_text(client.get(url).content)
    services.account_branding_save(account=report.account, actor=manager, display_name="Southwind Studio")
    text = _pdf_text(client.get(url).content)
    assert "Southwind Studio" in text and NAME not in text


def test_the_report_email_is_branded_with_the_logo_inline(
    branded, campaign, manager, django_capture_on_commit_callbacks
):
    services.account_recipient_add(account=campaign.account, actor=manager, email="ana@client.example", name="Ana")
    metrics_generate(campaign, days=3, content=1)
    with django_capture_on_commit_callbacks(execute=True):
        campaign_end(campaign, manager)
    (message,) = mail.outbox
    # The agency's name as the sender's name and the subject's first words; the address stays Closeout's own.
    assert message.subject == f"{NAME} · Report: {campaign.name}"
    assert message.message()["From"].addresses[0].display_name == f"{NAME} via Closeout"
    assert message.message()["From"].addresses[0].addr_spec == "closeout@localhost"
    html = message.alternatives[0][0]
    assert NAME in html and ACCENT in html and FOOTER in html
    assert f'src="cid:{brand.LOGO_CID}"' in html
    assert message.body.startswith(f"{NAME}\n") and FOOTER in message.body
    mime = message.message()
    (logo,) = [part for part in mime.walk() if part.get_content_type() == "image/png"]
    assert logo["Content-ID"] == f"<{brand.LOGO_CID}>"
    assert logo.get_content_disposition() == "inline"
    assert logo.get_content() == bytes(branded.logo_png)
    related = [p for p in mime.walk() if p.get_content_type() == "multipart/related"]
    assert related and any(p.get_content_type() == "text/html" for p in related[0].iter_parts())
    pdfs = [p for p in mime.walk() if p.get_content_type() == "application/pdf"]
    assert len(pdfs) == 1 and pdfs[0].get_content_disposition() == "attachment"
    assert NAME in _pdf_text(pdfs[0].get_content())


def test_an_unbranded_email_stays_as_it_was(campaign, manager, django_capture_on_commit_callbacks):
    services.account_recipient_add(account=campaign.account, actor=manager, email="ana@client.example")
    metrics_generate(campaign, days=3, content=1)
    with django_capture_on_commit_callbacks(execute=True):
        campaign_end(campaign, manager)
    (message,) = mail.outbox
    assert message.subject == f"Report: {campaign.name}" and message.from_email == settings.DEFAULT_FROM_EMAIL
    assert "cid:" not in message.alternatives[0][0] and "#1f4fd1" in message.alternatives[0][0]
    assert message.body.startswith("Hello")
    assert not [p for p in message.message().walk() if p.get_content_type() == "image/png"]


@pytest.mark.parametrize("name", ['Ana "Studio", Ltd', "Café Ünïcode Agency"])
def test_a_sender_name_with_quotes_commas_or_accents_stays_one_valid_address(name, account, manager):
    branding = services.account_branding_save(account=account, actor=manager, display_name=name)
    subject, sender = delivery_envelope(
        branding={"name": branding.display_name}, final=True, campaign_name="Spring, glow"
    )
    assert subject == f"{name} · Final report: Spring, glow"
    message = mail.EmailMessage(subject=subject, body="x", from_email=sender, to=["ana@client.example"]).message()
    (address,) = message["From"].addresses
    assert address.display_name == f"{name} via Closeout" and address.addr_spec == "closeout@localhost"


# --- Who may change it, and the record ---------------------------------------------------------------------------


def test_the_account_page_and_recipients_page_link_to_branding(account, viewer, login):
    client = login(viewer)
    for page in (
        reverse("campaigns:account_detail", args=[account.pk]),
        reverse("reports:account_recipients", args=[account.pk]),
    ):
        assert f'href="{_brand_url(account)}"' in client.get(page).content.decode()


def test_viewers_and_editors_see_the_branding_but_cannot_change_it(branded, account, viewer, editor, login):
    for user in (viewer, editor):
        client = login(user)
        page = client.get(_brand_url(account))
        assert page.status_code == 200
        html = page.content.decode()
        assert NAME in html and 'id="branding-form"' not in html
        assert "Managers of this account change the branding." in html
        assert _post(client, account, display_name="Hijacked").status_code == 403
        remove = client.post(reverse("reports:account_branding_remove", args=[account.pk]))
        assert remove.status_code == 403
    assert AccountBranding.objects.get(account=account).display_name == NAME


def test_strangers_cannot_see_or_change_the_branding(branded, account, outsider, login, client):
    assert _post(login(outsider), account, display_name="Hijacked").status_code == 404
    assert login(outsider).get(_brand_url(account)).status_code == 404
    client.logout()
    assert _post(client, account, display_name="Hijacked").status_code == 302  # to the login page
    assert AccountBranding.objects.get(account=account).display_name == NAME


def test_changes_are_audited_with_who_and_what(account, manager, login):
    client = login(manager)
    assert _post(client, account, logo=_upload(png_bytes())).status_code == 302
    assert _post(client, account, accent_color="#1f4fd1", footer_text="New footer").status_code == 302
    assert _post(client, account, accent_color="#1f4fd1", footer_text="New footer").status_code == 302  # no change
    assert _post(client, account, accent_color="#1f4fd1", footer_text="New footer", remove_logo=True).status_code == 302
    events = list(
        DeliveryEvent.objects.filter(account=account, kind=DeliveryEventKind.BRANDING).order_by("created_at", "id")
    )
    assert [e.note for e in events] == [
        "created, logo (120×60 PNG)",
        "accent colour: #0a5f3c → #1f4fd1, footer",
        "logo removed",
    ]
    assert {e.actor for e in events} == {manager}
    page = client.get(_brand_url(account)).content.decode()
    assert "accent colour: #0a5f3c → #1f4fd1, footer" in page and "mona-manager" in page
    assert client.post(reverse("reports:account_branding_remove", args=[account.pk])).status_code == 302
    assert DeliveryEvent.objects.filter(account=account, note="branding removed", actor=manager).exists()
    assert not AccountBranding.objects.filter(account=account).exists()


def test_the_admin_edits_through_the_same_checks_and_audit(account, staff, login):
    client = login(staff)
    add = reverse("admin:reports_accountbranding_add")
    assert client.get(add).status_code == 200
    form = {
        "account": account.pk,
        "display_name": NAME,
        "accent_color": "#777777",
        "accent_text": "light",
        "footer_text": FOOTER,
    }
    refused = client.post(add, form)
    assert refused.status_code == 200 and "White text (#ffffff) on #777777 has a contrast of 4.47:1" in (
        refused.content.decode()
    )
    svg = _upload(b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>", "logo.svg")
    refused = client.post(add, {**form, "accent_color": ACCENT, "logo": svg})
    assert "SVG images are not accepted" in refused.content.decode()
    saved = client.post(add, {**form, "accent_color": ACCENT, "logo": _upload(jpeg_with_exif(), "a.jpg")})
    assert saved.status_code == 302
    branding = AccountBranding.objects.get(account=account)
    assert branding.accent_color == ACCENT and b"SpyCam" not in bytes(branding.logo_png) and branding.has_logo
    event = DeliveryEvent.objects.get(account=account, kind=DeliveryEventKind.BRANDING)
    assert event.actor == staff and event.note.startswith("created, logo")
    change = reverse("admin:reports_accountbranding_change", args=[branding.pk])
    assert client.get(change).status_code == 200
    assert client.post(change, {**form, "accent_color": "#1f4fd1"}).status_code == 302
    branding.refresh_from_db()
    assert branding.accent_color == "#1f4fd1" and branding.has_logo  # the logo stays unless removed
    assert DeliveryEvent.objects.filter(account=account, kind=DeliveryEventKind.BRANDING).count() == 2


def test_stored_logo_url_changes_with_the_logo(branded, account, manager):
    old = branded.logo_sha256
    services.account_branding_save(
        account=account, actor=manager, display_name=NAME, logo=services.logo_prepare(png_bytes(color=(1, 2, 3, 255)))
    )
    new = AccountBranding.objects.get(account=account).logo_sha256
    assert new != old and re.fullmatch(r"[0-9a-f]{64}", new)
