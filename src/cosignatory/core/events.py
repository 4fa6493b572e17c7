"""Events: the register's only way to change, each one a log entry.

An entry is the RFC 8785 JSON (see :mod:`cosignatory.core.canonical`) of::

    {"v": 1, "type": "letter.opened", "at": "2019-07-08T09:30:00.000000Z",
     "data": {...}, "registrar": {"key": "<key id>", "sig": "<base64 Ed25519>"}}

``registrar.sig`` is the registrar's Ed25519 signature over the canonical JSON of the
same object without ``registrar``: every entry is an act of the registrar, who also
vouches for what signatories submitted. The format is documented in
``docs/formats/events.md``; field names never change meaning, and a new meaning gets
a new field or a new schema version ``v``.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from cosignatory.core import limits, names
from cosignatory.core.canonical import canonical_json, normalise
from cosignatory.core.errors import InvalidEventError
from cosignatory.core.limits import check_count, check_length

SCHEMA_VERSION = 1
LANGUAGES = ("ar", "zh", "en", "fr", "ru", "es")
"""The six UN languages. Texts and names may be in any subset of them."""
_LANGUAGE = {lang: lang for lang in LANGUAGES}  # one string object per language

MAX_ENTRY_BYTES = limits.ENTRY_BYTES
"""An event must fit a log entry (65,535 bytes) with room for the registrar's signature."""

_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}")
# ASCII digits only: \d would also match other scripts' digits ("٢٠١٩"), which
# Python's date parsers read as numbers, so one time would have several spellings.
_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_HEX64 = re.compile(r"[0-9a-f]{64}")
# Bidirectional controls and invisible characters have no place in a name: they can
# make one name look like another (issue: names and texts). This is the set every event
# in a log was held to; new events meet the stricter rule of names.check_name (see
# Event.make). ZWNJ and ZWJ (U+200C, U+200D) are left to that rule, which allows them
# inside words of the scripts that need them.
_HIDDEN = re.compile(
    "[\u061c\u200b\u200e\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff\u00ad]"
)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


# -- field validators ----------------------------------------------------------------


def format_time(moment: datetime) -> str:
    """Return ``moment`` as the event time format: UTC, microseconds, ``Z``."""
    if moment.tzinfo is None:
        raise InvalidEventError("event times must be timezone-aware")
    # Not strftime: its %Y writes the year 129 as "129" (glibc), which parse_time refuses.
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def parse_time(text: str) -> datetime:
    """Parse an event time; raises InvalidEventError unless it is in the exact format."""
    if not isinstance(text, str) or not _TIME.fullmatch(text):
        raise InvalidEventError(f"time {text!r} is not YYYY-MM-DDTHH:MM:SS.ffffffZ")
    try:
        # The pattern above fixes the spelling; fromisoformat reads it (with "Z" as UTC)
        # about 40 times faster than strptime, which every event's times go through.
        return datetime.fromisoformat(text)
    except ValueError:
        raise InvalidEventError(f"time {text!r} does not exist") from None


def parse_date(text: str) -> date:
    """Parse a calendar date ``YYYY-MM-DD``; raises InvalidEventError."""
    if not isinstance(text, str) or not _DATE.fullmatch(text):
        raise InvalidEventError(f"date {text!r} is not YYYY-MM-DD")
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidEventError(f"date {text!r} does not exist") from None


def check_id(value: Any, what: str) -> str:
    """Return ``value`` if it is a valid identifier, else raise InvalidEventError."""
    if not isinstance(value, str) or not _ID.fullmatch(value):
        raise InvalidEventError(f"{what} {value!r} is not a valid identifier")
    return value


def check_name(value: Any, what: str, max_length: int = limits.NAME_CHARS) -> str:
    """Return a display name: non-empty, trimmed, no control or invisible characters.

    Raises InvalidEventError, LimitError (too long) or NameCharacterError.
    """
    if not isinstance(value, str) or not value.strip():
        raise InvalidEventError(f"{what} must be a non-empty string")
    if value != value.strip():
        raise InvalidEventError(f"{what} has surrounding spaces")
    check_length(value, max_length, what)
    hidden = _CONTROL.search(value) or _HIDDEN.search(value)
    if hidden:
        raise names.NameCharacterError(
            f"{what} contains {names.describe(hidden.group())} at position "
            f"{hidden.start() + 1}: names may not hold control, bidirectional or "
            "invisible characters"
        )
    return value


