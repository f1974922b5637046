from django.core.management.base import BaseCommand

from campaigns import services
from campaigns.text import counted


class Command(BaseCommand):
    help = (
        "Warn about content whose usage rights expire soon and take out content whose rights expired (what the "
        "workers' hourly job campaigns.rights_expiry does; idempotent)."
    )

    def handle(self, *args, **options):
        run = services.content_rights_run()
        self.stdout.write(
            f"Content rights: {counted(len(run.warned), 'item')} warned about, {counted(len(run.expired), 'item')} "
            f"expired, {counted(len(run.paused), 'campaign')} paused, {counted(len(run.notified), 'campaign')} "
            "with the team told to take content down."
        )
