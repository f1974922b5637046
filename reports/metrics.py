"""Every figure of a report, defined once: its label, unit, which way is better, how it is written and, for a
derived rate, its formula. The snapshot (what is frozen), the report page and its KPI cards, the content table,
the reports list, the account comparison, the CSV exports and the PDF all read these definitions.

Adding a derived metric is one entry in `METRICS` (where its KPI card should show) with its `Ratio` and
`since=` the new `SNAPSHOT_VERSION`, and that bump. Reports frozen before it do not hold it and render exactly as
they were: every reader asks `metrics_for(snapshot)`. A metric that is also ranked in the account comparison
(`compare=True`) needs a `CloseReport` column of its name (models.py and its migration).

Pure: no queries, no Django models beyond the campaign's metric field names."""

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from campaigns.models import METRIC_FIELDS

from .formatting import COUNT, MONEY, PERCENT, fmt_value

# What a frozen snapshot holds. Bump it when a snapshot starts to store something new, e.g. a derived metric (give
# the metric `since=` the new number); reports frozen under an older version keep rendering what they hold.
# 2 (issue 18): the timeline (notes, status changes, rule actions) is frozen in "timeline".
SNAPSHOT_VERSION = 2

CENT = Decimal("0.01")
MILLI = Decimal("0.0001")

HIGHER = "higher"
LOWER = "lower"
# A denominator meaning "the campaign's result metric" (the one its objective counts as one result).
RESULT = "result"


