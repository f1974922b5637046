"""The soak's database side, run in its own process with the soak's settings (`python -m tests.soak.data <command>`);
each command prints one line of JSON.

- `prepare N`: after `seed_demo` (and once the workers have built the demo's close reports), an account "Soak bulk"
  with N active campaigns (bulk_create: set-up, not the thing measured), the manager as its manager, the editor
  as its editor (an end tells every editor) and the viewer following its ends: the notifications the soak
  counts; share links (one with a password); the ids the traffic uses.
- `idle SECONDS`: wait (bounded) until no task is queued or running; how long it took.
- `check`: what the bulk end and the traffic left in the database: every ended campaign with one close report
  and the 7 wind-down steps, each recipient told once about each campaign of the bulk end (exactly the recipients
  `notification_recipients` names), no notification twice, no task failed, the tasks each worker ran.
"""

import collections
import datetime as dt
import json
import sys
import time
from decimal import Decimal

import django

BULK_ACCOUNT = "Soak bulk"
SHARE_PASSWORD = "soak-share-password"  # noqa: S105 -- throw-away data of a soak run
WINDDOWN_STEPS = 7


def prepare(count: int) -> dict:
    from django.contrib.auth import get_user_model

    from campaigns.models import AdAccount, Campaign, Membership, Role, Status
    from reports import services
    from reports.models import CloseReport

    users = {u.username: u for u in get_user_model().objects.filter(username__in=["manager", "editor", "viewer"])}
    ended = Campaign.objects.filter(status=Status.ENDED)
    deadline = time.monotonic() + 150
    while ended.filter(close_report__isnull=True).exists():  # the demo's ended campaigns: built by the workers
        if time.monotonic() > deadline:
            raise SystemExit("the demo's close reports were not built within 150 s")
        time.sleep(0.5)
    account = AdAccount.objects.create(name=BULK_ACCOUNT, currency="EUR", timezone="Europe/Berlin")
    Membership.objects.bulk_create(
        [
            Membership(user=users["manager"], account=account, role=Role.MANAGER),
            Membership(user=users["editor"], account=account, role=Role.EDITOR),
            # A viewer hears of ends only by choice: the second recipient.
            Membership(user=users["viewer"], account=account, role=Role.VIEWER, notify_ends=True),
        ]
    )
    start = dt.date.today() - dt.timedelta(days=30)
    Campaign.objects.bulk_create(
        [
            Campaign(
                account=account,
                name=f"Soak bulk {n:04d}",
                status=Status.ACTIVE,
                budget_amount=Decimal("50"),
                start_date=start,
                owner=users["manager"],
            )
            for n in range(count)
        ],
        batch_size=500,
    )
    editor_accounts = list(users["editor"].memberships.exclude(account=account).values_list("account_id", flat=True))
    reports = list(CloseReport.objects.order_by("pk"))
    shares = [
        services.share_link_create(report=r, actor=users["manager"], label="Soak stakeholders")[1] for r in reports[:3]
    ]
    _, protected = services.share_link_create(
        report=reports[0], actor=users["manager"], label="Soak password", password=SHARE_PASSWORD
    )
    return {
        "bulk_account": account.pk,
        "bulk_count": count,
        "campaigns": list(Campaign.objects.exclude(account=account).values_list("pk", flat=True)),
        "actionable": list(
            Campaign.objects.filter(account_id__in=editor_accounts, status__in=[Status.ACTIVE, Status.PAUSED])
            .order_by("pk")
            .values_list("pk", flat=True)[:20]
        ),
        "reports": [r.campaign_id for r in reports],
        "shares": shares,
        "password_share": protected,
        "share_password": SHARE_PASSWORD,
    }


def idle(seconds: float) -> dict:
    from django_tasks_db.models import DBTaskResult

    started = time.monotonic()
    busy = DBTaskResult.objects.ready().exists() or DBTaskResult.objects.running().exists()
    while busy and time.monotonic() - started < seconds:
        time.sleep(0.5)
        busy = DBTaskResult.objects.ready().exists() or DBTaskResult.objects.running().exists()
    return {"drained": not busy, "seconds": round(time.monotonic() - started, 1)}


def check() -> dict:
    from django.contrib.auth import get_user_model
    from django.db.models import Count, Q
    from django_tasks_db.models import DBTaskResult

    from campaigns.models import Campaign, EmailState, Notification, NotificationKind, Status, WindDownStep
    from campaigns.services.notifications import notification_recipients
    from reports.models import CloseReport

    ended = Campaign.objects.filter(status=Status.ENDED)
    bulk = list(ended.filter(account__name=BULK_ACCOUNT).values_list("pk", flat=True))
    steps = collections.Counter(
        WindDownStep.objects.filter(campaign__status=Status.ENDED).values_list("campaign_id", flat=True)
    )
    ended_ids = list(ended.values_list("pk", flat=True))
    reports = collections.Counter(
        CloseReport.objects.filter(campaign_id__in=ended_ids).values_list("campaign_id", flat=True)
    )
    manager = get_user_model().objects.get(username="manager")
    expected = notification_recipients(campaign_ids=bulk, exclude_user_id=manager.pk, audience="ends")
    expected_pairs = {(user, pk) for user, pks in expected.items() for pk in pks}
    told = collections.Counter(
        Notification.objects.filter(kind=NotificationKind.STATUS_CHANGED, campaigns__in=bulk).values_list(
            "recipient_id", "campaigns"
        )
    )
    per_recipient = collections.Counter(  # notifications (not rows of the join) about the bulk end, per recipient
        recipient
        for recipient, _ in Notification.objects.filter(kind=NotificationKind.STATUS_CHANGED, campaigns__in=bulk)
        .values_list("recipient_id", "pk")
        .distinct()
    )
    duplicates = (
        Notification.objects.exclude(dedupe_key="")
        .values("recipient_id", "dedupe_key")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
        .count()
    )
    tasks = DBTaskResult.objects
    by_worker = collections.Counter()
    for worker_ids in tasks.finished().values_list("worker_ids", flat=True):
        for worker_id in worker_ids or []:
            by_worker[worker_id] += 1
    return {
        "ended": len(ended_ids),
        "bulk_ended": len(bulk),
        "without_report": sum(1 for pk in ended_ids if reports[pk] != 1),
        "wrong_steps": sum(1 for pk in ended_ids if steps[pk] != WINDDOWN_STEPS),
        "recipients_expected": len(expected),
        "pairs_expected": len(expected_pairs),
        "pairs_missing": len(expected_pairs - set(told)),
        "pairs_unexpected": len(set(told) - expected_pairs),
        "pairs_twice": sum(1 for n in told.values() if n > 1),
        "notifications_per_recipient": sorted(per_recipient.values()),
        "dedupe_duplicates": duplicates,
        "emails_unsent": Notification.objects.filter(
            Q(email_state__in=[EmailState.PENDING, EmailState.FAILED, EmailState.GAVE_UP])
        ).count(),
        "emails_sent": Notification.objects.filter(email_state=EmailState.SENT).count(),
        "tasks_failed": tasks.failed().count(),
        "tasks_done": tasks.finished().count(),
        "tasks_left": tasks.ready().count() + tasks.running().count(),
        "tasks_by_worker": dict(sorted(by_worker.items())),
    }


def main(command: str, *args: str) -> int:
    django.setup()
    if command == "prepare":
        answer = prepare(int(args[0]))
    elif command == "idle":
        answer = idle(float(args[0]))
    else:
        answer = check()
    print(json.dumps(answer))
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
