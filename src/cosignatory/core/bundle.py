"""Bundles: one letter's whole record, as a stream a verifier checks offline.

A bundle is JSON Lines (UTF-8, one JSON object a line, ``docs/bundle.md``)::

    {"format":"cosignatory-bundle","version":1,"letter":ID,"checkpoint":NOTE}
    {"index":N,"entry":BASE64,"proof":PROOF}        one per log entry, by index
    {"end":true,"entries":COUNT,"digest":HEX,"seal":{"key":KEY,"sig":BASE64}}

``NOTE`` is the log's signed checkpoint (C2SP tlog-checkpoint, with any witness
cosignatures). ``PROOF`` is a C2SP tlog-proof without its checkpoint: the proof
lines of :class:`cosignatory.tlog.proof_format.InclusionProof`; appending an empty
line and ``NOTE`` gives the complete ``.tlog-proof`` of that entry. Storing the
checkpoint once keeps a million-entry bundle from repeating it a million times.

The end line says how many entries there are and seals their list: ``digest`` is
SHA-256 over ``u64 index || leaf hash`` of every entry in order, and ``seal`` is the
registrar's Ed25519 signature over :meth:`Manifest.signed_bytes`, so a line removed,
added or replaced is noticed, and the registrar is accountable for the selection.

This module reads and writes the lines; :mod:`cosignatory.core.verify` checks them.
Both work line by line, in constant memory.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import IO, Any

from cosignatory.core.canonical import canonical_json
from cosignatory.core.errors import InvalidEventError
from cosignatory.core.events import check_id
from cosignatory.errors import CosignatoryError
from cosignatory.tlog.checkpoint import Checkpoint
from cosignatory.tlog.hashing import leaf_hash
from cosignatory.tlog.proof_format import InclusionProof, MalformedProofError

__all__ = [
    "FORMAT",
    "MAX_LINE_BYTES",
    "MEDIA_TYPE",
    "VERSION",
    "BundleError",
    "BundleLetterError",
    "BundleOrderError",
    "BundleSealError",
    "BundleVersionError",
    "BundleWriter",
    "Digest",
    "End",
    "Entry",
    "Header",
    "IncompleteBundleError",
    "MalformedBundleError",
    "Manifest",
    "TruncatedBundleError",
    "parse_header",
    "parse_line",
    "read_lines",
]

FORMAT = "cosignatory-bundle"
VERSION = 1
MEDIA_TYPE = "application/x-ndjson"
"""The media type bundles are served with (JSON Lines has no registered type)."""

MAX_LINE_BYTES = 4 << 20
"""The longest line read: a checkpoint note is at most 1 MiB, an entry 60,000 bytes."""


# -- errors -----------------------------------------------------------------------------


class BundleError(CosignatoryError):
    """Base of the errors about a bundle's own structure (its lines and end line)."""

    code = "E_BUNDLE"


class MalformedBundleError(BundleError):
    """A line is not JSON, not an object, or has missing, unknown or mistyped fields."""

    code = "E_BUNDLE_MALFORMED"


class BundleVersionError(BundleError):
    """The header names another format, or a version this verifier does not know."""

    code = "E_BUNDLE_VERSION"


class BundleOrderError(BundleError):
    """Entries are not in strictly increasing index order (reordered or repeated)."""

    code = "E_BUNDLE_ORDER"


class TruncatedBundleError(BundleError):
    """The bundle stops before its end line."""

    code = "E_BUNDLE_TRUNCATED"


class IncompleteBundleError(BundleError):
    """The entries are not those the end line counts and digests."""

    code = "E_BUNDLE_INCOMPLETE"


class BundleSealError(BundleError):
    """The registrar's seal on the end line is missing, by an unknown key, or invalid."""

    code = "E_BUNDLE_SEAL"


class BundleLetterError(BundleError):
    """The bundle is not about the letter its header names."""

    code = "E_BUNDLE_LETTER"


# -- the three kinds of line ---------------------------------------------------------------


@dataclass(frozen=True)
class Header:
    """The first line: the letter and the signed checkpoint every proof leads to."""

    letter: str
    checkpoint: str

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "version": VERSION,
            "letter": self.letter,
            "checkpoint": self.checkpoint,
        }


