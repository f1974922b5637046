"""Stakeholder delivery (issue 18): the report emailed at close, at the final report and by hand, with the
headline figures, the PDF (or a link), a personal link and an unsubscribe link per recipient; delivery state per
recipient; nothing sent twice by a retry."""

import re
import smtplib
from types import SimpleNamespace

import pytest
from django.core import mail
from django.core.cache import cache
from django.urls import reverse

from reports import services
from reports.models import (
    AccountRecipient,
    DeliveryEvent,
    DeliveryState,
    ReportDelivery,
    ReportRecipient,
)
from reports.tasks import report_deliveries_send

from .conftest import campaign_end, metrics_generate

pytestmark = pytest.mark.django_db

LINK = re.compile(r"https?://[^\s\"<>]+/s/[A-Za-z0-9_-]+/")
UNSUBSCRIBE = re.compile(r"https?://[^\s\"<>]+/unsubscribe/[^\s\"<>]+/")


@pytest.fixture(autouse=True)
def _clear_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def stakeholders(account, manager):
    services.account_recipient_add(account=account, actor=manager, email="Ana@Client.example", name="Ana")
    services.account_recipient_add(account=account, actor=manager, email="ben@client.example", role="influencer")


@pytest.fixture
def delivered(campaign, manager, stakeholders, django_capture_on_commit_callbacks):
    """The fixture campaign (with a views target) ended with two default recipients: the close email is sent."""
    campaign.target_views = 10**9  # missed
    campaign.save(update_fields=["target_views"])
    metrics_generate(campaign, days=7)
    with django_capture_on_commit_callbacks(execute=True):
        campaign_end(campaign, manager)
    campaign.refresh_from_db()
    return campaign, campaign.close_report


@pytest.fixture
def deliver(django_capture_on_commit_callbacks):
    """`services.report_deliver`, with the send its commit queues run (tests run in one transaction)."""

    def _deliver(report, occasion):
        with django_capture_on_commit_callbacks(execute=True):
            return services.report_deliver(report=report, occasion=occasion)

    return _deliver


def _outbox_to(email):
    return [m for m in mail.outbox if m.to == [email]]


def _link_in(message):
    return LINK.search(message.body).group(0)


def test_ending_a_campaign_emails_each_default_recipient_once_with_figures_pdf_and_links(delivered):
    campaign, report = delivered
    assert sorted(m.to[0] for m in mail.outbox) == ["ana@client.example", "ben@client.example"]
    message = _outbox_to("ana@client.example")[0]
    assert message.subject == f"Report: {report.campaign_name}"
    spend = services.delivery.headline(report.snapshot)["figures"][0]["value"]
    assert spend.startswith(campaign.account.currency) and spend in message.body  # money with its currency
    assert "Video views" in message.body and "Followers gained" in message.body
    assert "KPIs met: 0 of 1" in message.body and "missed" in message.body
    html, mimetype = message.alternatives[0]
    assert mimetype == "text/html" and spend in html and "Open the full report" in html
    assert _link_in(message) in html
    ((name, content, kind),) = message.attachments
    assert kind == "application/pdf" and content.startswith(b"%PDF") and name.endswith(".pdf")
    assert UNSUBSCRIBE.search(message.body) and "List-Unsubscribe" in message.extra_headers
    states = set(ReportDelivery.objects.filter(report=report).values_list("occasion", "state"))
    assert states == {("close", DeliveryState.SENT)}
    assert ReportDelivery.objects.get(recipient__email="ana@client.example").pdf_attached is True


def test_a_large_pdf_is_linked_instead_of_attached(
    campaign, manager, stakeholders, settings, django_capture_on_commit_callbacks
):
    settings.REPORT_EMAIL_ATTACH_MAX_BYTES = 100
    metrics_generate(campaign, days=3)
    with django_capture_on_commit_callbacks(execute=True):
        campaign_end(campaign, manager)
    message = _outbox_to("ana@client.example")[0]
    assert message.attachments == []
    link = _link_in(message)
    assert f"The PDF: {link}report.pdf" in message.body
    assert ReportDelivery.objects.get(recipient__email="ana@client.example").pdf_attached is False


