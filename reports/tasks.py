"""Background work of the reports app (django.tasks; ImmediateBackend in tests)."""

from django.tasks import task

from . import services


@task
def close_reports_build(campaign_ids: list[int]) -> int:
    """Freeze the close reports of these ended campaigns. Safe to run twice: existing reports are left alone."""
    return len(services.reports_create(campaign_ids=campaign_ids))


# --- Sharing and feedback (issue 5) ---


@task
def feedback_invitations_send(emails: list[str], subject: str, sealed_body: str) -> int:
    """Mail a feedback invitation to each address (one message each: recipients do not see each other). The body
    arrives encrypted because task arguments are stored in the database and it holds a working link."""
    from django.core.mail import EmailMessage

    body = services.invitation_open(sealed_body)
    return sum(EmailMessage(subject=subject, body=body, to=[address]).send() for address in emails)
