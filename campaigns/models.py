"""Closeout's domain: ad accounts, their members, campaigns, content, daily metrics and the audit trail.

Models hold fields, constraints and small derived properties. Every state change goes through
`campaigns.services`; nothing here changes another row.
"""

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import F, Q

# Models kept in modules of their own (this one is long enough), imported here so Django finds them; they name
# this module's models by string ("campaigns.Campaign"), so importing them first is safe.
from .models_annotations import ANNOTATION_TEXT_MAX, Annotation  # noqa: F401
from .models_pull import MetricPull, PullKind, PullState, RateBucket  # noqa: F401
from .models_rules import (  # noqa: F401
    Rule,
    RuleAction,
    RuleCondition,
    RuleEpisode,
    RuleLogEntry,
    RuleLogKind,
    RuleScope,
)


class Role(models.TextChoices):
    """A member's role in one account. Each role can do everything the ones before it can."""

    VIEWER = "viewer", "Viewer"
    EDITOR = "editor", "Editor"
    MANAGER = "manager", "Manager"

    @property
    def rank(self) -> int:
        return ROLE_RANK[self.value]

    def allows(self, required: "Role") -> bool:
        return ROLE_RANK[self.value] >= ROLE_RANK[Role(required).value]


MAX_ID = 2**63 - 1  # larger ids cannot be in the database; SQLite raises OverflowError on them in `pk__in`
ROLE_RANK = {Role.VIEWER: 1, Role.EDITOR: 2, Role.MANAGER: 3}


class Platform(models.TextChoices):
    TIKTOK = "tiktok", "TikTok"


class Connector(models.TextChoices):
    NONE = "none", "None (manual: changes apply in Closeout only)"
    TIKTOK = "tiktok", "TikTok Marketing API"


class RightsExpiryAction(models.TextChoices):
    """What Closeout does when a content item's usage rights expire (issue 17, `services.content_rights`)."""

    PAUSE = "pause", "Pause the campaign when it was its only live content"
    NOTIFY = "notify", "Notify only"


# The warning lead times a manager chooses from (days before a content item's usage rights expire). A short list,
# so the home page's "rights expiring" line stays one ORM condition (one OR per choice) on every database.
RIGHTS_WARN_DAYS_CHOICES = [(n, f"{n} day" + ("" if n == 1 else "s")) for n in (1, 2, 3, 5, 7, 10, 14, 21, 30)]


class AdAccount(models.Model):
    name = models.CharField(max_length=200)
    platform = models.CharField(max_length=20, choices=Platform.choices, default=Platform.TIKTOK)
    advertiser_id = models.CharField(
        max_length=64, blank=True, help_text="The advertiser id on the platform (a string of digits)."
    )
    currency = models.CharField(max_length=3, default="USD")
    timezone = models.CharField(max_length=64, default="UTC", help_text="IANA name, e.g. Europe/Berlin.")
    connector = models.CharField(max_length=20, choices=Connector.choices, default=Connector.NONE)
    # The token itself never lives in the database: this names the environment variable that holds it.
    access_token_env = models.CharField(max_length=100, blank=True)
    api_base_url = models.URLField(blank=True, help_text="Leave blank for TikTok's production API.")
    needs_reconnect = models.BooleanField(default=False)
    last_synced_at = models.DateTimeField(null=True, blank=True)
    sync_error = models.TextField(blank=True)
    # sha256 of the secret in the account's ICS feed URL; blank when no feed is published.
    ics_token_hash = models.CharField(max_length=64, blank=True, db_index=True)
    final_after_days = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        help_text="Days after an end to pull the final numbers (late attribution); empty: CLOSEOUT_FINAL_AFTER_DAYS.",
    )
    rights_expiry_action = models.CharField(
        "at content-rights expiry",
        max_length=10,
        choices=RightsExpiryAction.choices,
        default=RightsExpiryAction.PAUSE,
        help_text="Pausing applies to connected accounts only; a manual account is always told instead.",
    )
    rights_warn_days = models.PositiveSmallIntegerField(
        "warn before rights expire",
        choices=RIGHTS_WARN_DAYS_CHOICES,
        default=3,
        help_text="Owners and managers are told this many days before a content item's usage rights expire.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_connected(self) -> bool:
        return self.connector != Connector.NONE


class Membership(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    account = models.ForeignKey(AdAccount, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.VIEWER)
    notify_all = models.BooleanField(
        default=False, help_text="Notify me of every status change in this account, not only watched campaigns."
    )
    notify_email = models.BooleanField(default=True, help_text="Also send my notifications by email.")
    # Whom a status change tells by default (issue 16): None follows the role (`NOTIFY_DEFAULTS`); True or False
    # is the member's own choice on the preferences page.
    notify_ends = models.BooleanField(
        null=True, blank=True, help_text="Tell me about every end in this account (empty: my role's default)."
    )
    notify_pauses = models.BooleanField(
        null=True, blank=True, help_text="Tell me about every pause and resume here (empty: my role's default)."
    )

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "account"], name="membership_unique_user_account")]

    def __str__(self) -> str:
        return f"{self.user} · {self.account} ({self.role})"

    def follows(self, kind: str) -> bool:
        """Whether this member hears about every status change of `kind` ("ends" or "pauses") in the account
        (`membership_follows`)."""
        return membership_follows(
            kind, role=self.role, notify_all=self.notify_all, chosen=getattr(self, f"notify_{kind}")
        )


