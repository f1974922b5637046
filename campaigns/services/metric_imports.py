"""Ads Manager file imports (issue 19: in the background, at database speed).

The states (`ImportState`): queued → parsing → preview → committing → committed; parsing or committing → failed,
with the reason in `error`; preview → discarded. A file up to IMPORT_INLINE_MAX_BYTES is read in the request (a
small export takes milliseconds, and a file that cannot be used at all is refused there and stores nothing, as
before); a larger one is stored queued and read by the task `metric_import_preview_task`, which writes its
`progress` as it goes. The commit is always the task `metric_import_commit_task`.

The preview stages the file's rows in the table `MetricImportRow` (`imports.file_stage`, chunk by chunk, so a
worker's memory does not grow with the file) and plans them in SQL (`imports.import_plan`); the commit plans the
staged rows again (the account may have changed) and writes them with one INSERT … SELECT (`imports.plan_apply`),
never reading the file again. An import's staged rows are deleted when it is committed, discarded or failed; the
reconcile check `campaigns.imports` deletes those of imports long past (`imports.staged_orphans_delete`).

Both tasks can be killed and run again: each locks the import's row (`select_for_update`), re-checks its state
and quietly does nothing when the work is already done. The commit stores everything in one transaction,
together with the import's move to committed, so a worker killed mid-commit leaves nothing behind and the state
still "committing"; the lost-task sweep, or the reconcile check `campaigns.imports` (campaigns/worker/checks.py),
runs it again."""

import contextlib
import datetime as dt
import gc
import hashlib

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

from .. import imports
from ..models import Action, AdAccount, Campaign, ImportState, MetricImport, Source, StatusChange
from . import effects
from .delivery import still_delivering_detect
from .errors import CampaignError
from .metrics import daily_metrics_bulk_upsert

WORKING_STATES = (ImportState.QUEUED, ImportState.PARSING, ImportState.COMMITTING)
PROGRESS_SECONDS = 1.0  # at most one progress write a second


def _sha256_of(upload) -> str:  # chunk by chunk: a 500 MB upload is never in memory whole
    digest = hashlib.sha256()
    for chunk in upload.chunks():
        digest.update(chunk)
    upload.seek(0)
    return digest.hexdigest()


def _rows_estimate(upload, size: int) -> int:
    """About how many rows the file has (less its header line): its size over the mean length of its first
    64 KB's lines (0 when it cannot tell, e.g. a workbook)."""
    upload.seek(0)
    head = upload.read(64 * 1024)
    upload.seek(0)
    if head.startswith(b"PK") or b"\n" not in head:
        return 0
    lines = round(size / (len(head) / head.count(b"\n"))) if len(head) < size else head.count(b"\n")
    return max(lines - 1, 0)


def metric_import_start(*, account: AdAccount, upload, actor) -> MetricImport:
    """Store an uploaded export and read it: at once when it is small (see the module docstring), else in the
    background. Raises `imports.ImportFileError` (a clear message; nothing is stored) for an upload that is
    missing, empty or too big, and for a small file that cannot be used at all."""
    imports.upload_check(upload)
    filename = imports.display_filename(upload.name)
    size = upload.size
    if size <= settings.IMPORT_INLINE_MAX_BYTES:
        return metric_import_preview(account=account, upload=upload, actor=actor)
    sha = _sha256_of(upload)
    metric_import = MetricImport(
        account=account,
        uploaded_by=actor if actor is not None and actor.is_authenticated else None,
        filename=filename,
        sha256=sha,
        size=size,
        state=ImportState.QUEUED,
        progress={"step": "reading", "done": 0, "total": _rows_estimate(upload, size)},
        progress_at=timezone.now(),
    )
    metric_import.file.save(f"{sha[:16]}-{imports.safe_filename(filename)}", upload, save=False)
    metric_import.save()
    # Queued after the row is committed (no transaction is open here); an enqueue that fails is found by the
    # reconcile check, which queues it again.
    effects.metric_import_preview_enqueue(import_id=metric_import.pk)
    return metric_import


def _summary(
    *, account: AdAccount, import_id: int, filename: str, sha: str, handle=None, content=None, progress=None
) -> dict:
    """Stage the file's rows under `import_id` and plan them: the import's summary. Raises ImportFileError (the
    staged rows are then the caller's to delete or roll back)."""
    staged = imports.file_stage(
        import_id=import_id, content=content, handle=handle, filename=filename, progress=progress
    )
    try:
        summary = imports.import_plan(account=account, import_id=import_id, staged=staged).summary()
    finally:
        imports.plan_drop()
    previous = (
        MetricImport.objects.filter(account=account, sha256=sha, state=ImportState.COMMITTED)
        .order_by("-committed_at")
        .first()
    )
    if previous:
        summary["already_imported_at"] = previous.committed_at.isoformat() if previous.committed_at else ""
    return summary


