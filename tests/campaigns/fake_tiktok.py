"""A small, real HTTP server on 127.0.0.1 that implements the documented TikTok Marketing API v1.3 contract the
connector relies on (see /work/shared/tiktok-marketing-api.md and docs/connectors.md):

- `Access-Token` header, checked: missing → 40104, wrong → 40105 (both HTTP 200, like every error);
- GET parameters that are lists/objects arrive as JSON strings in the query string; POST bodies are JSON;
- `campaign/get/`: paging (page, page_size 1–1000, page_info.total_page), sorted by id descending, deleted
  campaigns hidden unless `secondary_status` CAMPAIGN_STATUS_ALL / CAMPAIGN_STATUS_DELETE is asked for;
- `campaign/status/update/`: 1–20 ids (else 40002), ENABLE/DISABLE/DELETE, deleted campaigns cannot change;
- `report/integrated/get/`: BASIC, AUCTION_CAMPAIGN/AUCTION_AD, stat_time_day windows of at most 30 days
  (else 40002), string metric values, deleted objects only with the STATUS_ALL filter;
- attribute metrics asked inside `metrics` (`campaign_id`, `campaign_name`, `objective_type`, `campaign_budget`,
  `ad_name` at the ad level), answered from the campaign and the ad, "-" where they do not apply; an unknown
  metric name is 40002;
- scripted failures: a code (e.g. 40100), a slow answer (timeout), an HTTP 500, per path (and query values, e.g.
  one data_level) and number of times;
- throttling like the app's QPS limit: with `rate_limit_every = N`, every Nth call is answered 40100; with
  `qps_limit = Q`, a call beyond Q in the last second is (counted in `over_limit`).

Use the `fake_tiktok` fixture (import `fake_tiktok_fixture` into the test module); it records every request
in `fake.requests`.
"""

import datetime as dt
import json
import threading
import time
import urllib.parse
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest

PREFIX = "/open_api/v1.3/"
# Report metrics the fake knows (the facts file's BASIC list), and attribute metrics answered from the objects.
REPORT_METRICS = frozenset(
    [
        "spend",
        "impressions",
        "clicks",
        "ctr",
        "cpc",
        "cpm",
        "reach",
        "frequency",
        "conversion",
        "cost_per_conversion",
        "result",
        "cost_per_result",
        "video_play_actions",
        "video_watched_2s",
        "video_watched_6s",
        "likes",
        "comments",
        "shares",
        "follows",
        "profile_visits",
    ]
)
ATTRIBUTE_METRICS = frozenset({"campaign_id", "campaign_name", "objective_type", "campaign_budget", "ad_name"})
TOKEN = "tt-test-token-Zq8v3-SECRET"


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, *args):
        pass


