"""Post-close reports: a frozen snapshot per ended campaign, plus the team's lessons learned.

`CloseReport.snapshot` is written once by `reports.services.reports_create` and never changed afterwards; the
scalar columns copy a few of its figures so the reports index and the account comparison can filter, sort and
rank without reading JSON. Lessons are editable and kept as an append-only list of revisions."""

from django.conf import settings
from django.db import models

from campaigns.models import AdAccount, Campaign, EndReason, Objective


class CloseReport(models.Model):
    campaign = models.OneToOneField(Campaign, on_delete=models.CASCADE, related_name="close_report")
    account = models.ForeignKey(AdAccount, on_delete=models.CASCADE, related_name="close_reports")
    campaign_name = models.CharField(max_length=255)
    objective = models.CharField(max_length=30, choices=Objective.choices)
    ended_at = models.DateTimeField()
    end_reason = models.CharField(max_length=30, choices=EndReason.choices, blank=True)
    ended_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    # Copies of frozen figures, for the index and the comparison (never recomputed).
    spend = models.DecimalField(max_digits=14, decimal_places=2)
    impressions = models.PositiveBigIntegerField()
    video_views = models.PositiveBigIntegerField()
    followers = models.PositiveBigIntegerField()
    engagement_rate = models.DecimalField(max_digits=9, decimal_places=4, null=True, blank=True, help_text="Percent.")
    ctr = models.DecimalField(max_digits=9, decimal_places=4, null=True, blank=True, help_text="Percent.")
    cpm = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True)
    cost_per_view = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True)

    # Frozen without all of the platform's final numbers (its final pull kept failing past
    # REPORT_FINAL_PULL_MAX_WAIT_HOURS): the report says "incomplete: numbers up to <numbers_through>".
    numbers_incomplete = models.BooleanField(default=False)
    numbers_through = models.DateField(null=True, blank=True)

    # The final word (issue 15 §4): the platform's numbers re-pulled CLOSEOUT_FINAL_AFTER_DAYS after the end, when
    # late attribution has settled; shown beside the frozen figures, which never change.
    final_at = models.DateTimeField(null=True, blank=True)
    final_totals = models.JSONField(null=True, blank=True)
    final_tried_at = models.DateTimeField(null=True, blank=True)
    final_error = models.TextField(blank=True)

    # When a note of the campaign last changed after the freeze (issue 18: `services.report_timeline_changed`):
    # the report shows notes added after close, so the cached body and shared page are keyed by it.
    timeline_changed_at = models.DateTimeField(null=True, blank=True)

    snapshot = models.JSONField()
    # What the snapshot holds (`reports.metrics.SNAPSHOT_VERSION` when it was frozen; set by `reports_create`).
    snapshot_version = models.PositiveSmallIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-ended_at", "-id"]
        indexes = [
            models.Index(fields=["account", "-ended_at"], name="closereport_account_ended"),
            models.Index(fields=["ended_at"], name="closereport_ended_at"),
            models.Index(fields=["end_reason"], name="closereport_end_reason"),
            models.Index(fields=["objective"], name="closereport_objective"),
            models.Index(fields=["spend"], name="closereport_spend"),
            models.Index(fields=["video_views"], name="closereport_video_views"),
            models.Index(fields=["engagement_rate"], name="closereport_engagement_rate"),
            models.Index(fields=["followers"], name="closereport_followers"),
        ]

    def __str__(self) -> str:
        return f"Report: {self.campaign_name}"


class CloseReportWait(models.Model):
    """A connected campaign's close report waiting for its final numbers: its final pull (the whole life, from the
    platform) has not completed yet. Shown on the report page and the campaign page; tried again at
    `next_try_at` with backoff; after REPORT_FINAL_PULL_MAX_WAIT_HOURS from `since` the report is frozen marked
    incomplete. Deleted when the report is frozen."""

    campaign = models.OneToOneField(Campaign, on_delete=models.CASCADE, related_name="close_report_wait")
    since = models.DateTimeField()
    attempts = models.PositiveIntegerField(default=0)
    last_tried_at = models.DateTimeField(null=True, blank=True)
    next_try_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    # The last day the platform's numbers are stored for at every level (None: not even the first day).
    numbers_through = models.DateField(null=True, blank=True)

    def __str__(self) -> str:
        return f"Report of campaign {self.campaign_id} waiting since {self.since:%Y-%m-%d %H:%M}"