def metric_import_preview(*, account: AdAccount, upload, actor) -> MetricImport:
    """Read an uploaded export in this process and store it with a plan of what committing would do (its rows
    staged for the commit); nothing else changes. Raises `imports.ImportFileError` for files that cannot be used
    at all (then nothing is stored); row errors are stored in the summary, for the preview to list."""
    content = imports.upload_read(upload)
    filename = imports.display_filename(upload.name)
    sha = hashlib.sha256(content).hexdigest()
    with transaction.atomic():  # a file refused stores nothing: neither the import nor its staged rows
        metric_import = MetricImport.objects.create(
            account=account,
            uploaded_by=actor if actor is not None and actor.is_authenticated else None,
            filename=filename,
            sha256=sha,
            size=len(content),
            progress_at=timezone.now(),
        )
        metric_import.summary = _summary(
            account=account, import_id=metric_import.pk, content=content, filename=filename, sha=sha
        )
        metric_import.file.save(f"{sha[:16]}-{imports.safe_filename(filename)}", ContentFile(content), save=False)
        metric_import.save(update_fields=["summary", "file"])
    return metric_import


@contextlib.contextmanager
def _no_cycle_collection():
    """Reading a big file makes millions of small objects that hold no reference cycles: the cyclic collector
    would walk them again and again (measured: 2.7× slower on 200,000 rows). Reference counting still frees
    them; the collector runs again after."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class _Progress:
    """Writes the task's progress on the import's row, at most every PROGRESS_SECONDS (outside any transaction,
    so the page sees it at once)."""

    def __init__(self, *, import_id: int, step: str, total: int):
        self.import_id, self.step, self.total = import_id, step, total
        self.last = 0.0

    def __call__(self, done: int) -> None:
        now = timezone.now()
        if now.timestamp() - self.last < PROGRESS_SECONDS:
            return
        self.last = now.timestamp()
        MetricImport.objects.filter(pk=self.import_id).update(
            progress={"step": self.step, "done": done, "total": max(self.total, done)}, progress_at=now
        )


def _state_claim(*, import_id: int, states: tuple, to: str) -> MetricImport | None:
    """Lock the import, and move it to `to` if it is in one of `states`: the import, or None (gone, or past
    that point: the work was done by an earlier run)."""
    with transaction.atomic():
        locked = MetricImport.objects.select_for_update().filter(pk=import_id).first()
        if locked is None or locked.state not in states:
            return None
        locked.state = to
        locked.progress_at = timezone.now()
        locked.save(update_fields=["state", "progress_at"])
        return locked


def _fail(*, import_id: int, from_state: str, error: str) -> None:
    MetricImport.objects.filter(pk=import_id, state=from_state).update(
        state=ImportState.FAILED, error=error, progress_at=timezone.now()
    )


def metric_import_preview_run(*, import_id: int) -> str:
    """The preview task's work: stage the stored file's rows of a queued (or interrupted) import and plan them
    into its summary, then state preview; failed with the reason for a file that cannot be used at all (its
    stored file and staged rows deleted). Idempotent: an import past parsing is left alone; an interrupted run's
    staged rows are deleted before reading again. Returns the state it leaves."""
    metric_import = _state_claim(
        import_id=import_id, states=(ImportState.QUEUED, ImportState.PARSING), to=ImportState.PARSING
    )
    if metric_import is None:
        return "skipped"
    imports.staged_delete(import_id=import_id)
    try:
        with metric_import.file.open("rb") as handle:
            total = imports.rows_count(handle=handle, filename=metric_import.filename)
        total = max(total - 1, 0) or (metric_import.progress or {}).get("total", 0)  # less the header
        MetricImport.objects.filter(pk=import_id).update(
            progress={"step": "reading", "done": 0, "total": total}, progress_at=timezone.now()
        )
        progress = _Progress(import_id=import_id, step="reading", total=total)
        with metric_import.file.open("rb") as handle, _no_cycle_collection():
            summary = _summary(
                account=metric_import.account,
                import_id=import_id,
                handle=handle,
                filename=metric_import.filename,
                sha=metric_import.sha256,
                progress=progress,
            )
    except imports.ImportFileError as error:
        _fail(import_id=import_id, from_state=ImportState.PARSING, error=f"Nothing was imported: {error}")
        imports.staged_delete(import_id=import_id)
        if metric_import.file:
            metric_import.file.delete(save=False)
            MetricImport.objects.filter(pk=import_id).update(file="")
        return ImportState.FAILED
    except (ValueError, OSError):
        _fail(import_id=import_id, from_state=ImportState.PARSING, error="The uploaded file is no longer available.")
        imports.staged_delete(import_id=import_id)
        return ImportState.FAILED
    rows = summary["data_rows"]
    updated = MetricImport.objects.filter(pk=import_id, state=ImportState.PARSING).update(
        state=ImportState.PREVIEW,
        summary=summary,
        progress={"step": "reading", "done": rows, "total": rows},
        progress_at=timezone.now(),
    )
    if not updated:  # failed or discarded meanwhile: its rows are not needed
        imports.staged_delete(import_id=import_id)
    return ImportState.PREVIEW


def metric_import_commit(*, metric_import: MetricImport, actor) -> MetricImport:
    """Ask for a previewed import to be committed: state committing, then the task `metric_import_commit_task`
    (which under the immediate backend runs before this returns). Raises CampaignError when the import is not
    in preview or has row errors (nothing changes then). Returns the import as it now is."""
    with transaction.atomic():
        locked = MetricImport.objects.select_for_update().get(pk=metric_import.pk)
        if locked.state != ImportState.PREVIEW:
            raise CampaignError(f"This import is already {locked.get_state_display().lower()}.")
        error_count = (locked.summary or {}).get("error_count", 0)
        if error_count:
            raise CampaignError(
                f"The file has {error_count} row error{'s' if error_count != 1 else ''}; "
                "fix them and upload it again. Nothing was imported."
            )
        locked.state = ImportState.COMMITTING
        locked.committed_by = actor if actor is not None and actor.is_authenticated else None
        locked.progress = {"step": "writing", "done": 0, "total": (locked.summary or {}).get("data_rows", 0)}
        locked.progress_at = timezone.now()
        locked.save(update_fields=["state", "committed_by", "progress", "progress_at"])
    # After the commit above (its task must see the state); a lost enqueue is found by the reconcile check.
    effects.metric_import_commit_enqueue(import_id=metric_import.pk)
    metric_import.refresh_from_db()
    return metric_import


def metric_import_commit_run(*, import_id: int) -> str:
    """The commit task's work, all or nothing, from the rows the preview staged (the file is not read again): in
    one transaction with the import's row locked, the plan is made again in SQL (the account may have changed
    since the preview; a row error now fails the import), then campaigns created (manual accounts), content
    items created, daily metrics upserted, totals refreshed (the list's counts and search table follow by
    trigger), the audit rows, the import committed; on commit the guardrail rules are queued
    (`effects.metrics_stored`), then still-delivering is checked, and the staged rows deleted.

    Idempotent: an import that is not committing (already committed, failed or gone) is left alone, so a second
    run stores nothing twice. Staged rows that are missing fail the import (upload again); an unexpected error
    fails the import (nothing stored) and is raised again for the task's record. Returns the state it leaves."""
    metric_import = MetricImport.objects.filter(pk=import_id, state=ImportState.COMMITTING).first()
    if metric_import is None:
        return "skipped"
    try:
        result = _commit_apply(import_id=import_id)
    except imports.ImportFileError as error:
        _fail(import_id=import_id, from_state=ImportState.COMMITTING, error=f"{error} Nothing was imported.")
        imports.staged_delete(import_id=import_id)
        return ImportState.FAILED
    except CampaignError as error:
        _fail(import_id=import_id, from_state=ImportState.COMMITTING, error=str(error))
        imports.staged_delete(import_id=import_id)
        return ImportState.FAILED
    except Exception as error:
        _fail(
            import_id=import_id,
            from_state=ImportState.COMMITTING,
            error=f"The import failed ({type(error).__name__}). Nothing was imported; try again.",
        )
        raise
    finally:
        imports.plan_drop()
    if result is None:
        return "skipped"
    imports.staged_delete(import_id=import_id)
    still_delivering_detect(campaign_ids=result["campaign_ids"])
    return ImportState.COMMITTED


