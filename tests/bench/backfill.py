"""`python -m tests.bench.backfill`: the platform backfill of many accounts against the HTTP fake of TikTok's
Marketing API on 127.0.0.1 (tests/campaigns/fake_tiktok.py), through Closeout's own code: every account's whole
history pulled by `platform_backfill_run`, several "workers" (threads) at once, all taking slots from the one
rate limiter (issue 15 §3). Two runs:

- **enforced**: the fake answers 40100 to any call beyond TIKTOK_API_QPS in the last second, as TikTok does: the
  calls per second reached (target ≥ 90 % of the limit) and the calls over it (target 0);
- **throttled**: every 4th call answered 40100 whatever the rate: rows stored against the rows the fake holds
  (target 0 lost), and rows stored per second.

Runs in a fresh SQLite file of its own (migrated here), so the benchmark data is never touched; prints one JSON
object. `make bench` runs it (section "backfill"); alone: `python -m tests.bench.backfill --accounts 50`."""

import argparse
import datetime as dt
import json
import os
import queue
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _setup(db_path: Path, qps: float) -> None:
    sys.path.insert(0, str(ROOT))
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.local"
    os.environ["DATABASE_URL"] = f"sqlite:///{db_path}"
    os.environ["TASKS_BACKEND"] = "django.tasks.backends.dummy.DummyBackend"  # the threads run the backfills
    os.environ["TIKTOK_API_QPS"] = str(qps)
    os.environ["DJANGO_LOG_LEVEL"] = "ERROR"
    os.environ.setdefault("DATABASE_STATEMENT_TIMEOUT", "0")
    os.environ.setdefault("DATABASE_LOCK_TIMEOUT", "60")
    import django  # noqa: PLC0415

    django.setup()
    from django.core.management import call_command  # noqa: PLC0415

    call_command("migrate", verbosity=0)


def _accounts(fake, *, accounts: int, campaigns: int, days: int, token_env: str) -> int:
    """`accounts` connected accounts of `campaigns` campaigns with `days` days on the fake (campaign and ad
    level). Returns the rows the fake holds."""
    from decimal import Decimal  # noqa: PLC0415

    from campaigns.models import AdAccount, Campaign  # noqa: PLC0415

    today = dt.date.today()
    start = today - dt.timedelta(days=days - 1)
    rows = 0
    for a in range(accounts):
        account = AdAccount.objects.create(
            name=f"Backfill {a}", connector="tiktok", advertiser_id=fake.advertiser_id, api_base_url=fake.url,
            access_token_env=token_env, timezone="UTC", currency="USD",
        )  # fmt: skip
        for c in range(campaigns):
            platform_id = f"18{a:06d}{c:06d}"
            Campaign.objects.create(
                account=account, name=f"Backfill {a}-{c}", platform_id=platform_id, start_date=start,
                budget_amount=Decimal("100"), objective="video_views",
            )  # fmt: skip
            fake.add_campaign(platform_id, f"Backfill {a}-{c}")
            for n in range(days):
                day = start + dt.timedelta(days=n)
                fake.add_metrics(platform_id, day, spend="1.25", impressions="400", video_play_actions="100")
                fake.add_metrics(platform_id, day, ad_id=f"71{a:06d}{c:06d}", ad_name="Ad", spend="0.50")
                rows += 2
    return rows


def _run(fake, *, workers: int) -> dict:
    """Every account's backfill, `workers` threads at once; timings from the fake's own arrival times."""
    from django.db import close_old_connections  # noqa: PLC0415

    from campaigns.models import AdAccount, DailyMetric, MetricPull  # noqa: PLC0415
    from campaigns.platforms import history  # noqa: PLC0415

    DailyMetric.objects.all().delete()
    MetricPull.objects.all().delete()
    pulls = queue.Queue()
    for account in AdAccount.objects.all():
        pull = history.platform_backfill_start(account=account)
        pulls.put(pull.pk)
    first_request = len(fake.requests)
    errors: list[str] = []

    def worker():
        try:
            while True:
                try:
                    pull_id = pulls.get_nowait()
                except queue.Empty:
                    return
                for _ in range(10):  # a retryable failure is queued again in real life; here: run again
                    result = history.platform_backfill_run(pull_id=pull_id)
                    if "error" not in result:
                        break
                else:
                    errors.append(str(result))
        finally:
            close_old_connections()

    t0 = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - t0
    arrivals = sorted(r["at"] for r in fake.requests[first_request:])
    span = (arrivals[-1] - arrivals[0]) if len(arrivals) > 1 else seconds
    return {
        "seconds": seconds,
        "calls": len(arrivals),
        "calls_per_second": (len(arrivals) - 1) / span if span > 0 else 0.0,
        "rows_stored": DailyMetric.objects.count(),
        "errors": errors[:3],
    }


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", type=int, default=50)
    parser.add_argument("--campaigns", type=int, default=2, help="Campaigns per account.")
    parser.add_argument("--days", type=int, default=45, help="Days of history each (two 30-day windows).")
    parser.add_argument("--qps", type=float, default=10.0, help="TIKTOK_API_QPS, enforced by the fake.")
    parser.add_argument("--workers", type=int, default=4)
    options = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="closeout-backfill-") as tmp:
        _setup(Path(tmp) / "backfill.sqlite3", options.qps)
        from tests.campaigns.fake_tiktok import FakeTikTok  # noqa: PLC0415

        fake = FakeTikTok().start()
        try:
            os.environ["CLOSEOUT_BENCH_TIKTOK_TOKEN"] = fake.token
            held = _accounts(fake, accounts=options.accounts, campaigns=options.campaigns, days=options.days,
                             token_env="CLOSEOUT_BENCH_TIKTOK_TOKEN")  # fmt: skip
            fake.qps_limit = options.qps
            enforced = _run(fake, workers=options.workers)
            enforced["over_limit"] = fake.over_limit
            fake.qps_limit, fake.over_limit = 0, 0
            fake.rate_limit_every = 4
            throttled = _run(fake, workers=options.workers)
            throttled["rows_per_second"] = throttled["rows_stored"] / throttled["seconds"]
        finally:
            fake.stop()
    return {"options": vars(options), "rows_held": held, "enforced": enforced, "throttled": throttled}


if __name__ == "__main__":
    print(json.dumps(main(), default=str))
