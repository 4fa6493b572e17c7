"""RFC 6962 hashing against the reference tree and RFC 9162's recursive definition."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cosignatory.tlog.hashing import (
    EMPTY_ROOT,
    HASH_SIZE,
    largest_power_of_two_below,
    leaf_hash,
    node_hash,
    root_of,
)

VECTORS = Path(__file__).resolve().parents[1] / "vectors"
REFERENCE = json.loads(
    (VECTORS / "transparency-dev-merkle" / "rfc6962_reference_tree.json").read_text()
)
LEAF_INPUTS = [bytes.fromhex(h) for h in REFERENCE["leaf_inputs_hex"]]
LEAF_HASHES = [bytes.fromhex(h) for h in REFERENCE["leaf_hashes_hex"]]
ROOTS = [bytes.fromhex(h) for h in REFERENCE["root_by_size_hex"]]


def reference_mth(hashes: list[bytes]) -> bytes:
    """MTH exactly as RFC 9162 §2.1.1 writes it: recursive, split below n."""
    n = len(hashes)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return hashes[0]
    k = 1
    while k * 2 < n:
        k *= 2
    left, right = reference_mth(hashes[:k]), reference_mth(hashes[k:])
    return hashlib.sha256(b"\x01" + left + right).digest()


def test_empty_root_is_sha256_of_nothing() -> None:
    assert hashlib.sha256(b"").digest() == EMPTY_ROOT
    spec = json.loads((VECTORS / "c2sp-examples" / "spec_examples.json").read_text())
    assert base64.b64decode(spec["empty_tree_root_b64"]) == EMPTY_ROOT
    assert root_of([]) == EMPTY_ROOT
    assert len(EMPTY_ROOT) == HASH_SIZE


@pytest.mark.parametrize("i", range(len(LEAF_INPUTS)))
def test_reference_leaf_hashes(i: int) -> None:
    assert leaf_hash(LEAF_INPUTS[i]) == LEAF_HASHES[i]


@pytest.mark.parametrize("size", range(len(ROOTS)))
def test_reference_roots(size: int) -> None:
    assert root_of(LEAF_HASHES[:size]) == ROOTS[size]


def test_node_hash_is_prefixed() -> None:
    left, right = LEAF_HASHES[0], LEAF_HASHES[1]
    assert node_hash(left, right) == hashlib.sha256(b"\x01" + left + right).digest()
    assert node_hash(left, right) == ROOTS[2]


def test_root_of_accepts_any_sequence_and_leaves_it_alone() -> None:
    hashes = tuple(LEAF_HASHES[:5])
    assert root_of(hashes) == ROOTS[5]
    assert hashes == tuple(LEAF_HASHES[:5])


@pytest.mark.parametrize(
    ("n", "k"), [(2, 1), (3, 2), (4, 2), (5, 4), (8, 4), (9, 8), (1 << 40, 1 << 39)]
)
def test_largest_power_of_two_below(n: int, k: int) -> None:
    assert largest_power_of_two_below(n) == k


@pytest.mark.parametrize("n", [-1, 0, 1])
def test_largest_power_of_two_below_needs_two(n: int) -> None:
    with pytest.raises(ValueError):
        largest_power_of_two_below(n)


LEAVES = [leaf_hash(i.to_bytes(4, "big")) for i in range(600)]


@settings(max_examples=150, deadline=None)
@given(st.integers(min_value=0, max_value=len(LEAVES)))
def test_root_of_matches_the_recursive_definition(size: int) -> None:
    assert root_of(LEAVES[:size]) == reference_mth(LEAVES[:size])
