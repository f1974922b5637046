"""Fuzzed input (hypothesis) on every query parameter of the GET pages and on the main POST endpoints: huge and
unicode strings, NUL bytes, repeated parameters where one is expected, negative and huge numbers, malformed dates,
random file bytes. The contract: never a server error (status < 500), always a page or a clear message.

One logged-in manager client per test; the Django test client re-raises any exception a view lets escape, so a
crash fails the example with its traceback."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from campaigns.forms import CampaignForm
from campaigns.models import WindDownStepKind

pytestmark = pytest.mark.django_db

FUZZ = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

# One value: text of any kind (NUL, RTL, emoji, surrogates excluded since HTTP cannot carry them), numbers at
# and beyond the edges, date-ish and id-ish strings.
scalar = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=20).map(lambda s: s * 600),  # huge
    st.sampled_from(["\x00", "a\x00b", "\u202eevil", "<script>", "' OR 1=1 --", "../../etc/passwd", "%00", ""]),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.sampled_from(["0", "-1", "1e309", "NaN", "inf", "9" * 40, "2026-02-30", "0000-00-00", "2026-13", "99999-01"]),
    st.dates().map(str),
    st.datetimes().map(lambda d: d.strftime("%Y-%m-%dT%H:%M")),
)
# Where one value is expected, sometimes several (a repeated parameter).
value = st.one_of(scalar, st.lists(scalar, min_size=2, max_size=4))


def params(*names):
    return st.dictionaries(st.sampled_from(names), value, max_size=len(names))


def _ok(response, what):
    assert response.status_code < 500, f"{what}: {response.status_code}"


@pytest.fixture
def manager_client(login, manager):
    return login(manager)


LIST_PARAMS = (
    "q",
    "status",
    "objective",
    "account",
    "date_from",
    "date_to",
    "scheduled",
    "winddown_incomplete",
    "tab",
    "sort",
    "page",
    "per_page",
)


@FUZZ
@given(query=params(*LIST_PARAMS))
def test_campaign_list_fuzzed_filters_never_500(manager_client, campaign, query):
    _ok(manager_client.get(reverse("campaigns:list"), query), query)
    # The htmx table refresh reads the same parameters.
    _ok(
        manager_client.get(
            reverse("campaigns:list"), query, headers={"HX-Request": "true", "HX-Target": "table-region"}
        ),
        query,
    )


@FUZZ
@given(query=params("month", "account"), winddown=params("page", "q", "status"), notes=params("show", "page"))
def test_calendar_winddown_notifications_fuzzed_never_500(manager_client, campaign, query, winddown, notes):
    _ok(manager_client.get(reverse("campaigns:calendar"), query), query)
    _ok(manager_client.get(reverse("campaigns:winddown_list"), winddown), winddown)
    _ok(manager_client.get(reverse("campaigns:notifications"), notes), notes)


@FUZZ
@given(
    query=params("account", "end_reason", "objective", "ended_after", "ended_before", "sort", "page", "per_page"),
    compare=params("ids"),
    detail=params("edit", "tab"),
)
def test_reports_fuzzed_filters_and_compare_ids_never_500(manager_client, ended_campaign, query, compare, detail):
    _ok(manager_client.get(reverse("reports:index"), query), query)
    _ok(manager_client.get(reverse("reports:compare"), compare), compare)
    _ok(manager_client.get(reverse("reports:detail", args=[ended_campaign.pk]), detail), detail)


@FUZZ
@given(query=params("ids", "next", "origin"))
def test_end_confirmation_fuzzed_ids_never_500(manager_client, campaign, query):
    _ok(manager_client.get(reverse("campaigns:end_confirm"), query), query)


@FUZZ
@given(pk=st.integers(min_value=0, max_value=2**80))
def test_huge_ids_in_paths_are_404_not_500(manager_client, pk):
    for name in ("campaigns:detail", "reports:detail", "campaigns:winddown", "campaigns:account_detail"):
        response = manager_client.get(reverse(name, args=[pk]))
        assert response.status_code in (200, 404), (name, pk, response.status_code)


BULK_FIELDS = (
    "ids",
    "action",
    "all_matching",
    "list_qs",
    "confirmed",
    "next",
    "origin",
    "idempotency_key",
    "reason_code",
    "reason_note",
    "end_at",
    "confirm_text",
    "delete_on_platform",
)


@FUZZ
@given(data=params(*BULK_FIELDS), htmx=st.booleans())
def test_bulk_action_fuzzed_post_never_500(manager_client, campaign, data, htmx):
    headers = {"HX-Request": "true"} if htmx else {}
    _ok(manager_client.post(reverse("campaigns:bulk_action"), data, headers=headers), data)


@FUZZ
@given(
    data=params("ids", "idempotency_key", "reason_code", "reason_note", "end_at", "confirm_text", "list_qs", "next"),
    action=st.sampled_from(["pause", "resume", "end"]),
)
def test_confirmed_bulk_action_fuzzed_fields_never_500(manager_client, campaign, data, action):
    data = {"ids": str(campaign.pk), **data, "action": action, "confirmed": "1"}
    _ok(manager_client.post(reverse("campaigns:bulk_action"), data), data)


@FUZZ
@given(schedule=params("action", "run_at", "reason_code", "reason_note", "next"))
def test_schedule_fuzzed_post_never_500(manager_client, campaign, schedule):
    _ok(manager_client.post(reverse("campaigns:schedule", args=[campaign.pk]), schedule), schedule)


EDIT_FIELDS = (
    *CampaignForm.Meta.fields,
    "account",
    "content-TOTAL_FORMS",
    "content-INITIAL_FORMS",
    "content-0-title",
    "content-0-url",
    "content-0-kind",
)


@FUZZ
@given(data=params(*EDIT_FIELDS))
def test_campaign_edit_and_create_fuzzed_post_never_500(manager_client, campaign, data):
    _ok(manager_client.post(reverse("campaigns:edit", args=[campaign.pk]), data), data)
    _ok(manager_client.post(reverse("campaigns:create"), data), data)


@FUZZ
@given(data=params("what_worked", "what_to_change", "next_steps", "base_revision"))
def test_lessons_fuzzed_post_never_500(manager_client, ended_campaign, data):
    _ok(manager_client.post(reverse("reports:lessons_edit", args=[ended_campaign.pk]), data), data)


@FUZZ
@given(
    kind=st.sampled_from(WindDownStepKind.values),
    data=params("op", "note", "text", "where", "outcome", "ticket", "state"),
    htmx=st.booleans(),
)
def test_winddown_steps_fuzzed_post_never_500(manager_client, ended_campaign, kind, data, htmx):
    headers = {"HX-Request": "true"} if htmx else {}
    url = reverse("campaigns:winddown_step", args=[ended_campaign.pk, kind])
    _ok(manager_client.post(url, data, headers=headers), (kind, data))
    item = ended_campaign.content_items.first()
    url = reverse("campaigns:winddown_content", args=[ended_campaign.pk, item.pk])
    _ok(manager_client.post(url, data, headers=headers), data)


@FUZZ
@given(data=params("op", "account"), prefs=params("notify_all_1", "notify_email_1", "next"))
def test_ics_token_and_preferences_fuzzed_post_never_500(manager_client, campaign, data, prefs):
    _ok(manager_client.post(reverse("campaigns:ics_token"), data), data)
    _ok(manager_client.post(reverse("campaigns:notification_preferences"), prefs), prefs)


@FUZZ
@given(
    content=st.one_of(
        st.binary(max_size=2000),
        st.binary(max_size=200).map(lambda b: b"Campaign name,By Day,Cost\n" + b),
        st.text(max_size=300).map(lambda t: ("Campaign name,By Day,Cost\n" + t).encode("utf-16")),
        st.just(b"PK\x03\x04" + b"\x00" * 100),  # a truncated zip (xlsx)
    ),
    name=st.sampled_from(["export.csv", "export.xlsx", "export.txt", "\x00.csv", "a" * 300 + ".csv"]),
)
def test_import_upload_random_bytes_never_500(manager_client, account, manager, content, name, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    upload = SimpleUploadedFile(name, content)
    _ok(
        manager_client.post(reverse("campaigns:import_upload", args=[account.pk]), {"file": upload}),
        (name, content[:40]),
    )


@FUZZ
@given(data=params("next"))
def test_next_parameter_fuzzed_redirects_safely(manager_client, campaign, data):
    """`next` on every form that redirects back: a foreign host, a view-name-like word or junk → the default page."""
    for name, args in (
        ("campaigns:watch", [campaign.pk]),
        ("campaigns:unwatch", [campaign.pk]),
        ("campaigns:notifications_read_all", []),
        ("campaigns:retry_sync", [campaign.pk]),
        ("campaigns:bulk_action", []),
    ):
        response = manager_client.post(reverse(name, args=args), {**data, "ids": campaign.pk, "action": "pause"})
        _ok(response, (name, data))
        location = response.headers.get("Location", "/")
        assert location.startswith("/") and not location.startswith("//"), (name, location)


def test_next_parameter_word_is_not_taken_for_a_view_name(manager_client, campaign):
    """Regression: `next=0` or `next=:` went to `redirect()`, which took them for view names → 500."""
    for nxt in ("0", ":", "campaigns:list"):
        response = manager_client.post(reverse("campaigns:watch", args=[campaign.pk]), {"next": nxt})
        assert response.status_code == 302
        assert response["Location"] == reverse("campaigns:detail", args=[campaign.pk])


@pytest.mark.parametrize("per_page", ["-1", "0", "abc", "1000000"])
def test_report_index_bad_per_page_shows_the_first_page(manager_client, ended_campaign, per_page):
    """Regression: `?per_page=-1` (or 0) made the reports index a 500 (EmptyPage from django-tables2)."""
    response = manager_client.get(reverse("reports:index"), {"per_page": per_page, "page": "7"})
    assert response.status_code == 200
    assert ended_campaign.name in response.content.decode()


@pytest.mark.parametrize("ids", ["²", "9223372036854775808", "1,99999999999999999999999", "-3"])
def test_out_of_range_or_odd_digit_ids_are_dropped(manager_client, ended_campaign, ids):
    """Regression: `ids=²` (isdigit but not int) and ids beyond 64 bits were 500s on compare and end-confirm."""
    assert manager_client.get(reverse("reports:compare"), {"ids": ids}).status_code == 200
    assert manager_client.get(reverse("campaigns:end_confirm"), {"ids": ids}).status_code == 404


@pytest.mark.parametrize("kind", ["audience_informed", "team_notified", "budget_followup"])
def test_winddown_text_with_nul_is_saved_without_it(manager_client, ended_campaign, kind):
    """Regression: a NUL character in a wind-down note or announcement was a 500 on PostgreSQL."""
    data = {"text": "Bye\x00 all", "where": "Tik\x00Tok", "note": "do\x00ne", "outcome": "ticket", "ticket": "T-1\x00"}
    response = manager_client.post(reverse("campaigns:winddown_step", args=[ended_campaign.pk, kind]), data)
    assert response.status_code < 500
