"""C2SP signed notes: verifier and signer keys, signature lines, and notes.

Implements c2sp.org/signed-note: a note is a text ending in a newline, a blank
line, and one or more signature lines ``— <key name> base64(key ID || signature)``.

Three signature types are supported:

* type 0x01, Ed25519 (RFC 8032) over the note text (signed-note §Ed25519 signatures);
* type 0x04, Ed25519 timestamped cosignatures of C2SP tlog-cosignature, as witnesses
  make: ``u64 timestamp || signature`` over ``cosignature/v1``, the time line and the
  checkpoint body;
* type 0x06, ML-DSA-44 (FIPS 204, pure mode, empty context) timestamped cosignatures
  of C2SP tlog-cosignature: the signature bytes are ``u64 timestamp || signature`` and
  the signed message is the binary ``cosigned_message`` built from the checkpoint the
  note carries (see :mod:`cosignatory.tlog.cosignature`). tlog-checkpoint recommends
  this type for a log's own checkpoint signatures.

A timestamped (0x04, 0x06) signature only ever signs a checkpoint: on any other note
it cannot verify.

For all three, key ID = SHA-256(name || 0x0A || type || public key)[:4], big-endian
(signed-note §Signatures). Keys are written as in golang.org/x/mod/sumdb/note:

* vkey: ``<name>+<8 lowercase hex key ID>+<base64(type || public key)>``
* skey: ``PRIVATE+KEY+<name>+<8 lowercase hex key ID>+<base64(type || 32-byte seed)>``

Key texts are parsed strictly: no surrounding whitespace, canonical padded base64.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import struct
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import IntEnum

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.mldsa import MLDSA44PrivateKey, MLDSA44PublicKey

from cosignatory.tlog.cosignature import (
    MAX_TIMESTAMP,
    cosignature_v1_message,
    cosigned_message,
)
from cosignatory.tlog.errors import (
    MalformedCheckpointError,
    MalformedKeyError,
    MalformedNoteError,
    SignatureInvalidError,
    UnverifiedNoteError,
)

__all__ = [
    "MAX_NOTE_BYTES",
    "MAX_SIGNATURES",
    "KeyType",
    "Note",
    "Signature",
    "Signer",
    "VerifiedNote",
    "Verifier",
    "add_signatures",
    "compute_key_id",
    "generate_cosigner",
    "generate_ed25519",
    "generate_mldsa44",
    "open_note",
    "sign_note",
]

# signed-note §Format: verifiers SHOULD limit signatures, MUST accept at least 16.
MAX_SIGNATURES = 100
MAX_NOTE_BYTES = 1 << 20

_SKEY_PREFIX = "PRIVATE+KEY+"
_SIG_PREFIX = "\u2014 "  # em dash, space (signed-note §Format)
_SEED_LEN = 32
_KEY_ID_HEX = re.compile(r"[0-9a-f]{8}")
# signed-note §Format: no ASCII control characters other than newline.
_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f]")
# Unicode White_Space: key names "MUST NOT contain any Unicode spaces" (signed-note §Format).
_WHITE_SPACE = frozenset(
    "\t\n\v\f\r \x85\xa0\u1680\u2028\u2029\u202f\u205f\u3000"
    + "".join(chr(c) for c in range(0x2000, 0x200B))
)


class KeyType(IntEnum):
    """A signature type identifier byte (signed-note §Signature types)."""

    ED25519 = 0x01
    COSIGNATURE_ED25519 = 0x04
    MLDSA44 = 0x06

    @property
    def label(self) -> str:
        """A stable lowercase name: ``ed25519``, ``ed25519-cosignature``, ``ml-dsa-44``."""
        return _LABELS[self]


_LABELS = {
    KeyType.ED25519: "ed25519",
    KeyType.COSIGNATURE_ED25519: "ed25519-cosignature",
    KeyType.MLDSA44: "ml-dsa-44",
}
_PUBLIC_KEY_LEN = {KeyType.ED25519: 32, KeyType.COSIGNATURE_ED25519: 32, KeyType.MLDSA44: 1312}
_SIGNATURE_LEN = {KeyType.ED25519: 64, KeyType.COSIGNATURE_ED25519: 64, KeyType.MLDSA44: 2420}
_TIMESTAMP_LEN = 8  # tlog-cosignature timestamped_signature: u64 before the signature


def _cosigned_checkpoint(key_type: KeyType, cosigner: str, timestamp: int, text: str) -> bytes:
    """Return what a timestamped cosignature of the checkpoint note text ``text`` signs.

    0x04: ``cosignature/v1`` message; 0x06: ML-DSA-44 ``cosigned_message``. Raises
    MalformedCheckpointError if ``text`` is not a checkpoint body.
    """
    # Imported here: checkpoint.py builds on this module's notes.
    from cosignatory.tlog.checkpoint import Checkpoint

    cp = Checkpoint.from_text(text)
    if key_type is KeyType.COSIGNATURE_ED25519:
        return cosignature_v1_message(timestamp, text)
    return cosigned_message(cosigner, timestamp, cp.origin, 0, cp.size, cp.root)


def compute_key_id(name: str, key_type: KeyType, public_key: bytes) -> int:
    """Return the key ID of a key: SHA-256(name || 0x0A || type || public key)[:4].

    The result is the first four bytes of the hash read as a big-endian integer
    (signed-note §Signatures). Raises nothing; validate the name elsewhere.
    """
    digest = hashlib.sha256(name.encode("utf-8") + b"\n" + bytes([key_type]) + public_key).digest()
    return int.from_bytes(digest[:4], "big")


def _name_is_valid(name: str) -> bool:
    # signed-note §Format: non-empty, no Unicode spaces, no "+"; control characters
    # and unencodable surrogates could never appear in a note, so refuse them too.
    if not name or "+" in name or _CONTROL.search(name) or not _WHITE_SPACE.isdisjoint(name):
        return False
    return _is_utf8(name)


def _is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _b64decode_strict(text: str) -> bytes | None:
    """Decode RFC 4648 §4 base64, or return None unless `text` is its canonical form."""
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (UnicodeEncodeError, binascii.Error):
        return None
    # Canonical means padded and with zero trailing bits: re-encoding gives the input.
    return raw if base64.b64encode(raw).decode("ascii") == text else None


def _b64encode(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _split_key_text(text: str) -> tuple[str, int, KeyType, bytes]:
    """Split ``name+hexid+base64(type || key)`` into its parts; raise MalformedKeyError."""
    name, _, rest = text.partition("+")
    id_hex, sep, b64 = rest.partition("+")
    if not sep or not _KEY_ID_HEX.fullmatch(id_hex):
        raise MalformedKeyError("key text is not name+keyid+key")
    if not _name_is_valid(name):
        raise MalformedKeyError("key name is empty or has spaces, '+' or control characters")
    raw = _b64decode_strict(b64)
    if not raw:
        raise MalformedKeyError("key material is not canonical base64")
    try:
        key_type = KeyType(raw[0])
    except ValueError:
        raise MalformedKeyError(f"unsupported signature type 0x{raw[0]:02x}") from None
    return name, int(id_hex, 16), key_type, raw[1:]


@dataclass(frozen=True)
class Verifier:
    """A public key that verifies note signatures by one named signer.

    Building one checks the name and the key and computes ``key_id``; raises
    MalformedKeyError if either is unusable.
    """

    name: str
    key_type: KeyType
    public_key: bytes = field(repr=False)
    key_id: int = field(init=False)
    _key: Ed25519PublicKey | MLDSA44PublicKey = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not _name_is_valid(self.name):
            raise MalformedKeyError("key name is empty or has spaces, '+' or control characters")
        try:
            key_type = KeyType(self.key_type)
        except ValueError:
            raise MalformedKeyError(f"unsupported signature type {self.key_type!r}") from None
        if len(self.public_key) != _PUBLIC_KEY_LEN[key_type]:
            raise MalformedKeyError(f"{key_type.name} public key has the wrong length")
        key: Ed25519PublicKey | MLDSA44PublicKey
        try:
            if key_type is not KeyType.MLDSA44:
                key = Ed25519PublicKey.from_public_bytes(bytes(self.public_key))
            else:
                key = MLDSA44PublicKey.from_public_bytes(bytes(self.public_key))
        except ValueError:
            raise MalformedKeyError(f"{key_type.name} public key does not load") from None
        object.__setattr__(self, "key_type", key_type)
        object.__setattr__(self, "public_key", bytes(self.public_key))
        object.__setattr__(self, "key_id", compute_key_id(self.name, key_type, self.public_key))
        object.__setattr__(self, "_key", key)

    @classmethod
    def from_vkey(cls, text: str) -> Verifier:
        """Parse a vkey ``<name>+<hex key ID>+<base64(type || public key)>``.

        Returns the Verifier. Raises MalformedKeyError if the text is malformed, the
        type is unsupported, the key is unusable, or the key ID does not match the key.
        """
        name, key_id, key_type, public_key = _split_key_text(text)
        verifier = cls(name, key_type, public_key)
        if verifier.key_id != key_id:
            raise MalformedKeyError("key ID does not match the key")
        return verifier

    def to_vkey(self) -> str:
        """Return the vkey text that `from_vkey` parses back to this Verifier."""
        material = _b64encode(bytes([self.key_type]) + self.public_key)
        return f"{self.name}+{self.key_id:08x}+{material}"

    @property
    def type_name(self) -> str:
        """The signature type's stable lowercase name: ``ed25519`` or ``ml-dsa-44``."""
        return self.key_type.label

    def verify(self, msg: bytes, sig: bytes) -> None:
        """Check the raw signature `sig` over the bytes `msg`.

        Returns None. Raises SignatureInvalidError if the signature does not verify.
        """
        failed = SignatureInvalidError(
            f"signature by {self.name}+{self.key_id:08x} does not verify"
        )
        if len(sig) != _SIGNATURE_LEN[self.key_type]:
            raise failed
        try:
            # ML-DSA-44: pure mode, empty context (context=None).
            self._key.verify(sig, msg)
        except InvalidSignature:
            raise failed from None

    def verify_note(self, text: str, sig: bytes) -> int | None:
        """Check `sig`, as carried on a signature line after the key ID, over a note text.

        Returns the cosignature's timestamp for a timestamped type (0x06), else None.
        Raises SignatureInvalidError if it does not verify, including a 0x06 signature
        on a note that is not a checkpoint.
        """
        if self.key_type is KeyType.ED25519:
            self.verify(text.encode("utf-8"), sig)
            return None
        timestamp = int.from_bytes(sig[:_TIMESTAMP_LEN], "big")
        if len(sig) < _TIMESTAMP_LEN or timestamp > MAX_TIMESTAMP:
            raise SignatureInvalidError(f"cosignature by {self.name} has no valid timestamp")
        try:
            msg = _cosigned_checkpoint(self.key_type, self.name, timestamp, text)
        except MalformedCheckpointError as error:
            raise SignatureInvalidError(
                f"cosignature by {self.name} is on a note that is not a checkpoint: {error}"
            ) from None
        self.verify(msg, sig[_TIMESTAMP_LEN:])
        return timestamp


