"""Canonical bytes for everything that is hashed or signed: RFC 8785 JSON of NFC text.

Two encodings of the same value must never hash differently, so every string (keys
and values) is normalised to Unicode NFC and line endings to ``\\n`` before RFC 8785
(JSON Canonicalization Scheme) serialises it.
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Mapping
from typing import Any

import rfc8785

from cosignatory.core.errors import InvalidEventError

JSON = Any


def normalise(value: JSON) -> JSON:
    """Return ``value`` with every string in NFC; raises InvalidEventError for non-JSON."""
    if isinstance(value, str):
        return unicodedata.normalize("NFC", value)
    if isinstance(value, bool) or value is None or isinstance(value, int):
        return value
    if isinstance(value, Mapping):
        out = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise InvalidEventError("JSON object keys must be strings")
            out[unicodedata.normalize("NFC", key)] = normalise(item)
        return out
    if isinstance(value, list | tuple):
        return [normalise(item) for item in value]
    # Floats are left out on purpose: nothing the register signs is fractional.
    raise InvalidEventError(f"{type(value).__name__} is not allowed in canonical JSON")


def canonical_json(value: JSON) -> bytes:
    """Return the RFC 8785 encoding of ``value`` after NFC normalisation."""
    try:
        return bytes(rfc8785.dumps(normalise(value)))
    except rfc8785.CanonicalizationError as error:
        raise InvalidEventError(f"cannot canonicalise: {error}") from error


def text_hash(texts: Mapping[str, str]) -> str:
    """Return the hash a signature binds to: SHA-256 over the canonical language texts.

    ``texts`` maps a language code to the letter's Markdown text in that language.
    Line endings are normalised to ``\\n``; the result is lowercase hex.
    """
    cleaned = {lang: text.replace("\r\n", "\n").replace("\r", "\n") for lang, text in texts.items()}
    return hashlib.sha256(canonical_json(cleaned)).hexdigest()
