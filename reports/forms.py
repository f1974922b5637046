import datetime as dt

from django import forms
from django.core.validators import validate_email
from django.utils import timezone

from .models import AccentText, Feedback, FeedbackRole, LessonRevision, RecipientRole
from .services import branding
from .services.feedback import EMAIL_SPLIT, FEEDBACK_REQUEST_MAX_EMAILS


class LessonsForm(forms.ModelForm):
    base_revision = forms.IntegerField(required=False, widget=forms.HiddenInput)

    class Meta:
        model = LessonRevision
        fields = ["what_worked", "what_to_change", "next_steps"]
        labels = {
            "what_worked": "What worked",
            "what_to_change": "What to change",
            "next_steps": "Next steps",
        }
        help_texts = {
            "what_worked": "Keep doing this next time.",
            "what_to_change": "What should the next promotion do differently?",
            "next_steps": "Who does what before the next campaign?",
        }
        widgets = {f: forms.Textarea(attrs={"rows": 4, "maxlength": 5000}) for f in fields}


# --- Sharing and feedback (issue 5) ---

EXPIRY_CHOICES = [("1", "In 1 day"), ("7", "In 7 days"), ("30", "In 30 days"), ("date", "On a date"), ("", "Never")]


class _ExpiryMixin:
    def clean(self):
        data = super().clean()
        choice = data.get("expiry")
        data["expires_at"] = None
        if choice in ("1", "7", "30"):
            data["expires_at"] = timezone.now() + dt.timedelta(days=int(choice))
        elif choice == "date":
            day = data.get("expires_on")
            if day is None:
                self.add_error("expires_on", "Pick the last day the link should work.")
            elif day < timezone.localdate():
                self.add_error("expires_on", "Pick today or a later day.")
            else:
                end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time.min)
                data["expires_at"] = timezone.make_aware(end)
        return data


class ShareLinkForm(_ExpiryMixin, forms.Form):
    label = forms.CharField(
        max_length=120, label="Who is it for?", help_text="For example “Brand team at Acme” (only you see this)."
    )
    expiry = forms.ChoiceField(choices=EXPIRY_CHOICES, required=False, initial="30", label="Expires")
    expires_on = forms.DateField(
        required=False, label="Last day", widget=forms.DateInput(attrs={"type": "date"}), help_text="If “On a date”."
    )
    password = forms.CharField(
        required=False,
        min_length=8,
        max_length=128,
        strip=False,
        label="Password (optional)",
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text="At least 8 characters. Send it separately from the link.",
    )
    allow_feedback = forms.BooleanField(required=False, initial=True, label="Allow feedback")
    show_team_notes = forms.BooleanField(
        required=False,
        initial=False,
        label="Show team notes (lessons learned)",
        help_text="Also shows who paused and ended the campaign, and the note given when it ended.",
    )

    # The cleaned fields that become the link's options (`services.share_link_create` arguments).
    LINK_OPTIONS = ("label", "expires_at", "password", "allow_feedback", "show_team_notes")

    def link_options(self) -> dict:
        return {name: self.cleaned_data[name] for name in self.LINK_OPTIONS}


class FeedbackRequestForm(_ExpiryMixin, forms.Form):
    role = forms.ChoiceField(choices=FeedbackRole.choices, label="Ask feedback from")
    label = forms.CharField(max_length=120, required=False, label="Label (optional)")
    expiry = forms.ChoiceField(choices=EXPIRY_CHOICES, required=False, initial="30", label="Expires")
    expires_on = forms.DateField(required=False, label="Last day", widget=forms.DateInput(attrs={"type": "date"}))
    emails = forms.CharField(
        required=False,
        max_length=5000,
        label="Email addresses (optional)",
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Separated by commas or new lines, at most 50. Leave empty to send the invitation yourself.",
    )

    def clean_emails(self):
        raw = [e for e in EMAIL_SPLIT.split(self.cleaned_data["emails"]) if e]
        emails = list(dict.fromkeys(e.lower() for e in raw))
        if len(emails) > FEEDBACK_REQUEST_MAX_EMAILS:
            raise forms.ValidationError(
                f"At most {FEEDBACK_REQUEST_MAX_EMAILS} addresses at once ({len(emails)} given)."
            )
        bad = []
        for email in emails:
            try:
                validate_email(email)
            except forms.ValidationError:
                bad.append(email)
        if bad:
            raise forms.ValidationError("Not an email address: " + ", ".join(bad[:5]) + ("…" if len(bad) > 5 else ""))
        return emails


