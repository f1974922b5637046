"""The notification of a notify-only rule: the account's managers, the campaigns' owners and watchers hear which
campaigns tripped it, with the numbers. (A rule that pauses or ends is announced like any status change, by
`notifications_for_status_changes`, which names the rule.)"""

from django.urls import reverse

from ..models import NotificationKind, Rule
from ..services.notifications import notifications_create


def rule_notify(*, rule: Rule, trips: list) -> list[int]:
    """One notification per recipient about their share of `trips` (conditions.Trip). Idempotent per rule, day
    and first campaign (the dedupe key)."""
    if not trips:
        return []
    by_id = {t.campaign_id: t for t in trips}
    first = trips[0]

    def render(pks):
        shown = [by_id[pk] for pk in pks]
        if len(shown) == 1:
            title = f"Rule “{rule.name}” flagged “{shown[0].name}”"
        else:
            title = f"Rule “{rule.name}” flagged {len(shown)} campaigns"
        lines = [f"• {t.name}: {t.text}" for t in shown]
        body = "\n".join([f"Rule “{rule.name}” (notify only) was tripped:", *lines])
        return title, body, reverse("campaigns:rule_log", args=[rule.account_id])

    return notifications_create(
        campaign_ids=list(by_id),
        kind=NotificationKind.RULE_TRIGGERED,
        dedupe_key=f"rule:{rule.pk}:{first.day.isoformat()}:{first.campaign_id}"[:100],
        render=render,
        include_managers=True,
    )
