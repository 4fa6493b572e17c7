"""The register's set-up rules: registrar keys and seals, the clock, bodies, sessions,
parties, representatives, mandates and keys."""

from __future__ import annotations

import copy
from datetime import timedelta
from typing import Any

import pytest

from cosignatory.core.errors import (
    ClockError,
    DuplicateEntityError,
    EvidenceError,
    InvalidEventError,
    KeyRevokedError,
    LifecycleError,
    SymbolError,
    UnknownEntityError,
)
from cosignatory.core.events import Event, format_time
from cosignatory.core.state import Body, Key, Mandate, Party, Register, Session
from cosignatory.tlog.errors import SignatureInvalidError
from tests.core.conftest import (
    INSTRUMENT,
    MANDATE_FROM,
    MANDATE_UNTIL,
    T0,
    World,
    build_world,
    private_key,
    public_b64,
)

SESSION = {
    "id": "hrc42",
    "body": "hrc",
    "number": 42,
    "names": {"en": "42nd session"},
    "start": "2019-09-09",
    "end": "2019-09-27",
    "symbol_prefix": "A/HRC/42/",
}


def key_added(world: World, key_id: str, seed: int) -> dict[str, Any]:
    return {"key": key_id, "public_key": public_b64(private_key(seed)), "name": "Registrar"}


# -- registrar keys and seals ---------------------------------------------------------


def test_the_set_up_applies(world: World) -> None:
    register = world.register
    assert register.bodies["hrc"] == Body(
        "hrc", {"en": "Human Rights Council", "fr": "Conseil des droits de l'homme"}, "A/HRC"
    )
    assert register.sessions["hrc41"] == Session("hrc41", "hrc", 41, "A/HRC/41/")
    assert set(register.parties) == {"FRA", "DEU", "ESP"}
    assert register.mandates["mandate-fra"] == Mandate(
        "mandate-fra", "rep-fra", "FRA", MANDATE_FROM, MANDATE_UNTIL
    )
    assert register.keys["key-fra"].valid_until == MANDATE_UNTIL
    assert register.last_at == world.now


def test_the_first_event_must_introduce_a_registrar_key() -> None:
    world = World()
    world.refuse(
        EvidenceError,
        world.event("body.created", {"id": "b", "names": {"en": "B"}, "symbol_root": "B"}),
    )


def test_the_first_key_must_seal_its_own_introduction() -> None:
    world = World()
    data = key_added(world, world.registrar_id, 1)
    other = world.seal(Event.make("registrar.key_added", world.tick(), data), private_key(2))
    world.refuse(SignatureInvalidError, other)
    named_other = world.seal(
        Event.make("registrar.key_added", world.tick(), data), key_id="someone-else"
    )
    world.refuse(EvidenceError, named_other)


def test_a_bad_registrar_seal_is_refused(world: World) -> None:
    event = world.event(
        "party.registered", {"id": "ITA", "kind": "state", "names": {"en": "Italy"}}
    )
    bad = event.sealed(
        event.registrar_key, bytes([event.registrar_sig[0] ^ 1]) + event.registrar_sig[1:]
    )
    world.refuse(SignatureInvalidError, bad)
    forged = world.seal(Event.make(event.type, event.at, event.data), private_key(99))
    world.refuse(SignatureInvalidError, forged)
    world.apply_event(event)


def test_an_unknown_registrar_key_is_refused(world: World) -> None:
    event = Event.make(
        "party.registered", world.tick(), {"id": "ITA", "kind": "state", "names": {"en": "Italy"}}
    )
    world.refuse(EvidenceError, world.seal(event, private_key(7), "registrar-7"))


def test_a_revoked_registrar_key_seals_nothing_more(world: World) -> None:
    world.apply("registrar.key_added", key_added(world, "registrar-2", 2))
    world.apply("registrar.key_revoked", {"key": world.registrar_id, "reason": "rotated"})
    party = {"id": "ITA", "kind": "state", "names": {"en": "Italy"}}
    world.refuse(KeyRevokedError, world.event("party.registered", party))
    world.refuse(
        KeyRevokedError,
        world.event("registrar.key_revoked", {"key": world.registrar_id, "reason": "again"}),
    )
    successor = Event.make("party.registered", world.tick(), party)
    world.apply_event(world.seal(successor, private_key(2), "registrar-2"))
    assert "ITA" in world.register.parties


