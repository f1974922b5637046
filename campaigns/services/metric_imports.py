"""Ads Manager file imports: preview, then an all-or-nothing commit."""

import hashlib

from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

from .. import imports
from ..models import (
    Action,
    AdAccount,
    Campaign,
    ImportState,
    MetricImport,
    Source,
    StatusChange,
)
from . import effects
from .delivery import still_delivering_detect
from .errors import CampaignError
from .metrics import daily_metrics_upsert


def metric_import_preview(*, account: AdAccount, upload, actor) -> MetricImport:
    """Read an uploaded Ads Manager export and store it with a plan of what committing would do; nothing else
    changes. Raises `imports.ImportFileError` (a clear message) for files that cannot be used at all (then
    nothing is stored); row errors are stored in the summary, for the preview to list."""
    content = imports.upload_read(upload)
    filename = imports.display_filename(upload.name)
    parsed = imports.file_parse(content=content, filename=filename)
    plan = imports.import_plan(account=account, parsed=parsed)
    sha = hashlib.sha256(content).hexdigest()
    previous = (
        MetricImport.objects.filter(account=account, sha256=sha, state=ImportState.COMMITTED)
        .order_by("-committed_at")
        .first()
    )
    summary = plan.summary()
    if previous:
        summary["already_imported_at"] = previous.committed_at.isoformat() if previous.committed_at else ""
    metric_import = MetricImport(
        account=account, uploaded_by=actor, filename=filename, sha256=sha, size=len(content), summary=summary
    )
    metric_import.file.save(f"{sha[:16]}-{imports.safe_filename(filename)}", ContentFile(content), save=False)
    metric_import.save()
    return metric_import


def metric_import_commit(*, metric_import: MetricImport, actor) -> dict:
    """Apply a previewed import, all or nothing: campaigns created (manual accounts), content items created,
    daily metrics upserted, totals refreshed, still-delivering checked. Importing the same rows again changes
    nothing. Raises CampaignError when the import is not in preview, has row errors, the file changed, or it can
    no longer be used as a whole (e.g. the account's currency changed since the preview)."""
    with transaction.atomic():
        locked = MetricImport.objects.select_for_update().get(pk=metric_import.pk)
        if locked.state != ImportState.PREVIEW:
            raise CampaignError(f"This import is already {locked.get_state_display().lower()}.")
        try:
            with locked.file.open("rb") as handle:
                content = handle.read()
        except (ValueError, OSError):  # no file attached, or it vanished from storage
            raise CampaignError("The uploaded file is no longer available; upload it again.") from None
        if hashlib.sha256(content).hexdigest() != locked.sha256:
            raise CampaignError("The stored file changed since the preview; upload it again.")
        try:
            parsed = imports.file_parse(content=content, filename=locked.filename)
            plan = imports.import_plan(account=locked.account, parsed=parsed)
        except imports.ImportFileError as error:
            raise CampaignError(f"{error} Nothing was imported.") from None
        if plan.errors:
            raise CampaignError(
                f"The file has {len(plan.errors)} row error{'s' if len(plan.errors) != 1 else ''}; "
                "fix them and upload it again. Nothing was imported."
            )
        owner = actor if actor is not None and actor.is_authenticated else None
        result = imports.plan_apply(plan=plan, owner=owner)
        created, updated = daily_metrics_upsert(rows=result["rows"])
        now = timezone.now()
        summary = {**locked.summary, "result": {"created": created, "updated": updated, **result["counts"]}}
        MetricImport.objects.filter(pk=locked.pk).update(state=ImportState.COMMITTED, committed_at=now, summary=summary)
        actor_id = actor.pk if actor is not None and actor.is_authenticated else None
        StatusChange.objects.bulk_create(
            [
                StatusChange(
                    campaign_id=pk,
                    action=Action.SYNC,
                    from_status=status,
                    to_status=status,
                    actor_id=actor_id,
                    source=Source.IMPORT,
                    details={"event": "imported", "import_id": locked.pk, "file": locked.filename[:100]},
                )
                for pk, status in Campaign.objects.filter(pk__in=result["campaign_ids"]).values_list("pk", "status")
            ],
            batch_size=500,
        )
        effects.metrics_stored(account_ids=[locked.account_id])
    still_delivering_detect(campaign_ids=result["campaign_ids"])
    metric_import.refresh_from_db()
    return summary["result"]


def metric_import_discard(*, metric_import: MetricImport) -> None:
    """Drop a preview: the stored file is deleted, the row kept (state discarded) as a record of the upload."""
    updated = MetricImport.objects.filter(pk=metric_import.pk, state=ImportState.PREVIEW).update(
        state=ImportState.DISCARDED
    )
    if not updated:
        raise CampaignError("Only an import waiting for confirmation can be discarded.")
    if metric_import.file:
        metric_import.file.delete(save=False)
        MetricImport.objects.filter(pk=metric_import.pk).update(file="")
    metric_import.refresh_from_db()