def check_names(value: Any, what: str) -> dict[str, str]:
    """Return a mapping of UN language to name, with at least one language."""
    if not isinstance(value, Mapping) or not value:
        raise InvalidEventError(f"{what} must map languages to names")
    out = {}
    for lang, name in value.items():
        if lang not in LANGUAGES:
            raise InvalidEventError(f"{what}: {lang!r} is not one of {', '.join(LANGUAGES)}")
        out[_LANGUAGE[lang]] = check_name(name, f"{what} ({lang})")
    return out


def check_texts(value: Any, max_length: int = limits.TEXT_CHARS) -> dict[str, str]:
    """Return a letter's texts: language to Markdown, at least one, none empty.

    Raises InvalidEventError, or LimitError for a text over ``max_length`` characters.
    """
    if not isinstance(value, Mapping) or not value:
        raise InvalidEventError("texts must map languages to Markdown")
    out = {}
    for lang, text in value.items():
        if lang not in LANGUAGES:
            raise InvalidEventError(f"texts: {lang!r} is not one of {', '.join(LANGUAGES)}")
        if not isinstance(text, str) or not text.strip():
            raise InvalidEventError(f"text ({lang}) must be 1 to {max_length} characters")
        check_length(text, max_length, f"text ({lang})")
        if re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", text):
            raise InvalidEventError(f"text ({lang}) contains control characters")
        out[lang] = text
    return out


def check_hex64(value: Any, what: str) -> str:
    if not isinstance(value, str) or not _HEX64.fullmatch(value):
        raise InvalidEventError(f"{what} must be 64 lowercase hex digits")
    return value


def check_b64(value: Any, what: str, length: int | None = None) -> bytes:
    """Decode canonical base64; raises InvalidEventError (also for a wrong length)."""
    try:
        raw = base64.b64decode(value, validate=True) if isinstance(value, str) else None
    except (binascii.Error, ValueError):
        raw = None
    if raw is None or base64.b64encode(raw).decode() != value:
        raise InvalidEventError(f"{what} is not canonical base64")
    if length is not None and len(raw) != length:
        raise InvalidEventError(f"{what} must be {length} bytes")
    return raw


# -- schemas --------------------------------------------------------------------------

Check = Callable[[Any], Any]


def _opt(check: Check) -> Check:
    def optional(value: Any) -> Any:
        return None if value is None else check(value)

    optional.optional = True  # type: ignore[attr-defined]
    return optional


def _str(max_length: int = limits.REASON_CHARS) -> Check:
    def check(value: Any) -> str:
        if not isinstance(value, str):
            raise InvalidEventError(f"expected text of at most {max_length} characters")
        check_length(value, max_length, "text")
        if _CONTROL.search(value.replace("\n", "")):
            raise InvalidEventError("text contains control characters")
        return value

    return check


