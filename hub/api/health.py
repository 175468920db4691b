from django.db import DatabaseError
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from hub.ops.health import hub_health

_component = inline_serializer(
    "ComponentHealth",
    {
        "ok": serializers.BooleanField(),
        "detail": serializers.CharField(),
        "latency_ms": serializers.FloatField(),
    },
)


_health = inline_serializer(
    "HubHealth",
    {
        "status": serializers.CharField(),
        "database": _component,
        "broker": _component,
        "worker": _component,
        "ledger": _component,
        "settlement": _component,
    },
)


class HealthView(APIView):
    """Database, broker and worker status, the shared ledger's alarms and settlement's stuck or overdue
    transfers: 200 when all are up and there are none of either, 503 otherwise. Open to monitoring, no
    login; a staff user signed in to the back office is also told the errors' own words."""

    permission_classes = [AllowAny]
    authentication_classes = [SessionAuthentication]

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "worker",
                bool,
                description="false: skip the worker probe, the ledger's alarms and stuck transfers (liveness)",
            )
        ],
        responses={
            200: OpenApiResponse(
                _health,
                description="the database, the broker and a worker are up; no ledger alarm, no transfer stuck "
                "or overdue",
            ),
            503: OpenApiResponse(
                _health,
                description="one of them is down, the ledger has an alarm, or a transfer is stuck or overdue: "
                "its 'ok' is false",
            ),
        },
    )
    def get(self, request: Request) -> Response:
        include_worker = request.query_params.get("worker", "true").lower() not in ("0", "false", "no")
        health = hub_health(include_worker=include_worker)
        return Response(health.as_dict(full=_staff(request)), status=200 if health.ok else 503)

    def perform_authentication(self, request: Request) -> None:
        """Lazily, in ``_staff``: reading a session needs the database this view reports on."""


def _staff(request: Request) -> bool:
    """Whether the caller is a staff user signed in to the back office; with the database down, nobody is
    known to be."""
    try:
        return bool(request.user.is_staff)
    except DatabaseError:
        return False
