"""Platform connectors: how Closeout talks to an ad platform on an account's behalf.

- `base`: the interface in Closeout's verbs (pause, resume, end, pull campaigns, pull metrics, check
  credentials), the records it returns and the capabilities a connector declares.
- `registry`: which connector an account uses (`connector_for`) and how text names its platform
  (`platform_label`); `none` and `tiktok`: the connectors.
- `push`, `pull`: Closeout's decisions (batching, retries, drift, audit), built on the services and the interface
  only; `history`: metric pulls retried call by call, committed window by window and resumed (the sync's, the
  backfills, a campaign's final pull); `ratelimit`: the call budget per app that every process shares. They
  import services; nothing in services imports them (services may use the registry).
"""

from .base import Capabilities, Connector, ConnectorError, MetricLevel
from .registry import connector_class_for, connector_for, platform_label

__all__ = [
    "Capabilities",
    "Connector",
    "ConnectorError",
    "MetricLevel",
    "connector_class_for",
    "connector_for",
    "platform_label",
]
