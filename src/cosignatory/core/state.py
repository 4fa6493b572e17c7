"""The register's state and its rules: :meth:`Register.apply` accepts or refuses an event.

The same code judges every event wherever it is applied: by the web services before
an event is appended, by ``cosignatory rebuild`` replaying the log, and by the
offline verifier replaying a bundle. A refused event raises a
:class:`cosignatory.core.errors.RegisterError` and leaves the state unchanged: every
check runs before anything is modified.

The state may be partial: the web layer loads only the entities an event touches.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Generic, Protocol, TypeVar

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from cosignatory.core.errors import (
    AccessionsClosedError,
    AlreadySignedError,
    ClockError,
    DuplicateEntityError,
    EvidenceError,
    InvalidEventError,
    KeyExpiredError,
    KeyRevokedError,
    LetterClosedError,
    LifecycleError,
    MandateError,
    NotSignedError,
    NotTransmittedError,
    StatementError,
    SymbolError,
    TextVersionError,
    UnknownEntityError,
    WrongPartyError,
)
from cosignatory.core.events import Event, parse_date, parse_time
from cosignatory.core.statements import Statement
from cosignatory.core.symbols import document_symbol, official_symbol
from cosignatory.tlog.errors import SignatureInvalidError

DRAFT, OPEN, CLOSED, TRANSMITTED, REGISTERED, PUBLISHED = (
    "draft",
    "open",
    "closed",
    "transmitted",
    "registered",
    "published",
)
AFTER_TRANSMISSION = (TRANSMITTED, REGISTERED, PUBLISHED)
STATEMENT_MAX_AGE = timedelta(days=7)
"""How long a signed statement may wait before the registrar records it."""
CLOCK_SKEW = timedelta(minutes=5)
"""How far ahead of the registrar's clock a signer's clock may be."""


@dataclass(slots=True)
class RegistrarKey:
    id: str
    public_key: bytes
    revoked_at: datetime | None = None


@dataclass(slots=True)
class Body:
    id: str
    names: dict[str, str]
    symbol_root: str
    symbol_format: str | None = None


@dataclass(slots=True)
class Session:
    id: str
    body: str
    number: int
    symbol_prefix: str
    # Next number per series, never reused (cancelled registrations keep theirs).
    counters: dict[str, int] = field(default_factory=dict)


@dataclass(slots=True)
class Party:
    id: str
    kind: str
    names: dict[str, str]
    contact: str | None = None
    members: tuple[str, ...] = ()


@dataclass(slots=True)
class Representative:
    id: str
    name: str
    contact: str | None = None


@dataclass(slots=True)
class Mandate:
    id: str
    representative: str
    party: str
    valid_from: datetime
    valid_until: datetime | None
    ended_at: datetime | None = None

    def current(self, moment: datetime) -> bool:
        if moment < self.valid_from:
            return False
        if self.valid_until is not None and moment >= self.valid_until:
            return False
        return self.ended_at is None or moment < self.ended_at


@dataclass(slots=True)
class Key:
    id: str
    representative: str
    public_key: bytes
    valid_from: datetime
    valid_until: datetime | None
    revoked_at: datetime | None = None


@dataclass(slots=True)
class SignatureRecord:
    id: str
    action: str  # sign or accede
    party: str
    version: int
    at: datetime
    evidence: str
    representative: str | None
    log_index: int | None = None
    withdrawn_at: datetime | None = None
    withdrawn_by: str | None = None
    superseded_by: str | None = None
    voided: bool = False  # a dispute against it was upheld
    key: str | None = None  # the key of a self-signed signature (its revocation is shown)


@dataclass(slots=True)
class Dispute:
    id: str
    letter: str
    signature: str
    party: str
    outcome: str | None = None


@dataclass(slots=True)
class Letter:
    id: str
    lead_party: str
    session: str | None
    status: str = DRAFT
    accessions_open: bool = False
    versions: dict[int, str] = field(default_factory=dict)  # number -> text hash
    symbol: str | None = None
    registered_session: str | None = None
    documents: dict[str, int] = field(default_factory=dict)  # kind -> last number
    signatures: MutableMapping[str, SignatureRecord] = field(default_factory=dict)
    # The party's current (not withdrawn, not superseded) signature, if any.
    active: MutableMapping[str, str] = field(default_factory=dict)
    # Ids of the withdrawals recorded (they share the signatures' id space).
    withdrawals: set[str] = field(default_factory=set)
    # When each party last signed, acceded or withdrew (a statement must be newer).
    last_act: MutableMapping[str, datetime] = field(default_factory=dict)

    @property
    def current_version(self) -> int:
        return max(self.versions) if self.versions else 0


class _Identified(Protocol):
    @property
    def id(self) -> str: ...


_K = TypeVar("_K")
_V = TypeVar("_V", bound=_Identified)


class _Lookup(Generic[_K, _V]):
    """The values of one of the register's dicts, grouped by a key derived from each.

    Rebuilt whenever the dict it was built from is replaced or has changed size behind
    its back (a partial view is filled by assigning to the dicts directly); a value
    added through :meth:`add` keeps it in step without a rebuild. Values are never
    removed from the register's dicts, only added.
    """

    def __init__(self, key: Callable[[_V], _K]) -> None:
        self._key = key
        self._source: dict[str, _V] | None = None
        self._size = 0
        self._groups: dict[_K, list[_V]] = {}

    def get(self, source: dict[str, _V], wanted: _K) -> list[_V]:
        """Return the values of ``source`` whose derived key is ``wanted``, oldest first."""
        if source is not self._source or len(source) != self._size:
            self._groups = {}
            for value in source.values():
                self._groups.setdefault(self._key(value), []).append(value)
            self._source, self._size = source, len(source)
        return self._groups.get(wanted, [])

    def add(self, source: dict[str, _V], value: _V) -> None:
        """Store ``value`` in ``source`` under its ``id``, and in the groups if in step."""
        in_step = source is self._source and len(source) == self._size
        source[value.id] = value
        if in_step and len(source) == self._size + 1:
            self._groups.setdefault(self._key(value), []).append(value)
            self._size += 1
        else:
            self._source = None  # rebuilt at the next look-up


def _mandate_pair(mandate: Mandate) -> tuple[str, str]:
    return (mandate.representative, mandate.party)


def _public_key(key: Key) -> bytes:
    return key.public_key


@dataclass
class Register:
    """Everything the rules need to judge the next event (possibly a partial view)."""

    registrar_keys: dict[str, RegistrarKey] = field(default_factory=dict)
    bodies: dict[str, Body] = field(default_factory=dict)
    sessions: dict[str, Session] = field(default_factory=dict)
    parties: MutableMapping[str, Party] = field(default_factory=dict)
    representatives: MutableMapping[str, Representative] = field(default_factory=dict)
    mandates: dict[str, Mandate] = field(default_factory=dict)
    keys: dict[str, Key] = field(default_factory=dict)
    letters: dict[str, Letter] = field(default_factory=dict)
    disputes: dict[str, Dispute] = field(default_factory=dict)
    symbols: set[str] = field(default_factory=set)
    last_at: datetime | None = None
    check_seals: bool = True
    # Look-ups that spare the rules a scan per event (a rebuild of a million
    # self-signing persons would be quadratic): the mandates by (representative, party)
    # and the keys by public key.
    _mandates_by_pair: _Lookup[tuple[str, str], Mandate] = field(
        default_factory=lambda: _Lookup(_mandate_pair), repr=False, compare=False
    )
    _keys_by_public: _Lookup[bytes, Key] = field(
        default_factory=lambda: _Lookup(_public_key), repr=False, compare=False
    )

    # -- the entry point ------------------------------------------------------------

    def apply(self, event: Event, log_index: int | None = None) -> None:
        """Judge ``event`` and, if it is allowed, change the state accordingly.

        Raises a RegisterError subclass (or SignatureInvalidError for a bad seal or
        statement) and changes nothing when the event is refused.
        """
        if self.last_at is not None and event.at < self.last_at:
            raise ClockError("an event cannot be dated before the event before it")
        if self.check_seals:
            self._check_seal(event)
        handler = getattr(self, "_" + event.type.replace(".", "_"))
        handler(event, dict(event.data), log_index)
        self.last_at = event.at

    def _check_seal(self, event: Event) -> None:
        if event.type == "registrar.key_added" and not self.registrar_keys:
            # The first registrar key seals its own introduction.
            key = RegistrarKey(event.data["key"], base64.b64decode(event.data["public_key"]))
        else:
            found = self.registrar_keys.get(event.registrar_key)
            if found is None:
                raise EvidenceError(f"event sealed by unknown registrar key {event.registrar_key}")
            key = found
        if key.id != event.registrar_key:
            raise EvidenceError("the first registrar key must seal its own introduction")
        if key.revoked_at is not None and event.at >= key.revoked_at:
            raise KeyRevokedError(f"registrar key {key.id} was revoked")
        self._verify_seal(event, key.public_key)

    def _verify_seal(self, event: Event, public_key: bytes) -> None:
        """Check the registrar's Ed25519 seal on ``event``; raises SignatureInvalidError.

        The last check of the seal, after the key's: a subclass may look the result up
        where it was computed beforehand (:mod:`cosignatory.core.verify`).
        """
        try:
            Ed25519PublicKey.from_public_bytes(public_key).verify(
                event.registrar_sig, event.signed_bytes()
            )
        except (InvalidSignature, ValueError):
            raise SignatureInvalidError(
                f"the registrar's seal on a {event.type} is invalid"
            ) from None

    # -- lookups ----------------------------------------------------------------------

    def _get(self, table: Mapping[str, Any], key: str, what: str) -> Any:
        try:
            return table[key]
        except KeyError:
            raise UnknownEntityError(f"no {what} {key!r}") from None

    def letter(self, letter_id: str) -> Letter:
        """Return a letter; raises UnknownEntityError."""
        found: Letter = self._get(self.letters, letter_id, "letter")
        return found

    def _new(self, table: Mapping[str, Any], key: str, what: str) -> None:
        if key in table:
            raise DuplicateEntityError(f"{what} {key!r} exists already")

    # -- registrar, bodies, sessions, parties -----------------------------------------

    def _registrar_key_added(self, event: Event, d: dict[str, Any], index: int | None) -> None:
        self._new(self.registrar_keys, d["key"], "registrar key")
        self.registrar_keys[d["key"]] = RegistrarKey(d["key"], base64.b64decode(d["public_key"]))

    def _registrar_key_revoked(self, event: Event, d: dict[str, Any], index: int | None) -> None:
        key: RegistrarKey = self._get(self.registrar_keys, d["key"], "registrar key")
        if key.revoked_at is not None:
            raise KeyRevokedError(f"registrar key {key.id} is revoked already")
        key.revoked_at = event.at

    def _body_created(self, event: Event, d: dict[str, Any], index: int | None) -> None:
        self._new(self.bodies, d["id"], "body")
        self.bodies[d["id"]] = Body(d["id"], d["names"], d["symbol_root"], d.get("symbol_format"))

    def _session_created(self, event: Event, d: dict[str, Any], index: int | None) -> None:
        self._new(self.sessions, d["id"], "session")
        body: Body = self._get(self.bodies, d["body"], "body")
        if not d["symbol_prefix"].startswith(body.symbol_root):
            raise SymbolError(f"session prefix must start with the body's {body.symbol_root!r}")
        if parse_date(d["end"]) < parse_date(d["start"]):
            raise InvalidEventError("a session cannot end before it starts")
        self.sessions[d["id"]] = Session(d["id"], body.id, d["number"], d["symbol_prefix"])

    def _party_registered(self, event: Event, d: dict[str, Any], index: int | None) -> None:
        self._new(self.parties, d["id"], "party")
        members = tuple(d.get("members") or ())
        if members and d["kind"] != "group":
            raise InvalidEventError("only a group party has members")
        for member in members:
            self._get(self.parties, member, "party")
        self.parties[d["id"]] = Party(d["id"], d["kind"], d["names"], d.get("contact"), members)

    def _party_contact_set(self, event: Event, d: dict[str, Any], index: int | None) -> None:
        party: Party = self._get(self.parties, d["party"], "party")
        party.contact = d.get("contact")

    def _representative_registered(
        self, event: Event, d: dict[str, Any], index: int | None
    ) -> None:
        self._new(self.representatives, d["id"], "representative")
        self.representatives[d["id"]] = Representative(d["id"], d["name"], d.get("contact"))

    def _mandate_granted(self, event: Event, d: dict[str, Any], index: int | None) -> None:
        self._new(self.mandates, d["id"], "mandate")
        self._get(self.representatives, d["representative"], "representative")
        self._get(self.parties, d["party"], "party")
        start = parse_time(d["valid_from"])
        until = parse_time(d["valid_until"]) if d.get("valid_until") else None
        if until is not None and until <= start:
            raise InvalidEventError("a mandate must end after it starts")
        self._mandates_by_pair.add(
            self.mandates, Mandate(d["id"], d["representative"], d["party"], start, until)
        )

    def mandates_for(self, representative: str, party: str) -> list[Mandate]:
        """The mandates ``representative`` holds or held for ``party``."""
        return self._mandates_by_pair.get(self.mandates, (representative, party))

    def _mandate_ended(self, event: Event, d: dict[str, Any], index: int | None) -> None:
        mandate: Mandate = self._get(self.mandates, d["id"], "mandate")
        if mandate.ended_at is not None:
            raise LifecycleError(f"mandate {mandate.id} has ended already")
        mandate.ended_at = event.at

    def _key_registered(self, event: Event, d: dict[str, Any], index: int | None) -> None:
        self._new(self.keys, d["id"], "key")
        self._get(self.representatives, d["representative"], "representative")
        start = parse_time(d["valid_from"])
        until = parse_time(d["valid_until"]) if d.get("valid_until") else None
        if until is not None and until <= start:
            raise InvalidEventError("a key must expire after it becomes valid")
        public_key = base64.b64decode(d["public_key"])
        same = self._keys_by_public.get(self.keys, public_key)
        if same:
            raise DuplicateEntityError(f"that public key is registered already as {same[0].id}")
        self._keys_by_public.add(
            self.keys, Key(d["id"], d["representative"], public_key, start, until)
        )

    def _key_revoked(self, event: Event, d: dict[str, Any], index: int | None) -> None:
        key: Key = self._get(self.keys, d["id"], "key")
        if key.revoked_at is not None:
            raise KeyRevokedError(f"key {key.id} is revoked already")
        key.revoked_at = event.at

    # -- letters ------------------------------------------------------------------------

    def _letter_created(self, event: Event, d: dict[str, Any], index: int | None) -> None:
        self._new(self.letters, d["id"], "letter")
        self._get(self.parties, d["lead_party"], "party")
        if d.get("session"):
            self._get(self.sessions, d["session"], "session")
        self.letters[d["id"]] = Letter(d["id"], d["lead_party"], d.get("session"))

    def _letter_text_version_added(
        self, event: Event, d: dict[str, Any], index: int | None
    ) -> None:
        from cosignatory.core.canonical import text_hash

        letter = self.letter(d["letter"])
        if d["version"] != letter.current_version + 1:
            raise TextVersionError(
                f"the next text version of {letter.id} is {letter.current_version + 1}"
            )
        if text_hash(d["texts"]) != d["text_hash"]:
            raise TextVersionError("text_hash is not the hash of the texts")
        if letter.status == PUBLISHED:
            raise LifecycleError("a published letter's text changes only through a document")
        letter.versions[d["version"]] = d["text_hash"]

    def _transition(self, letter: Letter, allowed: tuple[str, ...], action: str) -> None:
        if letter.status not in allowed:
            raise LifecycleError(f"cannot {action} letter {letter.id}: it is {letter.status}")

    def _letter_opened(self, event: Event, d: dict[str, Any], index: int | None) -> None:
        letter = self.letter(d["letter"])
        self._transition(letter, (DRAFT,), "open")
        if not letter.versions:
            raise LifecycleError(f"letter {letter.id} has no text to sign yet")
        letter.status = OPEN

    def _letter_closed(self, event: Event, d: dict[str, Any], index: int | None) -> None:
        letter = self.letter(d["letter"])
        if letter.status in AFTER_TRANSMISSION:
            if not letter.accessions_open:
                raise LifecycleError(f"letter {letter.id} is not open for accessions")
            letter.accessions_open = False
            return
        self._transition(letter, (OPEN,), "close")
        letter.status = CLOSED

    def _letter_reopened(self, event: Event, d: dict[str, Any], index: int | None) -> None:
        letter = self.letter(d["letter"])
        if letter.status in AFTER_TRANSMISSION:
            if letter.accessions_open:
                raise LifecycleError(f"letter {letter.id} is open for accessions already")
            letter.accessions_open = True
            return
        self._transition(letter, (CLOSED,), "reopen")
        letter.status = OPEN

    def _letter_transmitted(self, event: Event, d: dict[str, Any], index: int | None) -> None:
        letter = self.letter(d["letter"])
        self._transition(letter, (OPEN, CLOSED), "transmit")
        letter.status = TRANSMITTED
        letter.accessions_open = False

    def _letter_registered(self, event: Event, d: dict[str, Any], index: int | None) -> None:
        letter = self.letter(d["letter"])
        self._transition(letter, (TRANSMITTED,), "register")
        session: Session = self._get(self.sessions, d["session"], "session")
        body = self.bodies[session.body]
        expected_number = session.counters.get(d["series"], 0) + 1
        if d["number"] != expected_number:
            raise SymbolError(
                f"the next number in series {d['series']} of {session.id} is {expected_number}"
            )
        symbol = official_symbol(
            body.symbol_format, session.symbol_prefix, d["series"], d["number"]
        )
        if d["symbol"] != symbol:
            raise SymbolError(f"the symbol for that number is {symbol}, not {d['symbol']}")
        if symbol in self.symbols:
            raise SymbolError(f"symbol {symbol} was used already")
        session.counters[d["series"]] = d["number"]
        self.symbols.add(symbol)
        letter.status = REGISTERED
        letter.symbol = symbol
        letter.registered_session = session.id

    def _letter_registration_cancelled(
        self, event: Event, d: dict[str, Any], index: int | None
    ) -> None:
        letter = self.letter(d["letter"])
        self._transition(letter, (REGISTERED,), "cancel the registration of")
        if letter.symbol != d["symbol"]:
            raise SymbolError(f"letter {letter.id} is registered as {letter.symbol}")
        # The symbol stays in self.symbols and the counter stays: numbers are never reused.
        letter.status = TRANSMITTED
        letter.symbol = None
        # Add./Corr./Rev. numbers count per symbol: a new registration starts at 1
        # (as web.register.slices loads them, by the symbol they refer to).
        letter.documents = {}

    def _letter_published(self, event: Event, d: dict[str, Any], index: int | None) -> None:
        letter = self.letter(d["letter"])
        self._transition(letter, (REGISTERED,), "publish")
        letter.status = PUBLISHED

    def _document_issued(self, event: Event, d: dict[str, Any], index: int | None) -> None:
        letter = self.letter(d["letter"])
        if letter.status not in (REGISTERED, PUBLISHED) or letter.symbol is None:
            raise LifecycleError(f"letter {letter.id} is not an official document yet")
        if d["of"] != letter.symbol:
            raise SymbolError(f"letter {letter.id} is {letter.symbol}, not {d['of']}")
        expected = letter.documents.get(d["kind"], 0) + 1
        if d["number"] != expected:
            raise SymbolError(f"the next {d['kind']}. of {letter.symbol} is {expected}")
        symbol = document_symbol(letter.symbol, d["kind"], d["number"])
        if d["symbol"] != symbol or symbol in self.symbols:
            raise SymbolError(f"the document's symbol must be the unused {symbol}")
        if d["kind"] in ("Corr", "Rev"):
            if d.get("version") is None:
                raise TextVersionError(f"a {d['kind']}. names the text version it issues")
            if d["version"] not in letter.versions:
                raise TextVersionError(f"letter {letter.id} has no text version {d['version']}")
        letter.documents[d["kind"]] = d["number"]
        self.symbols.add(symbol)

    # -- signatures ---------------------------------------------------------------------

    def _signature_recorded(self, event: Event, d: dict[str, Any], index: int | None) -> None:
        letter = self.letter(d["letter"])
        party: Party = self._get(self.parties, d["party"], "party")
        # Signature ids are global: a dispute names a signature by its id alone.
        if any(
            d["id"] in known.signatures or d["id"] in known.withdrawals
            for known in self.letters.values()
        ):
            raise DuplicateEntityError(f"signature {d['id']} exists already")
        action = d["action"]
        if action == "withdraw":
            self._check_withdrawal(letter, party, d)
        else:
            self._check_signing(letter, party, action, d)
        self._check_evidence(event, letter, party, d)
        # All checks passed: change the state.
        if action == "withdraw":
            target = letter.signatures[d["withdraws"]]
            target.withdrawn_at = event.at
            target.withdrawn_by = d["id"]
            letter.withdrawals.add(d["id"])
            letter.last_act[party.id] = event.at
            del letter.active[party.id]
            return
        record = SignatureRecord(
            d["id"],
            action,
            party.id,
            d["version"],
            event.at,
            d["evidence"]["kind"],
            d.get("representative"),
            index,
            key=d["evidence"].get("key") if d["evidence"]["kind"] == "self-signed" else None,
        )
        previous = letter.active.get(party.id)
        if previous is not None:
            letter.signatures[previous].superseded_by = record.id
        letter.signatures[record.id] = record
        letter.active[party.id] = record.id
        letter.last_act[party.id] = event.at

    def _check_signing(self, letter: Letter, party: Party, action: str, d: dict[str, Any]) -> None:
        if action == "sign":
            if letter.status in AFTER_TRANSMISSION:
                raise LetterClosedError(
                    f"letter {letter.id} was transmitted: parties accede to it now"
                )
            if letter.status != OPEN:
                raise LetterClosedError(f"letter {letter.id} is not open for signature")
        else:
            if letter.status not in AFTER_TRANSMISSION:
                raise NotTransmittedError(
                    f"letter {letter.id} has not been transmitted: parties sign it, not accede"
                )
            if not letter.accessions_open:
                raise AccessionsClosedError(f"letter {letter.id} is not open for accessions")
        if d["version"] != letter.current_version:
            raise TextVersionError(
                f"the current text of {letter.id} is version {letter.current_version}, "
                f"not {d['version']}"
            )
        if letter.versions[d["version"]] != d["text_hash"]:
            raise TextVersionError("the signature is over another text than that version's")
        active = letter.active.get(party.id)
        if active is not None and letter.signatures[active].version == d["version"]:
            raise AlreadySignedError(f"{party.id} has signed this version already")
        if d.get("withdraws") is not None:
            raise InvalidEventError("only a withdrawal names the signature it withdraws")

    def _check_withdrawal(self, letter: Letter, party: Party, d: dict[str, Any]) -> None:
        target_id = d.get("withdraws")
        active = letter.active.get(party.id)
        if target_id is None or target_id not in letter.signatures:
            raise NotSignedError(f"{party.id} has no signature {target_id!r} on {letter.id}")
        target = letter.signatures[target_id]
        if target.party != party.id:
            raise WrongPartyError(f"signature {target_id} is not {party.id}'s")
        if active != target_id:
            raise NotSignedError(f"signature {target_id} is not {party.id}'s current signature")
        if d["version"] != target.version or letter.versions[target.version] != d["text_hash"]:
            raise TextVersionError("a withdrawal names the version it withdraws from")

    def _check_evidence(
        self, event: Event, letter: Letter, party: Party, d: dict[str, Any]
    ) -> None:
        evidence = d["evidence"]
        kind = evidence["kind"]
        if kind == "self-signed":
            self._check_self_signed(event, letter, party, d, evidence)
        elif kind == "email-verified":
            if party.kind != "person" or d["action"] == "withdraw":
                raise EvidenceError("email verification is for persons signing or acceding")
            if d.get("representative") is not None:
                raise EvidenceError("a person verified by email signs for themself")
        elif kind == "attested" and d.get("representative") is not None:
            self._get(self.representatives, d["representative"], "representative")

    def _check_self_signed(
        self,
        event: Event,
        letter: Letter,
        party: Party,
        d: dict[str, Any],
        evidence: dict[str, Any],
    ) -> None:
        statement = self._evidence_statement(evidence)
        # A statement is used once and soon: it must be newer than the party's last act
        # on this letter (so an old "sign" cannot be replayed after a withdrawal) and made
        # within STATEMENT_MAX_AGE before the registrar records it.
        last = letter.last_act.get(party.id)
        if last is not None and statement.at <= last:
            raise StatementError(
                "the statement is not newer than the party's last act on this letter"
            )
        if not event.at - STATEMENT_MAX_AGE <= statement.at <= event.at + CLOCK_SKEW:
            raise StatementError("the statement's time is too far from the time it is recorded")
        expected = (d["action"], d["letter"], d["version"], d["text_hash"], d["party"])
        found = (
            statement.action,
            statement.letter,
            statement.version,
            statement.text_hash,
            statement.party,
        )
        if found != expected:
            raise StatementError("the signed statement does not say what the event records")
        if statement.representative != d.get("representative") or statement.key != evidence["key"]:
            raise StatementError("the statement's representative or key is not the event's")
        key: Key = self._get(self.keys, evidence["key"], "key")
        if key.representative != statement.representative:
            raise WrongPartyError(f"key {key.id} belongs to another representative")
        moment = event.at
        if key.revoked_at is not None and moment >= key.revoked_at:
            raise KeyRevokedError(f"key {key.id} was revoked before this signature")
        if moment < key.valid_from or (key.valid_until is not None and moment >= key.valid_until):
            raise KeyExpiredError(f"key {key.id} is not valid at {moment:%Y-%m-%d %H:%M} UTC")
        mandates = self.mandates_for(statement.representative, party.id)
        if not mandates:
            raise WrongPartyError(
                f"{statement.representative} holds no mandate to act for {party.id}"
            )
        if not any(m.current(moment) for m in mandates):
            raise MandateError(
                f"{statement.representative}'s mandate for {party.id} is not current"
            )
        self._verify_statement(statement, base64.b64decode(evidence["signature"]), key.public_key)

    def _evidence_statement(self, evidence: dict[str, Any]) -> Statement:
        """The statement a self-signed signature's evidence carries."""
        return Statement.from_json(evidence["statement"])

    def _verify_statement(self, statement: Statement, signature: bytes, public_key: bytes) -> None:
        """Check the statement's Ed25519 signature; raises SignatureInvalidError.

        The last check, after every rule of the register: a subclass may look the
        result up where it was computed beforehand (:mod:`cosignatory.core.sigpool`).
        """
        statement.verify(signature, public_key)

    # -- disputes -----------------------------------------------------------------------

    def _dispute_filed(self, event: Event, d: dict[str, Any], index: int | None) -> None:
        self._new(self.disputes, d["id"], "dispute")
        letter_id = next(
            (lid for lid, letter in self.letters.items() if d["signature"] in letter.signatures),
            None,
        )
        if letter_id is None:
            raise UnknownEntityError(f"no signature {d['signature']!r}")
        record = self.letters[letter_id].signatures[d["signature"]]
        if record.party != d["party"]:
            raise WrongPartyError("a party can dispute only a signature that names it")
        self.disputes[d["id"]] = Dispute(d["id"], letter_id, record.id, d["party"])

    def _dispute_resolved(self, event: Event, d: dict[str, Any], index: int | None) -> None:
        dispute: Dispute = self._get(self.disputes, d["id"], "dispute")
        if dispute.outcome is not None:
            raise LifecycleError(f"dispute {dispute.id} was resolved already")
        dispute.outcome = d["outcome"]
        if d["outcome"] == "upheld":
            letter = self.letters[dispute.letter]
            record = letter.signatures[dispute.signature]
            record.voided = True
            if letter.active.get(record.party) == record.id:
                del letter.active[record.party]
