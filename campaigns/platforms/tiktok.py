"""TikTok Marketing API (Business API v1.3) over plain HTTP, with the standard library only.

The only module that knows TikTok's words: operations (ENABLE/DISABLE/DELETE), secondary statuses, objective and
budget-mode names, report levels and metric names, error codes, batch and window limits. Everything it returns is
in Closeout's terms (see base.py).

Facts this relies on (see docs/connectors.md and the facts file it cites):
- auth is an `Access-Token` header; the token is read from the environment variable the account names, at call
  time, and never appears in a message, a log line or the database;
- GET list/object parameters are JSON-encoded strings in the query string; POST bodies are JSON;
- errors come back as HTTP 200 with `code != 0`; 40100 is the rate limit;
- ids are strings; metric values are strings, and "-" means "no value";
- `campaign/status/update/` takes 1–20 ids; list endpoints page with `page`/`page_size` (≤ 1000) until
  `page_info.total_page`; daily reports span at most 30 days; deleted campaigns are hidden unless asked for.
"""

import datetime as dt
import hashlib
import json
import logging
import os
import socket
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Sequence
from decimal import Decimal, InvalidOperation

from django.conf import settings

from ..models import BudgetMode, Objective, Status
from .base import (
    CampaignRecord,
    Capabilities,
    Connector,
    ConnectorError,
    MetricLevel,
    MetricRecord,
    StatusResult,
    date_windows,
)

logger = logging.getLogger(__name__)

PAGE_SIZE = 1000
STATUS_BATCH_SIZE = 20  # campaign/status/update takes 1–20 ids
REPORT_WINDOW_DAYS = 30  # daily reports (stat_time_day) span at most 30 days
QPS_BASIC_TIER = 10  # calls per second per app on the basic tier (see the facts file); TIKTOK_API_QPS sets it
IDS_PER_FILTER = 100  # campaign_ids filters take at most 100 ids
# Codes worth retrying later: rate limit, task/write conflicts, RPC validation hiccups, and 5xxxx server errors.
RATE_LIMITED = 40100
RETRYABLE_CODES = frozenset({RATE_LIMITED, 40200, 40201, 40202, 40700})
AUTH_CODES = frozenset({40102, 40104, 40105})
AUTH_MESSAGES = {
    40102: "TikTok says the access token has expired",
    40104: "TikTok received no access token",
    40105: "TikTok says the access token is incorrect or has been revoked",
}
# Report metric (API name) → our DailyMetric field.
REPORT_METRICS = {
    "spend": "spend",
    "impressions": "impressions",
    "reach": "reach",
    "clicks": "clicks",
    "video_play_actions": "video_views",
    "likes": "likes",
    "comments": "comments",
    "shares": "shares",
    "follows": "follows",
    "profile_visits": "profile_visits",
}

# TikTok's words → Closeout's. operation_status is what a status update sets; a deleted campaign says DELETE
# there or in secondary_status.
ENABLE, DISABLE, DELETE = "ENABLE", "DISABLE", "DELETE"
STATUS_FROM_OPERATION = {ENABLE: Status.ACTIVE, DISABLE: Status.PAUSED, DELETE: Status.ENDED}
DELETED_SECONDARY_STATUSES = frozenset({"CAMPAIGN_STATUS_DELETE", "STATUS_DELETE"})
BUDGET_MODE_TOTAL = "BUDGET_MODE_TOTAL"  # lifetime; BUDGET_MODE_DAY and the others are daily
OBJECTIVE_FROM_TIKTOK = {
    "REACH": Objective.REACH,
    "RF_REACH": Objective.REACH,
    "TRAFFIC": Objective.TRAFFIC,
    "VIDEO_VIEWS": Objective.VIDEO_VIEWS,
    "ENGAGEMENT": Objective.ENGAGEMENT,
    "LEAD_GENERATION": Objective.LEAD_GENERATION,
    "APP_PROMOTION": Objective.APP_PROMOTION,
    "APP_INSTALL": Objective.APP_PROMOTION,
    "WEB_CONVERSIONS": Objective.WEB_CONVERSIONS,
    "CONVERSIONS": Objective.WEB_CONVERSIONS,
    "PRODUCT_SALES": Objective.PRODUCT_SALES,
    "CATALOG_SALES": Objective.PRODUCT_SALES,
    "SHOP_PURCHASES": Objective.PRODUCT_SALES,
}
# Report levels: (data_level, id dimension, status filter field).
REPORT_LEVELS = {
    MetricLevel.CAMPAIGN: ("AUCTION_CAMPAIGN", "campaign_id", "campaign_status"),
    MetricLevel.AD: ("AUCTION_AD", "ad_id", "ad_status"),
}
MISSING = frozenset({"", "-", "--", "n/a", "na", "null", "none"})


