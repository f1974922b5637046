"""Writes of the reports app: freezing a campaign's close snapshot, and saving lessons learned.

A snapshot is built once per ended campaign and never changed: `CloseReport.campaign` is unique, and rows are
inserted with ON CONFLICT DO NOTHING, so two workers racing on the same campaign (or a retried task) leave
exactly one report and the loser does nothing."""

import atexit
import contextlib
import datetime as dt
import logging
import threading
import zoneinfo
from collections import defaultdict
from collections.abc import Iterable
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Case, Count, F, Sum, Value, When
from django.utils import timezone

from campaigns import services as campaign_services
from campaigns.models import (
    COUNT_METRIC_FIELDS,
    METRIC_FIELDS,
    BudgetMode,
    Campaign,
    ContentItem,
    DailyMetric,
    EndReason,
    Objective,
    Source,
    Status,
    StatusChange,
    WindDownStepKind,
)

from .models import SNAPSHOT_VERSION, CloseReport, LessonRevision

logger = logging.getLogger(__name__)

CENT = Decimal("0.01")
MILLI = Decimal("0.0001")

METRIC_LABELS = {
    "spend": "Spend",
    "impressions": "Impressions",
    "reach": "Reach",
    "clicks": "Clicks",
    "video_views": "Video views",
    "likes": "Likes",
    "comments": "Comments",
    "shares": "Shares",
    "follows": "Followers gained",
    "profile_visits": "Profile visits",
}


class ReportError(Exception):
    """A rule was broken; the message is written for the user who asked."""


# Figures ----------------------------------------------------------------------------------------------------


def ratio(numerator, denominator, *, scale: int = 1, places: Decimal = MILLI) -> Decimal | None:
    """numerator / denominator × scale, rounded; None when the denominator is zero (shown as "—")."""
    if not denominator:
        return None
    return (Decimal(numerator) * scale / Decimal(denominator)).quantize(places, rounding=ROUND_HALF_UP)


