"""Stakeholder delivery (issue 18): a report mailed to the people who need it, each with a personal share link.

- Recipients: an account's defaults (`AccountRecipient`, managed on the account's recipient page) are copied into
  a report's own list (`ReportRecipient`) when the report is delivered; managers add or remove people per report.
- Occasions: "close" (queued by `close_reports_build` once the snapshot is frozen), "final" (when the final report
  is made; `report_deliver(report=..., occasion="final")`), and "manual-N" (a manager's "Send now").
- Once: one `ReportDelivery` row per (recipient, occasion) under a unique constraint, claimed with a conditional
  UPDATE (`pending`/`failed` → `sending`) before the email goes; a retried or doubled task finds nothing to claim.
  A row left `sending` by a killed worker is not sent again (it may have gone): it shows as "Sending" on the panel
  and a manager can send by hand.
- Failures: recorded with why; retried with backoff up to DELIVERY_MAX_ATTEMPTS times (the reconciler picks up
  retries a backend cannot defer); a recipient the mail server refuses is `bounced` and not retried.
- Links: each recipient's share link is made at their first email and its secret sealed on their row
  (`feedback.invitation_seal`); task arguments hold ids only, never a link.
- Everything is audited (`DeliveryEvent`)."""

import datetime as dt
import smtplib
from collections.abc import Iterable
from email.headerregistry import Address
from email.utils import parseaddr

from cryptography.fernet import InvalidToken
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core import signing
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.text import slugify

from campaigns.models import AdAccount

from .. import metrics, presenters, tasks
from ..formatting import fmt_value
from ..models import (
    AccountRecipient,
    CloseReport,
    DeliveryEvent,
    DeliveryEventKind,
    DeliveryState,
    PdfAudience,
    RecipientRole,
    ReportDelivery,
    ReportRecipient,
)
from .branding import EmailWithInlineImages, branding_for_email
from .errors import ReportError
from .feedback import invitation_open, invitation_seal
from .pdf_store import report_pdf_bytes
from .sharing import share_link_create, share_link_revoke, share_url

DELIVERY_MAX_ATTEMPTS = 3
# Seconds to wait before attempt n+1 after attempt n failed.
DELIVERY_BACKOFF_SECONDS = (60, 600)
OCCASIONS = ("close", "final", "manual")
_UNSUBSCRIBE_SALT = "closeout.delivery.unsubscribe"


def _event(*, account_id: int, kind: str, actor=None, report_id=None, email: str = "", note: str = "") -> None:
    DeliveryEvent.objects.create(
        account_id=account_id, report_id=report_id, email=email, kind=kind, actor=actor, note=note[:255]
    )


def _unsubscribed(account_id: int, email: str) -> bool:
    return AccountRecipient.objects.filter(
        account_id=account_id, email__iexact=email, unsubscribed_at__isnull=False
    ).exists()


# Recipient lists ------------------------------------------------------------------------------------------------


def account_recipient_add(
    *,
    account: AdAccount,
    actor: AbstractBaseUser | None,
    email: str,
    name: str = "",
    role: str = RecipientRole.STAKEHOLDER,
) -> AccountRecipient:
    """Add a default recipient to the account (new reports of it are mailed to them). ReportError if the address
    is already there or unsubscribed. Audited."""
    email = email.strip().lower()
    found = AccountRecipient.objects.filter(account=account, email__iexact=email).first()
    if found is not None:
        if found.unsubscribed_at:
            raise ReportError(f"{email} unsubscribed from this account’s reports; Closeout will not mail it again.")
        raise ReportError(f"{email} is already on the list.")
    with transaction.atomic():
        try:
            with transaction.atomic():
                recipient = AccountRecipient.objects.create(account=account, email=email, name=name.strip(), role=role)
        except IntegrityError as exc:  # added at the same moment by someone else
            raise ReportError(f"{email} is already on the list.") from exc
        _event(account_id=account.pk, kind=DeliveryEventKind.RECIPIENT_ADDED, actor=actor, email=email, note=role)
    return recipient


def account_recipient_remove(*, recipient: AccountRecipient, actor: AbstractBaseUser | None) -> None:
    """Take a default recipient off the account's list (reports already mailed keep their own list). An
    unsubscribed address stays, so it is never added again by mistake."""
    with transaction.atomic():
        if recipient.unsubscribed_at is None:
            AccountRecipient.objects.filter(pk=recipient.pk).delete()
        _event(
            account_id=recipient.account_id,
            kind=DeliveryEventKind.RECIPIENT_REMOVED,
            actor=actor,
            email=recipient.email,
        )