# Who hears about every status change of a kind in their account unless they chose otherwise: an end tells every
# editor and manager (the wind-down needs them), a pause or resume the managers (besides owner and watchers).
NOTIFY_DEFAULT_ROLE = {"ends": Role.EDITOR, "pauses": Role.MANAGER}


def membership_follows(kind: str, *, role: str, notify_all: bool, chosen: bool | None) -> bool:
    """A member's answer to "tell me about every <kind> in this account": every change if `notify_all`, else their
    own choice (`chosen`, the membership's `notify_<kind>`), else their role's default (`NOTIFY_DEFAULT_ROLE`)."""
    if notify_all:
        return True
    return Role(role).allows(NOTIFY_DEFAULT_ROLE[kind]) if chosen is None else chosen


class Status(models.TextChoices):
    ACTIVE = "active", "Active"
    PAUSED = "paused", "Paused"
    ENDED = "ended", "Ended"


class SyncState(models.TextChoices):
    """Whether the platform has caught up with the status Closeout recorded."""

    SYNCED = "synced", "In sync"
    PENDING = "pending", "Awaiting platform"
    FAILED = "failed", "Sync failed"


class Objective(models.TextChoices):
    REACH = "reach", "Reach"
    TRAFFIC = "traffic", "Traffic"
    VIDEO_VIEWS = "video_views", "Video views"
    ENGAGEMENT = "engagement", "Community / engagement"
    LEAD_GENERATION = "lead_generation", "Lead generation"
    APP_PROMOTION = "app_promotion", "App promotion"
    WEB_CONVERSIONS = "web_conversions", "Website conversions"
    PRODUCT_SALES = "product_sales", "Product sales"


# The metric that counts as "one result" for each objective (cost per result = spend / that metric).
OBJECTIVE_RESULT_METRIC = {
    Objective.REACH: "reach",
    Objective.TRAFFIC: "clicks",
    Objective.VIDEO_VIEWS: "video_views",
    Objective.ENGAGEMENT: "follows",
    Objective.LEAD_GENERATION: "clicks",
    Objective.APP_PROMOTION: "clicks",
    Objective.WEB_CONVERSIONS: "clicks",
    Objective.PRODUCT_SALES: "clicks",
}


class BudgetMode(models.TextChoices):
    DAILY = "daily", "Daily"
    LIFETIME = "lifetime", "Lifetime"


class EndReason(models.TextChoices):
    STRATEGY_CHANGE = "strategy_change", "Change in marketing strategy"
    BUDGET_CONSTRAINTS = "budget_constraints", "Budget constraints"
    UNFORESEEN = "unforeseen", "Unforeseen circumstances"
    LEGAL_ETHICAL = "legal_ethical", "Legal or ethical concern"
    TECHNICAL_ISSUE = "technical_issue", "Technical issue"
    OBJECTIVES_MET = "objectives_met", "Objectives met"
    OTHER = "other", "Other"


METRIC_FIELDS = (
    "spend",
    "impressions",
    "reach",
    "clicks",
    "video_views",
    "likes",
    "comments",
    "shares",
    "follows",
    "profile_visits",
)
COUNT_METRIC_FIELDS = METRIC_FIELDS[1:]


# --- home page "needs attention" (issue 16) ---
# What the home asks of campaigns. Each is the condition of a small partial index (Campaign.Meta.indexes) and the
# filter `selectors_home` reads it with: the same Q, so SQLite and PostgreSQL both see that the index applies.
ATTENTION_STILL_DELIVERING = Q(still_delivering_since__isnull=False)
ATTENTION_SYNC_FAILED = Q(sync_state="failed")
# Ended with checklist steps open (or never started); 7 is WINDDOWN_STEP_COUNT (defined below, checked by a test).
ATTENTION_WINDDOWN_OPEN = Q(status="ended") & (Q(winddown_done__isnull=True) | Q(winddown_done__lt=7))
# Active, with 90 % or more of a lifetime budget spent (a daily budget starts again every day).
# Live content with a usage-rights end date (issue 17): "live" is the state's stored value.
ATTENTION_RIGHTS = Q(rights_expire_on__isnull=False, state="live")
ATTENTION_BUDGET_NEARLY_SPENT = Q(status="active", budget_mode="lifetime", total_spend__gte=F("budget_amount") * 0.9)