def test_each_recipient_has_a_personal_link_and_revoking_one_leaves_the_other_working(delivered, client, manager):
    _, report = delivered
    ana, ben = _link_in(_outbox_to("ana@client.example")[0]), _link_in(_outbox_to("ben@client.example")[0])
    assert ana != ben
    path = lambda url: url.split("://", 1)[1].split("/", 1)[1]  # noqa: E731
    assert client.get("/" + path(ana)).status_code == 200
    recipient = ReportRecipient.objects.get(report=report, email="ana@client.example")
    assert recipient.link.view_count == 1 and recipient.link.feedback_role == "stakeholder"
    assert ReportRecipient.objects.get(email="ben@client.example").link.feedback_role == "influencer"
    assert services.report_recipient_remove(recipient=recipient, actor=manager)
    assert client.get("/" + path(ana)).status_code == 404
    assert client.get("/" + path(ben)).status_code == 200


def test_the_link_is_never_in_a_task_argument_nor_stored_in_clear(
    delivered, monkeypatch, django_capture_on_commit_callbacks
):
    _, report = delivered
    recipient = ReportRecipient.objects.get(report=report, email="ana@client.example")
    secret = _link_in(_outbox_to("ana@client.example")[0]).rstrip("/").rsplit("/", 1)[1]
    assert secret not in recipient.link_sealed and services.invitation_open(recipient.link_sealed) == secret
    seen = []
    fake = SimpleNamespace(enqueue=lambda **kwargs: seen.append(kwargs))
    monkeypatch.setattr(services.delivery, "tasks", SimpleNamespace(report_deliveries_send=fake))
    services.report_recipient_add(report=report, actor=None, email="cy@client.example")
    with django_capture_on_commit_callbacks(execute=True):
        services.report_deliver(report=report, occasion="manual")
    assert seen and set(seen[0]) == {"delivery_ids"} and all(isinstance(i, int) for i in seen[0]["delivery_ids"])


def test_a_retried_or_doubled_send_does_not_email_twice(delivered):
    _, report = delivered
    ids = list(ReportDelivery.objects.filter(report=report).values_list("pk", flat=True))
    mail.outbox.clear()
    assert services.report_deliveries_send(delivery_ids=ids) == 0
    assert report_deliveries_send.call(delivery_ids=ids) == 0
    assert services.report_deliver(report=report, occasion="close") == 0  # the same occasion again
    assert mail.outbox == []


def test_a_failed_send_records_why_and_its_retry_sends_once(delivered, monkeypatch, deliver):
    _, report = delivered
    services.report_recipient_add(report=report, actor=None, email="cy@client.example")
    real_send = services.delivery.EmailMultiAlternatives.send
    monkeypatch.setattr(
        services.delivery.EmailMultiAlternatives, "send", lambda self: (_ for _ in ()).throw(OSError("SMTP down"))
    )
    mail.outbox.clear()
    deliver(report, "manual")
    failed = ReportDelivery.objects.get(recipient__email="cy@client.example", occasion="manual-1")
    assert failed.state == DeliveryState.FAILED and "SMTP down" in failed.error and failed.attempts == 1
    monkeypatch.setattr(services.delivery.EmailMultiAlternatives, "send", real_send)
    ids = [failed.pk]
    assert services.report_deliveries_send(delivery_ids=ids) == 1
    assert services.report_deliveries_send(delivery_ids=ids) == 0
    assert len(_outbox_to("cy@client.example")) == 1
    failed.refresh_from_db()
    assert failed.state == DeliveryState.SENT and failed.attempts == 2 and failed.error == ""
    kinds = list(DeliveryEvent.objects.filter(email="cy@client.example").values_list("kind", flat=True))
    assert {"failed", "retried", "sent"} <= set(kinds)


def test_failing_every_attempt_gives_up_after_the_limit(delivered, monkeypatch, deliver):
    _, report = delivered
    services.report_recipient_add(report=report, actor=None, email="cy@client.example")
    monkeypatch.setattr(
        services.delivery.EmailMultiAlternatives, "send", lambda self: (_ for _ in ()).throw(OSError("x"))
    )
    deliver(report, "manual")
    delivery = ReportDelivery.objects.get(recipient__email="cy@client.example")
    for _ in range(5):
        services.report_deliveries_send(delivery_ids=[delivery.pk])
    delivery.refresh_from_db()
    assert delivery.attempts == services.DELIVERY_MAX_ATTEMPTS and delivery.state == DeliveryState.FAILED