class FakeTikTok:
    def __init__(self, *, token: str = TOKEN, advertiser_id: str = "7000000000000000001"):
        self.token = token
        self.advertiser_id = advertiser_id
        self.campaigns: dict[str, dict] = {}
        self.report_rows: list[dict] = []
        self.requests: list[dict] = []
        self.failures: list[dict] = []
        self.unconfirmed: set[str] = set()  # ids a status update silently leaves out of data.campaign_ids
        self.rate_limit_every = 0  # N > 0: every Nth call (of any endpoint) is answered 40100
        # > 0: as TikTok enforces an app's QPS, a call arriving when this many arrived in the last second is
        # answered 40100 (and counted in `over_limit`).
        self.qps_limit = 0.0
        self.over_limit = 0
        self._lock = threading.Lock()
        self._server = None

    # Setup -------------------------------------------------------------------------------------------------

    def add_campaign(
        self,
        campaign_id: str,
        name: str,
        *,
        operation_status: str = "ENABLE",
        objective_type: str = "VIDEO_VIEWS",
        budget: float = 100,
        budget_mode: str = "BUDGET_MODE_DAY",
        deleted: bool = False,
        create_time: str = "2026-05-01 10:00:00",
    ) -> dict:
        campaign = {
            "advertiser_id": self.advertiser_id,
            "campaign_id": str(campaign_id),
            "campaign_name": name,
            "campaign_type": "REGULAR_CAMPAIGN",
            "objective_type": objective_type,
            "budget": budget,
            "budget_mode": budget_mode,
            "operation_status": "DELETE" if deleted else operation_status,
            "secondary_status": "CAMPAIGN_STATUS_DELETE" if deleted else f"CAMPAIGN_STATUS_{operation_status}",
            "create_time": create_time,
            "modify_time": create_time,
        }
        self.campaigns[str(campaign_id)] = campaign
        return campaign

    def add_metrics(self, campaign_id: str, day: dt.date, *, ad_id: str = "", ad_name: str = "", **metrics):
        """Metric values are stored as TikTok sends them: strings (pass "-" for an empty value)."""
        self.report_rows.append(
            {
                "campaign_id": str(campaign_id),
                "ad_id": str(ad_id),
                "ad_name": ad_name,
                "date": day,
                "metrics": {k: v if isinstance(v, str) else str(v) for k, v in metrics.items()},
            }
        )

    def fail(
        self,
        path: str,
        *,
        code: int = 40100,
        times: int = 1,
        message: str = "",
        delay: float = 0,
        http=0,
        when: dict | None = None,
    ):
        """The next `times` calls to `path` (e.g. "campaign/status/update") fail: with `code` (HTTP 200), after
        sleeping `delay` seconds (a timeout when longer than the client's), or with HTTP status `http`. `when`:
        only calls whose query has these values, e.g. {"data_level": "AUCTION_AD"}."""
        self.failures.append(
            {
                "path": path.strip("/"),
                "code": code,
                "times": times,
                "message": message,
                "delay": delay,
                "http": http,
                "when": when or {},
            }
        )

    def history(self, campaign_id: str) -> dict:
        """The campaign's whole history at the campaign level, summed as TikTok would: {"spend": Decimal, ...}."""
        from decimal import Decimal

        totals: dict = {}
        for row in self.report_rows:
            if row["campaign_id"] == str(campaign_id) and not row["ad_id"]:
                for name, value in row["metrics"].items():
                    number = Decimal(value) if value not in ("-", "") else Decimal(0)
                    totals[name] = totals.get(name, Decimal(0)) + number
        return totals

    def calls(self, path: str) -> list[dict]:
        return [r for r in self.requests if r["path"] == path.strip("/")]

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}{PREFIX}"

    # Server ------------------------------------------------------------------------------------------------

    def start(self) -> "FakeTikTok":
        self._server = make_server("127.0.0.1", 0, self, server_class=_ThreadingServer, handler_class=_QuietHandler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self):
        if self._server:
            self._server.shutdown()
            self._server.server_close()

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        method = environ["REQUEST_METHOD"]
        query = {k: v[-1] for k, v in urllib.parse.parse_qs(environ.get("QUERY_STRING", "")).items()}
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body_raw = environ["wsgi.input"].read(length) if length else b""
        endpoint = path[len(PREFIX) :].strip("/") if path.startswith(PREFIX) else path
        record = {
            "path": endpoint,
            "method": method,
            "query": query,
            "body": json.loads(body_raw) if body_raw else None,
            "token": environ.get("HTTP_ACCESS_TOKEN"),
            "content_type": environ.get("CONTENT_TYPE", ""),
            "at": time.time(),  # when it arrived (wall clock, as the rate limiter's slots)
        }
        with self._lock:
            self.requests.append(record)
            failure = next(
                (
                    f
                    for f in self.failures
                    if f["path"] == endpoint and f["times"] > 0 and all(query.get(k) == v for k, v in f["when"].items())
                ),
                None,
            )
            if failure:
                failure["times"] -= 1
            elif self.rate_limit_every and len(self.requests) % self.rate_limit_every == 0:
                failure = {"code": 40100, "delay": 0, "http": 0, "message": "App reaches the QPS limit 10."}
            elif self.qps_limit and self._arrived_within(record["at"] - 1.0) > self.qps_limit:
                self.over_limit += 1
                failure = {
                    "code": 40100,
                    "delay": 0,
                    "http": 0,
                    "message": f"App reaches the QPS limit {self.qps_limit:g}.",
                }
        if failure and failure["delay"]:
            time.sleep(failure["delay"])
        if failure and failure["http"]:
            start_response(f"{failure['http']} Error", [("Content-Type", "text/plain")])
            return [b"upstream error"]
        if failure and failure["code"]:
            payload = self._error(failure["code"], failure["message"] or "Scripted failure.")
        else:
            payload = self._handle(endpoint, method, record)
        body = json.dumps(payload).encode()
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [body]

    def _arrived_within(self, since: float) -> int:
        """Calls that arrived after `since` (this one included); the newest are at the end."""
        n = 0
        for request in reversed(self.requests):
            if request["at"] <= since:
                break
            n += 1
        return n

    @staticmethod
    def _error(code: int, message: str) -> dict:
        return {"code": code, "message": message, "request_id": f"fake-{code}", "data": {}}

    @staticmethod
    def _ok(data: dict) -> dict:
        return {"code": 0, "message": "OK", "request_id": "fake-ok", "data": data}

    def _handle(self, endpoint: str, method: str, record: dict) -> dict:
        if not record["token"]:
            return self._error(40104, "Access token is empty.")
        if record["token"] != self.token:
            return self._error(40105, "Access token is incorrect or has been revoked.")
        routes = {
            ("campaign/get", "GET"): self._campaign_get,
            ("campaign/status/update", "POST"): self._status_update,
            ("report/integrated/get", "GET"): self._report,
        }
        handler = routes.get((endpoint, method))
        if handler is None:
            return self._error(40002, f"Unknown endpoint {method} {endpoint}.")
        try:
            return handler(record)
        except (ValueError, KeyError, TypeError) as e:
            return self._error(40002, f"Invalid parameters: {e}")

    def _page(self, items: list, query: dict) -> dict | None:
        page, page_size = int(query.get("page", 1)), int(query.get("page_size", 10))
        if page < 1 or not 1 <= page_size <= 1000:
            return None
        total_page = max((len(items) + page_size - 1) // page_size, 1)
        return {
            "list": items[(page - 1) * page_size : page * page_size],
            "page_info": {"page": page, "page_size": page_size, "total_number": len(items), "total_page": total_page},
        }

    def _campaign_get(self, record: dict) -> dict:
        query = record["query"]
        if query.get("advertiser_id") != self.advertiser_id:
            return self._error(40002, "advertiser_id is invalid.")
        filtering = json.loads(query.get("filtering", "{}"))
        wanted_ids = {str(i) for i in filtering.get("campaign_ids", [])}
        status = filtering.get("secondary_status") or filtering.get("primary_status") or ""
        items = []
        for c in sorted(self.campaigns.values(), key=lambda c: int(c["campaign_id"]), reverse=True):
            deleted = c["operation_status"] == "DELETE"
            if deleted and status not in ("CAMPAIGN_STATUS_ALL", "CAMPAIGN_STATUS_DELETE", "STATUS_DELETE"):
                continue
            if wanted_ids and c["campaign_id"] not in wanted_ids:
                continue
            items.append(dict(c))
        page = self._page(items, query)
        return self._ok(page) if page else self._error(40002, "page_size must be between 1 and 1000.")

    def _status_update(self, record: dict) -> dict:
        if "application/json" not in record["content_type"]:
            return self._error(40002, "Content-Type must be application/json.")
        body = record["body"] or {}
        ids = [str(i) for i in body.get("campaign_ids", [])]
        operation = body.get("operation_status")
        if body.get("advertiser_id") != self.advertiser_id:
            return self._error(40002, "advertiser_id is invalid.")
        if not 1 <= len(ids) <= 20:
            return self._error(40002, "campaign_ids: length must be between 1 and 20.")
        if operation not in ("ENABLE", "DISABLE", "DELETE"):
            return self._error(40002, "operation_status is invalid.")
        changed = []
        with self._lock:
            for campaign_id in ids:
                campaign = self.campaigns.get(campaign_id)
                if campaign is None:
                    return self._error(40007, f"Campaign {campaign_id} does not exist.")
                if campaign["operation_status"] == "DELETE":
                    return self._error(40002, "The operation status of a deleted campaign cannot be modified.")
                if campaign_id in self.unconfirmed:
                    continue
                campaign["operation_status"] = operation
                campaign["secondary_status"] = f"CAMPAIGN_STATUS_{operation}"
                changed.append(campaign_id)
        return self._ok({"campaign_ids": changed, "status": operation, "campaign_list": []})

    def _report(self, record: dict) -> dict:
        query = record["query"]
        if query.get("advertiser_id") != self.advertiser_id or query.get("report_type") != "BASIC":
            return self._error(40002, "advertiser_id and report_type=BASIC are required.")
        level = query.get("data_level")
        dimensions = json.loads(query["dimensions"])
        metrics = json.loads(query["metrics"])
        unknown = set(metrics) - REPORT_METRICS - ATTRIBUTE_METRICS
        if unknown:
            return self._error(40002, f"Invalid metrics: {sorted(unknown)}.")
        start = dt.date.fromisoformat(query["start_date"])
        end = dt.date.fromisoformat(query["end_date"])
        if "stat_time_day" in dimensions and (end - start).days + 1 > 30:
            return self._error(40002, "The time range of stat_time_day must not exceed 30 days.")
        filtering = json.loads(query.get("filtering", "[]"))
        status_field = "campaign_status" if level == "AUCTION_CAMPAIGN" else "ad_status"
        include_deleted = any(
            f["field_name"] == status_field and "STATUS_ALL" in json.loads(f["filter_value"]) for f in filtering
        )
        wanted = {str(i) for f in filtering if f["field_name"] == "campaign_ids" for i in json.loads(f["filter_value"])}
        items = []
        for row in self.report_rows:
            if not start <= row["date"] <= end or (level == "AUCTION_AD") != bool(row["ad_id"]):
                continue
            campaign = self.campaigns.get(row["campaign_id"], {})
            if campaign.get("operation_status") == "DELETE" and not include_deleted:
                continue
            if wanted and row["campaign_id"] not in wanted:
                continue
            id_field = "campaign_id" if level == "AUCTION_CAMPAIGN" else "ad_id"
            attributes = {
                "campaign_id": row["campaign_id"],
                "campaign_name": campaign.get("campaign_name", "-"),
                "objective_type": campaign.get("objective_type", "-"),
                "campaign_budget": str(campaign.get("budget", "-")),
                "ad_name": row["ad_name"] if level == "AUCTION_AD" else "-",
            }
            values = {m: attributes[m] if m in ATTRIBUTE_METRICS else row["metrics"].get(m, "0") for m in metrics}
            items.append(
                {
                    "dimensions": {id_field: row[id_field], "stat_time_day": f"{row['date']:%Y-%m-%d} 00:00:00"},
                    "metrics": values,
                }
            )
        page = self._page(items, query)
        return self._ok(page) if page else self._error(40002, "page_size must be between 1 and 1000.")


@pytest.fixture(name="fake_tiktok")
def fake_tiktok_fixture():
    server = FakeTikTok().start()
    yield server
    server.stop()


@pytest.fixture(name="tiktok_account")
def tiktok_account_fixture(account, fake_tiktok, monkeypatch, settings):
    """The `account` fixture, connected to the fake server with a token in an environment variable."""
    monkeypatch.setenv("CLOSEOUT_TEST_TIKTOK_TOKEN", fake_tiktok.token)
    settings.TIKTOK_API_TIMEOUT = 0.5
    account.connector = "tiktok"
    account.advertiser_id = fake_tiktok.advertiser_id
    account.access_token_env = "CLOSEOUT_TEST_TIKTOK_TOKEN"
    account.api_base_url = fake_tiktok.url
    account.save(update_fields=["connector", "advertiser_id", "access_token_env", "api_base_url"])
    return account
