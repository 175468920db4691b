"""HTTP rules that hold for every request the hub serves, whichever view answers it."""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse


def length_required(get_response: Callable[[HttpRequest], HttpResponse]) -> Callable:
    """A body sent without a ``Content-Length`` (``Transfer-Encoding: chunked``) is answered ``411 Length
    Required``: Django reads a request body by its Content-Length alone, and would take such a body for an
    empty one (an instruction would be refused as an empty message, a form as blank)."""

    def middleware(request: HttpRequest) -> HttpResponse:
        if request.META.get("HTTP_TRANSFER_ENCODING") and not request.META.get("CONTENT_LENGTH"):
            return JsonResponse(
                {"detail": "send the body with a Content-Length header, not in chunked transfer encoding"},
                status=411,
            )
        return get_response(request)

    return middleware
