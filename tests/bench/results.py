"""The benchmark's output: the markdown table of result rows, and docs/benchmarks.md (its header with the
machine, and one section per database, kept when the other database is run)."""

import datetime as dt
import json
import platform
import re
import subprocess
from pathlib import Path

import django
from django.conf import settings
from django.db import connection

from .probes import Row

BASE_DIR = Path(settings.BASE_DIR)
DOCS = BASE_DIR / "docs" / "benchmarks.md"


def rows_markdown(rows: list[Row]) -> str:
    def ms(value):
        return "" if value is None else (f"{value:,.1f}" if value < 100 else f"{value:,.0f}")

    lines = [
        "| Section | Scenario | Median ms | p95 ms | Queries | Comparison | Target | Result | Note |",
        "|---|---|---:|---:|---:|---|---|---|---|",
    ]
    for r in rows:
        note = r.note.replace("|", "\\|")
        cells = [r.section, r.scenario, ms(r.median_ms), ms(r.p95_ms), "" if r.queries is None else str(r.queries),
                 r.compare, r.target, r.result, note]  # fmt: skip
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def machine_description() -> str:
    cpuinfo = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    model = re.search(r"model name\s*:\s*(.+)", cpuinfo)
    cores = cpuinfo.count("processor\t:")
    memory = subprocess.run(["free", "-g"], capture_output=True, text=True, check=False).stdout.strip()  # noqa: S607
    return (
        f"- CPU: {model.group(1).strip() if model else platform.processor()} × {cores} cores\n"
        f"- Python {platform.python_version()}, Django {django.get_version()}, {platform.platform()}\n"
        f"- Memory (`free -g`):\n\n```\n{memory}\n```\n"
    )


# The sections of docs/benchmarks.md, in order: each database's run, the series (issue 19) per database, the
# hand-written notes, and `make soak`'s.
DOCS_SECTIONS = ("sqlite", "postgresql", "series-sqlite", "series-postgresql", "notes", "soak")


def docs_write(
    *, vendor: str, label: str, table: str, total: int, requests: int, summary: str, section: str = "", generator=None
) -> None:
    """Write or update docs/benchmarks.md: the header (machine, date, commands) and this database's section
    (`section`: another key of DOCS_SECTIONS for this database, with `generator` its data-generation text)."""
    key = section or vendor
    start, end = f"<!-- bench:{key}:start -->", f"<!-- bench:{key}:end -->"
    existing = DOCS.read_text() if DOCS.exists() else ""
    sections = {}
    for other in DOCS_SECTIONS:  # soak: `make soak` writes it
        match = re.search(rf"<!-- bench:{other}:start -->.*?<!-- bench:{other}:end -->", existing, re.S)
        if match:
            sections[other] = match.group(0)
    with connection.cursor() as cursor:
        cursor.execute("SELECT sqlite_version()" if vendor == "sqlite" else "SHOW server_version")
        version = cursor.fetchone()[0]
    generated = BASE_DIR / "bench" / f"generate-{vendor}.json"
    if generator is None:
        generator = ""
    elif generator:
        generator += "\n\n"
    if not section and generated.exists():
        info = json.loads(generated.read_text())
        steps = ", ".join(f"{k} {v:.1f} s" for k, v in info["steps"].items())
        reused = f"; reused by this run ({info['reused']})" if info.get("reused") else ""
        generator = (
            f"Data generated in {info['seconds']:.0f} s wall, {info.get('cpu_seconds', 0):.0f} s CPU of the "
            f"generator process, on {info['date']} ({steps}){reused}.\n\n"
        )
    sections[key] = (
        f"{start}\n## {label} {version}\n\nRun {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, "
        f"{'' if section else f'{total:,} campaigns, '}{requests} requests per scenario. {summary}\n\n"
        f"{generator}{table}{end}"
    )
    body = DOCS_HEADER.format(machine=machine_description(), date=f"{dt.datetime.now(dt.UTC):%Y-%m-%d}")
    body += "\n\n".join(sections[v] for v in DOCS_SECTIONS if v in sections) + "\n"
    DOCS.parent.mkdir(parents=True, exist_ok=True)
    DOCS.write_text(body)


DOCS_HEADER = """# Benchmarks

Written by `make bench` (`python -m tests.bench run --write-docs`); last updated {date}. Each figure is the
median of 30 warm requests through the Django test client (p95 beside it) unless said otherwise; "Queries" is the
SQL statement count of one request. The list page and the admin changelist of a scenario are requested in
alternation (list, admin, list, …), so noise on the shared machine falls on both sides of their ratio. "SQL floor"
rows run the page's own captured statements bare through the DB-API cursor, so the gap between a page and its
floor is Python: ORM, forms, template rendering.

## How to run

```
make bench
```

which does, for each database (SQLite file `bench/closeout_bench.sqlite3`, PostgreSQL database `closeout_bench`):

```
DATABASE_URL=… python manage.py migrate
DATABASE_URL=… python -m tests.bench generate         # 50 accounts, 100,000 campaigns, 3,000,000 metric rows,
                                                        # 200,000 content items; reused when already there
DJANGO_DEBUG=0 DATABASE_URL=… python -m tests.bench run --write-docs
```

Data: campaigns in all states (55 % active, 25 % paused, 20 % ended, with audit rows), names like
"Glow Drop 2025 #123", totals denormalised on Campaign; one campaign "Bench 365x50" with 365 days × 50 content
items for the report and snapshot. The benchmark user is a manager in all 50 accounts and a superuser (for the
admin). Bulk transitions and snapshots run in a transaction that is rolled back. The CSV export is measured in a
subprocess (time, growth of peak RSS). Load: gunicorn with 2 sync workers on 127.0.0.1 and `wrk -t2 -c16 -d20s`
with a logged-in session cookie; wrk and gunicorn share the machine's cores. Non-2xx responses (3xx included) are
counted from gunicorn's access log: wrk runs without a Lua `response()` callback, which copies every body into
Lua and cost the 150 KB shared page 20–30 % of its requests/s.

Series (issue 19, "pages flat as the data grows"): the same list, admin, report and rules probes, plus the home
page, at 10,000 and 100,000 campaigns, and at 1,000,000 with `make bench BENCH_SERIES_1M=1` (30 daily rows and 2
content items a campaign: 30,000,000 daily rows at the top). Each size is a data set of its own, generated once
and kept (`bench/closeout_series_10k.sqlite3`, database `closeout_series_10k`, …; the 100,000 point is the bench's
own data, which the seeded generator makes identical), and measured in a process of its own
(`python -m tests.bench run --series-point`). Targets: at the largest size each page within 1.5× its time at
100,000; the list scenarios, the home page and the report page within 8 queries, the rule evaluation with no more
queries than at 100,000; the list within 0.5× the admin changelist at every size. Without BENCH_SERIES_1M=1
the 1,000,000 rows say "not run (BENCH_SERIES_1M=1)"; the rule evaluation runs at every size
(`--series-rules-max N` leaves it out above N campaigns; see the notes). The series tables are their own sections
below; run only them with `python -m tests.bench run --only series --write-docs` (`--series-sizes`,
`--series-url` for others).

## Machine

{machine}
"""