class Campaign(models.Model):
    # No index of its own: campaign_list_summary (account, status, …) serves every account filter, and each index
    # is paid by every bulk END (issue 19; migration 0020).
    account = models.ForeignKey(AdAccount, on_delete=models.PROTECT, related_name="campaigns", db_index=False)
    platform_id = models.CharField(max_length=64, blank=True, help_text="The campaign id on the platform.")
    name = models.CharField(max_length=255)
    objective = models.CharField(max_length=30, choices=Objective.choices, default=Objective.VIDEO_VIEWS)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)

    # Platform sync: `status` is what the team decided; `sync_state` says whether the platform has confirmed it.
    sync_state = models.CharField(max_length=10, choices=SyncState.choices, default=SyncState.SYNCED)
    sync_error = models.TextField(blank=True)
    sync_attempts = models.PositiveSmallIntegerField(default=0)
    sync_requested_at = models.DateTimeField(null=True, blank=True)
    delete_on_platform = models.BooleanField(default=False)
    platform_status = models.CharField(max_length=40, blank=True)
    still_delivering_since = models.DateField(
        null=True, blank=True, help_text="Set when metrics show delivery after the end (beyond the grace period)."
    )

    budget_mode = models.CharField(max_length=10, choices=BudgetMode.choices, default=BudgetMode.DAILY)
    budget_amount = models.DecimalField(max_digits=14, decimal_places=2, default=Decimal("0"))
    start_date = models.DateField()
    end_date = models.DateField(null=True, blank=True)
    audience = models.TextField(blank=True)

    target_views = models.PositiveBigIntegerField(null=True, blank=True)
    target_reach = models.PositiveBigIntegerField(null=True, blank=True)
    target_clicks = models.PositiveBigIntegerField(null=True, blank=True)
    target_followers = models.PositiveBigIntegerField(null=True, blank=True)
    target_engagement_rate = models.DecimalField(
        max_digits=6, decimal_places=2, null=True, blank=True, help_text="Percent, e.g. 4.50."
    )
    target_cost_per_result = models.DecimalField(max_digits=12, decimal_places=4, null=True, blank=True)

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    # Denormalised for the list page: written by the status service in the same UPDATE as the status.
    status_changed_at = models.DateTimeField(null=True, blank=True)
    status_changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    ended_at = models.DateTimeField(null=True, blank=True)
    end_reason = models.CharField(max_length=30, choices=EndReason.choices, blank=True)

    # Totals of the campaign-level daily metrics, maintained whenever metrics are written
    # (`services.campaign_totals_refresh`), so lists can sort and sum without touching DailyMetric.
    total_spend = models.DecimalField(max_digits=14, decimal_places=2, default=Decimal("0"))
    total_impressions = models.PositiveBigIntegerField(default=0)
    total_reach = models.PositiveBigIntegerField(default=0)
    total_clicks = models.PositiveBigIntegerField(default=0)
    total_video_views = models.PositiveBigIntegerField(default=0)
    total_likes = models.PositiveBigIntegerField(default=0)
    total_comments = models.PositiveBigIntegerField(default=0)
    total_shares = models.PositiveBigIntegerField(default=0)
    total_follows = models.PositiveBigIntegerField(default=0)
    total_profile_visits = models.PositiveBigIntegerField(default=0)
    last_metric_date = models.DateField(null=True, blank=True)

    # Wind-down checklist progress (steps done of WINDDOWN_STEP_COUNT); null until the campaign has ended.
    winddown_done = models.PositiveSmallIntegerField(null=True, blank=True)

    # Created by an import from a row naming a campaign Closeout did not know: its budget and plan are unknown
    # (budget 0 is allowed only then) until a manager fills them in (issue 16).
    needs_details = models.BooleanField(default=False)

    # --- planned from an ended campaign (issue 18) ---
    # `plan` is what `reports.services.plan_next` carried over when it was created (lessons, best weekdays and
    # content kinds, how each suggested target was derived), frozen then; shown on the campaign page.
    planned_from = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="planned_next", db_index=False
    )  # indexed only where set (campaign_planned_from, partial): most campaigns were not planned from another
    plan = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "platform_id"],
                condition=~Q(platform_id=""),
                name="campaign_unique_platform_id_per_account",
            ),
            models.CheckConstraint(condition=Q(budget_amount__gte=0), name="campaign_budget_not_negative"),
            # --- campaign data validated (issue 16) ---
            # A budget is more than nothing, except while an imported campaign waits for its details, or when the
            # platform owns the campaign (a platform id) and sets no budget at campaign level (TikTok's
            # BUDGET_MODE_INFINITE reads 0).
            models.CheckConstraint(
                condition=Q(budget_amount__gt=0) | Q(needs_details=True) | ~Q(platform_id=""),
                name="campaign_budget_positive",
                violation_error_message="The budget must be more than 0.",
            ),
            models.CheckConstraint(
                condition=Q(target_engagement_rate__gte=0, target_engagement_rate__lte=100),
                name="campaign_target_engagement_rate_percent",
                violation_error_message="An engagement rate target is a percentage from 0 to 100.",
            ),
            models.CheckConstraint(
                condition=Q(target_cost_per_result__gte=0),
                name="campaign_target_cost_per_result_not_negative",
                violation_error_message="A cost per result target cannot be negative.",
            ),
            *(
                models.CheckConstraint(
                    condition=Q(**{f"{field}__gt": 0}),
                    name=f"campaign_{field}_positive",
                    violation_error_message="A target must be more than 0.",
                )
                for field in ("target_views", "target_reach", "target_clicks", "target_followers")
            ),
        ]
        indexes = [
            models.Index(fields=["status", "-id"], name="campaign_status_id"),
            models.Index(fields=["name"], name="campaign_name"),
            models.Index(fields=["total_spend"], name="campaign_total_spend"),
            models.Index(fields=["start_date"], name="campaign_start_date"),
            models.Index(fields=["end_date"], name="campaign_end_date"),
            models.Index(fields=["sync_state"], name="campaign_sync_state"),
            # --- list performance (issue 9) ---
            # Covers the list's GROUP BY status summary (tab counts, footer totals): answered from the index.
            models.Index(
                fields=["account", "status", "total_spend", "total_video_views", "total_follows"],
                name="campaign_list_summary",
            ),
            # Sortable list columns, with the list's `id` tiebreak.
            models.Index(fields=["total_video_views", "id"], name="campaign_total_views_id"),
            models.Index(fields=["total_follows", "id"], name="campaign_total_follows_id"),
            models.Index(fields=["budget_amount", "id"], name="campaign_budget_id"),
            models.Index(fields=["status_changed_at", "id"], name="campaign_status_changed_id"),
            models.Index(fields=["winddown_done", "id"], name="campaign_winddown_id"),
            # Deep pages in the default order: the OFFSET walks this narrow index, account scope included.
            models.Index(fields=["id", "account"], name="campaign_id_account"),
            models.Index(
                fields=["planned_from"], condition=Q(planned_from__isnull=False), name="campaign_planned_from"
            ),
            # --- home page "needs attention" (issue 16): partial, so each holds only the rows a line reads. The
            # account and the condition's equality columns first: the planner then prefers them to the wide
            # (account, status) indexes, and its statistics show how few rows they hold.
            models.Index(
                fields=["account", "still_delivering_since"],
                condition=ATTENTION_STILL_DELIVERING,
                name="campaign_attn_delivering",
            ),
            models.Index(
                fields=["account", "sync_state"], condition=ATTENTION_SYNC_FAILED, name="campaign_attn_sync_failed"
            ),
            models.Index(
                fields=["account", "status", "ended_at"],
                condition=ATTENTION_WINDDOWN_OPEN,
                name="campaign_attn_winddown",
            ),
            # Oldest end first across many accounts: walked in ended_at order, the account read from the index.
            models.Index(
                fields=["ended_at", "account"], condition=ATTENTION_WINDDOWN_OPEN, name="campaign_attn_winddown_at"
            ),
            models.Index(
                fields=["account", "status", "budget_mode"],
                condition=ATTENTION_BUDGET_NEARLY_SPENT,
                name="campaign_attn_budget",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_ended(self) -> bool:
        return self.status == Status.ENDED

    @property
    def is_pending(self) -> bool:
        return self.sync_state == SyncState.PENDING

    @property
    def is_sync_failed(self) -> bool:
        return self.sync_state == SyncState.FAILED

    @property
    def display_status(self) -> str:
        """What a user should read: "Pausing…" while the platform has not confirmed a pause, and so on."""
        if self.sync_state == SyncState.PENDING:
            return {Status.ACTIVE: "Resuming…", Status.PAUSED: "Pausing…", Status.ENDED: "Ending…"}[self.status]
        if self.sync_state == SyncState.FAILED:
            return f"{self.get_status_display()} · sync failed"
        return self.get_status_display()

    def starts_later(self, today) -> bool:
        """Active, but its start date (a day of the account's calendar) is still ahead of `today`: scheduled to
        start, not delivering yet."""
        return self.status == Status.ACTIVE and self.start_date is not None and self.start_date > today

    def is_delivering(self, today) -> bool:
        """Active and started: what a pause would stop."""
        return self.status == Status.ACTIVE and not self.starts_later(today)

    @property
    def result_metric(self) -> str:
        return OBJECTIVE_RESULT_METRIC.get(self.objective, "video_views")

    @property
    def lifetime_budget(self) -> Decimal | None:
        """The total the campaign may spend: the lifetime budget, or daily budget × planned days."""
        if self.budget_mode == BudgetMode.LIFETIME:
            return self.budget_amount
        if self.end_date and self.start_date:
            days = (self.end_date - self.start_date).days + 1
            return self.budget_amount * max(days, 0)
        return None

    @property
    def budget_remaining(self) -> Decimal | None:
        total = self.lifetime_budget
        if total is None:
            return None
        return max(total - self.total_spend, Decimal("0"))


class ContentKind(models.TextChoices):
    VIDEO = "video", "Video"
    POST = "post", "Post"
    HASHTAG = "hashtag", "Hashtag"


class ContentState(models.TextChoices):
    LIVE = "live", "Live"
    REMOVED = "removed", "Removed"
    KEPT = "kept", "Kept (on purpose)"


class ContentItem(models.Model):
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="content_items")
    kind = models.CharField(max_length=10, choices=ContentKind.choices, default=ContentKind.VIDEO)
    title = models.CharField(max_length=255)
    url = models.URLField(max_length=500, blank=True)
    platform_id = models.CharField(max_length=64, blank=True, help_text="The ad id on the platform.")
    state = models.CharField(max_length=10, choices=ContentState.choices, default=ContentState.LIVE)
    state_note = models.CharField(max_length=500, blank=True)
    state_changed_at = models.DateTimeField(null=True, blank=True)
    state_changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # Usage rights / Spark Ads authorisation (issue 17): entered by people or an import, never by the connector
    # (the platform's API does not say). The two `*_for` dates record which expiry date Closeout already warned
    # about and acted on, so each happens once per date, and a changed date is warned about and acted on anew.
    rights_expire_on = models.DateField(
        "usage rights expire on",
        null=True,
        blank=True,
        help_text="The day the creator's usage rights (Spark Ads authorisation) end; empty: no end known.",
    )
    creator_name = models.CharField("creator", max_length=200, blank=True)
    rights_warned_for = models.DateField(null=True, blank=True, editable=False)
    rights_expired_for = models.DateField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        # The hourly expiry job and the home page's "rights expiring" line read live items with a date.
        indexes = [
            models.Index(fields=["rights_expire_on"], condition=ATTENTION_RIGHTS, name="contentitem_attn_rights")
        ]

    def __str__(self) -> str:
        return self.title

    # --- Safe links (issue 8) ---
    @property
    def link_url(self) -> str:
        """`url` if it is an http(s) address, else "": a `javascript:` or `data:` URL that came from the platform
        or an import must never be rendered as a clickable link."""
        return self.url if self.url.lower().startswith(("https://", "http://")) else ""


class DailyMetric(models.Model):
    """One day of delivery. Rows without a content item are the campaign's own totals for the day; rows with
    one are the per-content breakdown (they need not add up to the campaign row, the platform decides)."""

    # Not indexed alone: dailymetric_campaign_date (campaign, date) leads with it (migration 0022).
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="daily_metrics", db_index=False)
    content_item = models.ForeignKey(
        ContentItem, on_delete=models.CASCADE, null=True, blank=True, related_name="daily_metrics"
    )
    date = models.DateField()
    spend = models.DecimalField(max_digits=14, decimal_places=2, default=Decimal("0"))
    impressions = models.PositiveBigIntegerField(default=0)
    reach = models.PositiveBigIntegerField(default=0)
    clicks = models.PositiveBigIntegerField(default=0)
    video_views = models.PositiveBigIntegerField(default=0)
    likes = models.PositiveBigIntegerField(default=0)
    comments = models.PositiveBigIntegerField(default=0)
    shares = models.PositiveBigIntegerField(default=0)
    follows = models.PositiveBigIntegerField(default=0)
    profile_visits = models.PositiveBigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["date"]
        constraints = [
            # Two partial constraints because NULLs are distinct in a plain UNIQUE on every backend we support.
            models.UniqueConstraint(
                fields=["campaign", "date"],
                condition=Q(content_item__isnull=True),
                name="dailymetric_unique_campaign_day",
            ),
            models.UniqueConstraint(
                fields=["campaign", "content_item", "date"],
                condition=Q(content_item__isnull=False),
                name="dailymetric_unique_content_day",
            ),
        ]
        indexes = [models.Index(fields=["campaign", "date"], name="dailymetric_campaign_date")]

    def __str__(self) -> str:
        return f"{self.campaign_id} {self.date}"


