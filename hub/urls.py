from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

urlpatterns = [
    # the hub has no page of its own at its root yet: the API's documentation is where to start
    path("", RedirectView.as_view(pattern_name="openapi-docs", permanent=False)),
    path("admin/", admin.site.urls),
    path("", include("hub.api.urls")),
    path("api/v1/reconciliation/", include("hub.reconciliation.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="openapi-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="openapi-schema"), name="openapi-docs"),
]