class FeedbackForm(forms.ModelForm):
    # Honeypot: hidden from people (CSS and aria-hidden), filled in by naive bots.
    website = forms.CharField(required=False, label="Leave this empty", max_length=200)
    rating = forms.TypedChoiceField(
        choices=[(i, str(i)) for i in range(1, 6)], coerce=int, widget=forms.RadioSelect, label="Overall rating (1–5)"
    )
    would_take_part_again = forms.TypedChoiceField(
        choices=[("yes", "Yes"), ("no", "No")],
        coerce=lambda v: v == "yes",
        widget=forms.RadioSelect,
        label="Would you take part again?",
    )

    class Meta:
        model = Feedback
        fields = ["role", "name", "rating", "what_worked", "what_to_improve", "would_take_part_again", "comment"]
        labels = {
            "role": "You are a…",
            "name": "Your name (optional)",
            "what_worked": "What went well?",
            "what_to_improve": "What should we improve?",
            "comment": "Anything else?",
        }
        widgets = {
            "role": forms.RadioSelect,
            "name": forms.TextInput(attrs={"maxlength": 80, "autocomplete": "name"}),
            **{f: forms.Textarea(attrs={"rows": 3, "maxlength": 2000}) for f in ("what_worked", "what_to_improve")},
            "comment": forms.Textarea(attrs={"rows": 3, "maxlength": 2000}),
        }

    def __init__(self, *args, prefix_id: str = "fb", **kwargs):
        super().__init__(*args, auto_id=f"{prefix_id}-%s", **kwargs)
        self.fields["role"].choices = FeedbackRole.choices
        self.fields["website"].widget.attrs.update({"tabindex": "-1", "autocomplete": "off"})

    @property
    def is_spam(self) -> bool:
        return bool(self.data.get("website"))


# --- Delivery (issue 18) ---


class RecipientForm(forms.Form):
    email = forms.EmailField(label="Email address", max_length=254)
    name = forms.CharField(label="Name", max_length=120, required=False)
    role = forms.ChoiceField(label="Role", choices=RecipientRole.choices, initial=RecipientRole.STAKEHOLDER)


# --- Branding (issue 18) ---


class BrandingForm(forms.Form):
    """The account's branding. The accent's contrast and the logo are checked by the service's own rules
    (`branding.accent_check`, `branding.logo_prepare`), so the page and the admin refuse the same things."""

    display_name = forms.CharField(
        label="Display name", max_length=80, help_text="Shown in place of Closeout on shared reports, PDFs and emails."
    )
    accent_color = forms.CharField(
        label="Accent colour",
        max_length=20,
        required=False,
        help_text="#rrggbb, e.g. #0b63c4: the header band and buttons. Empty: Closeout’s colours.",
        widget=forms.TextInput(attrs={"placeholder": "#0b63c4", "spellcheck": "false", "autocomplete": "off"}),
    )
    accent_text = forms.ChoiceField(
        label="Text on the accent",
        choices=AccentText.choices,
        initial=AccentText.LIGHT,
        widget=forms.RadioSelect,
        help_text="Must reach WCAG AA contrast (4.5:1) on the accent colour.",
    )
    footer_text = forms.CharField(
        label="Footer", max_length=300, required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    logo = forms.FileField(
        label="Logo",
        required=False,
        help_text="PNG, JPEG or WebP, up to 2 MB and 4,000 px a side. Stored as a clean PNG (metadata removed).",
        widget=forms.FileInput(attrs={"accept": "image/png,image/jpeg,image/webp"}),
    )
    remove_logo = forms.BooleanField(label="Remove the current logo", required=False)

    def clean_logo(self):
        upload = self.cleaned_data.get("logo")
        if not upload:
            return None
        try:
            return branding.logo_prepare(upload)
        except branding.BrandingError as exc:
            raise forms.ValidationError(str(exc)) from None

    def clean(self):
        data = super().clean()
        if "accent_color" in data and "accent_text" in data:
            try:
                data["accent_color"] = branding.accent_check(
                    accent_color=data["accent_color"], accent_text=data["accent_text"]
                )
            except branding.BrandingError as exc:
                self.add_error("accent_color", str(exc))
        return data
