from django.urls import path

from .views import branding, delivery, detail, exports, index, lessons, plan_next, sharing

app_name = "reports"

urlpatterns = [
    path("", index.report_index, name="index"),
    path("compare/", index.report_compare, name="compare"),
    path("<int:campaign_id>/", detail.report_detail, name="detail"),
    path("<int:campaign_id>/build/", detail.report_build, name="build"),
    path("<int:campaign_id>/lessons/", lessons.lessons_display, name="lessons"),
    path("<int:campaign_id>/lessons/edit/", lessons.lessons_edit, name="lessons_edit"),
    path("<int:campaign_id>/plan-next/", plan_next.plan_next, name="plan_next"),
    path("<int:campaign_id>/export/daily.csv", exports.export_daily_csv, name="export_daily"),
    path("<int:campaign_id>/export/content.csv", exports.export_content_csv, name="export_content"),
    path("<int:campaign_id>/export/all-metric-rows.csv", exports.export_metrics_csv, name="export_metrics"),
    path("<int:campaign_id>/export/report.pdf", exports.export_pdf, name="export_pdf"),
    path("<int:campaign_id>/share/", sharing.share_create, name="share_create"),
    path("<int:campaign_id>/share/request-feedback/", sharing.feedback_request, name="feedback_request"),
    path("<int:campaign_id>/share/<int:link_id>/rotate/", sharing.share_rotate, name="share_rotate"),
    path("<int:campaign_id>/share/<int:link_id>/revoke/", sharing.share_revoke, name="share_revoke"),
    path("<int:campaign_id>/feedback/", sharing.feedback_create, name="feedback_create"),
    path("<int:campaign_id>/feedback/<int:feedback_id>/hide/", sharing.feedback_hide, name="feedback_hide"),
    path("<int:campaign_id>/delivery/send/", delivery.delivery_send_now, name="delivery_send"),
    path("<int:campaign_id>/delivery/recipients/", delivery.report_recipient_add, name="recipient_add"),
    path(
        "<int:campaign_id>/delivery/recipients/<int:recipient_id>/remove/",
        delivery.report_recipient_remove,
        name="recipient_remove",
    ),
    path("accounts/<int:account_id>/recipients/", delivery.account_recipients, name="account_recipients"),
    path(
        "accounts/<int:account_id>/recipients/<int:recipient_id>/remove/",
        delivery.account_recipient_remove,
        name="account_recipient_remove",
    ),
    path("accounts/<int:account_id>/branding/", branding.account_branding, name="account_branding"),
    path(
        "accounts/<int:account_id>/branding/remove/", branding.account_branding_remove, name="account_branding_remove"
    ),
]
