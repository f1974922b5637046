"""The rule form: fields in the words of the page; checked by the service's own `rule_problems`, so the form and
the service (and the admin) refuse the same rules."""

from django import forms

from ..models import Campaign, EndReason, Objective, Rule, RuleAction, RuleCondition, RuleScope
from .conditions import CONDITION_FIELDS
from .services import RULE_FIELDS, rule_problems


def shown_when() -> dict[str, tuple[str, list[str]]]:
    """{field: (the control it depends on, the values that make it apply)}."""
    needing = {
        field: [str(c) for c, fields in CONDITION_FIELDS.items() if field in fields]
        for field in ("threshold", "days", "impressions")
    }
    return {
        **{field: ("condition", conditions) for field, conditions in needing.items()},
        "end_reason": ("action", [RuleAction.END.value]),
        "end_note": ("action", [RuleAction.END.value]),
        "objective": ("scope", [RuleScope.OBJECTIVE.value]),
        "campaigns": ("scope", [RuleScope.CHOSEN.value]),
    }


class RuleForm(forms.ModelForm):
    condition = forms.ChoiceField(choices=RuleCondition.choices, label="When")
    threshold = forms.DecimalField(
        required=False,
        min_value=0,
        max_digits=10,
        decimal_places=2,
        label="Threshold",
        help_text="Budget share and CTR: a percentage (90 for 90 %). "
        "Daily overspend: a factor (1.5 for 1.5 × the daily budget).",
    )
    days = forms.IntegerField(
        required=False, min_value=1, max_value=90, label="Days", help_text="For “N days in a row” and “no impressions”."
    )
    impressions = forms.IntegerField(
        required=False, min_value=1, label="After impressions", help_text="For CTR: judge it after this many."
    )
    action = forms.ChoiceField(
        choices=RuleAction.choices,
        initial=RuleAction.NOTIFY,
        widget=forms.RadioSelect,
        label="Then",
        help_text="Start with “Notify only” to see how the rule behaves.",
    )
    end_reason = forms.ChoiceField(
        choices=[("", "—"), *EndReason.choices], required=False, label="End reason", help_text="Only for “End”."
    )
    end_note = forms.CharField(required=False, max_length=500, label="End note")
    scope = forms.ChoiceField(choices=RuleScope.choices, initial=RuleScope.ALL, widget=forms.RadioSelect, label="For")
    objective = forms.ChoiceField(choices=[("", "—"), *Objective.choices], required=False, label="Objective")
    campaigns = forms.ModelMultipleChoiceField(
        queryset=Campaign.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Chosen campaigns",
    )
    guard_impressions = forms.IntegerField(
        min_value=0, initial=0, label="No action before impressions", help_text="0: no impressions guard."
    )
    guard_days = forms.IntegerField(
        min_value=0, max_value=90, initial=0, label="No action in the first days", help_text="Learning phase; 0: none."
    )

    class Meta:
        model = Rule
        fields = [*RULE_FIELDS, "campaigns"]

    field_order = [*RULE_FIELDS[: RULE_FIELDS.index("objective") + 1], "campaigns", "guard_impressions", "guard_days"]

    def __init__(self, *args, account, **kwargs):
        super().__init__(*args, **kwargs)
        self.account = account
        self.fields["campaigns"].queryset = (
            Campaign.objects.filter(account=account).exclude(status="ended").order_by("name")
        )
        self.fields["name"].help_text = "Shown in the history: “Paused by rule <name>”."
        # With JavaScript a field shows only when it applies (`data-shown-when`, static/js/app.js); without, all do.
        for name, (control, values) in shown_when().items():
            self.fields[name].shown_when = f"{control}:{','.join(values)}"

    def clean(self):
        cleaned = super().clean()
        rule = self.rule_unsaved()
        for field, problem in rule_problems(rule, campaign_ids=self.campaign_ids()).items():
            if field in self.fields and field not in self.errors:
                self.add_error(field, problem)
        return cleaned

    def values(self) -> dict:
        data = self.cleaned_data
        values = {f: data.get(f) for f in RULE_FIELDS}
        for text in ("end_reason", "end_note", "objective", "name"):
            values[text] = values[text] or ""
        for count in ("guard_impressions", "guard_days"):
            values[count] = values[count] or 0
        return values

    def campaign_ids(self) -> list[int]:
        return [c.pk for c in self.cleaned_data.get("campaigns") or []]

    def rule_unsaved(self) -> Rule:
        """A Rule with the form's values, not saved: what the preview replays."""
        return Rule(pk=self.instance.pk, account=self.account, **self.values())
