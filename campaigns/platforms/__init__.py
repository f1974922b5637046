"""Platform connectors: how Closeout talks to an ad platform on an account's behalf.

`registry.connector_for(account)` returns the account's connector. Services call it; views never do.
"""

from .base import CampaignRecord, Connector, ConnectorError, MetricRecord, StatusUpdateResult
from .registry import connector_for

__all__ = ["CampaignRecord", "Connector", "ConnectorError", "MetricRecord", "StatusUpdateResult", "connector_for"]
