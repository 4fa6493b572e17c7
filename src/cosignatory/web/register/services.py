"""Every write to the register, each one named service.

A service builds one event, and in one database transaction: takes the log's write
lock, loads the state the event touches, lets the rules judge it
(:meth:`cosignatory.core.state.Register.apply`), seals it with the registrar's key,
appends it to the log, projects it into the tables and queues the notices it calls
for. A refusal raises the rule's error and changes nothing; nothing else writes these
tables.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction

from cosignatory.core.canonical import text_hash
from cosignatory.core.errors import EvidenceError, InvalidEventError, UnknownEntityError
from cosignatory.core.events import Event, format_time
from cosignatory.core.statements import SignedStatement
from cosignatory.tlog.note import Signer
from cosignatory.web.log.services import get_log, key_dir
from cosignatory.web.notices import services as notices
from cosignatory.web.register import models as m
from cosignatory.web.register.projector import project
from cosignatory.web.register.slices import load_slice

REGISTRAR_KEY_FILE = "registrar-ed25519.skey"


@dataclass(frozen=True)
class Recorded:
    """What a service committed: the event, its index in the log, and whether it is new
    (False when an idempotent request found the same fact already recorded)."""

    event: Event | None
    log_index: int
    new: bool = True
    entry: bytes | None = None
    """The event's log entry, when the service wrote it (else read it from the log)."""


# -- the registrar's key ---------------------------------------------------------------


def registrar_signer() -> Signer:
    """Return the registrar's Ed25519 signing key (made by ``ensure_registrar_key``)."""
    path = key_dir() / REGISTRAR_KEY_FILE
    if not path.exists():
        raise EvidenceError(f"the registrar's key {path} is missing; run `cosignatory log init`")
    return Signer.from_skey(path.read_text().strip())


def registrar_key_id(signer: Signer) -> str:
    return f"registrar-{signer.key_id:08x}"


def ensure_registrar_key() -> Path | None:
    """Create the registrar's key file if missing; return its path when created."""
    import os

    from cosignatory.tlog.note import generate_ed25519

    path = key_dir() / REGISTRAR_KEY_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return None
    with os.fdopen(fd, "w") as handle:
        handle.write(generate_ed25519("registrar").to_skey() + "\n")
    return path


def initialise_register() -> Recorded | None:
    """Record the registrar's key as the log's first register event, once."""
    ensure_registrar_key()
    signer = registrar_signer()
    if m.RegistrarKey.objects.exists():
        return None
    return _record(
        "registrar.key_added",
        {
            "key": registrar_key_id(signer),
            "public_key": base64.b64encode(signer.verifier().public_key).decode(),
            "name": "Registrar",
        },
    )


# -- the one way to write ----------------------------------------------------------------


_clock: list[Callable[[], datetime]] = [lambda: datetime.now(UTC)]


def _now() -> datetime:
    return _clock[-1]()


@contextmanager
def use_clock(clock: Callable[[], datetime]) -> Iterator[None]:
    """Date the events recorded inside the block by ``clock`` (the demo's history).

    Events still never go back in time: a clock behind the last event is moved up.
    """
    _clock.append(clock)
    try:
        yield
    finally:
        _clock.pop()


def _record(event_type: str, data: Mapping[str, Any], at: datetime | None = None) -> Recorded:
    signer = registrar_signer()
    log = get_log()
    with transaction.atomic():
        log.storage.lock()  # type: ignore[attr-defined]
        last = m.EventRecord.objects.order_by("-log_index").values_list("at", flat=True).first()
        moment = at or _now()
        if last is not None and moment < last:
            moment = last  # never before the event before it (clocks may step back)
        event = Event.make(event_type, moment, data)
        signed = event.signed_bytes()
        event = event.sealed(registrar_key_id(signer), signer.sign(signed))
        register = load_slice(event)
        index = log.size()
        register.apply(event, index)
        entry = event.to_bytes(signed)
        result = log.append(entry)
        project(event, result.first_index)
        _queue_notices(event, result.first_index)
    return Recorded(event, result.first_index, entry=entry)


