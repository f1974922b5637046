"""Template tags for campaign pages. They only call the functions the list table writes its cells with, so
each piece of markup is defined once (in Python, where the list needs it fast)."""

from django import template
from django.utils.safestring import SafeString, mark_safe

from .. import tables, text, timezones
from ..money import money_text

register = template.Library()


@register.simple_tag
def status_badge(campaign) -> SafeString:
    """`{% status_badge campaign %}`: the status (or sync state) badge alone."""
    return mark_safe(tables.status_badge(campaign))  # noqa: S308  # nosec B308 B703  (escaped by status_badge)


@register.simple_tag
def status_badges(campaign, scheduled=None) -> SafeString:
    """`{% status_badges campaign scheduled %}`: the status badge, "still delivering" and the pending
    schedule's badge, exactly as in the campaign list's status cell."""
    return tables.status_badges(campaign, scheduled)


@register.filter
def counted(count, noun: str) -> str:
    """`{{ n|counted:"campaign" }}` → "1 campaign", "2 campaigns"; an irregular plural after a comma:
    `{{ n|counted:"address,addresses" }}` (campaigns.text.counted)."""
    singular, _, plural_form = noun.partition(",")
    try:
        number = int(count)
    except (TypeError, ValueError):
        return ""
    return text.counted(number, singular, plural_form or None)


# --- One time-zone rule, money with its currency (issue 16) ---


@register.filter
def local_time(moment, zone=None) -> SafeString:
    """`{{ moment|local_time:campaign.account }}`: the moment in the account's time zone with its abbreviation,
    the viewer's own time on hover where it differs (`timezones.moment_html`). The argument may be an account, a
    zone name or nothing (the viewer's zone, else UTC: for moments that belong to no account)."""
    return timezones.moment_html(moment, zone if zone not in (None, "") else timezones.viewer_zone())


@register.filter
def local_time_year(moment, zone=None) -> SafeString:
    """`local_time` with the year always written (dates people look back on: an end, a report)."""
    return timezones.moment_html(moment, zone if zone not in (None, "") else timezones.viewer_zone(), year=True)


@register.filter
def money(amount, currency) -> str:
    """`{{ amount|money:account.currency }}`: "1,234.50 USD" (`money.money_text`); "—" without an amount."""
    return money_text(amount, currency)


@register.filter
def local_date(moment, zone=None) -> str:
    """`{{ moment|local_date:account }}`: the day of a moment in the account's zone, "3 Dec 2025"."""
    return timezones.moment_date_text(moment, zone if zone not in (None, "") else timezones.viewer_zone())
