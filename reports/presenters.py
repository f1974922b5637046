"""Turn a frozen snapshot into what a report page shows: formatted KPI cards, chart configs with their data
tables, objectives vs actual, insights. Pure functions of the snapshot (no queries), so the internal page, the
public shared page and the PDF all show the same report."""

import datetime as dt
from collections import defaultdict
from decimal import Decimal

from django.utils.html import format_html_join

from campaigns import charts
from campaigns.models import ContentKind, ContentState

from .services import METRIC_LABELS, rates_from_totals, ratio

DASH = "—"
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


# Formatting -------------------------------------------------------------------------------------------------


def fmt_int(value) -> str:
    return DASH if value is None else f"{int(value):,}"


def fmt_money(value, currency: str = "") -> str:
    if value is None:
        return DASH
    value = Decimal(value)
    places = 2 if abs(value) >= 1 or value == 0 else 4
    text = f"{value:,.{places}f}"
    return f"{currency} {text}".strip()


def fmt_pct(value) -> str:
    return DASH if value is None else f"{Decimal(value):,.2f}%"


def fmt_value(value, unit: str, currency: str = "") -> str:
    if unit == "percent":
        return fmt_pct(value)
    if unit == "money":
        return fmt_money(value, currency)
    return fmt_int(value)


def fmt_date(iso: str | None) -> str:
    if not iso:
        return DASH
    return dt.date.fromisoformat(iso[:10]).strftime("%-d %b %Y")


def fmt_datetime(iso: str | None) -> str:
    if not iso:
        return DASH
    return dt.datetime.fromisoformat(iso).strftime("%-d %b %Y, %H:%M UTC")


def dec(value) -> Decimal | None:
    return None if value is None else Decimal(value)


# The report body ----------------------------------------------------------------------------------------------


def _kpis(snapshot: dict) -> list[dict]:
    t, r = snapshot["totals"], snapshot["rates"]
    cur = snapshot["campaign"]["currency"]
    result_label = snapshot["campaign"]["result_label"].lower()
    return [
        {"key": "spend", "label": "Spend", "value": fmt_money(t["spend"], cur)},
        {"key": "video_views", "label": "Video views", "value": fmt_int(t["video_views"])},
        {
            "key": "engagement_rate",
            "label": "Engagement rate",
            "value": fmt_pct(r["engagement_rate"]),
            "sub": "(likes + comments + shares) / views",
        },
        {"key": "follows", "label": "Followers gained", "value": fmt_int(t["follows"])},
        {"key": "impressions", "label": "Impressions", "value": fmt_int(t["impressions"])},
        {"key": "reach", "label": "Reach", "value": fmt_int(t["reach"]), "sub": "sum of daily reach"},
        {"key": "clicks", "label": "Clicks", "value": fmt_int(t["clicks"])},
        {"key": "ctr", "label": "CTR", "value": fmt_pct(r["ctr"]), "sub": "clicks / impressions"},
        {"key": "cpm", "label": "CPM", "value": fmt_money(r["cpm"], cur), "sub": "cost per 1,000 impressions"},
        {"key": "cost_per_view", "label": "Cost per view", "value": fmt_money(r["cost_per_view"], cur)},
        {"key": "cost_per_follower", "label": "Cost per follower", "value": fmt_money(r["cost_per_follower"], cur)},
        {
            "key": "cost_per_result",
            "label": "Cost per result",
            "value": fmt_money(r["cost_per_result"], cur),
            "sub": f"result = {result_label}",
        },
        {"key": "likes", "label": "Likes", "value": fmt_int(t["likes"])},
        {"key": "comments", "label": "Comments", "value": fmt_int(t["comments"])},
        {"key": "shares", "label": "Shares", "value": fmt_int(t["shares"])},
        {"key": "profile_visits", "label": "Profile visits", "value": fmt_int(t["profile_visits"])},
    ]


def _cumulative(values) -> list:
    total, out = 0, []
    for v in values:
        total += v
        out.append(total)
    return out


def chart_series(snapshot: dict) -> dict:
    """The plain series behind the report's charts (also used by the PDF's matplotlib charts)."""
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
    }


