"""Planning an import (`import_plan`): which campaign and content item each row is, which daily rows would be
new, changed or unchanged, and whether what a commit would store fits: every day (also a day summed from its
ads), every campaign's totals over all its days, and the account's totals over all its campaigns (what the
campaign list adds up). `plan_apply` then creates what the plan says, inside the commit's transaction.

Matching rows to campaigns: by Campaign ID when the file has one, else by exact campaign name within the
account. A campaign the account does not have is created on commit for manual accounts (the preview lists it);
for connected accounts it is a row error, because the platform sync owns that account's campaigns."""

import dataclasses
import datetime as dt
import operator
import zoneinfo
from collections import defaultdict

from django.db.models import Q, Sum
from django.utils import timezone

from ..models import METRIC_FIELDS, AdAccount, Campaign, ContentItem, DailyMetric
from .cells import metric_limits
from .files import ImportFileError
from .rows import FIELD_LABELS, ParsedFile, RowError

MAX_ERRORS_SHOWN = 1_000
TOTAL_FIELDS = tuple(f"total_{f}" for f in METRIC_FIELDS)


@dataclasses.dataclass
class ImportPlan:
    account: AdAccount
    parsed: ParsedFile
    errors: list[RowError]
    # Each parsed row's campaign (in `parsed.rows` order): an existing pk (int), the key of a campaign to
    # create (str), or None for a row with an error.
    campaign_refs: list
    new_campaigns: dict[str, dict]
    matched: dict[int, str]
    # (campaign ref, ad ref or None, date) → metric values (a tuple in METRIC_FIELDS order); ad ref is a
    # ContentItem pk or ("new", key).
    metric_rows: dict[tuple, tuple]
    new_items: dict[tuple, dict]
    counts: dict[str, int]
    # Ad ref (as in metric_rows) → the usage-rights fields the file gives for it (issue 17; optional columns).
    item_rights: dict = dataclasses.field(default_factory=dict)

    def summary(self) -> dict:
        dates = [r.date for r in self.parsed.rows]
        return {
            "format": self.parsed.format,
            "columns": {FIELD_LABELS.get(k, k): v for k, v in self.parsed.columns.items()},
            "unknown_columns": self.parsed.unknown_columns[:50],
            "data_rows": len(self.parsed.rows) + len(self.parsed.errors),
            "skipped_rows": self.parsed.skipped,
            "date_from": min(dates).isoformat() if dates else "",
            "date_to": max(dates).isoformat() if dates else "",
            "campaigns_new": sorted(v["name"] for v in self.new_campaigns.values())[:500],
            "campaigns_new_count": len(self.new_campaigns),
            "campaigns_matched": sorted(self.matched.values())[:500],
            "campaigns_matched_count": len(self.matched),
            "content_items_new": len(self.new_items),
            "content_rights": len(self.item_rights),
            "metric_rows": self.counts,
            "errors": [{"line": e.line, "message": e.message} for e in self.errors[:MAX_ERRORS_SHOWN]],
            "error_count": len(self.errors),
        }


def import_plan(*, account: AdAccount, parsed: ParsedFile) -> ImportPlan:
    """Match every parsed row to a campaign (and content item) of `account` and work out which daily metric
    rows would be new, changed or unchanged; what could not be stored as planned is a row error (a day in the
    future, a day or total past its column). Four queries, whatever the number of rows. Raises ImportFileError
    when the file names a currency other than the account's."""
    _currency_check(account=account, parsed=parsed)
    matching = _campaigns_match(account=account, parsed=parsed)
    metric_rows, new_items, lines, reported = _metric_rows_plan(matching=matching)
    existing_ids = sorted(matching.matched)
    existing = {}
    if existing_ids and metric_rows:
        dates = [k[2] for k in metric_rows]
        existing = {
            (m["campaign_id"], m["content_item_id"], m["date"]): m
            for m in DailyMetric.objects.filter(
                Q(campaign_id__in=existing_ids), date__gte=min(dates), date__lte=max(dates)
            ).values("campaign_id", "content_item_id", "date", *METRIC_FIELDS)
        }
    _totals_check(matching=matching, metric_rows=metric_rows, lines=lines, existing=existing, reported=reported)
    counts = {"new": 0, "changed": 0, "unchanged": 0}
    for key, values in metric_rows.items():
        current = existing.get(key)
        if current is None:
            counts["new"] += 1
        elif any(current[f] != value for f, value in zip(METRIC_FIELDS, values, strict=True)):
            counts["changed"] += 1
        else:
            counts["unchanged"] += 1
    errors = sorted(matching.errors, key=lambda e: e.line)
    return ImportPlan(
        account,
        parsed,
        errors,
        matching.campaign_refs,
        matching.new_campaigns,
        matching.matched,
        metric_rows,
        new_items,
        counts,
        _item_rights(matching=matching),
    )


