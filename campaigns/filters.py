"""The campaign list's filter form. Every filter is optional; an invalid value (a malformed date, an unknown
choice) is reported on the form and ignored, never an error page."""

import django_filters
from django import forms
from django.db.models import Exists, OuterRef, Q

from . import widgets
from .listing import search
from .models import WINDDOWN_STEP_COUNT, Objective, ScheduledAction, ScheduledState, Status
from .selectors import accounts_for_user


def _account_choices(request) -> list[tuple[int, str]]:
    if request is None:
        return []
    return list(accounts_for_user(user=request.user).order_by("name", "pk").values_list("pk", "name"))


class CampaignFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(
        method="filter_search",
        label="Search",
        widget=widgets.TextInput(
            attrs={
                "type": "search",
                "placeholder": "Name or platform id",
                "autocomplete": "off",
                "data-search-input": "",
            }
        ),
    )
    status = django_filters.MultipleChoiceFilter(
        distinct=False,  # a plain `status IN (…)`: no join to duplicate rows, and DISTINCT costs a sort
        choices=Status.choices,
        label="Status",
        widget=forms.CheckboxSelectMultiple,
    )
    objective = django_filters.ChoiceFilter(
        choices=Objective.choices, label="Objective", empty_label="Any", widget=widgets.Select
    )
    # Plain choices (id, name), passed in by the view from the query that loads the user's roles: a
    # ModelChoiceFilter would run one more query per page (issue 9: ≤ 8 queries).
    account = django_filters.ChoiceFilter(
        field_name="account_id", choices=[], label="Account", empty_label="Any", widget=widgets.Select
    )
    date_from = django_filters.DateFilter(
        method="filter_date_from", label="Running from", widget=widgets.DateInput(attrs={"type": "date"})
    )
    date_to = django_filters.DateFilter(
        method="filter_date_to", label="Running to", widget=widgets.DateInput(attrs={"type": "date"})
    )
    scheduled = django_filters.BooleanFilter(
        method="filter_scheduled", label="Has a scheduled action", widget=widgets.CheckboxInput
    )
    winddown_incomplete = django_filters.BooleanFilter(
        method="filter_winddown_incomplete", label="Wind-down incomplete", widget=widgets.CheckboxInput
    )

    def __init__(self, *args, accounts: list[tuple[int, str]] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        choices = _account_choices(self.request) if accounts is None else accounts
        self.filters["account"].extra["choices"] = [(str(pk), name) for pk, name in choices]

    def filter_search(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        # The same match on every database, each by its fastest path (listing/search.py).
        return search.campaigns_matching(queryset, value)

    def filter_date_from(self, queryset, name, value):
        # Campaigns still running on or after the day: no end date, or ending on or after it.
        return queryset.filter(Q(end_date__isnull=True) | Q(end_date__gte=value))

    def filter_date_to(self, queryset, name, value):
        return queryset.filter(start_date__lte=value)

    def filter_scheduled(self, queryset, name, value):
        if not value:
            return queryset
        pending = ScheduledAction.objects.filter(campaign=OuterRef("pk"), state=ScheduledState.PENDING)
        return queryset.filter(Exists(pending))

    def filter_winddown_incomplete(self, queryset, name, value):
        if not value:
            return queryset
        return queryset.filter(winddown_done__lt=WINDDOWN_STEP_COUNT)