def report_recipients_sync(*, report: CloseReport) -> None:
    """Copy the account's default recipients (not unsubscribed) into the report's list; people already on it
    (also those removed from this report) are left alone. One SELECT and one INSERT."""
    defaults = AccountRecipient.objects.filter(account_id=report.account_id, unsubscribed_at__isnull=True)
    ReportRecipient.objects.bulk_create(
        [ReportRecipient(report=report, email=r.email, name=r.name, role=r.role, from_account=True) for r in defaults],
        ignore_conflicts=True,
    )


def report_recipient_add(
    *,
    report: CloseReport,
    actor: AbstractBaseUser | None,
    email: str,
    name: str = "",
    role: str = RecipientRole.STAKEHOLDER,
) -> ReportRecipient:
    """Add someone to this report's list (or put back someone removed). ReportError if the address unsubscribed or
    is already on it. Audited."""
    email = email.strip().lower()
    if _unsubscribed(report.account_id, email):
        raise ReportError(f"{email} unsubscribed from this account’s reports; Closeout will not mail it again.")
    with transaction.atomic():
        report_recipients_sync(report=report)
        recipient = ReportRecipient.objects.select_for_update().filter(report=report, email__iexact=email).first()
        if recipient is None:
            recipient = ReportRecipient.objects.create(report=report, email=email, name=name.strip(), role=role)
        elif recipient.removed_at is None and recipient.unsubscribed_at is None:
            raise ReportError(f"{email} is already on this report’s list.")
        elif recipient.unsubscribed_at is not None:
            raise ReportError(f"{email} unsubscribed; Closeout will not mail it again.")
        else:
            recipient.removed_at, recipient.name, recipient.role = None, name.strip() or recipient.name, role
            # A removed recipient's link was revoked: the next email makes a new one.
            recipient.link, recipient.link_sealed = None, ""
            recipient.save(update_fields=["removed_at", "name", "role", "link", "link_sealed"])
        _event(
            account_id=report.account_id,
            report_id=report.pk,
            kind=DeliveryEventKind.RECIPIENT_ADDED,
            actor=actor,
            email=email,
            note=role,
        )
    return recipient


def report_recipient_remove(*, recipient: ReportRecipient, actor: AbstractBaseUser | None) -> bool:
    """Take someone off this report's list and revoke their personal link (the others keep working); emails not
    yet sent to them are not sent. True if they were on it. Audited."""
    with transaction.atomic():
        removed = ReportRecipient.objects.filter(pk=recipient.pk, removed_at__isnull=True).update(
            removed_at=timezone.now()
        )
        if not removed:
            return False
        if recipient.link_id:
            share_link_revoke(link=recipient.link, actor=actor)
        report = recipient.report
        _event(
            account_id=report.account_id,
            report_id=report.pk,
            kind=DeliveryEventKind.RECIPIENT_REMOVED,
            actor=actor,
            email=recipient.email,
        )
    return True


# Queuing --------------------------------------------------------------------------------------------------------


def _next_manual(report: CloseReport) -> str:
    used = ReportDelivery.objects.filter(report=report, occasion__startswith="manual-").values_list(
        "occasion", flat=True
    )
    numbers = [int(o.removeprefix("manual-")) for o in set(used) if o.removeprefix("manual-").isdigit()]
    return f"manual-{max(numbers, default=0) + 1}"


