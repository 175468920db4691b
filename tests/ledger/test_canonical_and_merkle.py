"""The bytes that are hashed and signed, and the RFC 6962 Merkle tree over them."""

import hashlib
import json
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.ledger import verifier


def rfc6962_root(leaves: list[bytes]) -> bytes:
    """MTH as RFC 6962 section 2.1 defines it, recursively: the reference the fast tree must match."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaves[0]
    split = 1
    while split * 2 < len(leaves):
        split *= 2
    return verifier.node_hash(rfc6962_root(leaves[:split]), rfc6962_root(leaves[split:]))


def test_canonical_bytes_sort_keys_drop_blanks_and_write_utf8():
    assert (
        verifier.canonical_bytes({"b": 1, "a": ["é", None, True]}) == '{"a":["é",null,true],"b":1}'.encode()
    )


def test_decimals_have_one_fixed_form_whatever_their_scale():
    forms = {
        verifier.canonical_bytes({"q": Decimal(text)}) for text in ("1000", "1E+3", "1000.000", "1000.0")
    }
    assert forms == {b'{"q":"1000"}'}
    assert (
        verifier.canonical_bytes([Decimal("0.000001"), Decimal("-0.0"), Decimal("12.50")])
        == b'["0.000001","0","12.5"]'
    )


def test_floats_are_refused_so_no_amount_is_rounded_silently():
    with pytest.raises(TypeError):
        verifier.canonical_bytes({"quantity": 1.5})


def test_naive_times_are_refused_and_aware_times_are_written_in_utc():
    import datetime as dt

    with pytest.raises(ValueError):
        verifier.canonical_bytes(dt.datetime(2026, 1, 1))
    moment = dt.datetime(2026, 1, 1, 3, tzinfo=dt.timezone(dt.timedelta(hours=3)))
    assert verifier.canonical_bytes(moment) == b'"2026-01-01T00:00:00.000000Z"'


def test_leaves_and_nodes_are_hashed_with_distinct_prefixes():
    assert verifier.leaf_hash(b"x") == hashlib.sha256(b"\x00x").digest()
    assert verifier.node_hash(b"l", b"r") == hashlib.sha256(b"\x01lr").digest()
    assert verifier.merkle_root([]) == hashlib.sha256(b"").digest()


@pytest.mark.parametrize("size", [*range(1, 40), 63, 64, 65, 100, 257])
def test_the_fast_tree_is_the_rfc_6962_tree_and_every_audit_path_leads_to_its_root(size):
    leaves = [verifier.leaf_hash(str(i).encode()) for i in range(size)]
    root = verifier.merkle_root(leaves)
    assert root == rfc6962_root(leaves)
    levels = verifier.merkle_levels(leaves)
    for index, leaf in enumerate(leaves):
        path = verifier.audit_path(levels, index)
        assert verifier.root_from_audit_path(leaf, index, size, path) == root


def test_an_audit_path_does_not_prove_a_leaf_at_another_index_or_in_another_tree_size():
    leaves = [verifier.leaf_hash(str(i).encode()) for i in range(11)]
    root = verifier.merkle_root(leaves)
    path = verifier.audit_path(verifier.merkle_levels(leaves), 5)
    assert verifier.root_from_audit_path(leaves[5], 4, 11, path) != root
    assert verifier.root_from_audit_path(leaves[6], 5, 11, path) != root
    with pytest.raises(ValueError):
        verifier.root_from_audit_path(leaves[5], 5, 3, path)
    with pytest.raises(ValueError):
        verifier.root_from_audit_path(leaves[5], 11, 11, path)


@given(st.decimals(allow_nan=False, allow_infinity=False, places=6, min_value=-(10**18), max_value=10**18))
def test_every_decimal_reads_back_equal_from_its_canonical_text(value):
    text = verifier.decimal_text(value)
    assert Decimal(text) == value and "E" not in text
    assert verifier.decimal_text(Decimal(text)) == text


JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=20,
)


@given(st.dictionaries(st.text(max_size=6), JSONISH, max_size=6))
def test_the_order_keys_were_written_in_never_changes_the_bytes(mapping):
    reversed_order = dict(reversed(list(mapping.items())))
    assert verifier.canonical_bytes(mapping) == verifier.canonical_bytes(reversed_order)
    assert json.loads(verifier.canonical_bytes(mapping)) == mapping
