"""Which connector an account uses. One place to add a platform."""

from ..models import AdAccount
from ..models import Connector as ConnectorChoice
from .base import Connector
from .none import NoneConnector
from .tiktok import TikTokConnector

CONNECTORS: dict[str, type[Connector]] = {
    ConnectorChoice.NONE: NoneConnector,
    ConnectorChoice.TIKTOK: TikTokConnector,
}


def connector_for(account: AdAccount) -> Connector:
    return CONNECTORS.get(account.connector, NoneConnector)(account)
