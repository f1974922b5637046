"""Report pages. Thin: scoping through selectors, writes through services, formatting in presenters."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.text import slugify
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import trigger_client_event
from django_tables2 import RequestConfig

from campaigns.forms import IdsField
from campaigns.models import Role
from campaigns.selectors import campaign_get_for_user, require_role, role_for

from . import exports, selectors, services
from .filters import ReportFilter
from .forms import LessonsForm
from .presenters import report_body, since_close
from .tables import ReportIndexTable
from .views_sharing import sharing_context as _sharing_context  # issue 5


@login_required
@require_GET
def report_index(request):
    queryset = selectors.report_index_queryset(user=request.user)
    report_filter = ReportFilter(request.GET, queryset=queryset, accounts=selectors.accounts_choices(user=request.user))
    table = ReportIndexTable(report_filter.qs)
    # Sort keys from the query string; a fixed page size (a `per_page` of 0 or -1 from the URL broke paging) and
    # a page number that falls back to the first or last page.
    RequestConfig(request, paginate=False).configure(table)
    table.paginate(per_page=50)
    table.page = table.paginator.get_page(request.GET.get("page"))
    template = "reports/report_index.html#reports-table" if request.htmx else "reports/report_index.html"
    return render(request, template, {"filter": report_filter, "table": table})


def _detail_context(request, campaign, report, role):
    lessons, revisions = selectors.lessons_for_report(report=report)
    return {
        "campaign": campaign,
        "report": report,
        "role": role,
        "can_edit": role is not None and role.allows(Role.EDITOR),
        "body": report_body(snapshot=report.snapshot, request=request),
        "since_close": since_close(snapshot=report.snapshot, campaign=campaign),
        "comparison": selectors.report_comparison(report=report),
        "lessons": lessons,
        "revisions": revisions,
    } | _sharing_context(request=request, report=report, role=role)  # issue 5


@login_required
@require_GET
def report_detail(request, campaign_id):
    campaign = campaign_get_for_user(user=request.user, pk=campaign_id)
    role = role_for(user=request.user, account_id=campaign.account_id)
    report = selectors.report_for_campaign(campaign=campaign)
    if report is None:
        return render(
            request,
            "reports/report_pending.html",
            {"campaign": campaign, "can_build": role is not None and role.allows(Role.MANAGER)},
        )
    context = _detail_context(request, campaign, report, role)
    context["editing"] = request.GET.get("edit") == "lessons" and context["can_edit"]
    if context["editing"]:
        context["form"] = _lessons_form(context["lessons"])
    return render(request, "reports/report_detail.html", context)


@login_required
@require_POST
def report_build(request, campaign_id):
    campaign = campaign_get_for_user(user=request.user, pk=campaign_id)
    require_role(user=request.user, account_id=campaign.account_id, role=Role.MANAGER, doing="build reports")
    if services.report_create(campaign=campaign) is None:
        messages.error(request, f"“{campaign.name}” has not ended, so there is no report to build yet.")
    else:
        messages.success(request, "The report is ready.")
    return redirect("reports:detail", campaign_id=campaign.pk)


def _report_or_404(request, campaign_id):
    campaign = campaign_get_for_user(user=request.user, pk=campaign_id)
    report = selectors.report_for_campaign(campaign=campaign)
    if report is None:
        from django.http import Http404

        raise Http404("This campaign has no report yet.")
    return campaign, report


def _lessons_form(lessons, data=None):
    initial = {"base_revision": lessons.pk if lessons else None}
    if lessons:
        initial |= {f: getattr(lessons, f) for f in services.LESSON_FIELDS}
    return LessonsForm(data=data, initial=initial)


@login_required
@require_GET
def lessons_display(request, campaign_id):
    campaign, report = _report_or_404(request, campaign_id)
    if not request.htmx:
        return redirect(reverse("reports:detail", args=[campaign.pk]) + "#lessons")
    role = role_for(user=request.user, account_id=campaign.account_id)
    lessons, revisions = selectors.lessons_for_report(report=report)
    return render(
        request,
        "reports/report_detail.html#lessons",
        {
            "campaign": campaign,
            "report": report,
            "lessons": lessons,
            "revisions": revisions,
            "can_edit": role is not None and role.allows(Role.EDITOR),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def lessons_edit(request, campaign_id):
    campaign, report = _report_or_404(request, campaign_id)
    require_role(user=request.user, account_id=campaign.account_id, role=Role.EDITOR, doing="edit lessons learned")
    detail_url = reverse("reports:detail", args=[campaign.pk])
    if request.method == "GET":
        if not request.htmx:
            return redirect(f"{detail_url}?edit=lessons#lessons")
        lessons, revisions = selectors.lessons_for_report(report=report)
        return render(
            request,
            "reports/report_detail.html#lessons",
            {
                "campaign": campaign,
                "report": report,
                "lessons": lessons,
                "revisions": revisions,
                "can_edit": True,
                "editing": True,
                "form": _lessons_form(lessons),
            },
        )

    form = LessonsForm(request.POST)
    error = None
    if form.is_valid():
        try:
            revision = services.lessons_save(
                report=report,
                author=request.user,
                base_revision_id=form.cleaned_data["base_revision"],
                **{f: form.cleaned_data[f] for f in services.LESSON_FIELDS},
            )
        except services.ReportError as exc:
            error = str(exc)
        else:
            text = "Lessons saved." if revision else "No changes to save."
            if not request.htmx:
                messages.success(request, text)
                return redirect(f"{detail_url}#lessons")
            lessons, revisions = selectors.lessons_for_report(report=report)
            response = render(
                request,
                "reports/report_detail.html#lessons",
                {
                    "campaign": campaign,
                    "report": report,
                    "lessons": lessons,
                    "revisions": revisions,
                    "can_edit": True,
                    "saved_message": text,
                },
            )
            return trigger_client_event(response, "lessonsSaved")
    lessons, revisions = selectors.lessons_for_report(report=report)
    context = {
        "campaign": campaign,
        "report": report,
        "lessons": lessons,
        "revisions": revisions,
        "can_edit": True,
        "editing": True,
        "form": form,
        "form_error": error,
    }
    if error:
        # Show the other person's version as the current text; keep what this user typed in the form.
        context["form"] = LessonsForm(data={**request.POST.dict(), "base_revision": lessons.pk if lessons else ""})
    if request.htmx:
        return render(request, "reports/report_detail.html#lessons", context)
    role = role_for(user=request.user, account_id=campaign.account_id)
    full = _detail_context(request, campaign, report, role) | context
    return render(request, "reports/report_detail.html", full, status=409 if error else 400)


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


def _csv_response(campaign_name: str, suffix: str, header, rows) -> StreamingHttpResponse:
    response = StreamingHttpResponse(exports.csv_stream(header, rows), content_type="text/csv; charset=utf-8")
    name = slugify(campaign_name) or "campaign"
    response["Content-Disposition"] = f'attachment; filename="{name}-{suffix}.csv"'
    return response


@login_required
@require_GET
def export_daily_csv(request, campaign_id):
    campaign, report = _report_or_404(request, campaign_id)
    header, rows = exports.daily_rows(report.snapshot)
    return _csv_response(report.campaign_name, "daily", header, rows)


@login_required
@require_GET
def export_content_csv(request, campaign_id):
    campaign, report = _report_or_404(request, campaign_id)
    header, rows = exports.content_rows(report.snapshot)
    return _csv_response(report.campaign_name, "content", header, rows)


@login_required
@require_GET
def export_metrics_csv(request, campaign_id):
    campaign = campaign_get_for_user(user=request.user, pk=campaign_id)
    header, rows = exports.raw_metric_rows(campaign_id=campaign.pk)
    return _csv_response(campaign.name, "all-metric-rows", header, rows)


@login_required
@require_GET
def export_pdf(request, campaign_id):
    campaign, report = _report_or_404(request, campaign_id)
    response = HttpResponse(services.report_pdf_bytes(report=report), content_type="application/pdf")
    name = slugify(report.campaign_name) or "campaign"
    response["Content-Disposition"] = f'attachment; filename="{name}-report.pdf"'
    return response
