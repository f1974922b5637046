from django.core.management.base import BaseCommand

from campaigns import services


class Command(BaseCommand):
    help = "Carry out every scheduled pause or end whose time has come (a safety sweep for cron; idempotent)."

    def handle(self, *args, **options):
        results = services.scheduled_actions_run_due()
        counts: dict[str, int] = {}
        for state in results.values():
            counts[state] = counts.get(state, 0) + 1
        summary = ", ".join(f"{n} {state}" for state, n in sorted(counts.items())) or "nothing due"
        self.stdout.write(f"Scheduled actions: {summary}.")
