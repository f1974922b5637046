"""Creating and editing campaigns by hand; the account's ICS feed secret."""

import hashlib
import secrets

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from ..models import (
    Action,
    Campaign,
    Source,
)
from .errors import CampaignError
from .history import history_record


def _history_value(value) -> object:
    if value is None or isinstance(value, bool | int | str):
        return value
    return str(value)


def campaign_create(
    *,
    account,
    actor: AbstractBaseUser,
    values: dict,
    content_formset=None,
    planned_from: Campaign | None = None,
    plan: dict | None = None,
) -> Campaign:
    """Create a campaign by hand (accounts without a platform connection; the caller checked the manager role).
    Saves the content items of `content_formset` (bound to the new campaign) and records the creation.

    `planned_from` (a campaign of the same account) and `plan` (what was carried over from it, see
    `reports.services.plan_next`) make it the next campaign of that one: the history says "Planned from …".
    Raises CampaignError for a `planned_from` of another account."""
    if planned_from is not None and planned_from.account_id != account.pk:
        raise CampaignError("A campaign is planned from a campaign of its own account.")
    details = {"created": True}
    if planned_from is not None:
        details["planned_from"] = {"id": planned_from.pk, "name": planned_from.name}
    with transaction.atomic():
        campaign = Campaign.objects.create(
            account=account, owner=actor, planned_from=planned_from, plan=plan or {}, **values
        )
        content = _content_formset_save(campaign=campaign, formset=content_formset)
        history_record(
            campaign=campaign,
            action=Action.EDIT,
            actor=actor,
            source=Source.UI,
            details={**details, **content},
        )
    return campaign


def campaign_edit(*, campaign: Campaign, actor: AbstractBaseUser, values: dict, content_formset=None) -> list[str]:
    """Apply edited fields (never the status: that moves only through `campaigns_transition`) and content items,
    and record one EDIT history entry listing each changed field as [old, new]. A campaign that `needs_details`
    (created by an import) stops asking for them once it has a budget. Returns the changed field names; an edit
    that changes nothing writes nothing."""
    forbidden = {"status", "sync_state", "ended_at", "end_reason", "account", "account_id"} & set(values)
    if forbidden:
        raise CampaignError(f"These fields cannot be edited here: {', '.join(sorted(forbidden))}.")
    with transaction.atomic():
        locked = Campaign.objects.select_for_update(of=("self",)).get(pk=campaign.pk)
        changed = {
            name: [_history_value(getattr(locked, name)), _history_value(value)]
            for name, value in values.items()
            if getattr(locked, name) != value
        }
        for name in changed:
            setattr(locked, name, values[name])
        if locked.needs_details and locked.budget_amount > 0:
            # An imported campaign got its details from a manager: it no longer asks for them.
            locked.needs_details = False
            changed["needs_details"] = [True, False]
        if changed:
            locked.save(update_fields=[*changed, "updated_at"])
        content = _content_formset_save(campaign=locked, formset=content_formset)
        if changed or content:
            history_record(
                campaign=locked,
                action=Action.EDIT,
                actor=actor,
                source=Source.UI,
                details={"changed": changed, **content},
            )
    for name in changed:
        setattr(campaign, name, values[name] if name in values else getattr(locked, name))
    return list(changed) + (["content_items"] if content else [])


def _content_formset_save(*, campaign: Campaign, formset) -> dict:
    if formset is None:
        return {}
    formset.instance = campaign
    formset.save()
    content = {}
    if formset.new_objects:
        content["content_added"] = [item.title for item in formset.new_objects]
    if formset.changed_objects:
        content["content_changed"] = {item.title: fields for item, fields in formset.changed_objects}
    if formset.deleted_objects:
        content["content_removed"] = [item.title for item in formset.deleted_objects]
    return content


def ics_token_create(*, account, actor: AbstractBaseUser) -> str:
    """Publish (or rotate) the account's ICS feed. Returns the new secret once; only its sha256 is stored,
    so an old URL stops working at once."""
    token = secrets.token_urlsafe(32)
    account.ics_token_hash = hashlib.sha256(token.encode()).hexdigest()
    account.save(update_fields=["ics_token_hash"])
    return token


def ics_token_revoke(*, account, actor: AbstractBaseUser) -> None:
    account.ics_token_hash = ""
    account.save(update_fields=["ics_token_hash"])
