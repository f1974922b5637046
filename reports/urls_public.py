"""The public shared-report routes (`/s/<secret>/…`), in their own `share` namespace, outside the app's."""

from django.urls import path

from . import views_public

app_name = "share"

urlpatterns = [
    path("", views_public.share_page, name="page"),
    path("unlock/", views_public.share_unlock, name="unlock"),
    path("feedback/", views_public.share_feedback, name="feedback"),
    path("daily.csv", views_public.share_daily_csv, name="daily_csv"),
    path("content.csv", views_public.share_content_csv, name="content_csv"),
    path("report.pdf", views_public.share_pdf, name="pdf"),
]