@contextmanager
def _locked() -> Iterator[None]:
    """The log's write lock, for a service that reads the register before it builds its
    event (the next number of a series, a signature already recorded): no other writer
    changes what it read before its event is appended. ``_record`` takes the same lock
    again inside (it is re-entrant), so the read and the append are one transaction.
    """
    with transaction.atomic():
        get_log().storage.lock()  # type: ignore[attr-defined]
        yield


def new_id(prefix: str) -> str:
    """Return a fresh identifier like ``sig-3f2a…``: 80 random bits in hex."""
    return f"{prefix}-{secrets.token_hex(10)}"


# -- reference data ----------------------------------------------------------------------


def create_body(
    id: str, names: Mapping[str, str], symbol_root: str, symbol_format: str | None = None
) -> Recorded:
    data: dict[str, Any] = {"id": id, "names": dict(names), "symbol_root": symbol_root}
    if symbol_format:
        data["symbol_format"] = symbol_format
    return _record("body.created", data)


def create_session(
    id: str,
    body: str,
    number: int,
    names: Mapping[str, str],
    start: date,
    end: date,
    symbol_prefix: str,
) -> Recorded:
    return _record(
        "session.created",
        {
            "id": id,
            "body": body,
            "number": number,
            "names": dict(names),
            "start": start.isoformat(),
            "end": end.isoformat(),
            "symbol_prefix": symbol_prefix,
        },
    )


def register_party(
    id: str,
    kind: str,
    names: Mapping[str, str],
    code: str | None = None,
    contact: str | None = None,
    members: Sequence[str] | None = None,
) -> Recorded:
    data: dict[str, Any] = {"id": id, "kind": kind, "names": dict(names)}
    for key, value in (("code", code), ("contact", contact)):
        if value:
            data[key] = value
    if members:
        data["members"] = list(members)
    return _record("party.registered", data)


def register_state(code: str, contact: str | None = None) -> Recorded:
    """Register a UN member or observer state under its ISO alpha-3 code, with its names
    in the six languages from CLDR."""
    from cosignatory.core.states import state

    found = state(code)
    return register_party(found.code, "state", dict(found.names), code=found.code, contact=contact)


def set_party_contact(party: str, contact: str | None) -> Recorded:
    data: dict[str, Any] = {"party": party}
    if contact:
        data["contact"] = contact
    return _record("party.contact_set", data)


def register_representative(id: str, name: str, contact: str | None = None) -> Recorded:
    data: dict[str, Any] = {"id": id, "name": name}
    if contact:
        data["contact"] = contact
    return _record("representative.registered", data)


def grant_mandate(
    id: str,
    representative: str,
    party: str,
    valid_from: datetime,
    valid_until: datetime | None,
    credential: Mapping[str, str],
) -> Recorded:
    data: dict[str, Any] = {
        "id": id,
        "representative": representative,
        "party": party,
        "valid_from": format_time(valid_from),
        "credential": dict(credential),
    }
    if valid_until:
        data["valid_until"] = format_time(valid_until)
    return _record("mandate.granted", data)


def end_mandate(id: str, reason: str) -> Recorded:
    return _record("mandate.ended", {"id": id, "reason": reason})


def register_key(
    id: str,
    representative: str,
    public_key: bytes,
    valid_from: datetime,
    valid_until: datetime | None = None,
) -> Recorded:
    data: dict[str, Any] = {
        "id": id,
        "representative": representative,
        "public_key": base64.b64encode(public_key).decode(),
        "valid_from": format_time(valid_from),
    }
    if valid_until:
        data["valid_until"] = format_time(valid_until)
    return _record("key.registered", data)


def revoke_key(id: str, reason: str) -> Recorded:
    return _record("key.revoked", {"id": id, "reason": reason})


# -- letters -------------------------------------------------------------------------------


def create_letter(
    id: str,
    title: Mapping[str, str],
    addressees: Sequence[str],
    lead_party: str,
    letter_date: date,
    session: str | None = None,
) -> Recorded:
    data: dict[str, Any] = {
        "id": id,
        "title": dict(title),
        "addressees": list(addressees),
        "lead_party": lead_party,
        "date": letter_date.isoformat(),
    }
    if session:
        data["session"] = session
    return _record("letter.created", data)


