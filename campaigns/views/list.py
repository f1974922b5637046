"""The campaign list: filters, tabs, sorting, paging and the selection bar."""

from django.contrib.auth.decorators import login_required
from django.http import QueryDict
from django.shortcuts import render
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_GET

from .. import selectors
from ..filters import CampaignFilter
from ..models import Role
from ..services import TRANSITIONS
from ..tables import CampaignTable, KnownCountPaginator
from .common import best_role, int_param

PER_PAGE_CHOICES = (25, 50, 100)


def count_text(n: int, capped: bool) -> str:
    """A tab's or the list's count as the page shows it: "1,234", or "10,000+" when it is a lower bound."""
    return f"{n:,}+" if capped else f"{n:,}"


def filtered_campaigns(request, params: QueryDict, *, accounts: list[tuple[int, str]] | None = None):
    """The list's FilterSet over the user's campaigns for `params`, and the chosen tab ("all" if unknown)."""
    if accounts is None:
        accounts = selectors.list_scope_for_user(user=request.user)[1]
    queryset = selectors.campaigns_list_for_user(
        user=request.user, account_ids=[pk for pk, _ in accounts], text_search=bool(params.get("q", "").strip())
    )
    filterset = CampaignFilter(params, queryset=queryset, request=request, accounts=accounts)
    tab = params.get("tab", "all")
    if tab not in selectors.LIST_TABS:
        tab = "all"
    return filterset, tab


def list_context(request, params: QueryDict) -> dict:
    """Everything the list page shows, from a query string. A constant number of queries whatever the page
    size: roles with the account choices of the filter form, one grouped aggregate (tab counts, row count, footer
    totals), the page of rows, its pending schedules and its status changers."""
    roles, accounts, account_info = selectors.list_scope_for_user(user=request.user)
    filterset, tab = filtered_campaigns(request, params, accounts=accounts)
    filtered = filterset.qs
    summary = selectors.campaigns_list_summary_for_filters(
        queryset=filtered,
        tab=tab,
        account_ids=[pk for pk, _ in accounts],
        filters=filterset.form.cleaned_data,
    )
    rows = filtered if tab == "all" else filtered.filter(status=tab)

    per_page = int_param(params, "per_page", PER_PAGE_CHOICES[0])
    if per_page not in PER_PAGE_CHOICES:
        per_page = PER_PAGE_CHOICES[0]
    list_qs = params.urlencode()
    list_url = reverse("campaigns:list") + (f"?{list_qs}" if list_qs else "")
    table = CampaignTable(
        rows,
        params=params,
        accounts=account_info,
        totals=summary["totals"],
        account_totals=summary["account_totals"],
        # A tab with more matches than the bound gets no sums: the footer says so instead (listing/summary.py).
        totals_capped_at=None if summary["totals_known"] else summary["count"],
        htmx="#table-region",
        roles=roles,
        next_url=list_url,
    )
    table.caption = "Campaigns"
    sort = [key for key in params.getlist("sort") if key]
    if sort:
        table.order_by = sort
    # A unique last key keeps pages stable when the sort column has ties (e.g. status).
    table.data.data = table.data.data.order_by(*table.data.data.query.order_by, "-pk")
    num_pages = max(1, -(-summary["count"] // per_page))
    page = min(max(int_param(params, "page", 1), 1), num_pages)
    capped = tab in summary["capped"]  # past the bound: the pages reach the first `count` rows, no further
    if capped and not summary["count"]:
        table.empty_text = (
            f"None of the first {summary['tab_counts']['all']:,} matching campaigns is in this tab: "
            "narrow the search or the filters to find the rest."
        )
    window = None  # unsorted (newest first), a search on SQLite: the page straight from the FTS index (selectors)
    if not sort:
        window = selectors.campaigns_list_search_window(
            account_ids=[pk for pk, _ in accounts], filters=filterset.form.cleaned_data, tab=tab
        )
    table.paginate(
        paginator_class=KnownCountPaginator,
        per_page=per_page,
        page=page,
        count=summary["count"],
        capped=capped,
        window=window,
    )

    best = best_role(roles)
    return {
        "table": table,
        "filter": filterset,
        "tab": tab,
        "tabs": [(key, label, summary["tab_counts"][key]) for key, label in selectors.LIST_TABS.items()],
        # The same, as the tabs show them ("10,000+" for a lower bound).
        "tab_links": [
            (key, label, count_text(summary["tab_counts"][key], key in summary["capped"]))
            for key, label in selectors.LIST_TABS.items()
        ],
        "count": summary["count"],
        "count_text": count_text(summary["count"], capped),
        "capped": capped,
        "params": params,
        "per_page": per_page,
        "per_page_choices": PER_PAGE_CHOICES,
        "list_qs": list_qs,
        "list_url": list_url,
        # The selection bar offers what the user's best role may do; the service re-checks every campaign.
        "allowed_actions": [a for a, rule in TRANSITIONS.items() if best and best.allows(rule.role)],
        "can_create": best is not None and best.allows(Role.MANAGER),
        "page_count": max(0, min(per_page, summary["count"] - (page - 1) * per_page)),
        "sort_keys": [str(key) for key in table.order_by] if sort else [],
    }


@login_required
@require_GET
def campaign_list(request):
    context = list_context(request, request.GET)
    if request.htmx and request.htmx.target == "table-region" and not request.htmx.history_restore_request:
        response = render(request, "campaigns/campaign_list.html#table-region", context)
    else:
        response = render(request, "campaigns/campaign_list.html", context)
    patch_vary_headers(response, ["HX-Request"])
    return response
