"""Errors raised by the transparency log layer (``cosignatory.tlog``).

The tree::

    CosignatoryError
    └── TlogError                      E_TLOG
        ├── MalformedKeyError          E_KEY_MALFORMED
        ├── MalformedNoteError         E_NOTE_MALFORMED
        ├── UnverifiedNoteError        E_NOTE_UNVERIFIED   (no trusted signature verified)
        ├── SignatureInvalidError      E_SIG_INVALID       (a known key's signature is bad)
        ├── MalformedCheckpointError   E_CHECKPOINT_MALFORMED
        ├── ProofInvalidError          E_PROOF_INVALID
        ├── ProofRangeError            E_PROOF_RANGE       (index or sizes out of range)
        ├── MalformedTileError         E_TILE_MALFORMED
        ├── TileNotFoundError          E_TILE_NOT_FOUND
        ├── EntryTooLargeError         E_ENTRY_TOO_LARGE
        └── LogStateError              E_LOG_STATE         (storage disagrees with itself)
"""

from __future__ import annotations

from cosignatory.errors import CosignatoryError


class TlogError(CosignatoryError):
    """Base of every log-layer error."""

    code = "E_TLOG"


class MalformedKeyError(TlogError):
    """A vkey or skey text is not well formed or uses an unsupported algorithm."""

    code = "E_KEY_MALFORMED"


class MalformedNoteError(TlogError):
    """A signed note does not follow C2SP signed-note."""

    code = "E_NOTE_MALFORMED"


class UnverifiedNoteError(TlogError):
    """No signature from a trusted key verified on the note."""

    code = "E_NOTE_UNVERIFIED"


class SignatureInvalidError(TlogError):
    """A signature from a known key failed to verify."""

    code = "E_SIG_INVALID"


class MalformedCheckpointError(TlogError):
    """A checkpoint body does not follow C2SP tlog-checkpoint."""

    code = "E_CHECKPOINT_MALFORMED"


class ProofInvalidError(TlogError):
    """An inclusion or consistency proof does not verify."""

    code = "E_PROOF_INVALID"


class ProofRangeError(TlogError):
    """A proof was asked for an index or sizes that the tree does not have."""

    code = "E_PROOF_RANGE"


class MalformedTileError(TlogError):
    """A tile path, hash tile or entry bundle is not well formed."""

    code = "E_TILE_MALFORMED"


class TileNotFoundError(TlogError):
    """The tile does not exist (yet) in the log."""

    code = "E_TILE_NOT_FOUND"


class EntryTooLargeError(TlogError):
    """An entry is longer than an entry bundle can carry (65,535 bytes)."""

    code = "E_ENTRY_TOO_LARGE"


class LogStateError(TlogError):
    """The stored log is inconsistent with itself (a bug or tampering)."""

    code = "E_LOG_STATE"