class Action(models.TextChoices):
    PAUSE = "pause", "Pause"
    RESUME = "resume", "Resume"
    END = "end", "End"
    # History entries that do not move the status:
    SCHEDULE = "schedule", "Scheduled an action"
    UNSCHEDULE = "unschedule", "Removed a scheduled action"
    SCHEDULE_SKIPPED = "schedule_skipped", "Scheduled action skipped"
    EDIT = "edit", "Edited"
    SYNC = "sync", "Platform sync"


TRANSITION_ACTIONS = (Action.PAUSE, Action.RESUME, Action.END)


class Source(models.TextChoices):
    UI = "ui", "Closeout"
    ADMIN = "admin", "Admin"
    SCHEDULE = "schedule", "Schedule"
    PLATFORM = "platform", "Platform"
    IMPORT = "import", "Import"
    COMMAND = "command", "Command"
    RULE = "rule", "Rule"
    RIGHTS = "rights", "Content-rights expiry"


class StatusChange(models.Model):
    """The campaign's history: every status transition (from ≠ to) and the events around it (schedules,
    edits, skipped runs). Written only by `campaigns.services`, in the same transaction as the change."""

    # Indexed by statuschange_campaign_created (campaign, created_at).
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="history", db_index=False)
    action = models.CharField(max_length=20, choices=Action.choices)
    from_status = models.CharField(max_length=10, choices=Status.choices)
    to_status = models.CharField(max_length=10, choices=Status.choices)
    reason_code = models.CharField(max_length=30, choices=EndReason.choices, blank=True)
    reason_note = models.TextField(blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    source = models.CharField(max_length=10, choices=Source.choices)
    details = models.JSONField(default=dict, blank=True)
    idempotency_key = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "idempotency_key"],
                condition=~Q(idempotency_key=""),
                name="statuschange_unique_idempotency_key",
            ),
        ]
        indexes = [models.Index(fields=["campaign", "-created_at"], name="statuschange_campaign_created")]

    def __str__(self) -> str:
        return f"{self.campaign_id}: {self.from_status}→{self.to_status} ({self.action})"

    @property
    def is_transition(self) -> bool:
        return self.from_status != self.to_status


