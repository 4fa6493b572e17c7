"""Property tests for the proof algebra (RFC 9162 §2.1.3, §2.1.4).

Trees are prefixes of one fixed list of leaf hashes, and MTH of a range does not
depend on the tree it sits in, so one cached range hash serves every example.
"""

from __future__ import annotations

from functools import cache

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cosignatory.tlog.errors import ProofInvalidError, ProofRangeError
from cosignatory.tlog.hashing import largest_power_of_two_below, leaf_hash, root_of
from cosignatory.tlog.proofs import (
    MemoryTree,
    consistency_proof,
    inclusion_proof,
    root_from_inclusion_proof,
    verify_consistency,
    verify_inclusion,
)

MAX_SIZE = 3000
LEAVES = [leaf_hash(b"leaf %d" % i) for i in range(MAX_SIZE)]
EXAMPLES = 200


@cache
def range_hash(start: int, end: int) -> bytes:
    assert 0 <= start < end <= MAX_SIZE
    return root_of(LEAVES[start:end])


def root(size: int) -> bytes:
    return range_hash(0, size)


sizes = st.one_of(
    st.integers(min_value=1, max_value=40),
    st.integers(min_value=1, max_value=MAX_SIZE),
    st.sampled_from([1 << k for k in range(12)] + [(1 << k) + 1 for k in range(11)]),
)


@st.composite
def size_and_index(draw: st.DrawFn) -> tuple[int, int]:
    size = draw(sizes)
    return size, draw(st.integers(min_value=0, max_value=size - 1))


@st.composite
def size_pair(draw: st.DrawFn) -> tuple[int, int]:
    new = draw(sizes)
    return draw(st.integers(min_value=1, max_value=new)), new


