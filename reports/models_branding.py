"""An account's branding on what leaves Closeout (issue 18): the shared report page, the share links' PDFs and the
report emails carry the account's display name, logo, accent colour and footer; Closeout's own screens do not.

The logo is stored re-encoded (`reports.services.branding.logo_prepare`: PNG, JPEG or WebP in, a fresh PNG out,
no metadata) in the database, like the stored PDFs: every web and worker host reads the same bytes without a
shared media volume, a logo is small (at most `LOGO_MAX_SIDE` pixels a side), and it is read only when its
content-hashed URL is first fetched (browsers then keep it) or a PDF or email is made."""

from django.conf import settings
from django.db import models

from campaigns.models import AdAccount


class AccentText(models.TextChoices):
    """The colour of text written on the accent colour (the page's header band, its buttons, the email's)."""

    LIGHT = "light", "White text"
    DARK = "dark", "Dark text"


ACCENT_TEXT_HEX = {AccentText.LIGHT: "#ffffff", AccentText.DARK: "#1b2430"}


class AccountBranding(models.Model):
    """One account's branding. Written only by `reports.services.branding.account_branding_save` (the branding
    page and the admin), which checks the accent's contrast and audits every change (`DeliveryEvent`)."""

    account = models.OneToOneField(AdAccount, on_delete=models.CASCADE, related_name="branding")
    display_name = models.CharField(max_length=80, help_text="Shown instead of Closeout on shared reports.")
    accent_color = models.CharField(max_length=7, blank=True, help_text="#rrggbb; empty: Closeout's colours.")
    accent_text = models.CharField(max_length=5, choices=AccentText.choices, default=AccentText.LIGHT)
    footer_text = models.CharField(max_length=300, blank=True)
    # The re-encoded PNG (never the uploaded file) and the SHA-256 of those bytes, which names its URL.
    logo_png = models.BinaryField(blank=True, default=b"", editable=False)
    logo_sha256 = models.CharField(max_length=64, blank=True, db_index=True, editable=False)
    logo_width = models.PositiveIntegerField(null=True, blank=True, editable=False)
    logo_height = models.PositiveIntegerField(null=True, blank=True, editable=False)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        verbose_name = "account branding"
        verbose_name_plural = "account branding"

    def __str__(self) -> str:
        return f"Branding of {self.account_id}: {self.display_name}"

    @property
    def has_logo(self) -> bool:
        return bool(self.logo_sha256)

    @property
    def accent_text_hex(self) -> str:
        return ACCENT_TEXT_HEX[AccentText(self.accent_text)]
