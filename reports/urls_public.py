"""The public shared-report routes (`/s/<secret>/…`), in their own `share` namespace, outside the app's."""

from django.urls import path

from .views import public

app_name = "share"

urlpatterns = [
    path("", public.share_page, name="page"),
    path("unlock/", public.share_unlock, name="unlock"),
    path("feedback/", public.share_feedback, name="feedback"),
    path("daily.csv", public.share_daily_csv, name="daily_csv"),
    path("content.csv", public.share_content_csv, name="content_csv"),
    path("report.pdf", public.share_pdf, name="pdf"),
]