def _item_rights(*, matching: "_Matching") -> dict:
    """{ad ref: {"rights_expire_on": day, "creator_name": name}} from the optional per-ad columns, the last row of
    an ad winning; only what the file fills in (an empty cell never clears what a person entered)."""
    if not {"rights_expire_on", "creator_name"} & set(matching.parsed.columns):
        return {}
    rights: dict = {}
    for row, item_ref in zip(matching.parsed.rows, matching.item_refs, strict=True):
        if item_ref is not None:
            given = {"rights_expire_on": row.rights_expire_on, "creator_name": row.creator_name}
            rights.setdefault(item_ref, {}).update({k: v for k, v in given.items() if v})
    return {ref: values for ref, values in rights.items() if values}


def _currency_check(*, account: AdAccount, parsed: ParsedFile) -> None:
    expected = account.currency.strip().upper()
    for code, where in parsed.currencies.items():
        if code != expected:
            raise ImportFileError(
                f"This file is in {code} ({where}), but “{account.name}” reports in {expected}: it was probably "
                f"exported from another ad account. Import it into the account that reports in {code}."
            )


def _account_today(account: AdAccount) -> dt.date:
    """Today where the account's days are counted (Ads Manager's days are in the ad account's time zone)."""
    try:
        zone = zoneinfo.ZoneInfo(account.timezone)
    except (KeyError, ValueError):  # ZoneInfoNotFoundError is a KeyError; "" or "../x" a ValueError
        zone = dt.UTC
    return timezone.localdate(timezone=zone)


@dataclasses.dataclass
class _Matching:
    """The rows' campaigns: the account's as stored, and those a commit would create."""

    parsed: ParsedFile
    names: dict[int, str]
    stored_totals: dict[int, dict]  # pk → {metric: the campaign's stored total}
    errors: list[RowError]
    # Each parsed row's campaign ref (in `parsed.rows` order; None for a row with an error): a list, not a dict.
    campaign_refs: list = dataclasses.field(default_factory=list)
    new_campaigns: dict[str, dict] = dataclasses.field(default_factory=dict)
    matched: dict[int, str] = dataclasses.field(default_factory=dict)
    item_refs: list = dataclasses.field(default_factory=list)  # each row's ad ref (None for a campaign row)

    def name(self, ref: int | str) -> str:
        return self.new_campaigns[ref]["name"] if isinstance(ref, str) else self.names[ref]

    def label(self, field: str) -> str:
        return self.parsed.columns.get(field) or FIELD_LABELS[field]


