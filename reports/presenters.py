"""Turn a frozen snapshot into what a report page shows: formatted KPI cards, chart configs with their data
tables, objectives vs actual, insights, the account comparison. Pure functions of their arguments (no queries), so
the internal page, the public shared page and the PDF all show the same report. Labels, formulas and formats come
from `reports.metrics`; the words for each unit from `reports.formatting`."""

import datetime as dt
from collections import defaultdict
from decimal import Decimal

from django.utils.html import format_html_join

from campaigns import charts
from campaigns.models import COUNT_METRIC_FIELDS, ContentKind, ContentState

from . import metrics
from .formatting import DASH, dec, fmt_date, fmt_datetime, fmt_day_of, fmt_int, fmt_money, fmt_pct, fmt_value
from .metrics import CENT, MILLI, ratio
from .tables import ContentTable

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


# The report body ----------------------------------------------------------------------------------------------


def _kpis(snapshot: dict) -> list[dict]:
    """One card per metric the snapshot holds, in `metrics.METRICS` order."""
    cur = snapshot["campaign"]["currency"]
    result_label = snapshot["campaign"]["result_label"].lower()
    cards = []
    for m in metrics.metrics_for(snapshot):
        card = {"key": m.key, "label": m.label, "value": m.format(metrics.snapshot_value(snapshot, m.key), cur)}
        if m.note:
            card["sub"] = m.note.format(result=result_label)
        cards.append(card)
    return cards


def _cumulative(values) -> list:
    total, out = 0, []
    for v in values:
        total += v
        out.append(total)
    return out


def timeline(snapshot: dict, *, internal_details: bool = True, added_after_close=()) -> list[dict]:
    """The report's timeline markers (issue 18), numbered by day as on its charts: what the snapshot froze (notes as
    they were, status changes, rule actions) and the notes `added_after_close` (live `Annotation` rows written
    after the freeze, read by the caller), each of those marked `after_close`. Without `internal_details` a marker
    names no person and no rule (as the pause periods do). Old snapshots froze none: only the later notes show."""
    frozen = [
        {
            "day": m["day"],
            "kind": m["kind"],
            "label": m["label"] if internal_details else m["public_label"],
            "by": m["by"] if internal_details else None,
            "at": m["at"],
            "after_close": False,
        }
        for m in snapshot.get("timeline", ())
    ]
    later = [
        {
            "day": note.day.isoformat(),
            "kind": "note",
            "label": note.text,
            "by": (note.author.get_full_name() or note.author.get_username())
            if internal_details and note.author
            else None,
            "at": note.created_at.isoformat(),
            "after_close": True,
        }
        for note in added_after_close
    ]
    markers = sorted(frozen + later, key=lambda m: (m["day"], m["after_close"], m["at"]))
    for number, marker in enumerate(markers, start=1):
        marker["number"] = number
        marker["day_display"] = fmt_date(marker["day"])
        marker["text"] = marker["label"] + (" (added after close)" if marker["after_close"] else "")
    return markers


def chart_series(snapshot: dict, markers: list[dict] = ()) -> dict:
    """The plain series behind the report's charts (also used by the PDF's matplotlib charts); `markers` from
    `timeline`."""
    daily = snapshot["daily"]
    days = [dt.date.fromisoformat(d["date"]) for d in daily]
    budget = snapshot["budget"]
    spend_cum = _cumulative(Decimal(d["spend"]) for d in daily)
    if budget["mode"] == "lifetime":
        budget_line = [Decimal(budget["amount"])] * len(days)
    else:
        budget_line = [Decimal(budget["amount"]) * (i + 1) for i in range(len(days))]
    pauses = [
        (dt.date.fromisoformat(p["start_date"]), dt.date.fromisoformat(p["end_date"]) if p["end_date"] else None)
        for p in snapshot["pauses"]
    ]
    return {
        "days": days,
        "labels": charts.date_labels(days),
        "views": [d["video_views"] for d in daily],
        "likes": [d["likes"] for d in daily],
        "shares": [d["shares"] for d in daily],
        "comments": [d["comments"] for d in daily],
        "spend": [Decimal(d["spend"]) for d in daily],
        "followers_cum": _cumulative(d["follows"] for d in daily),
        "spend_cum": spend_cum,
        "budget_line": budget_line,
        "pauses": pauses,
        "bands": charts.ranges_to_indexes(days, pauses),
        "markers": [(dt.date.fromisoformat(m["day"]), m["text"], m["kind"]) for m in markers],
        "marker_items": charts.marker_items(
            days, [(dt.date.fromisoformat(m["day"]), m["text"], m["kind"]) for m in markers]
        ),
        "notes_by_day": _notes_by_day(markers),
    }