class Signer:
    """A private key that signs notes under a name. Its repr never shows the key."""

    __slots__ = ("_key", "_verifier")

    def __init__(self, name: str, key_type: KeyType, seed: bytes) -> None:
        """Build a signer from a 32-byte seed (Ed25519 or ML-DSA-44).

        Raises MalformedKeyError if the name, type or seed is unusable.
        """
        if not _name_is_valid(name):
            raise MalformedKeyError("key name is empty or has spaces, '+' or control characters")
        if len(seed) != _SEED_LEN:
            raise MalformedKeyError("private key seed must be 32 bytes")
        try:
            key_type = KeyType(key_type)
        except ValueError:
            raise MalformedKeyError(f"unsupported signature type {key_type!r}") from None
        key: Ed25519PrivateKey | MLDSA44PrivateKey
        if key_type is not KeyType.MLDSA44:
            key = Ed25519PrivateKey.from_private_bytes(bytes(seed))
        else:
            key = MLDSA44PrivateKey.from_seed_bytes(bytes(seed))
        self._key = key
        self._verifier = Verifier(name, key_type, key.public_key().public_bytes_raw())

    @classmethod
    def from_skey(cls, text: str) -> Signer:
        """Parse an skey ``PRIVATE+KEY+<name>+<hex key ID>+<base64(type || seed)>``.

        Returns the Signer. Raises MalformedKeyError if the text is malformed, the type
        is unsupported, the seed is not 32 bytes, or the key ID does not match the key.
        """
        if not text.startswith(_SKEY_PREFIX):
            raise MalformedKeyError("skey does not start with PRIVATE+KEY+")
        name, key_id, key_type, seed = _split_key_text(text[len(_SKEY_PREFIX) :])
        signer = cls(name, key_type, seed)
        if signer.key_id != key_id:
            raise MalformedKeyError("key ID does not match the key")
        return signer

    def to_skey(self) -> str:
        """Return the skey text (secret!) that `from_skey` parses back to this key."""
        material = _b64encode(bytes([self.key_type]) + self._key.private_bytes_raw())
        return f"{_SKEY_PREFIX}{self.name}+{self.key_id:08x}+{material}"

    @property
    def name(self) -> str:
        """The key name that goes on signature lines."""
        return self._verifier.name

    @property
    def key_id(self) -> int:
        """The 32-bit key ID that prefixes each signature."""
        return self._verifier.key_id

    @property
    def key_type(self) -> KeyType:
        """The signature type."""
        return self._verifier.key_type

    def sign(self, msg: bytes) -> bytes:
        """Return the raw signature over `msg`, without the key ID prefix. Raises nothing."""
        return self._key.sign(msg)

    def sign_note(self, text: str, timestamp: int | None = None) -> bytes:
        """Return the signature bytes for a note text, as they follow the key ID.

        Ed25519 signs the text (a plain note signature has no timestamp, so
        ``timestamp`` is unused). ML-DSA-44 makes a tlog-cosignature timestamped
        cosignature of the checkpoint ``text`` at ``timestamp`` (default: now).
        Raises MalformedNoteError if an ML-DSA-44 key is asked to sign a note that is
        not a checkpoint, or the timestamp is outside 0..2^63-1.
        """
        if self.key_type is KeyType.ED25519:
            return self.sign(text.encode("utf-8"))
        when = int(time.time()) if timestamp is None else timestamp
        if not 0 <= when <= MAX_TIMESTAMP:
            raise MalformedNoteError(f"cosignature timestamp {when} is out of range")
        try:
            msg = _cosigned_checkpoint(self.key_type, self.name, when, text)
        except MalformedCheckpointError as error:
            raise MalformedNoteError(f"an ML-DSA-44 key signs checkpoints only: {error}") from None
        return struct.pack(">Q", when) + self.sign(msg)

    def verifier(self) -> Verifier:
        """Return the Verifier for this key."""
        return self._verifier

    def __repr__(self) -> str:
        return (
            f"Signer(name={self.name!r}, key_type={self.key_type.name}, key_id={self.key_id:08x})"
        )


