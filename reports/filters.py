import django_filters
from django import forms

from campaigns.models import AdAccount, EndReason, Objective

from .models import CloseReport

DATE_INPUT = forms.DateInput(attrs={"type": "date"})


class ReportFilter(django_filters.FilterSet):
    """Filters of the reports index. `accounts` limits the account choices to the user's own."""

    account = django_filters.ModelChoiceFilter(queryset=AdAccount.objects.none(), empty_label="All accounts")
    end_reason = django_filters.ChoiceFilter(choices=EndReason.choices, empty_label="Any reason", label="End reason")
    objective = django_filters.ChoiceFilter(choices=Objective.choices, empty_label="Any objective")
    ended_after = django_filters.DateFilter(
        field_name="ended_at",
        lookup_expr="date__gte",
        label="Ended from",
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    ended_before = django_filters.DateFilter(
        field_name="ended_at",
        lookup_expr="date__lte",
        label="Ended until",
        widget=forms.DateInput(attrs={"type": "date"}),
    )

    class Meta:
        model = CloseReport
        fields = ["account", "end_reason", "objective", "ended_after", "ended_before"]

    def __init__(self, *args, accounts=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.filters["account"].queryset = accounts if accounts is not None else AdAccount.objects.none()
