"""`python -m tests.bench.imports [--rows N]`: an Ads Manager import of N rows (default 1,000,000) on the database of
DATABASE_URL (migrated), through Closeout's own tasks (issue 19):

- **preview**: `metric_import_preview_run` reading the stored CSV into the staging table and planning it in SQL
  (target ≥ 100,000 rows/s);
- **commit**: `metric_import_commit_run`, the all-or-nothing commit from the staged rows (the plan made again in
  SQL, then the write; target ≥ 50,000 rows/s on PostgreSQL, ≥ 20,000 on SQLite);
- **peak RSS** of the process doing each (target < 200 MB): each step runs in a subprocess of its own, whose
  `ru_maxrss` the parent reads (`resource.getrusage(RUSAGE_CHILDREN)` after it exited);
- **the floor**: the same rows written bare into a scratch table, COPY on PostgreSQL, `executemany` on SQLite,
  from tuples already in memory: what the database itself costs.

The CSV is generated here (campaigns × ads × days, every key once); the rows are imported into an account of
their own ("Bench imports …"), deleted at the end. `make bench` runs it as the section "imports" (`imports_section`)
at IMPORT_BENCH_ROWS; alone it prints each figure beside its target and floor, PASS or FAIL."""

import argparse
import datetime as dt
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ROWS = 1_000_000
PREVIEW_MIN_ROWS_PER_S = 100_000
COMMIT_MIN_ROWS_PER_S = {"postgresql": 50_000, "sqlite": 20_000}
PEAK_RSS_MAX_MB = 200
ACCOUNT_NAME = "Bench imports"
HEADER = (
    "Campaign name,Ad name,By Day,Cost,Impressions,Reach,Clicks (destination),Video views,Paid likes,"
    "Paid comments,Paid shares,Paid follows,Profile visits"
)


def csv_generate(path: Path, rows: int = ROWS, *, days: int = 200, ads: int = 50) -> int:
    """Write an export of `rows` ad-level daily rows (campaigns × `ads` ads × `days` days, up to yesterday) to
    `path`. Returns the number of rows written."""
    today = dt.date.today()
    first = today - dt.timedelta(days=days)
    day_texts = [(first + dt.timedelta(days=n)).isoformat() for n in range(days)]
    written = 0
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write(HEADER + "\n")
        campaign = 0
        while written < rows:
            for ad in range(ads):
                for n, day in enumerate(day_texts):
                    if written >= rows:
                        return written
                    k = written % 997
                    out.write(
                        f"Bench import {campaign:05d},Ad {ad:03d},{day},{k / 10 + 1:.2f},{1000 + k},{800 + k},"
                        f"{k % 50},{300 + n},{k % 30},{k % 7},{k % 5},{k % 3},{k % 11}\n"
                    )
                    written += 1
            campaign += 1
    return written


def _setup() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    os.environ["TASKS_BACKEND"] = "django.tasks.backends.dummy.DummyBackend"  # the probe runs the task bodies
    os.environ.setdefault("DATABASE_STATEMENT_TIMEOUT", "0")
    os.environ.setdefault("DATABASE_LOCK_TIMEOUT", "60")
    os.environ["DJANGO_LOG_LEVEL"] = "ERROR"
    import django  # noqa: PLC0415

    django.setup()


def _account():
    from campaigns.models import AdAccount  # noqa: PLC0415

    return AdAccount.objects.create(name=f"{ACCOUNT_NAME} {os.getpid()}", currency="USD", timezone="UTC")


