"""Reads scoped to what a user may see. Views never fetch a campaign or account by raw id without these."""

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import PermissionDenied
from django.db.models import Count, IntegerField, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.http import Http404

from .listing import search, sorting, summary
from .models import AdAccount, Campaign, Connector, Membership, Role, StatusChange

User = AbstractBaseUser | AnonymousUser

# The list's summary, search rule and sort keys live in campaigns/listing/ (issue 13); importable from here too.
LIST_TABS, LIST_TOTALS, LIST_NARROWING = summary.LIST_TABS, summary.LIST_TOTALS, summary.LIST_NARROWING
campaigns_list_summary = summary.campaigns_list_summary
campaigns_list_summary_from_stats = summary.campaigns_list_summary_from_stats
campaigns_list_summary_from_search = summary.campaigns_list_summary_from_search
campaigns_list_summary_for_filters = summary.campaigns_list_summary_for_filters
campaign_search_q = search.campaign_search_q
budget_remaining_expression = sorting.budget_remaining_expression


def accounts_for_user(*, user: User) -> QuerySet[AdAccount]:
    if not user.is_authenticated:
        return AdAccount.objects.none()
    return AdAccount.objects.filter(memberships__user=user)


def accounts_for_creating(*, user: User) -> QuerySet[AdAccount]:
    """The accounts the user may create campaigns in by hand: they manage it and it has no platform connection
    (a connected account's campaigns are created on the platform and pulled)."""
    if not user.is_authenticated:
        return AdAccount.objects.none()
    return AdAccount.objects.filter(
        memberships__user=user, memberships__role=Role.MANAGER, connector=Connector.NONE
    ).order_by("name")


def roles_for_user(*, user: User) -> dict[int, Role]:
    """{account_id: role} for every account the user is a member of (one query)."""
    if not user.is_authenticated:
        return {}
    return {
        account_id: Role(role)
        for account_id, role in Membership.objects.filter(user=user).values_list("account_id", "role")
    }


def role_for(*, user: User, account_id: int) -> Role | None:
    if not user.is_authenticated:
        return None
    role = Membership.objects.filter(user=user, account_id=account_id).values_list("role", flat=True).first()
    return Role(role) if role else None


def campaigns_for_user(*, user: User) -> QuerySet[Campaign]:
    if not user.is_authenticated:
        return Campaign.objects.none()
    return Campaign.objects.filter(account__memberships__user=user)


def campaign_get_for_user(*, user: User, pk: object) -> Campaign:
    """The campaign if the user is a member of its account; 404 otherwise (also for malformed ids), so
    that other accounts' campaigns are indistinguishable from ones that do not exist."""
    try:
        pk = int(str(pk))
    except (TypeError, ValueError):
        raise Http404("No such campaign.") from None
    campaign = (
        campaigns_for_user(user=user).select_related("account", "owner", "status_changed_by").filter(pk=pk).first()
    )
    if campaign is None:
        raise Http404("No such campaign.")
    return campaign


def account_get_for_user(*, user: User, pk: object) -> AdAccount:
    try:
        pk = int(str(pk))
    except (TypeError, ValueError):
        raise Http404("No such account.") from None
    account = accounts_for_user(user=user).filter(pk=pk).first()
    if account is None:
        raise Http404("No such account.")
    return account


def require_role(*, user: User, account_id: int, role: Role, doing: str = "do that") -> Role:
    """The user's role in the account if it is at least `role`; otherwise PermissionDenied with a message
    that says which role is needed."""
    have = role_for(user=user, account_id=account_id)
    if have is None or not have.allows(role):
        raise PermissionDenied(f"You need the {Role(role).label.lower()} role in this account to {doing}.")
    return have


def campaign_history(*, campaign: Campaign) -> QuerySet[StatusChange]:
    return StatusChange.objects.filter(campaign=campaign).select_related("actor")


# --- campaign list, detail, calendar (issue 3) ---


