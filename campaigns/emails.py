"""Notification emails: the message built from templates/notifications/email/ (who is told, and when, is decided
in services/notifications.py; this module only renders)."""

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse

from .models import Notification


def absolute_url(path: str) -> str:
    if not path or path.startswith(("http://", "https://")):
        return path
    return settings.CLOSEOUT_PUBLIC_BASE_URL.rstrip("/") + path


def notification_email_message(*, notification: Notification) -> EmailMultiAlternatives:
    """A plain-text email with an HTML alternative, both rendered from templates/notifications/email/."""
    context = {
        "notification": notification,
        "recipient": notification.recipient,
        "url": absolute_url(notification.url),
        "preferences_url": absolute_url(reverse("campaigns:notification_preferences")),
        "notifications_url": absolute_url(reverse("campaigns:notifications")),
    }
    text = render_to_string("notifications/email/notification.txt", context)
    html = render_to_string("notifications/email/notification.html", context)
    message = EmailMultiAlternatives(
        subject=f"[Closeout] {notification.title}",
        body=text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[notification.recipient.email],
        headers={"Auto-Submitted": "auto-generated"},
    )
    message.attach_alternative(html, "text/html")
    return message
