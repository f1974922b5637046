from django.apps import AppConfig


class CampaignsConfig(AppConfig):
    name = "campaigns"
    verbose_name = "Campaigns"

    def ready(self):
        from . import receivers
        from .listing import hooks

        receivers.connect()
        hooks.connect(self)