def test_a_refused_recipient_is_bounced_and_not_retried(delivered, monkeypatch, deliver):
    _, report = delivered
    services.report_recipient_add(report=report, actor=None, email="gone@client.example")

    def refuse(self):
        raise smtplib.SMTPRecipientsRefused({"gone@client.example": (550, b"No such user")})

    monkeypatch.setattr(services.delivery.EmailMultiAlternatives, "send", refuse)
    deliver(report, "manual")
    delivery = ReportDelivery.objects.get(recipient__email="gone@client.example")
    assert delivery.state == DeliveryState.BOUNCED and "550" in delivery.error
    assert services.report_deliveries_send(delivery_ids=[delivery.pk]) == 0


def test_the_final_occasion_mails_again_with_the_same_personal_link(delivered, deliver):
    _, report = delivered
    first = _link_in(_outbox_to("ana@client.example")[0])
    mail.outbox.clear()
    assert deliver(report, "final") == 2
    message = _outbox_to("ana@client.example")[0]
    assert message.subject.startswith("Final report:") and "final report" in message.body
    assert _link_in(message) == first
    assert deliver(report, "final") == 0


def test_per_report_add_and_remove_before_sending(delivered, deliver):
    _, report = delivered
    services.report_recipient_add(report=report, actor=None, email="cy@client.example", role="participant")
    services.report_recipient_remove(recipient=ReportRecipient.objects.get(email="ben@client.example"), actor=None)
    mail.outbox.clear()
    assert deliver(report, "manual") == 2
    assert sorted(m.to[0] for m in mail.outbox) == ["ana@client.example", "cy@client.example"]
    assert deliver(report, "manual") == 2  # manual-2: a new occasion
    assert set(ReportDelivery.objects.values_list("occasion", flat=True)) == {"close", "manual-1", "manual-2"}


def test_unsubscribe_page_asks_names_nothing_and_stops_every_later_email(delivered, client, deliver):
    campaign, report = delivered
    url = UNSUBSCRIBE.search(_outbox_to("ana@client.example")[0].body).group(0)
    path = "/" + url.split("://", 1)[1].split("/", 1)[1]
    page = client.get(path)
    assert page.status_code == 200 and b"Unsubscribe" in page.content
    assert report.campaign_name.encode() not in page.content and campaign.account.name.encode() not in page.content
    assert not ReportRecipient.objects.filter(unsubscribed_at__isnull=False).exists()  # a GET writes nothing
    done = client.post(path)
    assert b"You are unsubscribed" in done.content
    assert AccountRecipient.objects.get(email="ana@client.example").unsubscribed_at is not None
    mail.outbox.clear()
    deliver(report, "final")
    assert [m.to for m in mail.outbox] == [["ben@client.example"]]
    with pytest.raises(services.ReportError):
        services.report_recipient_add(report=report, actor=None, email="ana@client.example")
    assert client.get(path[:-3] + "xx/").status_code == 404
    assert DeliveryEvent.objects.filter(kind="unsubscribed", email="ana@client.example").count() == 1


def test_share_panel_shows_each_recipients_state_views_and_feedback(delivered, login, manager, client):
    campaign, report = delivered
    link = ReportRecipient.objects.get(email="ana@client.example").link
    services.feedback_create(
        report=report, link=link, author=None, role="stakeholder", rating=5, would_take_part_again=True
    )
    page = login(manager).get(reverse("reports:detail", args=[campaign.pk])).content.decode()
    row = re.search(r'<tr data-recipient="ana@client.example">.*?</tr>', page, re.S).group(0)
    assert 'data-state="sent"' in row and "At close" in row and "PDF attached" in row
    assert re.search(r'<td class="num">1</td>', row)  # one feedback
    assert "Send now" in page and "Remove" in row


def test_viewers_see_delivery_state_but_cannot_send_or_edit(delivered, login, viewer, editor):
    campaign, report = delivered
    for user in (viewer, editor):
        client = login(user)
        page = client.get(reverse("reports:detail", args=[campaign.pk])).content.decode()
        assert 'data-recipient="ana@client.example"' in page and "Send now" not in page
        assert client.post(reverse("reports:delivery_send", args=[campaign.pk])).status_code == 403
        add = client.post(reverse("reports:recipient_add", args=[campaign.pk]), {"recipient-email": "x@y.example"})
        assert add.status_code == 403
        recipients = client.get(reverse("reports:account_recipients", args=[campaign.account_id]))
        assert recipients.status_code == 200 and b"Add recipient" not in recipients.content