def _notes_by_day(markers: list[dict]) -> dict[str, str]:
    """{ISO day: "1 Creator posted · 2 Paused"}: what the charts' number tables list on each day."""
    out: dict[str, list[str]] = defaultdict(list)
    for m in markers:
        out[m["day"]].append(f"{m['number']} {m['text']}")
    return {day: " · ".join(texts) for day, texts in out.items()}


# The daily chart's lines: (metric, its key in `chart_series` and the palette), views on the left axis.
DAILY_LINES = (("video_views", "views"), ("likes", "likes"), ("shares", "shares"), ("comments", "comments"))
MIX = ("likes", "comments", "shares")


def _charts(snapshot: dict, series: dict) -> list[dict]:
    cur = snapshot["campaign"]["currency"]
    labels, bands, markers = series["labels"], series["bands"], series["marker_items"]
    t = snapshot["totals"]
    pal = charts.PALETTE
    label = metrics.label
    budget_label = "Budget (lifetime)" if snapshot["budget"]["mode"] == "lifetime" else "Budget (daily, cumulative)"
    followers, spend = label("follows"), label("spend")
    interactions = sum(t[key] for key in MIX)
    charts_ = [
        {
            "id": "chart-daily",
            "title": "Daily views, likes, shares and comments",
            "note": "Views on the left axis; likes, shares and comments on the right."
            + (" Shaded: paused." if bands else ""),
            "config": charts.line_chart(
                labels=labels,
                series={label(key): series[name] for key, name in DAILY_LINES},
                colors={label(key): pal[name] for key, name in DAILY_LINES},
                y2=tuple(label(key) for key, _ in DAILY_LINES[1:]),
                bands=bands,
                markers=markers,
            ),
            "headers": ["Date", *(label(key) for key, _ in DAILY_LINES)],
            "rows": [[labels[i], *(fmt_int(series[name][i]) for _, name in DAILY_LINES)] for i in range(len(labels))],
        },
        {
            "id": "chart-followers",
            "title": f"{followers} (cumulative)",
            "note": "Shaded: paused." if bands else "",
            "config": charts.line_chart(
                labels=labels,
                series={followers: series["followers_cum"]},
                colors={followers: pal["follows"]},
                bands=bands,
                markers=markers,
            ),
            "headers": ["Date", f"{followers} (cumulative)"],
            "rows": [[labels[i], fmt_int(series["followers_cum"][i])] for i in range(len(labels))],
        },
        {
            "id": "chart-spend",
            "title": f"{spend} against budget",
            "note": f"Cumulative, in {cur}." + (" Shaded: paused." if bands else ""),
            "config": charts.line_chart(
                labels=labels,
                series={spend: series["spend_cum"], budget_label: series["budget_line"]},
                colors={spend: pal["spend"], budget_label: pal["budget"]},
                bands=bands,
                markers=markers,
            ),
            "headers": ["Date", f"{spend} (cumulative, {cur})", budget_label],
            "rows": [
                [labels[i], fmt_money(series["spend_cum"][i]), fmt_money(series["budget_line"][i])]
                for i in range(len(labels))
            ],
        },
        {
            "id": "chart-mix",
            "title": "Engagement mix",
            "note": "",
            "config": charts.doughnut_chart(
                labels=[label(key) for key in MIX],
                values=[t[key] for key in MIX],
                colors=[pal[key] for key in MIX],
            ),
            "headers": ["Interaction", "Count", "Share"],
            "rows": [[label(key), fmt_int(t[key]), fmt_pct(ratio(t[key], interactions, scale=100))] for key in MIX],
        },
    ]
    notes = series["notes_by_day"]
    if notes:
        # The notes on their days beside the numbers, so the table says what the chart's markers do.
        for chart in charts_[:3]:
            chart["notes_column"] = True
            chart["headers"].append("Notes")
            for row in chart["rows"]:
                row.append(notes.get(row[0], ""))
    for chart in charts_:
        chart["data_id"] = f"{chart['id']}-data"
        chart["rows_html"] = _rows_html(chart["rows"])
    return charts_


