"""The participant message API: ISO 20022 / ISO 15022 messages in, status messages out.

POST /api/v1/messages/               one message; Content-Type application/xml (MX) or text/plain (MT)
POST /api/v1/messages/bulk/          many messages in one file (see ``hub.settlement.bulk``)
GET  /api/v1/messages/outbox/?after= the caller's outbound messages after a cursor, oldest first
"""

import logging

from django.conf import settings
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    inline_serializer,
)
from rest_framework import serializers
from rest_framework.exceptions import APIException, ParseError, Throttled
from rest_framework.parsers import BaseParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from hub.api import ratelimit, schema
from hub.api.auth import IsParticipant, ParticipantTokenAuthentication, caller
from hub.messaging.selectors import outbox_after, outbox_last_sequence
from hub.settlement.bulk import bulk_max_bytes, messages_receive_bulk
from hub.settlement.intake import message_max_bytes, message_receive

logger = logging.getLogger(__name__)


class RawBody(BaseParser):
    """Leaves the body as bytes: the message layer reads it, with its own limits."""

    media_type = "*/*"

    def parse(self, stream, media_type=None, parser_context=None) -> bytes:
        return stream.read()


class TooLarge(APIException):
    status_code = 413
    default_code = "too_large"


class ParticipantView(APIView):
    authentication_classes = [ParticipantTokenAuthentication]
    permission_classes = [IsParticipant]
    # after authentication and permissions (DRF's order), so budgets are the participant's own
    throttle_classes = [ratelimit.CallerRateLimit]
    parser_classes = [RawBody]

    def throttled(self, request: Request, wait: float | None) -> None:
        """A 429 with ``Retry-After`` (DRF's handler sets it from ``wait``) and the JSON error body saying
        which budget is spent. ISO 20022 has no reason code for throttling: no status message is made,
        and the body is not read."""
        raise Throttled(wait, detail=ratelimit.refusal(request))

    @staticmethod
    def body(request: Request, *, limit: int, what: str) -> bytes:
        """The request's bytes; a 413 naming the limit for a body whose Content-Length is over ``limit``
        (``what`` says what the limit is for). Such a body is neither read nor kept: the refusal is
        logged with its sender and declared length."""
        declared = request.META.get("CONTENT_LENGTH") or "0"
        try:
            length = int(declared)
        except ValueError:
            raise ParseError(f"Content-Length {declared[:20]!r} is not a number of bytes") from None
        if length > limit:
            logger.warning(
                "refused unread: %s bytes (%s) from %s, over the limit of %s bytes of %s",
                length,
                request.content_type[:100],
                caller(request).bic,
                limit,
                what,
            )
            raise TooLarge(f"the body is {length} bytes, over the limit of {limit} bytes of {what}")
        return request.body  # ``limit`` is within API_MAX_REQUEST_BYTES, Django's own limit


_STATUS_DOC = {
    202: OpenApiResponse(OpenApiTypes.BINARY, description="accepted: sese.024 (MT548) with AckdAccptd"),
    200: OpenApiResponse(
        OpenApiTypes.BINARY,
        description="cancellation processed: sese.027 (MT548) cancelled, pending or denied",
    ),
    400: OpenApiResponse(
        OpenApiTypes.BINARY,
        description="unreadable, schema-invalid, hostile, of an unsupported type or version, or not from the "
        "caller to the hub: sese.024 (MT548) Rjctd with its reason codes",
    ),
    401: schema.UNAUTHENTICATED,
    411: schema.LENGTH_REQUIRED,
    413: schema.too_large("5 MiB of ISO 20022, 2,000,000 characters of FIN"),
    422: OpenApiResponse(
        OpenApiTypes.BINARY,
        description="refused by a business rule: an instruction with a sese.024 (MT548) Rjctd, a cancellation "
        "(of an unknown instruction, or one whose details differ) with a sese.027 (MT548) Rjctd, each with "
        "its reason code",
    ),
    429: schema.RATE_LIMITED,
}


class MessageIntakeView(ParticipantView):
    @extend_schema(
        operation_id="messages_send",
        summary="Send one ISO 20022 or ISO 15022 message",
        description=(
            "The body is the message itself: ISO 20022 as `application/xml` (a bare `Document`, or the hub "
            "envelope `Envlp` holding `AppHdr` then `Document`), or ISO 15022 FIN as `text/plain`. The answer "
            "is a status message in the same standard. A replay (same business message id, or same "
            "transaction id of an accepted instruction) returns the original answer with `X-Hub-Replay: true`."
        ),
        request={"application/xml": OpenApiTypes.BINARY, "text/plain": OpenApiTypes.BINARY},
        parameters=[*schema.ANSWER_HEADERS, schema.RETRY_AFTER],
        responses=_STATUS_DOC,
    )
    def post(self, request: Request) -> HttpResponse:
        content_type = request.content_type or ""
        raw = self.body(request, limit=message_max_bytes(content_type), what="one message")
        answer = message_receive(participant=caller(request), raw=raw, content_type=content_type)
        response = HttpResponse(answer.body, status=answer.http_status, content_type=answer.content_type)
        response["X-Hub-Message-Id"] = str(answer.inbound_id)
        response["X-Hub-Outcome"] = answer.outcome
        if answer.reason_codes:
            response["X-Hub-Reason-Codes"] = ",".join(answer.reason_codes)
        if answer.outcome == "REPLAY":
            response["X-Hub-Replay"] = "true"
        return response


