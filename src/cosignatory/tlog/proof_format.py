"""C2SP tlog-proof: an offline-verifiable proof that an entry is in a log.

A proof (https://c2sp.org/tlog-proof, ``.tlog-proof`` files) is, line by line::

    c2sp.org/tlog-proof@v1
    extra <base64>                 (optional, unauthenticated)
    index <N>
    <base64 hash>                  (zero or more: the RFC 6962 inclusion proof,
    ...                             the leaf's sibling first)
    <empty line>
    <the signed checkpoint note, verbatim>

:class:`InclusionProof` is the part before the empty line: what a bundle stores per
entry, the checkpoint being the same for every entry (see ``docs/bundle.md``).
:class:`TlogProof` is the whole proof. Both parse strictly: one text per proof, so
``from_text(p.to_text()) == p`` and any changed byte is either refused or a
different proof.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from cosignatory.tlog.checkpoint import Checkpoint, open_checkpoint
from cosignatory.tlog.errors import ProofRangeError, TlogError
from cosignatory.tlog.hashing import HASH_SIZE
from cosignatory.tlog.note import Verifier, _b64decode_strict, _b64encode
from cosignatory.tlog.proofs import verify_inclusion

__all__ = ["HEADER", "MAX_PROOF_HASHES", "InclusionProof", "MalformedProofError", "TlogProof"]

HEADER = "c2sp.org/tlog-proof@v1"
"""The first line of every proof (tlog-proof §Format)."""

MAX_PROOF_HASHES = 63
"""The longest inclusion proof in a tree of at most 2**63 - 1 leaves."""

# "the zero-based index ... as an ASCII decimal with no leading zeroes (unless 0)";
# bounded like checkpoint sizes (int64), so no line builds an unbounded integer.
_INDEX = re.compile(r"index (0|[1-9][0-9]{0,18})")
_MAX_INDEX = (1 << 63) - 2


class MalformedProofError(TlogError):
    """A tlog-proof text does not follow C2SP tlog-proof."""

    code = "E_PROOF_MALFORMED"


@dataclass(frozen=True)
class InclusionProof:
    """A tlog-proof without its checkpoint: the index, the proof hashes, any extra data.

    Building one raises MalformedProofError for a negative or too large index, a hash
    that is not 32 bytes, more than MAX_PROOF_HASHES hashes, or empty extra data.
    """

    index: int
    hashes: tuple[bytes, ...]
    extra: bytes | None = None

    def __post_init__(self) -> None:
        if isinstance(self.index, bool) or not 0 <= self.index <= _MAX_INDEX:
            raise MalformedProofError(f"proof index {self.index!r} is out of range")
        if type(self.hashes) is not tuple or any(type(h) is not bytes for h in self.hashes):
            object.__setattr__(self, "hashes", tuple(bytes(h) for h in self.hashes))
        if len(self.hashes) > MAX_PROOF_HASHES:
            raise MalformedProofError(f"a proof has at most {MAX_PROOF_HASHES} hashes")
        if any(len(h) != HASH_SIZE for h in self.hashes):
            raise MalformedProofError(f"every proof hash must be {HASH_SIZE} bytes")
        if self.extra is not None and not self.extra:
            # "If no extra data is present, this line is omitted."
            raise MalformedProofError("extra data, when present, is not empty")

    @classmethod
    def from_text(cls, text: str) -> InclusionProof:
        """Parse the lines of a tlog-proof before its empty line, each ending in a newline.

        Returns the InclusionProof. Raises MalformedProofError if the first line is not
        ``c2sp.org/tlog-proof@v1``, the ``extra`` data or a hash is not canonical
        base64, the ``index`` line is missing or not a canonical decimal, or a line is
        empty or anything else.
        """
        if not text.endswith("\n"):
            raise MalformedProofError("a tlog-proof's lines end in a newline")
        lines = text[:-1].split("\n")
        if lines[0] != HEADER:
            raise MalformedProofError(f"a tlog-proof starts with the line {HEADER}")
        position = 1
        extra = None
        if position < len(lines) and lines[position].startswith("extra "):
            extra = _b64decode_strict(lines[position][len("extra ") :])
            if not extra:
                raise MalformedProofError("the extra line is not canonical base64 of some bytes")
            position += 1
        match = _INDEX.fullmatch(lines[position]) if position < len(lines) else None
        if match is None:
            raise MalformedProofError("a tlog-proof names its entry on a line 'index N'")
        hashes = []
        for number, line in enumerate(lines[position + 1 :], start=1):
            raw = _b64decode_strict(line) if line else None
            if raw is None or len(raw) != HASH_SIZE:
                raise MalformedProofError(f"proof hash {number} is not base64 of {HASH_SIZE} bytes")
            hashes.append(raw)
        return cls(int(match.group(1)), tuple(hashes), extra)

    def to_text(self) -> str:
        """Return the lines that :meth:`from_text` parses back, each ending in a newline."""
        lines = [HEADER]
        if self.extra is not None:
            lines.append("extra " + _b64encode(self.extra))
        lines.append(f"index {self.index}")
        lines.extend(_b64encode(h) for h in self.hashes)
        return "".join(line + "\n" for line in lines)

    def with_checkpoint(self, checkpoint_note: str) -> TlogProof:
        """Return the complete tlog-proof of this proof against ``checkpoint_note``."""
        return TlogProof(self, checkpoint_note)

    def verify(self, leaf_hash: bytes, checkpoint: Checkpoint) -> None:
        """Check that ``leaf_hash`` is entry ``index`` of the tree ``checkpoint`` signs.

        The checkpoint must already be verified. Returns None. Raises ProofRangeError
        if the index is not below the checkpoint's size, ProofInvalidError if the
        proof does not lead to its root (RFC 9162 §2.1.3.2).
        """
        if self.index >= checkpoint.size:
            raise ProofRangeError(
                f"entry {self.index} is not in the checkpoint's tree of {checkpoint.size}"
            )
        verify_inclusion(leaf_hash, self.index, checkpoint.size, self.hashes, checkpoint.root)


@dataclass(frozen=True)
class TlogProof:
    """A complete tlog-proof: an :class:`InclusionProof` and the signed checkpoint note.

    The note is kept verbatim and is not verified here; :meth:`verify` does that.
    """

    proof: InclusionProof
    checkpoint: str

    @classmethod
    def from_text(cls, text: str | bytes) -> TlogProof:
        """Parse a ``.tlog-proof`` file. Returns the TlogProof.

        Raises MalformedProofError if the text is not UTF-8, has no empty line after
        the proof lines, or its proof lines are malformed (see
        :meth:`InclusionProof.from_text`). The checkpoint note is checked only by
        :meth:`verify`.
        """
        if isinstance(text, bytes):
            try:
                text = text.decode("utf-8")
            except UnicodeDecodeError:
                raise MalformedProofError("a tlog-proof is UTF-8 text") from None
        # The proof lines are never empty: the first empty line ends them.
        split = text.find("\n\n")
        if split < 0:
            raise MalformedProofError("a tlog-proof has an empty line before its checkpoint")
        return cls(InclusionProof.from_text(text[: split + 1]), text[split + 2 :])

    def to_text(self) -> str:
        """Return the proof's text: the proof lines, an empty line, the checkpoint note."""
        return self.proof.to_text() + "\n" + self.checkpoint

    def verify(
        self, leaf_hash: bytes, verifiers: Sequence[Verifier], origin: str | None = None
    ) -> Checkpoint:
        """Verify the checkpoint with the log's ``verifiers``, then the inclusion proof.

        Returns the verified Checkpoint. Raises what
        :func:`cosignatory.tlog.checkpoint.open_checkpoint` raises for the note, and
        ProofRangeError or ProofInvalidError (see :meth:`InclusionProof.verify`).
        Witness cosignatures are checked by :mod:`cosignatory.tlog.policy`.
        """
        checkpoint = open_checkpoint(self.checkpoint, verifiers, origin)
        self.proof.verify(leaf_hash, checkpoint)
        return checkpoint
