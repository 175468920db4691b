"""What a participant may read: its own instructions and its own accounts, never another's."""

from django.http import Http404
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from hub.api import schema
from hub.api.auth import caller
from hub.api.messages import ParticipantView
from hub.registry.selectors import account_of, accounts_of, holdings_of
from hub.settlement.selectors import instructions_of
from hub.settlement.statuses import InstructionStatus


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


PAGE_MAX = 500
# the holdings an account carries in the list of accounts; past them, its holdings have pages of their own
HOLDINGS_INLINE = 100


class AccountOut(serializers.Serializer):
    number = serializers.CharField()
    csd = serializers.CharField(source="csd.code")
    kind = serializers.CharField()
    is_blocked = serializers.BooleanField()
    holdings = serializers.SerializerMethodField(
        help_text=f"the account's first {HOLDINGS_INLINE} holdings by ISIN"
    )
    holdings_complete = serializers.SerializerMethodField(
        help_text="false when the account has more holdings than listed here: read them all, a page at a "
        "time, from /api/v1/accounts/{number}/holdings/"
    )

    @extend_schema_field(HoldingOut(many=True))
    def get_holdings(self, account) -> list:
        return HoldingOut(account.first_holdings[:HOLDINGS_INLINE], many=True).data

    def get_holdings_complete(self, account) -> bool:
        return len(account.first_holdings) <= HOLDINGS_INLINE


class InstructionFilter(serializers.Serializer):
    status = serializers.ChoiceField(choices=InstructionStatus.values, required=False)
    after = serializers.IntegerField(required=False, min_value=0, help_text="the last id of the page before")
    limit = serializers.IntegerField(required=False, min_value=1, max_value=PAGE_MAX, default=PAGE_MAX)


class AccountFilter(serializers.Serializer):
    after = serializers.CharField(
        required=False, max_length=35, help_text="the last number of the page before"
    )
    limit = serializers.IntegerField(required=False, min_value=1, max_value=PAGE_MAX, default=PAGE_MAX)


class HoldingFilter(serializers.Serializer):
    after = serializers.CharField(required=False, max_length=12, help_text="the last ISIN of the page before")
    limit = serializers.IntegerField(required=False, min_value=1, max_value=PAGE_MAX, default=PAGE_MAX)


class InstructionListView(ParticipantView):
    @extend_schema(
        operation_id="instructions_list",
        parameters=[InstructionFilter, schema.RETRY_AFTER],
        responses={
            200: InstructionOut(many=True),
            400: schema.BAD_PARAMETER,
            401: schema.UNAUTHENTICATED,
            429: schema.RATE_LIMITED,
        },
    )
    def get(self, request: Request) -> Response:
        """The caller's instructions, oldest first, a page at a time: ``after`` the last id of the page
        before."""
        params = request.query_params.copy()
        if "status" in params:
            params["status"] = params["status"].upper()
        filters = InstructionFilter(data=params)
        filters.is_valid(raise_exception=True)
        rows = instructions_of(caller(request)).order_by("pk")
        if "status" in filters.validated_data:
            rows = rows.filter(status=filters.validated_data["status"])
        if "after" in filters.validated_data:
            rows = rows.filter(pk__gt=filters.validated_data["after"])
        return Response(InstructionOut(rows[: filters.validated_data["limit"]], many=True).data)


class InstructionDetailView(ParticipantView):
    @extend_schema(
        operation_id="instructions_read",
        parameters=[schema.RETRY_AFTER],
        responses={
            200: InstructionOut,
            401: schema.UNAUTHENTICATED,
            404: schema.NOT_FOUND,
            429: schema.RATE_LIMITED,
        },
    )
    def get(self, request: Request, pk: int) -> Response:
        # another participant's instruction is simply not found: its existence is not disclosed
        return Response(InstructionOut(get_object_or_404(instructions_of(caller(request)), pk=pk)).data)


class AccountListView(ParticipantView):
    @extend_schema(
        operation_id="accounts_list",
        parameters=[AccountFilter, schema.RETRY_AFTER],
        responses={
            200: AccountOut(many=True),
            400: schema.BAD_PARAMETER,
            401: schema.UNAUTHENTICATED,
            429: schema.RATE_LIMITED,
        },
    )
    def get(self, request: Request) -> Response:
        """The caller's accounts with their holdings, by number, a page at a time: ``after`` the last
        number of the page before."""
        filters = AccountFilter(data=request.query_params)
        filters.is_valid(raise_exception=True)
        # one holding past those listed tells whether there are more
        rows = accounts_of(caller(request), holdings_each=HOLDINGS_INLINE + 1)
        if "after" in filters.validated_data:
            rows = rows.filter(number__gt=filters.validated_data["after"])
        return Response(AccountOut(rows[: filters.validated_data["limit"]], many=True).data)


class HoldingListView(ParticipantView):
    @extend_schema(
        operation_id="holdings_list",
        parameters=[HoldingFilter, schema.RETRY_AFTER],
        responses={
            200: HoldingOut(many=True),
            400: schema.BAD_PARAMETER,
            401: schema.UNAUTHENTICATED,
            404: schema.NO_SUCH_ACCOUNT,
            429: schema.RATE_LIMITED,
        },
    )
    def get(self, request: Request, number: str) -> Response:
        """One of the caller's accounts' holdings, by ISIN, a page at a time: ``after`` the last ISIN of
        the page before."""
        filters = HoldingFilter(data=request.query_params)
        filters.is_valid(raise_exception=True)
        account = account_of(caller(request), number)
        # another participant's account is not found either: its existence is not disclosed
        if account is None:
            raise Http404
        rows = holdings_of(account)
        if "after" in filters.validated_data:
            rows = rows.filter(security__isin__gt=filters.validated_data["after"])
        return Response(HoldingOut(rows[: filters.validated_data["limit"]], many=True).data)
