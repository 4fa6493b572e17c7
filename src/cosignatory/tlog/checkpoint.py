"""C2SP tlog-checkpoint: the log's signed statement of its size and root hash.

A checkpoint body (the note text) is::

    <origin>
    <tree size, decimal>
    <base64 root hash>
    [extension lines]

and is carried in a C2SP signed note (see :mod:`cosignatory.tlog.note`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from cosignatory.tlog.errors import MalformedCheckpointError, UnverifiedNoteError
from cosignatory.tlog.note import (
    Signer,
    Verifier,
    _b64decode_strict,
    _b64encode,
    open_note,
    sign_note,
)

__all__ = ["MAX_SIZE", "Checkpoint", "open_checkpoint", "sign_checkpoint"]

# Tree sizes are int64 in the Go tlog packages; larger ones cannot interoperate.
MAX_SIZE = (1 << 63) - 1

_HASH_LEN = 32
# tlog-checkpoint §Note text: ASCII decimal, no leading zeroes unless the tree is empty.
_SIZE = re.compile(r"0|[1-9][0-9]{0,18}")
# signed-note §Format: no ASCII control characters; a newline would end the line.
_CONTROL = re.compile(r"[\x00-\x1f]")


def _check_line(line: str, what: str) -> None:
    if not line:
        raise MalformedCheckpointError(f"checkpoint {what} is empty")
    if _CONTROL.search(line):
        raise MalformedCheckpointError(f"checkpoint {what} contains a control character")
    try:
        line.encode("utf-8")
    except UnicodeEncodeError:
        raise MalformedCheckpointError(f"checkpoint {what} is not valid UTF-8") from None


@dataclass(frozen=True)
class Checkpoint:
    """A parsed checkpoint body (tlog-checkpoint §Note text).

    Building one raises MalformedCheckpointError if the origin or an extension line is
    empty or contains a control character, the size is outside 0..MAX_SIZE, or the root
    is not 32 bytes.
    """

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        # The origin MUST be non-empty; clients MUST NOT assume more (no URL, no name rules).
        _check_line(self.origin, "origin")
        if isinstance(self.size, bool) or not 0 <= self.size <= MAX_SIZE:
            raise MalformedCheckpointError(f"checkpoint size must be in 0..{MAX_SIZE}")
        if len(self.root) != _HASH_LEN:
            raise MalformedCheckpointError("checkpoint root hash is not 32 bytes")
        object.__setattr__(self, "root", bytes(self.root))
        object.__setattr__(self, "extensions", tuple(self.extensions))
        for line in self.extensions:
            # Extension lines, if any, MUST be non-empty.
            _check_line(line, "extension line")

    @classmethod
    def from_text(cls, body: str) -> Checkpoint:
        """Parse a checkpoint body: the note text, ending in a newline, without signatures.

        Returns the Checkpoint. Raises MalformedCheckpointError if there are fewer than
        three lines, any line is empty, the size is not canonical decimal, the root is not
        canonical base64 of 32 bytes, or the text does not end in a newline.
        """
        if not body.endswith("\n"):
            raise MalformedCheckpointError("checkpoint does not end in a newline")
        lines = body[:-1].split("\n")
        if len(lines) < 3:
            raise MalformedCheckpointError("checkpoint has fewer than three lines")
        origin, size_text, root_text, *extensions = lines
        if not _SIZE.fullmatch(size_text):
            raise MalformedCheckpointError("checkpoint size is not a canonical decimal")
        root = _b64decode_strict(root_text)
        if root is None:
            raise MalformedCheckpointError("checkpoint root hash is not canonical base64")
        return cls(origin, int(size_text), root, tuple(extensions))

    def to_text(self) -> str:
        """Return the checkpoint body that `from_text` parses back to this Checkpoint."""
        lines = [self.origin, str(self.size), _b64encode(self.root), *self.extensions]
        return "".join(line + "\n" for line in lines)


def sign_checkpoint(cp: Checkpoint, signers: Sequence[Signer]) -> str:
    """Return `cp` as a signed note, signed by each of `signers` in order.

    tlog-checkpoint §Signatures: the log's key name SHOULD be the origin, and
    `open_checkpoint` requires it. Raises MalformedNoteError if there are no signers.
    """
    return sign_note(cp.to_text(), signers)


def open_checkpoint(
    note_text: str | bytes, verifiers: Sequence[Verifier], origin: str | None = None
) -> Checkpoint:
    """Verify a signed checkpoint against the log's `verifiers` and parse it.

    The note is opened with :func:`cosignatory.tlog.note.open_note`; signatures from
    unknown keys are ignored, so a checkpoint signed with both an Ed25519 and an
    ML-DSA-44 key opens with either verifier alone. A key only vouches for the log it
    is named after: at least one verified key must be named as the checkpoint's origin.

    Returns the Checkpoint. Raises MalformedNoteError, MalformedKeyError,
    SignatureInvalidError or UnverifiedNoteError as `open_note` does;
    MalformedCheckpointError if the verified text is not a checkpoint; and
    UnverifiedNoteError if no verified key is named as the origin, or `origin` is given
    and differs from the checkpoint's (the note is not a trusted checkpoint of that log).
    """
    verified = open_note(note_text, verifiers)
    cp = Checkpoint.from_text(verified.text)
    if origin is not None and cp.origin != origin:
        raise UnverifiedNoteError(f"checkpoint is for {cp.origin!r}, not {origin!r}")
    # tlog-checkpoint §Signatures: the log's key name SHOULD match the origin line.
    if not any(v.name == cp.origin for v in verified.verifiers):
        raise UnverifiedNoteError(f"no trusted key named {cp.origin!r} signed the checkpoint")
    return cp
