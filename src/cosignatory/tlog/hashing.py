"""RFC 6962 Merkle tree hashing (RFC 9162 §2.1.1), with SHA-256.

Leaves and interior nodes are hashed with distinct one-byte prefixes so that a leaf
can never be passed off as a node (second-preimage resistance, RFC 9162 §2.1.1).
These functions are on the append path, so they bind ``hashlib.sha256`` once and
do no argument checking beyond what the types say.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "largest_power_of_two_below",
    "leaf_hash",
    "node_hash",
    "root_of",
]

_sha256 = hashlib.sha256

HASH_SIZE = 32
"""Length in bytes of every hash in the tree (SHA-256)."""

EMPTY_ROOT: bytes = _sha256(b"").digest()
"""MTH({}) = SHA-256(""), the root of the empty tree (RFC 9162 §2.1.1)."""


def leaf_hash(entry: bytes) -> bytes:
    """Return the leaf hash of ``entry``: SHA-256(0x00 || entry) (RFC 9162 §2.1.1).

    Raises nothing.
    """
    return _sha256(b"\x00" + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Return the interior node hash SHA-256(0x01 || left || right) (RFC 9162 §2.1.1).

    Raises nothing; the caller passes two 32-byte hashes.
    """
    return _sha256(b"\x01" + left + right).digest()


def largest_power_of_two_below(n: int) -> int:
    """Return k, the largest power of two with k < n (RFC 9162 §2.1.1's split point).

    Raises ValueError if ``n < 2`` (no such split exists).
    """
    if n < 2:
        raise ValueError(f"no power of two splits a tree of size {n}")
    return 1 << ((n - 1).bit_length() - 1)


def root_of(leaf_hashes: Sequence[bytes]) -> bytes:
    """Return MTH over ``leaf_hashes`` (already leaf-hashed), or EMPTY_ROOT if empty.

    The tree is built level by level, pairing neighbours and carrying an odd last
    hash up unchanged. That is the same tree as RFC 9162 §2.1.1's recursive split at
    the largest power of two below n: the left part is always a perfect subtree, so
    only the rightmost node of a level can lack a sibling. It costs n - 1 hashes.

    Raises nothing.
    """
    count = len(leaf_hashes)
    if count == 0:
        return EMPTY_ROOT
    if count == 1:
        return bytes(leaf_hashes[0])
    sha256 = _sha256
    level: Sequence[bytes] = leaf_hashes
    while count > 1:
        paired = [
            sha256(b"\x01" + level[i] + level[i + 1]).digest() for i in range(0, count - 1, 2)
        ]
        if count & 1:
            paired.append(level[-1])
        level = paired
        count = len(level)
    return level[0]
