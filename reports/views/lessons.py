"""Lessons learned on the report page: shown, edited in place with htmx, and saved as a new revision (also as
a plain form without JavaScript)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods
from django_htmx.http import trigger_client_event

from campaigns.models import Role
from campaigns.selectors import require_role, role_for

from .. import services
from ..forms import LessonsForm
from .common import can_edit, detail_context, lessons_context, report_or_404

PARTIAL = "reports/report_detail.html#lessons"


def lessons_form(lessons, data=None) -> LessonsForm:
    initial = {"base_revision": lessons.pk if lessons else None}
    if lessons:
        initial |= {f: getattr(lessons, f) for f in services.LESSON_FIELDS}
    return LessonsForm(data=data, initial=initial)


@login_required
@require_GET
def lessons_display(request, campaign_id):
    campaign, report = report_or_404(request, campaign_id, page=True)
    if not request.htmx:
        return redirect(reverse("reports:detail", args=[campaign.pk]) + "#lessons")
    role = role_for(user=request.user, account_id=campaign.account_id)
    return render(request, PARTIAL, lessons_context(campaign=campaign, report=report, can_edit=can_edit(role)))


@login_required
@require_http_methods(["GET", "POST"])
def lessons_edit(request, campaign_id):
    campaign, report = report_or_404(request, campaign_id, page=True)
    require_role(user=request.user, account_id=campaign.account_id, role=Role.EDITOR, doing="edit lessons learned")
    detail_url = reverse("reports:detail", args=[campaign.pk])
    if request.method == "GET":
        if not request.htmx:
            return redirect(f"{detail_url}?edit=lessons#lessons")
        context = lessons_context(campaign=campaign, report=report, can_edit=True, editing=True)
        context["form"] = lessons_form(context["lessons"])
        return render(request, PARTIAL, context)

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
            context = lessons_context(campaign=campaign, report=report, can_edit=True, saved_message=text)
            return trigger_client_event(render(request, PARTIAL, context), "lessonsSaved")
    context = lessons_context(
        campaign=campaign, report=report, can_edit=True, editing=True, form=form, form_error=error
    )
    if error:
        # Show the other person's version as the current text; keep what this user typed in the form.
        lessons = context["lessons"]
        context["form"] = LessonsForm(data={**request.POST.dict(), "base_revision": lessons.pk if lessons else ""})
    if request.htmx:
        return render(request, PARTIAL, context)
    role = role_for(user=request.user, account_id=campaign.account_id)
    full = detail_context(request, campaign, report, role) | context
    return render(request, "reports/report_detail.html", full, status=409 if error else 400)
