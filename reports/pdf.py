"""The report as a PDF for compliance: WeasyPrint over an HTML template, charts drawn on the server with
matplotlib (WeasyPrint runs no JavaScript). Charts are SVG with text as paths, so they need no fonts.

A PDF is rendered per audience (`models.PdfAudience`, stored by `services.pdf_store`) and shows what that
audience's page shows: the team's names who ended and paused the campaign, the end note, and adds the lessons
learned, the benchmark against the account's other ended campaigns and the feedback (never a comment a manager
hid); a share link's leaves out the internal details unless the link shows team notes (then with the lessons).
Its first lines say which figures it shows (`pdf_scope`). Its tables list the metrics named below, headed as
`reports.metrics` defines them; money columns name their currency. Pure: everything it shows is passed in."""

import base64
import dataclasses
import datetime as dt
import io
from decimal import Decimal

from django.template.loader import render_to_string

from campaigns.charts import PALETTE
from campaigns.models import COUNT_METRIC_FIELDS
from campaigns.timezones import moment_date_text, moment_text, zone_label, zone_of

from . import metrics
from .formatting import MONEY, fmt_money
from .models import PdfAudience
from .presenters import chart_series, report_body, timeline

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


def _mark_timeline(ax, series):
    """The timeline's markers (issue 18) as numbered vertical lines, numbered as the list under the charts."""
    from matplotlib.dates import date2num

    days = series["days"]
    if not days:
        return
    transform = ax.get_xaxis_transform()  # x in data (days), y in axes fractions: the number sits at the top
    on_day: dict[int, int] = {}
    for item in series["marker_items"]:
        day = days[item["index"]]
        stack = on_day[item["index"]] = on_day.get(item["index"], -1) + 1  # two markers on a day: side by side
        ax.axvline(day, color=item["color"], linewidth=0.9, linestyle="--" if item["kind"] == "note" else "-")
        ax.annotate(
            str(item["number"]),
            (date2num(day), 1.0),  # annotate() takes numbers, not dates
            xycoords=transform,
            xytext=(stack * 6, 1),
            textcoords="offset points",
            fontsize=6,
            color=item["color"],
            ha="center",
        )


def _style(ax):
    ax.spines[["top", "right"]].set_visible(False)
    ax.grid(axis="y", color="#d9dee5", linewidth=0.6)
    ax.tick_params(labelsize=7)


def chart_images(snapshot: dict, markers: list[dict] = ()) -> list[dict]:
    """[{title, uri}] for the PDF: the same four charts as the page, the timeline's `markers`
    (`presenters.timeline`) on the three over time."""
    import matplotlib

    matplotlib.rcParams["svg.fonttype"] = "path"
    s = chart_series(snapshot, markers)
    days = s["days"]
    out = []

    fig = _figure()
    ax = fig.add_subplot()
    _shade_pauses(ax, s)
    _mark_timeline(ax, s)
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
    _mark_timeline(ax, s)
    ax.plot(days, s["followers_cum"], color=PALETTE["follows"], linewidth=1.5)
    _style(ax)
    ax.set_ylim(bottom=0)
    fig.autofmt_xdate()
    out.append({"title": "Followers gained (cumulative)", "uri": _data_uri(fig)})

    fig = _figure()
    ax = fig.add_subplot()
    _shade_pauses(ax, s)
    _mark_timeline(ax, s)
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
PDF_VERSION = 3  # bump when the PDF's layout changes: stored PDFs of another version are rendered again


def _monthly(daily: list[dict]) -> list[dict]:
    months: dict[str, dict] = {}
    for d in daily:
        m = months.setdefault(d["date"][:7], {"date": d["date"][:7], "spend": Decimal("0")})
        m["spend"] += Decimal(d["spend"])
        for f in COUNT_METRIC_FIELDS:
            m[f] = m.get(f, 0) + d[f]
    return list(months.values())


def _headings(keys, currency: str = "") -> list[str]:
    """Column headings; a money metric's names its currency ("Spend (EUR)")."""
    out = []
    for key in keys:
        m = metrics.metric(key)
        out.append(f"{m.heading} ({currency})" if currency and m.unit == MONEY else m.heading)
    return out


@dataclasses.dataclass(frozen=True)
class PdfExtras:
    """What a PDF shows besides the frozen snapshot, read for its audience by `services.pdf_store`.

    `lessons`: the current LessonRevision (or None) when the audience sees lessons (`show_lessons`);
    `comparison`: `presenters.comparison(...)` for the team; `feedback`: `services.feedback_summary(...,
    include_hidden=False)` for the team; `final`: the final figures, once they are in."""

    audience: str = PdfAudience.PUBLIC
    show_lessons: bool = False
    lessons: object | None = None
    comparison: dict | None = None
    feedback: dict | None = None
    final: dict | None = None  # `presenters.final_figures(...)`, every audience: None until the figures are final
    incomplete_through: str | None = None  # "4 Mar 2026" (or "no day") when frozen without all final numbers
    branding: dict | None = None  # `services.branding.branding_for_pdf(...)` for the share links' PDFs (issue 18)
    added_after_close: tuple = ()  # the campaign's notes written after the freeze (`Annotation` rows, issue 18)

    @property
    def internal_details(self) -> bool:
        return self.audience in (PdfAudience.TEAM, PdfAudience.PUBLIC_NOTES)


