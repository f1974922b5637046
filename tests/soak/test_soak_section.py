"""The soak's section of docs/benchmarks.md: `make soak` rewrites only it, and `make bench`, which rewrites the
rest of the file, keeps it."""

import pytest
from django.db import connection

from tests.bench import results
from tests.soak import soak

BENCH_FILE = """# Benchmarks

Header.

<!-- bench:sqlite:start -->
## SQLite
rows
<!-- bench:sqlite:end -->

<!-- bench:notes:start -->
## Notes
kept
<!-- bench:notes:end -->
"""


def test_soak_section_write_replaces_only_its_own_block(tmp_path, monkeypatch):
    docs = tmp_path / "benchmarks.md"
    docs.write_text(BENCH_FILE)
    monkeypatch.setattr(soak, "BENCHMARKS", docs)

    soak.section_write("## Soak\n\nfirst run")
    soak.section_write("## Soak\n\nsecond run")

    text = docs.read_text()
    assert text.startswith(BENCH_FILE.rstrip())  # every other section as it was
    assert text.count("<!-- bench:soak:start -->") == 1
    assert "second run" in text and "first run" not in text


@pytest.mark.django_db
def test_bench_docs_write_keeps_the_soak_section(tmp_path, monkeypatch):
    docs = tmp_path / "benchmarks.md"
    docs.write_text(BENCH_FILE + "\n<!-- bench:soak:start -->\n## Soak\n\nsoak figures\n<!-- bench:soak:end -->\n")
    monkeypatch.setattr(results, "DOCS", docs)
    monkeypatch.setattr(results, "machine_description", lambda: "test machine")

    vendor = "sqlite" if connection.vendor == "sqlite" else "postgresql"  # the section of the suite's database
    results.docs_write(vendor=vendor, label=vendor, table="new rows\n", total=1, requests=1, summary="")

    text = docs.read_text()
    assert "new rows" in text and "kept" in text
    assert "<!-- bench:soak:start -->\n## Soak\n\nsoak figures\n<!-- bench:soak:end -->" in text