class ScheduledState(models.TextChoices):
    PENDING = "pending", "Scheduled"
    DONE = "done", "Done"
    SKIPPED = "skipped", "Skipped (nothing to do)"
    CANCELLED = "cancelled", "Unscheduled"
    FAILED = "failed", "Failed"


class ScheduledAction(models.Model):
    """A pause or end to be carried out at `run_at` (UTC) by the task worker or `run_due_actions`."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="scheduled_actions")
    action = models.CharField(max_length=10, choices=[(Action.PAUSE, "Pause"), (Action.END, "End")])
    run_at = models.DateTimeField()
    reason_code = models.CharField(max_length=30, choices=EndReason.choices, blank=True)
    reason_note = models.TextField(blank=True)
    state = models.CharField(max_length=10, choices=ScheduledState.choices, default=ScheduledState.PENDING)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    executed_at = models.DateTimeField(null=True, blank=True)
    result = models.CharField(max_length=500, blank=True)
    task_id = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["run_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["campaign"],
                condition=Q(state="pending"),
                name="scheduledaction_one_pending_per_campaign",
            ),
        ]
        indexes = [models.Index(fields=["state", "run_at"], name="scheduledaction_due")]

    def __str__(self) -> str:
        return f"{self.get_action_display()} {self.campaign} at {self.run_at:%Y-%m-%d %H:%M} UTC"


# Wind-down checklist (issue: wind-down workflow).
class WindDownStepKind(models.TextChoices):
    TEAM_NOTIFIED = "team_notified", "Team notified"
    CONTENT_REMOVED = "content_removed", "Associated content removed"
    CALENDAR_UPDATED = "calendar_updated", "Campaign calendar updated"
    AUDIENCE_INFORMED = "audience_informed", "Audience and participants informed"
    PLATFORM_CONFIRMED = "platform_confirmed", "Platform confirmed the end"
    BUDGET_FOLLOWUP = "budget_followup", "Unused budget followed up"
    PERFORMANCE_ANALYSED = "performance_analysed", "Performance analysed"


WINDDOWN_STEP_COUNT = len(WindDownStepKind.choices)


class WindDownStep(models.Model):
    # Indexed by winddownstep_unique_kind (campaign, kind); done_by only where set (winddownstep_done_by). A bulk END
    # of 1,000 writes 7,000 steps: each index costs (issue 19, migration 0020).
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="winddown_steps", db_index=False)
    kind = models.CharField(max_length=30, choices=WindDownStepKind.choices)
    position = models.PositiveSmallIntegerField()
    done_at = models.DateTimeField(null=True, blank=True)
    done_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", db_index=False
    )
    automatic = models.BooleanField(default=False, help_text="Completed by Closeout itself.")
    note = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["campaign", "position"]
        constraints = [
            models.UniqueConstraint(fields=["campaign", "kind"], name="winddownstep_unique_kind"),
        ]
        # The home page's "reports waiting for lessons" (issue 16): open steps by kind, newest campaigns first.
        indexes = [
            models.Index(fields=["kind", "campaign"], condition=Q(done_at__isnull=True), name="winddownstep_open"),
            models.Index(fields=["done_by"], condition=Q(done_by__isnull=False), name="winddownstep_done_by"),
        ]

    def __str__(self) -> str:
        return f"{self.campaign_id}: {self.get_kind_display()}"

    @property
    def is_done(self) -> bool:
        return self.done_at is not None


class CampaignWatch(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="watches")
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="watches")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "campaign"], name="campaignwatch_unique")]

    def __str__(self) -> str:
        return f"{self.user} watches {self.campaign}"


class NotificationKind(models.TextChoices):
    STATUS_CHANGED = "status_changed", "Status changed"
    SCHEDULE_CREATED = "schedule_created", "Scheduled action created"
    SCHEDULE_EXECUTED = "schedule_executed", "Scheduled action executed"
    SCHEDULE_FAILED = "schedule_failed", "Scheduled action failed"
    SYNC_FAILED = "sync_failed", "Platform sync failed"
    RECONNECT = "reconnect", "Platform connection needs attention"
    STILL_DELIVERING = "still_delivering", "Still delivering after end"
    REPORT_INCOMPLETE = "report_incomplete", "Close report frozen without all final numbers"
    REPORT_FINAL = "report_final", "Final figures of a report are in"
    WINDDOWN_OVERDUE = "winddown_overdue", "Wind-down step overdue"
    RULE_TRIGGERED = "rule_triggered", "A rule was triggered"
    RIGHTS_EXPIRING = "rights_expiring", "Content usage rights expire soon"
    RIGHTS_EXPIRED = "rights_expired", "Content usage rights expired"


class EmailState(models.TextChoices):
    NOT_SENT = "none", "Not emailed"
    PENDING = "pending", "Waiting to send"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed (will retry)"
    GAVE_UP = "gave_up", "Failed (gave up)"


class Notification(models.Model):
    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(max_length=30, choices=NotificationKind.choices)
    title = models.CharField(max_length=255)
    body = models.TextField(blank=True)
    url = models.CharField(max_length=500, blank=True)
    campaigns = models.ManyToManyField(Campaign, blank=True, related_name="+")
    # Makes "one notification per recipient per event" enforceable when a task runs twice.
    dedupe_key = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)
    email_state = models.CharField(max_length=10, choices=EmailState.choices, default=EmailState.NOT_SENT)
    email_attempts = models.PositiveSmallIntegerField(default=0)
    email_error = models.TextField(blank=True)
    emailed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["recipient", "dedupe_key"], condition=~Q(dedupe_key=""), name="notification_dedupe"
            ),
        ]
        indexes = [models.Index(fields=["recipient", "read_at"], name="notification_unread")]

    def __str__(self) -> str:
        return self.title

    @property
    def account_zone(self) -> str | None:
        """The time zone of the account this notification is about, when its campaigns (prefetched, see
        `selectors_winddown.notifications_for_user`) share one; None otherwise (shown in the viewer's zone)."""
        zones = {campaign.account.timezone for campaign in self.campaigns.all()}
        return zones.pop() if len(zones) == 1 else None


class ImportState(models.TextChoices):
    """queued → parsing → preview → committing → committed; parsing or committing → failed (with `error`);
    preview → discarded. Queued, parsing and committing are a task's: the reconciler re-queues one left behind."""

    QUEUED = "queued", "Waiting to be read"
    PARSING = "parsing", "Reading the file"
    PREVIEW = "preview", "Previewed"
    COMMITTING = "committing", "Importing"
    COMMITTED = "committed", "Imported"
    FAILED = "failed", "Failed"
    DISCARDED = "discarded", "Discarded"


class MetricImport(models.Model):
    """An uploaded Ads Manager export: previewed first, then committed all-or-nothing."""

    account = models.ForeignKey(AdAccount, on_delete=models.CASCADE, related_name="imports")
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    filename = models.CharField(max_length=255)
    sha256 = models.CharField(max_length=64)
    size = models.PositiveBigIntegerField(default=0)
    file = models.FileField(upload_to="imports/%Y/%m/", blank=True)
    state = models.CharField(max_length=10, choices=ImportState.choices, default=ImportState.PREVIEW)
    summary = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    committed_at = models.DateTimeField(null=True, blank=True)
    # Who asked for the commit: the owner of the campaigns it creates and the actor of its audit rows.
    committed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # What the running task has done: {"step": "reading" | "writing", "done": rows, "total": estimated rows}.
    progress = models.JSONField(default=dict, blank=True)
    # When the task last wrote `progress` or the state changed: older than the grace, the work was lost.
    progress_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(
                fields=["state", "progress_at"],
                name="metricimport_working",
                condition=Q(state__in=["queued", "parsing", "committing"]),
            )
        ]

    def __str__(self) -> str:
        return self.filename