_STAGED_GONE = "The rows read from the file are no longer available; upload it again. Nothing was imported."


def _commit_apply(*, import_id: int) -> dict | None:
    with transaction.atomic():
        locked = MetricImport.objects.select_for_update().filter(pk=import_id).first()
        if locked is None or locked.state != ImportState.COMMITTING:
            return None  # another run committed (or it was failed) meanwhile
        summary = locked.summary or {}
        if "staged_rows" not in summary:
            raise CampaignError(_STAGED_GONE)
        staged = imports.StagedFile(
            format=summary.get("format", ""),
            columns=_summary_columns(summary),
            unknown_columns=[],
            rows=summary["staged_rows"],
            errors=[],
            error_count=0,
            skipped=summary.get("skipped_rows", 0),
            currencies=summary.get("currencies") or {},
        )
        MetricImport.objects.filter(pk=import_id).update(
            progress={"step": "writing", "done": 0, "total": summary["staged_rows"]}, progress_at=timezone.now()
        )
        plan = imports.import_plan(account=locked.account, import_id=import_id, staged=staged)
        if plan.staged_rows != summary["staged_rows"]:  # counted by the plan's first pass over them
            raise CampaignError(_STAGED_GONE)
        if plan.error_count:
            count = plan.error_count
            raise CampaignError(
                f"The file has {count} row error{'s' if count != 1 else ''} now; upload it again to see them. "
                "Nothing was imported."
            )
        applied = imports.plan_apply(plan=plan, owner=locked.committed_by)
        created, updated = daily_metrics_bulk_upsert(select=applied["select"], created=plan.counts["new"])
        rows = summary["staged_rows"]
        result = {"created": created, "updated": updated, **applied["counts"]}
        MetricImport.objects.filter(pk=locked.pk).update(
            state=ImportState.COMMITTED,
            committed_at=timezone.now(),
            summary={**summary, "result": result},
            progress={"step": "writing", "done": rows, "total": rows},
            progress_at=timezone.now(),
        )
        StatusChange.objects.bulk_create(
            [
                StatusChange(
                    campaign_id=pk,
                    action=Action.SYNC,
                    from_status=status,
                    to_status=status,
                    actor_id=locked.committed_by_id,
                    source=Source.IMPORT,
                    details={"event": "imported", "import_id": locked.pk, "file": locked.filename[:100]},
                )
                for pk, status in Campaign.objects.filter(pk__in=applied["campaign_ids"]).values_list("pk", "status")
            ],
            batch_size=500,
        )
        effects.metrics_stored(account_ids=[locked.account_id])
    return {**result, "campaign_ids": applied["campaign_ids"]}