def _rows_html(rows: list[list[str]]) -> str:
    """The chart's data table body, escaped. Built here rather than in a template loop: a year of days is
    ~1,500 cells per chart, which the template engine takes ~100 ms to render and this takes ~5 ms. The cells carry
    no class: `table.numbers` right-aligns every cell after the first (a year of `class="num"` was 40 KB)."""
    return format_html_join(
        "",
        '<tr><th scope="row">{}</th>{}</tr>',
        ((r[0], format_html_join("", "<td>{}</td>", ((c,) for c in r[1:]))) for r in rows),
    )


def _targets(snapshot: dict) -> list[dict]:
    cur = snapshot["campaign"]["currency"]
    return [
        {
            **t,
            "target_display": fmt_value(t["target"], t["unit"], cur),
            "actual_display": fmt_value(t["actual"], t["unit"], cur),
            "pct_display": fmt_pct(t["pct_reached"]),
        }
        for t in snapshot["targets"]
    ]


def _budget(snapshot: dict) -> dict:
    b, cur = snapshot["budget"], snapshot["campaign"]["currency"]
    return {
        **b,
        "amount_display": fmt_money(b["amount"], cur),
        "planned_display": fmt_money(b["planned_total"], cur),
        "spent_display": fmt_money(b["spent"], cur),
        "unused_display": fmt_money(b["estimated_unused"], cur),
        "used_pct": fmt_pct(ratio(Decimal(b["spent"]), dec(b["planned_total"]), scale=100, places=CENT)),
    }


def _group_insights(groups: dict, *, label_of, currency: str, result_metric: str) -> list[dict]:
    er_metric, cpr_metric = metrics.metric("engagement_rate"), metrics.metric("cost_per_result")
    rows = []
    for key, totals in groups.items():
        rates = metrics.rates_from_totals(totals, result_metric=result_metric)
        rows.append(
            {
                "key": key,
                "label": label_of(key),
                "count": totals["n"],
                "views": totals["video_views"],
                "engagement_rate": dec(rates["engagement_rate"]),
                "cost_per_result": dec(rates["cost_per_result"]),
                "engagement_rate_display": er_metric.format(rates["engagement_rate"]),
                "cost_per_result_display": cpr_metric.format(rates["cost_per_result"], currency),
                "views_display": fmt_int(totals["video_views"]),
            }
        )
    best_er = max(
        (r for r in rows if r["engagement_rate"] is not None), key=lambda r: r["engagement_rate"], default=None
    )
    best_cpr = min(
        (r for r in rows if r["cost_per_result"] is not None), key=lambda r: r["cost_per_result"], default=None
    )
    for r in rows:
        r["best_er"] = r is best_er
        r["best_cpr"] = r is best_cpr
    return rows


def _empty_group() -> dict:
    return {"n": 0, "spend": Decimal("0"), **dict.fromkeys(COUNT_METRIC_FIELDS, 0)}


def _add_to(group: dict, row: dict) -> None:
    group["n"] += 1
    group["spend"] += Decimal(row["spend"])
    for f in COUNT_METRIC_FIELDS:
        group[f] += row.get(f, 0)


def _insights(snapshot: dict) -> dict:
    cur = snapshot["campaign"]["currency"]
    metric = snapshot["campaign"]["result_metric"]
    by_day: dict[int, dict] = defaultdict(_empty_group)
    for d in snapshot["daily"]:
        _add_to(by_day[dt.date.fromisoformat(d["date"]).weekday()], d)
    by_kind: dict[str, dict] = defaultdict(_empty_group)
    for c in snapshot["content"]:
        _add_to(by_kind[c["kind"]], c)
    kind_labels = dict(ContentKind.choices)
    weekdays = _group_insights(
        dict(sorted(by_day.items())), label_of=lambda k: WEEKDAYS[k], currency=cur, result_metric=metric
    )
    kinds = _group_insights(
        by_kind, label_of=lambda k: kind_labels.get(k, k.title()), currency=cur, result_metric=metric
    )
    result_label = snapshot["campaign"]["result_label"].lower()
    findings = []
    for rows, noun in ((weekdays, "weekday"), (kinds, "content kind")):
        er = next((r for r in rows if r["best_er"]), None)
        cpr = next((r for r in rows if r["best_cpr"]), None)
        if er and len(rows) > 1:
            findings.append(f"Best {noun} by engagement rate: {er['label']} ({er['engagement_rate_display']}).")
        if cpr and len(rows) > 1:
            findings.append(
                f"Cheapest {noun} per result: {cpr['label']} ({cpr['cost_per_result_display']} per {result_label})."
            )
    return {"weekdays": weekdays, "kinds": kinds, "findings": findings, "result_label": result_label}