def list_scope_for_user(
    *, user: User
) -> tuple[dict[int, Role], list[tuple[int, str]], dict[int, tuple[str, str, str]]]:
    """For the list page, in one query: the user's {account_id: role}, their accounts as (id, name) choices by
    name, and {account_id: (name, currency, time zone)} for the rows. The list scopes its campaigns by these ids
    (no JOIN of memberships), the filter form offers these accounts without a query of its own, and rows take their
    account's name, currency and zone from here instead of joining (and building) an AdAccount per row."""
    if not user.is_authenticated:
        return {}, [], {}
    rows = Membership.objects.filter(user=user).order_by("account__name", "account_id")
    rows = list(rows.values_list("account_id", "role", "account__name", "account__currency", "account__timezone"))
    return (
        {account_id: Role(role) for account_id, role, *_ in rows},
        [(pk, name) for pk, _, name, *_ in rows],
        {pk: (name, currency, zone) for pk, _, name, currency, zone in rows},
    )


# What a list row shows (CampaignTable.body_html): loading only these halves the cost of building 50 rows.
LIST_ROW_FIELDS = (
    "id",
    "name",
    "objective",
    "status",
    "sync_state",
    "still_delivering_since",
    "budget_mode",
    "budget_amount",
    "start_date",
    "end_date",
    "total_spend",
    "total_video_views",
    "total_follows",
    "winddown_done",
    "status_changed_at",
    "status_changed_by_id",
    "account_id",
    "needs_details",
)


def campaigns_list_for_user(
    *, user: User, account_ids: list[int] | None = None, text_search: bool = False
) -> QuerySet[Campaign]:
    """The list page's queryset: one row per visible campaign, loading only what a row shows
    (`LIST_ROW_FIELDS`; the account's name and currency come from `list_scope_for_user`; who changed the status
    and the pending schedule come from `campaign_list_rows_extras` for the page's rows). Metric columns read the
    denormalised `Campaign.total_*` fields, never DailyMetric.

    Scoped by `account_id IN (account_ids)` (from `list_scope_for_user`; looked up when not given) rather
    than a JOIN of memberships. `status_changed_by` is looked up, not joined: the nullable LEFT OUTER JOIN
    made SQLite sort all matching rows before the LIMIT (about 300 ms at 100k campaigns, issue 9)."""
    if account_ids is None:
        account_ids = list(roles_for_user(user=user))
    # With a text search to follow, scoped so that the database plans it well (listing/search.py).
    campaigns = search.campaigns_in_accounts(Campaign.objects.all(), account_ids, text_search=text_search)
    return campaigns.only(*LIST_ROW_FIELDS)


def campaigns_list_search_window(*, account_ids: list[int], filters: dict, tab: str):
    """For a list in its default order (newest first) whose filters are a text search by account and status only,
    on SQLite: a function (offset, limit) → that page's campaigns (`LIST_ROW_FIELDS`, unordered), read from the
    FTS5 index as it streams, so a page costs the same whether the term matches 5,000 campaigns or 50,000
    (listing/search.py, issue 19). None when the page's rows come from the filtered queryset as usual.

    `account_ids` are the user's accounts (`list_scope_for_user`); the same scope is applied to the page again."""
    simple = summary.simple_filters(filters, account_ids)
    if simple is None or not search.sqlite_search_streams(simple[2]):
        return None
    accounts, statuses, term = simple
    if tab != "all":
        if statuses is not None and tab not in statuses:
            accounts = []  # the tab is none of the chosen statuses: no rows
        statuses = [tab]

    def window(offset: int, limit: int) -> QuerySet[Campaign]:
        if not accounts:
            return Campaign.objects.none()
        ids = search.sqlite_search_page_ids(
            term=term, account_ids=accounts, statuses=statuses, offset=offset, limit=limit
        )
        return Campaign.objects.filter(account_id__in=accounts, pk__in=ids).only(*LIST_ROW_FIELDS)

    return window


