"""Django admin over everything. Status actions call the same service as the UI (source=admin), so an action
taken here is checked and audited exactly like one taken in the app."""

import uuid

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.template.response import TemplateResponse

from . import services
from .forms import ContentRightsCleanMixin
from .listing.search import campaigns_matching
from .models import (
    Action,
    AdAccount,
    Annotation,
    Campaign,
    CampaignWatch,
    ContentItem,
    DailyMetric,
    EndReason,
    Membership,
    MetricImport,
    Notification,
    ScheduledAction,
    Source,
    StatusChange,
    WindDownStep,
)
from .rules import admin as rules_admin  # noqa: F401  (registers the guardrail rules' admin, through the rule services)
from .selectors_actions import money_by_currency, transition_preview
from .services import effects
from .text import counted


class ReadOnlyAdmin(admin.ModelAdmin):
    """Audit and metric rows are facts: admins read them, nobody edits them here."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(AdAccount)
class AdAccountAdmin(admin.ModelAdmin):
    list_display = ["name", "platform", "advertiser_id", "connector", "currency", "timezone", "needs_reconnect"]
    list_filter = ["platform", "connector", "needs_reconnect"]
    search_fields = ["name", "advertiser_id"]
    readonly_fields = ["ics_token_hash", "last_synced_at", "sync_error", "created_at"]
    inlines = [MembershipInline]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "account", "role", "notify_all", "notify_email"]
    list_filter = ["role", "account"]
    search_fields = ["user__username", "user__email", "account__name"]
    list_select_related = ["user", "account"]
    autocomplete_fields = ["user", "account"]


class ContentItemAdminForm(ContentRightsCleanMixin, forms.ModelForm):
    """The usage-rights fields checked as on the pages (`services.content_rights_problems`)."""

    class Meta:
        model = ContentItem
        fields = ["campaign", "kind", "title", "url", "platform_id", "state", "state_note", "rights_expire_on"]
        fields += ["creator_name", "state_changed_at", "state_changed_by"]


class ContentItemInline(admin.TabularInline):
    model = ContentItem
    form = ContentItemAdminForm
    extra = 0
    fields = ["kind", "title", "url", "platform_id", "state", "state_note", "rights_expire_on", "creator_name"]


class EndReasonForm(forms.Form):
    """The admin's end confirmation: an explicit reason (nothing preselected), a note for "other", and the key that
    makes a double submit end once (as the app's confirmation does)."""

    reason_code = forms.ChoiceField(choices=[("", "Choose a reason…"), *EndReason.choices], label="Reason")
    reason_note = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False, label="Note")
    idempotency_key = forms.CharField(widget=forms.HiddenInput, max_length=64, required=False)

    def clean(self):
        data = super().clean()
        if "reason_code" not in data:
            return data  # "This field is required." is already said next to the field
        try:
            services.end_reason_validate(reason_code=data["reason_code"], reason_note=data.get("reason_note", ""))
        except services.ReasonRequired as exc:
            raise forms.ValidationError(str(exc)) from exc
        return data


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "account",
        "status",
        "sync_state",
        "objective",
        "budget_mode",
        "budget_amount",
        "total_spend",
        "total_video_views",
        "start_date",
        "end_date",
        "status_changed_at",
    ]
    list_filter = ["status", "sync_state", "objective", "budget_mode", "account"]
    search_fields = ["name", "platform_id"]

    def get_search_results(self, request, queryset, search_term):
        """The list's own search (`listing.search.campaigns_matching`: the same match, from the search index of each
        database; the campaign table has no trigram index of its own on PostgreSQL since migration 0010)."""
        term = search_term.strip()
        if not term:
            return queryset, False
        return campaigns_matching(queryset, term), False

    list_select_related = ["account"]
    date_hierarchy = "start_date"
    autocomplete_fields = ["account", "owner"]
    inlines = [ContentItemInline]
    actions = ["pause_campaigns", "resume_campaigns", "end_campaigns"]
    # Status fields move only through the transition service (the actions above).
    readonly_fields = [
        "status",
        "sync_state",
        "sync_error",
        "sync_attempts",
        "sync_requested_at",
        "platform_status",
        "still_delivering_since",
        "status_changed_at",
        "status_changed_by",
        "ended_at",
        "end_reason",
        "winddown_done",
        "created_at",
        "updated_at",
        "last_metric_date",
        *[f"total_{f}" for f in ("spend", "impressions", "reach", "clicks", "video_views", "likes")],
        *[f"total_{f}" for f in ("comments", "shares", "follows", "profile_visits")],
    ]

    def _transition(self, request, queryset, action, **kwargs):
        result = services.campaigns_transition(
            campaign_ids=list(queryset.values_list("pk", flat=True)),
            action=action,
            actor=request.user,
            source=Source.ADMIN,
            enforce_role=False,
            **kwargs,
        )
        level = messages.SUCCESS if result.changed_ids else messages.WARNING
        self.message_user(request, result.summary(), level)

    @admin.action(description="Pause selected campaigns", permissions=["change"])
    def pause_campaigns(self, request, queryset):
        self._transition(request, queryset, Action.PAUSE)

    @admin.action(description="Resume selected campaigns", permissions=["change"])
    def resume_campaigns(self, request, queryset):
        self._transition(request, queryset, Action.RESUME)

    @admin.action(description="End selected campaigns (asks for a reason, then confirms)", permissions=["change"])
    def end_campaigns(self, request, queryset):
        """A confirmation page first (what ends, spend so far, unused budget, an explicit reason); ending happens
        only when it is submitted, through the same audited service as the app."""
        confirmed = "apply" in request.POST
        key = uuid.uuid4().hex
        form = EndReasonForm(request.POST) if confirmed else EndReasonForm(initial={"idempotency_key": key})
        if confirmed and form.is_valid():
            data = form.cleaned_data
            self._transition(
                request,
                queryset,
                Action.END,
                reason_code=data["reason_code"],
                reason_note=data["reason_note"],
                idempotency_key=data["idempotency_key"],
            )
            return None
        campaigns = list(queryset.select_related("account").order_by("name", "pk"))
        preview = transition_preview(campaigns=campaigns, action=Action.END)
        return TemplateResponse(
            request,
            "admin/campaigns/campaign/end_confirm.html",
            {
                **self.admin_site.each_context(request),
                "title": f"End {counted(len(preview.changing), 'campaign')}?" if preview.changing else "Nothing to end",
                "opts": self.model._meta,
                "campaigns": campaigns,
                "preview": preview,
                "spend": money_by_currency((c.account.currency, c.total_spend) for c in preview.changing),
                "unused": money_by_currency((c.account.currency, c.budget_remaining) for c in preview.changing),
                "form": form,
                "action_checkbox_name": ACTION_CHECKBOX_NAME,
            },
        )


