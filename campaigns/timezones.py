"""The one rule for writing a moment for people: in the account's time zone, with that zone's abbreviation
("16:17 EST, 3 Dec"; the year only when it is not this year, or always in documents), and, where the viewer's own
zone would read differently, the viewer's time on hover (a `title`).

- Python code (list rows, emails, the PDF, CSV files) calls `moment_text` (plain text) or `moment_html`
  (a `<time>` element with the hover); templates use the `local_time` filter of `campaign_tags`, which calls
  `moment_html`. Nothing else formats a date-time for people.
- The viewer's zone is the browser's: `static/js/app.js` writes `Intl.DateTimeFormat().resolvedOptions().timeZone`
  into the `closeout_tz` cookie, and `ViewerTimezoneMiddleware` (campaigns/middleware.py) makes it this request's
  `viewer_zone()`. Without JavaScript there is no cookie: pages then show the account's zone only.
- A moment that belongs to no account (when a notification arrived) is written in the viewer's zone, else UTC.
- Machine-readable output (CSV) writes ISO 8601 with the account zone's offset (`moment_iso`)."""

import contextvars
import datetime as dt
import zoneinfo
from html import escape

from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe

UTC = zoneinfo.ZoneInfo("UTC")
COOKIE = "closeout_tz"

_viewer: contextvars.ContextVar[zoneinfo.ZoneInfo | None] = contextvars.ContextVar("closeout_viewer_zone", default=None)


def zone_named(name: str | None) -> zoneinfo.ZoneInfo | None:
    """The IANA zone called `name`, or None for an unknown, empty or malformed name (never raises)."""
    if not name or len(name) > 64:
        return None
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        return None


def zone_of(value) -> dt.tzinfo:
    """The zone to write a moment in: an account (its `timezone`), a zone name, a tzinfo; UTC when unknown."""
    if isinstance(value, dt.tzinfo):
        return value
    name = getattr(value, "timezone", value)
    return zone_named(name if isinstance(name, str) else None) or UTC


def viewer_zone() -> zoneinfo.ZoneInfo | None:
    """The zone of the person this request renders for (the browser's), None when not known."""
    return _viewer.get()


def viewer_zone_set(zone: zoneinfo.ZoneInfo | None) -> contextvars.Token:
    return _viewer.set(zone)


def viewer_zone_reset(token: contextvars.Token) -> None:
    _viewer.reset(token)


def _abbreviation(local: dt.datetime) -> str:
    """ "EST", "CET", "UTC"; zones without a letter abbreviation ("+04") read "UTC+04"."""
    name = local.strftime("%Z")
    if not name or name[0] in "+-":
        offset = local.strftime("%z")  # "+0400"
        name = "UTC" + (f"{offset[:3]}:{offset[3:]}" if offset[3:] != "00" else offset[:3])
    return name


def zone_label(zone, moment: dt.datetime | None = None) -> str:
    """ "America/New_York (EST)": the zone's name and its abbreviation at `moment` (now if not given)."""
    tz = zone_of(zone)
    local = timezone.localtime(moment or timezone.now(), tz)
    name, abbreviation = getattr(tz, "key", "UTC"), _abbreviation(local)
    return name if name == abbreviation else f"{name} ({abbreviation})"


def moment_text(moment: dt.datetime | None, zone=None, *, year: bool | None = None, now=None) -> str:
    """`moment` as people read it in `zone` (see `zone_of`): "16:17 EST, 3 Dec", with " 2024" when it is not
    this year (`year=True`: always, for documents that are read years later). "—" for None."""
    if moment is None:
        return "—"
    tz = zone_of(zone)
    local = timezone.localtime(moment, tz)
    if year is None:
        year = local.year != timezone.localtime(now or timezone.now(), tz).year
    day = f"{local.day} {local:%b}" + (f" {local.year}" if year else "")
    return f"{local:%H:%M} {_abbreviation(local)}, {day}"


def moment_date_text(moment: dt.datetime | None, zone=None) -> str:
    """The day of `moment` in `zone`, always with the year ("3 Dec 2025"): for dates that stand alone."""
    if moment is None:
        return "—"
    local = timezone.localtime(moment, zone_of(zone))
    return f"{local.day} {local:%b %Y}"


def moment_html(moment: dt.datetime | None, zone=None, *, year: bool | None = None) -> SafeString:
    """`moment_text` in a `<time datetime>` element; where the viewer's zone reads differently, the viewer's time
    in its `title` ("22:17 CET, 3 Dec in your time zone")."""
    if moment is None:
        return SafeString("—")
    text = moment_text(moment, zone, year=year)
    title = ""
    viewer = viewer_zone()
    if viewer is not None:
        theirs = moment_text(moment, viewer, year=year)
        if theirs != text:
            title = f' title="{escape(theirs)} in your time zone"'
    iso = moment.astimezone(dt.UTC).isoformat()
    # Every part is escaped or made of digits and zone abbreviations.
    return mark_safe(f'<time datetime="{iso}"{title}>{escape(text)}</time>')  # noqa: S308  # nosec B308 B703


def moment_iso(moment: dt.datetime | None, zone=None) -> str:
    """ISO 8601 with the zone's offset ("2025-12-03T16:17:00-05:00"), for machine-readable files; "" for None."""
    return "" if moment is None else timezone.localtime(moment, zone_of(zone)).isoformat()


def today_in(zone=None, *, now=None) -> dt.date:
    """Today's date where the account is (a campaign's start and end dates are the account's days)."""
    return timezone.localtime(now or timezone.now(), zone_of(zone)).date()
