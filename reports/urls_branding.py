"""The branded shared page's public files (`/b/…`), in their own `branding` namespace: each URL names its content
(the logo's SHA-256, the accent's colours; the views refuse anything else), so they are cached for ever."""

from django.urls import path

from .views import branding

app_name = "branding"

urlpatterns = [
    path("logo/<str:sha256>.png", branding.logo, name="logo"),
    path("theme/<str:accent>-<str:text>.css", branding.theme, name="theme"),
]
