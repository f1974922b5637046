"""When the list totals and the search table are rebuilt from the campaigns without anyone asking: after `migrate`
and `flush` (post_migrate), and once a `loaddata` of campaigns or list totals commits. `CampaignsConfig.ready()`
calls `connect`."""

from django.db import connections, transaction
from django.db.models.signals import post_migrate, post_save


def list_stats_rebuild_after_migrate(sender, using="default", plan=None, **kwargs):
    """After `migrate` and `flush`: the list totals table is derived data; recompute it from the campaigns."""
    if "campaigns_campaignliststat" not in connections[using].introspection.table_names():
        return  # migrating up from before migration 0003
    from .stats import campaign_list_stats_rebuild

    campaign_list_stats_rebuild(using=using)


def list_stats_rebuild_after_fixture(sender, instance, raw=False, using="default", **kwargs):
    """`loaddata` (raw saves) of campaigns or of list totals: once its transaction commits, recompute the totals
    from the campaigns. The triggers counted every campaign the fixture inserted, and the fixture's own
    CampaignListStat rows (a dump of them) would count them again."""
    if not raw:
        return
    connection = connections[using]
    if getattr(connection, "closeout_rebuild_pending", False):
        return  # one rebuild per load, however many rows it saves
    connection.closeout_rebuild_pending = True

    def rebuild():
        connection.closeout_rebuild_pending = False
        list_stats_rebuild_after_migrate(sender=None, using=using)

    transaction.on_commit(rebuild, using=using)


def connect(app_config) -> None:
    """Connect the rebuild hooks for the `campaigns` app (idempotent: dispatch uids)."""
    post_migrate.connect(
        list_stats_rebuild_after_migrate, sender=app_config, dispatch_uid="campaigns-list-stats-rebuild"
    )
    for model_name in ("Campaign", "CampaignListStat"):
        post_save.connect(
            list_stats_rebuild_after_fixture,
            sender=app_config.get_model(model_name),
            dispatch_uid=f"campaigns-list-stats-after-fixture-{model_name}",
        )