def _int(low: int = 0, high: int = 1 << 62) -> Check:
    def check(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise InvalidEventError(f"expected an integer from {low} to {high}")
        return value

    return check


def _choice(*options: str) -> Check:
    # The option itself is returned, not the equal string read: a register of a million
    # signatures then holds one "sign" and one "person", not a million of each.
    known = {option: option for option in options}

    def check(value: Any) -> str:
        found = known.get(value) if isinstance(value, str) else None
        if found is None:
            raise InvalidEventError(f"expected one of {', '.join(options)}, not {value!r}")
        return found

    return check


def _list(item: Check, max_items: int = 1000) -> Check:
    def check(value: Any) -> list[Any]:
        if not isinstance(value, list):
            raise InvalidEventError(f"expected a list of at most {max_items} items")
        check_count(len(value), max_items, "items in the list")
        return [item(v) for v in value]

    return check


def _object(**fields: Check) -> Check:
    def check(value: Any) -> dict[str, Any]:
        return validate_fields(value, fields, "object")

    return check


def _email(value: Any) -> str:
    if not isinstance(value, str) or not re.fullmatch(r"[^@\s]{1,64}@[^@\s]{1,255}", value):
        raise InvalidEventError(f"{value!r} is not an email address")
    return value


def _id(value: Any) -> str:
    return check_id(value, "identifier")


def _names(value: Any) -> dict[str, str]:
    return check_names(value, "names")


def _name(value: Any) -> str:
    return check_name(value, "name")


def _time(value: Any) -> str:
    parse_time(value)
    return str(value)


def _date(value: Any) -> str:
    parse_date(value)
    return str(value)


def _hex(value: Any) -> str:
    return check_hex64(value, "hash")


def _public_key(value: Any) -> str:
    check_b64(value, "public key", 32)
    return str(value)


def _signature64(value: Any) -> str:
    check_b64(value, "signature", 64)
    return str(value)


def validate_fields(value: Any, fields: Mapping[str, Check], what: str) -> dict[str, Any]:
    """Check an object against ``fields``: no unknown keys, required ones present."""
    if not isinstance(value, Mapping):
        raise InvalidEventError(f"{what} must be a JSON object")
    unknown = set(value) - set(fields)
    if unknown:
        # repr: a field name may hold a newline, and an error is one line.
        names = ", ".join(repr(name) for name in sorted(unknown))
        raise InvalidEventError(f"{what} has unknown fields: {names}")
    out = {}
    for name, check in fields.items():
        if name not in value:
            if getattr(check, "optional", False):
                continue
            raise InvalidEventError(f"{what} is missing {name!r}")
        try:
            out[name] = check(value[name])
        except InvalidEventError as error:
            # The same kind of error (a LimitError stays one), with where it was found.
            raise type(error)(f"{what}.{name}: {error}") from None
    return out


INSTRUMENT = _object(
    kind=_choice("note-verbale", "letter", "email", "fax", "in-person"),
    reference=_str(limits.REFERENCE_CHARS),
    date=_date,
)

EVIDENCE = {
    "self-signed": _object(
        kind=_choice("self-signed"),
        key=_id,
        statement=lambda v: v,  # checked by statements.Statement.from_json in the rules
        signature=_signature64,
    ),
    "attested": _object(kind=_choice("attested"), instrument=INSTRUMENT),
    "email-verified": _object(
        kind=_choice("email-verified"), email_sha256=_hex, confirmed_at=_time
    ),
}


def _evidence(value: Any) -> dict[str, Any]:
    kind = value.get("kind") if isinstance(value, Mapping) else None
    # isinstance first: a list or an object as the kind is unhashable (found by fuzzing).
    if not isinstance(kind, str) or kind not in EVIDENCE:
        raise InvalidEventError(f"evidence kind must be one of {', '.join(EVIDENCE)}")
    result: dict[str, Any] = EVIDENCE[kind](value)
    return result


SCHEMAS: dict[str, dict[str, Check]] = {
    "registrar.key_added": {"key": _id, "public_key": _public_key, "name": _name},
    "registrar.key_revoked": {"key": _id, "reason": _str()},
    "body.created": {
        "id": _id,
        "names": _names,
        "symbol_root": _str(40),
        "symbol_format": _opt(_str(100)),
    },
    "session.created": {
        "id": _id,
        "body": _id,
        "number": _int(1, limits.VERSIONS_MAX),
        "names": _names,
        "start": _date,
        "end": _date,
        "symbol_prefix": _str(60),
    },
    "party.registered": {
        "id": _id,
        "kind": _choice("state", "organisation", "person", "group"),
        "names": _names,
        "code": _opt(_str(10)),
        "contact": _opt(_email),
        "members": _opt(_list(_id, limits.MEMBERS_MAX)),
    },
    "party.contact_set": {"party": _id, "contact": _opt(_email)},
    "representative.registered": {"id": _id, "name": _name, "contact": _opt(_email)},
    "mandate.granted": {
        "id": _id,
        "representative": _id,
        "party": _id,
        "valid_from": _time,
        "valid_until": _opt(_time),
        "credential": INSTRUMENT,
    },
    "mandate.ended": {"id": _id, "reason": _str()},
    "key.registered": {
        "id": _id,
        "representative": _id,
        "public_key": _public_key,
        "valid_from": _time,
        "valid_until": _opt(_time),
    },
    "key.revoked": {"id": _id, "reason": _str()},
    "letter.created": {
        "id": _id,
        "title": _names,
        "addressees": _list(_name, limits.ADDRESSEES_MAX),
        "lead_party": _id,
        "date": _date,
        "session": _opt(_id),
    },
    "letter.text_version_added": {
        "letter": _id,
        "version": _int(1, limits.VERSIONS_MAX),
        "texts": check_texts,
        "text_hash": _hex,
    },
    "letter.opened": {"letter": _id},
    "letter.closed": {"letter": _id},
    "letter.reopened": {"letter": _id},
    "letter.transmitted": {"letter": _id, "date": _date},
    "letter.registered": {
        "letter": _id,
        "session": _id,
        "series": _str(10),
        "number": _int(1),
        "symbol": _str(120),
    },
    "letter.registration_cancelled": {"letter": _id, "symbol": _str(120), "reason": _str()},
    "letter.published": {"letter": _id},
    "document.issued": {
        "letter": _id,
        "kind": _choice("Add", "Corr", "Rev"),
        "of": _str(120),
        "number": _int(1),
        "symbol": _str(140),
        "version": _opt(_int(1, limits.VERSIONS_MAX)),
        "note": _opt(_str(limits.NOTE_CHARS)),
    },
    "signature.recorded": {
        "id": _id,
        "action": _choice("sign", "accede", "withdraw"),
        "letter": _id,
        "version": _int(1, limits.VERSIONS_MAX),
        "text_hash": _hex,
        "party": _id,
        "representative": _opt(_id),
        "withdraws": _opt(_id),
        "evidence": _evidence,
    },
    "dispute.filed": {
        "id": _id,
        "signature": _id,
        "party": _id,
        "statement": _str(limits.NOTE_CHARS),
        "evidence": INSTRUMENT,
    },
    "dispute.resolved": {
        "id": _id,
        "outcome": _choice("upheld", "dismissed"),
        "note": _str(limits.NOTE_CHARS),
    },
}


NAME_FIELDS: dict[str, tuple[str, ...]] = {
    "registrar.key_added": ("name",),
    "body.created": ("names",),
    "session.created": ("names",),
    "party.registered": ("names",),
    "representative.registered": ("name",),
    "letter.created": ("title", "addressees"),
}
"""The fields of each event type that hold names shown to readers."""


def admit_names(type: str, data: Mapping[str, Any]) -> None:
    """Hold the names in a new event's ``data`` to :func:`names.check_name`.

    Only new events: a log may hold events recorded before this rule (they met the
    schema's narrower set of refused characters) and must still replay.
    Raises NameCharacterError.
    """
    for field_name in NAME_FIELDS.get(type, ()):
        value = data.get(field_name)
        if isinstance(value, Mapping):
            for lang, name in value.items():
                names.check_name(name, f"{type}: {field_name} ({lang})")
        elif isinstance(value, list):
            for number, name in enumerate(value, 1):
                names.check_name(name, f"{type}: {field_name} {number}")
        elif isinstance(value, str):
            names.check_name(value, f"{type}: {field_name}")


_ENTRY: dict[str, Check] = {
    "v": _int(1, 1),
    "type": _choice(*SCHEMAS),
    "at": _time,
    "data": lambda v: v,
    "registrar": _object(key=_id, sig=_signature64),
}
"""A log entry's outer fields; ``data`` is checked against its type's schema after."""


@dataclass(frozen=True)
class Event:
    """One change to the register: a type, its time, its data, and the registrar's seal.

    Build with :meth:`make` (validates the data) or :meth:`from_bytes` (validates a log
    entry); ``to_bytes`` gives the log entry.
    """

    type: str
    at: datetime
    data: Mapping[str, Any]
    registrar_key: str = ""
    registrar_sig: bytes = field(default=b"", repr=False)
    v: int = SCHEMA_VERSION

    @classmethod
    def make(cls, type: str, at: datetime, data: Mapping[str, Any]) -> Event:
        """Return a new, unsealed event after checking ``data`` against the type's
        schema and the rules for new names (:func:`cosignatory.core.names.check_name`).

        Raises InvalidEventError for an unknown type or invalid data (LimitError over a
        limit, NameCharacterError for a hidden character in a name).
        """
        event = cls._checked(type, at, data)
        admit_names(event.type, event.data)
        return event

    @classmethod
    def _checked(cls, type: str, at: datetime, data: Mapping[str, Any]) -> Event:
        """An event checked against its schema only: what every logged event meets."""
        schema = SCHEMAS.get(type)
        if schema is None:
            raise InvalidEventError(f"unknown event type {type!r}")
        if not isinstance(data, Mapping):
            raise InvalidEventError(f"{type} data must be a JSON object")
        checked = validate_fields(normalise(dict(data)), schema, type)
        return cls(type, parse_time(format_time(at)), checked)

    def body(self) -> dict[str, Any]:
        """The object the registrar signs: everything but the seal."""
        return {"v": self.v, "type": self.type, "at": format_time(self.at), "data": self.data}

    def signed_bytes(self) -> bytes:
        """The canonical JSON the registrar's signature covers."""
        return canonical_json(self.body())

    def sealed(self, key: str, signature: bytes) -> Event:
        """Return this event with the registrar's seal."""
        return Event(self.type, self.at, self.data, key, signature, self.v)

    def to_bytes(self, signed: bytes | None = None) -> bytes:
        """Return the log entry: canonical JSON with the seal. Raises if unsealed.

        ``signed`` may be what :meth:`signed_bytes` returned for this event: the entry is
        then those bytes with the seal written in, not the whole event encoded again.
        That gives the same bytes: in canonical JSON each member's value is written
        without regard to the others, and the seal's name, ``registrar``, sorts between
        ``data`` and ``type``.
        """
        if not self.registrar_key:
            raise InvalidEventError("an event must be sealed by the registrar before logging")
        seal = {"key": self.registrar_key, "sig": base64.b64encode(self.registrar_sig).decode()}
        tail = b"".join((b',"type":', canonical_json(self.type), b',"v":', b"%d}" % self.v))
        if signed is not None and signed.endswith(tail):
            head = signed[: -len(tail)]
            data = b"".join((head, b',"registrar":', canonical_json(seal), tail))
        else:
            data = canonical_json({**self.body(), "registrar": seal})
        # A LimitError: e.g. six long texts of one version can pass each text's limit
        # and still not fit one log entry together.
        limits.check_size(len(data), MAX_ENTRY_BYTES, "the event's log entry")
        return data

    @classmethod
    def from_bytes(cls, entry: bytes) -> Event:
        """Parse and validate a log entry. Raises InvalidEventError.

        The entry must be exactly the canonical encoding of what it holds, so one
        event has one encoding and one leaf hash.
        """
        return cls.from_entry(entry)[0]

    @classmethod
    def from_entry(cls, entry: bytes) -> tuple[Event, bytes]:
        """:meth:`from_bytes`, and the event's :meth:`signed_bytes`, encoded once for both:
        the registrar's seal is checked over them. Raises InvalidEventError.
        """
        limits.check_size(len(entry), MAX_ENTRY_BYTES, "the event entry")
        try:
            raw = json.loads(entry.decode("utf-8"))
        # ValueError, not only JSONDecodeError: an integer of over 4,300 digits is refused
        # by int() itself (CPython's int_max_str_digits) with a plain ValueError.
        except (UnicodeDecodeError, ValueError, RecursionError) as error:
            raise InvalidEventError(f"event entry is not JSON: {error}") from None
        outer = validate_fields(raw, _ENTRY, "event")
        # Only the schema: the rules for new names came later than some logged events.
        event = cls._checked(outer["type"], parse_time(outer["at"]), outer["data"])
        sealed = event.sealed(
            outer["registrar"]["key"], base64.b64decode(outer["registrar"]["sig"])
        )
        signed = event.signed_bytes()
        if sealed.to_bytes(signed) != entry:
            raise InvalidEventError("event entry is not in canonical form")
        return sealed, signed
