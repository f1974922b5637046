"""The campaign list table. The queryset comes shaped from `selectors.campaigns_list_for_user`; the footer
totals come from the list's summary, passed in as `totals`.

django-tables2 provides the columns, sorting and pagination; the table writes its own HTML (`head_html`,
`body_html`, `foot_html`, `pages_html`, used by templates/django_tables2/closeout_table.html), because the
generic cell-by-cell template path cost more than the rest of the page at 50 rows (issue 9)."""

from datetime import datetime
from html import escape as esc
from urllib.parse import urlencode

import django_tables2 as tables
from django.core.paginator import Paginator
from django.db.models import F, QuerySet
from django.http import QueryDict
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.html import conditional_escape, format_html
from django.utils.safestring import SafeString, mark_safe
from django_tables2.data import TableData
from django_tables2.rows import BoundRows
from django_tables2.templatetags.django_tables2 import table_page_range

from . import timezones
from .listing.summary import totals_by_currency
from .models import WINDDOWN_STEP_COUNT, Action, BudgetMode, Campaign, Objective, Role, Status, SyncState
from .money import money_cell
from .selectors import budget_remaining_expression, campaign_list_rows_extras
from .services import TRANSITIONS, available_actions


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


# From this many rows in, a page is fetched as a "deferred join" (below).
DEFERRED_JOIN_FROM = 1_000


class KnownCountPaginator(Paginator):
    """A paginator told the row count (from the list's aggregate query) instead of running its own COUNT.

    Deep pages use a deferred join: `… WHERE id IN (SELECT id … ORDER BY … LIMIT 50 OFFSET 80000) ORDER BY …`.
    The OFFSET then walks a narrow index (campaign_id_account covers the default order and the account scope)
    instead of decoding 80,000 full rows, and only the 50 rows of the page are read whole. Still one query.

    A page past the middle is counted from the far end instead (issue 19): the inner SELECT runs in the reverse
    order (the ordering ends in a unique key, so the reverse is exact), with the OFFSET of the rows after the page.
    Page 16,000 of 20,000 then walks 200,000 index entries, not 800,000; the outer query orders the 50 rows.

    With `capped`, `count` is a lower bound (a search matching more than `LIST_COUNT_BOUND`, listing/summary.py):
    the pages reach the first `count` rows and are always read from the start, since the far end is not known.

    With `window`, every page's rows are `window(offset, limit)` (the same rows as the table's queryset would give,
    in any order; the table's ordering is applied): a source that finds one page faster than the queryset does,
    such as SQLite's streamed search (`selectors.campaigns_list_search_window`)."""

    def __init__(self, *args, count: int, capped: bool = False, window=None, **kwargs):
        super().__init__(*args, **kwargs)
        self._known_count = count
        self.capped = capped
        self.window = window

    @cached_property
    def count(self):
        return self._known_count

    def page(self, number):
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        top = min(bottom + self.per_page, self.count)
        rows = self.object_list
        queryset = getattr(getattr(rows, "data", None), "data", None)
        if not isinstance(queryset, QuerySet) or not isinstance(rows, BoundRows):
            return self._get_page(rows[bottom:top], number, self)
        if self.window is not None:
            window = self.window(bottom, top - bottom).order_by(*queryset.query.order_by)
            return self._window_page(window, number, top - bottom)
        if bottom < DEFERRED_JOIN_FROM:
            return self._get_page(rows[bottom:top], number, self)
        ids = queryset.values("pk")
        if bottom > self.count - top and queryset.ordered and not self.capped:
            # The same rows, from the other end: positions [count - top, count - bottom) of the reverse order.
            ids = ids.reverse()[self.count - top : self.count - bottom]
        else:
            ids = ids[bottom:top]
        return self._window_page(queryset.filter(pk__in=ids), number, top - bottom)

    def _window_page(self, window: QuerySet, number: int, length: int):
        """Page `number`, its `length` rows exactly `window`'s (the table's rows for the page, ordered)."""
        rows = self.object_list
        data = TableData.from_data(window)
        data.set_table(rows.table)
        data._length = length  # known: TableData would otherwise COUNT(*) when asked its length
        page_rows = list(BoundRows(data=data, table=rows.table))
        return self._get_page(page_rows, number, self)


# The least role that may change any campaign (pause / resume): below it, the list shows no selection at all.
ACTION_ROLE_FLOOR = min((rule.role for rule in TRANSITIONS.values()), key=lambda role: Role(role).rank)


DATE = {"td": {"class": "date"}}
NUM = {"th": {"class": "num"}, "td": {"class": "num"}, "tf": {"class": "num"}}


