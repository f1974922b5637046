"""An account's branding on what leaves Closeout (issue 18): the shared report page, the share links' PDFs and the
report emails. Rules:

- Accent colour: `#rrggbb` (or `#rgb`), refused unless the chosen text colour on it (white or dark) has a WCAG 2
  contrast of at least 4.5:1 (AA for normal text); the refusal names that text colour and the ratio.
- Logo: PNG, JPEG or WebP only, recognised by content (never by name or the browser's type), at most
  `LOGO_MAX_BYTES` uploaded and `LOGO_MAX_SIDE` pixels a side as declared in the file's header (checked before
  any pixel is decoded, so a small file that inflates to gigabytes is refused unread), `Image.verify()`-ed, then
  decoded and re-encoded as a fresh PNG: no EXIF, no text chunks, no colour profile, nothing of the upload's but
  its pixels. SVG is refused (it can carry script).
- Every change is written by `account_branding_save` / `account_branding_remove`, under a row lock, with a
  `DeliveryEvent` (kind "branding") naming what changed, in the same transaction.

Reads for the outputs (`branding_for_page`, `branding_for_email`, `branding_for_pdf`) return plain dicts."""

import base64
import dataclasses
import email.policy
import hashlib
import io
import math
import re
import warnings

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ObjectDoesNotExist
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.urls import reverse
from PIL import Image, ImageOps, UnidentifiedImageError

from campaigns.models import AdAccount

from ..models import DeliveryEvent, DeliveryEventKind
from ..models_branding import ACCENT_TEXT_HEX, AccentText, AccountBranding
from .errors import ReportError

LOGO_MAX_BYTES = 2 * 1024 * 1024
LOGO_MAX_SIDE = 4000  # as declared in the file: bigger is refused before decoding
LOGO_MAX_PIXELS = 16_000_000
LOGO_STORED_BOX = (800, 400)  # the stored PNG fits in this (shown at most 56 px high; room for 2x screens)
LOGO_FORMATS = {"PNG": "PNG", "JPEG": "JPEG", "WEBP": "WebP"}
CONTRAST_MIN = 4.5  # WCAG 2 AA, normal text
_HEX = re.compile(r"^#?([0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")


class BrandingError(ReportError):
    """A branding value was refused; `field` names the form field it belongs to."""

    def __init__(self, message: str, *, field: str):
        super().__init__(message)
        self.field = field


# Colour ----------------------------------------------------------------------------------------------------------


def color_normalize(value: str) -> str:
    """'#0B63C4', '0b63c4' or '#06c' → '#0b63c4'; '' stays ''. BrandingError for anything else."""
    value = (value or "").strip()
    if not value:
        return ""
    match = _HEX.match(value)
    if not match:
        raise BrandingError(f"“{value}” is not a colour: write it as #rrggbb, e.g. #0b63c4.", field="accent_color")
    digits = match.group(1).lower()
    if len(digits) == 3:
        digits = "".join(c * 2 for c in digits)
    return "#" + digits


