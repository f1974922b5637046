"""Freezing a campaign's close report.

A snapshot is built once per ended campaign and never changed: `CloseReport.campaign` is unique, and rows are
inserted with ON CONFLICT DO NOTHING, so two workers racing on the same campaign (or a retried task) leave
exactly one report and the loser does nothing. What a snapshot holds is versioned (`metrics.SNAPSHOT_VERSION`)."""

import datetime as dt
import zoneinfo
from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal

from django.db.models import Count, F, Sum
from django.utils import timezone

from campaigns.models import (
    COUNT_METRIC_FIELDS,
    METRIC_FIELDS,
    Annotation,
    BudgetMode,
    Campaign,
    ContentItem,
    DailyMetric,
    EndReason,
    Objective,
    Source,
    Status,
    StatusChange,
)
from campaigns.selectors import campaign_pause_spans
from campaigns.selectors_annotations import timeline_markers

from .. import metrics
from ..formatting import COUNT
from ..metrics import CENT, HIGHER, ratio
from ..models import CloseReport


def _str(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


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
    """The pauses of `campaigns.selectors.campaign_pause_spans` as frozen: when, who paused, and whether the
    pause ended with the campaign."""
    periods = []
    for start, end in campaign_pause_spans(history=changes):
        period = {
            "start": start.created_at.isoformat(),
            "start_date": _local_date(start.created_at, tz),
            "by": _person(start.actor),
        }
        if end is None:
            period |= {"end": None, "end_date": None, "ended_by_close": False}
        else:
            period |= {
                "end": end.created_at.isoformat(),
                "end_date": _local_date(end.created_at, tz),
                "ended_by_close": end.to_status == Status.ENDED,
            }
        periods.append(period)
    return periods


def _timeline(campaign: Campaign, annotations: list[Annotation], transitions: list[StatusChange]) -> list[dict]:
    """The timeline frozen (issue 18, `SNAPSHOT_VERSION` 2): the notes as they were, and the status changes and
    rule actions, each with the team's label and the one without names (`selectors_annotations.TimelineMarker`)."""
    return [
        {
            "day": m.day.isoformat(),
            "kind": m.kind,
            "label": m.label,
            "public_label": m.public_label,
            "by": m.by or None,
            "at": m.at.isoformat(),
            "id": m.annotation.pk if m.annotation is not None else None,
        }
        for m in timeline_markers(account=campaign.account, annotations=annotations, changes=transitions)
    ]


def _targets(campaign: Campaign, totals: dict, rates: dict) -> list[dict]:
    out = []
    for field, key in metrics.TARGETS:
        target = getattr(campaign, field)
        if target is None:
            continue
        m = metrics.metric(key)
        actual = rates[key] if m.derived else totals[key]
        actual_d = None if actual is None else Decimal(actual)
        target_d = Decimal(target)
        if m.better == HIGHER:
            met = actual_d is not None and actual_d >= target_d
            reached = ratio(actual_d or 0, target_d, scale=100, places=CENT)
        else:
            met = actual_d is not None and actual_d <= target_d
            reached = None if actual_d is None else ratio(target_d, actual_d, scale=100, places=CENT)
        label = m.label
        if key == "cost_per_result":
            label = f"{m.label} ({metrics.label(campaign.result_metric).lower()})"
        counted = m.unit == COUNT
        out.append(
            {
                "key": key,
                "label": label,
                "unit": m.unit,
                "better": m.better,
                "target": int(target) if counted else str(target),
                "actual": int(actual or 0) if counted else actual,
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


def _content(content_items: list[dict], content_totals: dict[int, dict], *, result_metric: str) -> list[dict]:
    per_content = [m.key for m in metrics.DERIVED if m.per_content]
    content = []
    for item in content_items:
        item_totals = content_totals.get(item["id"]) or _zero_totals()
        item_totals = {f: item_totals.get(f) or 0 for f in METRIC_FIELDS}
        item_rates = metrics.rates_from_totals(item_totals, result_metric=result_metric)
        content.append(
            {
                "id": item["id"],
                "title": item["title"],
                "kind": item["kind"],
                "url": item["url"],
                "state": item["state"],
                **_totals_json(item_totals),
                **{key: item_rates[key] for key in per_content},
            }
        )
    return content


def snapshot_build(
    *,
    campaign: Campaign,
    daily_rows: list[dict],
    content_items: list[dict],
    content_totals: dict[int, dict],
    changes: list[StatusChange],
    now: dt.datetime,
    annotations: list[Annotation] = (),
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
    rates = metrics.rates_from_totals(totals, result_metric=result_metric)

    transitions = [c for c in changes if c.is_transition]
    end_change = next((c for c in reversed(transitions) if c.to_status == Status.ENDED), None)
    ended_at = end_change.created_at if end_change else (campaign.ended_at or now)
    reason = (end_change.reason_code if end_change else "") or campaign.end_reason
    return {
        "version": metrics.SNAPSHOT_VERSION,
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
            "result_label": metrics.label(result_metric),
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
        "content": _content(content_items, content_totals, result_metric=result_metric),
        "pauses": _pause_periods(transitions, tz),
        "budget": _budget(campaign, totals["spend"]),
        "targets": _targets(campaign, totals, rates),
        "timeline": _timeline(campaign, list(annotations), transitions),
    }


def _report_from_snapshot(
    *, campaign: Campaign, snapshot: dict, ended_by_id: int | None, incomplete_through: dict[int, dt.date | None]
) -> CloseReport:
    return CloseReport(
        numbers_incomplete=campaign.pk in incomplete_through,
        numbers_through=incomplete_through.get(campaign.pk),
        campaign=campaign,
        account_id=campaign.account_id,
        campaign_name=campaign.name,
        objective=campaign.objective,
        ended_at=dt.datetime.fromisoformat(snapshot["ended"]["at"]),
        end_reason=snapshot["ended"]["reason"],
        ended_by_id=ended_by_id,
        snapshot=snapshot,
        snapshot_version=snapshot["version"],
        **metrics.report_columns(snapshot),
    )


def _batch_inputs(cids: list[int]) -> tuple[dict, dict, dict, dict, dict]:
    """(daily rows, content items, content totals, status history, notes) of these campaigns: five queries."""
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
    notes: dict[int, list[Annotation]] = defaultdict(list)
    for note in Annotation.objects.filter(campaign_id__in=cids).select_related("author").order_by("day", "id"):
        notes[note.campaign_id].append(note)
    return daily, items, content_totals, history, notes


def reports_create(
    *, campaign_ids: Iterable[int], batch_size: int = 50, incomplete_through: dict[int, dt.date | None] | None = None
) -> list[int]:
    """Freeze the close report of every ended campaign in `campaign_ids` that has none yet, with what is stored
    (a connected campaign's final pull comes first: `final_pull.reports_close`). `incomplete_through`: campaigns
    frozen without all of the platform's numbers → the last day they are complete for (the report says so).

    Campaigns that are not ended, or already have a report, are skipped. Works in batches with a constant
    number of queries per batch (campaigns, daily rows, content items, content totals, history, notes, one
    insert).
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
        # Taken before the inputs are read: a note written after this moment is "added after close" on the report.
        now = timezone.now()
        daily, items, content_totals, history, notes = _batch_inputs(cids)
        reports = []
        for campaign in campaigns:
            snapshot = snapshot_build(
                campaign=campaign,
                daily_rows=daily[campaign.pk],
                content_items=items[campaign.pk],
                content_totals=content_totals,
                changes=history[campaign.pk],
                now=now,
                annotations=notes[campaign.pk],
            )
            end_change = next(
                (c for c in reversed(history[campaign.pk]) if c.to_status == Status.ENDED),
                None,
            )
            ended_by_id = end_change.actor_id if end_change else campaign.status_changed_by_id
            reports.append(
                _report_from_snapshot(
                    campaign=campaign,
                    snapshot=snapshot,
                    ended_by_id=ended_by_id,
                    incomplete_through=incomplete_through or {},
                )
            )
        # ON CONFLICT DO NOTHING: a report that appeared since we looked (another worker) stays as it is.
        CloseReport.objects.bulk_create(reports, ignore_conflicts=True)
        built.extend(cids)
    return built


def report_create(*, campaign: Campaign) -> CloseReport | None:
    """The campaign's report, building it first (with what is stored) if the campaign has ended and has none.
    None if not ended."""
    reports_create(campaign_ids=[campaign.pk])
    return CloseReport.objects.filter(campaign_id=campaign.pk).first()


def campaigns_just_ended(*, change_ids: Iterable[int]) -> list[int]:
    """The campaigns these status changes ended (sorted ids): what needs a close report after a change."""
    return sorted(
        set(
            StatusChange.objects.filter(pk__in=list(change_ids), to_status=Status.ENDED)
            .exclude(from_status=Status.ENDED)
            .values_list("campaign_id", flat=True)
        )
    )