class BulkIntakeView(ParticipantView):
    @extend_schema(
        operation_id="messages_send_bulk",
        summary="Send many messages in one request",
        description=(
            "ISO 20022: `application/xml` with root `BlkMsgs` (namespace `urn:csd-hub:xsd:blk.001.01`) whose "
            "children are hub envelopes or bare Documents. ISO 15022: `text/plain` with FIN messages one "
            "after another. Each message is processed as if sent alone; the answer lists each one's outcome "
            "and status message in order."
        ),
        request={"application/xml": OpenApiTypes.BINARY, "text/plain": OpenApiTypes.BINARY},
        parameters=[schema.RETRY_AFTER],
        responses={
            200: inline_serializer(
                "BulkAnswer",
                {
                    "count": serializers.IntegerField(),
                    "results": inline_serializer(
                        "BulkItem",
                        {
                            "index": serializers.IntegerField(),
                            "http_status": serializers.IntegerField(),
                            "outcome": serializers.CharField(),
                            "reason_codes": serializers.ListField(child=serializers.CharField()),
                            "message_id": serializers.IntegerField(),
                            "content_type": serializers.CharField(),
                            "answer": serializers.CharField(),
                        },
                        many=True,
                    ),
                },
            ),
            400: OpenApiResponse(
                schema.PROBLEM,
                description="the file itself cannot be split into messages, or is over its element limit",
            ),
            401: schema.UNAUTHENTICATED,
            411: schema.LENGTH_REQUIRED,
            413: schema.too_large("32 MiB, or API_MAX_REQUEST_BYTES where that is lower"),
            429: schema.RATE_LIMITED,
        },
    )
    def post(self, request: Request) -> Response:
        raw = self.body(request, limit=bulk_max_bytes(), what="a bulk file: send it in smaller files")
        result = messages_receive_bulk(
            participant=caller(request), raw=raw, content_type=request.content_type or ""
        )
        return Response(result.as_dict(), status=result.http_status)


class OutboxItem(serializers.Serializer):
    sequence = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    message_type = serializers.CharField()
    format = serializers.CharField()
    content_type = serializers.CharField()
    transaction_id = serializers.CharField()
    status = serializers.CharField()
    payload = serializers.SerializerMethodField()

    def get_payload(self, message) -> str:
        return bytes(message.payload).decode("utf-8")


class OutboxView(ParticipantView):
    @extend_schema(
        operation_id="messages_outbox",
        summary="Pull the caller's status messages and confirmations",
        parameters=[
            OpenApiParameter("after", int, description="cursor: the last sequence already read (0 to start)"),
            OpenApiParameter(
                "limit", int, description=f"at most this many (default 100, max {settings.OUTBOX_PAGE_MAX})"
            ),
            schema.RETRY_AFTER,
        ],
        responses={
            200: inline_serializer(
                "OutboxPage",
                {
                    "messages": OutboxItem(many=True),
                    "next_cursor": serializers.IntegerField(),
                },
            ),
            400: OpenApiResponse(
                schema.PROBLEM,
                description="'after' or 'limit' is not a number it can be, or 'after' is past the last "
                "sequence issued to the caller",
            ),
            401: schema.UNAUTHENTICATED,
            429: schema.RATE_LIMITED,
        },
        examples=[OpenApiExample("next page", value={"messages": [], "next_cursor": 42}, response_only=True)],
    )
    def get(self, request: Request) -> Response:
        try:
            after = int(request.query_params.get("after", "0"))
            limit = min(int(request.query_params.get("limit", "100")), settings.OUTBOX_PAGE_MAX)
        except ValueError:
            return Response({"detail": "'after' and 'limit' are integers"}, status=400)
        if after < 0 or limit < 1:
            return Response({"detail": "'after' must be >= 0 and 'limit' >= 1"}, status=400)
        participant = caller(request)
        messages = outbox_after(participant=participant, after=after, limit=limit)
        if not messages and after > (last := outbox_last_sequence(participant=participant)):
            # a cursor no answer of this outbox gave (another environment's, or one from before a restore):
            # an empty page would leave the client waiting, unaware, for sequences it has skipped
            return Response(
                {
                    "detail": f"'after' {after} is past the last sequence issued to you ({last}): this outbox "
                    f"never gave that cursor; read from {last} for what comes next, or from 0 for everything"
                },
                status=400,
            )
        next_cursor = messages[-1].sequence if messages else after
        return Response({"messages": OutboxItem(messages, many=True).data, "next_cursor": next_cursor})