def _campaigns_match(*, account: AdAccount, parsed: ParsedFile) -> _Matching:
    creatable = not account.is_connected
    today = _account_today(account)
    campaigns = list(Campaign.objects.filter(account=account).values_list("pk", "platform_id", "name", *TOTAL_FIELDS))
    by_platform_id = {pid: pk for pk, pid, *_ in campaigns if pid}
    by_name: dict[str, list[int]] = defaultdict(list)
    for pk, _, name, *_totals in campaigns:
        by_name[name].append(pk)
    matching = _Matching(
        parsed=parsed,
        names={pk: name for pk, _, name, *_ in campaigns},
        stored_totals={pk: dict(zip(METRIC_FIELDS, totals, strict=True)) for pk, _, _, *totals in campaigns},
        errors=list(parsed.errors),
    )
    errors, new_campaigns = matching.errors, matching.new_campaigns

    def resolve(campaign_id: str, campaign_name: str) -> tuple[int | str | None, str]:
        """(the campaign ref, "") or (None, why the row has none): once per campaign of the file."""
        if campaign_id:
            ref = by_platform_id.get(campaign_id)
            if ref is None and not creatable:
                return None, f"Campaign ID {campaign_id} is not in this account; run “Sync now” first."
            if ref is None:
                ref = f"id:{campaign_id}"
                new_campaigns.setdefault(
                    ref, {"name": campaign_name or f"Campaign {campaign_id}", "platform_id": campaign_id}
                )
            return ref, ""
        found = by_name.get(campaign_name, [])
        if len(found) > 1:
            return None, f"{len(found)} campaigns are named “{campaign_name}”; add a Campaign ID column."
        if found:
            return found[0], ""
        if not creatable:
            return None, f"No campaign named “{campaign_name}” in this account; run “Sync now” first."
        ref = f"name:{campaign_name}"
        new_campaigns.setdefault(ref, {"name": campaign_name, "platform_id": ""})
        return ref, ""

    resolved: dict[tuple, tuple] = {}
    refs = matching.campaign_refs
    for row in parsed.rows:
        if row.date > today:
            errors.append(
                RowError(row.line, f"{row.date.isoformat()} is in the future (the account's today is {today}).")
            )
            refs.append(None)
            continue
        names = (row.campaign_id, row.campaign_name)
        found = resolved.get(names)
        if found is None:
            resolved[names] = found = resolve(*names)
            if found[0] is not None and not isinstance(found[0], str):
                matching.matched[found[0]] = matching.names[found[0]]
        ref, problem = found
        if problem:
            errors.append(RowError(row.line, problem))
        elif ref.__class__ is str:
            spec = new_campaigns[ref]
            start = spec.get("start_date")
            if start is None or row.date < start:
                spec["start_date"] = row.date
        refs.append(ref)
    return matching


