from django.urls import path

from hub.reconciliation import api

urlpatterns = [
    path("runs/", api.RunListView.as_view(), name="reconciliation-runs"),
    path("runs/<int:pk>/", api.RunDetailView.as_view(), name="reconciliation-run"),
    path("breaks/", api.BreakListView.as_view(), name="reconciliation-breaks"),
    path("breaks/<int:pk>/", api.BreakDetailView.as_view(), name="reconciliation-break"),
    path("breaks/<int:pk>/acknowledge/", api.BreakAcknowledgeView.as_view(), name="reconciliation-break-ack"),
    path("breaks/<int:pk>/resolve/", api.BreakResolveView.as_view(), name="reconciliation-break-resolve"),
    path("suspensions/", api.SuspensionListView.as_view(), name="reconciliation-suspensions"),
]
