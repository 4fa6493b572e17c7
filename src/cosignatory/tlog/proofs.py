"""Merkle inclusion and consistency proofs: generation and verification.

Generation follows RFC 9162 §2.1.3.1 (PATH) and §2.1.4.1 (PROOF, SUBPROOF), written
as loops over the subtree being descended. It needs only the Merkle tree hash of
ranges of leaves, which the caller supplies as a :data:`RangeHash` (a store backed by
tiles answers from a handful of stored hashes).

Verification follows RFC 9162 §2.1.3.2 and §2.1.4.2. It never returns a bool: it
returns nothing (or the computed root) and raises :class:`ProofInvalidError` when the
proof is wrong, :class:`ProofRangeError` when the index or sizes cannot describe a
tree. The edge cases match transparency-dev/merkle, whose probes are in the tests.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from cosignatory.tlog.errors import ProofInvalidError, ProofRangeError
from cosignatory.tlog.hashing import HASH_SIZE, largest_power_of_two_below, node_hash, root_of
from cosignatory.tlog.hashing import leaf_hash as _hash_entry

__all__ = [
    "MemoryTree",
    "RangeHash",
    "consistency_proof",
    "inclusion_proof",
    "root_from_inclusion_proof",
    "verify_consistency",
    "verify_inclusion",
]

RangeHash = Callable[[int, int], bytes]
"""``range_hash(start, end)`` returns MTH(D[start:end]) for 0 <= start < end <= size."""


def inclusion_proof(index: int, size: int, range_hash: RangeHash) -> list[bytes]:
    """Return PATH(index, D[0:size]), leaf side first (RFC 9162 §2.1.3.1).

    Raises ProofRangeError unless 0 <= index < size; whatever ``range_hash`` raises
    (for instance when ``size`` exceeds what it holds) propagates.
    """
    if not 0 <= index < size:
        raise ProofRangeError(f"no leaf {index} in a tree of size {size}")
    path: list[bytes] = []
    lo, hi = 0, size
    # Descend from the root: at each split k, the sibling of the side holding the
    # leaf is one proof hash. The recursion lists the deepest sibling first.
    while hi - lo > 1:
        mid = lo + largest_power_of_two_below(hi - lo)
        if index < mid:
            path.append(range_hash(mid, hi))
            hi = mid
        else:
            path.append(range_hash(lo, mid))
            lo = mid
    path.reverse()
    return path


def consistency_proof(old_size: int, new_size: int, range_hash: RangeHash) -> list[bytes]:
    """Return PROOF(old_size, D[0:new_size]) (RFC 9162 §2.1.4.1); [] if the sizes are equal.

    Raises ProofRangeError unless 0 < old_size <= new_size; whatever ``range_hash``
    raises propagates.
    """
    if not 0 < old_size <= new_size:
        raise ProofRangeError(f"no consistency proof from size {old_size} to {new_size}")
    proof: list[bytes] = []
    lo, hi = 0, new_size
    # SUBPROOF(m, D[lo:hi], b): stop when the old tree is exactly this subtree.
    whole_old_tree = True
    while old_size != hi:
        mid = lo + largest_power_of_two_below(hi - lo)
        if old_size <= mid:
            proof.append(range_hash(mid, hi))
            hi = mid
        else:
            proof.append(range_hash(lo, mid))
            lo = mid
            whole_old_tree = False
    if not whole_old_tree:
        # SUBPROOF(m, D[m], false) = [MTH(D[m])]: the old tree's last subtree.
        proof.append(range_hash(lo, hi))
    proof.reverse()
    return proof


def _check_hashes(proof: Sequence[bytes]) -> None:
    for position, item in enumerate(proof):
        if len(item) != HASH_SIZE:
            raise ProofInvalidError(f"proof hash {position} is {len(item)} bytes, not {HASH_SIZE}")


def _inclusion_proof_length(index: int, size: int) -> int:
    # Hashes below the point where the leaf's path and the right edge meet, plus one
    # per perfect left subtree above it (RFC 9162 §2.1.3.1's recursion, counted).
    inner = (index ^ (size - 1)).bit_length()
    return inner + (index >> inner).bit_count()


def root_from_inclusion_proof(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes]
) -> bytes:
    """Return the root that ``proof`` gives for ``leaf_hash`` at ``index`` (RFC 9162 §2.1.3.2).

    Raises ProofRangeError unless 0 <= index < size; ProofInvalidError if the leaf
    hash or a proof hash is not 32 bytes or the proof has the wrong length.
    """
    if not 0 <= index < size:
        raise ProofRangeError(f"no leaf {index} in a tree of size {size}")
    if len(leaf_hash) != HASH_SIZE:
        raise ProofInvalidError(f"leaf hash is {len(leaf_hash)} bytes, not {HASH_SIZE}")
    _check_hashes(proof)
    want = _inclusion_proof_length(index, size)
    if len(proof) != want:
        raise ProofInvalidError(f"inclusion proof has {len(proof)} hashes, want {want}")
    fn, sn = index, size - 1
    r = leaf_hash
    for p in proof:
        if sn == 0:
            raise ProofInvalidError("inclusion proof is too long")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            # On the right edge: skip the levels where this node has no sibling.
            while fn and not fn & 1:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofInvalidError("inclusion proof is too short")
    return r


def verify_inclusion(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> None:
    """Check that ``leaf_hash`` is leaf ``index`` of the tree of ``size`` with ``root``.

    Returns None. Raises ProofRangeError unless 0 <= index < size, ProofInvalidError
    if the proof is malformed or does not lead to ``root`` (RFC 9162 §2.1.3.2).
    """
    computed = root_from_inclusion_proof(leaf_hash, index, size, proof)
    if computed != root:
        raise ProofInvalidError(f"inclusion proof for leaf {index} does not match the root")


def _consistency_proof_length(old_size: int, new_size: int) -> int:
    # The old tree's last leaf's inclusion path, minus the levels inside the perfect
    # subtree it ends, plus that subtree's hash unless it is the whole old tree.
    shift = (old_size & -old_size).bit_length() - 1
    inner = (((old_size - 1) ^ (new_size - 1)).bit_length()) - shift
    border = ((old_size - 1) >> (inner + shift)).bit_count()
    seed = 0 if old_size == 1 << shift else 1
    return seed + inner + border


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> None:
    """Check that the tree of ``old_size`` with ``old_root`` is a prefix of ``new_root``'s.

    Returns None. Raises ProofRangeError unless 0 < old_size <= new_size (a proof from
    the empty tree proves nothing, as in transparency-dev/merkle); ProofInvalidError
    if the sizes are equal and the proof is not empty or the roots differ, or if the
    proof is malformed or does not lead to both roots (RFC 9162 §2.1.4.2).
    """
    if not 0 < old_size <= new_size:
        raise ProofRangeError(f"no consistency proof from size {old_size} to {new_size}")
    if old_size == new_size:
        # Roots are compared as given, whatever their length.
        if proof:
            raise ProofInvalidError("sizes are equal but the consistency proof is not empty")
        if old_root != new_root:
            raise ProofInvalidError("sizes are equal but the roots differ")
        return
    _check_hashes(proof)
    want = _consistency_proof_length(old_size, new_size)
    if len(proof) != want:
        raise ProofInvalidError(f"consistency proof has {len(proof)} hashes, want {want}")
    path = list(proof)
    # Step 2: a perfect old tree is itself a node of the new one; its hash is the seed.
    if old_size & (old_size - 1) == 0:
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofInvalidError("consistency proof is too long")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while fn and not fn & 1:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofInvalidError("consistency proof is too short")
    if fr != old_root:
        raise ProofInvalidError(f"consistency proof does not match the root of size {old_size}")
    if sr != new_root:
        raise ProofInvalidError(f"consistency proof does not match the root of size {new_size}")


class MemoryTree:
    """A Merkle tree whose leaf hashes are held in a list, for tests and small logs.

    Every range hash is recomputed from the leaves (O(n)); a tiled store is the
    efficient source for large logs.
    """

    def __init__(self, leaf_hashes: Iterable[bytes] = ()) -> None:
        self._leaves: list[bytes] = list(leaf_hashes)

    @classmethod
    def from_entries(cls, entries: Iterable[bytes]) -> MemoryTree:
        """Return a tree of the RFC 6962 leaf hashes of ``entries``. Raises nothing."""
        return cls(_hash_entry(entry) for entry in entries)

    @property
    def size(self) -> int:
        """The number of leaves."""
        return len(self._leaves)

    def append(self, entry: bytes) -> int:
        """Append the leaf hash of ``entry``; return its index. Raises nothing."""
        self._leaves.append(_hash_entry(entry))
        return len(self._leaves) - 1

    def leaf_hash(self, index: int) -> bytes:
        """Return leaf ``index``'s hash. Raises ProofRangeError if there is no such leaf."""
        if not 0 <= index < len(self._leaves):
            raise ProofRangeError(f"no leaf {index} in a tree of size {len(self._leaves)}")
        return self._leaves[index]

    def range_hash(self, start: int, end: int) -> bytes:
        """Return MTH(D[start:end]). Raises ProofRangeError unless 0 <= start <= end <= size."""
        if not 0 <= start <= end <= len(self._leaves):
            raise ProofRangeError(
                f"no range [{start}, {end}) in a tree of size {len(self._leaves)}"
            )
        return root_of(self._leaves[start:end])

    def root(self, size: int | None = None) -> bytes:
        """Return the root of the first ``size`` leaves (default: all).

        Raises ProofRangeError unless 0 <= size <= self.size.
        """
        return self.range_hash(0, len(self._leaves) if size is None else size)

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """Return the inclusion proof of leaf ``index`` in the tree of ``size`` (default: all).

        Raises ProofRangeError unless 0 <= index < size <= self.size.
        """
        size = len(self._leaves) if size is None else size
        if size > len(self._leaves):
            raise ProofRangeError(f"tree has {len(self._leaves)} leaves, not {size}")
        return inclusion_proof(index, size, self.range_hash)

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> list[bytes]:
        """Return the consistency proof from ``old_size`` to ``new_size`` (default: all).

        Raises ProofRangeError unless 0 < old_size <= new_size <= self.size.
        """
        new_size = len(self._leaves) if new_size is None else new_size
        if new_size > len(self._leaves):
            raise ProofRangeError(f"tree has {len(self._leaves)} leaves, not {new_size}")
        return consistency_proof(old_size, new_size, self.range_hash)
