"""Canonical bytes for everything that is hashed or signed: RFC 8785 JSON of NFC text.

Two encodings of the same value must never hash differently, so every string (keys
and values) is normalised to Unicode NFC and line endings to ``\\n`` before RFC 8785
(JSON Canonicalization Scheme) serialises it.

The ``rfc8785`` package is the reference encoder. For the values the register signs it
gives exactly what the standard library's C encoder gives with sorted keys, no spaces
and no ASCII escaping (the same escapes, integers written in full), which is four times
faster: that encoder is used when the value shows it is one of those (see
:func:`_normalise`), ``rfc8785`` otherwise. A property test holds the two equal.
"""

from __future__ import annotations

import hashlib
import json
import unicodedata
from collections.abc import Mapping
from typing import Any

import rfc8785

from cosignatory.core.errors import InvalidEventError

JSON = Any


def normalise(value: JSON) -> JSON:
    """Return ``value`` with every string in NFC; raises InvalidEventError for non-JSON."""
    return _normalise(value, [])


def _normalise(value: JSON, unplain: list[JSON]) -> JSON:
    """:func:`normalise`, noting in ``unplain`` what the standard encoder would not write
    as RFC 8785 does, in the same walk.

    That encoder escapes the same characters the same way and writes integers in full,
    so two things remain: an integer beyond 2**53 - 1, which RFC 8785 refuses, and key
    order. The standard encoder sorts keys by code point, RFC 8785 by UTF-16 code unit;
    the two orders differ only for a key with a character beyond U+FFFF (a surrogate
    pair in UTF-16). Floats never get here: they are refused.

    Every string, key and value, is hashed or signed somewhere, so this walk is on every
    hot path: the exact types JSON gives (``str``, ``dict``, ``list``, ``int``) are told
    apart by ``type`` first, and ASCII text, which NFC never changes, is kept as it is.
    Anything else (subclasses, other mappings and sequences) takes :func:`_other`.
    """
    kind = type(value)
    if kind is str:
        return value if value.isascii() else unicodedata.normalize("NFC", value)
    if kind is dict:
        return _object(value, unplain)
    if kind is list:
        return [_normalise(item, unplain) for item in value]
    if kind is int:
        if not -_SAFE_INTEGER <= value <= _SAFE_INTEGER:
            unplain.append(value)
        return value
    return _other(value, unplain)


def _object(value: Mapping[Any, JSON], unplain: list[JSON]) -> dict[str, JSON]:
    out = {}
    for key, item in value.items():
        if not isinstance(key, str):
            raise InvalidEventError("JSON object keys must be strings")
        if not key.isascii():
            key = unicodedata.normalize("NFC", key)
            if max(key) >= _FIRST_ASTRAL:
                unplain.append(key)
        out[key] = item if type(item) is str and item.isascii() else _normalise(item, unplain)
    return out


def _other(value: JSON, unplain: list[JSON]) -> JSON:
    """:func:`_normalise` of a value that is not exactly a ``str``, ``dict``, ``list``
    or ``int``."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, str):
        return unicodedata.normalize("NFC", value)
    if isinstance(value, int):
        if not -_SAFE_INTEGER <= value <= _SAFE_INTEGER:
            unplain.append(value)
        return value
    if isinstance(value, Mapping):
        return _object(value, unplain)
    if isinstance(value, list | tuple):
        return [_normalise(item, unplain) for item in value]
    # Floats are left out on purpose: nothing the register signs is fractional.
    raise InvalidEventError(f"{type(value).__name__} is not allowed in canonical JSON")


def canonical_json(value: JSON) -> bytes:
    """Return the RFC 8785 encoding of ``value`` after NFC normalisation."""
    unplain: list[JSON] = []
    normalised = _normalise(value, unplain)
    if not unplain:
        try:
            return _encode(normalised).encode("utf-8")
        except UnicodeEncodeError:
            pass  # a lone surrogate: rfc8785 refuses it below, with its reason
    try:
        return bytes(rfc8785.dumps(normalised))
    except rfc8785.CanonicalizationError as error:
        raise InvalidEventError(f"cannot canonicalise: {error}") from error
    except UnicodeEncodeError as error:  # rfc8785 lets this out for a key, not a value
        raise InvalidEventError("cannot canonicalise: a key is not UTF-8 text") from error


_encode = json.JSONEncoder(
    ensure_ascii=False, allow_nan=False, sort_keys=True, separators=(",", ":")
).encode
_SAFE_INTEGER = 2**53 - 1  # RFC 8785 writes numbers as IEEE doubles: larger ones are refused
_FIRST_ASTRAL = "\U00010000"


def text_hash(texts: Mapping[str, str]) -> str:
    """Return the hash a signature binds to: SHA-256 over the canonical language texts.

    ``texts`` maps a language code to the letter's Markdown text in that language.
    Line endings are normalised to ``\\n``; the result is lowercase hex.
    """
    cleaned = {lang: text.replace("\r\n", "\n").replace("\r", "\n") for lang, text in texts.items()}
    return hashlib.sha256(canonical_json(cleaned)).hexdigest()
