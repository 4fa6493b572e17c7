"""Signed statements: what a representative signs with their own key.

A statement names the action, the letter, the exact text version (number and hash),
the party, the representative, the key and the signer's time. Its signed bytes are
the RFC 8785 JSON of::

    {"v": 1, "kind": "cosignatory.statement", "action": "sign", "letter": "...",
     "version": 2, "text_hash": "<hex>", "party": "FRA", "representative": "...",
     "key": "...", "at": "2019-07-08T09:30:00.000000Z"}

signed with Ed25519 (RFC 8032). The same bytes are signed by ``cosignatory sign`` and by
the browser (Web Crypto), and checked by the server and by the offline verifier.
A statement file is ``{"statement": {...}, "signature": "<base64>"}``.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from cosignatory.core.canonical import canonical_json
from cosignatory.core.errors import InvalidEventError, StatementError
from cosignatory.core.events import (
    _choice,
    _hex,
    _id,
    _int,
    _signature64,
    _time,
    format_time,
    parse_time,
    validate_fields,
)
from cosignatory.tlog.errors import SignatureInvalidError

KIND = "cosignatory.statement"
_FIELDS = {
    "v": _int(1, 1),
    "kind": _choice(KIND),
    "action": _choice("sign", "accede", "withdraw"),
    "letter": _id,
    "version": _int(1, 10_000),
    "text_hash": _hex,
    "party": _id,
    "representative": _id,
    "key": _id,
    "at": _time,
}


@dataclass(frozen=True)
class Statement:
    """A representative's statement that their party signs, accedes to or withdraws from
    one text version of a letter."""

    action: str
    letter: str
    version: int
    text_hash: str
    party: str
    representative: str
    key: str
    at: datetime

    def to_json(self) -> dict[str, Any]:
        """Return the statement as a JSON object (what is signed, canonicalised)."""
        return {
            "v": 1,
            "kind": KIND,
            "action": self.action,
            "letter": self.letter,
            "version": self.version,
            "text_hash": self.text_hash,
            "party": self.party,
            "representative": self.representative,
            "key": self.key,
            "at": format_time(self.at),
        }

    def signed_bytes(self) -> bytes:
        """The exact bytes the representative's key signs."""
        return canonical_json(self.to_json())

    @classmethod
    def from_json(cls, value: Any) -> Statement:
        """Parse a statement object; raises StatementError if any field is wrong."""
        try:
            checked = validate_fields(value, _FIELDS, "statement")
        except InvalidEventError as error:
            raise StatementError(str(error)) from None
        return cls(
            checked["action"],
            checked["letter"],
            checked["version"],
            checked["text_hash"],
            checked["party"],
            checked["representative"],
            checked["key"],
            parse_time(checked["at"]),
        )

    def sign(self, private_key: Ed25519PrivateKey) -> bytes:
        """Return the Ed25519 signature over :meth:`signed_bytes`."""
        return private_key.sign(self.signed_bytes())

    def verify(self, signature: bytes, public_key: bytes) -> None:
        """Check ``signature`` with the raw Ed25519 ``public_key``.

        Raises SignatureInvalidError (E_SIG_INVALID) if it does not verify.
        """
        try:
            Ed25519PublicKey.from_public_bytes(public_key).verify(signature, self.signed_bytes())
        except (InvalidSignature, ValueError):
            raise SignatureInvalidError(
                f"the statement's signature does not verify with key {self.key}"
            ) from None


@dataclass(frozen=True)
class SignedStatement:
    """A statement with its signature, as carried in a file or an API request."""

    statement: Statement
    signature: bytes

    def to_json(self) -> dict[str, Any]:
        return {
            "statement": self.statement.to_json(),
            "signature": base64.b64encode(self.signature).decode(),
        }

    def to_text(self) -> str:
        """The statement file's text (indented JSON, for people to read)."""
        return json.dumps(self.to_json(), indent=2, ensure_ascii=False, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, value: Any) -> SignedStatement:
        """Parse ``{"statement": ..., "signature": ...}``; raises StatementError."""
        if not isinstance(value, dict) or set(value) != {"statement", "signature"}:
            raise StatementError("a signed statement has exactly 'statement' and 'signature'")
        try:
            _signature64(value["signature"])
        except InvalidEventError as error:
            raise StatementError(str(error)) from None
        return cls(Statement.from_json(value["statement"]), base64.b64decode(value["signature"]))

    @classmethod
    def from_text(cls, text: str) -> SignedStatement:
        """Parse a statement file; raises StatementError."""
        try:
            value = json.loads(text)
        # ValueError, not only JSONDecodeError: int() refuses over 4,300 digits with it.
        except (ValueError, RecursionError) as error:
            raise StatementError(f"the statement file is not JSON: {error}") from None
        return cls.from_json(value)