def report_deliver(*, report: CloseReport, occasion: str, actor: AbstractBaseUser | None = None) -> int:
    """Queue the report's email to everyone on its list for `occasion` ("close", "final" or "manual"; a manual
    send is numbered "manual-N"), sent by the task worker once this commits. Recipients removed, unsubscribed or
    whose link was revoked are left out; anyone already mailed on this occasion is not mailed again. Returns how
    many emails were queued now."""
    if occasion not in OCCASIONS:
        raise ValueError(f"Unknown delivery occasion {occasion!r}")
    with transaction.atomic():
        if occasion == "manual":
            occasion = _next_manual(report)
        report_recipients_sync(report=report)
        active = ReportRecipient.objects.filter(report=report, removed_at__isnull=True, unsubscribed_at__isnull=True)
        active = active.exclude(link__revoked_at__isnull=False).values_list("pk", flat=True)
        ReportDelivery.objects.bulk_create(
            [ReportDelivery(report=report, recipient_id=pk, occasion=occasion) for pk in active], ignore_conflicts=True
        )
        ids = list(
            ReportDelivery.objects.filter(report=report, occasion=occasion, state=DeliveryState.PENDING, attempts=0)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        if ids:
            _event(
                account_id=report.account_id,
                report_id=report.pk,
                kind=DeliveryEventKind.QUEUED,
                actor=actor,
                note=f"{occasion}: {len(ids)} recipient(s)",
            )
            transaction.on_commit(lambda: tasks.report_deliveries_send.enqueue(delivery_ids=ids), robust=True)
    return len(ids)


def reports_deliver_at_close(*, campaign_ids: Iterable[int]) -> int:
    """The "close" email of these campaigns' new reports, for accounts that have default recipients (one query
    finds them; reports of other accounts cost nothing more). Returns how many emails were queued."""
    with_recipients = AccountRecipient.objects.filter(unsubscribed_at__isnull=True).values("account_id")
    reports = CloseReport.objects.filter(campaign_id__in=list(campaign_ids), account_id__in=with_recipients)
    return sum(report_deliver(report=r, occasion="close") for r in reports.defer("snapshot").order_by("pk"))


# Sending --------------------------------------------------------------------------------------------------------


def unsubscribe_token(recipient: ReportRecipient) -> str:
    """An unguessable token per recipient (an HMAC of its id under SECRET_KEY); nothing is stored."""
    return signing.Signer(salt=_UNSUBSCRIBE_SALT).sign(str(recipient.pk))


def _public_url(path: str) -> str:
    return settings.CLOSEOUT_PUBLIC_BASE_URL.rstrip("/") + path


def _recipient_secret(recipient: ReportRecipient) -> str:
    """The recipient's personal link secret: made at their first email, then read back from its sealed copy."""
    with transaction.atomic():
        locked = ReportRecipient.objects.select_for_update(of=("self",)).select_related("link").get(pk=recipient.pk)
        if locked.link_id and locked.link_sealed:
            try:
                return invitation_open(locked.link_sealed)
            except InvalidToken:  # SECRET_KEY changed: the old link is unreadable, make a new one
                share_link_revoke(link=locked.link, actor=None)
        link, secret = share_link_create(
            report=locked.report,
            actor=None,
            label=f"Email: {locked.display_name}"[:120],
            allow_feedback=True,
            feedback_role=locked.role,
        )
        locked.link, locked.link_sealed = link, invitation_seal(secret)
        locked.save(update_fields=["link", "link_sealed"])
    recipient.link, recipient.link_sealed = link, locked.link_sealed
    return secret


def headline(snapshot: dict) -> dict:
    """The email's figures, from the frozen snapshot: spend (with its currency), views, followers gained, and each
    KPI target met or missed."""
    currency = snapshot["campaign"]["currency"]

    def figure(key):
        m = metrics.metric(key)
        return {"label": m.label, "value": m.format(metrics.snapshot_value(snapshot, key), currency)}

    targets = [
        {
            "label": t["label"],
            "met": t["met"],
            "actual": fmt_value(t["actual"], t["unit"], currency),
            "target": fmt_value(t["target"], t["unit"], currency),
        }
        for t in snapshot["targets"]
    ]
    return {
        "figures": [figure("spend"), figure("video_views"), figure("follows")],
        "targets": targets,
        "targets_met": sum(1 for t in targets if t["met"]),
    }


def delivery_envelope(*, branding: dict | None, final: bool, campaign_name: str) -> tuple[str, str]:
    """(subject, From) of a delivery email. With the account's branding the agency's name is the sender's name
    ("Acme Agency via Closeout") and leads the subject; the address stays DEFAULT_FROM_EMAIL's, the one the
    mail domain is set up to send from (SPF/DKIM), so branding never makes the mail look forged."""
    what = "Final report" if final else "Report"
    if branding is None:
        return f"{what}: {campaign_name}", settings.DEFAULT_FROM_EMAIL
    name = branding["name"]  # one line, at most 80 characters (account_branding_save)
    own_name, address = parseaddr(settings.DEFAULT_FROM_EMAIL)
    sender = str(Address(display_name=f"{name} via {own_name or 'Closeout'}", addr_spec=address))  # quoted as needed
    return f"{name} · {what}: {campaign_name}", sender


def delivery_message(*, delivery: ReportDelivery, report: CloseReport, secret: str, pdf: bytes | None):
    """The email: a plain-text and an HTML body with the headline figures, the recipient's personal link, the PDF
    attached when it is at most REPORT_EMAIL_ATTACH_MAX_BYTES (else a link to it), and an unsubscribe link; in the
    account's branding when it has one (name, colours and footer; the logo attached inline)."""
    recipient = delivery.recipient
    attach = pdf is not None and len(pdf) <= settings.REPORT_EMAIL_ATTACH_MAX_BYTES
    branding, logo_png = branding_for_email(account_id=report.account_id)  # issue 18: the account's, not ours
    context = {
        "branding": branding,
        "report": report,
        "recipient": recipient,
        "role": recipient.get_role_display().lower(),
        "final": delivery.occasion == "final",
        "headline": headline(report.snapshot),
        # Once the figures are final (issue 15 §4), what moved since close.
        "final_figures": presenters.final_figures(
            report=report,
            frozen_totals=report.snapshot["totals"],
            currency=report.snapshot["campaign"]["currency"],
            zone=report.snapshot["campaign"].get("timezone"),
        ),
        "url": share_url(secret),
        "pdf_url": _public_url(reverse("share:pdf", args=[secret])),
        "attached": attach,
        "unsubscribe_url": _public_url(reverse("report_unsubscribe", args=[unsubscribe_token(recipient)])),
    }
    subject, from_email = delivery_envelope(
        branding=branding, final=context["final"], campaign_name=report.campaign_name
    )
    message: EmailMultiAlternatives = EmailWithInlineImages(
        subject=subject,
        from_email=from_email,
        body=render_to_string("reports/emails/report_delivery.txt", context),
        to=[recipient.email],
        headers={"List-Unsubscribe": f"<{context['unsubscribe_url']}>"},
    )
    message.attach_alternative(render_to_string("reports/emails/report_delivery.html", context), "text/html")
    if logo_png:
        message.inline_images = ((logo_png, branding["logo_cid"]),)
    if attach:
        message.attach(f"{slugify(report.campaign_name)[:60] or 'campaign'}-report.pdf", pdf, "application/pdf")
    return message, attach


def _finish(delivery_id: int, **fields) -> None:
    ReportDelivery.objects.filter(pk=delivery_id, state=DeliveryState.SENDING).update(**fields)


def delivery_send(*, delivery_id: int, pdfs: dict | None = None) -> str:
    """Send one delivery if it can be claimed (`pending`, or `failed` with attempts left); returns its state
    afterwards, or "" when there was nothing to claim (already sent, in flight, or given up). `pdfs` caches the
    report's PDF between the recipients of one run."""
    pdfs = {} if pdfs is None else pdfs
    now = timezone.now()
    claimable = Q(state=DeliveryState.PENDING) | Q(state=DeliveryState.FAILED, attempts__lt=DELIVERY_MAX_ATTEMPTS)
    claimed = ReportDelivery.objects.filter(claimable, pk=delivery_id).update(
        state=DeliveryState.SENDING, attempts=F("attempts") + 1, claimed_at=now
    )
    if not claimed:
        return ""
    delivery = ReportDelivery.objects.select_related("recipient__link", "report").get(pk=delivery_id)
    recipient, report = delivery.recipient, delivery.report
    event = {"account_id": report.account_id, "report_id": report.pk, "email": recipient.email}
    link_revoked = recipient.link is not None and recipient.link.revoked_at is not None
    if (
        recipient.removed_at
        or recipient.unsubscribed_at
        or link_revoked
        or _unsubscribed(report.account_id, recipient.email)
    ):
        _finish(delivery_id, state=DeliveryState.SKIPPED, error="Removed, unsubscribed or link revoked before sending.")
        return DeliveryState.SKIPPED
    try:
        secret = _recipient_secret(recipient)
        if report.pk not in pdfs:
            pdfs[report.pk] = report_pdf_bytes(report=report, audience=PdfAudience.PUBLIC)
        message, attached = delivery_message(delivery=delivery, report=report, secret=secret, pdf=pdfs[report.pk])
        message.send()
    except smtplib.SMTPRecipientsRefused as exc:
        why = f"Refused by the mail server: {exc.recipients}"[:255]
        _finish(delivery_id, state=DeliveryState.BOUNCED, error=why)
        _event(kind=DeliveryEventKind.BOUNCED, note=why, **event)
        return DeliveryState.BOUNCED
    except Exception as exc:  # noqa: BLE001 - any failure is recorded with why and retried
        why = f"{type(exc).__name__}: {exc}"[:255]
        _finish(delivery_id, state=DeliveryState.FAILED, error=why)
        _event(kind=DeliveryEventKind.FAILED, note=f"attempt {delivery.attempts}: {why}", **event)
        if delivery.attempts < DELIVERY_MAX_ATTEMPTS:
            _retry_later(delivery_id, delivery.attempts, event)
        return DeliveryState.FAILED
    _finish(delivery_id, state=DeliveryState.SENT, sent_at=timezone.now(), error="", pdf_attached=attached)
    _event(kind=DeliveryEventKind.SENT, note=f"{delivery.occasion}, attempt {delivery.attempts}", **event)
    return DeliveryState.SENT


def _retry_later(delivery_id: int, attempts: int, event: dict) -> None:
    """Queue the next attempt after its backoff, where the backend can defer; otherwise the reconciler's
    `report_deliveries_due` check queues it once the backoff has passed."""
    wait = DELIVERY_BACKOFF_SECONDS[min(attempts, len(DELIVERY_BACKOFF_SECONDS)) - 1]
    _event(kind=DeliveryEventKind.RETRIED, note=f"in {wait} s", **event)
    task = tasks.report_deliveries_send
    if task.get_backend().supports_defer:
        task.using(run_after=timezone.now() + dt.timedelta(seconds=wait)).enqueue(delivery_ids=[delivery_id])


def report_deliveries_send(*, delivery_ids: Iterable[int]) -> int:
    """Send these deliveries (each claimed first, so a second run sends nothing). Returns how many were sent."""
    pdfs: dict = {}
    return sum(delivery_send(delivery_id=pk, pdfs=pdfs) == DeliveryState.SENT for pk in delivery_ids)


def report_deliveries_due(*, now: dt.datetime) -> list[int]:
    """Failed deliveries with attempts left whose backoff has passed (for the reconciler)."""
    longest = dt.timedelta(seconds=max(DELIVERY_BACKOFF_SECONDS))
    return list(
        ReportDelivery.objects.filter(
            state=DeliveryState.FAILED, attempts__lt=DELIVERY_MAX_ATTEMPTS, claimed_at__lte=now - longest
        ).values_list("pk", flat=True)[:1000]
    )


# Unsubscribing --------------------------------------------------------------------------------------------------


def recipient_for_unsubscribe_token(*, token: str) -> ReportRecipient | None:
    try:
        pk = int(signing.Signer(salt=_UNSUBSCRIBE_SALT).unsign(token))
    except (signing.BadSignature, ValueError):
        return None
    return ReportRecipient.objects.select_related("report").defer("report__snapshot").filter(pk=pk).first()


def recipient_unsubscribe(*, recipient: ReportRecipient) -> bool:
    """Stop mailing this address any report of the account: this report's row, every other report's row and the
    account's default list are marked; emails not yet sent are skipped. True if it was subscribed. Audited."""
    account_id, email, now = recipient.report.account_id, recipient.email, timezone.now()
    with transaction.atomic():
        changed = ReportRecipient.objects.filter(
            report__account_id=account_id, email__iexact=email, unsubscribed_at__isnull=True
        ).update(unsubscribed_at=now)
        account_row = AccountRecipient.objects.filter(account_id=account_id, email__iexact=email)
        if account_row.exists():
            changed += account_row.filter(unsubscribed_at__isnull=True).update(unsubscribed_at=now)
        else:
            AccountRecipient.objects.create(
                account_id=account_id, email=email, name=recipient.name, unsubscribed_at=now
            )
            changed += 1
        if changed:
            _event(
                account_id=account_id, report_id=recipient.report_id, kind=DeliveryEventKind.UNSUBSCRIBED, email=email
            )
    return bool(changed)
