"""The reports list (filters, sort, pick reports to compare) and the side-by-side comparison."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.views.decorators.http import require_GET
from django_tables2 import RequestConfig

from campaigns.forms import IdsField

from .. import selectors
from ..filters import ReportFilter
from ..presenters import report_body
from ..tables import ReportIndexTable


@login_required
@require_GET
def report_index(request):
    queryset = selectors.report_index_queryset(user=request.user)
    accounts = selectors.accounts_choices(user=request.user)
    report_filter = ReportFilter(request.GET, queryset=queryset, accounts=accounts)
    table = ReportIndexTable(report_filter.qs)
    # Sort keys from the query string; a fixed page size (a `per_page` of 0 or -1 from the URL broke paging) and
    # a page number that falls back to the first or last page.
    RequestConfig(request, paginate=False).configure(table)
    table.paginate(per_page=50)
    table.page = table.paginator.get_page(request.GET.get("page"))
    template = "reports/report_index.html#reports-table" if request.htmx else "reports/report_index.html"
    # The accounts' recipient lists (issue 18) are linked from here: campaigns' Accounts page cannot name reports.
    context = {"filter": report_filter, "table": table, "accounts": accounts}
    return render(request, template, context)


@login_required
@require_GET
def report_compare(request):
    raw = ",".join(request.GET.getlist("ids"))
    # Not str.isdigit(): it accepts "²" (int() fails) and ids beyond 64 bits (the database query fails).
    ids = IdsField().to_python(raw.replace(" ", "").split(","))
    if len(ids) > selectors.MAX_COMPARE:
        messages.warning(request, f"At most {selectors.MAX_COMPARE} reports can be compared; showing the first four.")
    reports = selectors.reports_for_compare(user=request.user, campaign_ids=ids)
    columns = [{"report": r, "body": report_body(snapshot=r.snapshot)} for r in reports]
    return render(request, "reports/report_compare.html", {"columns": columns, "asked": len(ids)})