class PdfAudience(models.TextChoices):
    """Who a stored PDF is for: what it may show follows what that audience's page shows (issue 16)."""

    TEAM = "team", "The team (who ended it, the end note, lessons, benchmark, feedback)"
    PUBLIC = "public", "A share link without team notes"
    PUBLIC_NOTES = "public_notes", "A share link with team notes (who ended it, the end note, lessons)"


class ReportPdf(models.Model):
    """A report's PDF for one audience (`PdfAudience`), rendered once and stored. A background task renders the
    team's and the share links' after the snapshot (`reports.tasks.report_pdfs_render`), so the first download
    does not wait for WeasyPrint (6–10 s for a year-long campaign); a download before that, or after what the PDF
    shows changed (lessons, feedback, the benchmark), renders and stores it itself. Stored in the database, so
    every web and worker host shares it. `version` names the snapshot format, the PDF layout and a digest of what
    the file shows (`reports.services.pdf_store`); a file of another version is rendered again."""

    report = models.ForeignKey(CloseReport, on_delete=models.CASCADE, related_name="stored_pdfs")
    audience = models.CharField(max_length=20, choices=PdfAudience.choices, default=PdfAudience.TEAM)
    version = models.CharField(max_length=64)
    content = models.BinaryField()
    rendered_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "report PDF"
        verbose_name_plural = "report PDFs"
        constraints = [models.UniqueConstraint(fields=["report", "audience"], name="reportpdf_one_per_audience")]

    def __str__(self) -> str:
        return f"PDF of report {self.report_id} for {self.audience} (v{self.version})"


class LessonRevision(models.Model):
    """One saved version of a report's lessons learned. The newest row is the current text; older rows are
    the history. Rows are only ever added."""

    report = models.ForeignKey(CloseReport, on_delete=models.CASCADE, related_name="lesson_revisions")
    what_worked = models.TextField(blank=True, max_length=5000)
    what_to_change = models.TextField(blank=True, max_length=5000)
    next_steps = models.TextField(blank=True, max_length=5000)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["report", "-created_at"], name="lessonrevision_report_created")]

    def __str__(self) -> str:
        return f"Lessons for report {self.report_id} ({self.created_at:%Y-%m-%d %H:%M})"

    @property
    def is_empty(self) -> bool:
        return not (self.what_worked.strip() or self.what_to_change.strip() or self.next_steps.strip())


# --- Sharing and feedback (issue 5) ---


class FeedbackRole(models.TextChoices):
    PARTICIPANT = "participant", "Participant"
    INFLUENCER = "influencer", "Influencer"
    STAKEHOLDER = "stakeholder", "Stakeholder"
    TEAM_MEMBER = "team_member", "Team member"


class ShareLink(models.Model):
    """A secret link to one report for people without an account. Only the sha256 of the secret is stored, so a
    database dump reveals no working link; the full URL is shown once, when created or rotated.

    `changed_at` moves whenever what the public page shows could change (rotate, revoke, settings); it feeds the
    page's ETag and Last-Modified. View counting never touches it."""

    report = models.ForeignKey(CloseReport, on_delete=models.CASCADE, related_name="share_links")
    label = models.CharField(max_length=120, help_text="Who the link is for.")
    secret_hash = models.CharField(max_length=64, unique=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    password_hash = models.CharField(max_length=128, blank=True)
    allow_feedback = models.BooleanField(default=True)
    show_team_notes = models.BooleanField(default=False, help_text="Show the lessons learned on the shared page.")
    feedback_role = models.CharField(
        max_length=20, choices=FeedbackRole.choices, blank=True, help_text="Set when created to request feedback."
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    changed_at = models.DateTimeField()
    rotated_at = models.DateTimeField(null=True, blank=True)
    rotated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    view_count = models.PositiveIntegerField(default=0)
    last_viewed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["report", "-created_at"], name="sharelink_report_created")]

    def __str__(self) -> str:
        return f"{self.label} ({self.report.campaign_name})"

    def is_active(self, now) -> bool:
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)

    @property
    def has_password(self) -> bool:
        return bool(self.password_hash)


