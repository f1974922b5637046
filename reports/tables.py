"""django-tables2 tables of the reports app. Formatting of frozen numbers lives in reports.presenters."""

import django_tables2 as tables
from django.urls import reverse
from django.utils.html import format_html

from .models import CloseReport
from .presenters import fmt_int, fmt_money, fmt_pct

TABLE_TEMPLATE = "reports/includes/table.html"


class NumColumn(tables.Column):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("attrs", {"th": {"class": "num"}, "td": {"class": "num"}})
        super().__init__(*args, **kwargs)


class ContentTable(tables.Table):
    """The per-content breakdown of a frozen report (list data, sorted in Python)."""

    region_label = "Content items"

    title = tables.Column(verbose_name="Content")
    kind_label = tables.Column(verbose_name="Kind", order_by=("kind",))
    state_label = tables.Column(verbose_name="State", order_by=("state",))
    video_views = NumColumn(verbose_name="Views")
    likes = NumColumn()
    comments = NumColumn()
    shares = NumColumn()
    engagement_rate = NumColumn(verbose_name="Eng. rate")
    spend = NumColumn()
    cost_per_result = NumColumn(verbose_name="Cost / result")

    class Meta:
        template_name = TABLE_TEMPLATE
        order_by_field = "sort"
        empty_text = "This campaign had no content items."
        attrs = {"class": "table", "id": "content-table"}

    def __init__(self, *args, currency: str = "", **kwargs):
        self.currency = currency
        super().__init__(*args, **kwargs)

    def render_title(self, value, record):
        # Only http(s) links: a `javascript:` URL from the platform must not become clickable.
        if (record.get("url") or "").lower().startswith(("https://", "http://")):
            return format_html('<a href="{}" rel="noopener noreferrer">{}</a>', record["url"], value)
        return value

    def render_video_views(self, value):
        return fmt_int(value)

    def render_likes(self, value):
        return fmt_int(value)

    def render_comments(self, value):
        return fmt_int(value)

    def render_shares(self, value):
        return fmt_int(value)

    def render_engagement_rate(self, value):
        return fmt_pct(value)

    def render_spend(self, value):
        return fmt_money(value, self.currency)

    def render_cost_per_result(self, value):
        return fmt_money(value, self.currency)


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
    spend = NumColumn()
    video_views = NumColumn(verbose_name="Views")
    engagement_rate = NumColumn(verbose_name="Eng. rate")
    followers = NumColumn(verbose_name="Followers")

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

    def render_campaign_name(self, value, record):
        return format_html('<a href="{}">{}</a>', reverse("reports:detail", args=[record.campaign_id]), value)

    def render_spend(self, value, record):
        return fmt_money(value, record.account.currency)

    def render_video_views(self, value):
        return fmt_int(value)

    def render_engagement_rate(self, value):
        return fmt_pct(value)

    def render_followers(self, value):
        return fmt_int(value)
