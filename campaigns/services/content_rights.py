"""Content-rights expiry (issue 17): a content item's usage rights (Spark Ads authorisation) end on a date.

- `content_item_rights_set` (editors and managers) and `account_rights_settings_set` (managers) are the writes
  people make; the campaign edit form, the admin and the Ads Manager import also fill the two item fields.
- `content_rights_run` is the hourly job (`campaigns.rights_expiry`, also `manage.py content_rights_expiry`). For
  content items that are live, of campaigns that have not ended ("live": active or paused):
  1. `rights_warn_days` (the account's N) days before the date, the owner, watchers and the account's managers are
     told once per item and date (`rights_warned_for` records the date warned about).
  2. On the date (the account's day), the item is taken out: the wind-down "content removed" step opens for it
     with the reason ("Usage rights of “X” (creator Y) expired on 2 Dec 2026"). On a connected account set to
     "pause", an active campaign whose only live content that was is paused through `campaigns_transition` (source
     `rights`, only from active, the reason on the audit row); otherwise the same people are told to take the item
     down. `rights_expired_for` records the date acted on, so a second run does nothing more, and a campaign a
     person resumed (or paused, or ended) afterwards is never touched again for that date.
Both steps read the due items with one query and act on all of them together (constant queries per run, not per
campaign). A changed date is a new date: it is warned about and acted on again.
"""

import dataclasses
import datetime as dt

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone

from ..models import (
    ATTENTION_RIGHTS,
    RIGHTS_WARN_DAYS_CHOICES,
    Action,
    AdAccount,
    Campaign,
    ContentItem,
    ContentState,
    NotificationKind,
    RightsExpiryAction,
    Role,
    Source,
    Status,
)
from ..selectors import role_for
from ..text import counted, day_text, rights_text
from ..timezones import today_in
from .errors import CampaignError, NotPermitted
from .history import history_record
from .notifications import notifications_create
from .transitions import campaigns_transition
from .winddown import winddown_content_steps_open

RIGHTS_LIVE_STATUSES = (Status.ACTIVE, Status.PAUSED)
RIGHTS_WARN_DAYS = tuple(n for n, _ in RIGHTS_WARN_DAYS_CHOICES)
# The date furthest ahead anywhere (UTC+14): a read for "due by the account's today" starts from it, and each
# item is then judged in its own account's day.
EARTH_AHEAD = dt.timedelta(hours=14)
CREATOR_MAX = ContentItem._meta.get_field("creator_name").max_length
EARLIEST, LATEST = dt.date(2000, 1, 1), dt.date(2100, 12, 31)


class RightsInvalid(CampaignError):
    def __init__(self, problems: dict[str, str]):
        self.problems = problems
        super().__init__(" ".join(problems.values()))


def content_rights_problems(*, expire_on, creator_name: str) -> dict[str, str]:
    """{field: what is wrong}; empty when the values can be saved. The date is optional; a creator is a name."""
    problems = {}
    if expire_on is not None and not isinstance(expire_on, dt.date):
        problems["rights_expire_on"] = "Enter the date as YYYY-MM-DD."
    elif expire_on is not None and not EARLIEST <= expire_on <= LATEST:
        problems["rights_expire_on"] = "Enter a date between 2000 and 2100."
    if len(creator_name or "") > CREATOR_MAX:
        problems["creator_name"] = f"The creator's name can be at most {CREATOR_MAX} characters."
    elif "\x00" in (creator_name or ""):
        problems["creator_name"] = "The creator's name contains a character that cannot be saved."
    return problems


