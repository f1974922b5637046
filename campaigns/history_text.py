"""A campaign's history written for people (issue 16): "Paused by eddie-editor", "Created by mona-manager",
"Edited by mona-manager · Budget: 100.00 USD → 150.00 USD", "Scheduled by mona-manager: end at 09:30 CET, 1 May
2099". Field labels instead of field names, values as the pages show them, every moment through the one time-zone
rule (`timezones`). Pure: reads the StatusChange rows and the campaign's account, writes no query of its own
(rows from `selectors.campaign_history`, actors loaded)."""

import dataclasses
import datetime as dt
from decimal import Decimal, InvalidOperation

from . import timezones
from .models import Action, BudgetMode, Campaign, EndReason, Objective, Source, Status, WindDownStepKind
from .money import money_text
from .platforms.registry import platform_label

# How each editable field is named in the history (the form's own labels are the model's verbose names).
FIELD_LABELS = {
    "name": "Name",
    "platform_id": "Platform id",
    "objective": "Objective",
    "budget_mode": "Budget type",
    "budget_amount": "Budget",
    "start_date": "Start date",
    "end_date": "End date",
    "audience": "Audience",
    "target_views": "Video views target",
    "target_reach": "Reach target",
    "target_clicks": "Clicks target",
    "target_followers": "Followers target",
    "target_engagement_rate": "Engagement rate target",
    "target_cost_per_result": "Cost per result target",
    "needs_details": "Needs details",
}
MONEY_FIELDS = frozenset({"budget_amount", "target_cost_per_result"})
COUNT_FIELDS = frozenset({"target_views", "target_reach", "target_clicks", "target_followers"})
DATE_FIELDS = frozenset({"start_date", "end_date"})
CHOICES = {"objective": dict(Objective.choices), "budget_mode": dict(BudgetMode.choices)}

VERBS = {Action.PAUSE: "Paused", Action.RESUME: "Resumed", Action.END: "Ended"}
SYNC_EVENTS = {
    "retry_requested": "Sync retried",
    "resend_end_requested": "End sent to the platform again",
}


@dataclasses.dataclass
class HistoryRow:
    """One history entry: `headline` ("Paused by eddie-editor"), `details` (short phrases shown after it) and
    `at` (the moment, written by the template's `local_time` filter in the account's zone)."""

    entry: object
    headline: str
    details: list[str]
    at: dt.datetime


def _person(entry) -> str:
    actor = entry.actor
    if actor is None:
        return ""
    return actor.get_full_name() or actor.get_username()


def _by(entry, account, *, named: bool = True) -> str:
    """ "by eddie-editor", "by a schedule", "on TikTok", "by an import": who or what made the entry. `named=False`
    leaves out people's and rules' names (what a report shared outside the team says): "" for a person."""
    person = _person(entry)
    source = entry.source
    if source == Source.SCHEDULE:
        return "by a schedule"
    if source == Source.RULE:
        name = (entry.details or {}).get("rule_name")
        return f"by rule {name}" if name and named else "by a rule"
    if source == Source.RIGHTS:
        return "by Closeout: usage rights expired"
    if not named:
        return "" if person or source in (Source.UI, Source.ADMIN) else _by(entry, account)
    if source == Source.PLATFORM and not person:
        return f"on {platform_label(account)}"
    if person:
        return f"by {person}" + (" in the admin" if source == Source.ADMIN else "")
    return {Source.IMPORT: "by an import", Source.COMMAND: "by a command", Source.ADMIN: "in the admin"}.get(
        source, "by Closeout"
    )


def transition_headline(entry, *, account, named: bool = True) -> str:
    """ "Paused by eddie-editor", "Resumed by a schedule", "Ended by rule Overspend" for a status change (the words
    of the history and of the timeline's markers); `named=False`: "Paused", "Ended by a rule"."""
    verb = VERBS.get(entry.action) or entry.get_action_display()
    return f"{verb} {_by(entry, account, named=named)}".strip()


def field_value(name: str, value, *, currency: str) -> str:
    """A stored history value as the campaign page writes it ("150.00 USD", "20,000", "5 Dec 2025", "Daily")."""
    if value is None or value == "":
        return "—"
    if name in CHOICES:
        return CHOICES[name].get(value, str(value))
    if isinstance(value, bool):
        return "yes" if value else "no"
    try:
        if name in MONEY_FIELDS:
            return money_text(Decimal(str(value)), currency)
        if name in COUNT_FIELDS:
            return f"{int(value):,}"
        if name == "target_engagement_rate":
            return f"{Decimal(str(value)):,.2f} %"
        if name in DATE_FIELDS:
            day = dt.date.fromisoformat(str(value)[:10])
            return f"{day.day} {day:%b %Y}"
    except (InvalidOperation, ValueError, TypeError):
        return str(value)
    text = str(value)
    return f"“{text[:60]}…”" if len(text) > 60 else (f"“{text}”" if name == "audience" else text)


def _changes(details: dict, *, currency: str) -> list[str]:
    out = []
    for name, pair in (details.get("changed") or {}).items():
        old, new = (pair + [None, None])[:2] if isinstance(pair, list) else (None, pair)
        label = FIELD_LABELS.get(name) or name.replace("_", " ").capitalize()
        before, after = (field_value(name, value, currency=currency) for value in (old, new))
        out.append(f"{label}: {before} → {after}")
    return out


def _content(details: dict) -> list[str]:
    out = []
    if details.get("content_added"):
        out.append("Content added: " + ", ".join(details["content_added"]))
    if details.get("content_changed"):
        out.append("Content changed: " + ", ".join(details["content_changed"]))
    if details.get("content_removed"):
        out.append("Content removed: " + ", ".join(details["content_removed"]))
    return out


