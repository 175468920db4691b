"""What a participant may read: its own instructions and its own accounts, never another's."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from hub.api.auth import caller
from hub.api.messages import ParticipantView
from hub.registry.selectors import accounts_of
from hub.settlement.selectors import instructions_of


class InstructionOut(serializers.Serializer):
    id = serializers.IntegerField()
    transaction_id = serializers.CharField()
    side = serializers.CharField()
    status = serializers.CharField()
    isin = serializers.CharField(source="security.isin")
    quantity = serializers.DecimalField(max_digits=24, decimal_places=6)
    trade_date = serializers.DateField()
    intended_settlement_date = serializers.DateField()
    account = serializers.CharField(source="account.number")
    csd = serializers.CharField(source="csd.code")
    counterparty_bic = serializers.CharField()
    counterparty_csd = serializers.CharField(source="counterparty_csd.code")
    transfer_id = serializers.IntegerField(allow_null=True)
    created_at = serializers.DateTimeField()


class HoldingOut(serializers.Serializer):
    isin = serializers.CharField(source="security.isin")
    quantity = serializers.DecimalField(max_digits=24, decimal_places=6)
    as_of = serializers.DateTimeField()


class AccountOut(serializers.Serializer):
    number = serializers.CharField()
    csd = serializers.CharField(source="csd.code")
    kind = serializers.CharField()
    is_blocked = serializers.BooleanField()
    holdings = HoldingOut(many=True)


class InstructionListView(ParticipantView):
    @extend_schema(operation_id="instructions_list", responses={200: InstructionOut(many=True)})
    def get(self, request: Request) -> Response:
        rows = instructions_of(caller(request))
        status = request.query_params.get("status")
        if status:
            rows = rows.filter(status=status.upper())
        return Response(InstructionOut(rows[:500], many=True).data)


class InstructionDetailView(ParticipantView):
    @extend_schema(operation_id="instructions_read", responses={200: InstructionOut})
    def get(self, request: Request, pk: int) -> Response:
        # another participant's instruction is simply not found: its existence is not disclosed
        return Response(InstructionOut(get_object_or_404(instructions_of(caller(request)), pk=pk)).data)


class AccountListView(ParticipantView):
    @extend_schema(operation_id="accounts_list", responses={200: AccountOut(many=True)})
    def get(self, request: Request) -> Response:
        return Response(AccountOut(accounts_of(caller(request)), many=True).data)
