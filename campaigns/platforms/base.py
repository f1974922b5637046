"""The connector interface every platform implements, in Closeout's words, and the plain records it returns.

A connector turns Closeout's verbs (pause, resume, end, pull campaigns, pull metrics, check credentials) into
calls to its platform, and the platform's answers into records in Closeout's terms: our `Status`, `Objective`
and `BudgetMode`, a `deleted` flag, metric dicts keyed by our `METRIC_FIELDS`. Every platform term, code and
mapping stays inside the connector's module. A connector never touches the database; `push.py` and `pull.py`
decide what the records mean for our campaigns (batching, retries, drift, audit), reading only this interface
and the connector's declared `Capabilities`.
"""

import abc
import dataclasses
import datetime as dt
import enum
from collections.abc import Callable, Iterator, Sequence
from decimal import Decimal
from typing import ClassVar

from ..models import BudgetMode, Objective, Status


class MetricLevel(enum.StrEnum):
    """What one daily metric row describes: a whole campaign, or one ad (a content item) of it."""

    CAMPAIGN = "campaign"
    AD = "ad"


@dataclasses.dataclass(frozen=True, kw_only=True)
class Capabilities:
    """What a connector declares about its platform, read by push, pull and user-facing text.

    display_name:          how user-facing text names the platform ("TikTok": "Awaiting TikTok", "Reconnect … to
                           TikTok", "Check it in TikTok Ads Manager").
    talks_to_platform:     False for the none connector: changes apply in Closeout only, nothing is sent or pulled.
    status_batch_size:     at most this many campaign ids in one pause/resume/end call; push cuts batches to it.
    rate_limit_per_second: calls per second the platform allows one app (None: no known limit); the default of the
                           shared rate limiter (`ratelimit`), which a connector may take from a setting instead.
    metric_levels:         the levels `metrics_pull` supports, in the order pull asks for them.
    report_window_days:    at most this many days in one `metrics_pull` call; pull cuts longer ranges into windows.
    metric_filter_max_ids: at most this many campaign ids in one `metrics_pull(platform_ids=…)`; a backfill of more
                           campaigns pulls the whole account instead.
    """

    display_name: str
    talks_to_platform: bool = True
    status_batch_size: int
    rate_limit_per_second: float | None = None
    metric_levels: tuple[MetricLevel, ...] = (MetricLevel.CAMPAIGN,)
    report_window_days: int
    metric_filter_max_ids: int = 100

    def __post_init__(self):
        if self.status_batch_size < 1 or self.report_window_days < 1:
            raise ValueError("status_batch_size and report_window_days must be at least 1.")