def insights_best(snapshot: dict) -> dict:
    """The weekdays and content kinds the report's insights name as best (`_insights`' findings: the best
    engagement rate and the cheapest per result, each only when there was more than one to compare), as
    {"weekdays": [...], "kinds": [...]}, each item {"key", "label", "why": ["best engagement rate (4.50%)", …]}:
    what planning the next campaign carries over (`services.plan_next`)."""
    insights = _insights(snapshot)
    result_label = insights["result_label"]
    out = {}
    for name, rows in (("weekdays", insights["weekdays"]), ("kinds", insights["kinds"])):
        best = []
        if len(rows) > 1:
            for r in rows:
                why = []
                if r["best_er"]:
                    why.append(f"best engagement rate ({r['engagement_rate_display']})")
                if r["best_cpr"]:
                    why.append(f"cheapest per {result_label} ({r['cost_per_result_display']})")
                if why:
                    best.append({"key": r["key"], "label": r["label"], "why": why})
        out[name] = best
    return out


def content_rows(snapshot: dict) -> list[dict]:
    """Per-content rows with numbers (not strings) so the table sorts numerically."""
    kinds, states = dict(ContentKind.choices), dict(ContentState.choices)
    rates = metrics.metrics_for(snapshot, per_content=True)
    return [
        {
            **c,
            "kind_label": kinds.get(c["kind"], c["kind"]),
            "state_label": states.get(c["state"], c["state"]),
            "spend": Decimal(c["spend"]),
            **{m.key: dec(c[m.key]) for m in rates},
        }
        for c in snapshot["content"]
    ]


def _zone(snapshot: dict) -> str | None:
    """The account's time zone frozen in the snapshot: every moment of a report is written in it."""
    return snapshot["campaign"].get("timezone")


def _pauses(snapshot: dict, *, internal_details: bool) -> list[dict]:
    zone = _zone(snapshot)
    return [
        {
            **p,
            "by": p["by"] if internal_details else None,
            "start_display": fmt_datetime(p["start"], zone),
            "end_display": (fmt_datetime(p["end"], zone) + (" (ended)" if p.get("ended_by_close") else ""))
            if p["end"]
            else "not resumed",
        }
        for p in snapshot["pauses"]
    ]


def _ended(snapshot: dict, *, internal_details: bool) -> dict:
    at = snapshot["ended"]["at"]
    ended = {
        **snapshot["ended"],
        "at_display": fmt_datetime(at, _zone(snapshot)),
        "date_display": fmt_day_of(at, _zone(snapshot)),
    }
    if not internal_details:
        ended |= {"by": None, "note": ""}
    return ended


def _content_table(snapshot: dict, request) -> ContentTable:
    held = {m.key for m in metrics.metrics_for(snapshot, per_content=True)}
    # A per-content rate added after this report was frozen is not in it: no column rather than a column of "—".
    missing = [m.key for m in metrics.DERIVED if m.per_content and m.key not in held]
    table = ContentTable(
        content_rows(snapshot),
        currency=snapshot["campaign"]["currency"],
        order_by=("-video_views",),
        exclude=missing,
    )
    if request is not None:
        table.order_by = request.GET.get("sort") or "-video_views"
    return table