def generate_ed25519(name: str) -> Signer:
    """Return a new random Ed25519 Signer. Raises MalformedKeyError for a bad name."""
    return Signer(name, KeyType.ED25519, Ed25519PrivateKey.generate().private_bytes_raw())


def generate_cosigner(name: str) -> Signer:
    """Return a new random Ed25519 cosignature (0x04) Signer, as witnesses use."""
    return Signer(
        name, KeyType.COSIGNATURE_ED25519, Ed25519PrivateKey.generate().private_bytes_raw()
    )


def generate_mldsa44(name: str) -> Signer:
    """Return a new random ML-DSA-44 Signer. Raises MalformedKeyError for a bad name."""
    return Signer(name, KeyType.MLDSA44, MLDSA44PrivateKey.generate().private_bytes_raw())


@dataclass(frozen=True)
class Signature:
    """One signature line: key name, key ID, and the raw signature bytes.

    Building one raises MalformedNoteError if the name or key ID is invalid.
    """

    name: str
    key_id: int
    signature: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if not _name_is_valid(self.name):
            raise MalformedNoteError("signature key name is empty or has spaces or '+'")
        if not 0 <= self.key_id < 1 << 32:
            raise MalformedNoteError("key ID is not a 32-bit unsigned integer")
        object.__setattr__(self, "signature", bytes(self.signature))

    @classmethod
    def from_line(cls, line: str) -> Signature:
        """Parse ``— <name> <base64(key ID || signature)>`` (no trailing newline).

        Returns the Signature. Raises MalformedNoteError if the line is malformed or the
        base64 is not canonical or decodes to fewer than four bytes.
        """
        if not line.startswith(_SIG_PREFIX):
            raise MalformedNoteError("signature line does not start with an em dash and space")
        name, _, b64 = line[len(_SIG_PREFIX) :].partition(" ")
        raw = _b64decode_strict(b64)
        if raw is None or len(raw) < 4:
            raise MalformedNoteError("signature is not canonical base64 of at least 4 bytes")
        return cls(name, int.from_bytes(raw[:4], "big"), raw[4:])

    def to_line(self) -> str:
        """Return the signature line that `from_line` parses back (no trailing newline)."""
        material = _b64encode(self.key_id.to_bytes(4, "big") + self.signature)
        return f"{_SIG_PREFIX}{self.name} {material}"


