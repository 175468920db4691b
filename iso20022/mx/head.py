"""head.001 BusinessApplicationHeader (``AppHdr``) <-> ``BusinessHeader``.

Layout (V02)::

    AppHdr
      Fr/FIId/FinInstnId/BICFI        from_bic
      To/FIId/FinInstnId/BICFI        to_bic
      BizMsgIdr                       business_message_id
      MsgDefIdr                       message_definition_id, e.g. sese.023.001.11
      BizSvc                          business_service
      CreDt                           creation (ISO 8601 with offset; a time without offset is read as UTC)
      Rltd/...BizMsgIdr               related_business_message_id (the related header is written with
                                      the parties swapped, this message's definition and creation time)
"""

from __future__ import annotations

import datetime as dt
import functools

from lxml import etree

from iso20022.models import BusinessHeader
from iso20022.mx.xmltree import Node, Writer

ROOT = "AppHdr"


def _put_party(w: Writer, parent: etree._Element, name: str, bic: str) -> None:
    w.path(parent, f"{name}/FIId/FinInstnId/BICFI", bic)


def _get_party(node: Node) -> str:
    return node["FIId"]["FinInstnId"].text("BICFI")


def build(w: Writer, h: BusinessHeader) -> etree._Element:
    root = w.root(ROOT)
    _put_party(w, root, "Fr", h.from_bic)
    _put_party(w, root, "To", h.to_bic)
    w.add(root, "BizMsgIdr", h.business_message_id)
    w.add(root, "MsgDefIdr", h.message_definition_id)
    w.opt(root, "BizSvc", h.business_service)
    w.add(root, "CreDt", _timestamp(h.creation))
    if h.related_business_message_id is not None:
        related = w.add(root, "Rltd")
        _put_party(w, related, "Fr", h.to_bic)
        _put_party(w, related, "To", h.from_bic)
        w.add(related, "BizMsgIdr", h.related_business_message_id)
        w.add(related, "MsgDefIdr", h.message_definition_id)
        w.add(related, "CreDt", _timestamp(h.creation))
    return root


@functools.lru_cache(maxsize=64)
def _timestamp(moment: dt.datetime) -> str:
    """``CreDt``: headers are written to the second, so a process writes the same few moments again and
    again (each message one or two headers)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.isoformat()


def parse(node: Node) -> BusinessHeader:
    created = node.datetime("CreDt")
    if created.tzinfo is None:
        created = created.replace(tzinfo=dt.UTC)
    related = node.opt("Rltd")
    return BusinessHeader(
        from_bic=_get_party(node["Fr"]),
        to_bic=_get_party(node["To"]),
        business_message_id=node.text("BizMsgIdr"),
        message_definition_id=node.text("MsgDefIdr"),
        business_service=node.opt_text("BizSvc"),
        creation=created,
        related_business_message_id=related.text("BizMsgIdr") if related is not None else None,
    )
