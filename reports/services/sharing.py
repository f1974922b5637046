"""Share links: a secret link to one report for people without an account, and the counting of its views.

Links carry a random secret of SHARE_SECRET_BYTES bytes; only its sha256 is stored (unique index), so a database
dump reveals no working link. The public views resolve a secret with `share_link_for_secret`, which answers None
alike for unknown, revoked and expired links (no oracle). What a link shows is decided by its options (fields of
`ShareLink`); `reports.public_cache` keys the cached page by all of them."""

import datetime as dt
import hashlib
import hmac
import secrets
from collections.abc import Iterable

from django.conf import settings
from django.contrib.auth.hashers import check_password, make_password
from django.contrib.auth.models import AbstractBaseUser
from django.core import signing
from django.db import transaction
from django.db.models import Case, F, Value, When
from django.urls import reverse
from django.utils import timezone

from ..models import CloseReport, ShareLink, ShareLinkEvent, ShareLinkEventKind, ShareLinkView
from ..view_counter import ViewBuffer, user_agent_family
from .errors import ReportError

SHARE_SECRET_BYTES = 32  # 256 bits
SHARE_SECRET_MAX_LENGTH = 64
SHARE_UNLOCK_SECONDS = 60 * 60 * 24


def share_secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def share_url(secret: str) -> str:
    return settings.CLOSEOUT_PUBLIC_BASE_URL.rstrip("/") + reverse("share:page", args=[secret])


def _new_secret() -> tuple[str, str]:
    secret = secrets.token_urlsafe(SHARE_SECRET_BYTES)
    return secret, share_secret_hash(secret)


def share_event(link: ShareLink, kind: str, actor, note: str = "") -> None:
    """One row of the link's audit trail."""
    ShareLinkEvent.objects.create(link=link, kind=kind, actor=actor, note=note[:255])


def share_link_create(
    *,
    report: CloseReport,
    actor: AbstractBaseUser | None,
    label: str,
    expires_at: dt.datetime | None = None,
    password: str = "",
    allow_feedback: bool = True,
    show_team_notes: bool = False,
    feedback_role: str = "",
) -> tuple[ShareLink, str]:
    """A new link to `report`; returns (link, secret). The secret is not stored anywhere: show it now or never.
    Audited (a `created` event in the same transaction)."""
    secret, digest = _new_secret()
    now = timezone.now()
    with transaction.atomic():
        link = ShareLink.objects.create(
            report=report,
            label=label.strip()[:120],
            secret_hash=digest,
            expires_at=expires_at,
            password_hash=make_password(password) if password else "",
            allow_feedback=allow_feedback,
            show_team_notes=show_team_notes,
            feedback_role=feedback_role,
            created_by=actor,
            changed_at=now,
        )
        share_event(link, ShareLinkEventKind.CREATED, actor)
    return link, secret


def share_link_rotate(*, link: ShareLink, actor: AbstractBaseUser | None) -> str:
    """A new secret for the link; the old one stops working at once (as do password cookies made for it).
    Raises ReportError on a revoked link. Returns the new secret (shown once)."""
    secret, digest = _new_secret()
    with transaction.atomic():
        # Locked and re-read so a revoke racing with the rotate cannot be undone by it.
        locked = ShareLink.objects.select_for_update().get(pk=link.pk)
        if locked.revoked_at is not None:
            raise ReportError("This link was revoked; create a new one instead.")
        now = timezone.now()
        locked.secret_hash, locked.rotated_at, locked.rotated_by, locked.changed_at = digest, now, actor, now
        locked.save(update_fields=["secret_hash", "rotated_at", "rotated_by", "changed_at"])
        share_event(locked, ShareLinkEventKind.ROTATED, actor)
    link.secret_hash, link.rotated_at, link.rotated_by, link.changed_at = digest, now, actor, now
    return secret


def share_links_revoke(*, link_ids: Iterable[int], actor: AbstractBaseUser | None) -> int:
    """Revoke these links (already revoked ones are left alone, quietly); one UPDATE and one INSERT whatever
    the number. Returns how many were revoked now."""
    ids = list(link_ids)
    now = timezone.now()
    with transaction.atomic():
        # Locked and re-checked: a link revoked twice at once is revoked and audited once.
        active = ShareLink.objects.select_for_update().filter(pk__in=ids, revoked_at__isnull=True)
        pending = list(active.values_list("pk", flat=True))
        if not pending:
            return 0
        count = ShareLink.objects.filter(pk__in=pending, revoked_at__isnull=True).update(
            revoked_at=now, revoked_by=actor, changed_at=now
        )
        ShareLinkEvent.objects.bulk_create(
            [ShareLinkEvent(link_id=pk, kind=ShareLinkEventKind.REVOKED, actor=actor) for pk in pending]
        )
    return count


