"""Share links for the production smoke and the cross-process throttle tests, made through the services, on top of
`manage.py seed_demo`. Run as `python -m tests.smoke.seed` with DJANGO_SETTINGS_MODULE and DATABASE_URL set.

Waits until every ended demo campaign has its close report (the task worker builds them), creates a link with
feedback and team notes, a second feedback link, a password-protected link and a revoked link, and prints their
secrets as one line of JSON. `python -m tests.smoke.seed idle` waits until the worker has nothing left to do (the
reports' PDFs rendered, the mail sent) and prints how many tasks failed."""

import json
import sys
import time

import django

SHARE_PASSWORD = "smoke-share-password"  # noqa: S105 -- throw-away data of a test run
WAIT_SECONDS = 150


def main(command: str = "links") -> int:
    django.setup()
    from django.contrib.auth import get_user_model
    from django_tasks_db.models import DBTaskResult

    from campaigns.models import Campaign, Status
    from reports import services
    from reports.models import CloseReport

    ended = Campaign.objects.filter(status=Status.ENDED)
    tasks = DBTaskResult.objects
    deadline = time.monotonic() + WAIT_SECONDS

    def wait(what: str, done) -> bool:
        while not done():
            if time.monotonic() > deadline:
                print(f"still waiting for {what} after {WAIT_SECONDS} s", file=sys.stderr)
                return False
            time.sleep(0.5)
        return True

    if command == "idle":
        if not wait("the task worker to finish", lambda: not (tasks.ready().exists() or tasks.running().exists())):
            return 1
        print(json.dumps({"tasks_failed": tasks.failed().count(), "tasks_done": tasks.finished().count()}))
        return 0
    if not wait("the close reports", lambda: ended.exists() and not ended.filter(close_report__isnull=True).exists()):
        return 1
    manager = get_user_model().objects.get(username="manager")
    first, second, third = CloseReport.objects.order_by("pk")[:3]

    def link(report, label, **options):
        return services.share_link_create(report=report, actor=manager, label=f"Smoke: {label}", **options)

    _, valid = link(first, "stakeholders", show_team_notes=True)
    _, feedback = link(second, "feedback")
    _, protected = link(second, "password", password=SHARE_PASSWORD)
    revoked_link, revoked = link(third, "revoked")
    services.share_link_revoke(link=revoked_link, actor=manager)
    print(
        json.dumps(
            {
                "valid": valid,
                "feedback": feedback,
                "password": protected,
                "revoked": revoked,
                "share_password": SHARE_PASSWORD,
                "reports": ended.count(),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:2]))