def test_registrar_keys_are_unique_and_known(world: World) -> None:
    world.refuse(
        DuplicateEntityError,
        world.event("registrar.key_added", key_added(world, world.registrar_id, 3)),
    )
    world.refuse(
        UnknownEntityError, world.event("registrar.key_revoked", {"key": "nobody", "reason": "x"})
    )


def test_seals_are_not_checked_when_told_not_to() -> None:
    register = Register(check_seals=False)
    event = Event.make("body.created", T0, {"id": "b", "names": {"en": "B"}, "symbol_root": "B"})
    register.apply(event)
    assert "b" in register.bodies


# -- the clock ------------------------------------------------------------------------


def test_events_out_of_time_order_are_refused(world: World) -> None:
    earlier = world.now - timedelta(microseconds=1)
    party = {"id": "ITA", "kind": "state", "names": {"en": "Italy"}}
    world.refuse(ClockError, world.event("party.registered", party, at=earlier))
    world.apply("party.registered", party, at=world.now)  # the same instant is fine
    assert world.register.last_at == world.now


def test_a_refused_event_does_not_move_the_clock(world: World) -> None:
    before = world.register.last_at
    world.refuse(UnknownEntityError, world.event("letter.opened", {"letter": "nope"}))
    assert world.register.last_at == before


# -- bodies and sessions --------------------------------------------------------------


def test_bodies_are_unique(world: World) -> None:
    world.refuse(
        DuplicateEntityError,
        world.event("body.created", {"id": "hrc", "names": {"en": "Other"}, "symbol_root": "A/X"}),
    )


def test_a_body_keeps_its_symbol_format(world: World) -> None:
    world.apply(
        "body.created",
        {
            "id": "ga",
            "names": {"en": "General Assembly"},
            "symbol_root": "A",
            "symbol_format": "{prefix}{number}",
        },
    )
    assert world.register.bodies["ga"].symbol_format == "{prefix}{number}"


def test_a_session_is_created_under_its_body(world: World) -> None:
    world.apply("session.created", SESSION)
    assert world.register.sessions["hrc42"] == Session("hrc42", "hrc", 42, "A/HRC/42/")


@pytest.mark.parametrize("prefix", ["A/GA/74/", "HRC/41/", "a/hrc/41/", "/A/HRC/41/"])
def test_a_session_prefix_must_start_with_the_body_root(world: World, prefix: str) -> None:
    world.refuse(SymbolError, world.event("session.created", {**SESSION, "symbol_prefix": prefix}))


def test_session_refusals(world: World) -> None:
    world.refuse(DuplicateEntityError, world.event("session.created", {**SESSION, "id": "hrc41"}))
    world.refuse(UnknownEntityError, world.event("session.created", {**SESSION, "body": "ga"}))
    world.refuse(
        InvalidEventError, world.event("session.created", {**SESSION, "end": "2019-09-08"})
    )


# -- parties --------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["state", "organisation", "person", "group"])
def test_every_kind_of_party_registers(world: World, kind: str) -> None:
    world.add_party("X1", kind)
    assert world.register.parties["X1"].kind == kind


def test_a_group_has_members_that_exist(world: World) -> None:
    world.add_party("EU-3", "group", members=["FRA", "DEU"])
    assert world.register.parties["EU-3"] == Party(
        "EU-3",
        "group",
        {"en": "EU-3 (English name)", "fr": "EU-3 (nom français)"},
        None,
        ("FRA", "DEU"),
    )
    data = {"id": "G2", "kind": "group", "names": {"en": "G2"}, "members": ["FRA", "ITA"]}
    world.refuse(UnknownEntityError, world.event("party.registered", data))
    world.refuse(UnknownEntityError, world.event("party.registered", {**data, "members": ["G2"]}))


def test_only_a_group_has_members(world: World) -> None:
    data = {"id": "O1", "kind": "organisation", "names": {"en": "O"}, "members": ["FRA"]}
    world.refuse(InvalidEventError, world.event("party.registered", data))


def test_parties_are_unique(world: World) -> None:
    world.refuse(
        DuplicateEntityError,
        world.event("party.registered", {"id": "FRA", "kind": "state", "names": {"en": "France"}}),
    )