def add_text_version(letter: str, texts: Mapping[str, str]) -> Recorded:
    """Freeze a new text version; its number is the next one and its hash binds signatures."""
    current = _letter(letter).current_version
    return _record(
        "letter.text_version_added",
        {
            "letter": letter,
            "version": current + 1,
            "texts": dict(texts),
            "text_hash": text_hash(texts),
        },
    )


def _letter(letter: str) -> m.Letter:
    try:
        return m.Letter.objects.get(pk=letter)
    except m.Letter.DoesNotExist:
        raise UnknownEntityError(f"no letter {letter!r}") from None


def open_letter(letter: str) -> Recorded:
    return _record("letter.opened", {"letter": letter})


def close_letter(letter: str) -> Recorded:
    return _record("letter.closed", {"letter": letter})


def reopen_letter(letter: str) -> Recorded:
    return _record("letter.reopened", {"letter": letter})


def transmit_letter(letter: str, on: date) -> Recorded:
    return _record("letter.transmitted", {"letter": letter, "date": on.isoformat()})


def register_document(letter: str, session: str, series: str) -> Recorded:
    """Register the letter as an official document: the next number in the series."""
    from cosignatory.core.symbols import official_symbol

    with _locked():
        found = m.Session.objects.select_related("body").filter(pk=session).first()
        if found is None:
            raise UnknownEntityError(f"no session {session!r}")
        counter = m.SeriesCounter.objects.filter(session=found, series=series).first()
        number = (counter.last_number if counter else 0) + 1
        symbol = official_symbol(found.body.symbol_format, found.symbol_prefix, series, number)
        return _record(
            "letter.registered",
            {
                "letter": letter,
                "session": session,
                "series": series,
                "number": number,
                "symbol": symbol,
            },
        )


def cancel_registration(letter: str, reason: str) -> Recorded:
    symbol = _letter(letter).symbol or ""
    return _record(
        "letter.registration_cancelled", {"letter": letter, "symbol": symbol, "reason": reason}
    )


def publish_letter(letter: str) -> Recorded:
    return _record("letter.published", {"letter": letter})


def issue_document(
    letter: str, kind: str, version: int | None = None, note: str | None = None
) -> Recorded:
    """Issue ``/Add.N``, ``/Corr.N`` or ``/Rev.N`` of a registered letter."""
    from cosignatory.core.symbols import document_symbol

    with _locked():
        found = _letter(letter)
        of = found.symbol or ""
        last = (
            m.Document.objects.filter(letter=found, kind=kind, of=of)
            .order_by("-number")
            .values_list("number", flat=True)
            .first()
        )
        number = (last or 0) + 1
        data: dict[str, Any] = {
            "letter": letter,
            "kind": kind,
            "of": of,
            "number": number,
            "symbol": document_symbol(of, kind, number) if of else "",
        }
        if version is not None:
            data["version"] = version
        if note:
            data["note"] = note
        return _record("document.issued", data)


# -- signatures -----------------------------------------------------------------------------


def _existing(letter: str, party: str, version: int) -> m.Signature | None:
    return m.Signature.objects.filter(
        letter_id=letter, party_id=party, version=version, active=True
    ).first()


def self_signed_data(signed: SignedStatement) -> dict[str, Any]:
    """The ``signature.recorded`` data for a self-signed statement, under a fresh id
    (without ``withdraws``, which depends on the register's state)."""
    statement = signed.statement
    return {
        "id": new_id("sig"),
        "action": statement.action,
        "letter": statement.letter,
        "version": statement.version,
        "text_hash": statement.text_hash,
        "party": statement.party,
        "representative": statement.representative,
        "evidence": {
            "kind": "self-signed",
            "key": statement.key,
            "statement": statement.to_json(),
            "signature": base64.b64encode(signed.signature).decode(),
        },
    }


