"""Build the close reports that are missing, e.g. for campaigns ended before reports existed."""

from django.core.management.base import BaseCommand

from campaigns.models import Campaign, Status
from reports.services import reports_create


class Command(BaseCommand):
    help = "Freeze a close report for every ended campaign that has none yet. Existing reports are never changed."

    def add_arguments(self, parser):
        parser.add_argument("--account", type=int, help="Only campaigns of this account id.")
        parser.add_argument("--dry-run", action="store_true", help="Only count the missing reports.")

    def handle(self, *args, account=None, dry_run=False, **options):
        missing = Campaign.objects.filter(status=Status.ENDED, close_report__isnull=True)
        if account:
            missing = missing.filter(account_id=account)
        ids = list(missing.order_by("pk").values_list("pk", flat=True))
        if dry_run:
            self.stdout.write(f"{len(ids)} ended campaign(s) have no report.")
            return
        built = reports_create(campaign_ids=ids)
        self.stdout.write(self.style.SUCCESS(f"Built {len(built)} report(s); {len(ids) - len(built)} skipped."))