def test_manager_sends_by_hand_and_edits_lists_with_plain_forms(
    delivered, login, manager, django_capture_on_commit_callbacks
):
    campaign, report = delivered
    client = login(manager)
    added = client.post(
        reverse("reports:recipient_add", args=[campaign.pk]),
        {"recipient-email": "cy@client.example", "recipient-role": "participant"},
        follow=True,
    )
    assert "cy@client.example will receive" in added.content.decode()
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        sent = client.post(reverse("reports:delivery_send", args=[campaign.pk]), follow=True)
    assert "emailed to 3 recipients" in sent.content.decode() and len(mail.outbox) == 3
    url = reverse("reports:account_recipients", args=[campaign.account_id])
    page = client.post(url, {"recipient-email": "dee@client.example", "recipient-role": "stakeholder"}, follow=True)
    assert "dee@client.example will receive every new report" in page.content.decode()
    again = client.post(url, {"recipient-email": "dee@client.example", "recipient-role": "stakeholder"})
    assert again.status_code == 400 and b"already on the list" in again.content
    dee = AccountRecipient.objects.get(email="dee@client.example")
    client.post(reverse("reports:account_recipient_remove", args=[campaign.account_id, dee.pk]))
    assert not AccountRecipient.objects.filter(email="dee@client.example").exists()
    assert DeliveryEvent.objects.filter(email="dee@client.example").count() == 2


def test_an_account_without_recipients_mails_nothing_at_close(campaign, manager, django_capture_on_commit_callbacks):
    metrics_generate(campaign, days=3)
    with django_capture_on_commit_callbacks(execute=True):
        campaign_end(campaign, manager)
    assert mail.outbox == [] and not ReportDelivery.objects.exists()


def test_failed_deliveries_past_their_backoff_are_found_for_the_reconciler(delivered, monkeypatch):
    import datetime as dt

    from django.utils import timezone

    _, report = delivered
    ReportDelivery.objects.filter(report=report).update(state=DeliveryState.FAILED, attempts=1)
    later = timezone.now() + dt.timedelta(hours=1)
    assert len(services.report_deliveries_due(now=later)) == 2
    assert services.report_deliveries_due(now=timezone.now()) == []


def test_report_page_queries_do_not_grow_with_recipients(delivered, login, manager, django_assert_num_queries, deliver):
    campaign, report = delivered
    client = login(manager)
    url = reverse("reports:detail", args=[campaign.pk])
    client.get(url)
    # session, user, the report (with which sections have anything), share links (the recipients' own), the
    # recipients joined to their emails (no feedback yet, and the account's list is on the report's)
    with django_assert_num_queries(5):
        client.get(url)
    for i in range(5):
        services.report_recipient_add(report=report, actor=None, email=f"p{i}@client.example")
    deliver(report, "manual")
    with django_assert_num_queries(5):
        assert client.get(url).content.decode().count("data-recipient=") == 7


def test_reports_index_links_each_accounts_recipient_list(account, login, viewer):
    page = login(viewer).get(reverse("reports:index")).content.decode()
    assert reverse("reports:account_recipients", args=[account.pk]) in page


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_runs_of_one_delivery_send_one_email(account, manager, campaign):
    import threading

    from django.db import connection

    services.account_recipient_add(account=account, actor=manager, email="ana@client.example")
    metrics_generate(campaign, days=3)
    campaign_end(campaign, manager)  # transaction=True: the close email is sent on commit
    report = campaign.__class__.objects.get(pk=campaign.pk).close_report
    ReportDelivery.objects.filter(report=report).update(state=DeliveryState.FAILED)  # as if the first try failed
    mail.outbox.clear()
    (delivery_id,) = ReportDelivery.objects.values_list("pk", flat=True)
    barrier, sent = threading.Barrier(4), []

    def worker():
        try:
            barrier.wait()
            sent.append(services.report_deliveries_send(delivery_ids=[delivery_id]))
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(sent) == [0, 0, 0, 1] and len(mail.outbox) == 1


def test_admin_lists_deliveries_and_their_audit_read_only(delivered, client, staff):
    client.force_login(staff)
    page = client.get(reverse("admin:reports_reportdelivery_changelist")).content.decode()
    assert "ana@client.example" in page and "close" in page
    audit = client.get(reverse("admin:reports_deliveryevent_changelist")).content.decode()
    assert "Sent" in audit and "Recipient added" in audit
    assert client.get(reverse("admin:reports_reportdelivery_add")).status_code == 403