def test_a_party_contact_is_set_and_cleared(world: World) -> None:
    world.apply("party.contact_set", {"party": "FRA", "contact": "mission@france.example"})
    assert world.register.parties["FRA"].contact == "mission@france.example"
    world.apply("party.contact_set", {"party": "FRA", "contact": None})
    assert world.register.parties["FRA"].contact is None
    world.refuse(UnknownEntityError, world.event("party.contact_set", {"party": "ITA"}))


# -- representatives, mandates, keys --------------------------------------------------


def mandate(**change: Any) -> dict[str, Any]:
    return {
        "id": "mandate-2",
        "representative": "rep-fra",
        "party": "DEU",
        "valid_from": format_time(T0),
        "credential": INSTRUMENT,
        **change,
    }


def key(seed: int = 50, **change: Any) -> dict[str, Any]:
    return {
        "id": "key-2",
        "representative": "rep-fra",
        "public_key": public_b64(private_key(seed)),
        "valid_from": format_time(T0),
        **change,
    }


def test_representatives_are_unique(world: World) -> None:
    world.refuse(
        DuplicateEntityError,
        world.event("representative.registered", {"id": "rep-fra", "name": "Someone"}),
    )


def test_a_mandate_is_granted_for_a_period(world: World) -> None:
    world.apply("mandate.granted", mandate(valid_until=format_time(T0 + timedelta(days=1))))
    assert world.register.mandates["mandate-2"] == Mandate(
        "mandate-2", "rep-fra", "DEU", T0, T0 + timedelta(days=1)
    )
    granted = world.register.mandates["mandate-2"]
    assert not granted.current(T0 - timedelta(microseconds=1))
    assert granted.current(T0)
    assert not granted.current(T0 + timedelta(days=1))


def test_mandates_are_found_by_representative_and_party_however_they_were_added(
    world: World,
) -> None:
    """The index behind mandates_for stays in step with the mandates dict: through the
    rules, through a direct assignment (as a partial view is filled) and a new dict."""
    register = world.register

    def scan(representative: str, party: str) -> list[Mandate]:
        return [
            m
            for m in register.mandates.values()
            if m.representative == representative and m.party == party
        ]

    assert register.mandates_for("rep-fra", "FRA") == scan("rep-fra", "FRA") != []
    world.apply("mandate.granted", mandate())
    assert register.mandates_for("rep-fra", "DEU") == scan("rep-fra", "DEU") != []
    register.mandates["mandate-x"] = Mandate("mandate-x", "rep-fra", "ITA", T0, None)
    assert register.mandates_for("rep-fra", "ITA") == [register.mandates["mandate-x"]]
    world.apply("mandate.granted", mandate(id="mandate-3"))
    assert register.mandates_for("rep-fra", "DEU") == scan("rep-fra", "DEU")
    assert len(register.mandates_for("rep-fra", "DEU")) == 2
    register.mandates = {"mandate-y": Mandate("mandate-y", "rep-y", "FRA", T0, None)}
    assert register.mandates_for("rep-fra", "DEU") == []
    assert register.mandates_for("rep-y", "FRA") == scan("rep-y", "FRA") != []


def test_mandate_refusals(world: World) -> None:
    world.refuse(DuplicateEntityError, world.event("mandate.granted", mandate(id="mandate-fra")))
    world.refuse(UnknownEntityError, world.event("mandate.granted", mandate(representative="x")))
    world.refuse(UnknownEntityError, world.event("mandate.granted", mandate(party="ITA")))
    world.refuse(
        InvalidEventError, world.event("mandate.granted", mandate(valid_until=format_time(T0)))
    )


def test_a_mandate_ends_once(world: World) -> None:
    ended = world.apply("mandate.ended", {"id": "mandate-fra", "reason": "posted elsewhere"})
    assert world.register.mandates["mandate-fra"].ended_at == ended.at
    assert not world.register.mandates["mandate-fra"].current(ended.at)
    world.refuse(LifecycleError, world.event("mandate.ended", {"id": "mandate-fra", "reason": ""}))
    world.refuse(UnknownEntityError, world.event("mandate.ended", {"id": "m-x", "reason": ""}))


