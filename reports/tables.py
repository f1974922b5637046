"""django-tables2 tables of the reports app. A metric's column takes its heading and format from
`reports.metrics`; the query behind the reports list is shaped in `reports.selectors`."""

import django_tables2 as tables
from django.urls import reverse
from django.utils.html import format_html

from . import metrics
from .models import CloseReport

TABLE_TEMPLATE = "reports/includes/table.html"
NUM_ATTRS = {"th": {"class": "num"}, "td": {"class": "num"}}


class MetricColumn(tables.Column):
    """A right-aligned column of one metric, headed and written as `reports.metrics` defines it. Money is in the
    table's `currency_of(record)`."""

    def __init__(self, key: str, **kwargs):
        self.metric = metrics.metric(key)
        kwargs.setdefault("verbose_name", self.metric.heading)
        kwargs.setdefault("attrs", NUM_ATTRS)
        super().__init__(**kwargs)

    def render(self, value, record, table):
        return self.metric.format(value, table.currency_of(record))


class ContentTable(tables.Table):
    """The per-content breakdown of a frozen report (list data, sorted in Python)."""

    region_label = "Content items"

    title = tables.Column(verbose_name="Content")
    kind_label = tables.Column(verbose_name="Kind", order_by=("kind",))
    state_label = tables.Column(verbose_name="State", order_by=("state",))
    video_views = MetricColumn("video_views")
    likes = MetricColumn("likes")
    comments = MetricColumn("comments")
    shares = MetricColumn("shares")
    engagement_rate = MetricColumn("engagement_rate")
    spend = MetricColumn("spend")
    cost_per_result = MetricColumn("cost_per_result")

    class Meta:
        template_name = TABLE_TEMPLATE
        order_by_field = "sort"
        empty_text = "This campaign had no content items."
        attrs = {"class": "table", "id": "content-table"}

    def __init__(self, *args, currency: str = "", **kwargs):
        self.currency = currency
        super().__init__(*args, **kwargs)

    def currency_of(self, record) -> str:
        return self.currency

    def render_title(self, value, record):
        # Only http(s) links: a `javascript:` URL from the platform must not become clickable.
        if (record.get("url") or "").lower().startswith(("https://", "http://")):
            return format_html('<a href="{}" rel="noopener noreferrer">{}</a>', record["url"], value)
        return value


class ReportIndexTable(tables.Table):
    region_label = "Closed campaigns"
    compare = tables.TemplateColumn(
        template_name="reports/includes/compare_checkbox.html", verbose_name="Compare", orderable=False
    )
    campaign_name = tables.Column(verbose_name="Campaign")
    account = tables.Column(accessor="account__name", verbose_name="Account", order_by=("account__name",))
    objective = tables.Column()
    end_reason = tables.Column(verbose_name="End reason")
    ended_at = tables.DateColumn(verbose_name="Ended", format="j M Y")
    spend = MetricColumn("spend")
    video_views = MetricColumn("video_views")
    engagement_rate = MetricColumn("engagement_rate")
    followers = MetricColumn("follows")

    class Meta:
        model = CloseReport
        fields = ()
        sequence = (
            "compare",
            "campaign_name",
            "account",
            "objective",
            "end_reason",
            "ended_at",
            "spend",
            "video_views",
            "engagement_rate",
            "followers",
        )
        template_name = TABLE_TEMPLATE
        order_by = ("-ended_at",)
        empty_text = "No closed campaigns match these filters."
        attrs = {"class": "table", "id": "reports-table"}

    def currency_of(self, record) -> str:
        return record.account.currency

    def render_campaign_name(self, value, record):
        return format_html('<a href="{}">{}</a>', reverse("reports:detail", args=[record.campaign_id]), value)