def _charts(snapshot: dict, series: dict) -> list[dict]:
    cur = snapshot["campaign"]["currency"]
    labels, bands = series["labels"], series["bands"]
    t = snapshot["totals"]
    pal = charts.PALETTE
    budget_label = "Budget (lifetime)" if snapshot["budget"]["mode"] == "lifetime" else "Budget (daily, cumulative)"
    charts_ = [
        {
            "id": "chart-daily",
            "title": "Daily views, likes, shares and comments",
            "note": "Views on the left axis; likes, shares and comments on the right."
            + (" Shaded: paused." if bands else ""),
            "config": charts.line_chart(
                labels=labels,
                series={
                    "Video views": series["views"],
                    "Likes": series["likes"],
                    "Shares": series["shares"],
                    "Comments": series["comments"],
                },
                colors={
                    "Video views": pal["views"],
                    "Likes": pal["likes"],
                    "Shares": pal["shares"],
                    "Comments": pal["comments"],
                },
                y2=("Likes", "Shares", "Comments"),
                bands=bands,
            ),
            "headers": ["Date", "Video views", "Likes", "Shares", "Comments"],
            "rows": [
                [
                    labels[i],
                    fmt_int(series["views"][i]),
                    fmt_int(series["likes"][i]),
                    fmt_int(series["shares"][i]),
                    fmt_int(series["comments"][i]),
                ]
                for i in range(len(labels))
            ],
        },
        {
            "id": "chart-followers",
            "title": "Followers gained (cumulative)",
            "note": "Shaded: paused." if bands else "",
            "config": charts.line_chart(
                labels=labels,
                series={"Followers gained": series["followers_cum"]},
                colors={"Followers gained": pal["follows"]},
                bands=bands,
            ),
            "headers": ["Date", "Followers gained (cumulative)"],
            "rows": [[labels[i], fmt_int(series["followers_cum"][i])] for i in range(len(labels))],
        },
        {
            "id": "chart-spend",
            "title": "Spend against budget",
            "note": f"Cumulative, in {cur}." + (" Shaded: paused." if bands else ""),
            "config": charts.line_chart(
                labels=labels,
                series={"Spend": series["spend_cum"], budget_label: series["budget_line"]},
                colors={"Spend": pal["spend"], budget_label: pal["budget"]},
                bands=bands,
            ),
            "headers": ["Date", f"Spend (cumulative, {cur})", budget_label],
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
                labels=["Likes", "Comments", "Shares"],
                values=[t["likes"], t["comments"], t["shares"]],
                colors=[pal["likes"], pal["comments"], pal["shares"]],
            ),
            "headers": ["Interaction", "Count", "Share"],
            "rows": [
                [name, fmt_int(t[key]), fmt_pct(ratio(t[key], t["likes"] + t["comments"] + t["shares"], scale=100))]
                for name, key in (("Likes", "likes"), ("Comments", "comments"), ("Shares", "shares"))
            ],
        },
    ]
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
        "used_pct": fmt_pct(ratio(Decimal(b["spent"]), dec(b["planned_total"]), scale=100, places=Decimal("0.01"))),
    }