def submit_statement(signed: SignedStatement) -> Recorded:
    """Record a self-signed signature, accession or withdrawal.

    Idempotent: a statement whose party already holds a signature on that version
    returns that signature's record; the same withdrawal twice returns the first.

    With group commit on (``COSIGNATORY_GROUP_COMMIT``, the default) and no transaction
    of the caller's open, the statement is recorded by this process's sequencer together
    with those of other requests waiting at the same time
    (:mod:`cosignatory.web.register.sequencer`); the outcome is the same.
    """
    if settings.COSIGNATORY_GROUP_COMMIT and not transaction.get_connection().in_atomic_block:
        from cosignatory.web.register import sequencer

        return sequencer.sequencer().submit(signed, sequencer.preverify(signed))
    with _locked():
        statement = signed.statement
        if statement.action == "withdraw":
            target = _existing(statement.letter, statement.party, statement.version)
            if target is None:
                done = m.Signature.objects.filter(
                    letter_id=statement.letter,
                    party_id=statement.party,
                    version=statement.version,
                    withdrawal__evidence__statement=statement.to_json(),
                ).first()
                if done is not None and done.withdrawal is not None:
                    return Recorded(None, int(done.withdrawal["log_index"]), new=False)
            withdraws = target.id if target else None
        else:
            existing = _existing(statement.letter, statement.party, statement.version)
            if existing is not None:
                return Recorded(None, existing.log_index, new=False)
            withdraws = None
        data = self_signed_data(signed)
        if withdraws:
            data["withdraws"] = withdraws
        elif statement.action == "withdraw":
            data["withdraws"] = "none"
        return _record("signature.recorded", data)


def record_attested(
    letter: str,
    party: str,
    action: str,
    instrument: Mapping[str, str],
    representative: str | None = None,
) -> Recorded:
    """Record a signature, accession or withdrawal received on paper (e.g. a note verbale).

    Idempotent for sign/accede on the current version.
    """
    found = _letter(letter)
    version = found.current_version
    data: dict[str, Any] = {
        "id": new_id("sig"),
        "action": action,
        "letter": letter,
        "party": party,
        "evidence": {"kind": "attested", "instrument": dict(instrument)},
    }
    if representative:
        data["representative"] = representative
    if action == "withdraw":
        target = m.Signature.objects.filter(letter=found, party_id=party, active=True).first()
        data["withdraws"] = target.id if target else "none"
        version = target.version if target else version
    else:
        existing = _existing(letter, party, version)
        if existing is not None:
            return Recorded(None, existing.log_index, new=False)
    text = m.TextVersion.objects.filter(letter=found, version=version).first()
    data["version"] = version if text else 1
    data["text_hash"] = text.text_hash if text else "0" * 64
    return _record("signature.recorded", data)


def email_commitment(letter: str, email: str) -> str:
    """SHA-256 of the letter and the lowercased address: the person can check their own
    entry; nobody can read the address from the log."""
    return hashlib.sha256(f"{letter}\n{email.strip().lower()}".encode()).hexdigest()


def request_email_signature(letter: str, name: str, email: str, *, send: bool = True) -> str:
    """Start a person's double opt-in: store it pending and mail a confirmation link.

    Returns the token (for tests and the demo, which passes ``send=False``; a person
    gets it by mail only). Nothing is in the log until the link is opened.
    """
    from cosignatory.core.events import check_name

    check_name(name, "name")
    found = _letter(letter)
    if found.status not in ("open", "transmitted", "registered", "published"):
        from cosignatory.core.errors import LetterClosedError

        raise LetterClosedError(f"letter {letter} is not open for signature")
    if "@" not in email or len(email) > 320:
        raise InvalidEventError(f"{email!r} is not an email address")
    token = secrets.token_urlsafe(24)
    token_hash = hashlib.sha256(token.encode()).hexdigest()
    with transaction.atomic():
        m.PendingEmailSignature.objects.create(
            token_hash=token_hash, letter=found, name=name, email=email, created_at=_now()
        )
        link = f"{settings.COSIGNATORY_SITE_URL}/confirm/{token}"
        if not send:
            return token
        notices.enqueue(
            to=email,
            subject=f"Confirm your signature: {found.title.get('en') or letter}",
            body=(
                f"Someone, hopefully you, asked to sign the letter {letter} as {name}.\n\n"
                f"To confirm, open this link:\n{link}\n\n"
                "If it was not you, ignore this message: nothing is recorded without it.\n"
            ),
            reference=f"confirm:{token_hash[:32]}",
            kind="email-confirmation",
        )
    return token