class SelectColumn(tables.Column):
    """The selection column: "select all on this page" in the header (the rows' checkboxes are written by
    `CampaignTable.body_html`)."""

    def __init__(self, **kwargs):
        super().__init__(accessor="pk", orderable=False, empty_values=(), verbose_name="", **kwargs)

    @property
    def header(self):
        return format_html(
            '<input type="checkbox" data-select-page aria-label="{}">', "Select all campaigns on this page"
        )


class ActionsColumn(tables.Column):
    """Each row's own action menu (written by `CampaignTable.body_html`); its header is for screen readers."""

    def __init__(self, **kwargs):
        super().__init__(accessor="pk", orderable=False, empty_values=(), verbose_name="Actions", **kwargs)

    @property
    def header(self):
        return format_html('<span class="visually-hidden">{}</span>', "Actions")


class CampaignTable(tables.Table):
    select = SelectColumn(attrs={"th": {"class": "select-col"}, "td": {"class": "select-col"}})
    name = tables.Column()
    status = tables.Column(verbose_name="Status", order_by=("status", "sync_state"), empty_values=())
    # Hidden below 1,500 px: its footer cell too, or the totals would sit one column to the right.
    objective = tables.Column(attrs={part: {"class": "hide-narrow hide-medium"} for part in ("th", "td", "tf")})
    account = tables.Column(order_by=("account__name",))
    budget = tables.Column(verbose_name="Budget", accessor="budget_amount", attrs=NUM, empty_values=())
    total_spend = tables.Column(verbose_name="Spend", attrs=NUM)
    remaining = tables.Column(verbose_name="Remaining", accessor="pk", attrs=NUM, empty_values=())
    total_video_views = tables.Column(verbose_name="Views", attrs=NUM)
    total_follows = tables.Column(verbose_name="Followers", attrs=NUM)
    start_date = tables.DateColumn(verbose_name="Start", format="Y-m-d", attrs=DATE)
    end_date = tables.DateColumn(verbose_name="End", format="Y-m-d", attrs=DATE)
    winddown_done = tables.Column(verbose_name="Wind-down", empty_values=())
    status_changed_at = tables.Column(verbose_name="Last change", empty_values=())
    actions = ActionsColumn(attrs={"th": {"class": "actions-col"}, "td": {"class": "actions-col"}})

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
            "actions",
        )
        order_by = ("-id",)
        empty_text = "No campaigns match these filters."
        attrs = {"class": "table campaign-table", "id": "campaign-table"}

    def __init__(
        self,
        *args,
        params: QueryDict,
        accounts: dict,
        totals: dict,
        htmx: str = "",
        roles: dict[int, Role] | None = None,
        next_url: str = "",
        account_totals: dict | None = None,
        totals_capped_at: int | None = None,
        **kwargs,
    ):
        # Someone who may not change any campaign gets no checkboxes and no action menus (they would do nothing).
        if roles is not None and not any(Role(role).allows(ACTION_ROLE_FLOOR) for role in roles.values()):
            kwargs["exclude"] = (*kwargs.get("exclude", ()), "select", "actions")
        super().__init__(*args, **kwargs)
        self.params = params  # the list's query: sort and page links are built from it
        # {account_id: (name, currency)} of the user's accounts: rows read these instead of a joined AdAccount.
        self.accounts = accounts
        self.totals = totals  # the footer's figures, from the list's summary
        # The same per account ({account_id: figures}, from the summary): the footer adds them up per currency.
        self.account_totals = account_totals
        # Set when the rows are more than the summary counts (this bound): the footer shows no totals, and says so.
        self.totals_capped_at = totals_capped_at
        self.htmx = htmx  # the element sort and page links replace ("": plain links)
        # {account_id: Role}: each row offers `available_actions` for its status and this role (None: every row
        # gets a checkbox and no menu, as before roles were known here).
        self.roles = roles
        self.next_url = next_url  # where a row menu's confirmation returns to

    def order_remaining(self, queryset, is_descending):
        """Sort by the budget left, computed in SQL the way `Campaign.budget_remaining` computes it."""
        field = F("budget_remaining_sort")
        ordering = field.desc(nulls_last=True) if is_descending else field.asc(nulls_last=True)
        return queryset.annotate(budget_remaining_sort=budget_remaining_expression()).order_by(ordering), True

    @cached_property
    def _param_lists(self) -> dict[str, list[str]]:
        return dict(self.params.lists())

    def _url(self, **changes) -> str:
        """What `{% querystring table.params … %}` writes (None drops a key, a value replaces it in place, a new key
        goes last), HTML-escaped for an attribute: without the tag's QueryDict copy per link (issue 9)."""
        merged = self._param_lists.copy()
        for key, value in changes.items():
            if value is None:
                merged.pop(key, None)
            else:
                merged[key] = [value]
        return esc("?" + urlencode([(key, value) for key, values in merged.items() for value in values]))

    def _link(self, url: str, text: str, extra: str = "") -> str:
        # Every hx-* attribute on the link itself: the table sits inside the bulk form, whose hx-target (the dialog
        # slot) and hx-push-url="false" (for its POST) the links would otherwise inherit.
        target = self.htmx
        hx = f' hx-get="{url}" hx-target="{esc(target)}" hx-swap="outerHTML" hx-push-url="true"' if target else ""
        return f'<a href="{url}"{extra}{hx}>{text}</a>'

    def head_html(self) -> SafeString:
        """The header row (sort links with aria-sort) in Python: the template's per-column {% querystring %}
        and attribute lookups cost more than the 50 rows below it (issue 9). Same markup as the template."""
        cells = []
        for column in self.columns:
            sort = ""
            if column.is_ordered:
                sort = ' aria-sort="descending"' if column.order_by_alias.is_descending else ' aria-sort="ascending"'
            header = conditional_escape(column.header)
            if column.orderable:
                header = self._link(self._url(sort=column.order_by_alias.next, page=None), header)
            cells.append(f'<th scope="col" {column.attrs["th"].as_html()}{sort}>{header}</th>')
        return mark_safe(f"<thead><tr>{''.join(cells)}</tr></thead>")  # noqa: S308  # nosec B308 B703

    def _footer_rows(self) -> list[tuple[str, dict]]:
        """[(currency, figures)]: one footer row per currency of the listed campaigns, never a sum across
        currencies. Without per-account totals (a table built by hand), one row of `totals` with no currency."""
        if self.account_totals is None:
            return [("", self.totals)]
        currency_of = {pk: info[1] for pk, info in self.accounts.items()}
        rows = totals_by_currency(self.account_totals, currency_of)
        if rows:
            return rows
        currencies = sorted(set(currency_of.values()))
        return [(currencies[0] if len(currencies) == 1 else "", {"n": 0, "spend": 0, "video_views": 0, "follows": 0})]

    def foot_html(self) -> SafeString:
        """The totals row: one per currency ("Total in EUR", "Total in USD") when the campaigns listed are in
        several, each summing only its own accounts' campaigns. Past the summary's bound, one row that says why there
        are no totals."""
        if self.totals_capped_at is not None:
            note = (
                f"Totals are shown for up to {self.totals_capped_at:,} matching campaigns: "
                "narrow the search or the filters to see them."
            )
            cell = f'<td colspan="{len(self.columns)}" class="muted totals-capped">{note}</td>'
            # A number and fixed words.
            return mark_safe(f'<tfoot><tr data-totals="capped">{cell}</tr></tfoot>')  # noqa: S308  # nosec B308 B703
        rows = self._footer_rows()
        lines = []
        for currency, totals in rows:
            code = esc(currency)
            label = "Total" if len(rows) == 1 else f"Total in {code}"
            if len(rows) > 1:
                n = totals.get("n", 0)
                label += f'<br><span class="muted small">{n:,} campaign{"" if n == 1 else "s"}</span>'
            spend = totals.get("spend") or 0
            figures = {
                "name": label,
                "total_spend": money_cell(spend, code) if code else f"{spend:,.2f}",
                "total_video_views": f"{totals.get('video_views') or 0:,}",
                "total_follows": f"{totals.get('follows') or 0:,}",
            }
            cells = "".join(
                f"<td {column.attrs['tf'].as_html()}>{figures.get(column.name, '')}</td>" for column in self.columns
            )
            lines.append(f'<tr data-currency="{code}">{cells}</tr>')
        # Currency codes are escaped; the rest are numbers and fixed words.
        return mark_safe(f"<tfoot>{''.join(lines)}</tfoot>")  # noqa: S308  # nosec B308 B703

    def pages_html(self) -> SafeString:
        """The page links, as the template writes them."""
        page = getattr(self, "page", None)
        if page is None or self.paginator.num_pages <= 1:
            return SafeString(" ")  # nothing to show, and not the template's fallback either
        items = []
        if page.has_previous():
            items.append(self._link(self._url(page=page.previous_page_number()), "‹ Previous", ' rel="prev"'))
        for number in table_page_range(page, self.paginator):
            if number == "...":
                items.append('<span aria-hidden="true">…</span>')
            elif number == page.number:
                items.append(f'<span class="current" aria-current="page">{number}</span>')
            else:
                items.append(self._link(self._url(page=number), str(number), f' aria-label="Page {number}"'))
        if page.has_next():
            items.append(self._link(self._url(page=page.next_page_number()), "Next ›", ' rel="next"'))
        lis = "".join(f"<li>{item}</li>" for item in items)
        html = f'<nav class="table-pages" aria-label="Pages"><ul class="pagination">{lis}</ul></nav>'
        return mark_safe(html)  # noqa: S308  # nosec B308 B703  (numbers, and escaped URLs)

    def body_html(self) -> SafeString:
        """The rows of the current page as one string, built in Python (issue 9).

        django-tables2's generic path costs about 1 ms per row here (a template loop over BoundRow.items(),
        signature introspection for every render_* call, one included template per status cell), and even
        format_html/number_format per cell cost 0.2 ms a row. This writes the cells with plain string formatting:
        every value from the database goes through `html.escape`; numbers and dates are formatted, not escaped.
        With no rows it returns "", and the template shows the table's empty text."""
        page = getattr(self, "page", None)
        records = [row.record for row in (page.object_list if page is not None else self.rows)]
        if not records:
            return SafeString("")
        campaign_list_rows_extras(campaigns=records)
        # (name, currency[, zone]) per account, from the scope query; each account's zone and today read once.
        accounts = {pk: (esc(info[0]), esc(info[1])) for pk, info in self.accounts.items()}
        zones = {pk: timezones.zone_of(info[2] if len(info) > 2 else None) for pk, info in self.accounts.items()}
        todays = {pk: timezones.today_in(zone) for pk, zone in zones.items()}
        columns = [(column.name, column.attrs["td"].as_html()) for column in self.columns]
        detail = reverse("campaigns:detail", args=[0]).rsplit("0", 1)
        objectives = dict(Objective.choices)
        modes = {key: label.lower() for key, label in BudgetMode.choices}
        steps = WINDDOWN_STEP_COUNT
        menu = _RowMenu(roles=self.roles, list_qs=self.params.urlencode(), next_url=self.next_url)
        parts = []
        for i, r in enumerate(records):
            name = esc(r.name)
            account, currency = accounts[r.account_id]
            remaining = r.budget_remaining
            changed = "—"
            if r.status_changed_at is not None:
                who = "system" if r.changed_by_name is None else esc(r.changed_by_name)
                # The time in the account's zone, then who on a second line: narrow enough for 1366 px (issue 16).
                when = timezones.moment_html(r.status_changed_at, zones.get(r.account_id))
                changed = f'{when}<br><span class="muted small"><span class="visually-hidden">by </span>{who}</span>'
            actions = menu.actions(r)
            cells = {
                "select": (
                    f'<input type="checkbox" name="ids" value="{r.pk}" form="bulk-form" data-select-row '
                    f'aria-label="Select {name}">'
                    if actions is None or actions
                    else ""
                ),
                "name": f'<a href="{detail[0]}{r.pk}{detail[1]}">{name}</a>',
                "status": status_badges(
                    r, r.pending_action, today=todays.get(r.account_id), zone=zones.get(r.account_id)
                ),
                "objective": esc(objectives.get(r.objective, r.objective)),
                "account": account,
                "budget": f"{money_cell(r.budget_amount, currency)}<br>"
                f"<span class='muted small'>{esc(modes.get(r.budget_mode, r.budget_mode))}</span>",
                "total_spend": money_cell(r.total_spend, currency),
                "remaining": money_cell(remaining, currency),
                "total_video_views": f"{r.total_video_views or 0:,}",
                "total_follows": f"{r.total_follows or 0:,}",
                "start_date": _date(r.start_date),
                "end_date": _date(r.end_date),
                "winddown_done": "—" if r.winddown_done is None else f"{r.winddown_done} of {steps}",
                "status_changed_at": changed,
                "actions": menu.html(r, name, actions),
            }
            parts.append(
                f'<tr data-id="{r.pk}" id="campaign-{r.pk}" data-status="{esc(r.status)}" '
                f'class="{"odd" if i % 2 else "even"}">'
            )
            for column, attrs in columns:
                tag = "th" if column == "name" else "td"
                scope = ' scope="row"' if column == "name" else ""
                parts.append(f"<{tag}{scope} {attrs}>{cells[column]}</{tag}>")
            parts.append("</tr>\n")
        # Every database value above went through esc(); attrs come from the column definitions.
        return mark_safe("".join(parts))  # noqa: S308  # nosec B308 B703