def _check_text(text: str) -> None:
    """Raise MalformedNoteError unless `text` can be a note text (signed-note §Format)."""
    if not text.endswith("\n"):
        raise MalformedNoteError("note text does not end in a newline")
    if _CONTROL.search(text):
        raise MalformedNoteError("note contains a control character other than newline")
    if not _is_utf8(text):
        raise MalformedNoteError("note is not valid UTF-8")


@dataclass(frozen=True)
class Note:
    """A parsed, not yet verified, signed note: its text and signature lines.

    Building one raises MalformedNoteError if the text is not a valid note text, there
    is no signature or more than MAX_SIGNATURES, or the note exceeds MAX_NOTE_BYTES.
    """

    text: str
    signatures: tuple[Signature, ...]

    def __post_init__(self) -> None:
        _check_text(self.text)
        object.__setattr__(self, "signatures", tuple(self.signatures))
        if not 1 <= len(self.signatures) <= MAX_SIGNATURES:
            raise MalformedNoteError(f"a note needs 1 to {MAX_SIGNATURES} signatures")
        if len(self.to_text().encode("utf-8")) > MAX_NOTE_BYTES:
            raise MalformedNoteError(f"note is longer than {MAX_NOTE_BYTES} bytes")

    @classmethod
    def from_text(cls, text: str | bytes) -> Note:
        """Parse a signed note strictly (signed-note §Format), without verifying it.

        Returns the Note. Raises MalformedNoteError if the note is not UTF-8, contains
        control characters, does not end in a newline, has no blank line followed by one
        or more valid signature lines, or exceeds the size or signature limits.
        """
        # Reject oversized input before any work; a str is never longer than its UTF-8.
        if len(text) > MAX_NOTE_BYTES:
            raise MalformedNoteError(f"note is longer than {MAX_NOTE_BYTES} bytes")
        if isinstance(text, bytes):
            try:
                text = text.decode("utf-8")
            except UnicodeDecodeError:
                raise MalformedNoteError("note is not valid UTF-8") from None
        _check_text(text)
        # The text is separated from the signatures by the last empty line.
        split = text.rfind("\n\n")
        if split < 0:
            raise MalformedNoteError("note has no blank line before its signatures")
        lines = text[split + 2 : -1].split("\n") if split + 2 < len(text) else []
        if not lines:
            raise MalformedNoteError("note has no signature lines")
        if len(lines) > MAX_SIGNATURES:
            raise MalformedNoteError(f"note has more than {MAX_SIGNATURES} signatures")
        return cls(text[: split + 1], tuple(Signature.from_line(line) for line in lines))

    def to_text(self) -> str:
        """Return the note as text: the text, a blank line, then one line per signature."""
        return self.text + "\n" + "".join(sig.to_line() + "\n" for sig in self.signatures)


