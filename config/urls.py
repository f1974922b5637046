from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from campaigns.views.home import home
from reports.views import delivery as report_delivery  # where a signed-in user lands (issue 16)

from .views import healthz

handler500 = "config.views.server_error"

urlpatterns = [
    path("", home, name="home"),
    path("accounts/login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("campaigns/", include("campaigns.urls")),
    path("reports/", include("reports.urls")),
    path("healthz", healthz, name="healthz"),
]

# --- Sharing and feedback (issue 5) ---
urlpatterns += [path("s/<str:secret>/", include("reports.urls_public"))]
# The report emails' unsubscribe page (issue 18): public, by a per-recipient token; it names no report.
urlpatterns += [path("unsubscribe/<str:token>/", report_delivery.unsubscribe, name="report_unsubscribe")]
# Branding of shared reports (issue 18): the logo and the accent's stylesheet, public, named by their content.
urlpatterns += [path("b/", include("reports.urls_branding"))]