class _RowMenu:
    """Each row's own small action menu: a `<details>` disclosure (no JS needed) with one link per action the
    user's role allows on the row's status (`available_actions`), each to the confirmation page, which htmx
    opens as a dialog. Computed once per (status, role), so 50 rows cost a handful of lookups."""

    def __init__(self, *, roles: dict | None, list_qs: str, next_url: str):
        self.roles = roles
        self.cache: dict[tuple[str, str], list[Action]] = {}
        confirm = reverse("campaigns:action_confirm")
        tail = urlencode({"origin": "list", "list_qs": list_qs, "next": next_url})
        self.href = esc(f"{confirm}?{tail}&ids=")

    def actions(self, campaign) -> list[Action] | None:
        """The actions the row offers, or None when roles are unknown (no menu, checkbox as before)."""
        if self.roles is None:
            return None
        role = self.roles.get(campaign.account_id)
        key = (campaign.status, role)
        if key not in self.cache:
            self.cache[key] = available_actions(campaign=campaign, role=role)
        return self.cache[key]

    def html(self, campaign, name: str, actions: list[Action] | None) -> str:
        if not actions:
            return ""
        links = []
        for action in actions:
            url = f"{self.href}{campaign.pk}&amp;action={action.value}"
            danger = ' class="danger"' if action == Action.END else ""
            links.append(
                f'<li><a href="{url}"{danger} hx-get="{url}" hx-target="#dialog-slot" hx-swap="innerHTML" '
                f'hx-push-url="false">{action.label}…<span class="visually-hidden"> {name}</span></a></li>'
            )
        return (
            '<details class="row-menu" data-row-menu><summary class="button small" title="Actions">'
            f'<span aria-hidden="true">⋯</span><span class="visually-hidden">Actions for {name}</span></summary>'
            f'<ul class="row-menu-list">{"".join(links)}</ul></details>'
        )


