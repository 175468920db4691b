"""ISO 20022 (MX) and ISO 15022 (MT) message layer of the hub: a pure library, no Django, no database.

- ``iso20022.models``: the business content of every message (frozen dataclasses).
- ``iso20022.errors``: errors as values with ISO reason codes.
- ``iso20022.mx``: hardened XML parsing, usage-guideline validation, parsers and builders.
- ``iso20022.mt``: ISO 15022 FIN parsing and building.
"""