def _str(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def rates_from_totals(totals: dict, *, result_metric: str) -> dict:
    """Derived rates of a set of totals (spend as Decimal). Percentages are per cent; costs in the currency.
    Every rate whose denominator is zero is None."""
    spend = Decimal(totals["spend"])
    engagements = totals["likes"] + totals["comments"] + totals["shares"]
    return {
        "engagement_rate": _str(ratio(engagements, totals["video_views"], scale=100)),
        "ctr": _str(ratio(totals["clicks"], totals["impressions"], scale=100)),
        "cpm": _str(ratio(spend, totals["impressions"], scale=1000)),
        "cost_per_view": _str(ratio(spend, totals["video_views"])),
        "cost_per_follower": _str(ratio(spend, totals["follows"])),
        "cost_per_result": _str(ratio(spend, totals.get(result_metric, 0))),
    }


def _zero_totals() -> dict:
    return {"spend": Decimal("0"), **dict.fromkeys(COUNT_METRIC_FIELDS, 0)}


def _totals_json(totals: dict) -> dict:
    return {**totals, "spend": str(Decimal(totals["spend"]).quantize(CENT))}


def _person(user) -> str | None:
    if user is None:
        return None
    return user.get_full_name() or user.get_username()


def _local_date(moment: dt.datetime, tz) -> str:
    return timezone.localtime(moment, tz).date().isoformat()


def _pause_periods(changes: list[StatusChange], tz) -> list[dict]:
    """Pause periods from the status history (oldest first): each pause until the next resume or end."""
    periods: list[dict] = []
    open_period: dict | None = None
    for change in changes:
        if change.to_status == Status.PAUSED and open_period is None:
            open_period = {
                "start": change.created_at.isoformat(),
                "start_date": _local_date(change.created_at, tz),
                "by": _person(change.actor),
            }
        elif change.from_status == Status.PAUSED and open_period is not None:
            open_period |= {"end": change.created_at.isoformat(), "end_date": _local_date(change.created_at, tz)}
            open_period["ended_by_close"] = change.to_status == Status.ENDED
            periods.append(open_period)
            open_period = None
    if open_period is not None:
        periods.append(open_period | {"end": None, "end_date": None, "ended_by_close": False})
    return periods


TARGETS = (
    # (campaign field, label, actual key, unit, better)
    ("target_views", "Video views", "video_views", "count", "higher"),
    ("target_reach", "Reach", "reach", "count", "higher"),
    ("target_clicks", "Clicks", "clicks", "count", "higher"),
    ("target_followers", "Followers gained", "follows", "count", "higher"),
    ("target_engagement_rate", "Engagement rate", "engagement_rate", "percent", "higher"),
    ("target_cost_per_result", "Cost per result", "cost_per_result", "money", "lower"),
)


def _targets(campaign: Campaign, totals: dict, rates: dict) -> list[dict]:
    out = []
    for field, label, key, unit, better in TARGETS:
        target = getattr(campaign, field)
        if target is None:
            continue
        actual = totals[key] if key in totals else rates[key]
        actual_d = None if actual is None else Decimal(actual)
        target_d = Decimal(target)
        if better == "higher":
            met = actual_d is not None and actual_d >= target_d
            reached = ratio(actual_d or 0, target_d, scale=100, places=CENT)
        else:
            met = actual_d is not None and actual_d <= target_d
            reached = None if actual_d is None else ratio(target_d, actual_d, scale=100, places=CENT)
        if key == "cost_per_result":
            label = f"Cost per result ({METRIC_LABELS.get(campaign.result_metric, campaign.result_metric).lower()})"
        out.append(
            {
                "key": key,
                "label": label,
                "unit": unit,
                "better": better,
                "target": str(target) if unit != "count" else int(target),
                "actual": actual if unit != "count" else int(actual or 0),
                "pct_reached": _str(reached),
                "met": met,
            }
        )
    return out


def _budget(campaign: Campaign, spent: Decimal) -> dict:
    planned = campaign.lifetime_budget
    unused = None if planned is None else max(planned - spent, Decimal("0"))
    return {
        "mode": campaign.budget_mode,
        "mode_label": BudgetMode(campaign.budget_mode).label,
        "amount": str(campaign.budget_amount),
        "planned_total": _str(planned),
        "spent": str(spent.quantize(CENT)),
        "estimated_unused": _str(unused),
        "planned_start": campaign.start_date.isoformat() if campaign.start_date else None,
        "planned_end": campaign.end_date.isoformat() if campaign.end_date else None,
    }


def snapshot_build(
    *,
    campaign: Campaign,
    daily_rows: list[dict],
    content_items: list[dict],
    content_totals: dict[int, dict],
    changes: list[StatusChange],
    now: dt.datetime,
) -> dict:
    """The frozen report of one ended campaign, as JSON-safe data (money as strings, dates ISO).

    Pure: everything it needs is passed in, so a batch of campaigns is built from a constant number of queries."""
    account = campaign.account
    try:
        tz = zoneinfo.ZoneInfo(account.timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        tz = dt.UTC
    result_metric = campaign.result_metric

    totals = _zero_totals()
    daily = []
    for row in daily_rows:
        for field in METRIC_FIELDS:
            totals[field] += row[field]
        daily.append(
            {"date": row["date"].isoformat(), **{f: row[f] for f in COUNT_METRIC_FIELDS}, "spend": str(row["spend"])}
        )
    rates = rates_from_totals(totals, result_metric=result_metric)

    content = []
    for item in content_items:
        item_totals = content_totals.get(item["id"]) or _zero_totals()
        item_totals = {f: item_totals.get(f) or 0 for f in METRIC_FIELDS}
        item_rates = rates_from_totals(item_totals, result_metric=result_metric)
        content.append(
            {
                "id": item["id"],
                "title": item["title"],
                "kind": item["kind"],
                "url": item["url"],
                "state": item["state"],
                **_totals_json(item_totals),
                "engagement_rate": item_rates["engagement_rate"],
                "cost_per_result": item_rates["cost_per_result"],
            }
        )

    transitions = [c for c in changes if c.from_status != c.to_status]
    end_change = next((c for c in reversed(transitions) if c.to_status == Status.ENDED), None)
    ended_at = end_change.created_at if end_change else (campaign.ended_at or now)
    reason = (end_change.reason_code if end_change else "") or campaign.end_reason
    return {
        "version": SNAPSHOT_VERSION,
        "generated_at": now.isoformat(),
        "campaign": {
            "id": campaign.pk,
            "name": campaign.name,
            "platform_id": campaign.platform_id,
            "account": account.name,
            "currency": account.currency,
            "timezone": account.timezone,
            "objective": campaign.objective,
            "objective_label": Objective(campaign.objective).label
            if campaign.objective in Objective.values
            else campaign.objective,
            "result_metric": result_metric,
            "result_label": METRIC_LABELS.get(result_metric, result_metric),
            "start_date": campaign.start_date.isoformat() if campaign.start_date else None,
        },
        "ended": {
            "at": ended_at.isoformat(),
            "date": _local_date(ended_at, tz),
            "reason": reason,
            "reason_label": EndReason(reason).label if reason in EndReason.values else "",
            "note": end_change.reason_note if end_change else "",
            "by": _person(end_change.actor) if end_change else None,
            "source": Source(end_change.source).label if end_change and end_change.source in Source.values else "",
        },
        "totals": _totals_json(totals),
        "rates": rates,
        "daily": daily,
        "content": content,
        "pauses": _pause_periods(transitions, tz),
        "budget": _budget(campaign, totals["spend"]),
        "targets": _targets(campaign, totals, rates),
    }


def _report_from_snapshot(*, campaign: Campaign, snapshot: dict, ended_by_id: int | None) -> CloseReport:
    totals, rates = snapshot["totals"], snapshot["rates"]

    def dec(value):
        return None if value is None else Decimal(value)

    return CloseReport(
        campaign=campaign,
        account_id=campaign.account_id,
        campaign_name=campaign.name,
        objective=campaign.objective,
        ended_at=dt.datetime.fromisoformat(snapshot["ended"]["at"]),
        end_reason=snapshot["ended"]["reason"],
        ended_by_id=ended_by_id,
        spend=Decimal(totals["spend"]),
        impressions=totals["impressions"],
        video_views=totals["video_views"],
        followers=totals["follows"],
        engagement_rate=dec(rates["engagement_rate"]),
        ctr=dec(rates["ctr"]),
        cpm=dec(rates["cpm"]),
        cost_per_view=dec(rates["cost_per_view"]),
        snapshot=snapshot,
    )


def reports_create(*, campaign_ids: Iterable[int], batch_size: int = 50) -> list[int]:
    """Freeze the close report of every ended campaign in `campaign_ids` that has none yet.

    Campaigns that are not ended, or already have a report, are skipped. Works in batches with a constant
    number of queries per batch (campaigns, daily rows, content items, content totals, history, one insert).
    Idempotent and race-safe: the insert ignores conflicts on the unique campaign, so the first writer wins
    and a repeated or concurrent call changes nothing. Returns the ids of the campaigns it built a snapshot for."""
    ids = sorted({int(pk) for pk in campaign_ids})
    built: list[int] = []
    for start in range(0, len(ids), batch_size):
        chunk = ids[start : start + batch_size]
        campaigns = list(
            Campaign.objects.filter(pk__in=chunk, status=Status.ENDED, close_report__isnull=True)
            .select_related("account")
            .order_by("pk")
        )
        if not campaigns:
            continue
        cids = [c.pk for c in campaigns]
        daily: dict[int, list[dict]] = defaultdict(list)
        for row in (
            DailyMetric.objects.filter(campaign_id__in=cids, content_item__isnull=True)
            .order_by("campaign_id", "date")
            .values("campaign_id", "date", *METRIC_FIELDS)
        ):
            daily[row["campaign_id"]].append(row)
        items: dict[int, list[dict]] = defaultdict(list)
        for item in (
            ContentItem.objects.filter(campaign_id__in=cids)
            .order_by("id")
            .values("id", "campaign_id", "title", "kind", "url", "state")
        ):
            items[item["campaign_id"]].append(item)
        content_totals = {
            row["content_item_id"]: row
            for row in DailyMetric.objects.filter(campaign_id__in=cids, content_item__isnull=False)
            .values("content_item_id")
            .annotate(**{f: Sum(f) for f in METRIC_FIELDS}, days=Count("id"))
            .order_by()
        }
        history: dict[int, list[StatusChange]] = defaultdict(list)
        for change in (
            StatusChange.objects.filter(campaign_id__in=cids)
            .exclude(from_status=F("to_status"))
            .select_related("actor")
            .order_by("created_at", "id")
        ):
            history[change.campaign_id].append(change)

        now = timezone.now()
        reports = []
        for campaign in campaigns:
            snapshot = snapshot_build(
                campaign=campaign,
                daily_rows=daily[campaign.pk],
                content_items=items[campaign.pk],
                content_totals=content_totals,
                changes=history[campaign.pk],
                now=now,
            )
            end_change = next(
                (c for c in reversed(history[campaign.pk]) if c.to_status == Status.ENDED),
                None,
            )
            ended_by_id = end_change.actor_id if end_change else campaign.status_changed_by_id
            reports.append(_report_from_snapshot(campaign=campaign, snapshot=snapshot, ended_by_id=ended_by_id))
        # ON CONFLICT DO NOTHING: a report that appeared since we looked (another worker) stays as it is.
        CloseReport.objects.bulk_create(reports, ignore_conflicts=True)
        built.extend(cids)
    return built


def report_create(*, campaign: Campaign) -> CloseReport | None:
    """The campaign's report, building it first if the campaign has ended and has none. None if not ended."""
    reports_create(campaign_ids=[campaign.pk])
    return CloseReport.objects.filter(campaign_id=campaign.pk).first()


# The PDF export ---------------------------------------------------------------------------------------------


def report_pdf_bytes(*, report: CloseReport) -> bytes:
    """The report's PDF: the stored file (ReportPdf), or, before the background task has rendered it, rendered
    now and stored. Two concurrent first downloads both render; the second write wins with the same content."""
    from .models import ReportPdf
    from .pdf import pdf_version

    stored = ReportPdf.objects.filter(report=report, version=pdf_version(report)).values_list("content", flat=True)
    content = stored.first()
    return bytes(content) if content is not None else _report_pdf_store(report)


def _report_pdf_store(report: CloseReport) -> bytes:
    from .models import ReportPdf
    from .pdf import pdf_version, report_pdf

    content = report_pdf(snapshot=report.snapshot)
    ReportPdf.objects.update_or_create(report=report, defaults={"version": pdf_version(report), "content": content})
    return content


def report_pdfs_render(*, report_ids: Iterable[int]) -> int:
    """Render and store the PDFs of these reports that have none of the current version (the background task
    after a snapshot). Returns how many it rendered; safe to run twice."""
    from .models import ReportPdf
    from .pdf import pdf_version

    reports = list(CloseReport.objects.filter(pk__in=list(report_ids)).order_by("pk"))
    stored = dict(ReportPdf.objects.filter(report__in=reports).values_list("report_id", "version"))
    missing = [report for report in reports if stored.get(report.pk) != pdf_version(report)]
    for report in missing:
        _report_pdf_store(report)
    return len(missing)


# Lessons learned --------------------------------------------------------------------------------------------

LESSON_FIELDS = ("what_worked", "what_to_change", "next_steps")


def lessons_save(
    *,
    report: CloseReport,
    author: AbstractBaseUser,
    what_worked: str,
    what_to_change: str,
    next_steps: str,
    base_revision_id: int | None,
) -> LessonRevision | None:
    """Save a new revision of the report's lessons. Returns None when nothing changed (a double submit).

    Raises ReportError when someone else saved since `base_revision_id` was read (the editor would otherwise
    silently overwrite their text). The report row is locked so that two saves are checked one after the other."""
    values = {
        "what_worked": what_worked.strip(),
        "what_to_change": what_to_change.strip(),
        "next_steps": next_steps.strip(),
    }
    with transaction.atomic():
        CloseReport.objects.select_for_update().filter(pk=report.pk).values_list("pk", flat=True).first()
        latest = LessonRevision.objects.filter(report=report).order_by("-created_at", "-id").first()
        latest_id = latest.pk if latest else None
        if latest is not None and all(getattr(latest, f) == v for f, v in values.items()):
            return None
        if latest_id != base_revision_id:
            raise ReportError(
                "Someone else saved the lessons while you were editing. Their version is shown below; "
                "copy your text and edit again."
            )
        revision = LessonRevision.objects.create(report=report, author=author, **values)
        if all(values.values()):
            # Lessons written in full = the wind-down's "performance analysed" step (same transaction).
            # (A campaign ended before checklists existed has none to tick.)
            with contextlib.suppress(campaign_services.CampaignError):
                campaign_services.winddown_step_complete(
                    campaign=report.campaign,
                    kind=WindDownStepKind.PERFORMANCE_ANALYSED,
                    actor=author,
                    automatic=True,
                    source=Source.UI,
                )
        return revision


# --- Sharing and feedback (issue 5) ---
# Share links carry a random secret of SHARE_SECRET_BYTES bytes; only its sha256 is stored (unique index), so a
# database dump reveals no working link. The public views resolve a secret with `share_link_for_secret`, which
# answers None alike for unknown, revoked and expired links (no oracle).

import hashlib  # noqa: E402
import hmac  # noqa: E402
import re  # noqa: E402
import secrets  # noqa: E402

from django.contrib.auth.hashers import check_password, make_password  # noqa: E402
from django.core import signing  # noqa: E402
from django.db.models import Avg, Q  # noqa: E402

from .models import Feedback, FeedbackRole, ShareLink, ShareLinkEvent, ShareLinkEventKind, ShareLinkView  # noqa: E402

SHARE_SECRET_BYTES = 32  # 256 bits
SHARE_SECRET_MAX_LENGTH = 64
SHARE_UNLOCK_SECONDS = 60 * 60 * 24
FEEDBACK_REQUEST_MAX_EMAILS = 50


def share_secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def share_url(secret: str) -> str:
    from django.conf import settings
    from django.urls import reverse

    return settings.CLOSEOUT_PUBLIC_BASE_URL.rstrip("/") + reverse("share:page", args=[secret])


def _new_secret() -> tuple[str, str]:
    secret = secrets.token_urlsafe(SHARE_SECRET_BYTES)
    return secret, share_secret_hash(secret)


def _share_event(link: ShareLink, kind: str, actor, note: str = "") -> None:
    ShareLinkEvent.objects.create(link=link, kind=kind, actor=actor, note=note[:255])


def share_link_create(
    *,
    report: CloseReport,
    actor: AbstractBaseUser | None,
    label: str,
    expires_at: dt.datetime | None = None,
    password: str = "",
    allow_feedback: bool = True,
    show_team_notes: bool = False,
    feedback_role: str = "",
) -> tuple[ShareLink, str]:
    """A new link to `report`; returns (link, secret). The secret is not stored anywhere: show it now or never.
    Audited (a `created` event in the same transaction)."""
    secret, digest = _new_secret()
    now = timezone.now()
    with transaction.atomic():
        link = ShareLink.objects.create(
            report=report,
            label=label.strip()[:120],
            secret_hash=digest,
            expires_at=expires_at,
            password_hash=make_password(password) if password else "",
            allow_feedback=allow_feedback,
            show_team_notes=show_team_notes,
            feedback_role=feedback_role,
            created_by=actor,
            changed_at=now,
        )
        _share_event(link, ShareLinkEventKind.CREATED, actor)
    return link, secret


def share_link_rotate(*, link: ShareLink, actor: AbstractBaseUser | None) -> str:
    """A new secret for the link; the old one stops working at once (as do password cookies made for it).
    Raises ReportError on a revoked link. Returns the new secret (shown once)."""
    secret, digest = _new_secret()
    with transaction.atomic():
        # Locked and re-read so a revoke racing with the rotate cannot be undone by it.
        locked = ShareLink.objects.select_for_update().get(pk=link.pk)
        if locked.revoked_at is not None:
            raise ReportError("This link was revoked; create a new one instead.")
        now = timezone.now()
        locked.secret_hash, locked.rotated_at, locked.rotated_by, locked.changed_at = digest, now, actor, now
        locked.save(update_fields=["secret_hash", "rotated_at", "rotated_by", "changed_at"])
        _share_event(locked, ShareLinkEventKind.ROTATED, actor)
    link.secret_hash, link.rotated_at, link.rotated_by, link.changed_at = digest, now, actor, now
    return secret


def share_links_revoke(*, link_ids: Iterable[int], actor: AbstractBaseUser | None) -> int:
    """Revoke these links (already revoked ones are left alone, quietly); one UPDATE and one INSERT whatever
    the number. Returns how many were revoked now."""
    ids = list(link_ids)
    now = timezone.now()
    with transaction.atomic():
        # Locked and re-checked: a link revoked twice at once is revoked and audited once.
        active = ShareLink.objects.select_for_update().filter(pk__in=ids, revoked_at__isnull=True)
        pending = list(active.values_list("pk", flat=True))
        if not pending:
            return 0
        count = ShareLink.objects.filter(pk__in=pending, revoked_at__isnull=True).update(
            revoked_at=now, revoked_by=actor, changed_at=now
        )
        ShareLinkEvent.objects.bulk_create(
            [ShareLinkEvent(link_id=pk, kind=ShareLinkEventKind.REVOKED, actor=actor) for pk in pending]
        )
    return count


def share_link_revoke(*, link: ShareLink, actor: AbstractBaseUser | None) -> bool:
    """Revoke one link; True if it was active (a second click is a quiet no-op)."""
    done = share_links_revoke(link_ids=[link.pk], actor=actor) == 1
    link.refresh_from_db(fields=["revoked_at", "revoked_by", "changed_at"])
    return done


def share_link_for_secret(*, secret: str, now: dt.datetime | None = None) -> ShareLink | None:
    """The active link for this secret, with its report (snapshot deferred), or None: unknown, revoked and
    expired secrets are indistinguishable to the caller. One query."""
    if not secret or len(secret) > SHARE_SECRET_MAX_LENGTH:
        return None
    digest = share_secret_hash(secret)
    # secret_hash is unique: no ORDER BY (what .first() would add), one row.
    found = ShareLink.objects.select_related("report").defer("report__snapshot").filter(secret_hash=digest)
    found = found.order_by()[:1]
    link = next(iter(found), None)
    # The index lookup already matched; compare again in constant time so no code path leaks timing on the hash.
    if link is None or not hmac.compare_digest(link.secret_hash, digest):
        return None
    return link if link.is_active(now or timezone.now()) else None


def _unlock_salt(link: ShareLink) -> str:
    # Bound to this link, its current secret and password: rotating or changing either kills old cookies.
    return f"closeout.share.unlock:{link.pk}:{link.secret_hash}:{link.password_hash}"


def share_unlock_token(*, link: ShareLink) -> str:
    return signing.dumps(link.pk, salt=_unlock_salt(link))


def share_unlock_valid(*, link: ShareLink, token: str | None) -> bool:
    if not token:
        return False
    try:
        return signing.loads(token, salt=_unlock_salt(link), max_age=SHARE_UNLOCK_SECONDS) == link.pk
    except signing.BadSignature:
        return False


def share_password_check(*, link: ShareLink, password: str) -> bool:
    return bool(link.password_hash) and check_password(password, link.password_hash)


_BROWSERS = (
    ("edg/", "Edge"),
    ("opr/", "Opera"),
    ("samsungbrowser", "Samsung Internet"),
    ("firefox/", "Firefox"),
    ("fxios", "Firefox"),
    ("crios", "Chrome"),
    ("chrome/", "Chrome"),
    ("chromium/", "Chrome"),
    ("safari/", "Safari"),
)
_SYSTEMS = (
    ("android", "Android"),
    ("iphone", "iOS"),
    ("ipad", "iPadOS"),
    ("windows", "Windows"),
    ("mac os x", "macOS"),
    ("cros", "ChromeOS"),
    ("linux", "Linux"),
)
_BOT = re.compile(r"bot|crawl|spider|slurp|preview|curl|wget|python|headless", re.IGNORECASE)


def user_agent_family(user_agent: str) -> str:
    """A coarse, non-identifying browser family: "Chrome on Android", "Safari on iOS", "Bot", "Other"."""
    ua = (user_agent or "")[:512]
    if not ua:
        return "Unknown"
    if _BOT.search(ua):
        return "Bot or script"
    low = ua.lower()
    browser = next((name for needle, name in _BROWSERS if needle in low), "Other browser")
    system = next((name for needle, name in _SYSTEMS if needle in low), "")
    return f"{browser} on {system}" if system else browser


def share_view_record(*, link: ShareLink, user_agent: str) -> None:
    """Count one view of a shared page: a row with the time and browser family (no IP), and the link's counters.

    With `SHARE_VIEW_FLUSH_SECONDS` > 0 (the default outside tests) views are written behind, in batches: each
    worker process keeps the views of the last second in memory and writes them in one transaction (on a timer,
    when 100 are waiting, and when the process exits). A busy public page then costs one write a second instead
    of a write lock per visitor, which on SQLite serialised the workers. A process killed outright loses at most
    that second of counts; nothing else depends on them."""
    view = (link.pk, timezone.now(), user_agent_family(user_agent))
    if getattr(settings, "SHARE_VIEW_FLUSH_SECONDS", 0) <= 0:
        share_views_write([view])
    else:
        _view_buffer.add(view)


def share_views_write(views: list[tuple[int, dt.datetime, str]]) -> None:
    """Write counted views [(link_id, when, agent)]: the rows, then each link's counters, in one transaction.
    Neither write touches `changed_at`, so counting does not invalidate the page's ETag."""
    if not views:
        return
    per_link: dict[int, tuple[int, dt.datetime]] = {}
    for link_id, when, _ in views:
        count, last = per_link.get(link_id, (0, when))
        per_link[link_id] = (count + 1, max(last, when))
    with transaction.atomic(savepoint=False):  # one commit for all (no savepoint when already in one)
        ShareLinkView.objects.bulk_create(
            ShareLinkView(link_id=link_id, viewed_at=when, agent=agent) for link_id, when, agent in views
        )
        for link_id, (count, last) in sorted(per_link.items()):
            ShareLink.objects.filter(pk=link_id).update(
                view_count=F("view_count") + count,
                last_viewed_at=Case(When(last_viewed_at__gt=last, then=F("last_viewed_at")), default=Value(last)),
            )


class _ViewBuffer:
    """The views this process has counted but not written yet (see `share_view_record`)."""

    max_pending = 100
    max_kept = 10_000  # while the database refuses writes, keep at most this many

    def __init__(self):
        self._lock = threading.Lock()
        self._pending: list = []
        self._timer: threading.Timer | None = None
        atexit.register(self.flush)

    def add(self, view) -> None:
        with self._lock:
            self._pending.append(view)
            full = len(self._pending) >= self.max_pending
            if not full and self._timer is None:
                self._timer = threading.Timer(settings.SHARE_VIEW_FLUSH_SECONDS, self._flush_from_timer)
                self._timer.daemon = True
                self._timer.start()
        if full:
            self.flush()

    def flush(self) -> None:
        with self._lock:
            batch, self._pending = self._pending, []
            timer, self._timer = self._timer, None
        if timer is not None and timer is not threading.current_thread():
            timer.cancel()
        if not batch:
            return
        try:
            share_views_write(batch)
        except Exception:
            logger.exception("Could not write %d share-page views; kept for the next flush", len(batch))
            with self._lock:
                self._pending[:0] = batch[-self.max_kept :]

    def _flush_from_timer(self) -> None:
        from django.db import connection

        try:
            self.flush()
        finally:
            connection.close()  # this thread's own connection


_view_buffer = _ViewBuffer()


def feedback_create(
    *,
    report: CloseReport,
    link: ShareLink | None,
    author: AbstractBaseUser | None,
    role: str,
    rating: int,
    would_take_part_again: bool,
    name: str = "",
    what_worked: str = "",
    what_to_improve: str = "",
    comment: str = "",
) -> Feedback:
    """Store one piece of feedback. Through a link, the link must be active and allow feedback (re-checked here,
    not only when the form was shown): otherwise ReportError."""
    if link is not None:
        current = ShareLink.objects.filter(pk=link.pk).only("revoked_at", "expires_at", "allow_feedback").first()
        if current is None or not current.is_active(timezone.now()) or not current.allow_feedback:
            raise ReportError("This link no longer accepts feedback.")
    if role not in FeedbackRole.values or not 1 <= int(rating) <= 5:
        raise ReportError("Choose a role and a rating from 1 to 5.")
    return Feedback.objects.create(
        report=report,
        link=link,
        author=author,
        role=role,
        name=name.strip(),
        rating=int(rating),
        would_take_part_again=would_take_part_again,
        what_worked=what_worked.strip(),
        what_to_improve=what_to_improve.strip(),
        comment=comment.strip(),
    )


def feedback_set_hidden(*, feedback: Feedback, actor: AbstractBaseUser | None, hidden: bool) -> bool:
    """Hide (or show again) one piece of feedback; records who and when. True if it changed."""
    if hidden:
        changed = Feedback.objects.filter(pk=feedback.pk, hidden_at__isnull=True).update(
            hidden_at=timezone.now(), hidden_by=actor
        )
    else:
        shown = Feedback.objects.filter(pk=feedback.pk, hidden_at__isnull=False)
        changed = shown.update(hidden_at=None, hidden_by=None)
    feedback.refresh_from_db(fields=["hidden_at", "hidden_by"])
    return bool(changed)


FEEDBACK_COMMENTS_SHOWN = 50


def feedback_summary(*, report: CloseReport, include_hidden: bool) -> dict:
    """Visible feedback aggregated by role (count, average rating, would-take-part-again %) and the newest
    comments (hidden ones too when `include_hidden`, for moderators). Two queries."""
    labels = dict(FeedbackRole.choices)
    grouped = (
        Feedback.objects.filter(report=report, hidden_at__isnull=True)
        .values("role")
        .annotate(n=Count("id"), avg=Avg("rating"), again=Count("id", filter=Q(would_take_part_again=True)))
    )
    by_role = {row["role"]: row for row in grouped}
    roles = []
    for value in FeedbackRole.values:
        row = by_role.get(value)
        if row:
            roles.append(
                {
                    "role": value,
                    "label": labels[value],
                    "count": row["n"],
                    "average": f"{row['avg']:.1f}",
                    "again_pct": round(100 * row["again"] / row["n"]),
                }
            )
    comments = Feedback.objects.filter(report=report).exclude(what_worked="", what_to_improve="", comment="")
    if not include_hidden:
        comments = comments.filter(hidden_at__isnull=True)
    comments = comments.select_related("hidden_by", "author").order_by("-created_at", "-id")
    comments = list(comments[:FEEDBACK_COMMENTS_SHOWN])
    return {"roles": roles, "total": sum(r["count"] for r in roles), "comments": comments}


EMAIL_SPLIT = re.compile(r"[\s,;]+")


def invitation_text(*, report: CloseReport, role: str, url: str, expires_at: dt.datetime | None) -> str:
    role_label = dict(FeedbackRole.choices).get(role, "stakeholder").lower()
    until = f" The link works until {expires_at:%-d %B %Y}." if expires_at else ""
    return (
        f"Hello,\n\n“{report.campaign_name}” has ended, and as a {role_label} your view matters to us. "
        f"The results are here, with a short feedback form (two minutes, no account needed):\n\n{url}\n\n"
        f"Thank you!{until}\n"
    )


def feedback_request(
    *,
    report: CloseReport,
    actor: AbstractBaseUser | None,
    role: str,
    label: str,
    emails: list[str],
    expires_at: dt.datetime | None = None,
) -> tuple[ShareLink, str, str]:
    """A feedback-enabled link for `role` and a ready invitation; if `emails` are given, the invitation is mailed
    by the task worker once this transaction commits. Returns (link, secret, invitation text)."""
    if len(emails) > FEEDBACK_REQUEST_MAX_EMAILS:
        raise ReportError(f"At most {FEEDBACK_REQUEST_MAX_EMAILS} addresses at once.")
    with transaction.atomic():
        link, secret = share_link_create(
            report=report,
            actor=actor,
            label=label or f"Feedback from {dict(FeedbackRole.choices)[role].lower()}s",
            expires_at=expires_at,
            allow_feedback=True,
            feedback_role=role,
        )
        text = invitation_text(report=report, role=role, url=share_url(secret), expires_at=expires_at)
        if emails:
            _share_event(link, ShareLinkEventKind.INVITED, actor, note=f"{len(emails)} address(es)")
            from . import tasks

            sealed = invitation_seal(text)
            subject = f"Your feedback on “{report.campaign_name}”"
            transaction.on_commit(
                lambda: tasks.feedback_invitations_send.enqueue(emails=emails, subject=subject, sealed_body=sealed)
            )
    return link, secret, text


def _fernet():
    import base64

    from cryptography.fernet import Fernet
    from django.conf import settings

    key = hashlib.sha256(f"closeout.share.invitation:{settings.SECRET_KEY}".encode()).digest()
    return Fernet(base64.urlsafe_b64encode(key))


def invitation_seal(text: str) -> str:
    """Encrypt an invitation (it holds a working link) for the task queue, which lives in the database."""
    return _fernet().encrypt(text.encode()).decode()


def invitation_open(sealed: str) -> str:
    return _fernet().decrypt(sealed.encode()).decode()