def _summary_columns(summary: dict) -> dict[str, str]:
    """The file's columns as the plan names them (field → header), from the summary's (label → header)."""
    fields = {label: field for field, label in imports.rows.FIELD_LABELS.items()}
    return {fields.get(label, label): header for label, header in (summary.get("columns") or {}).items()}


def metric_import_discard(*, metric_import: MetricImport) -> None:
    """Drop a preview: the stored file and staged rows are deleted, the row kept (state discarded) as a record of
    the upload."""
    updated = MetricImport.objects.filter(pk=metric_import.pk, state=ImportState.PREVIEW).update(
        state=ImportState.DISCARDED
    )
    if not updated:
        raise CampaignError("Only an import waiting for confirmation can be discarded.")
    imports.staged_delete(import_id=metric_import.pk)
    if metric_import.file:
        metric_import.file.delete(save=False)
        MetricImport.objects.filter(pk=metric_import.pk).update(file="")
    metric_import.refresh_from_db()


STAGED_KEEP = dt.timedelta(days=7)  # a preview nobody confirms keeps its staged rows this long


def metric_import_rows_cleanup(*, now) -> int:
    """Delete the staged rows no import needs any more: of imports committed, discarded, failed or gone (their own
    deletion missed, e.g. a worker killed in between), and of previews left unconfirmed for STAGED_KEEP (their
    commit then asks for the file again). Returns how many rows."""
    return imports.staged_orphans_delete(older_than=now - STAGED_KEEP)


def metric_imports_stuck(*, older_than) -> dict[str, list[int]]:
    """Imports a task should be working on (queued, parsing, committing) whose progress has not moved since
    `older_than`: {"preview": ids, "commit": ids}, for the reconciler to queue again."""
    stuck = MetricImport.objects.filter(state__in=WORKING_STATES, progress_at__lt=older_than).values_list("pk", "state")
    found: dict[str, list[int]] = {"preview": [], "commit": []}
    for pk, state in stuck:
        found["commit" if state == ImportState.COMMITTING else "preview"].append(pk)
    return found
