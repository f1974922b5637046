"""The campaign list table. The queryset comes shaped from `selectors.campaigns_list_for_user`; the footer
totals come from one aggregate query (`selectors.campaigns_list_summary`), passed in as `totals`."""

from datetime import datetime

import django_tables2 as tables
from django.core.paginator import Paginator
from django.db.models import F
from django.urls import reverse
from django.utils import dateformat, timezone
from django.utils.formats import number_format
from django.utils.functional import cached_property
from django.utils.html import conditional_escape, format_html
from django.utils.safestring import SafeString, mark_safe

from .models import WINDDOWN_STEP_COUNT, Action, Campaign


def time_until(when: datetime, now: datetime | None = None) -> str:
    """ "in 3 h", "in 25 min", "in 2 d": short enough for a badge."""
    seconds = (when - (now or timezone.now())).total_seconds()
    if seconds <= 0:
        return "now"
    minutes = seconds / 60
    if minutes < 60:
        return f"in {max(int(minutes), 1)} min"
    hours = minutes / 60
    if hours < 48:
        return f"in {int(hours)} h"
    return f"in {int(hours / 24)} d"


def scheduled_badge_text(scheduled) -> str:
    verb = "ends" if scheduled.action == Action.END else "pauses"
    return f"{verb} {time_until(scheduled.run_at)}"


class KnownCountPaginator(Paginator):
    """A paginator told the row count (from the list's aggregate query) instead of running its own COUNT."""

    def __init__(self, *args, count: int, **kwargs):
        super().__init__(*args, **kwargs)
        self._known_count = count

    @cached_property
    def count(self):
        return self._known_count


def _money(value) -> str:
    return number_format(value or 0, decimal_pos=2, force_grouping=True)


def _int(value) -> str:
    return number_format(value or 0, decimal_pos=0, force_grouping=True)


def _total(key: str, money: bool = False):
    def footer(table):
        value = (table.totals or {}).get(key, 0)
        return _money(value) if money else _int(value)

    return footer


DATE = {"td": {"class": "date"}}
NUM = {"th": {"class": "num"}, "td": {"class": "num"}, "tf": {"class": "num"}}


class SelectColumn(tables.Column):
    """A labelled checkbox per row (name="ids", in the bulk form) and "select all on this page" in the header."""

    def __init__(self, **kwargs):
        super().__init__(accessor="pk", orderable=False, empty_values=(), verbose_name="", **kwargs)

    @property
    def header(self):
        return format_html(
            '<input type="checkbox" data-select-page aria-label="{}">', "Select all campaigns on this page"
        )

    def render(self, record):
        return format_html(
            '<input type="checkbox" name="ids" value="{}" form="bulk-form" data-select-row aria-label="Select {}">',
            record.pk,
            record.name,
        )


