from django.urls import path

from .views import (
    accounts,
    actions,
    annotations,
    calendar,
    detail,
    edit,
    home,
    imports,
    notifications,
    rules,
    schedule,
    winddown,
)
from .views import list as campaign_list

app_name = "campaigns"

urlpatterns = [
    # The list, its actions and the campaign page
    path("", campaign_list.campaign_list, name="list"),
    path("actions/", actions.campaign_bulk_action, name="bulk_action"),
    path("end/", actions.campaign_end_confirm, name="end_confirm"),
    path("confirm/", actions.campaign_action_confirm, name="action_confirm"),
    path("home/attention/", home.home_badge, name="home_badge"),
    path("new/", edit.campaign_create, name="create"),
    path("calendar/", calendar.campaign_calendar, name="calendar"),
    path("calendar/feed/", calendar.campaign_ics_token, name="ics_token"),
    path("ics/<str:token>.ics", calendar.campaign_ics, name="ics"),
    path("<int:pk>/", detail.campaign_detail, name="detail"),
    path("<int:pk>/edit/", edit.campaign_edit, name="edit"),
    path("<int:pk>/schedule/", schedule.campaign_schedule, name="schedule"),
    path("<int:pk>/content/<int:item_pk>/rights/", detail.content_rights_edit, name="content_rights"),
    path("<int:pk>/unschedule/", schedule.campaign_unschedule, name="unschedule"),
    # Notes on the campaign's timeline (issue 18)
    path("<int:pk>/notes/", annotations.annotation_add, name="annotation_add"),
    path("<int:pk>/notes/<int:note_pk>/", annotations.annotation_edit, name="annotation_edit"),
    path("<int:pk>/notes/<int:note_pk>/delete/", annotations.annotation_delete, name="annotation_delete"),
    # Wind-down and notifications
    path("wind-down/", winddown.winddown_list, name="winddown_list"),
    path("<int:pk>/wind-down/", winddown.winddown_detail, name="winddown"),
    path("<int:pk>/wind-down/start/", winddown.winddown_start, name="winddown_start"),
    path("<int:pk>/wind-down/content/<int:item_pk>/", winddown.winddown_content_item, name="winddown_content"),
    path("<int:pk>/wind-down/<slug:kind>/", winddown.winddown_step, name="winddown_step"),
    path("<int:pk>/watch/", notifications.campaign_watch, name="watch"),
    path("<int:pk>/unwatch/", notifications.campaign_unwatch, name="unwatch"),
    path("notifications/", notifications.notification_list, name="notifications"),
    path("notifications/bell/", notifications.notification_bell, name="notifications_bell"),
    path("notifications/read-all/", notifications.notification_read_all, name="notifications_read_all"),
    path("notifications/<int:pk>/read/", notifications.notification_read, name="notification_read"),
    path("notifications/preferences/", notifications.notification_preferences, name="notification_preferences"),
    # Accounts: platform sync and file imports (`pk` is the account's, except retry-sync and resend-end)
    path("accounts/", accounts.account_list, name="accounts"),
    path("accounts/<int:pk>/", accounts.account_detail, name="account_detail"),
    path("accounts/<int:pk>/sync/", accounts.account_sync, name="account_sync"),
    path("accounts/<int:pk>/content-rights/", accounts.account_rights, name="account_rights"),
    path("accounts/<int:pk>/imports/", imports.import_upload, name="import_upload"),
    path("accounts/<int:pk>/imports/<int:import_pk>/", imports.import_preview, name="import_preview"),
    path("accounts/<int:pk>/imports/<int:import_pk>/commit/", imports.import_commit, name="import_commit"),
    path("accounts/<int:pk>/imports/<int:import_pk>/discard/", imports.import_discard, name="import_discard"),
    # Guardrail rules of an account (issue 17)
    path("accounts/<int:pk>/rules/", rules.rule_list, name="rules"),
    path("accounts/<int:pk>/rules/new/", rules.rule_create, name="rule_create"),
    path("accounts/<int:pk>/rules/log/", rules.rule_log, name="rule_log"),
    path("accounts/<int:pk>/rules/<int:rule_pk>/", rules.rule_edit, name="rule_edit"),
    path("accounts/<int:pk>/rules/<int:rule_pk>/enabled/", rules.rule_enabled, name="rule_enabled"),
    path("<int:pk>/retry-sync/", accounts.campaign_retry_sync, name="retry_sync"),
    path("<int:pk>/resend-end/", accounts.campaign_resend_end, name="resend_end"),
]
