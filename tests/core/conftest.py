"""Builders for the register's rule tests.

:class:`World` holds a :class:`~cosignatory.core.state.Register`, the private keys that
seal and sign for it, and a clock that moves one minute per event. The ``world``
fixture is the set-up the issue describes: a registrar key, the Human Rights Council
(symbol root ``A/HRC``) and its 41st session (prefix ``A/HRC/41/``), the states FRA,
DEU and ESP, each with a representative holding a mandate and an Ed25519 key, and the
letter ``L1`` (lead FRA) with one text version, still a draft.
"""

from __future__ import annotations

import base64
import copy
import dataclasses
import itertools
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from cosignatory.core.canonical import text_hash
from cosignatory.core.events import Event, format_time
from cosignatory.core.state import Letter, Register
from cosignatory.core.statements import Statement
from cosignatory.errors import CosignatoryError

T0 = datetime(2019, 6, 24, 9, 0, tzinfo=UTC)
"""The first event's time (the opening day of HRC 41); each later event is a minute on."""

PARTIES = ("FRA", "DEU", "ESP")
TEXTS = {
    "en": "We, the undersigned, express our concern ...",
    "fr": "Nous, soussignés, exprimons notre préoccupation ...",
}
TEXTS_V2 = {
    "en": "We, the undersigned, express our deep concern ...",
    "fr": "Nous, soussignés, exprimons notre profonde préoccupation ...",
}
INSTRUMENT = {"kind": "note-verbale", "reference": "NV/2019/0712", "date": "2019-07-08"}
MANDATE_FROM = T0 - timedelta(days=30)
MANDATE_UNTIL = T0 + timedelta(days=365)


def private_key(seed: int) -> Ed25519PrivateKey:
    """A fixed test key, so runs are reproducible."""
    return Ed25519PrivateKey.from_private_bytes(bytes([seed]) * 32)


def public_b64(key: Ed25519PrivateKey) -> str:
    return base64.b64encode(key.public_key().public_bytes_raw()).decode()


def rep_of(party: str) -> str:
    return f"rep-{party.lower()}"


def key_of(party: str) -> str:
    return f"key-{party.lower()}"


_DEFAULT: Any = object()