@admin.register(ContentItem)
class ContentItemAdmin(admin.ModelAdmin):
    form = ContentItemAdminForm
    list_display = ["title", "campaign", "kind", "state", "platform_id", "creator_name", "rights_expire_on"]
    list_filter = ["kind", "state"]
    search_fields = ["title", "platform_id", "campaign__name", "creator_name"]
    list_select_related = ["campaign"]
    autocomplete_fields = ["campaign"]


@admin.register(DailyMetric)
class DailyMetricAdmin(ReadOnlyAdmin):
    list_display = ["campaign", "content_item", "date", "spend", "impressions", "video_views", "follows"]
    list_filter = ["date"]
    search_fields = ["campaign__name"]
    list_select_related = ["campaign", "content_item"]
    date_hierarchy = "date"
    show_full_result_count = False


@admin.register(StatusChange)
class StatusChangeAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "campaign", "action", "from_status", "to_status", "reason_code", "actor", "source"]
    list_filter = ["action", "source", "reason_code", "to_status"]
    search_fields = ["campaign__name", "reason_note", "actor__username"]
    list_select_related = ["campaign", "actor"]
    date_hierarchy = "created_at"


@admin.register(ScheduledAction)
class ScheduledActionAdmin(admin.ModelAdmin):
    list_display = ["campaign", "action", "run_at", "state", "created_by", "executed_at", "result"]
    list_filter = ["state", "action"]
    search_fields = ["campaign__name"]
    list_select_related = ["campaign", "created_by"]
    readonly_fields = ["state", "executed_at", "result", "task_id", "created_at", "created_by"]


