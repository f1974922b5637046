from django.apps import AppConfig


class CampaignsConfig(AppConfig):
    name = "campaigns"
    verbose_name = "Campaigns"

    def ready(self):
        from . import receivers
        from .listing import hooks
        from .worker import checks

        receivers.connect()
        hooks.connect(self)
        checks.register()  # the workers' periodic jobs and campaigns' reconcile checks