def _luminance(hex_color: str) -> float:
    """WCAG 2 relative luminance of '#rrggbb'."""

    def channel(c: int) -> float:
        s = c / 255
        return s / 12.92 if s <= 0.04045 else ((s + 0.055) / 1.055) ** 2.4

    r, g, b = (int(hex_color[i : i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def contrast_ratio(a: str, b: str) -> float:
    """WCAG 2 contrast ratio of two '#rrggbb' colours, 1.0 to 21.0."""
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def _ratio_text(ratio: float) -> str:
    # Rounded down, so 4.497 never reads as the 4.50 it falls short of.
    return f"{math.floor(ratio * 100) / 100:.2f}:1"


def accent_check(*, accent_color: str, accent_text: str) -> str:
    """The normalised accent colour if `accent_text` text on it is readable (WCAG AA, 4.5:1); BrandingError saying
    which text colour and the ratio otherwise. '' (no accent: Closeout's colours) always passes."""
    color = color_normalize(accent_color)
    if not color:
        return ""
    text = AccentText(accent_text)
    ratio = contrast_ratio(color, ACCENT_TEXT_HEX[text])
    if ratio < CONTRAST_MIN:
        better = AccentText.DARK if text == AccentText.LIGHT else AccentText.LIGHT
        other = contrast_ratio(color, ACCENT_TEXT_HEX[better])
        hint = (
            f" {better.label} ({ACCENT_TEXT_HEX[better]}) would have {_ratio_text(other)}."
            if other >= CONTRAST_MIN
            else " Choose a " + ("darker" if text == AccentText.LIGHT else "lighter") + " colour."
        )
        raise BrandingError(
            f"{text.label} ({ACCENT_TEXT_HEX[text]}) on {color} has a contrast of {_ratio_text(ratio)}; "
            f"WCAG AA needs at least {CONTRAST_MIN}:1 for text.{hint}",
            field="accent_color",
        )
    return color


# Logo ------------------------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class PreparedLogo:
    """A logo ready to store: the re-encoded PNG, its SHA-256 and size. Made only by `logo_prepare`."""

    png: bytes
    sha256: str
    width: int
    height: int


def _refuse(message: str) -> BrandingError:
    return BrandingError(message, field="logo")


def _mb(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB"


def logo_prepare(upload) -> PreparedLogo:
    """Check an uploaded logo (a file object or bytes) and re-encode it as PNG; BrandingError saying why not.
    Reads at most LOGO_MAX_BYTES + 1 bytes; decodes pixels only after the header's size was found acceptable."""
    if isinstance(upload, bytes | bytearray):
        data = bytes(upload[: LOGO_MAX_BYTES + 1])
    else:
        if getattr(upload, "size", 0) and upload.size > LOGO_MAX_BYTES:
            raise _refuse(f"The file is {_mb(upload.size)}; a logo can be at most {_mb(LOGO_MAX_BYTES)}.")
        upload.seek(0)
        data = upload.read(LOGO_MAX_BYTES + 1)
    if len(data) > LOGO_MAX_BYTES:
        raise _refuse(f"The file is over {_mb(LOGO_MAX_BYTES)}; a logo can be at most {_mb(LOGO_MAX_BYTES)}.")
    if not data:
        raise _refuse("The file is empty.")
    head = data[:1024].lstrip().lower()
    if head.startswith((b"<?xml", b"<svg", b"<!doctype svg")) or b"<svg" in head:
        raise _refuse("SVG images are not accepted (they can carry scripts): upload a PNG, JPEG or WebP.")
    with warnings.catch_warnings():
        # Pillow warns of a decompression bomb and errors at twice its limit; every warning here is a refusal.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(data)) as probe:
                kind = probe.format
                width, height = probe.size
                if kind not in LOGO_FORMATS:
                    raise _refuse(f"This is a {kind or 'an unknown'} image; upload a PNG, JPEG or WebP.")
                if width > LOGO_MAX_SIDE or height > LOGO_MAX_SIDE or width * height > LOGO_MAX_PIXELS:
                    raise _refuse(
                        f"The image is {width:,} × {height:,} pixels; a logo can be at most "
                        f"{LOGO_MAX_SIDE:,} × {LOGO_MAX_SIDE:,}."
                    )
                probe.verify()  # the file's structure and checksums, without decoding it
            # verify() leaves the image unusable: open again to decode (the first frame of an animation).
            with Image.open(io.BytesIO(data)) as image:
                image.seek(0)
                image.load()
                image = ImageOps.exif_transpose(image)  # keep the intended orientation; the EXIF itself goes
                has_alpha = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
                pixels = image.convert("RGBA" if has_alpha else "RGB")
        except BrandingError:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            # Pillow refuses to even open an image declaring this many pixels (a small file that would inflate).
            raise _refuse(
                f"The image declares over {Image.MAX_IMAGE_PIXELS // 1_000_000:,} million pixels; a logo can be at "
                f"most {LOGO_MAX_SIDE:,} × {LOGO_MAX_SIDE:,}."
            ) from None
        except UnidentifiedImageError:
            raise _refuse("This file is not a PNG, JPEG or WebP image (or it is damaged).") from None
        except (OSError, SyntaxError, ValueError, EOFError):  # Pillow's ways of saying a file is broken
            raise _refuse("This image file is damaged or truncated; export it again.") from None
    pixels.thumbnail(LOGO_STORED_BOX, Image.Resampling.LANCZOS)
    # A fresh image holding only the pixels: nothing of the upload's metadata (EXIF, text, ICC) can follow.
    clean = Image.new(pixels.mode, pixels.size)
    clean.paste(pixels)
    out = io.BytesIO()
    clean.save(out, format="PNG", optimize=True)
    png = out.getvalue()
    return PreparedLogo(png=png, sha256=hashlib.sha256(png).hexdigest(), width=clean.width, height=clean.height)


# Writes ----------------------------------------------------------------------------------------------------------

_LABELS = {
    "display_name": "display name",
    "accent_color": "accent colour",
    "accent_text": "text on the accent",
    "footer_text": "footer",
}


def account_branding_save(
    *,
    account: AdAccount,
    actor: AbstractBaseUser | None,
    display_name: str,
    accent_color: str = "",
    accent_text: str = AccentText.LIGHT,
    footer_text: str = "",
    logo: PreparedLogo | None = None,
    remove_logo: bool = False,
) -> AccountBranding:
    """Set the account's branding (made on first save). `logo` replaces the logo; `remove_logo` drops it. The
    accent is checked again here (`accent_check`), whoever calls. A save that changes nothing writes nothing.
    Audited: one `DeliveryEvent` naming what changed. BrandingError for a refused value."""
    display_name = " ".join((display_name or "").split())
    if not display_name:
        raise BrandingError("Give the name shared reports should show.", field="display_name")
    if len(display_name) > 80:
        raise BrandingError("The display name can be at most 80 characters.", field="display_name")
    footer_text = (footer_text or "").strip()
    if len(footer_text) > 300:
        raise BrandingError("The footer can be at most 300 characters.", field="footer_text")
    accent_text = AccentText(accent_text or AccentText.LIGHT)
    accent_color = accent_check(accent_color=accent_color, accent_text=accent_text)
    wanted = {
        "display_name": display_name,
        "accent_color": accent_color,
        "accent_text": accent_text.value,
        "footer_text": footer_text,
    }
    with transaction.atomic():
        try:
            with transaction.atomic():
                branding, created = AccountBranding.objects.select_for_update().get_or_create(
                    account=account, defaults={**wanted, "updated_by": actor}
                )
        except IntegrityError:  # made at the same moment by another save: change that one
            branding, created = AccountBranding.objects.select_for_update().get(account=account), False
        changes = [] if not created else ["created"]
        fields = []
        for name, value in wanted.items():
            old = getattr(branding, name)
            if not created and old != value:
                shown = f"{old} → {value}" if name in ("accent_color", "accent_text") else ""
                changes.append(f"{_LABELS[name]}{': ' + shown if shown else ''}")
                setattr(branding, name, value)
                fields.append(name)
        if logo is not None and logo.sha256 != branding.logo_sha256:
            branding.logo_png, branding.logo_sha256 = logo.png, logo.sha256
            branding.logo_width, branding.logo_height = logo.width, logo.height
            fields += ["logo_png", "logo_sha256", "logo_width", "logo_height"]
            changes.append(f"logo ({logo.width}×{logo.height} PNG)")
        elif remove_logo and branding.logo_sha256:
            branding.logo_png, branding.logo_sha256, branding.logo_width, branding.logo_height = b"", "", None, None
            fields += ["logo_png", "logo_sha256", "logo_width", "logo_height"]
            changes.append("logo removed")
        if fields:
            branding.updated_by = actor
            branding.save(update_fields=[*fields, "updated_by", "updated_at"])
        if changes:
            DeliveryEvent.objects.create(
                account=account, kind=DeliveryEventKind.BRANDING, actor=actor, note=", ".join(changes)[:255]
            )
    return branding


def account_branding_remove(*, account: AdAccount, actor: AbstractBaseUser | None) -> bool:
    """Stop branding the account's reports (they show Closeout again). True if there was branding. Audited."""
    with transaction.atomic():
        deleted, _ = AccountBranding.objects.filter(account=account).delete()
        if deleted:
            DeliveryEvent.objects.create(
                account=account, kind=DeliveryEventKind.BRANDING, actor=actor, note="branding removed"
            )
    return bool(deleted)


# Reads for the outputs -------------------------------------------------------------------------------------------


def branding_of(account: AdAccount) -> AccountBranding | None:
    """The account's branding, or None (no query when `select_related("branding")` already looked)."""
    try:
        return account.branding
    except ObjectDoesNotExist:
        return None


def logo_url(branding: AccountBranding) -> str:
    return reverse("branding:logo", args=[branding.logo_sha256]) if branding.logo_sha256 else ""


def theme_url(branding: AccountBranding) -> str:
    """The stylesheet that puts the accent on the page (the CSP allows no inline style): its URL names the
    colours, so it is the same file for every account that chose them and cacheable for ever."""
    if not branding.accent_color:
        return ""
    return reverse("branding:theme", args=[branding.accent_color.removeprefix("#"), branding.accent_text])


def branding_state(branding: AccountBranding | None) -> tuple:
    """Every field that changes what the branded outputs show (the logo by its hash), for cache keys."""
    if branding is None:
        return ()
    return tuple(
        (field.attname, getattr(branding, field.attname))
        for field in branding._meta.concrete_fields
        if field.attname not in ("logo_png", "updated_by_id")
    )


def _common(branding: AccountBranding) -> dict:
    accent = branding.accent_color
    return {
        "name": branding.display_name,
        "footer": branding.footer_text,
        "accent": accent,
        "accent_text": branding.accent_text_hex,
        # The band at the top of a PDF or email: the accent with its checked text colour, else a light grey.
        "band_background": accent or "#f0f3f7",
        "band_ink": branding.accent_text_hex if accent else "#1b2430",
        # The email's button: the accent, else Closeout's blue.
        "button_background": accent or "#1f4fd1",
        "button_ink": branding.accent_text_hex if accent else "#ffffff",
        "logo_width": branding.logo_width,
        "logo_height": branding.logo_height,
    }


def branding_for_page(branding: AccountBranding | None) -> dict | None:
    """What the shared page's header and footer show (None: Closeout's own)."""
    if branding is None:
        return None
    return {**_common(branding), "logo_url": logo_url(branding), "theme_url": theme_url(branding)}


def _logo_bytes(branding: AccountBranding) -> bytes:
    if not branding.logo_sha256:
        return b""
    if "logo_png" in branding.get_deferred_fields():
        branding.refresh_from_db(fields=["logo_png"])
    return bytes(branding.logo_png)


def branding_for_pdf(*, account_id: int) -> dict | None:
    """The PDF's branding, the logo as a data: URI (WeasyPrint fetches nothing over the network)."""
    branding = AccountBranding.objects.filter(account_id=account_id).first()
    if branding is None:
        return None
    png = _logo_bytes(branding)
    uri = "data:image/png;base64," + base64.b64encode(png).decode("ascii") if png else ""
    return {**_common(branding), "logo_uri": uri}


LOGO_CID = "brand-logo@closeout"


class EmailWithInlineImages(EmailMultiAlternatives):
    """An email whose HTML body shows images carried in the message itself: each (png, cid) of `inline_images`
    goes into a multipart/related part beside the HTML (`Content-ID`, `Content-Disposition: inline`), which mail
    clients show without fetching anything (and without the "load remote images?" question)."""

    inline_images: tuple[tuple[bytes, str], ...] = ()

    def message(self, *, policy=email.policy.default):
        msg = super().message(policy=policy)
        if self.inline_images:
            html = next((p for p in msg.walk() if p.get_content_type() == "text/html"), None)
            if html is not None:
                for content, cid in self.inline_images:
                    html.add_related(
                        content,
                        maintype="image",
                        subtype="png",
                        cid=f"<{cid}>",
                        disposition="inline",
                        filename="logo.png",
                    )
        return msg


def branding_for_email(*, account_id: int) -> tuple[dict | None, bytes]:
    """The email's branding and the logo's PNG (attached inline as `cid:LOGO_CID`; b"" without a logo)."""
    branding = AccountBranding.objects.filter(account_id=account_id).first()
    if branding is None:
        return None, b""
    png = _logo_bytes(branding)
    return {**_common(branding), "logo_cid": LOGO_CID if png else ""}, png
