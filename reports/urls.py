from django.urls import path

from . import views, views_sharing

app_name = "reports"

urlpatterns = [
    path("", views.report_index, name="index"),
    path("compare/", views.report_compare, name="compare"),
    path("<int:campaign_id>/", views.report_detail, name="detail"),
    path("<int:campaign_id>/build/", views.report_build, name="build"),
    path("<int:campaign_id>/lessons/", views.lessons_display, name="lessons"),
    path("<int:campaign_id>/lessons/edit/", views.lessons_edit, name="lessons_edit"),
    path("<int:campaign_id>/export/daily.csv", views.export_daily_csv, name="export_daily"),
    path("<int:campaign_id>/export/content.csv", views.export_content_csv, name="export_content"),
    path("<int:campaign_id>/export/all-metric-rows.csv", views.export_metrics_csv, name="export_metrics"),
    path("<int:campaign_id>/export/report.pdf", views.export_pdf, name="export_pdf"),
    # --- Sharing and feedback (issue 5) ---
    path("<int:campaign_id>/share/", views_sharing.share_create, name="share_create"),
    path("<int:campaign_id>/share/request-feedback/", views_sharing.feedback_request, name="feedback_request"),
    path("<int:campaign_id>/share/<int:link_id>/rotate/", views_sharing.share_rotate, name="share_rotate"),
    path("<int:campaign_id>/share/<int:link_id>/revoke/", views_sharing.share_revoke, name="share_revoke"),
    path("<int:campaign_id>/feedback/", views_sharing.feedback_create, name="feedback_create"),
    path("<int:campaign_id>/feedback/<int:feedback_id>/hide/", views_sharing.feedback_hide, name="feedback_hide"),
]