def _metric_rows_plan(*, matching: _Matching) -> tuple[dict, dict, dict, set]:
    """(daily rows by (campaign ref, ad ref or None, day), content items to create, the line of each daily
    row, what is already reported past its column). Repeated rows and days summed from their ads past their
    column are row errors."""
    errors, campaign_refs = matching.errors, matching.campaign_refs
    existing_ids = sorted(matching.matched)
    items = list(
        ContentItem.objects.filter(campaign_id__in=existing_ids).values_list(
            "pk", "campaign_id", "platform_id", "title"
        )
    )
    item_by_id = {(c, pid): pk for pk, c, pid, _ in items if pid}
    item_by_title = {(c, title): pk for pk, c, _, title in items}
    new_items: dict[tuple, dict] = {}
    metric_rows: dict[tuple, tuple] = {}
    # The line of each campaign-level day the file has a row for (few in a file broken down by ad); a repeated
    # row's first line is looked up after the loop, so no dict of every row's line is kept.
    first_line: dict[tuple, int] = {}
    repeats: list[tuple] = []  # (row, key) of each row whose key an earlier row has
    ad_sums: dict[tuple, tuple] = {}
    day_limits = metric_limits(DailyMetric)
    highs = [day_limits[f].high for f in METRIC_FIELDS]
    over_in_sum: dict[tuple, int] = {}  # (day key, field) → the line whose ad took the day's sum past its column
    sum_line: dict[tuple, int] = {}  # day key → the last line of an ad added to it
    item_of: dict[tuple, object] = {}  # (campaign ref, ad id, ad name) → its ad ref: worked out once per ad
    item_refs = matching.item_refs
    add, greater = operator.add, operator.gt
    for row, ref in zip(matching.parsed.rows, campaign_refs, strict=True):
        if ref is None:
            item_refs.append(None)
            continue
        item_ref = None
        if row.ad_name or row.ad_id:
            ad = (ref, row.ad_id, row.ad_name)
            item_ref = item_of.get(ad)
            if item_ref is None:
                item_ref = item_by_id.get((ref, row.ad_id)) if row.ad_id else None
                if item_ref is None and row.ad_name:
                    item_ref = item_by_title.get((ref, row.ad_name))
                if item_ref is None:
                    new_key = ("new", str(ref), row.ad_id or row.ad_name)
                    new_items.setdefault(
                        new_key,
                        {"campaign": ref, "platform_id": row.ad_id, "title": row.ad_name or f"Ad {row.ad_id}"},
                    )
                    item_ref = new_key
                item_of[ad] = item_ref
        item_refs.append(item_ref)
        key = (ref, item_ref, row.date)
        if key in metric_rows:
            repeats.append((row, key))
            continue
        if item_ref is None:
            first_line[key] = row.line
        values = row.metrics  # the row's own tuple: nothing more a row
        metric_rows[key] = values
        if item_ref is not None:
            day_key = (ref, None, row.date)
            total = ad_sums.get(day_key)
            total = values if total is None else tuple(map(add, total, values))
            ad_sums[day_key] = total
            if any(map(greater, total, highs)):
                for n, field in enumerate(METRIC_FIELDS):
                    if total[n] > highs[n]:
                        over_in_sum.setdefault((day_key, field), row.line)
            sum_line[day_key] = row.line
    if repeats:
        repeated = {key for _, key in repeats}
        firsts: dict[tuple, int] = {}
        for row, ref, item_ref in zip(matching.parsed.rows, campaign_refs, item_refs, strict=True):
            if ref is not None and (key := (ref, item_ref, row.date)) in repeated:
                firsts.setdefault(key, row.line)
        for row, key in repeats:
            what = (
                f"ad “{row.ad_name or row.ad_id}”" if key[1] else f"campaign “{row.campaign_name or row.campaign_id}”"
            )
            errors.append(RowError(row.line, f"Repeats {what} on {row.date:%Y-%m-%d} (first on line {firsts[key]})."))
    # Files broken down by ad: the campaign's day is the sum of its ads unless the file has its own row.
    reported: set = set()
    for key, sums in ad_sums.items():
        if key in metric_rows:
            continue
        metric_rows[key] = tuple(sums)  # (a row's own tuple when the day has a single ad)
        for f, total in zip(METRIC_FIELDS, sums, strict=True):
            if (key, f) in over_in_sum:
                errors.append(
                    RowError(
                        over_in_sum[key, f],
                        f"With this ad, {matching.label(f)} of “{matching.name(key[0])}” on {key[2].isoformat()} "
                        f"(the sum of its ads) would be {total:,}, more than Closeout stores "
                        f"({day_limits[f].high:,}).",
                    )
                )
                reported |= {(key[0], f), f}  # its campaign's and the account's totals are past it too
    # The line of each campaign-level day (its own row's, or the last of its ads'), for the totals' messages.
    lines = first_line
    lines.update((key, line) for key, line in sum_line.items() if key not in lines)
    return metric_rows, new_items, lines, reported


def _totals_check(*, matching: _Matching, metric_rows: dict, lines: dict, existing: dict, reported: set) -> None:
    """Add the file's campaign-level days, in file order, to each campaign's total from the days the file does
    not replace, and to the account's total (its other campaigns as stored); the row that takes a total past
    its column is a row error, once per campaign or account and metric."""
    limits = metric_limits(Campaign, prefix="total_")
    campaign_totals = _total_bases(metric_rows=metric_rows, existing=existing, existing_ids=sorted(matching.matched))
    account_totals = {
        f: sum((t[f] for pk, t in matching.stored_totals.items() if pk not in campaign_totals), start=0)
        + sum((t[f] for t in campaign_totals.values()), start=0)
        for f in METRIC_FIELDS
    }
    for key in sorted((k for k in metric_rows if k[1] is None), key=lines.__getitem__):
        ref = key[0]
        for f, value in zip(METRIC_FIELDS, metric_rows[key], strict=True):
            campaign_totals[ref][f] += value
            account_totals[f] += value
            high = limits[f].high
            if campaign_totals[ref][f] > high:
                whose, total = f"“{matching.name(ref)}”", campaign_totals[ref][f]
            elif account_totals[f] > high:
                whose, total = "all campaigns in this account", account_totals[f]
            else:
                continue
            if (ref, f) not in reported and f not in reported:
                matching.errors.append(
                    RowError(
                        lines[key],
                        f"With this row, the total {matching.label(f)} of {whose} would be {total:,}, more than "
                        f"Closeout stores ({high:,}).",
                    )
                )
            # A campaign past the limit takes the account past it too: one message is enough.
            reported |= {(ref, f), f}