class CampaignTable(tables.Table):
    select = SelectColumn(attrs={"th": {"class": "select-col"}, "td": {"class": "select-col"}})
    name = tables.Column(linkify=("campaigns:detail", {"pk": tables.A("pk")}), footer="Total")
    status = tables.Column(verbose_name="Status", order_by=("status", "sync_state"), empty_values=())
    objective = tables.Column(attrs={"th": {"class": "hide-narrow"}, "td": {"class": "hide-narrow"}})
    account = tables.Column(order_by=("account__name",))
    budget = tables.Column(verbose_name="Budget", accessor="budget_amount", attrs=NUM, empty_values=())
    total_spend = tables.Column(verbose_name="Spend", attrs=NUM, footer=_total("spend", money=True))
    remaining = tables.Column(verbose_name="Remaining", accessor="pk", attrs=NUM, empty_values=())
    total_video_views = tables.Column(verbose_name="Views", attrs=NUM, footer=_total("video_views"))
    total_follows = tables.Column(verbose_name="Followers", attrs=NUM, footer=_total("follows"))
    start_date = tables.DateColumn(verbose_name="Start", format="Y-m-d", attrs=DATE)
    end_date = tables.DateColumn(verbose_name="End", format="Y-m-d", attrs=DATE)
    winddown_done = tables.Column(verbose_name="Wind-down", empty_values=())
    status_changed_at = tables.Column(verbose_name="Last change", empty_values=())

    class Meta:
        model = Campaign
        fields = ()
        sequence = (
            "select",
            "name",
            "status",
            "objective",
            "account",
            "budget",
            "total_spend",
            "remaining",
            "total_video_views",
            "total_follows",
            "start_date",
            "end_date",
            "winddown_done",
            "status_changed_at",
        )
        order_by = ("-id",)
        row_attrs = {"data-id": lambda record: record.pk, "data-status": lambda record: record.status}
        empty_text = "No campaigns match these filters."
        attrs = {"class": "table campaign-table", "id": "campaign-table"}

    def __init__(self, *args, totals: dict | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.totals = totals or {}

    def render_status(self, record):
        pending = getattr(record, "pending_actions", [])
        return status_badges(record, pending[0] if pending else None)

    def render_budget(self, record):
        return format_html(
            "{}&nbsp;{}<br><span class='muted small'>{}</span>",
            _money(record.budget_amount),
            record.account.currency,
            record.get_budget_mode_display().lower(),
        )

    def render_total_spend(self, record):
        return _money(record.total_spend)

    def order_remaining(self, queryset, is_descending):
        """Sort by the budget left, computed in SQL the way `Campaign.budget_remaining` computes it."""
        from .selectors import budget_remaining_expression

        field = F("budget_remaining_sort")
        ordering = field.desc(nulls_last=True) if is_descending else field.asc(nulls_last=True)
        return queryset.annotate(budget_remaining_sort=budget_remaining_expression()).order_by(ordering), True

    def render_remaining(self, record):
        remaining = record.budget_remaining
        return "—" if remaining is None else _money(remaining)

    def render_total_video_views(self, value):
        return _int(value)

    def render_total_follows(self, value):
        return _int(value)

    def render_winddown_done(self, record):
        if record.winddown_done is None:
            return "—"
        return f"{record.winddown_done} of {WINDDOWN_STEP_COUNT}"

    def render_status_changed_at(self, record):
        if record.status_changed_at is None:
            return "—"
        who = record.status_changed_by.get_username() if record.status_changed_by else "system"
        local = timezone.localtime(record.status_changed_at)
        return format_html(
            '<time datetime="{}">{}</time><br><span class="muted small">by {}</span>',
            record.status_changed_at.isoformat(),
            local.strftime("%Y-%m-%d %H:%M"),
            who,
        )

    def body_html(self) -> SafeString:
        """The rows of the current page as one string, built in Python (issue 9).

        django-tables2's generic path costs about 1 ms per row here (a template loop over BoundRow.items(),
        signature introspection for every render_* call, one included template per status cell): 50 rows were
        most of the page's time. This renders the same cells with the same render_* methods called directly.
        The generic template loop remains the fallback (see templates/django_tables2/closeout_table.html)."""
        page = getattr(self, "page", None)
        records = [row.record for row in (page.object_list if page else self.rows)]
        if not records:
            return SafeString("")
        columns = list(self.columns)
        td_attrs = [column.attrs["td"].as_html() for column in columns]
        cell = {
            "select": lambda r: self.columns["select"].column.render(r),
            "name": lambda r: format_html('<a href="{}">{}</a>', reverse("campaigns:detail", args=[r.pk]), r.name),
            "status": self.render_status,
            "objective": lambda r: r.get_objective_display(),
            "account": lambda r: r.account,
            "budget": self.render_budget,
            "total_spend": self.render_total_spend,
            "remaining": self.render_remaining,
            "total_video_views": lambda r: _int(r.total_video_views),
            "total_follows": lambda r: _int(r.total_follows),
            "start_date": lambda r: _date(r.start_date),
            "end_date": lambda r: _date(r.end_date),
            "winddown_done": self.render_winddown_done,
            "status_changed_at": self.render_status_changed_at,
        }
        renderers = [cell[column.name] for column in columns]
        parts = []
        for i, record in enumerate(records):
            parts.append(
                f'<tr data-id="{record.pk}" data-status="{conditional_escape(record.status)}" '
                f'class="{"odd" if i % 2 else "even"}">'
            )
            for n, (render, attrs) in enumerate(zip(renderers, td_attrs, strict=True)):
                value = render(record)
                tag = "th" if n == 1 else "td"
                scope = ' scope="row"' if n == 1 else ""
                parts.append(f"<{tag}{scope} {attrs}>{conditional_escape(value)}</{tag}>")
            parts.append("</tr>\n")
        # Every value above went through conditional_escape; the attrs come from the column definitions.
        return mark_safe("".join(parts))  # noqa: S308  # nosec B308 B703


def _date(value) -> str:
    return "—" if value is None else dateformat.format(value, "Y-m-d")


def status_badges(campaign, scheduled) -> SafeString:
    """The status cell: status (or sync state) badge, "still delivering", and a pending schedule's badge."""
    kind = campaign.sync_state if campaign.sync_state in ("pending", "failed") else campaign.status
    html = format_html('<span class="badge badge-{}">{}</span>', kind, campaign.display_status)
    if campaign.still_delivering_since:
        html += format_html(
            ' <span class="badge badge-warn" title="Metrics show delivery since {}">still delivering</span>',
            _date(campaign.still_delivering_since),
        )
    if scheduled:
        html += format_html(
            ' <span class="badge badge-scheduled" title="{} at {} UTC">{}</span>',
            scheduled.get_action_display(),
            dateformat.format(timezone.localtime(scheduled.run_at), "Y-m-d H:i"),
            scheduled_badge_text(scheduled),
        )
    return html
