"""Notify wind-down steps still open 7 days after the end, and retry failed notification emails.

Run it from cron once a day, or once with --schedule-daily to start the task worker's self-rescheduling daily
run (`campaigns.tasks.winddown_daily`)."""

from django.core.management.base import BaseCommand

from campaigns import services
from campaigns.tasks import winddown_daily_schedule


class Command(BaseCommand):
    help = "Notify overdue wind-down steps (once per step) and retry failed notification emails."

    def add_arguments(self, parser):
        parser.add_argument(
            "--schedule-daily",
            action="store_true",
            help="Also queue the daily task (07:00 UTC) that repeats this check and re-queues itself.",
        )

    def handle(self, *args, schedule_daily=False, **options):
        steps = services.winddown_overdue_notify()
        retried = services.notification_emails_retry_due()
        self.stdout.write(f"Overdue wind-down steps notified: {steps}. Failed emails retried: {retried}.")
        if schedule_daily:
            if winddown_daily_schedule():
                self.stdout.write("Queued the daily wind-down check.")
            else:
                self.stdout.write(
                    "Daily wind-down check not queued (already queued, or the task backend cannot defer)."
                )