def _content_rights(details: dict) -> list[str]:
    """ "Usage rights of “Glow reel”: expire on 5 Dec 2026 → 9 Dec 2026", "Creator of “Glow reel”: — → Ana"."""
    title = details.get("item", "")
    out = []
    for name, label in (("rights_expire_on", "Usage rights of “{}”: expire on"), ("creator_name", "Creator of “{}”:")):
        if name in details:
            old, new = (list(details[name]) + [None, None])[:2]
            is_date = name == "rights_expire_on"
            shown = [field_value("end_date", v, currency="") if is_date else (v or "—") for v in (old, new)]
            out.append(f"{label.format(title)} {shown[0]} → {shown[1]}")
    return out


def _scheduled_moment(details: dict) -> dt.datetime | None:
    try:
        return dt.datetime.fromisoformat(details["run_at"])
    except (KeyError, TypeError, ValueError):
        return None


def _schedule_what(details: dict, account) -> str:
    action = str(details.get("action", "")).lower()
    verb = {"pause": "pause", "end": "end"}.get(action, action or "action")
    moment = _scheduled_moment(details)
    return f"{verb} at {timezones.moment_text(moment, account)}" if moment else verb


def history_row(entry, *, campaign: Campaign) -> HistoryRow:
    """One StatusChange written for people (see the module docstring)."""
    account = campaign.account
    details = entry.details or {}
    by = _by(entry, account)
    extra: list[str] = []
    action = entry.action
    if action in VERBS:
        headline = f"{VERBS[action]} {by}"
        extra.append(f"{Status(entry.from_status).label} → {Status(entry.to_status).label}")
        if details.get("delete_on_platform"):
            extra.append(f"also deleted on {platform_label(account)}")
        if details.get("rule_reason"):
            extra.append(str(details["rule_reason"]))
    elif action == Action.SCHEDULE:
        headline = f"Scheduled {by}: {_schedule_what(details, account)}"
    elif action == Action.UNSCHEDULE:
        headline = f"Unscheduled {by}: the {_schedule_what(details, account)}"
    elif action == Action.SCHEDULE_SKIPPED:
        headline = f"Scheduled {_schedule_what(details, account).split(' at ')[0]} skipped"
        if details.get("result"):
            extra.append(str(details["result"]))
    elif action == Action.EDIT and details.get("created") and details.get("planned_from"):
        headline = f"Planned from “{details['planned_from'].get('name', '')}” {by}"
        extra += _content(details)
    elif action == Action.EDIT and details.get("created"):
        headline = f"Created {by}"
        extra += _content(details)
    elif action == Action.EDIT and "annotation" in details:
        headline, extra = _annotation(details, by=by)
    elif action == Action.EDIT and "winddown_step" in details:
        try:
            step = WindDownStepKind(details["winddown_step"]).label
        except ValueError:
            step = str(details["winddown_step"])
        # A content-rights expiry opens the step (a running campaign's first step) rather than reopening it.
        done = "done" if details.get("done") else "opened" if details.get("rights_reason") else "reopened"
        headline = f"Wind-down: {step} {done} " + ("automatically" if details.get("automatic") else by)
    elif action == Action.EDIT and "content_rights" in details:
        headline = f"Edited {by}"
        extra += _content_rights(details["content_rights"])
    elif action == Action.EDIT:
        headline = f"Edited {by}"
        extra += _changes(details, currency=account.currency) + _content(details)
    elif action == Action.SYNC:
        headline, extra = _sync(details, entry=entry, account=account, by=by)
    else:
        headline = f"{entry.get_action_display()} {by}"
    extra += [str(why) for why in details.get("rights_reason", [])]  # a rights expiry: which content, which day
    if entry.reason_code:
        try:
            extra.append(EndReason(entry.reason_code).label)
        except ValueError:
            extra.append(entry.reason_code)
    if entry.reason_note:
        extra.append(f"“{entry.reason_note}”")
    return HistoryRow(entry=entry, headline=headline, details=extra, at=entry.created_at)


def _day_text(value) -> str:
    try:
        day = dt.date.fromisoformat(str(value))
    except ValueError:
        return str(value)
    return f"{day.day} {day:%b %Y}"


def _annotation(details: dict, *, by: str) -> tuple[str, list[str]]:
    """ "Note added by eddie-editor for 5 Mar 2026" · “creator posted” (and what an edit changed)."""
    op = {"added": "added", "edited": "edited", "removed": "removed"}.get(details.get("annotation"), "changed")
    headline = f"Note {op} {by} for {_day_text(details.get('day', ''))}"
    extra = [f"“{details.get('text', '')}”"]
    was = details.get("was") or {}
    if was.get("day") and was["day"] != details.get("day"):
        extra.append(f"was for {_day_text(was['day'])}")
    if "text" in was and was["text"] != details.get("text"):
        extra.append(f"was “{was['text']}”")
    return headline, extra


def _sync(details: dict, *, entry, account, by: str) -> tuple[str, list[str]]:
    platform = platform_label(account)
    event = details.get("event", "")
    if event == "confirmed":
        operation = str(details.get("operation") or "").lower()
        return f"{platform} confirmed the change", [operation] if operation else []
    if event == "failed":
        return f"{platform} did not apply the change", [str(details["error"])] if details.get("error") else []
    if event == "imported":
        return f"Metrics imported {by}", [str(details["file"])] if details.get("file") else []
    return f"{SYNC_EVENTS.get(event, 'Platform sync')} {by}", []


def history_rows(history, *, campaign: Campaign) -> list[HistoryRow]:
    """`history_row` for each entry, in the order given (newest first from `selectors.campaign_history`)."""
    return [history_row(entry, campaign=campaign) for entry in history]
