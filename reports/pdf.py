"""The report as a PDF for compliance: WeasyPrint over an HTML template, charts drawn on the server with
matplotlib (WeasyPrint runs no JavaScript). Charts are SVG with text as paths, so they need no fonts.

One PDF is rendered per report and served to the team and to every share link alike (`services.pdf_store`), so
it leaves out the internal details (who ended or paused the campaign, the end note): a PDF travels further than
the link it came from. Its tables list the metrics named below, headed as `reports.metrics` defines them."""

import base64
import io
from decimal import Decimal

from django.template.loader import render_to_string

from campaigns.charts import PALETTE
from campaigns.models import COUNT_METRIC_FIELDS

from . import metrics
from .presenters import chart_series, report_body

# The metric columns of the PDF's content and daily (or monthly) tables.
CONTENT_METRICS = ("video_views", "likes", "comments", "shares", "engagement_rate", "spend")
PERIOD_METRICS = ("spend", "impressions", "video_views", "likes", "comments", "shares", "follows")


def _figure(width=7.2, height=2.6):
    from matplotlib.figure import Figure  # imported lazily: matplotlib is slow to import and only the PDF needs it

    fig = Figure(figsize=(width, height), dpi=100)
    fig.set_layout_engine("tight")
    return fig


def _data_uri(fig) -> str:
    from matplotlib.backends.backend_svg import FigureCanvasSVG

    buf = io.BytesIO()
    FigureCanvasSVG(fig)
    fig.savefig(buf, format="svg", metadata={"Date": None})
    return "data:image/svg+xml;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _shade_pauses(ax, series):
    days = series["days"]
    for start, end in series["pauses"]:
        end = end or (days[-1] if days else start)
        ax.axvspan(start, end, color="#ffbf47", alpha=0.25, linewidth=0)


def _style(ax):
    ax.spines[["top", "right"]].set_visible(False)
    ax.grid(axis="y", color="#d9dee5", linewidth=0.6)
    ax.tick_params(labelsize=7)


def chart_images(snapshot: dict) -> list[dict]:
    """[{title, uri}] for the PDF: the same four charts as the page."""
    import matplotlib

    matplotlib.rcParams["svg.fonttype"] = "path"
    s = chart_series(snapshot)
    days = s["days"]
    out = []

    fig = _figure()
    ax = fig.add_subplot()
    _shade_pauses(ax, s)
    ax.plot(days, s["views"], color=PALETTE["views"], label="Video views", linewidth=1.5)
    ax2 = ax.twinx()
    for key, label in (("likes", "Likes"), ("shares", "Shares"), ("comments", "Comments")):
        ax2.plot(days, s[key], color=PALETTE[key], label=label, linewidth=1.1)
    _style(ax)
    ax2.tick_params(labelsize=7)
    ax.set_ylim(bottom=0)
    ax2.set_ylim(bottom=0)
    handles = ax.get_legend_handles_labels()[0] + ax2.get_legend_handles_labels()[0]
    ax.legend(handles=handles, fontsize=7, loc="upper left", frameon=False, ncols=4)
    fig.autofmt_xdate()
    out.append({"title": "Daily views (left), likes, shares and comments (right)", "uri": _data_uri(fig)})

    fig = _figure()
    ax = fig.add_subplot()
    _shade_pauses(ax, s)
    ax.plot(days, s["followers_cum"], color=PALETTE["follows"], linewidth=1.5)
    _style(ax)
    ax.set_ylim(bottom=0)
    fig.autofmt_xdate()
    out.append({"title": "Followers gained (cumulative)", "uri": _data_uri(fig)})

    fig = _figure()
    ax = fig.add_subplot()
    _shade_pauses(ax, s)
    ax.plot(days, [float(v) for v in s["spend_cum"]], color=PALETTE["spend"], label="Spend", linewidth=1.5)
    ax.plot(days, [float(v) for v in s["budget_line"]], color=PALETTE["budget"], label="Budget", linestyle="--")
    _style(ax)
    ax.set_ylim(bottom=0)
    ax.legend(fontsize=7, loc="upper left", frameon=False)
    fig.autofmt_xdate()
    out.append(
        {"title": f"Spend against budget (cumulative, {snapshot['campaign']['currency']})", "uri": _data_uri(fig)}
    )

    totals = snapshot["totals"]
    values = [totals["likes"], totals["comments"], totals["shares"]]
    fig = _figure(width=3.6, height=2.4)
    ax = fig.add_subplot()
    if sum(values):
        ax.pie(
            values,
            labels=["Likes", "Comments", "Shares"],
            colors=[PALETTE["likes"], PALETTE["comments"], PALETTE["shares"]],
            wedgeprops={"width": 0.45},
            textprops={"fontsize": 7},
        )
    else:
        ax.text(0.5, 0.5, "No interactions", ha="center", va="center", fontsize=8)
        ax.set_axis_off()
    out.append({"title": "Engagement mix", "uri": _data_uri(fig)})
    return out


# WeasyPrint lays out a table cell in a few milliseconds; beyond this many days the PDF lists months, not days
# (the full daily series is in the CSV export).
PDF_DAILY_ROWS_MAX = 62
PDF_VERSION = 1  # bump when the PDF's layout changes: stored PDFs of another version are rendered again


def _monthly(daily: list[dict]) -> list[dict]:
    months: dict[str, dict] = {}
    for d in daily:
        m = months.setdefault(d["date"][:7], {"date": d["date"][:7], "spend": Decimal("0")})
        m["spend"] += Decimal(d["spend"])
        for f in COUNT_METRIC_FIELDS:
            m[f] = m.get(f, 0) + d[f]
    return list(months.values())


def _headings(keys) -> list[str]:
    return [metrics.metric(key).heading for key in keys]


def report_pdf_html(*, snapshot: dict, images: list[dict]) -> str:
    """The PDF's HTML (what WeasyPrint lays out), without internal details."""
    body = report_body(snapshot=snapshot, internal_details=False)
    daily = snapshot["daily"]
    monthly = len(daily) > PDF_DAILY_ROWS_MAX
    content_rows = [
        [row.record["title"], row.record["kind_label"], *(row.get_cell(key) for key in CONTENT_METRICS)]
        for row in body["content_table"].rows
    ]
    period_rows = [[d["date"], *(d[key] for key in PERIOD_METRICS)] for d in (_monthly(daily) if monthly else daily)]
    return render_to_string(
        "reports/report_pdf.html",
        {
            "body": body,
            "images": images,
            "content_headings": _headings(CONTENT_METRICS),
            "content_rows": content_rows,
            "period_headings": _headings(PERIOD_METRICS),
            "period_rows": period_rows,
            "monthly": monthly,
        },
    )


def report_pdf(*, snapshot: dict) -> bytes:
    from weasyprint import HTML  # imported lazily: WeasyPrint is slow to import and only the PDF needs it

    return HTML(string=report_pdf_html(snapshot=snapshot, images=chart_images(snapshot))).write_pdf()


def pdf_version(report) -> str:
    """What a stored PDF of `report` must have been rendered with: its snapshot format and this module's layout."""
    return f"{report.snapshot_version}.{PDF_VERSION}"
