"""Timeline notes (issue 18): who may add, change and remove them, the audit, the merged timeline (status changes
and rule actions without a note of their own), the chart's markers and the page's query count."""

import datetime as dt
import json
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from campaigns import selectors_annotations, services
from campaigns.models import Action, Annotation, Role, Source, StatusChange
from tests.conftest import _member
from tests.factories import DailyMetricFactory


def _add(client, campaign, *, day, text, htmx=False):
    headers = {"HX-Request": "true"} if htmx else {}
    return client.post(
        reverse("campaigns:annotation_add", args=[campaign.pk]), {"day": day.isoformat(), "text": text}, headers=headers
    )


def _chart(html: str) -> dict:
    match = re.search(r'<script id="daily-chart" type="application/json">(.*?)</script>', html, re.S)
    assert match, "the campaign page has no chart data"
    return json.loads(match.group(1))


@pytest.fixture
def metrics(campaign):
    """Ten days of metrics ending yesterday, so the chart is drawn."""
    today = dt.date.today()
    for i in range(1, 11):
        DailyMetricFactory(campaign=campaign, date=today - dt.timedelta(days=i))
    return [today - dt.timedelta(days=i) for i in range(10, 0, -1)]


def test_editor_adds_a_note_it_shows_on_the_page_and_is_audited(campaign, editor, login):
    client = login(editor)
    day = dt.date.today() - dt.timedelta(days=3)
    response = _add(client, campaign, day=day, text="Creator posted")
    assert response.status_code == 302 and response["Location"].endswith("#annotations")
    note = Annotation.objects.get(campaign=campaign)
    assert (note.day, note.text, note.author) == (day, "Creator posted", editor)
    audit = StatusChange.objects.get(campaign=campaign, action=Action.EDIT)
    assert (
        audit.actor == editor and audit.details["annotation"] == "added" and audit.details["text"] == "Creator posted"
    )
    page = client.get(reverse("campaigns:detail", args=[campaign.pk])).content.decode()
    assert f"Note added for {day:%-d %b %Y}: “Creator posted”." in page  # the message
    assert "Creator posted" in page.split('id="annotations"')[1]
    assert f"Note added by eddie-editor for {day.day} {day:%b %Y}" in page  # the history says who


def test_manager_adds_a_note(campaign, manager, login):
    response = _add(login(manager), campaign, day=dt.date.today(), text="Paused for budget review")
    assert response.status_code == 302
    assert Annotation.objects.filter(campaign=campaign, author=manager).exists()


def test_viewer_cannot_add_a_note_and_sees_no_form(campaign, viewer, login):
    client = login(viewer)
    response = _add(client, campaign, day=dt.date.today(), text="Sneaky")
    assert response.status_code == 403
    assert not Annotation.objects.exists()
    page = client.get(reverse("campaigns:detail", args=[campaign.pk])).content.decode()
    assert "Add a note" not in page and "Editors and managers of Acme Beauty add notes." in page


def test_stranger_cannot_add_a_note(campaign, outsider, login):
    assert _add(login(outsider), campaign, day=dt.date.today(), text="Hello").status_code == 404
    assert not Annotation.objects.exists()


def test_note_too_long_or_off_the_timeline_is_refused_with_a_message(campaign, editor, login):
    client = login(editor)
    response = _add(client, campaign, day=dt.date.today(), text="x" * 201)
    assert response.status_code == 400
    assert "The note was not added." in response.content.decode()
    response = _add(client, campaign, day=campaign.start_date - dt.timedelta(days=400), text="Long ago")
    assert response.status_code == 400 and "Choose a day between" in response.content.decode()
    assert not Annotation.objects.exists()


