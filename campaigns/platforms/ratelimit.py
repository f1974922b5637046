"""One rate limiter for all of Closeout's calls to a platform: a bucket per app, shared by every web and worker
process (issue 15 §3).

The platform limits calls per app (TikTok: 10 per second on the basic tier, `TIKTOK_API_QPS`), however many
processes make them. Each call takes the next free slot of its app's bucket, slots `1/rate` seconds apart, and
sleeps until its slot: at most `rate` calls start in any second, pushes, pulls and backfills alike. A throttling
answer (`backoff`) moves the next free slot later for everyone. The bucket's state is one number per key (the
next free slot): in the shared cache when there is one (a lock taken with the atomic `cache.add`), else in the
database (`RateBucket`, a compare-and-set UPDATE), so every process on every host sees it. Slots are wall-clock
times: hosts sharing a bucket need synchronised clocks (NTP)."""

import time

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError

from ..models import RateBucket

# Caches every process keeps on its own (or whose `add` is not atomic across processes): the database is used.
UNSHARED_CACHES = frozenset(
    {
        "django.core.cache.backends.locmem.LocMemCache",
        "django.core.cache.backends.dummy.DummyCache",
        "django.core.cache.backends.filebased.FileBasedCache",
    }
)
MICROS = 1_000_000
CACHE_LOCK_SECONDS = 5  # a holder that died frees the lock after this long
CACHE_STATE_SECONDS = 3600


def _now_us() -> int:
    return int(time.time() * MICROS)


class DatabaseSlots:
    """The next free slot per key in `RateBucket`, moved with a compare-and-set UPDATE (safe on SQLite and
    PostgreSQL, no lock held)."""

    def reserve(self, key: str, *, interval_us: int) -> int:
        while True:
            now = _now_us()
            current = RateBucket.objects.filter(key=key).values_list("next_at_us", flat=True).first()
            if current is None:
                try:
                    RateBucket.objects.create(key=key, next_at_us=now + interval_us)
                    return now
                except IntegrityError:
                    continue  # another process created it first
            slot = max(current, now)
            if RateBucket.objects.filter(key=key, next_at_us=current).update(next_at_us=slot + interval_us):
                return slot

    def push(self, key: str, *, until_us: int) -> None:
        RateBucket.objects.filter(key=key, next_at_us__lt=until_us).update(next_at_us=until_us)


class CacheSlots:
    """The next free slot per key in the shared cache, read and moved under a short lock (`cache.add`)."""

    def _locked(self, key: str, change) -> int:
        lock = f"{key}:lock"
        while not cache.add(lock, 1, CACHE_LOCK_SECONDS):
            time.sleep(0.001)
        try:
            return change(cache.get(key) or 0)
        finally:
            cache.delete(lock)

    def reserve(self, key: str, *, interval_us: int) -> int:
        def change(current: int) -> int:
            slot = max(current, _now_us())
            cache.set(key, slot + interval_us, CACHE_STATE_SECONDS)
            return slot

        return self._locked(key, change)

    def push(self, key: str, *, until_us: int) -> None:
        def change(current: int) -> int:
            if current < until_us:
                cache.set(key, until_us, CACHE_STATE_SECONDS)
            return current

        self._locked(key, change)


def slots_store() -> DatabaseSlots | CacheSlots:
    """The shared cache when the default cache is shared by every process, else the database."""
    if settings.CACHES["default"]["BACKEND"] in UNSHARED_CACHES:
        return DatabaseSlots()
    return CacheSlots()


# Slots are spaced for this share of the platform's limit: a call delayed between its slot and its arrival (a busy
# host, the network) then does not take a second past the limit, which the platform answers with a 40100 and
# everyone's backoff. At 10 calls/s, eleven calls on time span 1.075 s: 75 ms of jitter between two of them is
# absorbed (at 0.95 it was 53 ms, and `make bench`'s backfill saw 1–2 calls of 500 over the limit). Measured in
# `make bench` (backfill): calls over the limit, and the rate reached (≥ 90 % of the limit).
HEADROOM = 0.93
# `rate` + 1 calls on time span 1 / HEADROOM seconds, whatever the rate: a call that starts more than half of the
# 75 ms past its slot takes another (half is left for the network), this many times at most (`Bucket.take`).
LATE_US = int(MICROS * (1 / HEADROOM - 1) / 2)
MAX_LATE_RESERVES = 3


class Bucket:
    """`take()` before each call: waits for this call's slot. `backoff(seconds)`: the platform throttled us,
    nobody calls for `seconds`."""

    def __init__(self, *, key: str, rate: float, store=None):
        self.key = f"closeout:rate:{key}"[:100]
        self.interval_us = max(int(MICROS / (rate * HEADROOM)), 1)
        self.store = store or slots_store()

    def take(self) -> float:
        """Reserve the next slot and sleep until it. Returns the seconds waited.

        A call that wakes more than LATE_US after its slot (a busy host: the process was not scheduled in time)
        leaves that slot empty and takes the next free one, up to MAX_LATE_RESERVES times: started that late, it
        could fall in the same second as the next `rate` slots, one call over the platform's limit."""
        waited = 0.0
        for _ in range(MAX_LATE_RESERVES + 1):
            slot = self.store.reserve(self.key, interval_us=self.interval_us)
            wait = (slot - _now_us()) / MICROS
            if wait > 0:
                time.sleep(wait)
                waited += wait
            if _now_us() - slot <= LATE_US:
                break
        return waited

    def backoff(self, seconds: float) -> None:
        self.store.push(self.key, until_us=_now_us() + int(seconds * MICROS))


class Unlimited:
    """For platforms that declare no limit (and the none connector)."""

    def take(self) -> float:
        return 0.0

    def backoff(self, seconds: float) -> None:
        pass


def bucket_for(*, key: str, rate: float | None) -> Bucket | Unlimited:
    """The shared bucket of `key` (an app's credentials) at `rate` calls per second; unlimited when None."""
    return Bucket(key=key, rate=rate) if rate else Unlimited()