def _total_bases(*, metric_rows: dict, existing: dict, existing_ids: list[int]) -> dict:
    """{campaign ref: its totals from the days this file does not replace}. A campaign to create starts at 0;
    an existing one at the sum of all its stored campaign-level days (what `campaign_totals_refresh` will add up
    after the commit) minus the stored days the file overwrites."""
    refs = {key[0] for key in metric_rows if key[1] is None}
    bases = {ref: dict.fromkeys(METRIC_FIELDS, 0) for ref in refs}
    matched = [ref for ref in existing_ids if ref in bases]
    if matched:
        sums = (
            DailyMetric.objects.filter(campaign_id__in=matched, content_item__isnull=True)
            .values("campaign_id")
            .annotate(**{f"sum_{f}": Sum(f) for f in METRIC_FIELDS})
        )
        for row in sums:
            bases[row["campaign_id"]] = {f: row[f"sum_{f}"] or 0 for f in METRIC_FIELDS}
    for key in metric_rows:
        if key[1] is None and (stored := existing.get(key)) is not None:
            for f in METRIC_FIELDS:
                bases[key[0]][f] -= stored[f]
    return bases


def plan_apply(*, plan: ImportPlan, owner=None) -> dict:
    """Create the plan's new campaigns and content items; return the daily metric rows (an iterator of tuples:
    campaign id, content item id or None, day, the METRIC_FIELDS) for `daily_metrics_bulk_upsert`, and their
    count. Call inside a transaction (services.metric_import_commit_run does).

    A new campaign is known only by its name (and platform id): it is created with no budget, marked
    `needs_details` and owned by `owner` (the importer), so the list and its page ask a manager to fill it in."""
    account = plan.account
    refs: dict[str, int] = {}
    if plan.new_campaigns:
        created = Campaign.objects.bulk_create(
            [
                Campaign(
                    account=account,
                    name=spec["name"],
                    platform_id=spec["platform_id"],
                    start_date=spec["start_date"],
                    end_date=None,
                    needs_details=True,
                    owner=owner,
                )
                for spec in plan.new_campaigns.values()
            ],
            batch_size=500,
        )
        refs = {key: c.pk for key, c in zip(plan.new_campaigns, created, strict=True)}
        if any(pk is None for pk in refs.values()):  # backends without RETURNING: look them up
            lookup = dict(Campaign.objects.filter(account=account).values_list("name", "pk"))
            refs = {key: lookup[spec["name"]] for key, spec in plan.new_campaigns.items()}

    def campaign_pk(ref):
        return refs[ref] if isinstance(ref, str) else ref

    item_pks: dict[tuple, int] = {}
    if plan.new_items:
        created_items = ContentItem.objects.bulk_create(
            [
                ContentItem(
                    campaign_id=campaign_pk(spec["campaign"]),
                    platform_id=spec["platform_id"],
                    title=spec["title"],
                    **plan.item_rights.get(key, {}),
                )
                for key, spec in plan.new_items.items()
            ],
            batch_size=500,
        )
        item_pks = {key: item.pk for key, item in zip(plan.new_items, created_items, strict=True)}
    known = {ref: values for ref, values in plan.item_rights.items() if not isinstance(ref, tuple)}
    if known:
        items = ContentItem.objects.in_bulk(list(known))
        for pk, values in known.items():
            for field, value in values.items():
                if pk in items:
                    setattr(items[pk], field, value)
        ContentItem.objects.bulk_update(list(items.values()), ["rights_expire_on", "creator_name"], batch_size=500)
    # Tuples in DAILY_ROW_COLUMNS order, for `daily_metrics_bulk_upsert`, made one by one as it reads them (a
    # generator: never a second list of every row).
    rows = (
        (campaign_pk(ref), item_pks[item_ref] if isinstance(item_ref, tuple) else item_ref, day, *values)
        for (ref, item_ref, day), values in plan.metric_rows.items()
    )
    campaign_ids = {campaign_pk(ref) for ref in {key[0] for key in plan.metric_rows}}
    return {
        "rows": rows,
        "row_count": len(plan.metric_rows),
        "campaign_ids": sorted(campaign_ids),
        "counts": {"campaigns_created": len(plan.new_campaigns), "content_items_created": len(plan.new_items)},
    }
