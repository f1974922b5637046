from django.apps import AppConfig


class CloseoutConfig(AppConfig):
    """The project itself as an app: its system checks (config.checks) and its error templates."""

    name = "config"
    verbose_name = "Closeout"

    def ready(self):
        from . import checks  # noqa: F401 -- registers the checks