def test_author_edits_and_removes_their_note_audited(campaign, editor, login):
    client = login(editor)
    note = services.annotation_create(campaign=campaign, actor=editor, day=dt.date.today(), text="Creator posted")
    day = dt.date.today() - dt.timedelta(days=1)
    url = reverse("campaigns:annotation_edit", args=[campaign.pk, note.pk])
    assert client.post(url, {"day": day.isoformat(), "text": "Creator posted twice"}).status_code == 302
    note.refresh_from_db()
    assert (note.day, note.text) == (day, "Creator posted twice")
    client.post(reverse("campaigns:annotation_delete", args=[campaign.pk, note.pk]))
    assert not Annotation.objects.exists()
    ops = list(
        StatusChange.objects.filter(campaign=campaign, action=Action.EDIT)
        .order_by("id")
        .values_list("details__annotation", flat=True)
    )
    assert ops == ["added", "edited", "removed"]
    edited = StatusChange.objects.get(details__annotation="edited")
    assert edited.details["was"]["text"] == "Creator posted"


def test_another_editor_cannot_change_a_note_but_a_manager_can(campaign, editor, manager, account, login):
    other = _member(account, Role.EDITOR, "erin-editor")
    note = services.annotation_create(campaign=campaign, actor=editor, day=dt.date.today(), text="Creator posted")
    url = reverse("campaigns:annotation_edit", args=[campaign.pk, note.pk])
    delete = reverse("campaigns:annotation_delete", args=[campaign.pk, note.pk])
    client = login(other)
    assert client.post(url, {"day": note.day.isoformat(), "text": "Mine now"}).status_code == 403
    assert client.post(delete).status_code == 403
    client = login(manager)
    assert client.post(url, {"day": note.day.isoformat(), "text": "Fixed by the manager"}).status_code == 302
    note.refresh_from_db()
    assert note.text == "Fixed by the manager"
    assert client.post(delete).status_code == 302 and not Annotation.objects.exists()


def test_viewer_cannot_remove_a_note(campaign, editor, viewer, login):
    note = services.annotation_create(campaign=campaign, actor=editor, day=dt.date.today(), text="Creator posted")
    assert login(viewer).post(reverse("campaigns:annotation_delete", args=[campaign.pk, note.pk])).status_code == 403
    assert Annotation.objects.filter(pk=note.pk).exists()


def test_service_refuses_a_viewer(campaign, viewer):
    with pytest.raises(services.NotPermitted):
        services.annotation_create(campaign=campaign, actor=viewer, day=dt.date.today(), text="Nope")


def test_status_change_and_rule_action_are_markers_without_a_note(campaign, manager):
    services.campaign_transition(campaign=campaign, action=Action.PAUSE, actor=manager, source=Source.UI)
    services.campaigns_transition(campaign_ids=[campaign.pk], action=Action.RESUME, actor=manager, source=Source.UI)
    services.campaigns_transition(
        campaign_ids=[campaign.pk],
        action=Action.PAUSE,
        actor=None,
        source=Source.RULE,
        enforce_role=False,
        details={campaign.pk: {"rule_name": "Overspend guard"}},
    )
    services.annotation_create(campaign=campaign, actor=manager, day=dt.date.today(), text="Creator posted")
    markers = selectors_annotations.campaign_timeline(campaign=campaign)
    assert [(m.label, m.kind) for m in markers] == [
        ("Paused by mona-manager", "status"),
        ("Resumed by mona-manager", "status"),
        ("Paused by rule Overspend guard", "rule"),
        ("Creator posted", "note"),
    ]
    assert Annotation.objects.count() == 1  # the status changes were not copied into notes
    public = {m.kind: m.public_label for m in markers}
    assert public["rule"] == "Paused by a rule" and "mona" not in public["status"]


def test_timeline_range_leaves_out_other_days(campaign, editor):
    today = dt.date.today()
    services.annotation_create(campaign=campaign, actor=editor, day=today - dt.timedelta(days=20), text="Early")
    services.annotation_create(campaign=campaign, actor=editor, day=today - dt.timedelta(days=2), text="Late")
    markers = selectors_annotations.campaign_timeline(campaign=campaign, first_day=today - dt.timedelta(days=5))
    assert [m.label for m in markers] == ["Late"]


