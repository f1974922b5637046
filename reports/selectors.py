"""Scoped reads of the reports app. Nothing here aggregates raw metrics: reports read their frozen snapshot
and the scalar columns copied from it."""

import statistics

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.cache import cache
from django.db.models import Count, Exists, F, Max, OuterRef, QuerySet, Subquery
from django.db.models.fields.json import KeyTextTransform, KeyTransform

from campaigns.models import MAX_ID, Campaign, Membership, Role
from campaigns.selectors import accounts_for_user

from . import metrics
from .models import (
    AccountRecipient,
    CloseReport,
    CloseReportWait,
    Feedback,
    LessonRevision,
    ReportDelivery,
    ReportRecipient,
    ShareLink,
)

User = AbstractBaseUser | AnonymousUser

MAX_COMPARE = 4


def reports_for_user(*, user: User) -> QuerySet[CloseReport]:
    if not user.is_authenticated:
        return CloseReport.objects.none()
    return CloseReport.objects.filter(account__memberships__user=user)


def report_for_campaign(*, campaign: Campaign, page: bool = False) -> CloseReport | None:
    """The campaign's report. `page=True` for the report page: the snapshot (365 days × 50 items is ~2 MB of
    JSON) is not loaded, only what the page reads around its cached body: `frozen_totals` and `frozen_currency`."""
    reports = CloseReport.objects.filter(campaign_id=campaign.pk)
    if page:
        reports = reports.defer("snapshot").annotate(
            frozen_totals=KeyTransform("totals", "snapshot"),
            frozen_currency=KeyTextTransform("currency", KeyTransform("campaign", "snapshot")),
        )
    return reports.first()


def report_page_for_user(*, user: User, campaign_id: int) -> tuple[CloseReport, Role] | None:
    """The report page's report (as `report_for_campaign(page=True)`), its campaign (`report.campaign`, with the
    account, owner and who changed its status, as `campaign_get_for_user` loads it) and the user's role in the
    account, in one query. None when the user is no member there or the campaign has no report yet: the caller
    then asks the usual way, which tells a 404 from a pending report."""
    if not user.is_authenticated or not 0 < int(campaign_id) <= MAX_ID:
        return None  # an id no row can have: SQLite raises OverflowError on it in a foreign key lookup
    role = Membership.objects.filter(user=user, account_id=OuterRef("account_id")).order_by("id").values("role")[:1]
    account_reports = CloseReport.objects.filter(account_id=OuterRef("account_id")).order_by().values("account_id")
    report = (
        CloseReport.objects.filter(campaign_id=campaign_id)
        .select_related("campaign__account", "campaign__owner", "campaign__status_changed_by")
        .defer("snapshot")
        .annotate(
            frozen_totals=KeyTransform("totals", "snapshot"),
            frozen_currency=KeyTextTransform("currency", KeyTransform("campaign", "snapshot")),
            viewer_role=Subquery(role),
            # What the comparison is made of (`report_comparison`): the account's reports, counted and the newest.
            account_reports_count=Subquery(account_reports.annotate(n=Count("pk")).values("n")),
            account_reports_newest=Subquery(account_reports.annotate(top=Max("pk")).values("top")),
            # Which of the page's other sections have anything to read (`page_has`): an empty one costs no query.
            **{f"has_{what}": Exists(rows) for what, rows in _page_sections().items()},
        )
        .filter(viewer_role__isnull=False)
        .first()
    )
    return None if report is None else (report, Role(report.viewer_role))


def _page_sections() -> dict[str, QuerySet]:
    report = OuterRef("pk")
    return {
        "lessons": LessonRevision.objects.filter(report=report),
        "share_links": ShareLink.objects.filter(report=report),
        "feedback": Feedback.objects.filter(report=report),
        "recipients": ReportRecipient.objects.filter(report=report),
        # The account's default recipients not on the report's list yet (copied at its next send).
        "account_recipients": AccountRecipient.objects.filter(
            account_id=OuterRef("account_id"), unsubscribed_at__isnull=True
        ).exclude(
            Exists(ReportRecipient.objects.filter(report=OuterRef(OuterRef("pk")), email__iexact=OuterRef("email")))
        ),
    }


def page_has(report: CloseReport, section: str) -> bool:
    """Whether the report page must read `section` ("lessons", "share_links", "feedback", "recipients",
    "account_recipients"): False only when `report_page_for_user` found it empty, True when it does not know."""
    return getattr(report, f"has_{section}", True) is not False


def report_wait_for_campaign(*, campaign: Campaign) -> CloseReportWait | None:
    """The campaign's report waiting for its final numbers, if it is."""
    return CloseReportWait.objects.filter(campaign_id=campaign.pk).first()


def lessons_for_report(*, report: CloseReport, history: int = 10) -> tuple[LessonRevision | None, list]:
    """(current revision or None, up to `history` revisions newest first) in one query; none for a report from
    `report_page_for_user` that has no lessons."""
    if not page_has(report, "lessons"):
        return None, []
    revisions = list(
        LessonRevision.objects.filter(report=report)
        .select_related("author")
        .order_by("-created_at", "-id")[: history + 1]
    )
    return (revisions[0] if revisions else None), revisions[:history]


