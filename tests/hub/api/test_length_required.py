"""A body sent without a Content-Length is refused with 411, never read as an empty one."""

from hub.messaging.models import InboundMessage

from ..settlement.messages import as_mx, instruction


def test_a_chunked_message_without_a_content_length_gets_411_and_nothing_is_kept(nsd_broker):
    # how a WSGI server hands Django a chunked body: no CONTENT_LENGTH, the body in the input stream
    response = nsd_broker.generic(
        "POST",
        "/api/v1/messages/",
        as_mx(instruction("DELI", tx="CHUNKED-1")),
        content_type="application/xml",
        CONTENT_LENGTH="",
        HTTP_TRANSFER_ENCODING="chunked",
    )
    assert response.status_code == 411
    assert "Content-Length" in response.json()["detail"]
    assert not InboundMessage.objects.exists()


def test_a_body_with_its_content_length_is_read_as_before(nsd_broker):
    response = nsd_broker.generic(
        "POST", "/api/v1/messages/", as_mx(instruction("DELI", tx="SIZED-1")), content_type="application/xml"
    )
    assert response.status_code == 202
