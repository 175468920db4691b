from django.urls import path

from hub.api import csds, health, messages, participants

urlpatterns = [
    path("health/", health.HealthView.as_view(), name="health"),
    path("api/v1/messages/", messages.MessageIntakeView.as_view(), name="messages"),
    path("api/v1/messages/bulk/", messages.BulkIntakeView.as_view(), name="messages-bulk"),
    path("api/v1/messages/outbox/", messages.OutboxView.as_view(), name="messages-outbox"),
    path("api/v1/instructions/", participants.InstructionListView.as_view(), name="instructions"),
    path("api/v1/instructions/<int:pk>/", participants.InstructionDetailView.as_view(), name="instruction"),
    path("api/v1/accounts/", participants.AccountListView.as_view(), name="accounts"),
    path(
        "api/v1/accounts/<path:number>/holdings/",
        participants.HoldingListView.as_view(),
        name="account-holdings",
    ),
    path("api/v1/ledger/entries/", csds.EntryListView.as_view(), name="ledger-entries"),
    path("api/v1/ledger/entries/<int:pk>/proof/", csds.EntryProofView.as_view(), name="ledger-entry-proof"),
    path("api/v1/ledger/blocks/", csds.BlockListView.as_view(), name="ledger-blocks"),
]
