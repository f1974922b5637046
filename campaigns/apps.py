from django.apps import AppConfig
from django.db.models.signals import post_migrate, post_save


def _rebuild_list_stats(sender, using="default", plan=None, **kwargs):
    """After `migrate` and `flush`: the list totals table is derived data; recompute it from the campaigns."""
    from django.db import connections

    if "campaigns_campaignliststat" not in connections[using].introspection.table_names():
        return
    from .listing.stats import campaign_list_stats_rebuild

    campaign_list_stats_rebuild(using=using)


def _rebuild_list_stats_after_fixture(sender, instance, raw=False, using="default", **kwargs):
    """`loaddata` (raw saves) of campaigns or of list totals: once its transaction commits, recompute the totals
    from the campaigns. The triggers counted every campaign the fixture inserted, and the fixture's own
    CampaignListStat rows (a dump of them) would count them again."""
    if not raw:
        return
    from django.db import connections, transaction

    connection = connections[using]
    if getattr(connection, "closeout_rebuild_pending", False):
        return
    connection.closeout_rebuild_pending = True

    def rebuild():
        connection.closeout_rebuild_pending = False
        _rebuild_list_stats(sender=None, using=using)

    transaction.on_commit(rebuild, using=using)


class CampaignsConfig(AppConfig):
    name = "campaigns"
    verbose_name = "Campaigns"

    def ready(self):
        from . import receivers

        receivers.connect()
        post_migrate.connect(_rebuild_list_stats, sender=self, dispatch_uid="campaigns-list-stats-rebuild")
        for model_name in ("Campaign", "CampaignListStat"):
            post_save.connect(
                _rebuild_list_stats_after_fixture,
                sender=self.get_model(model_name),
                dispatch_uid=f"campaigns-list-stats-after-fixture-{model_name}",
            )