def ratio(numerator, denominator, *, scale: int = 1, places: Decimal = MILLI) -> Decimal | None:
    """numerator / denominator × scale, rounded; None when the denominator is zero (shown as "—")."""
    if not denominator:
        return None
    return (Decimal(numerator) * scale / Decimal(denominator)).quantize(places, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Ratio:
    """A derived metric's formula: sum(numerator fields) / denominator field × scale, rounded to 4 places; None
    when the denominator is zero. The denominator RESULT is the campaign's result metric."""

    numerator: str | tuple[str, ...]
    denominator: str
    scale: int = 1

    @property
    def fields(self) -> tuple[str, ...]:
        return (self.numerator,) if isinstance(self.numerator, str) else self.numerator

    def compute(self, totals: Mapping, *, result_metric: str) -> Decimal | None:
        """The value from a set of totals (spend as Decimal or string, counts as int)."""
        denominator = totals.get(result_metric, 0) if self.denominator == RESULT else totals[self.denominator]
        numerator = sum((Decimal(totals[field]) for field in self.fields), Decimal(0))
        return ratio(numerator, denominator, scale=self.scale)


@dataclass(frozen=True)
class Metric:
    """One figure. A base metric is a summed field of the daily metrics (`campaigns.models.METRIC_FIELDS`); a
    derived one has a `formula`."""

    key: str  # the key in the snapshot's totals (base) or rates (derived)
    label: str
    unit: str = COUNT  # formatting.COUNT, MONEY or PERCENT
    better: str = HIGHER
    formula: Ratio | None = None
    short: str = ""  # the column heading in narrow tables (the label when empty)
    note: str = ""  # the line under its KPI card; "{result}" is the result metric's name
    since: int = 1  # the first SNAPSHOT_VERSION that stores it
    per_content: bool = False  # also frozen for each content item (content table and content CSV)
    csv: str = ""  # its column name in the content CSV (the key when empty)
    column: str = ""  # the CloseReport column that copies it (reports list, comparison); `compare` implies the key
    compare: bool = False  # ranked in the account comparison (needs its column)

    def __post_init__(self):
        if self.compare and not self.column:
            object.__setattr__(self, "column", self.key)

    @property
    def derived(self) -> bool:
        return self.formula is not None

    @property
    def heading(self) -> str:
        return self.short or self.label

    @property
    def csv_name(self) -> str:
        return self.csv or self.key

    def compute(self, totals: Mapping, *, result_metric: str) -> Decimal | None:
        return self.formula.compute(totals, result_metric=result_metric)

    def format(self, value, currency: str = "") -> str:
        return fmt_value(value, self.unit, currency)


# In the order of the report's KPI cards.
METRICS: tuple[Metric, ...] = (
    Metric("spend", "Spend", MONEY, LOWER, column="spend"),
    Metric("video_views", "Video views", short="Views", column="video_views"),
    Metric(
        "engagement_rate",
        "Engagement rate",
        PERCENT,
        formula=Ratio(("likes", "comments", "shares"), "video_views", 100),
        short="Eng. rate",
        note="(likes + comments + shares) / views",
        per_content=True,
        csv="engagement_rate_pct",
        compare=True,
    ),
    Metric("follows", "Followers gained", short="Followers", column="followers"),
    Metric("impressions", "Impressions", column="impressions"),
    Metric("reach", "Reach", note="sum of daily reach"),
    Metric("clicks", "Clicks"),
    Metric(
        "ctr", "CTR", PERCENT, formula=Ratio("clicks", "impressions", 100), note="clicks / impressions", compare=True
    ),
    Metric(
        "cpm",
        "CPM",
        MONEY,
        LOWER,
        formula=Ratio("spend", "impressions", 1000),
        note="cost per 1,000 impressions",
        compare=True,
    ),
    Metric("cost_per_view", "Cost per view", MONEY, LOWER, formula=Ratio("spend", "video_views"), compare=True),
    Metric("cost_per_follower", "Cost per follower", MONEY, LOWER, formula=Ratio("spend", "follows")),
    Metric(
        "cost_per_result",
        "Cost per result",
        MONEY,
        LOWER,
        formula=Ratio("spend", RESULT),
        short="Cost / result",
        note="result = {result}",
        per_content=True,
    ),
    Metric("likes", "Likes"),
    Metric("comments", "Comments"),
    Metric("shares", "Shares"),
    Metric("profile_visits", "Profile visits"),
)

BY_KEY: dict[str, Metric] = {m.key: m for m in METRICS}
DERIVED: tuple[Metric, ...] = tuple(m for m in METRICS if m.derived)
BASE_KEYS = frozenset(METRIC_FIELDS)

# The campaign's targets, in the order a report lists them: (campaign field, metric key).
TARGETS = (
    ("target_views", "video_views"),
    ("target_reach", "reach"),
    ("target_clicks", "clicks"),
    ("target_followers", "follows"),
    ("target_engagement_rate", "engagement_rate"),
    ("target_cost_per_result", "cost_per_result"),
)


def metric(key: str) -> Metric:
    return BY_KEY[key]


def label(key: str) -> str:
    """The metric's label; an unknown key (an objective's result metric from the future) as it is."""
    found = BY_KEY.get(key)
    return found.label if found else key


def rates_from_totals(totals: Mapping, *, result_metric: str) -> dict:
    """Every derived rate of a set of totals, as strings (JSON-safe; None when its denominator is zero)."""
    out = {}
    for m in DERIVED:
        value = m.compute(totals, result_metric=result_metric)
        out[m.key] = None if value is None else str(value)
    return out


def snapshot_version(snapshot: Mapping) -> int:
    return snapshot.get("version", 1)


def metrics_for(snapshot: Mapping, *, per_content: bool = False) -> list[Metric]:
    """The metrics this snapshot holds (those added after it was frozen are left out), in KPI order; with
    `per_content`, only those frozen for each content item."""
    version = snapshot_version(snapshot)
    return [m for m in METRICS if m.since <= version and (m.per_content or not per_content)]


def snapshot_value(snapshot: Mapping, key: str):
    """A metric's frozen value: from the totals (base) or the rates (derived); None if not held."""
    return snapshot["rates"].get(key) if BY_KEY[key].derived else snapshot["totals"].get(key)


def report_columns(snapshot: Mapping) -> dict:
    """The CloseReport columns that copy frozen figures, from the snapshot (Decimal or int; None stays None)."""
    out = {}
    for m in METRICS:
        if not m.column:
            continue
        value = snapshot_value(snapshot, m.key)
        if value is None:
            out[m.column] = None
        else:
            out[m.column] = int(value) if m.unit == COUNT else Decimal(value)
    return out