def probe(step: str, *, csv_path: Path, import_id: int | None) -> dict:
    """One step in this process (a subprocess of `measure`): "preview" stores the file as an upload would and
    reads it; "commit" commits that import; "floor" writes the file's rows bare into a scratch table; "cleanup"
    deletes the bench account. Prints one JSON object."""
    _setup()
    from django.core.files import File  # noqa: PLC0415
    from django.db import connection, transaction  # noqa: PLC0415

    from campaigns import services  # noqa: PLC0415
    from campaigns.models import (  # noqa: PLC0415
        AdAccount,
        Campaign,
        DailyMetric,
        ImportState,
        MetricImport,
        MetricImportRow,
    )

    result: dict = {"vendor": connection.vendor}
    if step == "preview":
        account = _account()
        with csv_path.open("rb") as handle:
            metric_import = MetricImport(
                account=account, filename=csv_path.name, sha256=_sha256(csv_path), size=csv_path.stat().st_size,
                state=ImportState.QUEUED,
            )  # fmt: skip
            metric_import.file.save(csv_path.name, File(handle), save=False)
            metric_import.save()
        started = time.perf_counter()
        state = services.metric_import_preview_run(import_id=metric_import.pk)
        result |= {"seconds": time.perf_counter() - started, "state": state, "import_id": metric_import.pk}
        metric_import.refresh_from_db()
        result["rows"] = metric_import.summary.get("data_rows", 0)
        # Ad-level rows, and the campaign days summed from them: what the commit must store.
        result["planned"] = sum(metric_import.summary.get("metric_rows", {}).values())
        result["errors"] = metric_import.summary.get("error_count", 0) if state == "preview" else metric_import.error
    elif step == "commit":
        from campaigns.services import metric_imports  # noqa: PLC0415

        metric_import = MetricImport.objects.get(pk=import_id)
        services.metric_import_commit(metric_import=metric_import, actor=None)  # committing; the task is not run
        upsert, writes = metric_imports.daily_metrics_bulk_upsert, []

        def timed_upsert(**kwargs):  # the write alone (staging + upserts + totals), beside the whole commit
            begun = time.perf_counter()
            try:
                return upsert(**kwargs)
            finally:
                writes.append(time.perf_counter() - begun)

        metric_imports.daily_metrics_bulk_upsert = timed_upsert
        started = time.perf_counter()
        state = services.metric_import_commit_run(import_id=import_id)
        result |= {"seconds": time.perf_counter() - started, "state": state, "write_seconds": sum(writes)}
        metric_import.refresh_from_db()
        result["stored"] = DailyMetric.objects.filter(campaign__account_id=metric_import.account_id).count()
        result["error"] = metric_import.error
    elif step == "floor":
        rows = _floor_rows(csv_path)
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                "CREATE TEMPORARY TABLE bench_import_floor (campaign_id bigint, content_item_id bigint, "
                "date date, spend numeric(14, 2), impressions bigint, reach bigint, clicks bigint, "
                "video_views bigint, likes bigint, comments bigint, shares bigint, follows bigint, "
                "profile_visits bigint)"
            )
            started = time.perf_counter()
            if connection.vendor == "postgresql":
                with cursor.cursor.copy("COPY bench_import_floor FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
            else:
                cursor.executemany(f"INSERT INTO bench_import_floor VALUES ({', '.join(['%s'] * 13)})", rows)  # noqa: S608
            result |= {"seconds": time.perf_counter() - started, "rows": len(rows)}
            cursor.execute("DROP TABLE bench_import_floor")
    elif step == "cleanup":
        accounts = AdAccount.objects.filter(name__startswith=ACCOUNT_NAME)
        bench_imports = MetricImport.objects.filter(account__in=accounts).values("pk")
        MetricImportRow.objects.filter(metric_import_id__in=bench_imports)._raw_delete(MetricImportRow.objects.db)
        DailyMetric.objects.filter(campaign__account__in=accounts)._raw_delete(DailyMetric.objects.db)
        for account in accounts:
            for metric_import in account.imports.all():
                metric_import.file.delete(save=False)
        Campaign.objects.filter(account__in=accounts).delete()
        accounts.delete()
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return result


def _sha256(path: Path) -> str:
    import hashlib  # noqa: PLC0415

    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


def _floor_rows(csv_path: Path) -> list[tuple]:
    """The file's rows as the tuples the commit stages (ids made up), in memory before the clock starts."""
    import csv  # noqa: PLC0415

    rows = []
    with csv_path.open(encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        next(reader)
        for n, cells in enumerate(reader):
            rows.append((n // 10_000 + 1, n + 1, cells[2], cells[3], *(int(c) for c in cells[4:])))
    return rows


def _child(step: str, csv_path: Path, import_id: int | None, env: dict) -> dict:
    """Run `probe(step)` in a fresh interpreter; its peak RSS is its own (ru_maxrss of a child that exited)."""
    command = [sys.executable, "-m", "tests.bench.imports", "--probe", step, "--file", str(csv_path)]
    if import_id is not None:
        command += ["--import-id", str(import_id)]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=3600)  # noqa: S603
    if done.returncode:
        raise RuntimeError(f"import probe {step} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure(rows: int = ROWS) -> dict:
    """Generate the CSV, then preview, commit, floor and cleanup, each in a subprocess. Returns the figures."""
    env = os.environ.copy()
    with tempfile.TemporaryDirectory(prefix="closeout-imports-") as tmp:
        env["DJANGO_MEDIA_ROOT"] = tmp
        csv_path = Path(tmp) / "bench-export.csv"
        started = time.perf_counter()
        written = csv_generate(csv_path, rows)
        generated = time.perf_counter() - started
        try:
            preview = _child("preview", csv_path, None, env)
            if preview["state"] != "preview" or preview["errors"]:
                raise RuntimeError(f"the bench file did not preview cleanly: {preview}")
            commit = _child("commit", csv_path, preview["import_id"], env)
            floor = _child("floor", csv_path, None, env)
        finally:
            _child("cleanup", csv_path, None, env)
        size_mb = csv_path.stat().st_size / 1024 / 1024
    return {
        "rows": written,
        "file_mb": size_mb,
        "generate_seconds": generated,
        "vendor": preview["vendor"],
        "preview": preview,
        "commit": commit,
        "floor": floor,
    }


def figures_rows(result: dict):
    """The measured figures as bench result rows (`probes.Row`), each beside its target and floor."""
    from tests.bench.probes import Row  # noqa: PLC0415

    n, vendor = result["rows"], result["vendor"]
    preview, commit, floor = result["preview"], result["commit"], result["floor"]
    floor_rate = floor["rows"] / floor["seconds"]
    preview_rate = n / preview["seconds"]
    commit_rate = n / commit["seconds"]
    commit_min = COMMIT_MIN_ROWS_PER_S.get(vendor, 20_000)
    write_rate = preview.get("planned", n) / commit["write_seconds"] if commit.get("write_seconds") else 0
    how = f"{n:,} ad-level rows, {result['file_mb']:.0f} MB of CSV"
    floor_how = "COPY" if vendor == "postgresql" else "executemany"
    return [
        Row(
            "imports", f"preview of {n:,} CSV rows", preview["seconds"] * 1000,
            compare=f"{preview_rate:,.0f} rows/s", target=f"≥ {PREVIEW_MIN_ROWS_PER_S:,} rows/s",
            ok=preview_rate >= PREVIEW_MIN_ROWS_PER_S, note=how,
        ),
        Row(
            "imports", f"commit of {n:,} rows", commit["seconds"] * 1000,
            compare=f"{commit_rate:,.0f} rows/s (the write alone: {write_rate:,.0f} rows/s, "
            f"{commit.get('write_seconds', 0):.1f} s); floor (bare {floor_how}) {floor_rate:,.0f} rows/s; "
            f"{commit['stored']:,} of {preview['planned']:,} planned rows stored",
            target=f"≥ {commit_min:,} rows/s, every row stored once",
            ok=commit_rate >= commit_min and commit["stored"] == preview["planned"], note=how,
        ),
        Row(
            "imports", "peak RSS of the preview worker", None,
            compare=f"{preview['peak_rss_mb']:.0f} MB", target=f"< {PEAK_RSS_MAX_MB} MB",
            ok=preview["peak_rss_mb"] < PEAK_RSS_MAX_MB, note=how,
        ),
        Row(
            "imports", "peak RSS of the commit worker", None,
            compare=f"{commit['peak_rss_mb']:.0f} MB", target=f"< {PEAK_RSS_MAX_MB} MB",
            ok=commit["peak_rss_mb"] < PEAK_RSS_MAX_MB, note=how,
        ),
        Row(
            "imports", f"floor: bare {floor_how} of {floor['rows']:,} rows", floor["seconds"] * 1000,
            compare=f"{floor_rate:,.0f} rows/s", note="the rows already in memory; a scratch table",
        ),
    ]  # fmt: skip


IMPORT_BENCH_ROWS = ROWS


def imports_section(bench) -> None:
    """`make bench`'s section "imports" (registered in tests/bench/run.py): `measure` at IMPORT_BENCH_ROWS on the
    run's database (DATABASE_URL: its subprocesses connect by it), its rows appended to the run's. Skipped with
    --quick, as the backfill is (the smoke test's database is pytest's, which DATABASE_URL does not name)."""
    from tests.bench.probes import Row  # noqa: PLC0415

    if bench.options.get("quick"):
        bench.rows.append(Row("imports", "import of 1,000,000 rows", note="skipped with --quick (a few minutes)"))
        return
    rows = IMPORT_BENCH_ROWS
    result = measure(rows)
    bench.rows.extend(figures_rows(result))
    bench.log(
        f"  imports: preview {rows / result['preview']['seconds']:,.0f} rows/s, "
        f"commit {rows / result['commit']['seconds']:,.0f} rows/s"
    )


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=ROWS)
    parser.add_argument("--probe", choices=["preview", "commit", "floor", "cleanup"])
    parser.add_argument("--file", type=Path)
    parser.add_argument("--import-id", type=int)
    options = parser.parse_args(argv)
    if options.probe:
        print(json.dumps(probe(options.probe, csv_path=options.file, import_id=options.import_id), default=str))
        return
    _setup()  # for the result rows (tests.bench.probes); the probes set up their own
    result = measure(options.rows)
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    for row in figures_rows(result):
        ms = f"{row.median_ms:,.0f} ms" if row.median_ms is not None else ""
        print(f"{row.result or '    '}  {row.scenario}: {ms} {row.compare} (target {row.target or '—'})")
    print(f"largest child's peak RSS (RUSAGE_CHILDREN): {children:.0f} MB")
    print(json.dumps(result, default=str))


if __name__ == "__main__":
    main()
