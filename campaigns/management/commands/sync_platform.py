"""Sync connected accounts with their platform. Run it from cron / a systemd timer every few minutes.

manage.py sync_platform                  # re-queue stale pending pushes, then pull every connected account
manage.py sync_platform --push-pending   # only re-queue pending pushes (e.g. at worker start)
manage.py sync_platform --account 3 --days 90

Accounts flagged "needs reconnecting" are skipped (their token was refused; calling again cannot help): replace
the token, then press "Sync now" on the account page.
"""

from django.core.management.base import BaseCommand, CommandError

from campaigns.models import AdAccount, Connector
from campaigns.platforms import pull, push
from campaigns.text import counted


class Command(BaseCommand):
    help = "Push pending status changes to TikTok and pull campaigns and daily metrics."

    def add_arguments(self, parser):
        parser.add_argument("--push-pending", action="store_true", help="Only re-queue pending pushes.")
        parser.add_argument(
            "--older-than",
            type=float,
            default=push.PUSH_STALE_MINUTES,
            help="Re-queue pushes pending and untouched for at least this many minutes (default %(default)s).",
        )
        parser.add_argument("--account", type=int, help="Only this account id.")
        parser.add_argument("--days", type=int, default=30, help="Pull metrics for this many days back.")

    def handle(self, *args, push_pending, older_than, account, days, **options):
        requeued = push.platform_push_pending_sweep(older_than_minutes=older_than)
        self.stdout.write(f"Re-queued pushes for {requeued} pending campaign(s).")
        if push_pending:
            return
        accounts = AdAccount.objects.exclude(connector=Connector.NONE)
        if account is not None:
            accounts = accounts.filter(pk=account)
            if not accounts.exists():
                raise CommandError(f"No connected account with id {account}.")
        failures = 0
        for item in accounts.order_by("pk"):
            if item.needs_reconnect:
                self.stdout.write(f"{item.name}: skipped, needs reconnecting ({item.sync_error or 'token refused'}).")
                continue
            summary = pull.platform_pull_account(account=item, days=days)
            if "error" in summary:
                failures += 1
                self.stderr.write(f"{item.name}: {summary['error']}")
            else:
                c, m = summary["campaigns"], summary["metrics"]
                self.stdout.write(
                    f"{item.name}: {counted(c['campaigns_seen'], 'campaign')} ({c['created']} new, "
                    f"{c['drifted']} drifted), {counted(m['metric_rows'], 'metric row')} ({m['created']} new, "
                    f"{m['updated']} updated)."
                )
        if failures:
            raise CommandError(f"{failures} account(s) failed to sync.")
