"""The OpenAPI description of what the participant API and the CSD ledger API answer besides their main
answer: the JSON errors every call may give, and the headers of a message's answer. The README's table of
statuses lists the same (``tests/hub/api/test_access.py`` holds the two together)."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, inline_serializer
from rest_framework import serializers

PROBLEM = inline_serializer("Problem", {"detail": serializers.CharField()})

UNAUTHENTICATED = OpenApiResponse(
    PROBLEM, description="no token, or an unknown or revoked one: send 'Authorization: Token <key>'"
)
LENGTH_REQUIRED = OpenApiResponse(
    PROBLEM, description="a body sent without a Content-Length (chunked transfer encoding): not read"
)
NOT_FOUND = OpenApiResponse(PROBLEM, description="no such instruction of the caller's")
NO_SUCH_ACCOUNT = OpenApiResponse(PROBLEM, description="no such account of the caller's")
NO_SUCH_ENTRY = OpenApiResponse(
    PROBLEM, description="no such ledger entry that involves the caller (another CSD's is not disclosed)"
)
NOT_SEALED = OpenApiResponse(
    PROBLEM,
    description="the entry is not sealed in a block yet: its proof exists once it is; ask again later",
)
BAD_PARAMETER = OpenApiResponse(
    OpenApiTypes.OBJECT, description="a bad parameter: its name, with what is wrong with it"
)


RATE_LIMITED = OpenApiResponse(
    PROBLEM,
    description="the caller is over its budget of writes (messages sent) or of reads (outbox, instructions, "
    "accounts; a CSD's ledger entries, proofs and blocks) for the current window (API_RATE_LIMIT_*): the "
    "request is not read, kept nor answered with a status message (ISO 20022 has no reason code for "
    "throttling); send it again after Retry-After seconds",
)
RETRY_AFTER = OpenApiParameter(
    "Retry-After",
    int,
    OpenApiParameter.HEADER,
    required=True,
    response=[429],
    description="seconds until the caller's budget is renewed (the end of the current window)",
)


def too_large(limit: str) -> OpenApiResponse:
    return OpenApiResponse(
        PROBLEM,
        description=f"the Content-Length is over the limit ({limit}): the body is neither read nor kept",
    )


# the answers that carry a status message, and the headers that repeat its essentials
ANSWERED = [200, 202, 400, 422]
ANSWER_HEADERS = [
    OpenApiParameter(
        "X-Hub-Outcome",
        str,
        OpenApiParameter.HEADER,
        required=True,
        enum=["ACCEPTED", "REJECTED", "REPLAY"],
        response=ANSWERED,
        description="what became of the message",
    ),
    OpenApiParameter(
        "X-Hub-Reason-Codes",
        str,
        OpenApiParameter.HEADER,
        response=ANSWERED,
        description="the ISO 20022 reason codes of a refusal, comma-separated (absent when there are none)",
    ),
    OpenApiParameter(
        "X-Hub-Message-Id",
        int,
        OpenApiParameter.HEADER,
        required=True,
        response=ANSWERED,
        description="the id under which the hub keeps the message and its answer",
    ),
    OpenApiParameter(
        "X-Hub-Replay",
        str,
        OpenApiParameter.HEADER,
        enum=["true"],
        response=ANSWERED,
        description="present on a replay: the original answer is repeated and nothing is created",
    ),
]
