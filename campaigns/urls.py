from django.urls import path

from . import views

app_name = "campaigns"

urlpatterns = [
    path("", views.campaign_list, name="list"),
    path("actions/", views.campaign_bulk_action, name="bulk_action"),
    path("end/", views.campaign_end_confirm, name="end_confirm"),
    path("new/", views.campaign_create, name="create"),
    path("calendar/", views.campaign_calendar, name="calendar"),
    path("calendar/feed/", views.campaign_ics_token, name="ics_token"),
    path("ics/<str:token>.ics", views.campaign_ics, name="ics"),
    path("<int:pk>/", views.campaign_detail, name="detail"),
    path("<int:pk>/edit/", views.campaign_edit, name="edit"),
    path("<int:pk>/schedule/", views.campaign_schedule, name="schedule"),
    path("<int:pk>/unschedule/", views.campaign_unschedule, name="unschedule"),
]

# --- Wind-down and notifications (issue 6) ---
from . import views_notifications, views_winddown  # noqa: E402

urlpatterns += [
    path("wind-down/", views_winddown.winddown_list, name="winddown_list"),
    path("<int:pk>/wind-down/", views_winddown.winddown_detail, name="winddown"),
    path("<int:pk>/wind-down/start/", views_winddown.winddown_start, name="winddown_start"),
    path("<int:pk>/wind-down/content/<int:item_pk>/", views_winddown.winddown_content_item, name="winddown_content"),
    path("<int:pk>/wind-down/<slug:kind>/", views_winddown.winddown_step, name="winddown_step"),
    path("<int:pk>/watch/", views_notifications.campaign_watch, name="watch"),
    path("<int:pk>/unwatch/", views_notifications.campaign_unwatch, name="unwatch"),
    path("notifications/", views_notifications.notification_list, name="notifications"),
    path("notifications/bell/", views_notifications.notification_bell, name="notifications_bell"),
    path("notifications/read-all/", views_notifications.notification_read_all, name="notifications_read_all"),
    path("notifications/<int:pk>/read/", views_notifications.notification_read, name="notification_read"),
    path(
        "notifications/preferences/",
        views_notifications.notification_preferences,
        name="notification_preferences",
    ),
]

# --- Platform sync (issue 7) ---
from . import views_accounts  # noqa: E402

urlpatterns += [
    path("accounts/<int:pk>/", views_accounts.account_detail, name="account_detail"),
    path("accounts/<int:pk>/sync/", views_accounts.account_sync, name="account_sync"),
    path("accounts/<int:pk>/imports/", views_accounts.import_upload, name="import_upload"),
    path("accounts/<int:pk>/imports/<int:import_pk>/", views_accounts.import_preview, name="import_preview"),
    path("accounts/<int:pk>/imports/<int:import_pk>/commit/", views_accounts.import_commit, name="import_commit"),
    path("accounts/<int:pk>/imports/<int:import_pk>/discard/", views_accounts.import_discard, name="import_discard"),
    path("<int:pk>/retry-sync/", views_accounts.campaign_retry_sync, name="retry_sync"),
    path("<int:pk>/resend-end/", views_accounts.campaign_resend_end, name="resend_end"),
]
