"""How far a metrics pull got: one row per pull job of an account (the periodic sync, a history backfill, a
campaign's final pull), so a pull that failed half-way resumes where it stopped instead of starting again, and
the account page can show a backfill's progress. Written only by `campaigns.platforms.history`. And the shared
rate limiter's state (`RateBucket`, `campaigns.platforms.ratelimit`)."""

import datetime as dt

from django.db import models


class PullKind(models.TextChoices):
    SYNC = "sync", "Periodic sync"
    BACKFILL = "backfill", "History backfill"
    FINAL = "final", "Final pull before the close report"


class PullState(models.TextChoices):
    RUNNING = "running", "Running"
    DONE = "done", "Done"


class MetricPull(models.Model):
    """Daily metrics of `platform_ids` (empty: the whole account) from `start_date` to `end_date`, pulled one
    window and level at a time, each committed on its own. `levels_through` maps a metric level ("campaign",
    "ad") to the last day committed at that level: every day from `start_date` through it is stored."""

    account = models.ForeignKey("campaigns.AdAccount", on_delete=models.CASCADE, related_name="metric_pulls")
    campaign = models.ForeignKey(
        "campaigns.Campaign", on_delete=models.CASCADE, null=True, blank=True, related_name="metric_pulls"
    )
    kind = models.CharField(max_length=10, choices=PullKind.choices)
    state = models.CharField(max_length=10, choices=PullState.choices, default=PullState.RUNNING)
    platform_ids = models.JSONField(default=list, blank=True)
    start_date = models.DateField()
    end_date = models.DateField()
    levels_through = models.JSONField(default=dict, blank=True)
    windows_done = models.PositiveIntegerField(default=0)
    windows_total = models.PositiveIntegerField(default=0)
    attempts = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    last_tried_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["account", "kind", "state"], name="metricpull_account_kind_state")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} of {self.account_id}: {self.start_date}–{self.end_date} ({self.state})"

    def through(self, level: str) -> dt.date | None:
        value = (self.levels_through or {}).get(str(level))
        return dt.date.fromisoformat(value) if value else None

    def complete_through(self, levels) -> dt.date | None:
        """The last day stored at every one of `levels` (None: not even the first day)."""
        days = [self.through(level) for level in levels]
        return None if not days or None in days else min(days)

    @property
    def is_done(self) -> bool:
        return self.state == PullState.DONE

    @property
    def percent(self) -> int:
        return 100 if not self.windows_total else min(100, round(100 * self.windows_done / self.windows_total))


class RateBucket(models.Model):
    """The next free call slot of one app's rate-limit bucket, in microseconds since the epoch, when there is no
    shared cache (`campaigns.platforms.ratelimit.DatabaseSlots`). Moved with a compare-and-set UPDATE."""

    key = models.CharField(max_length=100, primary_key=True)
    next_at_us = models.BigIntegerField()

    def __str__(self) -> str:
        return self.key