def pdf_scope(*, body: dict, extras: PdfExtras) -> list[str]:
    """The PDF's first lines: which figures it shows, in what money and time, and what else it holds for its
    audience (and what it leaves out)."""
    snapshot, campaign = body["snapshot"], body["campaign"]
    zone = zone_of(campaign.get("timezone"))
    ended_at = dt.datetime.fromisoformat(snapshot["ended"]["at"])
    lines = [
        f"The figures frozen at {body['generated_display']}, after the campaign ended: "
        + (
            f"{body['days']} day{'' if body['days'] == 1 else 's'} of metrics, {body['first_day']} – "
            f"{body['last_day']}."
            if body["days"]
            else "no metrics were reported."
        )
        + (
            f" Final figures as of {extras.final['as_of']} (the platform’s numbers pulled again after its"
            " attribution window) are shown beside them, before the report."
            if extras.final
            else " Metrics reported after that are not included (the report page shows them as “since close”)."
        ),
        f"Money in {campaign['currency']}; times in {zone_label(zone, ended_at)}.",
    ]
    if extras.incomplete_through:
        lines.insert(
            0,
            f"Incomplete: numbers up to {extras.incomplete_through}. The ad platform did not give this campaign’s "
            "final numbers in time, so the report was frozen with what had arrived; it may be lower than the "
            "platform’s own figures.",
        )
    if extras.audience == PdfAudience.TEAM:
        others = extras.comparison["others"] if extras.comparison else 0
        answers = extras.feedback["total"] if extras.feedback else 0
        lines.append(
            "For the team: who ended and paused it and the end note; the lessons learned; how it compares with the "
            f"account’s {others} other ended campaign{'' if others == 1 else 's'}; feedback from {answers} "
            f"{'person' if answers == 1 else 'people'} (comments a manager hid are left out)."
        )
    elif extras.audience == PdfAudience.PUBLIC_NOTES:
        lines.append(
            "Shared with the team’s notes: who ended and paused it, the end note and the lessons learned; "
            "without the benchmark or the feedback."
        )
    else:
        lines.append(
            "Shared outside the team: without who ended or paused it, the end note, the lessons learned, the "
            "benchmark or the feedback."
        )
    return lines


def _lessons(lessons, zone) -> dict | None:
    if lessons is None or lessons.is_empty:
        return None
    author = lessons.author.get_full_name() or lessons.author.get_username() if lessons.author else "a former member"
    return {
        "what_worked": lessons.what_worked,
        "what_to_change": lessons.what_to_change,
        "next_steps": lessons.next_steps,
        "edited": f"Last edited by {author} at {moment_text(lessons.created_at, zone, year=True)}.",
    }


def _feedback(summary: dict | None, zone) -> dict | None:
    """The feedback summary with its comments written out; hidden comments are not in it (the caller asked
    without them) and are skipped here too, whatever was passed."""
    if summary is None:
        return None
    comments = [
        {
            "who": f"{f.name or 'Anonymous'} · {f.get_role_display()} · {f.rating}/5 · "
            + ("would take part again" if f.would_take_part_again else "would not take part again")
            + f" · {moment_date_text(f.created_at, zone)}",
            "parts": [
                (label, text)
                for label, text in (
                    ("What worked", f.what_worked),
                    ("To improve", f.what_to_improve),
                    ("Comment", f.comment),
                )
                if text
            ],
        }
        for f in summary["comments"]
        if f.hidden_at is None
    ]
    return {"roles": summary["roles"], "total": summary["total"], "comments": comments}


def report_pdf_html(*, snapshot: dict, images: list[dict], extras: PdfExtras | None = None) -> str:
    """The PDF's HTML (what WeasyPrint lays out) for `extras.audience` (by default a share link's: no internal
    details, lessons, benchmark or feedback)."""
    extras = extras or PdfExtras()
    body = report_body(
        snapshot=snapshot, internal_details=extras.internal_details, added_after_close=extras.added_after_close
    )
    zone = zone_of(snapshot["campaign"].get("timezone"))
    currency = snapshot["campaign"]["currency"]
    daily = snapshot["daily"]
    monthly = len(daily) > PDF_DAILY_ROWS_MAX
    content_rows = [
        [row.record["title"], row.record["kind_label"], *(row.get_cell(key) for key in CONTENT_METRICS)]
        for row in body["content_table"].rows
    ]
    period_rows = [
        [d["date"], *(fmt_money(d[key]) if key == "spend" else d[key] for key in PERIOD_METRICS)]
        for d in (_monthly(daily) if monthly else daily)
    ]
    return render_to_string(
        "reports/report_pdf.html",
        {
            "body": body,
            "images": images,
            "scope": pdf_scope(body=body, extras=extras),
            "content_headings": _headings(CONTENT_METRICS),  # its money cells name their currency
            "content_rows": content_rows,
            "period_headings": _headings(PERIOD_METRICS, currency),
            "period_rows": period_rows,
            "monthly": monthly,
            "show_lessons": extras.show_lessons,
            "lessons": _lessons(extras.lessons, zone) if extras.show_lessons else None,
            "comparison": extras.comparison,
            "feedback": _feedback(extras.feedback, zone),
            "final": extras.final,
            "branding": extras.branding,
        },
    )


def report_pdf(*, snapshot: dict, extras: PdfExtras | None = None) -> bytes:
    from weasyprint import HTML  # imported lazily: WeasyPrint is slow to import and only the PDF needs it

    extras = extras or PdfExtras()
    markers = timeline(snapshot, internal_details=extras.internal_details, added_after_close=extras.added_after_close)
    html = report_pdf_html(snapshot=snapshot, images=chart_images(snapshot, markers), extras=extras)
    return HTML(string=html).write_pdf()


def pdf_version(report) -> str:
    """What a stored PDF of `report` must have been rendered with: its snapshot format and this module's layout."""
    return f"{report.snapshot_version}.{PDF_VERSION}"
