from django.urls import path

from hub.api import health

urlpatterns = [
    path("health/", health.HealthView.as_view(), name="health"),
]