def content_item_rights_set(*, item: ContentItem, actor: AbstractBaseUser, expire_on, creator_name: str) -> list[str]:
    """Set an item's usage-rights end date (None: none known) and creator. Editors and managers of the item's
    account (NotPermitted otherwise); RightsInvalid for bad values. Audited on the campaign's history
    ("Usage rights of “X”: 5 Dec 2026 → 9 Dec 2026"). Returns the changed fields; nothing is written when nothing
    changed."""
    role = role_for(user=actor, account_id=item.campaign.account_id)
    if role is None or not role.allows(Role.EDITOR):
        raise NotPermitted("You need the editor role in this account to change content usage rights.")
    creator_name = (creator_name or "").strip()
    problems = content_rights_problems(expire_on=expire_on, creator_name=creator_name)
    if problems:
        raise RightsInvalid(problems)
    values = {"rights_expire_on": expire_on, "creator_name": creator_name}
    with transaction.atomic():
        locked = ContentItem.objects.select_for_update().select_related("campaign").get(pk=item.pk)
        changed = {
            name: [_shown(getattr(locked, name)), _shown(value)]
            for name, value in values.items()
            if getattr(locked, name) != value
        }
        if not changed:
            return []
        for name in changed:
            setattr(locked, name, values[name])
        locked.save(update_fields=list(changed))
        history_record(
            campaign=locked.campaign,
            action=Action.EDIT,
            actor=actor,
            source=Source.UI,
            details={"content_rights": {"item": locked.title, **changed}},
        )
    item.rights_expire_on, item.creator_name = expire_on, creator_name
    return list(changed)


def _shown(value) -> str | None:
    return value.isoformat() if isinstance(value, dt.date) else (value or None)


def account_rights_settings_set(
    *, account: AdAccount, actor: AbstractBaseUser, expiry_action: str, warn_days: int
) -> list[str]:
    """What happens at expiry ("pause" or "notify") and the warning lead time, for managers (NotPermitted
    otherwise); RightsInvalid for a value outside the choices. Returns the changed fields."""
    role = role_for(user=actor, account_id=account.pk)
    if role is None or not role.allows(Role.MANAGER):
        raise NotPermitted("You need the manager role in this account to change its content-rights settings.")
    problems = {}
    if expiry_action not in RightsExpiryAction.values:
        problems["rights_expiry_action"] = "Choose what happens when usage rights expire."
    try:
        warn_days = int(warn_days)
    except (TypeError, ValueError):
        warn_days = None
    if warn_days not in RIGHTS_WARN_DAYS:
        problems["rights_warn_days"] = "Choose how many days before the expiry owners are warned."
    if problems:
        raise RightsInvalid(problems)
    values = {"rights_expiry_action": expiry_action, "rights_warn_days": warn_days}
    changed = [name for name, value in values.items() if getattr(account, name) != value]
    if changed:
        AdAccount.objects.filter(pk=account.pk).update(**values)
        for name in changed:
            setattr(account, name, values[name])
    return changed


# The hourly job ------------------------------------------------------------------------------------------------


@dataclasses.dataclass
class RightsRun:
    warned: list[int] = dataclasses.field(default_factory=list)  # content item ids
    expired: list[int] = dataclasses.field(default_factory=list)
    paused: list[int] = dataclasses.field(default_factory=list)  # campaign ids
    notified: list[int] = dataclasses.field(default_factory=list)  # campaign ids told to take content down


def _not_done_for(field: str) -> Q:
    return Q(**{f"{field}__isnull": True}) | ~Q(**{field: F("rights_expire_on")})


def content_rights_due(*, now: dt.datetime) -> tuple[list[ContentItem], list[ContentItem]]:
    """(to warn, expired) now: live items of live campaigns, each judged in its account's day. One query."""
    latest = (now + EARTH_AHEAD).date()
    candidates = (
        ContentItem.objects.filter(
            ATTENTION_RIGHTS,
            campaign__status__in=RIGHTS_LIVE_STATUSES,
            rights_expire_on__lte=latest + dt.timedelta(days=max(RIGHTS_WARN_DAYS)),
        )
        .filter(_not_done_for("rights_warned_for") | _not_done_for("rights_expired_for"))
        .select_related("campaign__account")
        .order_by("rights_expire_on", "pk")
    )
    warn, expired = [], []
    for item in candidates:
        account = item.campaign.account
        today = today_in(account, now=now)
        if item.rights_expire_on <= today:
            if item.rights_expired_for != item.rights_expire_on:
                expired.append(item)
        elif (
            item.rights_expire_on <= today + dt.timedelta(days=account.rights_warn_days)
            and item.rights_warned_for != item.rights_expire_on
        ):
            warn.append(item)
    return warn, expired


