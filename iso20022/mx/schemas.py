"""The hub's usage-guideline schemas (``iso20022/schemas/``), compiled once per process.

Validation errors become ``MessageError`` values with the failing element's line and local-name path,
and a reason code chosen from that path (``errors.reason_for_path``).
"""

from __future__ import annotations

import threading
from pathlib import Path

from lxml import etree

from iso20022.errors import MessageError, reason_for_path
from iso20022.mx.safexml import local_path, strip_namespaces

SCHEMA_DIR = Path(__file__).resolve().parent.parent / "schemas"
ENVELOPE_SCHEMA = "envelope.001.01.xsd"


_local = threading.local()
# libxml2 sets up its built-in schema types the first time a schema is compiled, and that setup is not
# safe against another thread compiling at the same moment: the loser, and every later compile in the
# process, fails with "xmlSchemaPValAttrNodeValue, the given type is not a built-in type". Compiling is
# rare (once per schema per thread), so compiles take turns.
_compiling = threading.Lock()


def guideline(filename: str) -> etree.XMLSchema:
    """The compiled usage-guideline schema ``filename``, compiled once per thread: a validator keeps
    its error log on itself, so threads do not share one."""
    compiled = getattr(_local, "schemas", None)
    if compiled is None:
        compiled = _local.schemas = {}
    schema = compiled.get(filename)
    if schema is None:
        schema = compiled[filename] = _compile(filename)
    return schema


def _compile(filename: str) -> etree.XMLSchema:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    with _compiling:
        return etree.XMLSchema(etree.parse(str(SCHEMA_DIR / filename), parser))


def schema_errors(
    schema: etree.XMLSchema, element: etree._Element, limit: int = 20
) -> tuple[MessageError, ...]:
    """Validate ``element`` (a whole subtree) and describe every violation; empty when valid."""
    if schema.validate(element):
        return ()
    errors = []
    for entry in list(schema.error_log)[:limit]:
        found = _element_at(element, entry.path)
        path = local_path(found) if found is not None else None
        errors.append(
            MessageError(
                reason=reason_for_path(path),
                message=strip_namespaces(entry.message),
                line=entry.line or None,
                path=path,
            )
        )
    return tuple(errors)


def _element_at(element: etree._Element, path: str | None) -> etree._Element | None:
    """libxml2 reports paths like ``/*/*[2]`` from the validated element; resolve one to its element."""
    if not path or not path.startswith("/*"):
        return None
    relative = "." + path[2:]
    try:
        found = element.xpath(relative)
    except etree.XPathError:
        return None
    return found[0] if found and isinstance(found[0], etree._Element) else None
