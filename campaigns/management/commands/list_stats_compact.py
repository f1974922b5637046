"""Fold the list totals' delta rows (what one run of the `list_stats_compact` task does).

manage.py list_stats_compact              # fold if enough rows have piled up: from cron every few minutes
manage.py list_stats_compact --schedule   # also start the worker's self-rescheduling run (once, at deploy)
"""

from django.core.management.base import BaseCommand

from campaigns.listing import stats, tasks


class Command(BaseCommand):
    help = "Fold the campaign list totals' delta rows into one row per account and status."

    def add_arguments(self, parser):
        parser.add_argument("--schedule", action="store_true", help="Also queue the task that repeats this.")

    def handle(self, *args, schedule=False, **options):
        result = stats.campaign_list_stats_compact_due()
        if result["rows_left"] is None:
            said = f"List totals: {result['unfolded']} delta row(s) to fold, not worth a fold yet."
        else:
            said = f"List totals folded: {result['unfolded']} row(s) removed, {result['rows_left']} left."
        if schedule:
            queued = tasks.list_stats_compact_schedule()
            said += (
                "\nQueued the periodic fold of the list totals."
                if queued
                else "\nPeriodic fold not queued (already queued, or the task backend cannot defer)."
            )
        self.stdout.write(said)