def _item_text(item: ContentItem, *, expired: bool) -> str:
    return rights_text(title=item.title, creator=item.creator_name, day=item.rights_expire_on, expired=expired)


def _claim(items: list[ContentItem], field: str) -> list[ContentItem]:
    """The items still not done for their date, re-read under a row lock (a concurrent run has claimed the rest)."""
    ids = [item.pk for item in items]
    fresh = set(
        ContentItem.objects.select_for_update()
        .filter(pk__in=ids, state=ContentState.LIVE)
        .filter(_not_done_for(field))
        .values_list("pk", "rights_expire_on")
    )
    return [item for item in items if (item.pk, item.rights_expire_on) in fresh]


def _by_campaign(items: list[ContentItem]) -> dict[int, list[ContentItem]]:
    grouped: dict[int, list[ContentItem]] = {}
    for item in items:
        grouped.setdefault(item.campaign_id, []).append(item)
    return grouped


def _campaign_url(pks: list[int], *, winddown: bool) -> str:
    if len(pks) != 1:
        return reverse("home")
    return reverse("campaigns:winddown" if winddown else "campaigns:detail", args=[pks[0]])


def content_rights_warn(*, items: list[ContentItem]) -> list[int]:
    """Tell the owner, watchers and managers about items whose rights expire within their account's lead time:
    one notification per recipient listing their items, and each item marked warned for its date in the same
    transaction (a retried run finds nothing to say). Returns the item ids warned about."""
    with transaction.atomic():
        items = _claim(items, "rights_warned_for")
        if not items:
            return []
        grouped = _by_campaign(items)

        def render(pks):
            shown = [item for pk in pks for item in grouped[pk]]
            if len(shown) == 1:
                item = shown[0]
                title = f"Usage rights of “{item.title}” expire on {day_text(item.rights_expire_on)}"
            else:
                title = f"Usage rights of {counted(len(shown), 'content item')} expire soon"
            lines = [f"• {_item_text(item, expired=False)}: {item.campaign.name}" for item in shown]
            body = "\n".join(
                [
                    *lines,
                    "",
                    "Renew the rights with the creator (then change the date in Closeout), or plan to take the "
                    "content down. On the day, Closeout takes it out of the campaign.",
                ]
            )
            return title, body, _campaign_url(pks, winddown=False)

        first = items[0]
        notifications_create(
            campaign_ids=list(grouped),
            kind=NotificationKind.RIGHTS_EXPIRING,
            dedupe_key=f"rights-expiring:{first.pk}:{first.rights_expire_on.isoformat()}:{len(items)}",
            render=render,
            include_managers=True,
        )
        ContentItem.objects.filter(pk__in=[item.pk for item in items]).update(rights_warned_for=F("rights_expire_on"))
    return [item.pk for item in items]


def _why_kept_running(campaign: Campaign, *, others_live: bool) -> str:
    account = campaign.account
    if campaign.status != Status.ACTIVE:
        return f"“{campaign.name}” is {campaign.get_status_display().lower()}: take the content down."
    if others_live:
        return f"Other content of “{campaign.name}” is still live, so it keeps running: take this content down."
    if account.rights_expiry_action == RightsExpiryAction.NOTIFY:
        return f"{account.name} is set to notify only: take the content down, or pause “{campaign.name}”."
    return f"{account.name} has no platform connection: take the content down, or pause “{campaign.name}”."


