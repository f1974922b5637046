"""Which connector an account uses: the one place that maps `AdAccount.connector` to a connector class.

Adding a platform:
1. Write `campaigns/platforms/<platform>.py`: a `base.Connector` subclass with `name`, `capabilities` and the six
   verbs, every term and mapping of that platform inside it (tiktok.py is the example).
2. Add one line to `CONNECTORS` below: `"<name>": <Platform>Connector`.
3. So that staff can pick it in the admin, `<name>` must be a choice of `AdAccount.connector`
   (`models.Connector`, one line; Django records choices, so `makemigrations` writes a one-line AlterField).
Push, pull, the views and every user-facing text then work unchanged: they read the interface, the declared
capabilities and `platform_label`.
"""

from ..models import AdAccount
from ..models import Connector as ConnectorChoice
from .base import Connector
from .none import NoneConnector
from .ratelimit import bucket_for
from .tiktok import TikTokConnector

CONNECTORS: dict[str, type[Connector]] = {
    ConnectorChoice.NONE: NoneConnector,
    ConnectorChoice.TIKTOK: TikTokConnector,
}


def connector_class_for(account: AdAccount) -> type[Connector]:
    """The account's connector class (capabilities can be read from it without connecting); unknown values get
    the none connector, so a misconfigured account never sends anything anywhere."""
    return CONNECTORS.get(account.connector, NoneConnector)


def connector_for(account: AdAccount, **kwargs) -> Connector:
    """The account's connector, its calls taking slots of the bucket shared by every process
    (`ratelimit.bucket_for`); `kwargs` go to its constructor (`call_retry`)."""
    kwargs.setdefault("throttle_for", bucket_for)
    return connector_class_for(account)(account, **kwargs)


def platform_label(account: AdAccount) -> str:
    """How user-facing text names the account's platform, e.g. "TikTok" ("Awaiting TikTok", "Check it in TikTok
    Ads Manager"). A connected account: its connector's display name. A manual account is still on a platform,
    only not connected to it: the name of its `AdAccount.platform`. Costs no query."""
    capabilities = connector_class_for(account).capabilities
    if capabilities.talks_to_platform:
        return capabilities.display_name
    return account.get_platform_display()