class World:
    """A register being built event by event, with its keys and its clock."""

    def __init__(self, register: Register | None = None) -> None:
        self.register = register if register is not None else Register()
        self.registrar = private_key(1)
        self.registrar_id = "registrar-1"
        self.keys: dict[str, Ed25519PrivateKey] = {}
        self.now = T0
        self.applied: list[Event] = []
        self._ids = itertools.count(1)

    # -- time, sealing, applying ----------------------------------------------------

    def tick(self, minutes: int = 1) -> datetime:
        """Move the clock on and return the new time."""
        self.now += timedelta(minutes=minutes)
        return self.now

    def seal(
        self, event: Event, key: Ed25519PrivateKey | None = None, key_id: str | None = None
    ) -> Event:
        signer = key or self.registrar
        return event.sealed(key_id or self.registrar_id, signer.sign(event.signed_bytes()))

    def event(self, type: str, data: Mapping[str, Any], at: datetime | None = None) -> Event:
        """A sealed event at ``at`` (default: the next minute)."""
        return self.seal(Event.make(type, at or self.tick(), data))

    def apply_event(self, event: Event) -> Event:
        self.register.apply(event, log_index=len(self.applied))
        self.applied.append(event)
        self.now = max(self.now, event.at)
        return event

    def apply(self, type: str, data: Mapping[str, Any], at: datetime | None = None) -> Event:
        return self.apply_event(self.event(type, data, at))

    def refuse(self, error: type[Exception], event: Event) -> Exception:
        """Assert that ``event`` is refused with ``error`` and the state is unchanged."""
        before = copy.deepcopy(self.register)
        with pytest.raises(error) as caught:
            self.register.apply(event)
        assert self.register == before
        if isinstance(caught.value, CosignatoryError) and issubclass(error, CosignatoryError):
            assert caught.value.code == error.code
        return caught.value

    # -- set-up steps -----------------------------------------------------------------

    def add_party(self, party: str, kind: str = "state", **extra: Any) -> None:
        names = {"en": f"{party} (English name)", "fr": f"{party} (nom français)"}
        data: dict[str, Any] = {"id": party, "kind": kind, "names": names, **extra}
        if kind == "state":
            data.setdefault("code", party)
        self.apply("party.registered", data)

    def add_representative(self, party: str, seed: int) -> None:
        rep, key = rep_of(party), key_of(party)
        self.apply("representative.registered", {"id": rep, "name": f"Ambassador of {party}"})
        self.apply(
            "mandate.granted",
            {
                "id": f"mandate-{party.lower()}",
                "representative": rep,
                "party": party,
                "valid_from": format_time(MANDATE_FROM),
                "valid_until": format_time(MANDATE_UNTIL),
                "credential": INSTRUMENT,
            },
        )
        self.keys[key] = private_key(seed)
        self.apply(
            "key.registered",
            {
                "id": key,
                "representative": rep,
                "public_key": public_b64(self.keys[key]),
                "valid_from": format_time(MANDATE_FROM),
                "valid_until": format_time(MANDATE_UNTIL),
            },
        )

    def create_letter(self, letter: str = "L1", lead: str = "FRA") -> None:
        self.apply(
            "letter.created",
            {
                "id": letter,
                "title": {"en": "Joint letter to the President of the Council"},
                "addressees": ["President of the Human Rights Council"],
                "lead_party": lead,
                "date": "2019-07-08",
                "session": "hrc41",
            },
        )

    def add_version(self, texts: Mapping[str, str] = TEXTS, letter: str = "L1") -> Event:
        number = self.register.letters[letter].current_version + 1
        data = {"letter": letter, "version": number, "texts": dict(texts)}
        return self.apply("letter.text_version_added", {**data, "text_hash": text_hash(texts)})

    def step(self, type: str, letter: str = "L1", **extra: Any) -> Event:
        """A lifecycle step (``letter.opened``, ``letter.closed``, ...) for ``letter``."""
        return self.apply(type, {"letter": letter, **extra})

    def transmit(self, letter: str = "L1") -> Event:
        return self.step("letter.transmitted", letter, date="2019-07-12")

    def letter(self, letter: str = "L1") -> Letter:
        return self.register.letters[letter]

    # -- signatures -------------------------------------------------------------------

    def statement(
        self,
        party: str,
        action: str,
        letter: str,
        version: int,
        digest: str,
        at: datetime,
        representative: str | None = None,
        key: str | None = None,
    ) -> Statement:
        return Statement(
            action,
            letter,
            version,
            digest,
            party,
            representative or rep_of(party),
            key or key_of(party),
            at,
        )

    def signature(
        self,
        party: str,
        action: str = "sign",
        *,
        letter: str = "L1",
        evidence: str = "self-signed",
        version: int | None = None,
        digest: str | None = None,
        representative: Any = _DEFAULT,
        key: str | None = None,
        withdraws: str | None = None,
        id: str | None = None,
        at: datetime | None = None,
        statement: Mapping[str, Any] | None = None,
        signer: Ed25519PrivateKey | None = None,
    ) -> Event:
        """A sealed ``signature.recorded`` event, not applied.

        By default it is self-signed by the party's representative with their key over
        the letter's current text (for a withdrawal, the withdrawn signature's text);
        ``statement`` replaces fields of the signed statement, ``signer`` the key that
        signs it.
        """
        at = at or self.tick()
        found = self.register.letters.get(letter)
        if version is None:
            if withdraws is not None and found and withdraws in found.signatures:
                version = found.signatures[withdraws].version
            else:
                version = found.current_version if found else 1
        if digest is None:
            digest = found.versions.get(version, "0" * 64) if found else "0" * 64
        if representative is _DEFAULT:
            representative = rep_of(party) if evidence == "self-signed" else None
        key = key or key_of(party)
        data: dict[str, Any] = {
            "id": id or f"sig-{next(self._ids)}",
            "action": action,
            "letter": letter,
            "version": version,
            "text_hash": digest,
            "party": party,
        }
        if representative is not None:
            data["representative"] = representative
        if withdraws is not None:
            data["withdraws"] = withdraws
        if evidence == "self-signed":
            said = self.statement(party, action, letter, version, digest, at, representative, key)
            said = dataclasses.replace(said, **(statement or {}))
            sig = said.sign(signer or self.keys[key])
            data["evidence"] = {
                "kind": "self-signed",
                "key": key,
                "statement": said.to_json(),
                "signature": base64.b64encode(sig).decode(),
            }
        elif evidence == "attested":
            data["evidence"] = {"kind": "attested", "instrument": INSTRUMENT}
        else:
            data["evidence"] = {
                "kind": "email-verified",
                "email_sha256": "ab" * 32,
                "confirmed_at": format_time(at),
            }
        return self.event("signature.recorded", data, at)

    def sign(self, party: str, action: str = "sign", **kwargs: Any) -> str:
        """Apply a signature event and return its id."""
        event = self.apply_event(self.signature(party, action, **kwargs))
        return str(event.data["id"])

    def withdraw(self, party: str, signature: str, **kwargs: Any) -> str:
        return self.sign(party, "withdraw", withdraws=signature, **kwargs)


def build_world(register: Register | None = None) -> World:
    """The set-up of the module docstring (the letter is a draft with version 1), in
    ``register`` if given (an empty one of a subclass), else a new :class:`Register`."""
    world = World(register)
    world.apply(
        "registrar.key_added",
        {
            "key": world.registrar_id,
            "public_key": public_b64(world.registrar),
            "name": "Secretariat of the Human Rights Council",
        },
    )
    world.apply(
        "body.created",
        {
            "id": "hrc",
            "names": {"en": "Human Rights Council", "fr": "Conseil des droits de l'homme"},
            "symbol_root": "A/HRC",
        },
    )
    world.apply(
        "session.created",
        {
            "id": "hrc41",
            "body": "hrc",
            "number": 41,
            "names": {"en": "41st session"},
            "start": "2019-06-24",
            "end": "2019-07-12",
            "symbol_prefix": "A/HRC/41/",
        },
    )
    for seed, party in enumerate(PARTIES, start=10):
        world.add_party(party)
        world.add_representative(party, seed)
    world.create_letter()
    world.add_version()
    return world


@pytest.fixture
def world() -> World:
    """The standard set-up, letter ``L1`` a draft with one text version."""
    return build_world()


@pytest.fixture
def opened(world: World) -> World:
    """The standard set-up with ``L1`` open for signature."""
    world.step("letter.opened")
    return world


@pytest.fixture
def transmitted(opened: World) -> World:
    """``L1`` signed by FRA (signature ``sig-fra``), transmitted, accessions open."""
    opened.sign("FRA", id="sig-fra")
    opened.transmit()
    opened.step("letter.reopened")
    return opened
