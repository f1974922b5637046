"""Rules in the admin go through the same services as the rule pages (checked, logged with the staff member);
the rule log is read-only. Registered by `campaigns/admin.py`."""

from django import forms
from django.contrib import admin

from ..models import Rule, RuleLogEntry
from .services import RULE_FIELDS, rule_create, rule_edit, rule_enabled_set, rule_problems


class RuleAdminForm(forms.ModelForm):
    class Meta:
        model = Rule
        fields = ["account", *RULE_FIELDS, "campaigns", "enabled"]

    def clean(self):
        cleaned = super().clean()
        rule = Rule(account_id=getattr(cleaned.get("account"), "pk", None), **rule_values(cleaned))
        ids = [c.pk for c in cleaned.get("campaigns") or []]
        for field, problem in rule_problems(rule, campaign_ids=ids).items():
            if field not in self.errors:
                self.add_error(field if field in self.fields else None, problem)
        return cleaned


def rule_values(cleaned: dict) -> dict:
    values = {f: cleaned.get(f) for f in RULE_FIELDS}
    for text in ("name", "end_reason", "end_note", "objective"):
        values[text] = values[text] or ""
    for count in ("guard_impressions", "guard_days"):
        values[count] = values[count] or 0
    return values


@admin.register(Rule)
class RuleAdmin(admin.ModelAdmin):
    form = RuleAdminForm
    list_display = ["name", "account", "condition", "action", "scope", "enabled", "last_evaluated_at"]
    list_filter = ["enabled", "condition", "action"]
    search_fields = ["name", "account__name"]
    filter_horizontal = ["campaigns"]

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        values = rule_values(data)
        ids = [c.pk for c in data.get("campaigns") or []]
        if change:
            rule = Rule.objects.get(pk=obj.pk)
            rule_edit(rule=rule, actor=request.user, values=values, campaign_ids=ids)
            rule_enabled_set(rule=rule, actor=request.user, enabled=bool(data.get("enabled")))
        else:
            rule = rule_create(account=data["account"], actor=request.user, values=values, campaign_ids=ids)
            rule_enabled_set(rule=rule, actor=request.user, enabled=bool(data.get("enabled")))
            obj.pk = rule.pk

    def save_related(self, request, form, formsets, change):
        """The chosen campaigns were set by the service."""


@admin.register(RuleLogEntry)
class RuleLogEntryAdmin(admin.ModelAdmin):
    list_display = ["created_at", "rule", "kind", "campaign", "message", "actor"]
    list_filter = ["kind"]
    search_fields = ["rule__name", "campaign__name", "message"]

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
