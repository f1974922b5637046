"""Forms validate input and say what is wrong next to the field; the services do the work."""

import datetime as dt
import uuid
import zoneinfo

from django import forms
from django.forms import inlineformset_factory
from django.utils import timezone

from .models import ANNOTATION_TEXT_MAX, MAX_ID, Action, AdAccount, Campaign, ContentItem, EndReason
from .platforms import platform_label
from .services import ReasonRequired, annotation_problems, content_rights_problems, end_reason_validate
from .services.annotations import ANNOTATION_DAYS_BEFORE_START, annotation_last_day
from .timezones import zone_named

DATETIME_LOCAL = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")
ACTION_CHOICES = [(Action.PAUSE.value, "Pause"), (Action.RESUME.value, "Resume"), (Action.END.value, "End")]


def zone(name: str):
    """The IANA zone `name`, UTC when unknown (`timezones.zone_named`)."""
    return zone_named(name) or zoneinfo.ZoneInfo("UTC")


class IdsField(forms.Field):
    """Campaign ids from repeated `ids` inputs; anything not a positive 64-bit integer is dropped."""

    widget = forms.MultipleHiddenInput

    def to_python(self, value):
        if not value:
            return []
        values = value if isinstance(value, list | tuple) else [value]
        ids = []
        for raw in values:
            try:
                pk = int(str(raw))
            except ValueError:
                continue
            if 0 < pk <= MAX_ID and pk not in ids:
                ids.append(pk)
        return ids


class InAccountTimezoneMixin:
    """Naive date-times typed into the form are read in the account's timezone (`tz`)."""

    def full_clean(self):
        with timezone.override(self.tz):
            super().full_clean()


class ActionForm(forms.Form):
    """The selection bar's request (step one) and the confirmation's POST (step two)."""

    action = forms.ChoiceField(choices=ACTION_CHOICES)
    ids = IdsField(required=False)
    all_matching = forms.BooleanField(required=False)
    list_qs = forms.CharField(required=False, widget=forms.HiddenInput)
    confirmed = forms.BooleanField(required=False, widget=forms.HiddenInput)
    next = forms.CharField(required=False, widget=forms.HiddenInput)


class ConfirmForm(InAccountTimezoneMixin, forms.Form):
    """Confirms a pause, resume or end of `campaigns`. Ending needs a reason and typed confirmation (the number of
    campaigns, or the name of the one), and may be scheduled with `end_at` instead."""

    idempotency_key = forms.CharField(widget=forms.HiddenInput, max_length=64)
    reason_code = forms.ChoiceField(
        label="Why is it ending?", choices=[("", "Choose a reason…"), *EndReason.choices], required=False
    )
    reason_note = forms.CharField(
        label="Note", required=False, widget=forms.Textarea(attrs={"rows": 2}), help_text="Required for “Other”."
    )
    end_at = forms.DateTimeField(
        label="End at (optional)", required=False, widget=DATETIME_LOCAL, input_formats=["%Y-%m-%dT%H:%M"]
    )
    confirm_text = forms.CharField(
        label="Type to confirm", required=False, widget=forms.TextInput(attrs={"autocomplete": "off"})
    )
    delete_on_platform = forms.BooleanField(required=False)  # label and help name the platform: see __init__

    def __init__(self, *args, action: str, campaigns: list[Campaign], tz=None, selected: int | None = None, **kwargs):
        kwargs.setdefault("initial", {}).setdefault("idempotency_key", uuid.uuid4().hex)
        # `campaigns` are the ones that will change; `selected` how many were chosen (some may stay as they are):
        # typing that number confirms too.
        self.selected = selected
        kwargs.setdefault("auto_id", "confirm_%s")  # unique on a detail page that also has the schedule form
        super().__init__(*args, **kwargs)
        self.action = action
        self.campaigns = campaigns
        self.tz = tz or zoneinfo.ZoneInfo("UTC")
        if action == Action.END:
            self.fields["reason_code"].required = True
            self.fields["confirm_text"].required = True
            self.fields["confirm_text"].label = self.confirm_label
            self.fields["end_at"].help_text = f"Leave empty to end now. Time in {self.tz.key}."
            platforms = sorted({platform_label(c.account) for c in campaigns if c.account.is_connected})
            if platforms:
                named = " and ".join(platforms)
                self.fields["delete_on_platform"].label = f"Also delete on {named}"
                self.fields["delete_on_platform"].help_text = (
                    f"Irreversible on {named} too: a deleted campaign can never be re-enabled there and is hidden "
                    "from Ads Manager. Without this, Closeout turns it off and its data stays reportable."
                )
            else:
                del self.fields["delete_on_platform"]
        else:
            for name in ("reason_code", "reason_note", "end_at", "confirm_text", "delete_on_platform"):
                del self.fields[name]

    @property
    def expected_confirmation(self) -> str:
        return self.campaigns[0].name if len(self.campaigns) == 1 else str(len(self.campaigns))

    @property
    def confirm_label(self) -> str:
        if len(self.campaigns) == 1:
            return "Type the campaign’s name to confirm"
        return f"Type {len(self.campaigns)} (the number of campaigns) to confirm"

    def clean_confirm_text(self):
        typed = " ".join(self.cleaned_data.get("confirm_text", "").split())
        if self.selected and typed == str(self.selected):
            return typed
        if typed.casefold() != " ".join(self.expected_confirmation.split()).casefold():
            if len(self.campaigns) == 1:
                raise forms.ValidationError("That is not the campaign’s name.")
            raise forms.ValidationError(
                f"Type {len(self.campaigns)} to confirm ending {len(self.campaigns)} campaigns."
            )
        return typed

    def clean_end_at(self):
        end_at = self.cleaned_data.get("end_at")
        if end_at is not None and end_at <= timezone.now():
            raise forms.ValidationError("Choose a time in the future, or leave it empty to end now.")
        return end_at

    def clean(self):
        cleaned = super().clean()
        if self.action == Action.END and "reason_code" in cleaned:
            try:
                end_reason_validate(reason_code=cleaned["reason_code"], reason_note=cleaned.get("reason_note", ""))
            except ReasonRequired as exc:
                self.add_error("reason_note", str(exc))
        return cleaned