@dataclass(frozen=True)
class VerifiedNote:
    """A note whose signatures by `verifiers` verified. Made only by `open_note`."""

    note: Note
    verifiers: tuple[Verifier, ...]

    @property
    def text(self) -> str:
        """The verified note text (ending in a newline)."""
        return self.note.text


def _signatures_by(text: str, signers: Sequence[Signer]) -> tuple[Signature, ...]:
    return tuple(Signature(s.name, s.key_id, s.sign_note(text)) for s in signers)


def sign_note(text: str, signers: Sequence[Signer]) -> str:
    """Sign `text` with each signer, in order, and return the signed note.

    Raises MalformedNoteError if `text` is not a valid note text (it must end in a
    newline and contain no control characters but newlines), there are no signers or
    more than MAX_SIGNATURES, or the note would be too long.
    """
    _check_text(text)
    if not signers:
        raise MalformedNoteError("a note needs at least one signer")
    return Note(text, _signatures_by(text, signers)).to_text()


def add_signatures(note_text: str | bytes, signers: Sequence[Signer]) -> str:
    """Return the note with a fresh signature by each signer added at the end.

    A signature already on the note by the same name and key ID is replaced; the others
    are kept as they are, unverified. Raises MalformedNoteError if the note is malformed
    or would exceed the limits.
    """
    note = Note.from_text(note_text)
    replaced = {(s.name, s.key_id) for s in signers}
    kept = tuple(s for s in note.signatures if (s.name, s.key_id) not in replaced)
    return Note(note.text, kept + _signatures_by(note.text, signers)).to_text()


