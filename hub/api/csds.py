"""The CSD ledger API: what a CSD reads to check by itself every cross-CSD movement that involves it.

GET /api/v1/ledger/entries/?after=&limit=   the ledger entries that involve the caller, oldest first
GET /api/v1/ledger/entries/<id>/proof/      the inclusion proof of one of them (``ledger_proof``'s JSON)
GET /api/v1/ledger/blocks/?after=&limit=    every block's header, hash, hub signature and endorsements

Callers are CSDs, by a CSD's key (``manage.py issue_csd_token``); a participant's key is refused here, and a
CSD's on the participant API. Another CSD's entries are not found: their existence is not disclosed. Block
headers are every CSD's to read: a CSD cannot check the chain's links without them, and they carry no entry.
"""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import APIException, NotFound, Throttled
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from hub.api import ratelimit, schema
from hub.api.auth import CSDTokenAuthentication, IsCSD, calling_csd
from hub.ledger.errors import EntryNotSealed
from hub.ledger.selectors import block_headers, entries_involving, entries_page, entry_proof

PAGE_MAX = 500


class NotSealed(APIException):
    status_code = 409
    default_code = "not_sealed"


class CSDView(APIView):
    authentication_classes = [CSDTokenAuthentication]
    permission_classes = [IsCSD]
    # after authentication and permissions (DRF's order), so budgets are the CSD's own
    throttle_classes = [ratelimit.CallerRateLimit]

    def throttled(self, request: Request, wait: float | None) -> None:
        """A 429 with ``Retry-After`` and the JSON error body saying which budget is spent."""
        raise Throttled(wait, detail=ratelimit.refusal(request))


class EntryOut(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField(help_text="COMMIT, SETTLED or ABORT (HUB_KEY entries involve no CSD)")
    reference = serializers.CharField(help_text="what the entry is about, e.g. transfer:42")
    csds = serializers.ListField(child=serializers.CharField(), help_text="the codes of the CSDs involved")
    record_hash = serializers.CharField(help_text="SHA-256 (hex) of the entry's canonical record")
    appended_at = serializers.CharField(help_text="UTC, as the entry's leaf commits to it")
    block_height = serializers.IntegerField(
        allow_null=True, help_text="the block that seals it; null while it is not sealed yet"
    )


class EndorsementOut(serializers.Serializer):
    csd = serializers.CharField()
    key_id = serializers.CharField()
    signature = serializers.CharField(help_text="base64 Ed25519 signature of the header bytes")
    endorsed_at = serializers.CharField(
        help_text="when the hub stored it (UTC): the key must be in force then"
    )


class BlockOut(serializers.Serializer):
    version = serializers.IntegerField()
    height = serializers.IntegerField()
    previous_hash = serializers.CharField()
    merkle_root = serializers.CharField()
    entry_count = serializers.IntegerField()
    sealed_at = serializers.CharField(help_text="UTC, as the header commits to it")
    hub_key_id = serializers.CharField()
    csds = serializers.ListField(child=serializers.CharField(), help_text="the CSDs that endorse the block")
    block_hash = serializers.CharField(
        help_text="SHA-256 of the canonical header (version, height, previous_hash, merkle_root, entry_count, "
        "sealed_at, hub_key_id, csds): the next block's previous_hash"
    )
    hub_signature = serializers.CharField(help_text="base64 Ed25519 signature of the header bytes")
    endorsements = EndorsementOut(many=True)


class EntryFilter(serializers.Serializer):
    after = serializers.IntegerField(required=False, min_value=0, help_text="the last id of the page before")
    limit = serializers.IntegerField(required=False, min_value=1, max_value=PAGE_MAX, default=PAGE_MAX)


class BlockFilter(serializers.Serializer):
    after = serializers.IntegerField(
        required=False, min_value=0, help_text="the last height of the page before"
    )
    limit = serializers.IntegerField(required=False, min_value=1, max_value=PAGE_MAX, default=PAGE_MAX)


class EntryListView(CSDView):
    @extend_schema(
        operation_id="ledger_entries_list",
        parameters=[EntryFilter, schema.RETRY_AFTER],
        responses={
            200: EntryOut(many=True),
            400: schema.BAD_PARAMETER,
            401: schema.UNAUTHENTICATED,
            429: schema.RATE_LIMITED,
        },
    )
    def get(self, request: Request) -> Response:
        """The ledger entries that involve the caller, oldest first, a page at a time: ``after`` the last id
        of the page before."""
        filters = EntryFilter(data=request.query_params)
        filters.is_valid(raise_exception=True)
        rows = entries_involving(calling_csd(request).code).order_by("pk")
        if "after" in filters.validated_data:
            rows = rows.filter(pk__gt=filters.validated_data["after"])
        page = entries_page(rows, limit=filters.validated_data["limit"])
        return Response(EntryOut(page, many=True).data)


class EntryProofView(CSDView):
    @extend_schema(
        operation_id="ledger_entries_proof",
        parameters=[schema.RETRY_AFTER],
        responses={
            200: OpenApiResponse(
                OpenApiTypes.OBJECT,
                description="the entry's inclusion proof, as `manage.py ledger_proof` prints it: check it "
                "offline with `python hub/ledger/verifier.py proof.json --keys keys.json`",
            ),
            401: schema.UNAUTHENTICATED,
            404: schema.NO_SUCH_ENTRY,
            409: schema.NOT_SEALED,
            429: schema.RATE_LIMITED,
        },
    )
    def get(self, request: Request, pk: int) -> Response:
        """The inclusion proof of one ledger entry that involves the caller."""
        csd = calling_csd(request)
        # an entry of other CSDs' is simply not found: its existence is not disclosed
        if not entries_involving(csd.code).filter(pk=pk).exists():
            raise NotFound(f"no ledger entry {pk} involves {csd.code}")
        try:
            proof = entry_proof(entry_id=pk)
        except EntryNotSealed as exc:
            raise NotSealed(f"{exc}: ask again after the next sealing round") from None
        return Response(proof)


class BlockListView(CSDView):
    @extend_schema(
        operation_id="ledger_blocks_list",
        parameters=[BlockFilter, schema.RETRY_AFTER],
        responses={
            200: BlockOut(many=True),
            400: schema.BAD_PARAMETER,
            401: schema.UNAUTHENTICATED,
            429: schema.RATE_LIMITED,
        },
    )
    def get(self, request: Request) -> Response:
        """Every block's header, hash, hub signature and endorsements, in height order, a page at a time:
        ``after`` the last height of the page before. No entry is listed: a CSD checks the chain's links and
        signatures without the entries of other CSDs."""
        filters = BlockFilter(data=request.query_params)
        filters.is_valid(raise_exception=True)
        page = block_headers(after=filters.validated_data.get("after"), limit=filters.validated_data["limit"])
        return Response(BlockOut(page, many=True).data)