class ScheduleForm(InAccountTimezoneMixin, forms.Form):
    action = forms.ChoiceField(label="Action", choices=[(Action.PAUSE.value, "Pause"), (Action.END.value, "End")])
    run_at = forms.DateTimeField(label="At", widget=DATETIME_LOCAL, input_formats=["%Y-%m-%dT%H:%M"])
    reason_code = forms.ChoiceField(
        label="Reason (for an end)", choices=[("", "Choose a reason…"), *EndReason.choices], required=False
    )
    reason_note = forms.CharField(label="Note", required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, tz=None, **kwargs):
        kwargs.setdefault("auto_id", "schedule_%s")
        super().__init__(*args, **kwargs)
        self.tz = tz or zoneinfo.ZoneInfo("UTC")
        self.fields["run_at"].help_text = f"Time in {self.tz.key}."

    def clean_run_at(self):
        run_at = self.cleaned_data["run_at"]
        if run_at <= timezone.now():
            raise forms.ValidationError("Choose a time in the future.")
        return run_at

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("action") == Action.END:
            try:
                end_reason_validate(
                    reason_code=cleaned.get("reason_code", ""), reason_note=cleaned.get("reason_note", "")
                )
            except ReasonRequired as exc:
                self.add_error("reason_code", str(exc))
        return cleaned


# Owned by the platform for connected accounts: shown, never edited here.
PLATFORM_FIELDS = ("name", "platform_id", "objective", "budget_mode", "budget_amount", "start_date", "end_date")


class CampaignForm(forms.ModelForm):
    class Meta:
        model = Campaign
        fields = (
            "name",
            "platform_id",
            "objective",
            "budget_mode",
            "budget_amount",
            "start_date",
            "end_date",
            "audience",
            "target_views",
            "target_reach",
            "target_clicks",
            "target_followers",
            "target_engagement_rate",
            "target_cost_per_result",
        )
        widgets = {
            "start_date": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
            "end_date": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
            "audience": forms.Textarea(attrs={"rows": 3}),
        }

    def __init__(self, *args, account: AdAccount | None = None, accounts=None, **kwargs):
        super().__init__(*args, **kwargs)
        account = account or (self.instance.account if self.instance.pk else None)
        if account is not None and account.is_connected:
            for name in PLATFORM_FIELDS:
                self.fields[name].disabled = True
                self.fields[name].help_text = "Managed on the platform."
        if accounts is not None:
            self.fields["account"] = forms.ModelChoiceField(
                queryset=accounts, label="Account", help_text="Accounts without a platform connection."
            )
            self.order_fields(["account"])

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("start_date"), cleaned.get("end_date")
        if start and end and end < start:
            self.add_error("end_date", "The end date must be on or after the start date.")
        self._check_ranges(cleaned)
        return cleaned

    def _check_ranges(self, cleaned) -> None:
        """What the model's check constraints also hold (issue 16), said next to the field. Fields the platform
        manages (disabled) are the platform's business and not checked here."""
        for name, (low, low_inclusive, high, message) in CAMPAIGN_RANGES.items():
            value = cleaned.get(name)
            if value is None or self.fields[name].disabled:
                continue
            too_low = value < low if low_inclusive else value <= low
            if too_low or (high is not None and value > high):
                self.add_error(name, message)

    def edited_values(self) -> dict:
        return {name: self.cleaned_data[name] for name in self.Meta.fields if not self.fields[name].disabled}


