"""Adapter names -> the classes that implement them, imported only when first asked for.

The hub stores an adapter name and a config per CSD; ``adapter_for`` builds the adapter. Adding an
adapter is one line here and a class implementing ``csd_adapters.base.CsdAdapter``.
"""

from __future__ import annotations

import importlib
from typing import Any

from csd_adapters.base import CsdAdapter

ADAPTERS: dict[str, str] = {
    "iso20022_mx": "csd_adapters.mx.MxAdapter",
    "iso15022_mt": "csd_adapters.mt.MtAdapter",
    "reference_ledger": "csd_adapters.inprocess.LedgerAdapter",
}


def adapter_class(name: str) -> type[CsdAdapter]:
    try:
        dotted = ADAPTERS[name]
    except KeyError:
        raise KeyError(f"no CSD adapter named {name!r}; known: {', '.join(sorted(ADAPTERS))}") from None
    module_name, _, class_name = dotted.rpartition(".")
    return getattr(importlib.import_module(module_name), class_name)


def adapter_for(name: str, **config: Any) -> CsdAdapter:
    """An adapter by name, configured with keyword arguments (e.g. ``profile=``, ``base_url=``)."""
    return adapter_class(name)(**config)