def flip(data: bytes, bit: int) -> bytes:
    bit %= len(data) * 8
    out = bytearray(data)
    out[bit // 8] ^= 1 << (bit % 8)
    return bytes(out)


# The recursive definitions of RFC 9162, written out, over the shared leaves. Each
# proof hash is tagged with the side it is hashed on: two (index, size) pairs with the
# same tags are hashed identically, so a proof valid for one is valid for the other,
# and for no pair with other tags.


def reference_path(index: int, lo: int, hi: int) -> list[tuple[str, bytes]]:
    """PATH(index - lo, D[lo:hi]) (RFC 9162 §2.1.3.1)."""
    if hi - lo == 1:
        return []
    mid = lo + largest_power_of_two_below(hi - lo)
    if index < mid:
        return [*reference_path(index, lo, mid), ("R", range_hash(mid, hi))]
    return [*reference_path(index, mid, hi), ("L", range_hash(lo, mid))]


def reference_subproof(m: int, lo: int, hi: int, whole: bool) -> list[tuple[str, bytes]]:
    """SUBPROOF(m - lo, D[lo:hi], whole) (RFC 9162 §2.1.4.1)."""
    if m == hi:
        return [] if whole else [("seed", range_hash(lo, hi))]
    mid = lo + largest_power_of_two_below(hi - lo)
    if m <= mid:
        return [*reference_subproof(m, lo, mid, whole), ("R", range_hash(mid, hi))]
    return [*reference_subproof(m, mid, hi, False), ("L", range_hash(lo, mid))]


def path_shape(index: int, size: int) -> list[str]:
    return [side for side, _ in reference_path(index, 0, size)]


def consistency_shape(old: int, new: int) -> list[str]:
    return [side for side, _ in reference_subproof(old, 0, new, True)]


# --- generation ----------------------------------------------------------------------


@settings(max_examples=EXAMPLES, deadline=None)
@given(size_and_index())
def test_inclusion_proof_is_rfc_path_and_verifies(case: tuple[int, int]) -> None:
    size, index = case
    proof = inclusion_proof(index, size, range_hash)
    assert proof == [h for _, h in reference_path(index, 0, size)]
    verify_inclusion(LEAVES[index], index, size, proof, root(size))
    assert root_from_inclusion_proof(LEAVES[index], index, size, proof) == root(size)


@settings(max_examples=EXAMPLES, deadline=None)
@given(size_pair())
def test_consistency_proof_is_rfc_proof_and_verifies(case: tuple[int, int]) -> None:
    old, new = case
    proof = consistency_proof(old, new, range_hash)
    assert proof == [h for _, h in reference_subproof(old, 0, new, True)]
    verify_consistency(old, new, root(old), root(new), proof)


@settings(max_examples=50, deadline=None)
@given(st.integers(min_value=1, max_value=300), st.data())
def test_memory_tree_agrees(size: int, data: st.DataObject) -> None:
    tree = MemoryTree(LEAVES[:size])
    index = data.draw(st.integers(min_value=0, max_value=size - 1))
    old = data.draw(st.integers(min_value=1, max_value=size))
    assert tree.root() == root(size)
    assert tree.inclusion_proof(index) == inclusion_proof(index, size, range_hash)
    assert tree.consistency_proof(old) == consistency_proof(old, size, range_hash)


# --- tampering -----------------------------------------------------------------------


@settings(max_examples=EXAMPLES, deadline=None)
@given(size_and_index(), st.integers(min_value=0), st.integers(min_value=0))
def test_inclusion_rejects_any_flipped_bit(case: tuple[int, int], target: int, bit: int) -> None:
    size, index = case
    proof = inclusion_proof(index, size, range_hash)
    leaf, tree_root = LEAVES[index], root(size)
    target %= len(proof) + 2
    if target == len(proof):
        leaf = flip(leaf, bit)
    elif target == len(proof) + 1:
        tree_root = flip(tree_root, bit)
    else:
        proof[target] = flip(proof[target], bit)
    with pytest.raises(ProofInvalidError):
        verify_inclusion(leaf, index, size, proof, tree_root)


@settings(max_examples=EXAMPLES, deadline=None)
@given(size_pair(), st.integers(min_value=0), st.integers(min_value=0))
def test_consistency_rejects_any_flipped_bit(case: tuple[int, int], target: int, bit: int) -> None:
    old, new = case
    proof = consistency_proof(old, new, range_hash)
    old_root, new_root = root(old), root(new)
    target %= len(proof) + 2
    if target == len(proof):
        old_root = flip(old_root, bit)
    elif target == len(proof) + 1:
        new_root = flip(new_root, bit)
    else:
        proof[target] = flip(proof[target], bit)
    with pytest.raises(ProofInvalidError):
        verify_consistency(old, new, old_root, new_root, proof)


@settings(max_examples=EXAMPLES, deadline=None)
@given(size_and_index(), size_and_index())
def test_inclusion_with_other_index_or_size(case: tuple[int, int], other: tuple[int, int]) -> None:
    size, index = case
    other_size, other_index = other
    proof = inclusion_proof(index, size, range_hash)
    # A proof does not name its size: leaf 0 of 5 and of 8 hash the same way.
    # It verifies elsewhere exactly when the hashing is the same.
    if path_shape(other_index, other_size) == path_shape(index, size):
        verify_inclusion(LEAVES[index], other_index, other_size, proof, root(size))
    else:
        with pytest.raises(ProofInvalidError):
            verify_inclusion(LEAVES[index], other_index, other_size, proof, root(size))


@settings(max_examples=EXAMPLES, deadline=None)
@given(size_and_index(), st.integers(min_value=0, max_value=MAX_SIZE))
def test_inclusion_other_index_same_size_fails(case: tuple[int, int], other: int) -> None:
    size, index = case
    other %= size
    proof = inclusion_proof(index, size, range_hash)
    if other != index:
        with pytest.raises(ProofInvalidError):
            verify_inclusion(LEAVES[index], other, size, proof, root(size))
    with pytest.raises(ProofRangeError):
        verify_inclusion(LEAVES[index], size + other, size, proof, root(size))
    with pytest.raises(ProofRangeError):
        verify_inclusion(LEAVES[index], -1 - other, size, proof, root(size))


@settings(max_examples=EXAMPLES, deadline=None)
@given(size_pair(), size_pair())
def test_consistency_with_other_sizes(case: tuple[int, int], other: tuple[int, int]) -> None:
    old, new = case
    other_old, other_new = other
    proof = consistency_proof(old, new, range_hash)
    # As for inclusion, a proof fits every pair of sizes that hashes the same way.
    if consistency_shape(other_old, other_new) == consistency_shape(old, new):
        verify_consistency(other_old, other_new, root(old), root(new), proof)
    else:
        with pytest.raises(ProofInvalidError):
            verify_consistency(other_old, other_new, root(old), root(new), proof)


@settings(max_examples=EXAMPLES, deadline=None)
@given(size_pair())
def test_consistency_sizes_out_of_order_or_zero(case: tuple[int, int]) -> None:
    old, new = case
    proof = consistency_proof(old, new, range_hash)
    if old != new:
        with pytest.raises(ProofRangeError):
            verify_consistency(new, old, root(new), root(old), proof)
    with pytest.raises(ProofRangeError):
        verify_consistency(0, new, root(old), root(new), proof)
