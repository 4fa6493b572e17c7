"""C2SP tlog-cosignature: the messages that timestamped cosignatures sign.

A cosignature is a note signature whose bytes are ``u64 timestamp || signature``
(big-endian timestamp, POSIX seconds). Two types are defined:

* 0x04, Ed25519 over ``cosignature/v1\\ntime <T>\\n`` followed by the checkpoint body
  (tlog-cosignature §Ed25519 signed message);
* 0x06, ML-DSA-44 over the binary ``cosigned_message`` (tlog-cosignature §ML-DSA-44
  signed message), which names the cosigner and the log but not extension lines.

tlog-checkpoint §Signatures recommends that a log sign its own checkpoints with the
0x06 type, which is how Cosignatory's log uses its ML-DSA-44 key.
"""

from __future__ import annotations

import struct

from cosignatory.tlog.errors import MalformedCheckpointError

__all__ = ["MAX_TIMESTAMP", "SUBTREE_LABEL", "cosignature_v1_message", "cosigned_message"]

MAX_TIMESTAMP = (1 << 63) - 1
"""tlog-cosignature: a timestamp MUST NOT exceed 2^63 - 1."""

SUBTREE_LABEL = b"subtree/v1\n\x00"
"""The 12-byte label that opens every ML-DSA-44 ``cosigned_message``."""


def _opaque8(value: str, what: str) -> bytes:
    """Encode ``opaque<1..2^8-1>`` (RFC 8446 §3.4): a one-byte length, then the bytes."""
    raw = value.encode("utf-8")
    if not 1 <= len(raw) <= 255:
        raise MalformedCheckpointError(f"{what} must be 1 to 255 bytes to be cosigned")
    return bytes([len(raw)]) + raw


def cosigned_message(
    cosigner_name: str, timestamp: int, origin: str, start: int, end: int, root: bytes
) -> bytes:
    """Return the ``cosigned_message`` an ML-DSA-44 cosignature signs.

    ``start`` is 0 for a checkpoint and ``end`` its size. Raises
    MalformedCheckpointError if a field is out of its range (a name or origin longer
    than 255 bytes, a root not 32 bytes, a timestamp beside a non-zero start).
    """
    if len(root) != 32:
        raise MalformedCheckpointError("a cosigned root hash must be 32 bytes")
    if not 0 <= timestamp <= MAX_TIMESTAMP or not 0 <= start <= end < 1 << 64:
        raise MalformedCheckpointError("cosigned timestamp or range is out of bounds")
    if start and timestamp:
        raise MalformedCheckpointError("a subtree with a non-zero start has no timestamp")
    return b"".join(
        (
            SUBTREE_LABEL,
            _opaque8(cosigner_name, "cosigner name"),
            struct.pack(">Q", timestamp),
            _opaque8(origin, "log origin"),
            struct.pack(">QQ", start, end),
            root,
        )
    )


def cosignature_v1_message(timestamp: int, body: str) -> bytes:
    """Return what an Ed25519 (0x04) cosignature signs: ``cosignature/v1``, the time
    line, then the whole checkpoint body (tlog-cosignature §Ed25519 signed message).

    Raises MalformedCheckpointError for a timestamp outside 0..2^63-1.
    """
    if not 0 <= timestamp <= MAX_TIMESTAMP:
        raise MalformedCheckpointError("cosigned timestamp is out of bounds")
    return f"cosignature/v1\ntime {timestamp}\n".encode() + body.encode("utf-8")