def confirm_email_signature(token: str) -> Recorded:
    """Confirm a pending email signature. Idempotent: opening the link again (as mail
    scanners do) returns the signature recorded the first time."""
    token_hash = hashlib.sha256(token.encode()).hexdigest()
    with transaction.atomic():
        get_log().storage.lock()  # type: ignore[attr-defined]
        pending = m.PendingEmailSignature.objects.select_for_update().filter(pk=token_hash).first()
        if pending is None:
            raise UnknownEntityError("this confirmation link is not valid")
        if pending.confirmed_signature:
            done = m.Signature.objects.get(pk=pending.confirmed_signature)
            return Recorded(None, done.log_index, new=False)
        letter = pending.letter
        party_id = "person-" + email_commitment("person", pending.email)[:24]
        if not m.Party.objects.filter(pk=party_id).exists():
            register_party(party_id, "person", {"en": pending.name})
        action = "sign" if letter.status == "open" else "accede"
        version = letter.current_version
        text = m.TextVersion.objects.get(letter=letter, version=version)
        signature_id = new_id("sig")
        recorded = _record(
            "signature.recorded",
            {
                "id": signature_id,
                "action": action,
                "letter": letter.id,
                "version": version,
                "text_hash": text.text_hash,
                "party": party_id,
                "evidence": {
                    "kind": "email-verified",
                    "email_sha256": email_commitment(letter.id, pending.email),
                    "confirmed_at": format_time(_now()),
                },
            },
        )
        pending.confirmed_signature = signature_id
        pending.save(update_fields=["confirmed_signature"])
    return recorded


# -- disputes -------------------------------------------------------------------------------


def file_dispute(
    signature: str, party: str, statement: str, instrument: Mapping[str, str]
) -> Recorded:
    """Record a party's "we did not sign this" against a signature naming it."""
    return _record(
        "dispute.filed",
        {
            "id": new_id("dsp"),
            "signature": signature,
            "party": party,
            "statement": statement,
            "evidence": dict(instrument),
        },
    )


def resolve_dispute(dispute: str, outcome: str, note: str) -> Recorded:
    return _record("dispute.resolved", {"id": dispute, "outcome": outcome, "note": note})


# -- notices ---------------------------------------------------------------------------------

_NOTICE_TEXT = {
    "sign": "signed",
    "accede": "acceded to",
    "withdraw": "withdrew its signature from",
}


def _queue_notices(event: Event, index: int) -> None:
    """Tell a party, at the contact address the registrar recorded, of every event naming it."""
    d = event.data
    if event.type == "signature.recorded":
        party_id, letter_id = d["party"], d["letter"]
        what = (
            f"the register recorded that {{party}} {_NOTICE_TEXT[d['action']]} letter {letter_id}"
        )
        signature_id = d["withdraws"] if d["action"] == "withdraw" else d["id"]
    elif event.type in ("dispute.filed", "dispute.resolved"):
        dispute = m.Dispute.objects.get(pk=d["id"])
        party_id, letter_id, signature_id = (
            dispute.party_id,
            dispute.letter_id,
            dispute.signature_id,
        )
        verb = "filed" if event.type == "dispute.filed" else f"resolved ({d['outcome']})"
        what = f"a dispute by {{party}} about letter {letter_id} was {verb}"
    else:
        return
    party = m.Party.objects.filter(pk=party_id).first()
    if party is None or not party.contact:
        return
    name = party.names.get("en") or next(iter(party.names.values()))
    site = settings.COSIGNATORY_SITE_URL
    notices.enqueue(
        to=party.contact,
        subject=f"Cosignatory: {name}, letter {letter_id}",
        body=(
            f"On {format_time(event.at)}, {what.format(party=name)}.\n\n"
            f"It is entry {index} of the register's public log ({site}/).\n\n"
            "If your party did not do this, dispute it:\n"
            f"{site}/disputes/new?signature={signature_id}\n\n"
            "You receive this because the registrar recorded this address for your party.\n"
        ),
        reference=f"log:{index}",
        kind=event.type,
    )
