"""Manual accounts: there is no platform to tell. Every change is confirmed at once; nothing is pulled."""

from collections.abc import Iterator, Sequence

from .base import CampaignRecord, Capabilities, Connector, MetricRecord, StatusResult


class NoneConnector(Connector):
    name = "none"
    # The display name is never shown for a manual account: `registry.platform_label` names its platform instead.
    capabilities = Capabilities(
        display_name="the platform", talks_to_platform=False, status_batch_size=500, report_window_days=3650
    )

    def _confirm(self, platform_ids: Sequence[str]) -> StatusResult:
        return StatusResult(confirmed=frozenset(map(str, platform_ids)), not_confirmed=frozenset())

    def campaigns_pause(self, *, platform_ids: Sequence[str]) -> StatusResult:
        return self._confirm(platform_ids)

    def campaigns_resume(self, *, platform_ids: Sequence[str]) -> StatusResult:
        return self._confirm(platform_ids)

    def campaigns_end(self, *, platform_ids: Sequence[str], delete: bool = False) -> StatusResult:
        return self._confirm(platform_ids)

    def campaigns_pull(self, *, platform_ids: Sequence[str] | None = None) -> Iterator[CampaignRecord]:
        return iter(())

    def metrics_pull(self, *, level, start, end, platform_ids=None) -> Iterator[MetricRecord]:
        return iter(())

    def credentials_check(self) -> None:
        return None
