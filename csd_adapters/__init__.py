"""CSD adapters: how the hub reaches each CSD's own ledger.

- ``base``: the interface (``CsdAdapter``), the values that cross it and its errors.
- ``registry``: adapter names to classes, imported lazily; ``profiles``: the demo CSDs.
- ``mx`` / ``mt``: adapters speaking ISO 20022 and ISO 15022 over HTTP (``transport``).
- ``reference_csd``: a real book-entry ledger that speaks either standard, for tests, the demo and any
  CSD without a core system of its own.
- ``conformance``: the test suite every adapter must pass against its CSD.

This package never imports the hub or Django.
"""