# field: (lowest, lowest allowed?, highest or None, message). The same bounds as Campaign's check constraints.
CAMPAIGN_RANGES = {
    "budget_amount": (0, False, None, "The budget must be more than 0."),
    "target_views": (0, False, None, "A target must be more than 0 (leave it empty for no target)."),
    "target_reach": (0, False, None, "A target must be more than 0 (leave it empty for no target)."),
    "target_clicks": (0, False, None, "A target must be more than 0 (leave it empty for no target)."),
    "target_followers": (0, False, None, "A target must be more than 0 (leave it empty for no target)."),
    "target_engagement_rate": (0, True, 100, "An engagement rate is a percentage from 0 to 100."),
    "target_cost_per_result": (0, True, None, "A cost per result cannot be negative."),
}


DATE_INPUT = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
RIGHTS_FIELDS = ("rights_expire_on", "creator_name")


class ContentRightsCleanMixin:
    """The usage-rights fields checked as `services.content_rights_problems` checks them, said next to the field."""

    def clean(self):
        cleaned = super().clean()
        problems = content_rights_problems(
            expire_on=cleaned.get("rights_expire_on"), creator_name=cleaned.get("creator_name") or ""
        )
        for name, message in problems.items():
            if name in self.fields and name not in self.errors:
                self.add_error(name, message)
        return cleaned


class ContentItemForm(ContentRightsCleanMixin, forms.ModelForm):
    """A content item in the campaign form and the admin, with its usage-rights end date and creator."""

    class Meta:
        model = ContentItem
        fields = ("kind", "title", "url", "platform_id", "state", *RIGHTS_FIELDS)
        widgets = {"rights_expire_on": DATE_INPUT}


class ContentRightsForm(ContentRightsCleanMixin, forms.Form):
    """One item's usage rights on the campaign page (editors and managers)."""

    rights_expire_on = forms.DateField(
        label="Usage rights expire on",
        required=False,
        widget=DATE_INPUT,
        error_messages={"invalid": "Enter the date as YYYY-MM-DD."},
    )
    creator_name = forms.CharField(label="Creator", required=False, max_length=200)


class AccountRightsForm(forms.ModelForm):
    """What happens when content usage rights expire in this account, and how early owners are warned."""

    class Meta:
        model = AdAccount
        fields = ("rights_expiry_action", "rights_warn_days")
        labels = {"rights_expiry_action": "When usage rights expire", "rights_warn_days": "Warn owners"}


ContentItemFormSet = inlineformset_factory(
    Campaign,
    ContentItem,
    form=ContentItemForm,
    fields=ContentItemForm.Meta.fields,
    extra=1,
    can_delete=True,
)


class AnnotationForm(forms.Form):
    """A note on a day of the campaign's timeline (issue 18); the rules are `services.annotation_problems`."""

    day = forms.DateField(label="Day", widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
    text = forms.CharField(
        label="Note",
        max_length=ANNOTATION_TEXT_MAX,
        help_text="Up to 200 characters. Shown on the chart and in the post-close report, shared copies included.",
        widget=forms.TextInput(attrs={"placeholder": "Creator posted", "autocomplete": "off"}),
    )

    def __init__(self, *args, campaign, **kwargs):
        kwargs.setdefault("auto_id", "annotation_%s")
        super().__init__(*args, **kwargs)
        self.campaign = campaign
        self.fields["day"].widget.attrs.update(
            min=(campaign.start_date - dt.timedelta(days=ANNOTATION_DAYS_BEFORE_START)).isoformat(),
            max=annotation_last_day(campaign).isoformat(),
        )
        self.fields["text"].widget.attrs["maxlength"] = ANNOTATION_TEXT_MAX

    def clean(self):
        cleaned = super().clean()
        if "day" in cleaned and "text" in cleaned:
            for field, problem in annotation_problems(
                campaign=self.campaign, day=cleaned["day"], text=cleaned["text"]
            ).items():
                self.add_error(field, problem)
        return cleaned