def share_link_revoke(*, link: ShareLink, actor: AbstractBaseUser | None) -> bool:
    """Revoke one link; True if it was active (a second click is a quiet no-op)."""
    done = share_links_revoke(link_ids=[link.pk], actor=actor) == 1
    link.refresh_from_db(fields=["revoked_at", "revoked_by", "changed_at"])
    return done


def share_link_for_secret(*, secret: str, now: dt.datetime | None = None) -> ShareLink | None:
    """The active link for this secret, with its report (snapshot deferred), the report's account and its branding
    (logo bytes deferred), or None: unknown, revoked and expired secrets are indistinguishable to the caller. One
    query."""
    if not secret or len(secret) > SHARE_SECRET_MAX_LENGTH:
        return None
    digest = share_secret_hash(secret)
    # secret_hash is unique: no ORDER BY (what .first() would add), one row.
    # The account's branding (issue 18) comes in the same query: the page and its ETag depend on it.
    found = (
        ShareLink.objects.select_related("report__account__branding")
        .defer("report__snapshot", "report__account__branding__logo_png")
        .filter(secret_hash=digest)
    )
    found = found.order_by()[:1]
    link = next(iter(found), None)
    # The index lookup already matched; compare again in constant time so no code path leaks timing on the hash.
    if link is None or not hmac.compare_digest(link.secret_hash, digest):
        return None
    return link if link.is_active(now or timezone.now()) else None


def _unlock_salt(link: ShareLink) -> str:
    # Bound to this link, its current secret and password: rotating or changing either kills old cookies.
    return f"closeout.share.unlock:{link.pk}:{link.secret_hash}:{link.password_hash}"


def share_unlock_token(*, link: ShareLink) -> str:
    return signing.dumps(link.pk, salt=_unlock_salt(link))


def share_unlock_valid(*, link: ShareLink, token: str | None) -> bool:
    if not token:
        return False
    try:
        return signing.loads(token, salt=_unlock_salt(link), max_age=SHARE_UNLOCK_SECONDS) == link.pk
    except signing.BadSignature:
        return False


def share_password_check(*, link: ShareLink, password: str) -> bool:
    return bool(link.password_hash) and check_password(password, link.password_hash)


def share_views_write(views: list[tuple[int, dt.datetime, str]]) -> None:
    """Write counted views [(link_id, when, agent)]: the rows, then each link's counters, in one transaction.
    Neither write touches `changed_at`, so counting does not invalidate the page's ETag."""
    if not views:
        return
    per_link: dict[int, tuple[int, dt.datetime]] = {}
    for link_id, when, _ in views:
        count, last = per_link.get(link_id, (0, when))
        per_link[link_id] = (count + 1, max(last, when))
    with transaction.atomic(savepoint=False):  # one commit for all (no savepoint when already in one)
        ShareLinkView.objects.bulk_create(
            ShareLinkView(link_id=link_id, viewed_at=when, agent=agent) for link_id, when, agent in views
        )
        for link_id, (count, last) in sorted(per_link.items()):
            ShareLink.objects.filter(pk=link_id).update(
                view_count=F("view_count") + count,
                last_viewed_at=Case(When(last_viewed_at__gt=last, then=F("last_viewed_at")), default=Value(last)),
            )


_view_buffer = ViewBuffer(write=share_views_write)


def share_view_record(*, link: ShareLink, user_agent: str) -> None:
    """Count one view of a shared page: a row with the time and browser family (no IP), and the link's counters.

    With `SHARE_VIEW_FLUSH_SECONDS` > 0 (the default outside tests) views are written behind, in batches: each
    worker process keeps the views of the last second in memory and writes them in one transaction (on a timer,
    when 100 are waiting, and when the process exits). A busy public page then costs one write a second instead
    of a write lock per visitor, which on SQLite serialised the workers. A process killed outright loses at most
    that second of counts; nothing else depends on them."""
    view = (link.pk, timezone.now(), user_agent_family(user_agent))
    if getattr(settings, "SHARE_VIEW_FLUSH_SECONDS", 0) <= 0:
        share_views_write([view])
    else:
        _view_buffer.add(view)