def _date(value) -> str:
    return "—" if value is None else value.isoformat()


# Sync states that colour the status badge while the platform has not caught up (else the status does).
_SYNC_BADGE_KINDS = frozenset({SyncState.PENDING, SyncState.FAILED})


def status_badge(campaign, *, today=None) -> str:
    """The campaign's status badge, escaped HTML: `Campaign.display_status` ("Paused", "Pausing…",
    "Paused · sync failed") coloured `badge-<status>`, or `badge-<sync state>` while the platform lags; an active
    campaign whose start date is still ahead reads "Starts 5 Dec" (`badge-starts`: scheduled to start, not
    delivering). `today` is the account's today (`timezones.today_in`); looked up from `campaign.account` if not
    given.

    The one definition of this markup: the list's rows call it directly (fast: plain string formatting), and
    templates through the `status_badge` / `status_badges` tags of `campaign_tags`."""
    kind = campaign.sync_state if campaign.sync_state in _SYNC_BADGE_KINDS else campaign.status
    if kind == Status.ACTIVE:
        today = today or timezones.today_in(campaign.account)
        if campaign.starts_later(today):
            start = campaign.start_date
            day = f"{start.day} {start:%b}" + ("" if start.year == today.year else f" {start.year}")
            return (
                f'<span class="badge badge-starts" title="Scheduled to start on {start.isoformat()}">'
                f"Starts {day}</span>"
            )
    return f'<span class="badge badge-{esc(kind)}">{esc(campaign.display_status)}</span>'


def status_badges(campaign, scheduled=None, *, today=None, zone=None) -> SafeString:
    """The status cell: status (or sync state) badge, "needs details" (an imported campaign a manager has not
    completed), "still delivering", and a pending schedule's badge (its time in the account's zone, `zone`; looked
    up from `campaign.account` if not given)."""
    html = status_badge(campaign, today=today)
    if getattr(campaign, "needs_details", False):
        html += (
            ' <span class="badge badge-warn" title="Created by an import: its budget and plan are not known yet; '
            'a manager fills them in">needs details</span>'
        )
    if campaign.still_delivering_since:
        html += (
            ' <span class="badge badge-warn" title="Metrics show delivery since '
            f'{_date(campaign.still_delivering_since)}">still delivering</span>'
        )
    html = mark_safe(html)  # noqa: S308  # nosec B308 B703  (escaped above)
    if scheduled:
        html += format_html(
            ' <span class="badge badge-scheduled" title="{} at {}">{}</span>',
            scheduled.get_action_display(),
            timezones.moment_text(scheduled.run_at, zone if zone is not None else campaign.account),
            scheduled_badge_text(scheduled),
        )
    return html