def test_notes_and_status_changes_are_in_the_chart_data(campaign, editor, manager, metrics, login):
    services.annotation_create(campaign=campaign, actor=editor, day=metrics[2], text="Creator posted")
    services.campaign_transition(campaign=campaign, action=Action.PAUSE, actor=manager, source=Source.UI)
    page = login(editor).get(reverse("campaigns:detail", args=[campaign.pk])).content.decode()
    items = _chart(page)["options"]["plugins"]["markers"]["items"]
    note = next(i for i in items if i["kind"] == "note")
    assert note["label"] == "Creator posted" and note["index"] == 2 and note["day"] == metrics[2].isoformat()
    assert note["number"] == 1  # numbered as the list under the chart
    assert '<li data-marker-kind="note" value="1">' in page


def test_htmx_add_swaps_the_panel_and_tells_the_chart(campaign, editor, metrics, login):
    response = _add(login(editor), campaign, day=metrics[-1], text="Creator posted", htmx=True)
    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith('<section class="card" id="annotations"')
    assert "Note added for" in html and "Creator posted" in html
    event = json.loads(response["HX-Trigger"])["annotationsChanged"]
    assert event["chart"] == "daily-chart"
    assert [(m["label"], m["index"]) for m in event["markers"]] == [("Creator posted", len(metrics) - 1)]


def test_htmx_add_with_an_error_shows_it_in_the_panel(campaign, editor, login):
    response = _add(login(editor), campaign, day=dt.date.today(), text="", htmx=True)
    assert response.status_code == 200 and "The note was not added." in response.content.decode()
    assert "HX-Trigger" not in response


def test_detail_page_query_count_does_not_grow_with_notes(
    campaign, editor, manager, metrics, login, django_assert_max_num_queries
):
    client = login(editor)
    url = reverse("campaigns:detail", args=[campaign.pk])
    services.annotation_create(campaign=campaign, actor=editor, day=metrics[0], text="First")
    client.get(url)
    with CaptureQueriesContext(connection) as few:
        client.get(url)
    for i in range(30):
        author = editor if i % 2 else manager
        services.annotation_create(campaign=campaign, actor=author, day=metrics[i % 10], text=f"Note {i}")
    with django_assert_max_num_queries(len(few.captured_queries)):
        page = client.get(url).content.decode()
    assert "Note 29" in page


def test_admin_adds_a_note_through_the_service(campaign, staff, client):
    client.force_login(staff)
    response = client.post(
        reverse("admin:campaigns_annotation_add"),
        {"campaign": campaign.pk, "day": dt.date.today().isoformat(), "text": "Added in the admin"},
    )
    assert response.status_code == 302
    audit = StatusChange.objects.get(campaign=campaign, action=Action.EDIT)
    assert audit.source == Source.ADMIN and audit.actor == staff and audit.details["annotation"] == "added"


def test_admin_edits_a_note_through_the_service_and_refuses_a_bad_day(campaign, editor, staff, client):
    note = services.annotation_create(campaign=campaign, actor=editor, day=dt.date.today(), text="Creator posted")
    client.force_login(staff)
    url = reverse("admin:campaigns_annotation_change", args=[note.pk])
    too_early = (campaign.start_date - dt.timedelta(days=400)).isoformat()
    response = client.post(url, {"day": too_early, "text": "Moved"})
    assert response.status_code == 200 and "Choose a day between" in response.content.decode()
    assert client.post(url, {"day": note.day.isoformat(), "text": "Creator posted (admin)"}).status_code == 302
    note.refresh_from_db()
    assert note.text == "Creator posted (admin)"
    edited = StatusChange.objects.get(campaign=campaign, details__annotation="edited")
    assert edited.source == Source.ADMIN and edited.actor == staff