def number_parse(value, *, integer: bool) -> int | Decimal | None:
    """A metric value as TikTok sends it ("1079", "14.68", 12, "1,234", "-", "<5") → a number, or None when it
    is missing or unreadable. Never raises: one odd cell must not sink a whole sync."""
    if value is None or isinstance(value, bool):
        return None
    text = str(value).strip().replace(",", "").replace("\u00a0", "").replace(" ", "")
    if text.lower() in MISSING or text.startswith("<"):
        return None
    try:
        number = Decimal(text)
    except InvalidOperation:
        return None
    if not number.is_finite() or number < 0:
        return None
    return int(number) if integer else number.quantize(Decimal("0.01"))


def _datetime_parse(value) -> dt.datetime | None:
    try:
        return dt.datetime.strptime(str(value), "%Y-%m-%d %H:%M:%S").replace(tzinfo=dt.UTC)
    except (TypeError, ValueError):
        return None


def report_windows(start: dt.date, end: dt.date, days: int = REPORT_WINDOW_DAYS) -> Iterator[tuple[dt.date, dt.date]]:
    """[start, end] cut into inclusive windows of at most `days` days (the daily report's limit)."""
    return date_windows(start, end, days=days)


def campaign_record(item: dict) -> CampaignRecord:
    """One `campaign/get` list item → a record in Closeout's terms."""
    operation = str(item.get("operation_status") or "")
    deleted = operation == DELETE or str(item.get("secondary_status") or "") in DELETED_SECONDARY_STATUSES
    return CampaignRecord(
        platform_id=str(item.get("campaign_id", "")),
        name=str(item.get("campaign_name") or "")[:255],
        objective=OBJECTIVE_FROM_TIKTOK.get(str(item.get("objective_type") or "")),
        budget_mode=BudgetMode.LIFETIME if item.get("budget_mode") == BUDGET_MODE_TOTAL else BudgetMode.DAILY,
        budget=number_parse(item.get("budget"), integer=False) or Decimal("0"),
        status=Status.ENDED if deleted else STATUS_FROM_OPERATION.get(operation),
        deleted=deleted,
        platform_status=DELETE if deleted else operation,
        created=_datetime_parse(item.get("create_time")),
        modified=_datetime_parse(item.get("modify_time")),
    )