class MetricImportRow(models.Model):
    """One usable row of an import's file, staged by the preview (issue 19): the plan's checks are SQL over these
    rows, and the commit writes the daily metrics from them with one INSERT … SELECT, never reading the file
    again. Deleted when the import is committed, discarded or failed (and by the reconcile check
    `campaigns.imports` for imports long past). No foreign-key constraint and no id: a million rows are copied in
    at database speed, keyed by (import, line); the rows of a deleted import are orphans the clean-up removes."""

    pk = models.CompositePrimaryKey("metric_import_id", "line")
    metric_import = models.ForeignKey(
        MetricImport, on_delete=models.DO_NOTHING, db_constraint=False, db_index=False, related_name="+"
    )
    line = models.PositiveIntegerField()
    # The number of the row's (campaign id, campaign name, ad id, ad name) within its import: the plan matches
    # each distinct one once, and joins the rows to its match by this number.
    key = models.PositiveIntegerField()
    campaign_name = models.TextField(blank=True)
    campaign_platform_id = models.TextField(blank=True)
    ad_name = models.TextField(blank=True)
    ad_platform_id = models.TextField(blank=True)
    date = models.DateField()
    spend = models.DecimalField(max_digits=14, decimal_places=2)
    impressions = models.BigIntegerField()
    reach = models.BigIntegerField()
    clicks = models.BigIntegerField()
    video_views = models.BigIntegerField()
    likes = models.BigIntegerField()
    comments = models.BigIntegerField()
    shares = models.BigIntegerField()
    follows = models.BigIntegerField()
    profile_visits = models.BigIntegerField()
    rights_expire_on = models.DateField(null=True)
    creator_name = models.TextField(blank=True)

    def __str__(self) -> str:
        return f"{self.metric_import_id}:{self.line}"


