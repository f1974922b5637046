"""One cell of an export → a value Closeout can store, or the problem with it (a phrase for a row error).

Limits come from the model fields the value is stored in (a DecimalField's digits, an integer field's range on
the database in use, a CharField's max_length), so a value that passes here fits its column on SQLite and on
PostgreSQL alike. Cell text is never evaluated: "=1+1" is a name, or not a number."""

import dataclasses
import datetime as dt
import re
from decimal import Decimal, InvalidOperation

from django.db import connections, models, router

from ..models import METRIC_FIELDS

MISSING = frozenset({"", "-", "--", "n/a", "na", "null"})
# Days of delivery before this are typos (a year 1926 or 0026): long before any TikTok ad ran.
EARLIEST_DAY = dt.date(2000, 1, 1)
# What PostgreSQL text and JSON refuse (NUL, lone surrogates) and what no name should hide (other controls).
UNSAFE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
LINE_BREAKS = re.compile(r"[\t\r\n]+")
_SHOWN_LENGTH = 40


@dataclasses.dataclass(frozen=True)
class Limit:
    """The largest value a numeric column holds (the smallest is 0: metrics are never negative)."""

    high: int | Decimal
    places: int  # decimal places; 0 for an integer column

    @property
    def integer(self) -> bool:
        return self.places == 0


def column_limit(field: models.Field) -> Limit:
    if isinstance(field, models.DecimalField):
        places = field.decimal_places
        return Limit(Decimal(10) ** (field.max_digits - places) - Decimal(1).scaleb(-places), places)
    connection = connections[router.db_for_write(field.model)]
    return Limit(connection.ops.integer_field_range(field.get_internal_type())[1], 0)


def metric_limits(model: type[models.Model], prefix: str = "") -> dict[str, Limit]:
    """{metric field: its Limit} for `model`'s columns `prefix + field` (DailyMetric, or Campaign's totals)."""
    return {f: column_limit(model._meta.get_field(prefix + f)) for f in METRIC_FIELDS}


def shown(value, length: int = _SHOWN_LENGTH) -> str:
    """A cell's text to quote in a message: control characters as "�", cut at `length`."""
    text = UNSAFE.sub("\ufffd", LINE_BREAKS.sub(" ", str(value)))
    return text if len(text) <= length else text[: length - 1] + "…"


def text_parse(value, *, max_length: int) -> tuple[str, str]:
    """(text, problem) for a name or id cell. Tabs and line breaks become a space; other control characters,
    or more than `max_length` characters, are a problem: cutting a name could merge two campaigns."""
    text = LINE_BREAKS.sub(" ", str(value))
    if bad := UNSAFE.search(text):  # before strip(), which would take a leading "\x0b" away unseen
        return "", f"contains the control character U+{ord(bad.group()):04X}; remove it"
    text = text.strip()
    if len(text) > max_length:
        return "", f"is {len(text):,} characters long; at most {max_length} fit"
    return text, ""


def id_parse(value, *, max_length: int) -> tuple[str, str]:
    """(id, problem): as `text_parse`, and "-" or "N/A" are no id; 1.8e15 typed as a number is "1800000000000000"."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if str(value).strip().lower() in MISSING:
        return "", ""
    return text_parse(value, max_length=max_length)


def date_parse(value) -> tuple[dt.date | None, str]:
    """(day, problem). ISO days, with or without a time; Excel date cells as they are."""
    if isinstance(value, dt.datetime):
        day = value.date()
    elif isinstance(value, dt.date):
        day = value
    else:
        day = _date_text(str(value).strip())
    if day is None:
        return None, f"“{shown(value)}” is not a date (expected YYYY-MM-DD)"
    if day < EARLIEST_DAY:
        return None, f"{day.isoformat()} is before {EARLIEST_DAY.year}: check the year"
    return day, ""


def _date_text(text: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text)  # the common case, fast
    except ValueError:
        pass
    for pattern in ("%Y-%m-%d", "%Y-%m-%d %H:%M:%S", "%Y/%m/%d", "%Y/%m/%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S"):
        try:
            return dt.datetime.strptime(text, pattern).date()
        except ValueError:
            continue
    return None


def number_parse(value, *, limit: Limit) -> tuple[int | Decimal, str]:
    """(value, problem). Missing values are 0; "1,234.50" is 1234.50; a currency sign is ignored. A value is
    refused when it is not a finite number, negative, fractional in a count, or more than `limit.high` (after
    rounding money to its decimal places)."""
    if isinstance(value, bool):
        return 0, f"“{value}” is not a number"
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and limit.integer and value.isascii() and value.isdigit() and len(value) < 19:
        number = int(value)  # the common case, fast (and short: int() of a huge digit string is slow)
    elif isinstance(value, float | Decimal):
        number = Decimal(str(value))
    else:
        text = str(value).strip()
        if text.lower() in MISSING:
            return 0, ""
        cleaned = text.replace(",", "").replace("\u00a0", "").replace(" ", "").strip("$€£¥")
        try:
            number = Decimal(cleaned)
        except (InvalidOperation, ValueError):
            return 0, f"“{shown(text)}” is not a number"
    if isinstance(number, Decimal) and not number.is_finite():
        return 0, f"“{shown(value)}” is not a number"
    if number < 0:
        return 0, f"“{shown(value)}” is negative"
    # Compared before any conversion: int(Decimal("1e400")) or a quantize of it is costly or raises. Money is
    # compared with a unit to spare, so that 999999999999.994 rounds to the largest value and is kept.
    if number > (limit.high if limit.integer else limit.high + 1):
        return 0, _too_large(value, limit)
    if limit.integer:
        if isinstance(number, Decimal):
            if number != number.to_integral_value():
                return 0, f"“{shown(value)}” is not a whole number"
            number = int(number)
        return number, ""
    money = Decimal(number).quantize(Decimal(1).scaleb(-limit.places))
    if money > limit.high:  # 999999999999.995 rounds up past the limit
        return 0, _too_large(value, limit)
    return money.copy_abs(), ""  # copy_abs: "-0" is 0.00


def _too_large(value, limit: Limit) -> str:
    return f"“{shown(value)}” is more than the largest value Closeout stores ({limit.high:,})"