class ShareLinkEventKind(models.TextChoices):
    CREATED = "created", "Created"
    ROTATED = "rotated", "Rotated"
    REVOKED = "revoked", "Revoked"
    INVITED = "invited", "Invitations sent"


class ShareLinkEvent(models.Model):
    """Audit trail of a share link: who did what, when. Rows are only ever added."""

    link = models.ForeignKey(ShareLink, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=20, choices=ShareLinkEventKind.choices)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    note = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} · {self.created_at:%Y-%m-%d %H:%M}"


class ShareLinkView(models.Model):
    """One view of a shared page: when, and a coarse browser family ("Chrome on Android"). No IP is stored."""

    link = models.ForeignKey(ShareLink, on_delete=models.CASCADE, related_name="views")
    viewed_at = models.DateTimeField()
    agent = models.CharField(max_length=60, blank=True)

    class Meta:
        indexes = [models.Index(fields=["link", "-viewed_at"], name="sharelinkview_link_viewed")]

    def __str__(self) -> str:
        return f"{self.agent or 'Unknown'} · {self.viewed_at:%Y-%m-%d %H:%M}"


class Feedback(models.Model):
    """Feedback on a report, from a shared page (`link` set) or from a member on the internal page (`author` set).
    Moderators hide it (`hidden_at`); it is never deleted from here."""

    report = models.ForeignKey(CloseReport, on_delete=models.CASCADE, related_name="feedback")
    link = models.ForeignKey(ShareLink, on_delete=models.SET_NULL, null=True, blank=True, related_name="feedback")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    role = models.CharField(max_length=20, choices=FeedbackRole.choices)
    name = models.CharField(max_length=80, blank=True)
    rating = models.PositiveSmallIntegerField()
    what_worked = models.TextField(max_length=2000, blank=True)
    what_to_improve = models.TextField(max_length=2000, blank=True)
    would_take_part_again = models.BooleanField()
    comment = models.TextField(max_length=2000, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    hidden_at = models.DateTimeField(null=True, blank=True)
    hidden_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["report", "-created_at"], name="feedback_report_created")]
        constraints = [
            models.CheckConstraint(condition=models.Q(rating__gte=1, rating__lte=5), name="feedback_rating_1_5"),
        ]
        verbose_name_plural = "feedback"

    def __str__(self) -> str:
        return f"{self.get_role_display()} · {self.rating}/5 · {self.created_at:%Y-%m-%d}"

    @property
    def has_text(self) -> bool:
        return bool(self.what_worked or self.what_to_improve or self.comment)


# --- Delivery to stakeholders (issue 18) ---


class RecipientRole(models.TextChoices):
    """Who a report email is for; the same values as `FeedbackRole`, so the personal link asks for feedback in
    that role."""

    STAKEHOLDER = FeedbackRole.STAKEHOLDER.value, "Stakeholder"
    PARTICIPANT = FeedbackRole.PARTICIPANT.value, "Participant"
    INFLUENCER = FeedbackRole.INFLUENCER.value, "Influencer"


class AccountRecipient(models.Model):
    """A default recipient of an account's close reports: every new report of the account is mailed to them (the
    report's own list starts from these; see `ReportRecipient`)."""

    account = models.ForeignKey(AdAccount, on_delete=models.CASCADE, related_name="report_recipients")
    email = models.EmailField()
    name = models.CharField(max_length=120, blank=True)
    role = models.CharField(max_length=20, choices=RecipientRole.choices, default=RecipientRole.STAKEHOLDER)
    unsubscribed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["email"]
        constraints = [models.UniqueConstraint(fields=["account", "email"], name="accountrecipient_unique_email")]

    def __str__(self) -> str:
        return f"{self.email} ({self.get_role_display()})"


