"""Plain series in, Chart.js configs out. Templates pass the result with `json_script`; static/js/charts.js
draws every `canvas[data-chart]`. Colours are fixed here so every chart in the product reads the same."""

from collections.abc import Sequence
from datetime import date

PALETTE = {
    "views": "#0b63c4",
    "spend": "#b3261e",
    "likes": "#d6336c",
    "shares": "#2b8a3e",
    "comments": "#7048e8",
    "follows": "#e8590c",
    "budget": "#5a6573",
    "reach": "#1098ad",
    "clicks": "#495057",
}


def _num(value) -> float:
    return float(value) if value is not None else 0.0


def date_labels(days: Sequence[date]) -> list[str]:
    return [d.isoformat() for d in days]


def ranges_to_indexes(days: Sequence[date], ranges: Sequence[tuple[date, date | None]]) -> list[list[int]]:
    """Turn date ranges (e.g. pause periods; an open end means "until the last day") into label indexes."""
    if not days:
        return []
    out = []
    for start, end in ranges:
        end = end or days[-1]
        idx = [i for i, d in enumerate(days) if start <= d <= end]
        if idx:
            out.append([idx[0], idx[-1]])
    return out


MARKER_COLORS = {"note": "#7048e8", "status": "#5a6573", "rule": "#e8590c"}


def marker_items(days: Sequence[date], markers: Sequence[tuple[date, str, str]]) -> list[dict]:
    """Timeline markers (day, label, kind: note | status | rule) as the chart's vertical lines
    (`options.plugins.markers.items`), numbered in order ("1", "2", …) as the list beside the chart numbers them.
    A marker on a day without metrics gets no line (the list still names it)."""
    index = {d: i for i, d in enumerate(days)}
    items = []
    for number, (day, label, kind) in enumerate(markers, start=1):
        if day in index:
            items.append(
                {
                    "index": index[day],
                    "day": day.isoformat(),
                    "label": label,
                    "kind": kind,
                    "number": number,
                    "color": MARKER_COLORS.get(kind, "#5a6573"),
                }
            )
    return items


def line_chart(
    *,
    labels: list[str],
    series: dict[str, Sequence],
    colors: dict[str, str] | None = None,
    y2: Sequence[str] = (),
    bands: list[list[int]] | None = None,
    kind: str = "line",
    stacked: bool = False,
    markers: list[dict] | None = None,
) -> dict:
    """A line (or bar) chart: `series` maps a legend label to its values; labels in `y2` use a right axis;
    `markers` (`marker_items`) draw as numbered vertical lines."""
    colors = colors or {}
    datasets = []
    for name, values in series.items():
        color = colors.get(name, "#0b63c4")
        datasets.append(
            {
                "label": name,
                "data": [_num(v) for v in values],
                "borderColor": color,
                "backgroundColor": color + ("cc" if kind == "bar" else "22"),
                "pointRadius": 0,
                "borderWidth": 2,
                "tension": 0.2,
                "yAxisID": "y2" if name in y2 else "y",
            }
        )
    scales = {"x": {"ticks": {"maxTicksLimit": 10}, "stacked": stacked}, "y": {"beginAtZero": True, "stacked": stacked}}
    if y2:
        scales["y2"] = {"beginAtZero": True, "position": "right", "grid": {"drawOnChartArea": False}}
    return {
        "type": kind,
        "data": {"labels": labels, "datasets": datasets},
        "options": {
            "interaction": {"mode": "index", "intersect": False},
            "scales": scales,
            "plugins": {
                "legend": {"position": "bottom"},
                "bands": {"ranges": bands or []},
                **({"markers": {"items": markers}} if markers else {}),
            },
        },
    }


def doughnut_chart(*, labels: list[str], values: Sequence, colors: Sequence[str]) -> dict:
    return {
        "type": "doughnut",
        "data": {"labels": labels, "datasets": [{"data": [_num(v) for v in values], "backgroundColor": list(colors)}]},
        "options": {"plugins": {"legend": {"position": "bottom"}}},
    }