# --- list totals maintained on write (issue 9) ---


class CampaignListStat(models.Model):
    """How many campaigns, and their metric totals, per (account, status): what the list's tabs and footer
    show when no filter narrows the campaigns beyond status and account.

    Written only by database triggers on campaigns_campaign (migration 0003), so every write path counts:
    services, admin, imports, bulk loads, raw SQL. Rows are signed deltas, appended and never updated, so
    concurrent writers never wait on (or deadlock over) a shared counter row; the true figure for a key is
    the SUM of its rows. `listing.stats.campaign_list_stats_compact` (the `list_stats_compact` task) folds them
    back to one row per key.
    `account_id` has no foreign-key constraint: a deleted account's campaigns fire the DELETE trigger after
    the account row may already be gone."""

    account = models.ForeignKey(AdAccount, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+")
    status = models.CharField(max_length=16)
    campaigns = models.IntegerField()
    spend = models.DecimalField(max_digits=16, decimal_places=2)
    video_views = models.BigIntegerField()
    follows = models.BigIntegerField()

    class Meta:
        indexes = [models.Index(fields=["account", "status"], name="campaign_list_stat_key")]

    def __str__(self):
        return f"{self.account_id}/{self.status}: {self.campaigns:+d}"


# --- background work that heals itself (issue 14): campaigns/worker/ ---


class WorkerHeartbeat(models.Model):
    """A task worker that is alive: `db_worker` (campaigns/management/commands/db_worker.py) writes its row before
    it takes a task and refreshes `beat_at` every WORKER_HEARTBEAT_SECONDS from a small thread; a clean stop
    deletes it. A task RUNNING on a worker whose beat is older than WORKER_LOST_AFTER_SECONDS was lost with it
    (SIGKILL, OOM killer, a host gone) and is queued again (`campaigns.worker.recovery`)."""

    worker_id = models.CharField(max_length=64, primary_key=True)
    hostname = models.CharField(max_length=255)
    pid = models.PositiveIntegerField()
    started_at = models.DateTimeField()
    beat_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"worker {self.worker_id} ({self.hostname}:{self.pid})"


class PeriodicJob(models.Model):
    """When a periodic job (`campaigns.worker.periodic`) runs next, shared by every worker host: the worker that
    moves `next_run_at` forward with a conditional UPDATE runs the job, so it runs once per period however many
    workers there are. Rows appear the first time a worker sees a registered job."""

    name = models.CharField(max_length=100, primary_key=True)
    next_run_at = models.DateTimeField()
    last_run_at = models.DateTimeField(null=True, blank=True)
    last_worker_id = models.CharField(max_length=64, blank=True)

    def __str__(self) -> str:
        return f"{self.name} (next {self.next_run_at:%Y-%m-%d %H:%M:%S} UTC)"