class TikTokConnector(Connector):
    name = "tiktok"
    capabilities = Capabilities(
        display_name="TikTok",
        status_batch_size=STATUS_BATCH_SIZE,
        rate_limit_per_second=QPS_BASIC_TIER,
        metric_levels=(MetricLevel.CAMPAIGN, MetricLevel.AD),
        report_window_days=REPORT_WINDOW_DAYS,
        metric_filter_max_ids=IDS_PER_FILTER,
    )

    def __init__(self, account, **kwargs):
        super().__init__(account, **kwargs)
        self.advertiser_id = account.advertiser_id
        self.base_url = (account.api_base_url or settings.TIKTOK_API_BASE_URL).rstrip("/") + "/"
        self.timeout = settings.TIKTOK_API_TIMEOUT
        self._bucket = None

    # HTTP ----------------------------------------------------------------------------------------------------

    def _token(self) -> str:
        name = self.account.access_token_env
        token = os.environ.get(name, "").strip() if name else ""
        if not token:
            where = f"environment variable {name}" if name else "no environment variable is configured"
            raise ConnectorError(f"No TikTok access token: {where} is empty.", code=40104, auth=True)
        return token

    def _throttle(self, token: str):
        """The app's bucket, shared by every process: keyed by TIKTOK_APP_ID, or by the token (one app's
        authorisation) when that is not set; TIKTOK_API_QPS calls per second."""
        if self._bucket is None:
            app = settings.TIKTOK_APP_ID or "token-" + hashlib.sha256(token.encode()).hexdigest()[:32]
            self._bucket = self.throttle_for(key=f"tiktok:{app}", rate=float(settings.TIKTOK_API_QPS))
        return self._bucket

    def _redact(self, text: str, token: str) -> str:
        return text.replace(token, "[redacted]") if token else text

    def _call(self, method: str, endpoint: str, *, params: dict | None = None, body: dict | None = None) -> dict:
        """One request, under the caller's retry policy (`call_retry`)."""
        return self.call_retry(lambda: self._call_once(method, endpoint, params=params, body=body))

    def _call_once(self, method: str, endpoint: str, *, params: dict | None = None, body: dict | None = None) -> dict:
        """One request. Returns `data` of a code-0 (or 20001 partial) response; raises ConnectorError otherwise."""
        token = self._token()
        url = urllib.parse.urljoin(self.base_url, endpoint.strip("/") + "/")
        headers = {"Access-Token": token, "Accept": "application/json"}
        data = None
        if params:
            encoded = {k: v if isinstance(v, str) else json.dumps(v, separators=(",", ":")) for k, v in params.items()}
            url += "?" + urllib.parse.urlencode(encoded)
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if not url.startswith(("http://", "https://")):
            raise ConnectorError("The account's API address must start with http:// or https://.")
        request = urllib.request.Request(url, data=data, headers=headers, method=method)  # noqa: S310
        where = f"TikTok {endpoint.strip('/')}"
        throttle = self._throttle(token)
        throttle.take()
        try:
            # Scheme checked above: only http(s), never file: or custom schemes.
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310  # nosec B310
                raw = response.read()
        except urllib.error.HTTPError as e:
            retryable = e.code >= 500 or e.code == 429
            raise ConnectorError(f"{where}: HTTP {e.code}.", retryable=retryable) from None
        except TimeoutError:
            raise ConnectorError(f"{where}: no answer within {self.timeout:g} s.", retryable=True) from None
        except urllib.error.URLError as e:
            reason = e.reason
            if isinstance(reason, TimeoutError | socket.timeout):
                raise ConnectorError(f"{where}: no answer within {self.timeout:g} s.", retryable=True) from None
            raise ConnectorError(
                f"{where}: network error ({self._redact(str(reason), token)}).", retryable=True
            ) from None
        except (ConnectionError, OSError) as e:
            raise ConnectorError(f"{where}: network error ({type(e).__name__}).", retryable=True) from None
        try:
            payload = json.loads(raw)
            code = int(payload.get("code", -1))
        except (ValueError, TypeError, AttributeError):
            raise ConnectorError(f"{where}: the answer was not TikTok's JSON.", retryable=True) from None
        if code in (0, 20001):
            return payload.get("data") or {}
        message = self._redact(str(payload.get("message") or "no message"), token)[:300]
        request_id = str(payload.get("request_id") or "")[:64]
        suffix = f" (request {request_id})" if request_id else ""
        if code in AUTH_CODES:
            raise ConnectorError(f"{AUTH_MESSAGES[code]} (code {code}){suffix}.", code=code, auth=True)
        if code == RATE_LIMITED:
            throttle.backoff(settings.TIKTOK_RATE_LIMIT_BACKOFF_SECONDS)  # every process waits, not only this one
        retryable = code in RETRYABLE_CODES or 50000 <= code < 60000
        raise ConnectorError(f"{where}: {message} (code {code}){suffix}.", code=code, retryable=retryable)

    def _pages(self, endpoint: str, params: dict) -> Iterator[dict]:
        page = 1
        while True:
            data = self._call("GET", endpoint, params={**params, "page": page, "page_size": PAGE_SIZE})
            yield from data.get("list") or []
            total_page = int((data.get("page_info") or {}).get("total_page") or 1)
            if page >= total_page:
                return
            page += 1

    # Interface: Closeout's verbs in TikTok's calls ---------------------------------------------------------

    def _status_update(self, platform_ids: Sequence[str], operation: str) -> StatusResult:
        ids = self.batch_check(platform_ids)
        data = self._call(
            "POST",
            "campaign/status/update",
            body={"advertiser_id": self.advertiser_id, "campaign_ids": ids, "operation_status": operation},
        )
        answered = {str(i) for i in data.get("campaign_ids") or []}
        confirmed = frozenset(i for i in ids if i in answered)
        return StatusResult(confirmed=confirmed, not_confirmed=frozenset(ids) - confirmed, platform_status=operation)

    def campaigns_pause(self, *, platform_ids: Sequence[str]) -> StatusResult:
        return self._status_update(platform_ids, DISABLE)

    def campaigns_resume(self, *, platform_ids: Sequence[str]) -> StatusResult:
        return self._status_update(platform_ids, ENABLE)

    def campaigns_end(self, *, platform_ids: Sequence[str], delete: bool = False) -> StatusResult:
        # DISABLE stops delivery and keeps the campaign reportable; DELETE is irreversible on TikTok.
        return self._status_update(platform_ids, DELETE if delete else DISABLE)

    def campaigns_pull(self, *, platform_ids: Sequence[str] | None = None) -> Iterator[CampaignRecord]:
        # CAMPAIGN_STATUS_ALL includes deleted campaigns, which the default filter hides.
        filtering: dict = {"secondary_status": "CAMPAIGN_STATUS_ALL"}
        if platform_ids:
            filtering["campaign_ids"] = [str(i) for i in platform_ids][:IDS_PER_FILTER]
        params = {"advertiser_id": self.advertiser_id, "filtering": filtering}
        for item in self._pages("campaign/get", params):
            yield campaign_record(item)

    def metrics_pull(
        self, *, level: MetricLevel, start: dt.date, end: dt.date, platform_ids: Sequence[str] | None = None
    ) -> Iterator[MetricRecord]:
        if level not in REPORT_LEVELS:
            raise ValueError(f"Unknown report level {level!r}.")
        data_level, id_dimension, status_field = REPORT_LEVELS[level]
        extra_metrics = ["campaign_id", "ad_name"] if level == MetricLevel.AD else []
        filtering = [{"field_name": status_field, "filter_type": "IN", "filter_value": '["STATUS_ALL"]'}]
        if platform_ids:
            filtering.append(
                {
                    "field_name": "campaign_ids",
                    "filter_type": "IN",
                    "filter_value": json.dumps(list(platform_ids)[:IDS_PER_FILTER]),
                }
            )
        # Pull asks for at most REPORT_WINDOW_DAYS at a time; cutting here too keeps direct callers within it.
        for window_start, window_end in report_windows(start, end):
            params = {
                "advertiser_id": self.advertiser_id,
                "report_type": "BASIC",
                "data_level": data_level,
                "dimensions": [id_dimension, "stat_time_day"],
                "metrics": [*REPORT_METRICS, *extra_metrics],
                "start_date": window_start.isoformat(),
                "end_date": window_end.isoformat(),
                "filtering": filtering,
            }
            for item in self._pages("report/integrated/get", params):
                record = self._metric_record(item, level=level)
                if record is not None:
                    yield record

    @staticmethod
    def _metric_record(item: dict, *, level: MetricLevel) -> MetricRecord | None:
        dimensions = item.get("dimensions") or {}
        metrics = item.get("metrics") or {}
        day = _datetime_parse(dimensions.get("stat_time_day"))
        if day is None:
            logger.warning("TikTok report row without a readable stat_time_day skipped.")
            return None
        values = {}
        for api_name, field in REPORT_METRICS.items():
            value = number_parse(metrics.get(api_name), integer=field != "spend")
            values[field] = value if value is not None else (Decimal("0") if field == "spend" else 0)
        if level == MetricLevel.CAMPAIGN:
            campaign_id, ad_id, ad_name = str(dimensions.get("campaign_id", "")), "", ""
        else:
            campaign_id = str(metrics.get("campaign_id") or dimensions.get("campaign_id") or "")
            ad_id = str(dimensions.get("ad_id", ""))
            ad_name = str(metrics.get("ad_name") or "")[:255]
        if not campaign_id or campaign_id == "-":
            return None
        return MetricRecord(campaign_id=campaign_id, ad_id=ad_id, ad_name=ad_name, date=day.date(), metrics=values)

    def credentials_check(self) -> None:
        self._call("GET", "campaign/get", params={"advertiser_id": self.advertiser_id, "page": 1, "page_size": 1})
