"""How a frozen figure is written for people: one function per unit, "—" for a missing value. Pure; used by the
presenters, the tables, the comparison and the PDF (through `reports.metrics.Metric.format`). Moments follow the
app's one time-zone rule (`campaigns.timezones`), in the account zone the snapshot names."""

import datetime as dt
from decimal import Decimal

from campaigns.timezones import moment_date_text, moment_text

DASH = "—"

COUNT = "count"
MONEY = "money"
PERCENT = "percent"


def dec(value) -> Decimal | None:
    return None if value is None else Decimal(value)


def fmt_int(value) -> str:
    return DASH if value is None else f"{int(value):,}"


def fmt_money(value, currency: str = "") -> str:
    if value is None:
        return DASH
    value = Decimal(value)
    places = 2 if abs(value) >= 1 or value == 0 else 4
    text = f"{value:,.{places}f}"
    return f"{currency} {text}".strip()


def fmt_pct(value) -> str:
    return DASH if value is None else f"{Decimal(value):,.2f}%"


def fmt_value(value, unit: str, currency: str = "") -> str:
    """`value` written in its unit: COUNT, MONEY (with the currency code) or PERCENT."""
    if unit == PERCENT:
        return fmt_pct(value)
    if unit == MONEY:
        return fmt_money(value, currency)
    return fmt_int(value)


def fmt_date(iso: str | None) -> str:
    if not iso:
        return DASH
    return dt.date.fromisoformat(iso[:10]).strftime("%-d %b %Y")


def fmt_datetime(iso: str | None, zone=None) -> str:
    """A frozen moment (ISO 8601) in the account's zone `zone` (a name; UTC when unknown) by the app's one rule
    (`campaigns.timezones.moment_text`), the year always written: "17:15 CET, 22 Mar 2025"."""
    if not iso:
        return DASH
    return moment_text(dt.datetime.fromisoformat(iso), zone, year=True)


def fmt_day_of(iso: str | None, zone=None) -> str:
    """The day of a frozen moment in the account's zone: "22 Mar 2025"."""
    if not iso:
        return DASH
    return moment_date_text(dt.datetime.fromisoformat(iso), zone)