def _group_insights(groups: dict, *, label_of, currency: str, result_metric: str) -> list[dict]:
    rows = []
    for key, totals in groups.items():
        rates = rates_from_totals(totals, result_metric=result_metric)
        rows.append(
            {
                "key": key,
                "label": label_of(key),
                "count": totals["n"],
                "views": totals["video_views"],
                "engagement_rate": dec(rates["engagement_rate"]),
                "cost_per_result": dec(rates["cost_per_result"]),
                "engagement_rate_display": fmt_pct(rates["engagement_rate"]),
                "cost_per_result_display": fmt_money(rates["cost_per_result"], currency),
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


def _insights(snapshot: dict) -> dict:
    cur = snapshot["campaign"]["currency"]
    metric = snapshot["campaign"]["result_metric"]
    fields = ("spend", "video_views", "likes", "comments", "shares", "clicks", "impressions", "reach", "follows")

    def empty():
        return {"n": 0, "spend": Decimal("0"), **dict.fromkeys(fields[1:], 0), "profile_visits": 0}

    by_day: dict[int, dict] = defaultdict(empty)
    for d in snapshot["daily"]:
        g = by_day[dt.date.fromisoformat(d["date"]).weekday()]
        g["n"] += 1
        g["spend"] += Decimal(d["spend"])
        for f in fields[1:]:
            g[f] += d.get(f, 0)
    by_kind: dict[str, dict] = defaultdict(empty)
    for c in snapshot["content"]:
        g = by_kind[c["kind"]]
        g["n"] += 1
        g["spend"] += Decimal(c["spend"])
        for f in fields[1:]:
            g[f] += c.get(f, 0)
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


def content_rows(snapshot: dict) -> list[dict]:
    """Per-content rows with numbers (not strings) so the table sorts numerically."""
    kinds, states = dict(ContentKind.choices), dict(ContentState.choices)
    return [
        {
            **c,
            "kind_label": kinds.get(c["kind"], c["kind"]),
            "state_label": states.get(c["state"], c["state"]),
            "spend": Decimal(c["spend"]),
            "engagement_rate": dec(c["engagement_rate"]),
            "cost_per_result": dec(c["cost_per_result"]),
        }
        for c in snapshot["content"]
    ]


def _pauses(snapshot: dict) -> list[dict]:
    return [
        {
            **p,
            "start_display": fmt_datetime(p["start"]),
            "end_display": (fmt_datetime(p["end"]) + (" (ended)" if p.get("ended_by_close") else ""))
            if p["end"]
            else "not resumed",
        }
        for p in snapshot["pauses"]
    ]


def report_body(*, snapshot: dict, request=None) -> dict:
    """Everything the report body template (`reports/includes/report_body.html`) needs, from the snapshot only.
    With `request`, the content table honours its `?sort=` parameter."""
    from .tables import ContentTable

    series = chart_series(snapshot)
    table = ContentTable(content_rows(snapshot), currency=snapshot["campaign"]["currency"], order_by=("-video_views",))
    if request is not None:
        table.order_by = request.GET.get("sort") or "-video_views"
    ended = snapshot["ended"]
    return {
        "snapshot": snapshot,
        "campaign": snapshot["campaign"],
        "ended": {**ended, "at_display": fmt_datetime(ended["at"])},
        "start_display": fmt_date(snapshot["campaign"]["start_date"]),
        "generated_display": fmt_datetime(snapshot["generated_at"]),
        "kpis": _kpis(snapshot),
        "charts": _charts(snapshot, series),
        "targets": _targets(snapshot),
        "targets_met": sum(1 for t in snapshot["targets"] if t["met"]),
        "budget": _budget(snapshot),
        "pauses": _pauses(snapshot),
        "content_table": table,
        "content_count": len(snapshot["content"]),
        "insights": _insights(snapshot),
        "days": len(snapshot["daily"]),
        "first_day": fmt_date(snapshot["daily"][0]["date"]) if snapshot["daily"] else DASH,
        "last_day": fmt_date(snapshot["daily"][-1]["date"]) if snapshot["daily"] else DASH,
    }


SINCE_CLOSE_FIELDS = ("spend", "impressions", "video_views", "likes", "comments", "shares", "follows", "clicks")


def since_close(*, snapshot: dict, campaign) -> dict:
    """Late attribution: the campaign's current maintained totals minus the frozen ones. No metric query."""
    frozen = snapshot["totals"]
    cur = snapshot["campaign"]["currency"]
    rows = []
    for field in SINCE_CLOSE_FIELDS:
        now = getattr(campaign, f"total_{field}")
        delta = Decimal(now) - Decimal(frozen[field]) if field == "spend" else now - frozen[field]
        if delta:
            sign = "+" if delta > 0 else "−"
            shown = fmt_money(abs(delta), cur) if field == "spend" else fmt_int(abs(delta))
            rows.append({"key": field, "label": METRIC_LABELS[field], "delta": delta, "display": f"{sign}{shown}"})
    return {"rows": rows, "any": bool(rows), "last_metric_date": campaign.last_metric_date}
