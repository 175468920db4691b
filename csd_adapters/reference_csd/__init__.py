"""The reference CSD: a real book-entry securities ledger in its own database (``ledger``, ``schema``),
speaking ISO 20022 MX or ISO 15022 MT over HTTP (``service``, ``dialects``, ``server``), with switchable
faults (``faults``). ``python -m csd_adapters.reference_csd --help`` serves and seeds it."""
