"""`{% load platforms %}` then `{{ account|platform_label }}`: how a template names an account's platform
("Awaiting TikTok"). The same answer as `campaigns.platforms.platform_label`, which Python code calls."""

from django import template

from ..platforms import registry

register = template.Library()


@register.filter
def platform_label(account) -> str:
    return registry.platform_label(account)
