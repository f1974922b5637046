"""The connector interface every platform implements, and the plain records it returns.

A connector never touches the database: it turns calls into HTTP requests and responses into records.
Services decide what the records mean for our campaigns.
"""

import dataclasses
import datetime as dt
from collections.abc import Iterator, Sequence
from decimal import Decimal

# At most this many ids in one status-update call (TikTok: 1–20 ids per call).
STATUS_BATCH_SIZE = 20

# Our operations, named as TikTok names them; the none connector accepts the same ones.
ENABLE = "ENABLE"
DISABLE = "DISABLE"
DELETE = "DELETE"
OPERATIONS = (ENABLE, DISABLE, DELETE)


class ConnectorError(Exception):
    """A call failed. `message` is safe to show a user: it never contains the access token.

    `retryable`: worth trying again later (network errors, timeouts, rate limits, platform-side errors).
    `auth`: the credentials are missing, expired or revoked; retrying cannot help until someone reconnects.
    """

    def __init__(self, message: str, *, code: int | None = None, retryable: bool = False, auth: bool = False):
        super().__init__(message)
        self.message = message
        self.code = code
        self.retryable = retryable
        self.auth = auth

    def __str__(self) -> str:
        return self.message


@dataclasses.dataclass(frozen=True)
class StatusUpdateResult:
    """Which of the requested ids the platform confirmed (`ok`); the others were not changed."""

    operation: str
    ok: frozenset[str]
    not_confirmed: frozenset[str]


@dataclasses.dataclass(frozen=True)
class CampaignRecord:
    platform_id: str
    name: str
    objective_type: str
    budget_mode: str
    budget: Decimal
    operation_status: str  # ENABLE | DISABLE | DELETE | FROZEN …
    secondary_status: str
    created: dt.datetime | None
    modified: dt.datetime | None

    @property
    def is_deleted(self) -> bool:
        return (
            self.operation_status == DELETE
            or self.secondary_status == "CAMPAIGN_STATUS_DELETE"
            or self.secondary_status == "STATUS_DELETE"
        )


@dataclasses.dataclass(frozen=True)
class MetricRecord:
    """One day of one campaign (`ad_id` empty) or of one ad. Metric values are already parsed."""

    campaign_id: str
    ad_id: str
    ad_name: str
    date: dt.date
    metrics: dict[str, int | Decimal]


class Connector:
    """What a platform connector does. Each method may raise ConnectorError."""

    name = "base"
    #: False for the none connector: changes apply in Closeout only, nothing is sent anywhere.
    talks_to_platform = True

    def campaigns_status_update(self, *, platform_ids: Sequence[str], operation: str) -> StatusUpdateResult:
        """Apply `operation` to at most STATUS_BATCH_SIZE campaigns in one call."""
        raise NotImplementedError

    def campaigns_list(self, *, platform_ids: Sequence[str] | None = None) -> Iterator[CampaignRecord]:
        """Every campaign of the advertiser, deleted ones included, page by page."""
        raise NotImplementedError

    def daily_metrics(
        self, *, start: dt.date, end: dt.date, level: str, platform_ids: Sequence[str] | None = None
    ) -> Iterator[MetricRecord]:
        """Daily metrics from `start` to `end` inclusive at level "campaign" or "ad", deleted objects included."""
        raise NotImplementedError

    def check(self) -> None:
        """A cheap call that proves the credentials work; raises ConnectorError otherwise."""
        raise NotImplementedError
