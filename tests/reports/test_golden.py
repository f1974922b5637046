"""Frozen reports render exactly as they did: fixed snapshots (built from in-memory campaigns, no database) and
what the report page body, the CSV exports and the PDF's HTML made of them, stored in golden/<case>.json before
the metrics moved to `reports.metrics` (the PDF's since it stopped naming who ended the campaign; all of them again
for issue 16: moments in the account's time zone, money columns with their currency, the PDF's "what this PDF
shows"). A diff here is a change every old report would show."""

import difflib
import json
from pathlib import Path

import pytest
from django.template.loader import render_to_string
from django.test import RequestFactory

from reports import exports, metrics, pdf, presenters, services

from .snapshot_inputs import CASES

GOLDEN = Path(__file__).parent / "golden"
SORTS = ("", "title", "-engagement_rate", "cost_per_result")


def _golden(case: str) -> dict:
    """golden/<case>.json: the snapshot (as JSON text) and what was rendered from it, one string per entry."""
    return json.loads((GOLDEN / f"{case}.json").read_text())


def _snapshot(case: str) -> dict:
    return json.loads(_golden(case)["snapshot"])


def _same(actual: str, expected: str) -> None:
    if actual != expected:
        diff = difflib.unified_diff(expected.splitlines(), actual.splitlines(), "golden", "now", lineterm="", n=1)
        pytest.fail("\n".join(list(diff)[:60]))


def _body_html(snapshot: dict, sort: str = "", **options) -> str:
    request = RequestFactory().get("/r/", {"sort": sort} if sort else {})
    body = presenters.report_body(snapshot=snapshot, request=request, **options)
    return render_to_string("reports/includes/report_body.html", {"body": body}, request=request)


def _body_entry(sort: str) -> str:
    return f"body?sort={sort}" if sort else "body"


def _csv(kind: str, snapshot: dict) -> str:
    header, rows = exports.FROZEN[kind](snapshot)
    return "".join(exports.csv_stream(header, rows))


@pytest.mark.parametrize("case", list(CASES))
def test_snapshot_build_is_unchanged(case):
    """Everything version 1 held is built as it was; version 2 (issue 18) added the frozen timeline (the golden
    cases have no notes: their markers are their status changes)."""
    built = json.loads(json.dumps(services.snapshot_build(**CASES[case]())))
    timeline, golden = built.pop("timeline"), _snapshot(case)
    assert (built.pop("version"), golden.pop("version")) == (metrics.SNAPSHOT_VERSION, 1)
    assert built == golden
    assert {m["kind"] for m in timeline} <= {"status", "rule"}


@pytest.mark.parametrize("sort", SORTS)
@pytest.mark.parametrize("case", list(CASES))
def test_old_snapshot_body_renders_as_before(case, sort):
    _same(_body_html(_snapshot(case), sort), _golden(case)[_body_entry(sort)])


@pytest.mark.parametrize("kind", ["daily", "content"])
@pytest.mark.parametrize("case", list(CASES))
def test_old_snapshot_csv_exports_as_before(case, kind):
    _same(_csv(kind, _snapshot(case)), _golden(case)[f"{kind}.csv"])


@pytest.mark.parametrize("case", list(CASES))
def test_old_snapshot_pdf_html_as_before(case):
    _same(pdf.report_pdf_html(snapshot=_snapshot(case), images=[]), _golden(case)["pdf.html"])


@pytest.fixture
def new_metric(monkeypatch):
    """What adding a derived metric is: one definition in reports.metrics and the version bump."""
    added = metrics.Metric(
        "interactions_per_click",
        "Interactions per click",
        metrics.PERCENT,
        formula=metrics.Ratio(("likes", "comments", "shares"), "clicks", 100),
        since=3,
        per_content=True,
        csv="interactions_per_click",
    )
    catalogue = (*metrics.METRICS, added)
    monkeypatch.setattr(metrics, "SNAPSHOT_VERSION", 3)
    monkeypatch.setattr(metrics, "METRICS", catalogue)
    monkeypatch.setattr(metrics, "BY_KEY", {m.key: m for m in catalogue})
    monkeypatch.setattr(metrics, "DERIVED", tuple(m for m in catalogue if m.derived))
    return added


@pytest.mark.parametrize("case", list(CASES))
def test_a_new_metric_leaves_old_snapshots_as_they_were(new_metric, case):
    snapshot, golden = _snapshot(case), _golden(case)
    _same(_body_html(snapshot), golden["body"])
    _same(_csv("content", snapshot), golden["content.csv"])
    _same(pdf.report_pdf_html(snapshot=snapshot, images=[]), golden["pdf.html"])


def test_a_new_metric_is_frozen_and_shown_in_new_reports(new_metric):
    snapshot = json.loads(json.dumps(services.snapshot_build(**CASES["full"]())))
    totals = snapshot["totals"]
    expected = metrics.ratio(totals["likes"] + totals["comments"] + totals["shares"], totals["clicks"], scale=100)
    assert snapshot["version"] == 3 and snapshot["rates"]["interactions_per_click"] == str(expected)
    assert "interactions_per_click" in snapshot["content"][0]
    html = _body_html(snapshot)
    assert 'data-kpi="interactions_per_click"' in html and "Interactions per click" in html
    assert f"{expected:,.2f}%" in html
    header, _ = exports.content_rows(snapshot)
    assert header[-1] == "interactions_per_click"
