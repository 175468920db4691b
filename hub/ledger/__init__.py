"""The shared ledger: entries sealed into signed, endorsed blocks, inclusion proofs and anchoring."""
