from csp.decorators import csp_replace
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from tdm_site import views

urlpatterns = [
    path("", views.home, name="home"),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("api/v1/", include("tdm_site.api")),
    # For signed-in users only (SPECTACULAR_SETTINGS); the docs page sends others to the login.
    # Its script is served apart (the split view), as the Content-Security-Policy wants; Swagger
    # UI styles its widgets with style elements of its own.
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path(
        "api/docs/",
        login_required(
            csp_replace({"style-src-elem": ["'self'", "'unsafe-inline'"]})(
                SpectacularSwaggerSplitView.as_view(url_name="api-schema")
            )
        ),
        name="api-docs",
    ),
    path("", include("study.urls")),
    path("", include("cases.urls")),
    path("", include("advice.urls")),
    path("", include("reports.urls")),
    path("", include("notifications.urls")),
]