@dataclass(frozen=True)
class Entry:
    """One log entry with its inclusion proof (a tlog-proof without the checkpoint)."""

    index: int
    entry: bytes
    proof: InclusionProof

    def to_json(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "entry": base64.b64encode(self.entry).decode("ascii"),
            "proof": self.proof.to_text(),
        }


@dataclass(frozen=True)
class End:
    """The last line: the count and digest of the entries, sealed by the registrar."""

    entries: int
    digest: str
    seal_key: str
    seal: bytes

    def to_json(self) -> dict[str, Any]:
        return {
            "end": True,
            "entries": self.entries,
            "digest": self.digest,
            "seal": {"key": self.seal_key, "sig": base64.b64encode(self.seal).decode("ascii")},
        }


@dataclass(frozen=True)
class Manifest:
    """What the registrar's seal on the end line signs: "these entries, and no others,
    are the log's record of this letter up to this checkpoint"."""

    letter: str
    checkpoint: Checkpoint
    entries: int
    digest: str

    def signed_bytes(self) -> bytes:
        """The RFC 8785 JSON the seal covers (its ``kind`` keeps it from being an event)."""
        return canonical_json(
            {
                "kind": "cosignatory.bundle",
                "v": VERSION,
                "letter": self.letter,
                "origin": self.checkpoint.origin,
                "size": self.checkpoint.size,
                "root": base64.b64encode(self.checkpoint.root).decode("ascii"),
                "entries": self.entries,
                "digest": self.digest,
            }
        )


class Digest:
    """The running SHA-256 over ``u64 index || leaf hash`` of a bundle's entries."""

    def __init__(self) -> None:
        self._hash = hashlib.sha256()
        self.count = 0

    def add(self, index: int, leaf: bytes) -> None:
        self._hash.update(index.to_bytes(8, "big") + leaf)
        self.count += 1

    def hexdigest(self) -> str:
        return self._hash.hexdigest()


