"""Feedback on a report: left through a share link or by a member, moderated by managers, summarised by role;
and "request feedback", a feedback link for one group with a ready (optionally mailed) invitation."""

import base64
import datetime as dt
import hashlib
import re

from cryptography.fernet import Fernet
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Count, Q, Sum
from django.utils import timezone

from .. import tasks
from ..models import CloseReport, Feedback, FeedbackRole, ShareLink, ShareLinkEventKind
from .errors import ReportError
from .sharing import share_event, share_link_create, share_url

FEEDBACK_REQUEST_MAX_EMAILS = 50
FEEDBACK_COMMENTS_SHOWN = 50
EMAIL_SPLIT = re.compile(r"[\s,;]+")


def feedback_create(
    *,
    report: CloseReport,
    link: ShareLink | None,
    author: AbstractBaseUser | None,
    role: str,
    rating: int,
    would_take_part_again: bool,
    name: str = "",
    what_worked: str = "",
    what_to_improve: str = "",
    comment: str = "",
) -> Feedback:
    """Store one piece of feedback. Through a link, the link must be active and allow feedback (re-checked here,
    not only when the form was shown): otherwise ReportError."""
    if link is not None:
        current = ShareLink.objects.filter(pk=link.pk).only("revoked_at", "expires_at", "allow_feedback").first()
        if current is None or not current.is_active(timezone.now()) or not current.allow_feedback:
            raise ReportError("This link no longer accepts feedback.")
    if role not in FeedbackRole.values or not 1 <= int(rating) <= 5:
        raise ReportError("Choose a role and a rating from 1 to 5.")
    return Feedback.objects.create(
        report=report,
        link=link,
        author=author,
        role=role,
        name=name.strip(),
        rating=int(rating),
        would_take_part_again=would_take_part_again,
        what_worked=what_worked.strip(),
        what_to_improve=what_to_improve.strip(),
        comment=comment.strip(),
    )


def feedback_set_hidden(*, feedback: Feedback, actor: AbstractBaseUser | None, hidden: bool) -> bool:
    """Hide (or show again) one piece of feedback; records who and when. True if it changed."""
    if hidden:
        changed = Feedback.objects.filter(pk=feedback.pk, hidden_at__isnull=True).update(
            hidden_at=timezone.now(), hidden_by=actor
        )
    else:
        shown = Feedback.objects.filter(pk=feedback.pk, hidden_at__isnull=False)
        changed = shown.update(hidden_at=None, hidden_by=None)
    feedback.refresh_from_db(fields=["hidden_at", "hidden_by"])
    return bool(changed)


def feedback_none() -> dict:
    """What `feedback_summary` returns for a report without feedback, with no query."""
    return {"roles": [], "total": 0, "comments": [], "by_recipient": {}}


def feedback_summary(*, report: CloseReport, include_hidden: bool) -> dict:
    """Visible feedback aggregated by role (count, average rating, would-take-part-again %), the newest comments
    (hidden ones too when `include_hidden`, for moderators) and `by_recipient`, {report recipient id: how much
    feedback came through their personal link, hidden included} for the delivery panel. Two queries: the
    counts by role and by recipient are one grouped query."""
    labels = dict(FeedbackRole.choices)
    visible = Q(hidden_at__isnull=True)
    grouped = (
        Feedback.objects.filter(report=report)
        .values("role", "link__recipient")
        .annotate(
            every=Count("id"),
            n=Count("id", filter=visible),
            rating=Sum("rating", filter=visible),
            again=Count("id", filter=visible & Q(would_take_part_again=True)),
        )
    )
    by_role, by_recipient = {}, {}
    for row in grouped:
        totals = by_role.setdefault(row["role"], {"n": 0, "rating": 0, "again": 0})
        for key in totals:
            totals[key] += row[key] or 0
        if row["link__recipient"] is not None:
            by_recipient[row["link__recipient"]] = by_recipient.get(row["link__recipient"], 0) + row["every"]
    roles = []
    for value in FeedbackRole.values:
        row = by_role.get(value)
        if row and row["n"]:
            roles.append(
                {
                    "role": value,
                    "label": labels[value],
                    "count": row["n"],
                    "average": f"{row['rating'] / row['n']:.1f}",
                    "again_pct": round(100 * row["again"] / row["n"]),
                }
            )
    comments = Feedback.objects.filter(report=report).exclude(what_worked="", what_to_improve="", comment="")
    if not include_hidden:
        comments = comments.filter(hidden_at__isnull=True)
    comments = comments.select_related("hidden_by", "author").order_by("-created_at", "-id")
    comments = list(comments[:FEEDBACK_COMMENTS_SHOWN])
    return {
        "roles": roles,
        "total": sum(r["count"] for r in roles),
        "comments": comments,
        "by_recipient": by_recipient,
    }


def invitation_text(*, report: CloseReport, role: str, url: str, expires_at: dt.datetime | None) -> str:
    role_label = dict(FeedbackRole.choices).get(role, "stakeholder").lower()
    until = f" The link works until {expires_at:%-d %B %Y}." if expires_at else ""
    return (
        f"Hello,\n\n“{report.campaign_name}” has ended, and as a {role_label} your view matters to us. "
        f"The results are here, with a short feedback form (two minutes, no account needed):\n\n{url}\n\n"
        f"Thank you!{until}\n"
    )


def feedback_request(
    *,
    report: CloseReport,
    actor: AbstractBaseUser | None,
    role: str,
    label: str,
    emails: list[str],
    expires_at: dt.datetime | None = None,
) -> tuple[ShareLink, str, str]:
    """A feedback-enabled link for `role` and a ready invitation; if `emails` are given, the invitation is mailed
    by the task worker once this transaction commits. Returns (link, secret, invitation text)."""
    if len(emails) > FEEDBACK_REQUEST_MAX_EMAILS:
        raise ReportError(f"At most {FEEDBACK_REQUEST_MAX_EMAILS} addresses at once.")
    with transaction.atomic():
        link, secret = share_link_create(
            report=report,
            actor=actor,
            label=label or f"Feedback from {dict(FeedbackRole.choices)[role].lower()}s",
            expires_at=expires_at,
            allow_feedback=True,
            feedback_role=role,
        )
        text = invitation_text(report=report, role=role, url=share_url(secret), expires_at=expires_at)
        if emails:
            share_event(link, ShareLinkEventKind.INVITED, actor, note=f"{len(emails)} address(es)")
            sealed = invitation_seal(text)
            subject = f"Your feedback on “{report.campaign_name}”"
            transaction.on_commit(
                lambda: tasks.feedback_invitations_send.enqueue(emails=emails, subject=subject, sealed_body=sealed)
            )
    return link, secret, text


def _fernet() -> Fernet:
    key = hashlib.sha256(f"closeout.share.invitation:{settings.SECRET_KEY}".encode()).digest()
    return Fernet(base64.urlsafe_b64encode(key))


def invitation_seal(text: str) -> str:
    """Encrypt an invitation (it holds a working link) for the task queue, which lives in the database."""
    return _fernet().encrypt(text.encode()).decode()


def invitation_open(sealed: str) -> str:
    return _fernet().decrypt(sealed.encode()).decode()
