"""Manual accounts: there is no platform to tell. Every change is confirmed at once; nothing is pulled."""

from collections.abc import Iterator, Sequence

from .base import CampaignRecord, Connector, MetricRecord, StatusUpdateResult


class NoneConnector(Connector):
    name = "none"
    talks_to_platform = False

    def __init__(self, account=None):
        self.account = account

    def campaigns_status_update(self, *, platform_ids: Sequence[str], operation: str) -> StatusUpdateResult:
        return StatusUpdateResult(operation=operation, ok=frozenset(platform_ids), not_confirmed=frozenset())

    def campaigns_list(self, *, platform_ids: Sequence[str] | None = None) -> Iterator[CampaignRecord]:
        return iter(())

    def daily_metrics(self, *, start, end, level, platform_ids=None) -> Iterator[MetricRecord]:
        return iter(())

    def check(self) -> None:
        return None