class ReportRecipient(models.Model):
    """One person a report is mailed to: copied from the account's defaults when the report is delivered, or added
    for this report alone. Each has a personal share link (made at their first email), so views and feedback are
    theirs and revoking one leaves the others working. `link_sealed` is that link's secret encrypted with a key
    derived from SECRET_KEY (as feedback invitations are in the task queue): a later email (the final report, a
    resend) carries the same link, and a database dump alone still holds no working link."""

    report = models.ForeignKey(CloseReport, on_delete=models.CASCADE, related_name="recipients")
    email = models.EmailField()
    name = models.CharField(max_length=120, blank=True)
    role = models.CharField(max_length=20, choices=RecipientRole.choices, default=RecipientRole.STAKEHOLDER)
    from_account = models.BooleanField(default=False, help_text="Copied from the account's default recipients.")
    link = models.OneToOneField(ShareLink, on_delete=models.SET_NULL, null=True, blank=True, related_name="recipient")
    link_sealed = models.TextField(blank=True)
    removed_at = models.DateTimeField(null=True, blank=True)
    unsubscribed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["email"]
        constraints = [models.UniqueConstraint(fields=["report", "email"], name="reportrecipient_unique_email")]

    def __str__(self) -> str:
        return f"{self.email} · report {self.report_id}"

    @property
    def display_name(self) -> str:
        return self.name or self.email


class DeliveryState(models.TextChoices):
    PENDING = "pending", "Queued"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"
    BOUNCED = "bounced", "Bounced"
    SKIPPED = "skipped", "Not sent"


class ReportDelivery(models.Model):
    """One email of a report to one recipient on one occasion ("close", "final", "manual-1", …). The unique
    (recipient, occasion) and the conditional claim (`pending`/`failed` → `sending`) make a retried or doubled
    task send it at most once."""

    report = models.ForeignKey(CloseReport, on_delete=models.CASCADE, related_name="deliveries")
    recipient = models.ForeignKey(ReportRecipient, on_delete=models.CASCADE, related_name="deliveries")
    occasion = models.CharField(max_length=20)
    state = models.CharField(max_length=10, choices=DeliveryState.choices, default=DeliveryState.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    error = models.CharField(max_length=255, blank=True)
    pdf_attached = models.BooleanField(null=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["recipient", "occasion"], name="reportdelivery_once_per_occasion")
        ]
        indexes = [models.Index(fields=["report", "-created_at"], name="reportdelivery_report_created")]
        verbose_name_plural = "report deliveries"

    def __str__(self) -> str:
        return f"{self.occasion} → {self.recipient_id}: {self.state}"

    @property
    def occasion_label(self) -> str:
        if self.occasion.startswith("manual-"):
            return f"Sent by hand (#{self.occasion.removeprefix('manual-')})"
        return {"close": "At close", "final": "Final report"}.get(self.occasion, self.occasion)


class DeliveryEventKind(models.TextChoices):
    RECIPIENT_ADDED = "recipient_added", "Recipient added"
    RECIPIENT_REMOVED = "recipient_removed", "Recipient removed"
    QUEUED = "queued", "Emails queued"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"
    RETRIED = "retried", "Retry queued"
    BOUNCED = "bounced", "Bounced"
    UNSUBSCRIBED = "unsubscribed", "Unsubscribed"
    BRANDING = "branding", "Branding changed"


class DeliveryEvent(models.Model):
    """Audit trail of report delivery: recipient list changes (an account's or a report's), sends, failures,
    bounces and unsubscribes. Rows are only ever added."""

    account = models.ForeignKey(AdAccount, on_delete=models.CASCADE, related_name="+")
    report = models.ForeignKey(CloseReport, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    email = models.EmailField(blank=True)
    kind = models.CharField(max_length=20, choices=DeliveryEventKind.choices)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    note = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["account", "-created_at"], name="deliveryevent_account_created")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} · {self.email} · {self.created_at:%Y-%m-%d %H:%M}"


# --- Branding of what leaves Closeout (issue 18): its own module, one model ---
from .models_branding import AccentText, AccountBranding  # noqa: E402, F401
