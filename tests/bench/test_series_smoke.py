"""A tiny run of the series section (`make bench` runs it at 10,000, 100,000 and 1,000,000 campaigns): two sizes
generated into SQLite files of their own, each migrated, generated and measured in its own process, and the table
with a row per page and size."""

import pytest

from tests.bench import series
from tests.bench.probes import Row
from tests.bench.results import rows_markdown

pytestmark = pytest.mark.django_db  # the home and list probes run in subprocesses; this only reads settings

PAGE_NAMES = [
    "list page 1",
    "list deep page",
    "list text search",
    "list status filter",
    "list sorted by total spend",
    "report page",
    "rules evaluation",
    "home page",
]


@pytest.fixture(scope="module")
def tiny_series(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("series")
    logged = []
    run = series.Series(
        sizes=[200, 2_000],
        url_for=lambda size: f"sqlite:///{tmp}/series_{series.size_label(size)}.sqlite3",
        requests=2,
        warmup=0,
        log=logged.append,
        timings_dir=tmp,
    )
    return run.run(), logged, tmp


def test_series_tiny_sizes_give_a_row_per_page_and_size_with_a_result(tiny_series):
    rows, logged, tmp = tiny_series
    assert [r.scenario for r in rows] == [f"{page} @ {size}" for page in PAGE_NAMES for size in ("200", "2,000")]
    assert {r.section for r in rows} == {"series"}
    for row in rows:
        assert row.median_ms is not None and row.median_ms > 0, row
        assert row.queries, row
    # Each size has its own database, generated at its size and kept for the next run (which the generator then
    # leaves alone: tests/bench/test_bench_smoke.py).
    assert (tmp / "series_200.sqlite3").exists() and (tmp / "series_2k.sqlite3").exists()
    generated = [line for line in logged if line.strip().startswith("Generated ")]
    assert len(generated) == 2 and "2,000 campaigns, 60,000 metric rows, 4,000 content items" in generated[1]
    table = rows_markdown(rows)
    for row in rows:
        if row.scenario.startswith("list "):
            # Every list row is judged against the admin changelist and the query budget.
            assert row.result in ("PASS", "FAIL"), row
            assert "× admin" in row.compare and "≤ 0.5× admin, ≤ 8 queries" in row.target
        if row.scenario.endswith("@ 2,000"):
            # The largest size is judged against its time at the size before.
            assert "× at 200" in row.compare and "≤ 1.5× at 200" in row.target
            assert row.result in ("PASS", "FAIL"), row
        assert f"| series | {row.scenario} |" in table


def _point(ms, queries=8, admin_ms=None):
    pages = {}
    for key in series.LIST_PAGES:
        pages[f"list {key}"] = Row("list", key, ms, ms, queries)
        pages[f"admin {key}"] = Row("admin", key, admin_ms or ms * 3, admin_ms or ms * 3, 6)
    pages["report page"] = Row("report", "report page (365×50)", ms, ms, 8)
    pages["rules evaluation"] = Row("rules", "100 rules, first evaluation (acts)", ms * 100, None, 805)
    pages["home page"] = Row("home", "home page", ms, ms, 5)
    return pages


def test_series_largest_size_not_run_says_so_instead_of_pass():
    rows = series.series_table(
        [10_000, 100_000, 1_000_000], {10_000: _point(10), 100_000: _point(11)}, not_run={1_000_000}
    )
    top = [r for r in rows if r.scenario.endswith("@ 1,000,000")]
    assert len(top) == len(PAGE_NAMES)
    assert {r.result for r in top} == {"not run (BENCH_SERIES_1M=1)"}
    assert "| not run (BENCH_SERIES_1M=1) |" in rows_markdown(top)
    assert {r.result for r in rows if r.scenario.startswith("list ") and r.scenario.endswith("@ 100,000")} == {"PASS"}


def test_series_growth_over_the_size_before_and_list_vs_admin_decide_the_result():
    measured = {10_000: _point(10), 100_000: _point(10), 1_000_000: _point(14)}
    measured[1_000_000]["list deep page"] = Row("list", "deep page", 16, 16, 8)  # 1.6× its 100,000 time
    measured[1_000_000]["list text search"] = Row("list", "text search", 14, 14, 9)  # one query over the budget
    measured[1_000_000]["admin status filter"] = Row("admin", "status filter", 20, 20, 6)  # list 0.7× admin
    rows = {r.scenario: r for r in series.series_table(sorted(measured), measured)}
    assert rows["list page 1 @ 1,000,000"].result == "PASS"
    assert "1.40× at 100,000" in rows["list page 1 @ 1,000,000"].compare
    assert rows["list deep page @ 1,000,000"].result == "FAIL"
    assert rows["list text search @ 1,000,000"].result == "FAIL"
    assert rows["list status filter @ 1,000,000"].result == "FAIL"
    assert rows["report page @ 1,000,000"].result == "PASS"  # 8 queries, 1.4× the time
    nine = {size: _point(10) for size in (10_000, 100_000, 1_000_000)}
    for point in nine.values():
        point["report page"] = Row("report", "report page (365×50)", 10, 10, 9)  # flat, but one over the 8
    nine_rows = {r.scenario: r for r in series.series_table(sorted(nine), nine)}
    assert nine_rows["report page @ 1,000,000"].result == "FAIL"
    assert nine_rows["report page @ 10,000"].result == "FAIL"
    assert "≤ 8 queries" in nine_rows["report page @ 1,000,000"].target
    assert rows["home page @ 1,000,000"].result == "PASS"
    # Growth is judged only at the largest size: 100,000 over 10,000 is shown, not judged.
    assert rows["rules evaluation @ 100,000"].result == ""
    assert "1.00× at 10,000" in rows["rules evaluation @ 100,000"].compare


def test_series_table_has_its_own_docs_section_kept_by_the_main_run(tmp_path, monkeypatch):
    from django.db import connection

    from tests.bench import results

    monkeypatch.setattr(results, "DOCS", tmp_path / "benchmarks.md")
    rows = series.series_table([10_000, 100_000], {10_000: _point(10), 100_000: _point(11)})

    class Bench:
        vendor_label, total, n = "SQLite", 100_000, 30
        series_generated = {10_000: {"seconds": 21.8, "date": "2026-12-02 06:10 UTC", "spec": "10,000 campaigns"}}

    series.series_docs_write(rows=rows, bench=Bench, summary="1 PASS, 0 FAIL, 9s on SQLite.")
    results.docs_write(vendor=connection.vendor, label="SQLite", table="| main |\n", total=100_000, requests=30,
                       summary="main run")  # fmt: skip
    text = results.DOCS.read_text()
    series_part = text.split(f"<!-- bench:series-{connection.vendor}:start -->")[1].split("end -->")[0]
    assert "| series | list page 1 @ 100,000 |" in series_part
    assert "10,000 campaigns generated in 22 s wall" in series_part
    assert "| main |" in text.split(f"<!-- bench:{connection.vendor}:start -->")[1]


def test_series_rules_left_out_at_a_size_say_not_run():
    from tests.bench.run import RULES_COUNT

    point = _point(12)
    note = series.RULES_NOT_RUN.format(limit=100_000)
    point["rules evaluation"] = Row("rules", f"{RULES_COUNT} rules, first evaluation (acts)", note=note)
    rows = {r.scenario: r for r in series.series_table([100_000, 1_000_000], {100_000: _point(10), 1_000_000: point})}
    assert rows["rules evaluation @ 1,000,000"].result == "not run"
    assert "--series-rules-max" in rows["rules evaluation @ 1,000,000"].note
    assert rows["list page 1 @ 1,000,000"].result == "PASS"
