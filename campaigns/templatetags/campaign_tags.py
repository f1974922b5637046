"""Template tags for campaign pages. They only call the functions the list table writes its cells with, so
each piece of markup is defined once (in Python, where the list needs it fast)."""

from django import template
from django.utils.safestring import SafeString, mark_safe

from .. import tables, text

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