COMPARISON_METRICS = tuple(m for m in metrics.METRICS if m.compare)


COMPARISON_CACHE_SECONDS = 24 * 3600


def report_comparison(*, report: CloseReport) -> dict:
    """This report's main rates (`Metric.compare`) against the account's other ended campaigns: the median and
    the share of them this one beats, as numbers (`presenters.comparison` writes them). One query, whatever the
    number of reports (reads only the scalar columns); none for a report from `report_page_for_user` whose
    comparison is in the cache.

    A report's scalar columns are written once, when it is built (`services.snapshots`), reports are only ever
    added or deleted, and ids only grow (a sequence; AUTOINCREMENT on SQLite): so the account's report count and
    newest id, read with the report (`report_page_for_user`), change whenever the set of reports does, and key
    the cached figures."""
    count = getattr(report, "account_reports_count", None)
    if count is None:
        return _comparison(report)
    key = f"report-comparison:v1:{report.pk}:{count}:{report.account_reports_newest}"
    figures = cache.get(key)
    if figures is None:
        figures = _comparison(report)
        cache.set(key, figures, COMPARISON_CACHE_SECONDS)
    return figures


def _comparison(report: CloseReport) -> dict:
    columns = [m.column for m in COMPARISON_METRICS]
    rows = list(CloseReport.objects.filter(account_id=report.account_id).exclude(pk=report.pk).values_list(*columns))
    out = []
    for i, m in enumerate(COMPARISON_METRICS):
        values = sorted(r[i] for r in rows if r[i] is not None)
        mine = getattr(report, m.column)
        beats = None
        if values and mine is not None:
            lower_better = m.better == metrics.LOWER
            better = sum(1 for v in values if (v > mine if lower_better else v < mine))
            beats = round(100 * better / len(values))
        out.append(
            {
                "key": m.key,
                "mine": mine,
                "median": statistics.median(values) if values else None,
                "beats": beats,
                "n": len(values),
            }
        )
    return {"metrics": out, "others": len(rows)}


def reports_for_compare(*, user: User, campaign_ids: list[int]) -> list[CloseReport]:
    """Up to MAX_COMPARE of the user's reports by campaign id, in the order asked. Others' ids are dropped."""
    ids = campaign_ids[:MAX_COMPARE]
    found = {r.campaign_id: r for r in reports_for_user(user=user).filter(campaign_id__in=ids)}
    return [found[pk] for pk in ids if pk in found]


def report_index_queryset(*, user: User) -> QuerySet[CloseReport]:
    return reports_for_user(user=user).select_related("account").defer("snapshot")


def accounts_choices(*, user: User):
    return accounts_for_user(user=user).order_by("name")


def report_delivery_rows(*, report: CloseReport, feedback_by_recipient: dict[int, int]) -> dict:
    """The report's recipients for its share panel (issue 18): each with their emails on every occasion (newest
    first), their personal link's views and their feedback (`feedback_by_recipient`, from
    `services.feedback_summary`); plus the account's default recipients that are not on the report's list yet
    (they are copied at the next send). Two queries (the recipients joined to their emails, and the account's
    list), none for a list that `report_page_for_user` found empty; no writes (a GET)."""
    recipients: dict[int, ReportRecipient] = {}
    deliveries: dict[int, list[ReportDelivery]] = {}
    if page_has(report, "recipients"):
        for row in _recipients_with_deliveries(report):
            recipient = recipients.setdefault(row.pk, row)
            if row.dl_id is not None:
                delivery = ReportDelivery(**{name: getattr(row, f"dl_{name}") for name in _DELIVERY_COLUMNS})
                delivery.recipient = recipient
                deliveries.setdefault(row.pk, []).append(delivery)
    on_list = {r.email.lower() for r in recipients.values()}
    waiting = []
    if page_has(report, "account_recipients"):
        waiting = [
            r
            for r in AccountRecipient.objects.filter(account_id=report.account_id, unsubscribed_at__isnull=True)
            if r.email.lower() not in on_list
        ]
    rows = [
        {"recipient": r, "deliveries": deliveries.get(pk, []), "feedback": feedback_by_recipient.get(pk, 0)}
        for pk, r in recipients.items()
    ]
    return {"rows": rows, "waiting": waiting}


_DELIVERY_COLUMNS = tuple(f.attname for f in ReportDelivery._meta.concrete_fields)


def _recipients_with_deliveries(report: CloseReport) -> QuerySet[ReportRecipient]:
    """One row per (recipient, email to them), newest email first; a recipient never emailed once, with no email
    (`dl_id` None). The email's columns are `dl_<column>`: one LEFT JOIN where a prefetch took a second query."""
    columns = {f"dl_{name}": F(f"deliveries__{name}") for name in _DELIVERY_COLUMNS}
    return (
        ReportRecipient.objects.filter(report=report)
        .select_related("link")
        .annotate(**columns)
        .order_by("email", "pk", F("deliveries__created_at").desc(nulls_last=True), F("deliveries__id").desc())
    )
