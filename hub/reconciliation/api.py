"""REST endpoints for operators: runs and breaks (JSON, DRF).

Authentication: a Django session of a **staff** user (``is_staff``), e.g. after logging in at /admin/;
writes need the CSRF token as every session-authenticated DRF write does, and the Django permission the
admin would ask for the same change (``reconciliation.add_run`` to request a run,
``reconciliation.change_break`` to acknowledge or resolve a break): being staff lets a user read, not act.
Participants' API tokens do not reach these endpoints. Roles (viewer, operator, supervisor) and four-eyes
approval belong to the back office and are not enforced here yet.
"""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.authentication import SessionAuthentication
from rest_framework.generics import get_object_or_404
from rest_framework.permissions import SAFE_METHODS, IsAdminUser
from rest_framework.response import Response
from rest_framework.views import APIView

from hub.reconciliation import errors, selectors, services
from hub.reconciliation.models import Break, BreakKind, BreakStatus, Run, RunStatus
from hub.registry.models import CSD


class IsStaffWithWritePermission(IsAdminUser):
    """Staff may read; a write also needs the view's ``write_permission`` (a Django permission)."""

    message = "staff only; a change also needs its Django permission"

    def has_permission(self, request, view) -> bool:
        if not super().has_permission(request, view):
            return False
        return request.method in SAFE_METHODS or request.user.has_perm(view.write_permission)


class OperatorView(APIView):
    authentication_classes = [SessionAuthentication]
    permission_classes = [IsStaffWithWritePermission]
    write_permission = "reconciliation.change_break"

    def handle_exception(self, exc):
        if isinstance(exc, errors.ReconciliationError):
            code = status.HTTP_409_CONFLICT
            if isinstance(exc, errors.NoteRequired):
                code = status.HTTP_400_BAD_REQUEST
            return Response({"error": type(exc).__name__, "detail": exc.message}, status=code)
        return super().handle_exception(exc)


class RunOut(serializers.ModelSerializer):
    csd = serializers.CharField(source="csd.code", default=None, allow_null=True, help_text="null: every CSD")

    class Meta:
        model = Run
        fields = [
            "id", "csd", "kind", "status", "requested_by", "requested_at", "started_at", "finished_at",
            "cross_checks", "breaks_opened", "breaks_seen", "breaks_resolved", "notes", "error",
        ]  # fmt: skip


class RunIn(serializers.Serializer):
    csd = serializers.CharField(required=False, allow_null=True, help_text="CSD code; omit for every CSD")


class EventOut(serializers.Serializer):
    from_status = serializers.CharField()
    to_status = serializers.CharField()
    actor = serializers.CharField()
    note = serializers.CharField()
    run = serializers.IntegerField(source="run_id", allow_null=True)
    at = serializers.DateTimeField()


class BreakOut(serializers.ModelSerializer):
    csd = serializers.CharField(
        source="csd.code", default=None, allow_null=True, help_text="null: no one CSD's"
    )

    class Meta:
        model = Break
        fields = [
            "id", "kind", "csd", "isin", "account", "reference", "expected", "actual", "difference", "detail",
            "status", "first_seen_at", "first_seen_run", "last_seen_at", "last_seen_run", "suspends_at",
            "resolved_at",
        ]  # fmt: skip


class BreakDetailOut(BreakOut):
    events = EventOut(many=True)

    class Meta(BreakOut.Meta):
        fields = [*BreakOut.Meta.fields, "events"]


LIMIT = 500


class Page(serializers.Serializer):
    """Newest first, a page at a time: ``before`` is the last id of the page before."""

    before = serializers.IntegerField(required=False, min_value=1, help_text="the last id of the page before")
    limit = serializers.IntegerField(required=False, min_value=1, max_value=LIMIT, default=LIMIT)


class RunFilter(Page):
    csd = serializers.CharField(required=False, max_length=10)
    status = serializers.ChoiceField(choices=RunStatus.values, required=False)


class BreakFilter(Page):
    status = serializers.ChoiceField(choices=["LIVE", *BreakStatus.values], required=False)
    kind = serializers.ChoiceField(choices=BreakKind.values, required=False)
    csd = serializers.CharField(required=False)
    isin = serializers.CharField(required=False)
    run = serializers.IntegerField(required=False)


class NoteIn(serializers.Serializer):
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=500)


class SuspensionOut(serializers.Serializer):
    isin = serializers.CharField()
    csds = serializers.ListField(child=serializers.CharField())
    breaks = serializers.ListField(child=serializers.IntegerField())