def _index(verifiers: Sequence[Verifier]) -> dict[tuple[str, int], Verifier]:
    known: dict[tuple[str, int], Verifier] = {}
    for verifier in verifiers:
        slot = (verifier.name, verifier.key_id)
        if known.setdefault(slot, verifier) != verifier:
            raise MalformedKeyError(f"two verifier keys share name and ID {slot[0]}+{slot[1]:08x}")
    return known


def open_note(note_text: str | bytes, verifiers: Sequence[Verifier]) -> VerifiedNote:
    """Parse a signed note and verify it against the trusted `verifiers`.

    Signatures whose (name, key ID) match no verifier are ignored (signed-note
    §Signatures). Returns the VerifiedNote with the verifiers whose signatures verified,
    in the order they first sign. Raises MalformedNoteError if the note is malformed,
    MalformedKeyError if two verifiers share a name and key ID, SignatureInvalidError if
    any signature from a known key fails (the spec's SHOULD: reject the whole note), and
    UnverifiedNoteError if no known key signed.
    """
    note = Note.from_text(note_text)
    known = _index(verifiers)
    verified: dict[tuple[str, int], Verifier] = {}
    for sig in note.signatures:
        verifier = known.get((sig.name, sig.key_id))
        if verifier is None:
            continue
        verifier.verify_note(note.text, sig.signature)
        verified.setdefault((sig.name, sig.key_id), verifier)
    if not verified:
        raise UnverifiedNoteError("no signature on the note is from a trusted key")
    return VerifiedNote(note, tuple(verified.values()))