def content_rights_expire(*, items: list[ContentItem], now: dt.datetime) -> RightsRun:
    """Take out the items whose rights expired (see the module docstring): open their wind-down step, pause the
    campaigns whose only live content they were (connected accounts set to "pause"), tell the team about the
    rest, and mark each item done for its date, all in one transaction with the campaigns locked. Returns what
    it did."""
    run = RightsRun()
    campaign_ids = sorted({item.campaign_id for item in items})
    if not campaign_ids:
        return run
    with transaction.atomic():
        # The campaigns first, in primary-key order (as `campaigns_transition` locks them), then the items.
        list(Campaign.objects.select_for_update().filter(pk__in=campaign_ids).order_by("pk").values_list("pk"))
        items = _claim(items, "rights_expired_for")
        if not items:
            return run
        grouped = _by_campaign(items)
        campaigns = {
            c.pk: c
            for c in Campaign.objects.filter(pk__in=list(grouped), status__in=RIGHTS_LIVE_STATUSES).select_related(
                "account"
            )
        }
        grouped = {pk: group for pk, group in grouped.items() if pk in campaigns}
        items = [item for group in grouped.values() for item in group]
        if not items:
            return run
        reasons = {pk: {item.pk: _item_text(item, expired=True) for item in group} for pk, group in grouped.items()}
        winddown_content_steps_open(reasons=reasons, source=Source.RIGHTS)
        ContentItem.objects.filter(pk__in=[item.pk for item in items]).update(rights_expired_for=F("rights_expire_on"))
        # Other live content: items not expired in their account's day (no date, or a date still ahead).
        others_live = set()
        for pk, expire_on in (
            ContentItem.objects.filter(campaign_id__in=list(grouped), state=ContentState.LIVE)
            .exclude(pk__in=[item.pk for item in items])
            .values_list("campaign_id", "rights_expire_on")
        ):
            if expire_on is None or expire_on > today_in(campaigns[pk].account, now=now):
                others_live.add(pk)
        to_pause = [
            pk
            for pk, c in campaigns.items()
            if pk not in others_live
            and c.status == Status.ACTIVE
            and c.account.is_connected
            and c.account.rights_expiry_action == RightsExpiryAction.PAUSE
        ]
        if to_pause:
            result = campaigns_transition(
                campaign_ids=to_pause,
                action=Action.PAUSE,
                actor=None,
                source=Source.RIGHTS,
                enforce_role=False,
                only_from=frozenset({Status.ACTIVE}),
                details={pk: {"rights_reason": list(reasons[pk].values())} for pk in to_pause},
            )
            run.paused = result.changed_ids
        to_tell = [pk for pk in sorted(grouped) if pk not in run.paused]
        if to_tell:
            why = {pk: _why_kept_running(campaigns[pk], others_live=pk in others_live) for pk in to_tell}

            def render(pks):
                shown = [item for pk in pks for item in grouped[pk]]
                if len(shown) == 1:
                    title = f"Usage rights of “{shown[0].title}” expired: take it down"
                else:
                    title = f"Usage rights of {counted(len(shown), 'content item')} expired: take them down"
                lines = []
                for pk in pks:
                    lines += [f"• {_item_text(item, expired=True)}" for item in grouped[pk]]
                    lines.append(f"  {why[pk]}")
                body = "\n".join([*lines, "", "The wind-down step “content removed” is open for it."])
                return title, body, _campaign_url(pks, winddown=True)

            first = items[0]
            notifications_create(
                campaign_ids=to_tell,
                kind=NotificationKind.RIGHTS_EXPIRED,
                dedupe_key=f"rights-expired:{first.pk}:{first.rights_expire_on.isoformat()}:{len(items)}",
                render=render,
                include_managers=True,
            )
            run.notified = to_tell
        run.expired = [item.pk for item in items]
    return run


def content_rights_run(*, now: dt.datetime | None = None) -> RightsRun:
    """The hourly job: warn about the items due a warning, then take out the expired ones. Idempotent."""
    now = now or timezone.now()
    warn, expired = content_rights_due(now=now)
    run = content_rights_expire(items=expired, now=now)
    run.warned = content_rights_warn(items=warn) if warn else []
    return run
