"""Notes on a campaign's timeline (issue 18): add, edit and remove, from the campaign page's "Timeline notes"
panel (`campaigns/includes/annotations.html`). Plain POST forms that redirect back to the page; with htmx the panel
is swapped in place and the chart is told its new markers (`annotationsChanged`). Thin: every rule is in
`services.annotations`."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect, render
from django.template.response import TemplateResponse
from django.urls import reverse
from django.views.decorators.http import require_POST
from django_htmx.http import trigger_client_event

from .. import charts, selectors, selectors_annotations, services
from ..forms import AnnotationForm
from ..models import Annotation

PANEL = "campaigns/includes/annotations.html#annotations-panel"
CHART_ID = "daily-chart"  # the campaign page's chart (`campaign_detail.html`)


def chart_markers(*, days, timeline) -> list[dict]:
    """The campaign chart's markers (`charts.marker_items`) from the timeline."""
    return charts.marker_items(days, [(m.day, m.label, m.kind) for m in timeline])


def annotations_context(request, campaign, *, role, timeline, form=None, message="") -> dict:
    """What the panel needs: the numbered markers (numbers as on the chart), what the user may change, the form."""
    can_add = services.annotation_can_add(role=role)
    rows = [
        {
            "number": number,
            "marker": marker,
            "can_change": marker.annotation is not None
            and services.annotation_can_change(annotation=marker.annotation, user=request.user, role=role),
        }
        for number, marker in enumerate(timeline, start=1)
    ]
    if form is None and can_add:
        form = AnnotationForm(campaign=campaign)
        if message:  # after a note was added in place (htmx): the keyboard stays in the form, ready for the next
            form.fields["text"].widget.attrs["autofocus"] = True
    return {
        "campaign": campaign,
        "timeline_rows": rows,
        "can_annotate": can_add,
        "annotation_form": form if can_add else None,
        "annotation_message": message,
    }


def _done(request, campaign, message: str):
    if not request.htmx:
        messages.success(request, message)
        return redirect(reverse("campaigns:detail", args=[campaign.pk]) + "#annotations")
    return _panel(request, campaign, message=message, changed=True)


def _panel(request, campaign, *, form=None, message="", changed=False):
    role = selectors.role_for(user=request.user, account_id=campaign.account_id)
    timeline = selectors_annotations.campaign_timeline(campaign=campaign)
    context = annotations_context(request, campaign, role=role, timeline=timeline, form=form, message=message)
    response = TemplateResponse(request, PANEL, context)
    if changed:
        days = [m.date for m in selectors.campaign_daily_series(campaign=campaign)]
        trigger_client_event(
            response, "annotationsChanged", {"chart": CHART_ID, "markers": chart_markers(days=days, timeline=timeline)}
        )
    return response


def _invalid(request, campaign, form):
    if request.htmx:
        return _panel(request, campaign, form=form)
    from .detail import detail_context  # the page's own context (detail imports this module)

    context = detail_context(request, campaign, annotation_form=form)
    return render(request, "campaigns/campaign_detail.html", context, status=400)


def _note(campaign, note_pk) -> Annotation:
    return get_object_or_404(Annotation.objects.select_related("campaign__account"), pk=note_pk, campaign=campaign)


@login_required
@require_POST
def annotation_add(request, pk):
    campaign = selectors.campaign_get_for_user(user=request.user, pk=pk)
    form = AnnotationForm(request.POST, campaign=campaign)
    if not services.annotation_can_add(role=selectors.role_for(user=request.user, account_id=campaign.account_id)):
        raise PermissionDenied("You need the editor role in this account to add notes.")
    if not form.is_valid():
        return _invalid(request, campaign, form)
    try:
        note = services.annotation_create(
            campaign=campaign, actor=request.user, day=form.cleaned_data["day"], text=form.cleaned_data["text"]
        )
    except services.NotPermitted as exc:
        raise PermissionDenied(str(exc)) from exc
    except services.AnnotationInvalid as exc:
        for field, problem in exc.problems.items():
            form.add_error(field, problem)
        return _invalid(request, campaign, form)
    return _done(request, campaign, f"Note added for {note.day:%-d %b %Y}: “{note.text}”.")


@login_required
@require_POST
def annotation_edit(request, pk, note_pk):
    campaign = selectors.campaign_get_for_user(user=request.user, pk=pk)
    note = _note(campaign, note_pk)
    role = selectors.role_for(user=request.user, account_id=campaign.account_id)
    if not services.annotation_can_change(annotation=note, user=request.user, role=role):
        raise PermissionDenied("Only the note's author or a manager of this account can change it.")
    form = AnnotationForm(request.POST, campaign=campaign)
    changed, problems = False, ""
    if form.is_valid():
        try:
            changed = services.annotation_edit(
                annotation=note, actor=request.user, day=form.cleaned_data["day"], text=form.cleaned_data["text"]
            )
        except services.NotPermitted as exc:
            raise PermissionDenied(str(exc)) from exc
        except services.AnnotationInvalid as exc:
            problems = str(exc)
    else:
        problems = " ".join(str(e) for errors in form.errors.values() for e in errors)
    if problems:
        text = f"The note for {note.day:%-d %b %Y} was not changed. {problems}"
        if request.htmx:
            return _panel(request, campaign, message=text)
        messages.error(request, text)
        return redirect(reverse("campaigns:detail", args=[campaign.pk]) + "#annotations")
    if not changed:
        return _done(request, campaign, "The note was already like that: nothing changed.")
    return _done(request, campaign, f"Note for {note.day:%-d %b %Y} saved: “{note.text}”.")


@login_required
@require_POST
def annotation_delete(request, pk, note_pk):
    campaign = selectors.campaign_get_for_user(user=request.user, pk=pk)
    note = _note(campaign, note_pk)
    try:
        services.annotation_delete(annotation=note, actor=request.user)
    except services.NotPermitted as exc:
        raise PermissionDenied(str(exc)) from exc
    return _done(request, campaign, f"Note for {note.day:%-d %b %Y} removed: “{note.text}”.")