def campaign_list_rows_extras(*, campaigns: list[Campaign]) -> None:
    """Set what a list row shows beyond its own columns on one page of campaigns, in two small queries:
    `changed_by_name` (the username of who last changed the status; None for the system) and `pending_action`
    (the pending ScheduledAction; at most one per campaign, or None). What `prefetch_related` did, for a page,
    without its per-instance machinery (1–2 ms of a 30–40 ms page, issue 9)."""
    from django.contrib.auth import get_user_model

    from .models import ScheduledAction, ScheduledState

    user_model = get_user_model()
    changers = {c.status_changed_by_id for c in campaigns if c.status_changed_by_id is not None}
    names = {}
    if changers:
        names = dict(user_model.objects.filter(pk__in=changers).values_list("pk", user_model.USERNAME_FIELD))
    pending = ScheduledAction.objects.filter(campaign_id__in=[c.pk for c in campaigns], state=ScheduledState.PENDING)
    by_campaign = {action.campaign_id: action for action in pending.only("campaign_id", "action", "run_at")}
    for campaign in campaigns:
        campaign.changed_by_name = names.get(campaign.status_changed_by_id)
        campaign.pending_action = by_campaign.get(campaign.pk)


def campaign_daily_series(*, campaign: Campaign) -> list:
    """The campaign-level daily metric rows (no per-content rows), oldest first."""
    from .models import DailyMetric

    return list(
        DailyMetric.objects.filter(campaign=campaign, content_item__isnull=True)
        .order_by("date")
        .only("date", "spend", "video_views")
    )


def campaign_pause_spans(*, history: list[StatusChange]) -> list[tuple]:
    """[(the change that paused, the change that ended that pause or None)] from the status history (any order
    in), oldest first. The one walk over pauses: the campaign page's chart bands and the close report use it."""
    from .models import Status

    spans: list[list] = []
    for change in sorted((h for h in history if h.is_transition), key=lambda h: (h.created_at, h.pk)):
        if change.to_status == Status.PAUSED:
            spans.append([change, None])
        elif change.from_status == Status.PAUSED and spans and spans[-1][1] is None:
            spans[-1][1] = change
    return [tuple(s) for s in spans]


def campaign_pause_periods(*, history: list[StatusChange], tz) -> list[tuple]:
    """[(first_day, last_day or None)] the campaign spent paused, from its status history (any order in).
    An open end (still paused) is None."""
    return [
        (start.created_at.astimezone(tz).date(), end.created_at.astimezone(tz).date() if end else None)
        for start, end in campaign_pause_spans(history=history)
    ]


def campaigns_in_month_for_user(*, user: User, first_day, last_day) -> QuerySet[Campaign]:
    """Campaigns whose start–end dates touch [first_day, last_day] (no end date: open-ended)."""
    from django.db.models import Q

    return (
        campaigns_for_user(user=user)
        .filter(start_date__lte=last_day)
        .filter(Q(end_date__isnull=True) | Q(end_date__gte=first_day))
        .select_related("account")
        .order_by("start_date", "name")
    )


def account_for_ics_token(*, token: str) -> AdAccount | None:
    import hashlib

    if not token:
        return None
    digest = hashlib.sha256(token.encode()).hexdigest()
    return AdAccount.objects.filter(ics_token_hash=digest).first()


def rows_counted(rows: QuerySet, *, by: str) -> Coalesce:
    """How many of `rows` each outer row has, as a correlated subquery: `rows` filtered on `by=OuterRef("pk")`
    (`by` the foreign key's field name), 0 for none. One grouped COUNT per outer row, in the outer query."""
    counted = rows.filter(**{by: OuterRef("pk")}).order_by().values(by).annotate(n=Count("pk")).values("n")
    return Coalesce(Subquery(counted, output_field=IntegerField()), 0)