def test_a_key_is_registered_for_a_period(world: World) -> None:
    world.apply("key.registered", key(valid_until=format_time(T0 + timedelta(days=2))))
    assert world.register.keys["key-2"] == Key(
        "key-2",
        "rep-fra",
        private_key(50).public_key().public_bytes_raw(),
        T0,
        T0 + timedelta(days=2),
    )


def test_key_refusals(world: World) -> None:
    world.refuse(DuplicateEntityError, world.event("key.registered", key(id="key-fra")))
    world.refuse(DuplicateEntityError, world.event("key.registered", key(seed=10)))  # FRA's key
    world.refuse(UnknownEntityError, world.event("key.registered", key(representative="x")))
    world.refuse(InvalidEventError, world.event("key.registered", key(valid_until=format_time(T0))))


def test_a_public_key_is_found_registered_however_the_keys_were_added(world: World) -> None:
    """The index behind the duplicate-key check stays in step with the keys dict: through
    the rules, a direct assignment (as a partial view is filled) and a new dict."""
    register = world.register
    world.apply("key.registered", key(id="key-2", seed=50))
    world.refuse(DuplicateEntityError, world.event("key.registered", key(id="key-3", seed=50)))
    direct = private_key(51).public_key().public_bytes_raw()
    register.keys["key-x"] = Key("key-x", "rep-fra", direct, T0, None)
    world.refuse(DuplicateEntityError, world.event("key.registered", key(id="key-3", seed=51)))
    register.keys = {"key-y": Key("key-y", "rep-fra", direct, T0, None)}
    world.apply("key.registered", key(id="key-3", seed=50))  # key-2 is gone with the old dict
    world.refuse(DuplicateEntityError, world.event("key.registered", key(id="key-4", seed=51)))
    world.refuse(DuplicateEntityError, world.event("key.registered", key(id="key-4", seed=50)))


def test_a_key_is_revoked_once(world: World) -> None:
    revoked = world.apply("key.revoked", {"id": "key-fra", "reason": "lost"})
    assert world.register.keys["key-fra"].revoked_at == revoked.at
    world.refuse(KeyRevokedError, world.event("key.revoked", {"id": "key-fra", "reason": "again"}))
    world.refuse(UnknownEntityError, world.event("key.revoked", {"id": "key-x", "reason": ""}))


def test_letters_need_a_known_lead_party_and_session(world: World) -> None:
    letter = {
        "id": "L2",
        "title": {"en": "T"},
        "addressees": [],
        "lead_party": "DEU",
        "date": "2019-07-08",
    }
    world.refuse(UnknownEntityError, world.event("letter.created", {**letter, "lead_party": "X"}))
    world.refuse(UnknownEntityError, world.event("letter.created", {**letter, "session": "s9"}))
    world.refuse(DuplicateEntityError, world.event("letter.created", {**letter, "id": "L1"}))
    world.apply("letter.created", letter)
    assert world.letter("L2").session is None and world.letter("L2").status == "draft"


def test_replaying_the_log_gives_the_same_register() -> None:
    world = build_world()
    again = Register()
    for event in world.applied:
        again.apply(Event.from_bytes(event.to_bytes()))
    assert again == world.register
    assert copy.deepcopy(again) == again


def test_a_signature_costs_the_replay_under_850_bytes_of_state() -> None:
    """What the register keeps of a person who signed, replayed from log entries (the
    offline verifier's case, at a million signatures): slotted records, and one string
    object for each kind, action, evidence and language, however many events name it.
    Measured with tracemalloc: about 750 bytes on Python 3.11 (1,050 before)."""
    import tracemalloc

    world = build_world()
    world.step("letter.opened")
    people = 2_000
    for n in range(people):
        party = f"P{n:05d}"
        world.apply("party.registered", {"id": party, "kind": "person", "names": {"en": party}})
        world.sign(party, evidence="email-verified", id=f"sig-{n}")
    entries = [event.to_bytes() for event in world.applied]
    first = len(entries) - 2 * people
    register = Register()
    for index, entry in enumerate(entries[:first]):
        register.apply(Event.from_bytes(entry), index)
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        for index, entry in enumerate(entries[first:], first):
            register.apply(Event.from_bytes(entry), index)
        after, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(register.letters["L1"].signatures) == people
    assert (after - before) / people < 850
    kinds = {id(party.kind) for party in register.parties.values() if party.kind == "person"}
    assert len(kinds) == 1
