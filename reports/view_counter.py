"""Counting views of shared pages cheaply: a coarse browser family instead of anything identifying, and a
per-process buffer that writes the views of the last second in one transaction (see
`reports.services.sharing.share_view_record`)."""

import atexit
import logging
import re
import threading
from collections.abc import Callable

from django.conf import settings
from django.db import connection

logger = logging.getLogger(__name__)

_BROWSERS = (
    ("edg/", "Edge"),
    ("opr/", "Opera"),
    ("samsungbrowser", "Samsung Internet"),
    ("firefox/", "Firefox"),
    ("fxios", "Firefox"),
    ("crios", "Chrome"),
    ("chrome/", "Chrome"),
    ("chromium/", "Chrome"),
    ("safari/", "Safari"),
)
_SYSTEMS = (
    ("android", "Android"),
    ("iphone", "iOS"),
    ("ipad", "iPadOS"),
    ("windows", "Windows"),
    ("mac os x", "macOS"),
    ("cros", "ChromeOS"),
    ("linux", "Linux"),
)
_BOT = re.compile(r"bot|crawl|spider|slurp|preview|curl|wget|python|headless", re.IGNORECASE)


def user_agent_family(user_agent: str) -> str:
    """A coarse, non-identifying browser family: "Chrome on Android", "Safari on iOS", "Bot", "Other"."""
    ua = (user_agent or "")[:512]
    if not ua:
        return "Unknown"
    if _BOT.search(ua):
        return "Bot or script"
    low = ua.lower()
    browser = next((name for needle, name in _BROWSERS if needle in low), "Other browser")
    system = next((name for needle, name in _SYSTEMS if needle in low), "")
    return f"{browser} on {system}" if system else browser


class ViewBuffer:
    """The views this process has counted but not written yet. `write(batch)` stores a batch; it is called on a
    timer (`SHARE_VIEW_FLUSH_SECONDS` after the first pending view), when `max_pending` are waiting, and when the
    process exits. A failed write keeps the batch (at most `max_kept`) for the next flush."""

    max_pending = 100
    max_kept = 10_000  # while the database refuses writes, keep at most this many

    def __init__(self, write: Callable[[list], None]):
        self._write = write
        self._lock = threading.Lock()
        self._pending: list = []
        self._timer: threading.Timer | None = None
        atexit.register(self.flush)

    def add(self, view) -> None:
        with self._lock:
            self._pending.append(view)
            full = len(self._pending) >= self.max_pending
            if not full and self._timer is None:
                self._timer = threading.Timer(settings.SHARE_VIEW_FLUSH_SECONDS, self._flush_from_timer)
                self._timer.daemon = True
                self._timer.start()
        if full:
            self.flush()

    def flush(self) -> None:
        with self._lock:
            batch, self._pending = self._pending, []
            timer, self._timer = self._timer, None
        if timer is not None and timer is not threading.current_thread():
            timer.cancel()
        if not batch:
            return
        try:
            self._write(batch)
        except Exception:
            logger.exception("Could not write %d share-page views; kept for the next flush", len(batch))
            with self._lock:
                self._pending[:0] = batch[-self.max_kept :]

    def _flush_from_timer(self) -> None:
        try:
            self.flush()
        finally:
            connection.close()  # this thread's own connection