def _line(value: dict[str, Any]) -> bytes:
    return (json.dumps(value, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")


# -- writing ------------------------------------------------------------------------------

Seal = Callable[[bytes], tuple[str, bytes]]
"""Signs a manifest's bytes; returns the registrar key's id and the Ed25519 signature."""


class BundleWriter:
    """Write a bundle line by line: :meth:`header`, :meth:`entry` for each entry in
    increasing index order, then :meth:`end`. Each returns the line's bytes.

    ``checkpoint_note`` is the signed note every proof leads to; ``checkpoint`` its
    parsed (and already verified) body. Raises ValueError if entries come out of
    order or beyond the checkpoint's size.
    """

    def __init__(self, letter: str, checkpoint_note: str, checkpoint: Checkpoint, seal: Seal):
        self._header = Header(letter, checkpoint_note)
        self._checkpoint = checkpoint
        self._seal = seal
        self._digest = Digest()
        self._last = -1

    def header(self) -> bytes:
        return _line(self._header.to_json())

    def entry(self, index: int, entry: bytes, proof: Iterable[bytes]) -> bytes:
        if not self._last < index < self._checkpoint.size:
            raise ValueError(f"entry {index} is out of order or beyond the checkpoint")
        self._last = index
        self._digest.add(index, leaf_hash(entry))
        return _line(Entry(index, entry, InclusionProof(index, tuple(proof))).to_json())

    def end(self) -> bytes:
        digest = self._digest.hexdigest()
        manifest = Manifest(self._header.letter, self._checkpoint, self._digest.count, digest)
        key, signature = self._seal(manifest.signed_bytes())
        return _line(End(self._digest.count, digest, key, signature).to_json())


# -- reading ------------------------------------------------------------------------------


def read_lines(stream: IO[bytes], max_line: int = MAX_LINE_BYTES) -> Iterator[bytes]:
    """Yield the lines of a binary stream, each at most ``max_line`` bytes.

    Raises MalformedBundleError for a longer line (a verifier never holds more).
    """
    number = 0
    while True:
        line = stream.readline(max_line + 1)
        if not line:
            return
        number += 1
        if len(line) > max_line:
            raise MalformedBundleError(f"line {number} is longer than {max_line} bytes")
        yield line


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed")


def _refuse_float(text: str) -> Any:
    raise ValueError(f"the number {text} is not an integer")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"the key {key!r} appears twice")
        out[key] = value
    return out


def _fields(value: Any, required: set[str], where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise MalformedBundleError(f"{where} is not a JSON object")
    if set(value) != required:
        extra = sorted(set(value) - required)
        missing = sorted(required - set(value))
        detail = f"unknown field {extra[0]!r}" if extra else f"no field {missing[0]!r}"
        raise MalformedBundleError(f"{where} has {detail}")
    return value


def _integer(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise MalformedBundleError(f"{what} is not a non-negative integer")
    return value


def _text(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise MalformedBundleError(f"{what} is not a string")
    return value


def _base64(value: Any, what: str) -> bytes:
    text = _text(value, what)
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raw = None
    if raw is None or base64.b64encode(raw).decode("ascii") != text:
        raise MalformedBundleError(f"{what} is not canonical base64")
    return raw


def _object(raw: bytes, where: str) -> dict[str, Any]:
    """The JSON object on one line; raises MalformedBundleError naming ``where``."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedBundleError(f"{where} is not UTF-8") from None
    if not text.strip():
        raise MalformedBundleError(f"{where} is empty")
    try:
        value = json.loads(
            text,
            object_pairs_hook=_no_duplicates,
            parse_constant=_refuse_constant,
            parse_float=_refuse_float,
        )
    except (ValueError, RecursionError) as error:
        raise MalformedBundleError(f"{where} is not a JSON object: {error}") from None
    if not isinstance(value, dict):
        raise MalformedBundleError(f"{where} is not a JSON object")
    return value


def parse_line(raw: bytes, number: int) -> Entry | End:
    """Parse line ``number`` of a bundle after its header: an entry or the end line.

    Checks the line's structure, not its proof. Raises MalformedBundleError (also for a
    second header) or MalformedProofError, the message naming the line.
    """
    where = f"line {number}"
    value = _object(raw, where)
    if "end" in value:
        return _parse_end(value, where)
    if "format" in value:
        raise MalformedBundleError(f"{where} is a second header")
    fields = _fields(value, {"index", "entry", "proof"}, where)
    index = _integer(fields["index"], f"{where}: the index")
    entry = _base64(fields["entry"], f"{where}: the entry")
    try:
        proof = InclusionProof.from_text(_text(fields["proof"], f"{where}: the proof"))
    except MalformedProofError as error:
        raise MalformedProofError(f"{where}: {error}") from None
    if proof.extra is not None:
        raise MalformedBundleError(f"{where}: a bundle's proofs carry no extra data")
    if proof.index != index:
        raise MalformedBundleError(
            f"{where}: the line is for entry {index} but its proof for entry {proof.index}"
        )
    return Entry(index, entry, proof)


def _parse_end(value: dict[str, Any], where: str) -> End:
    fields = _fields(value, {"end", "entries", "digest", "seal"}, where)
    if fields["end"] is not True:
        raise MalformedBundleError(f"{where}: 'end' is not true")
    digest = _text(fields["digest"], f"{where}: the digest")
    if len(digest) != 64 or digest.strip("0123456789abcdef"):
        raise MalformedBundleError(f"{where}: the digest is not 64 lowercase hex digits")
    seal = _fields(fields["seal"], {"key", "sig"}, f"{where}: the seal")
    return End(
        _integer(fields["entries"], f"{where}: the count"),
        digest,
        _text(seal["key"], f"{where}: the seal's key"),
        _base64(seal["sig"], f"{where}: the seal's signature"),
    )


def parse_header(raw: bytes | None) -> Header:
    """Parse a bundle's first line (None: the bundle has no line).

    Raises TruncatedBundleError for no line, BundleVersionError for another format or
    version, MalformedBundleError.
    """
    if raw is None:
        raise TruncatedBundleError("the bundle is empty")
    value = _object(raw, "line 1")
    if "format" not in value:
        raise MalformedBundleError("line 1 is not a bundle header (no 'format')")
    if value["format"] != FORMAT:
        raise BundleVersionError(f"line 1: the format is {value['format']!r}, not {FORMAT}")
    if value.get("version") != VERSION:
        raise BundleVersionError(
            f"line 1: bundle version {value.get('version')!r} is not {VERSION}, the "
            "version this verifier reads"
        )
    fields = _fields(value, {"format", "version", "letter", "checkpoint"}, "line 1")
    letter = _text(fields["letter"], "line 1: the letter")
    try:
        check_id(letter, "letter")
    except InvalidEventError as error:
        raise MalformedBundleError(f"line 1: {error}") from None
    return Header(letter, _text(fields["checkpoint"], "line 1: the checkpoint"))