# what every operator call may answer besides its main answer
_PROBLEM = inline_serializer("OperatorProblem", {"detail": serializers.CharField()})
_REFUSED = {
    403: OpenApiResponse(
        _PROBLEM,
        description="not logged in as a staff user; for a change, no CSRF token or not the permission it needs",
    )
}
_BAD_FILTER = {
    400: OpenApiResponse(
        OpenApiTypes.OBJECT, description="a bad filter: its name, with what is wrong with it"
    )
}
_NOT_FOUND = {404: OpenApiResponse(_PROBLEM, description="no such row")}
_CONFLICT = {
    400: OpenApiResponse(
        OpenApiTypes.OBJECT,
        description="a bad body, or a note the change requires is missing (error NoteRequired)",
    ),
    409: OpenApiResponse(
        inline_serializer(
            "ReconciliationConflict", {"error": serializers.CharField(), "detail": serializers.CharField()}
        ),
        description="the break's status does not allow this change: the error names the rule",
    ),
}


class RunListView(OperatorView):
    write_permission = "reconciliation.add_run"

    @extend_schema(
        operation_id="reconciliation_runs_list",
        parameters=[RunFilter],
        responses={200: RunOut(many=True), **_BAD_FILTER, **_REFUSED},
    )
    def get(self, request):
        filters = RunFilter(data=request.query_params)
        filters.is_valid(raise_exception=True)
        limit = filters.validated_data.pop("limit")
        runs = selectors.runs_list(**filters.validated_data)
        return Response(RunOut(runs[:limit], many=True).data)

    @extend_schema(
        operation_id="reconciliation_runs_request",
        request=RunIn,
        responses={
            202: RunOut,
            400: OpenApiResponse(
                OpenApiTypes.OBJECT, description="a bad body: its field, with what is wrong"
            ),
            **_REFUSED,
            404: OpenApiResponse(_PROBLEM, description="no CSD of that code"),
        },
    )
    def post(self, request):
        """Request a run now; a worker executes it. 202 with the queued run."""
        body = RunIn(data=request.data)
        body.is_valid(raise_exception=True)
        code = body.validated_data.get("csd")
        csd = get_object_or_404(CSD, code=code) if code else None
        run = services.run_request(csd=csd, kind=Run.Kind.ON_DEMAND, requested_by=request.user.get_username())
        return Response(RunOut(run).data, status=status.HTTP_202_ACCEPTED)


class RunDetailView(OperatorView):
    @extend_schema(operation_id="reconciliation_runs_read", responses={200: RunOut, **_REFUSED, **_NOT_FOUND})
    def get(self, request, pk: int):
        return Response(RunOut(get_object_or_404(Run.objects.select_related("csd"), pk=pk)).data)


class BreakListView(OperatorView):
    @extend_schema(
        operation_id="reconciliation_breaks_list",
        parameters=[BreakFilter],
        responses={200: BreakOut(many=True), **_BAD_FILTER, **_REFUSED},
    )
    def get(self, request):
        filters = BreakFilter(data=request.query_params)
        filters.is_valid(raise_exception=True)
        limit = filters.validated_data.pop("limit")
        breaks = selectors.breaks_list(**filters.validated_data)
        return Response(BreakOut(breaks[:limit], many=True).data)


class BreakDetailView(OperatorView):
    @extend_schema(
        operation_id="reconciliation_breaks_read", responses={200: BreakDetailOut, **_REFUSED, **_NOT_FOUND}
    )
    def get(self, request, pk: int):
        brk = get_object_or_404(Break.objects.select_related("csd").prefetch_related("events"), pk=pk)
        return Response(BreakDetailOut(brk).data)


class BreakAcknowledgeView(OperatorView):
    @extend_schema(
        operation_id="reconciliation_breaks_acknowledge",
        request=NoteIn,
        responses={200: BreakOut, **_CONFLICT, **_REFUSED, **_NOT_FOUND},
    )
    def post(self, request, pk: int):
        body = NoteIn(data=request.data)
        body.is_valid(raise_exception=True)
        get_object_or_404(Break, pk=pk)
        brk = services.break_acknowledge(
            break_id=pk, actor=request.user.get_username(), note=body.validated_data["note"]
        )
        return Response(BreakOut(brk).data)


class BreakResolveView(OperatorView):
    @extend_schema(
        operation_id="reconciliation_breaks_resolve",
        request=NoteIn,
        responses={200: BreakOut, **_CONFLICT, **_REFUSED, **_NOT_FOUND},
    )
    def post(self, request, pk: int):
        body = NoteIn(data=request.data)
        body.is_valid(raise_exception=True)
        get_object_or_404(Break, pk=pk)
        brk = services.break_resolve(
            break_id=pk, actor=request.user.get_username(), note=body.validated_data["note"]
        )
        return Response(BreakOut(brk).data)


class SuspensionListView(OperatorView):
    @extend_schema(
        operation_id="reconciliation_suspensions_list", responses={200: SuspensionOut(many=True), **_REFUSED}
    )
    def get(self, request):
        """ISINs suspended from settlement now, where, and the breaks that suspend them."""
        return Response(selectors.suspensions_in_force())
