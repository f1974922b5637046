import json

from django import forms
from django.contrib import admin, messages
from django.db.models.functions import Length
from django.utils.html import format_html

from . import services
from .forms import BrandingForm
from .models import (
    AccountBranding,
    CloseReport,
    DeliveryEvent,
    Feedback,
    LessonRevision,
    ReportDelivery,
    ReportPdf,
    ShareLink,
    ShareLinkEvent,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Frozen reports and lesson history are records: admins read them, nobody edits them here."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(CloseReport)
class CloseReportAdmin(ReadOnlyAdmin):
    list_display = [
        "campaign_name",
        "account",
        "objective",
        "end_reason",
        "ended_at",
        "spend",
        "video_views",
        "engagement_rate",
    ]
    list_filter = ["objective", "end_reason", "account"]
    search_fields = ["campaign_name", "campaign__platform_id"]
    date_hierarchy = "ended_at"
    list_select_related = ["account"]
    exclude = ["snapshot"]
    readonly_fields = ["snapshot_pretty"]

    @admin.display(description="Snapshot (frozen)")
    def snapshot_pretty(self, obj):
        return format_html("<pre>{}</pre>", json.dumps(obj.snapshot, indent=2, ensure_ascii=False))

    def has_delete_permission(self, request, obj=None):
        # Deleting lets `rebuild_reports` re-freeze a broken snapshot; only superusers may.
        return request.user.is_superuser


@admin.register(ReportPdf)
class ReportPdfAdmin(ReadOnlyAdmin):
    """Rendered PDFs of the frozen reports. Deleting one is safe: the next download renders it again."""

    list_display = ["report", "audience", "version", "size", "rendered_at"]
    list_filter = ["audience"]
    list_select_related = ["report"]
    search_fields = ["report__campaign_name"]
    exclude = ["content"]
    readonly_fields = ["report", "audience", "version", "size", "rendered_at"]

    def get_queryset(self, request):
        # The files stay in the database: the list shows their size, measured there.
        return super().get_queryset(request).defer("content").annotate(size_bytes=Length("content"))

    @admin.display(description="Size", ordering="size_bytes")
    def size(self, obj):
        return f"{obj.size_bytes / 1024:,.0f} KB"


@admin.register(LessonRevision)
class LessonRevisionAdmin(ReadOnlyAdmin):
    list_display = ["report", "author", "created_at"]
    list_select_related = ["report", "author"]
    search_fields = ["report__campaign_name", "what_worked", "what_to_change", "next_steps"]

    def has_delete_permission(self, request, obj=None):
        return False


# --- Sharing and feedback (issue 5) ---


class ShareLinkEventInline(admin.TabularInline):
    model = ShareLinkEvent
    extra = 0
    can_delete = False
    readonly_fields = ["kind", "actor", "note", "created_at"]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(ShareLink)
class ShareLinkAdmin(ReadOnlyAdmin):
    """Every share link of every account; staff can revoke them (through the service, so it is audited).
    Only the secret's hash is stored, so nothing here can open a link."""

    list_display = [
        "label",
        "report",
        "created_by",
        "created_at",
        "expires_at",
        "revoked_at",
        "has_password",
        "allow_feedback",
        "view_count",
        "last_viewed_at",
    ]
    list_filter = [("revoked_at", admin.EmptyFieldListFilter), "allow_feedback", "show_team_notes"]
    search_fields = ["label", "report__campaign_name"]
    list_select_related = ["report", "created_by"]
    exclude = ["secret_hash", "password_hash"]
    inlines = [ShareLinkEventInline]
    actions = ["revoke_links"]

    @admin.display(boolean=True, description="Password")
    def has_password(self, obj):
        return obj.has_password

    @admin.action(description="Revoke selected share links")
    def revoke_links(self, request, queryset):
        count = services.share_links_revoke(link_ids=queryset.values_list("pk", flat=True), actor=request.user)
        self.message_user(request, f"{count} link(s) revoked.", messages.SUCCESS)

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Feedback)
class FeedbackAdmin(ReadOnlyAdmin):
    """All feedback, hidden included (moderation hides it on the report page, never deletes it)."""

    list_display = ["report", "role", "rating", "would_take_part_again", "name", "created_at", "hidden_at", "hidden_by"]
    list_filter = ["role", "rating", ("hidden_at", admin.EmptyFieldListFilter)]
    search_fields = ["report__campaign_name", "name", "what_worked", "what_to_improve", "comment"]
    list_select_related = ["report", "hidden_by"]

    def has_delete_permission(self, request, obj=None):
        return False


# --- Delivery (issue 18): records, read here; lists are edited on the account's and the report's pages ---


@admin.register(ReportDelivery)
class ReportDeliveryAdmin(ReadOnlyAdmin):
    list_display = ["report", "recipient", "occasion", "state", "attempts", "error", "sent_at"]
    list_filter = ["state", "occasion"]
    search_fields = ["recipient__email", "report__campaign_name"]
    list_select_related = ["report", "recipient"]
    exclude = ["report"]
    readonly_fields = ["recipient", "occasion", "state", "attempts", "error", "pdf_attached", "claimed_at", "sent_at"]


@admin.register(DeliveryEvent)
class DeliveryEventAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "kind", "email", "account", "report", "actor", "note"]
    list_filter = ["kind"]
    search_fields = ["email", "note"]
    list_select_related = ["account", "report", "actor"]
    exclude = ["report"]


# --- Branding (issue 18): edited through the same form and service as the account's branding page ---


class AccountBrandingAdminForm(BrandingForm, forms.ModelForm):
    """The branding page's form (the same checks refuse the same colours and files here) plus the account, for a
    new row. It never saves the row itself: `AccountBrandingAdmin.save_model` writes through the service, which
    audits the change."""

    class Meta:
        model = AccountBranding
        fields = ["account", "display_name", "accent_color", "accent_text", "footer_text"]


@admin.register(AccountBranding)
class AccountBrandingAdmin(admin.ModelAdmin):
    list_display = ["account", "display_name", "accent_color", "has_logo", "updated_at", "updated_by"]
    list_select_related = ["account", "updated_by"]
    search_fields = ["display_name", "account__name"]
    form = AccountBrandingAdminForm

    def get_queryset(self, request):
        return super().get_queryset(request).defer("logo_png")

    def get_readonly_fields(self, request, obj=None):
        return ["account"] if obj is not None else []

    @admin.display(boolean=True, description="Logo")
    def has_logo(self, obj):
        return obj.has_logo

    def save_model(self, request, obj, form, change):
        data = {k: v for k, v in form.cleaned_data.items() if k in BrandingForm.base_fields}
        account = obj.account
        try:
            saved = services.account_branding_save(account=account, actor=request.user, **data)
        except services.BrandingError as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return
        obj.pk, obj.account = saved.pk, account

    def delete_model(self, request, obj):
        services.account_branding_remove(account=obj.account, actor=request.user)

    def delete_queryset(self, request, queryset):
        for branding in queryset.select_related("account"):
            services.account_branding_remove(account=branding.account, actor=request.user)