@admin.register(WindDownStep)
class WindDownStepAdmin(admin.ModelAdmin):
    list_display = ["campaign", "kind", "done_at", "done_by", "automatic"]
    list_filter = ["kind", "automatic"]
    search_fields = ["campaign__name"]
    list_select_related = ["campaign", "done_by"]


@admin.register(CampaignWatch)
class CampaignWatchAdmin(admin.ModelAdmin):
    list_display = ["user", "campaign", "created_at"]
    list_select_related = ["user", "campaign"]
    search_fields = ["user__username", "campaign__name"]


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ["created_at", "recipient", "kind", "title", "read_at", "email_state", "email_attempts"]
    list_filter = ["kind", "email_state"]
    search_fields = ["title", "recipient__username"]
    list_select_related = ["recipient"]
    readonly_fields = ["email_error", "emailed_at", "email_attempts", "dedupe_key"]


@admin.register(MetricImport)
class MetricImportAdmin(admin.ModelAdmin):
    list_display = ["created_at", "account", "filename", "state", "uploaded_by", "size"]
    list_filter = ["state"]
    search_fields = ["filename", "account__name"]
    list_select_related = ["account", "uploaded_by"]
    readonly_fields = ["sha256", "size", "summary", "error", "committed_at"]


# --- Wind-down and notifications (issue 6) ---
@admin.action(description="Retry sending the email of selected notifications", permissions=["change"])
def notifications_email_retry(modeladmin, request, queryset):
    from .models import EmailState

    ids = list(queryset.filter(email_state__in=[EmailState.FAILED, EmailState.GAVE_UP]).values_list("pk", flat=True))
    # A manual retry starts the attempt budget again; the worker sends it (never this request).
    Notification.objects.filter(pk__in=ids).update(email_state=EmailState.FAILED, email_attempts=0)
    if ids:
        effects.notification_emails_enqueue(notification_ids=ids)
    modeladmin.message_user(request, f"Queued {counted(len(ids), 'email')} to send again.")


NotificationAdmin.actions = [notifications_email_retry]


# --- Timeline notes (issue 18): through the same service as the campaign page (checked, audited as the admin) ---
class AnnotationAdminForm(forms.ModelForm):
    class Meta:
        model = Annotation
        fields = ["campaign", "day", "text"]

    def clean(self):
        cleaned = super().clean()
        campaign = cleaned.get("campaign") or (self.instance.campaign if self.instance.pk else None)
        if campaign is not None and "day" in cleaned and "text" in cleaned:
            problems = services.annotation_problems(campaign=campaign, day=cleaned["day"], text=cleaned["text"])
            for field, problem in problems.items():
                self.add_error(field, problem)
        return cleaned


@admin.register(Annotation)
class AnnotationAdmin(admin.ModelAdmin):
    form = AnnotationAdminForm
    list_display = ["day", "campaign", "text", "author", "created_at", "updated_at"]
    search_fields = ["text", "campaign__name"]
    list_select_related = ["campaign", "author"]
    autocomplete_fields = ["campaign"]
    readonly_fields = ["author", "created_at", "updated_at"]

    def get_readonly_fields(self, request, obj=None):
        # A note stays on its campaign: moving it would rewrite two timelines (add it to the other one instead).
        return [*self.readonly_fields, "campaign"] if obj is not None else self.readonly_fields

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        if change:
            note = Annotation.objects.select_related("campaign__account").get(pk=obj.pk)
            services.annotation_edit(
                annotation=note,
                actor=request.user,
                day=data["day"],
                text=data["text"],
                source=Source.ADMIN,
                enforce_role=False,
            )
        else:
            note = services.annotation_create(
                campaign=data["campaign"],
                actor=request.user,
                day=data["day"],
                text=data["text"],
                source=Source.ADMIN,
                enforce_role=False,
            )
            obj.pk = note.pk

    def delete_model(self, request, obj):
        services.annotation_delete(annotation=obj, actor=request.user, source=Source.ADMIN, enforce_role=False)

    def delete_queryset(self, request, queryset):
        for note in queryset.select_related("campaign__account"):
            services.annotation_delete(annotation=note, actor=request.user, source=Source.ADMIN, enforce_role=False)
