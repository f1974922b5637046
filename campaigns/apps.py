from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _rebuild_list_stats(sender, using="default", plan=None, **kwargs):
    """After `migrate` and `flush`: the list totals table is derived data; recompute it from the campaigns."""
    from django.db import connections

    if "campaigns_campaignliststat" not in connections[using].introspection.table_names():
        return
    from .services import campaign_list_stats_rebuild

    campaign_list_stats_rebuild(using=using)


class CampaignsConfig(AppConfig):
    name = "campaigns"
    verbose_name = "Campaigns"

    def ready(self):
        post_migrate.connect(_rebuild_list_stats, sender=self, dispatch_uid="campaigns-list-stats-rebuild")