class ConnectorError(Exception):
    """A call failed. `message` is safe to show a user: it never contains a credential.

    `retryable`: worth trying again later (network errors, timeouts, rate limits, platform-side errors).
    `auth`: the credentials are missing, expired or revoked; retrying cannot help until someone reconnects.
    `code`: the platform's own error code, for logs and tests only; callers decide on `retryable` and `auth`.
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
class StatusResult:
    """The answer to a pause, resume or end of a batch: which of the requested ids the platform `confirmed`;
    the `not_confirmed` ones were not changed. `platform_status` is the platform's own name for the state it
    confirmed (stored in `Campaign.platform_status` and the audit for people to read, never interpreted)."""

    confirmed: frozenset[str]
    not_confirmed: frozenset[str]
    platform_status: str = ""


@dataclasses.dataclass(frozen=True)
class CampaignRecord:
    """One campaign as the platform has it, in Closeout's terms.

    objective: None when the platform's objective has no match in ours (pull keeps what we have).
    status:    None when the platform's state has no match in ours (e.g. frozen by review): no drift is applied.
               A deleted campaign is `Status.ENDED` with `deleted=True`.
    platform_status: the platform's own word for its state, for people to read (see StatusResult).
    """

    platform_id: str
    name: str
    objective: Objective | None
    budget_mode: BudgetMode
    budget: Decimal
    status: Status | None
    deleted: bool
    platform_status: str
    created: dt.datetime | None
    modified: dt.datetime | None


@dataclasses.dataclass(frozen=True)
class MetricRecord:
    """One day of one campaign (`ad_id` empty) or of one ad. `metrics` is keyed by `models.METRIC_FIELDS`
    (a field left out counts as 0), with `spend` a Decimal and the counts ints, already parsed."""

    campaign_id: str
    ad_id: str
    ad_name: str
    date: dt.date
    metrics: dict[str, int | Decimal]


def date_windows(start: dt.date, end: dt.date, *, days: int) -> Iterator[tuple[dt.date, dt.date]]:
    """[start, end] cut into inclusive windows of at most `days` days, oldest first."""
    while start <= end:
        stop = min(start + dt.timedelta(days=days - 1), end)
        yield start, stop
        start = stop + dt.timedelta(days=1)


type CallRetry = Callable[[Callable[[], dict]], dict]


def _call_once(call: Callable[[], dict]) -> dict:
    return call()


class _Unthrottled:
    def take(self) -> float:
        return 0.0

    def backoff(self, seconds: float) -> None:
        pass


def _unthrottled(*, key: str, rate: float | None) -> _Unthrottled:
    return _Unthrottled()


class Connector(abc.ABC):
    """What a platform connector does, in Closeout's verbs. Every method may raise ConnectorError.

    A subclass sets `name` (the `AdAccount.connector` value it is registered under, also written into the audit)
    and `capabilities`, and implements the six methods. Batches passed to the status verbs hold 1 to
    `capabilities.status_batch_size` ids; metric ranges span at most `capabilities.report_window_days` days.
    """

    name: ClassVar[str]
    capabilities: ClassVar[Capabilities]

    def __init__(self, account, *, call_retry: "CallRetry | None" = None, throttle_for=None):
        self.account = account
        # Wraps every call the connector makes to its platform: pull passes its retry policy
        # (`history.pull_call_retry`); push retries whole batches later instead, so it passes none.
        self.call_retry: CallRetry = call_retry or _call_once
        # `throttle_for(key=…, rate=…)` gives the bucket every call takes a slot of first (the registry passes the
        # shared one, `ratelimit.bucket_for`); by default there is none.
        self.throttle_for = throttle_for or _unthrottled

    def batch_check(self, platform_ids: Sequence[str]) -> list[str]:
        """The ids as strings; ValueError when the batch is empty or larger than the declared batch size."""
        ids = [str(i) for i in platform_ids]
        if not 1 <= len(ids) <= self.capabilities.status_batch_size:
            raise ValueError(f"A status call takes 1–{self.capabilities.status_batch_size} ids, not {len(ids)}.")
        return ids

    @abc.abstractmethod
    def campaigns_pause(self, *, platform_ids: Sequence[str]) -> StatusResult:
        """Stop delivery of these campaigns; they can be resumed."""

    @abc.abstractmethod
    def campaigns_resume(self, *, platform_ids: Sequence[str]) -> StatusResult:
        """Deliver these paused campaigns again."""

    @abc.abstractmethod
    def campaigns_end(self, *, platform_ids: Sequence[str], delete: bool = False) -> StatusResult:
        """Stop these campaigns for good. `delete`: also delete them on the platform (irreversible there);
        without it their data stays reportable."""

    @abc.abstractmethod
    def campaigns_pull(self, *, platform_ids: Sequence[str] | None = None) -> Iterator[CampaignRecord]:
        """Every campaign of the account (or these ones), deleted ones included."""

    @abc.abstractmethod
    def metrics_pull(
        self, *, level: MetricLevel, start: dt.date, end: dt.date, platform_ids: Sequence[str] | None = None
    ) -> Iterator[MetricRecord]:
        """Daily metrics from `start` to `end` inclusive at `level` (one of `capabilities.metric_levels`),
        deleted campaigns and ads included; `platform_ids` narrows to these campaigns."""

    @abc.abstractmethod
    def credentials_check(self) -> None:
        """A cheap call that proves the credentials work; raises ConnectorError (auth=True) otherwise."""
