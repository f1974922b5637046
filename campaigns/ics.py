"""The per-account campaign feed as iCalendar (RFC 5545), written by the `icalendar` package (escaping, line
folding at 75 octets, CRLF, value types): all-day events, `STATUS:CANCELLED` for a campaign ended early, and a
`SEQUENCE` that grows with every recorded change so calendar apps replace their copy."""

from collections.abc import Iterable
from datetime import date, timedelta

from icalendar import Calendar, Event

PRODID = "-//Closeout//Campaign calendar//EN"


def calendar_feed(*, name: str, events: Iterable[dict]) -> str:
    """`events`: dicts with uid, start (date), end (date, inclusive), summary, description, url, updated (aware
    datetime), and optionally cancelled (bool) and sequence (int, default 0)."""
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", name)
    for item in events:
        start: date = item["start"]
        end: date = max(item["end"], start)
        event = Event()
        event.add("uid", item["uid"])
        event.add("dtstamp", item["updated"])
        event.add("last-modified", item["updated"])
        event.add("dtstart", start)
        event.add("dtend", end + timedelta(days=1))  # DTEND is exclusive for all-day events
        event.add("summary", item["summary"])
        event.add("description", item["description"])
        if item.get("url"):
            event.add("url", item["url"])
        event.add("status", "CANCELLED" if item.get("cancelled") else "CONFIRMED")
        event.add("sequence", int(item.get("sequence") or 0))
        event.add("transp", "TRANSPARENT")
        calendar.add_component(event)
    return calendar.to_ical().decode()
