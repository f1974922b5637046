from django.apps import AppConfig


class ReportsConfig(AppConfig):
    name = "reports"
    verbose_name = "Reports"

    def ready(self) -> None:
        from campaigns.signals import annotations_changed, status_changed

        from . import reconcile
        from .receivers import on_annotations_changed, on_status_changed

        status_changed.connect(on_status_changed, dispatch_uid="reports.close_report_on_end")
        annotations_changed.connect(on_annotations_changed, dispatch_uid="reports.timeline_on_note")
        reconcile.register()  # the workers' reconciler: reports missing, PDFs missing

        from campaigns.selectors_home import attention_source_register

        from .home import NEW_FEEDBACK

        attention_source_register(NEW_FEEDBACK)  # the home page's "new feedback" line (issue 16)