def report_body(*, snapshot: dict, request=None, internal_details: bool = True, added_after_close=()) -> dict:
    """Everything the report body template (`reports/includes/report_body.html`) needs, from the snapshot only.
    With `request`, the content table honours its `?sort=` parameter.

    `internal_details` are who ended and who paused the campaign and the note given when it ended: the team's
    page shows them; a share link only when it shows team notes; the PDF, which travels, never.

    `added_after_close`: the campaign's notes written after the freeze (see `timeline`)."""
    markers = timeline(snapshot, internal_details=internal_details, added_after_close=added_after_close)
    series = chart_series(snapshot, markers)
    return {
        "snapshot": snapshot,
        "campaign": snapshot["campaign"],
        "ended": _ended(snapshot, internal_details=internal_details),
        "start_display": fmt_date(snapshot["campaign"]["start_date"]),
        "generated_display": fmt_datetime(snapshot["generated_at"], _zone(snapshot)),
        "kpis": _kpis(snapshot),
        "charts": _charts(snapshot, series),
        "targets": _targets(snapshot),
        "targets_met": sum(1 for t in snapshot["targets"] if t["met"]),
        "budget": _budget(snapshot),
        "pauses": _pauses(snapshot, internal_details=internal_details),
        "timeline": markers,
        "content_table": _content_table(snapshot, request),
        "content_count": len(snapshot["content"]),
        "insights": _insights(snapshot),
        "days": len(snapshot["daily"]),
        "first_day": fmt_date(snapshot["daily"][0]["date"]) if snapshot["daily"] else DASH,
        "last_day": fmt_date(snapshot["daily"][-1]["date"]) if snapshot["daily"] else DASH,
    }


def comparison(*, figures: dict, currency: str) -> dict:
    """`selectors.report_comparison`'s figures, written for the report page."""
    rows = []
    for row in figures["metrics"]:
        m = metrics.metric(row["key"])
        median = row["median"]
        rows.append(
            {
                "key": m.key,
                "label": m.label,
                "mine": m.format(row["mine"], currency),
                "median": m.format(Decimal(median).quantize(MILLI) if median is not None else None, currency),
                "beats": row["beats"],
                "n": row["n"],
                "lower_better": m.better == metrics.LOWER,
            }
        )
    return {"metrics": rows, "others": figures["others"]}


SINCE_CLOSE_FIELDS = ("spend", "impressions", "video_views", "likes", "comments", "shares", "follows", "clicks")


def since_close(*, frozen_totals: dict, currency: str, campaign) -> dict:
    """Late attribution: the campaign's current maintained totals minus the frozen ones (the snapshot's
    "totals"). No metric query."""
    frozen, cur = frozen_totals, currency
    rows = []
    for field in SINCE_CLOSE_FIELDS:
        m = metrics.metric(field)
        now = getattr(campaign, f"total_{field}")
        delta = Decimal(now) - Decimal(frozen[field]) if field == "spend" else now - frozen[field]
        if delta:
            sign = "+" if delta > 0 else "−"
            rows.append(
                {"key": field, "label": m.label, "delta": delta, "display": f"{sign}{m.format(abs(delta), cur)}"}
            )
    return {"rows": rows, "any": bool(rows), "last_metric_date": campaign.last_metric_date}


# The final figures (issue 15 §4) -----------------------------------------------------------------------------

FINAL_FIELDS = SINCE_CLOSE_FIELDS  # the figures late attribution moves: the same ones "since close" shows


def final_changes(*, frozen: dict, final: dict, currency: str) -> list[dict]:
    """Each figure that differs between the totals frozen at close and the final ones: label, at close, final,
    change ("+12.30 USD")."""
    rows = []
    for field in FINAL_FIELDS:
        if field not in final or field not in frozen:
            continue
        m = metrics.metric(field)
        before, after = Decimal(str(frozen[field])), Decimal(str(final[field]))
        if before == after:
            continue
        if field != "spend":
            before, after = int(before), int(after)
        rows.append(
            {
                "key": field,
                "label": m.label,
                "at_close": m.format(before, currency),
                "final": m.format(after, currency),
                "change": ("+" if after > before else "−") + m.format(abs(after - before), currency),
            }
        )
    return rows


def final_figures(*, report, frozen_totals: dict, currency: str, zone: str | None) -> dict | None:
    """What the report page, the shared page and the PDF say about the final figures: None until they are in;
    then the day they are final as of and the figures that moved since close."""
    if report.final_at is None:
        return None
    return {
        "as_of": fmt_day_of(report.final_at.isoformat(), zone),
        "rows": final_changes(frozen=frozen_totals, final=report.final_totals or {}, currency=currency),
    }
