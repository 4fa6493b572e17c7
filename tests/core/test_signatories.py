"""The signatory list "as of" a time, and its agreement with replaying the log."""

from __future__ import annotations

import copy
from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cosignatory.core.errors import RegisterError
from cosignatory.core.events import Event
from cosignatory.core.signatories import signatory_list
from cosignatory.core.state import AFTER_TRANSMISSION, Register
from cosignatory.tlog.errors import SignatureInvalidError
from tests.core.conftest import PARTIES, TEXTS_V2, World, build_world


def test_as_of_shows_who_had_signed_acceded_and_withdrawn(opened: World) -> None:
    start = opened.now
    fra = opened.sign("FRA")
    t_fra = opened.now
    deu = opened.sign("DEU", evidence="attested")
    t_deu = opened.now
    opened.withdraw("FRA", fra)
    t_withdrawn = opened.now
    opened.transmit()
    opened.step("letter.reopened")
    esp = opened.sign("ESP", "accede")
    t_esp = opened.now
    letter = opened.letter()

    def standing(moment: object) -> list[tuple[str, str, bool]]:
        return [(e.party, e.action, e.active) for e in signatory_list(letter, moment)]  # type: ignore[arg-type]

    assert standing(start) == []
    assert standing(t_fra) == [("FRA", "sign", True)]
    assert standing(t_deu) == [("FRA", "sign", True), ("DEU", "sign", True)]
    assert standing(t_withdrawn) == [("FRA", "sign", False), ("DEU", "sign", True)]
    assert (
        standing(t_esp)
        == standing(None)
        == [("FRA", "sign", False), ("DEU", "sign", True), ("ESP", "accede", True)]
    )
    assert [e.signature for e in signatory_list(letter)] == [fra, deu, esp]
    assert signatory_list(letter, t_deu)[0].withdrawn_at is None
    assert signatory_list(letter)[0].withdrawn_at == t_withdrawn
    assert {e.evidence for e in signatory_list(letter)} == {"self-signed", "attested"}


def test_as_of_shows_the_signature_then_current(opened: World) -> None:
    first = opened.sign("FRA")
    opened.withdraw("FRA", first)
    t_withdrawn = opened.now
    opened.add_version(TEXTS_V2)
    again = opened.sign("FRA")
    letter = opened.letter()
    [then] = signatory_list(letter, t_withdrawn)
    assert (then.signature, then.active, then.version) == (first, False, 1)
    [now] = signatory_list(letter)
    assert (now.signature, now.active, now.version, now.on_earlier_version) == (
        again,
        True,
        2,
        False,
    )


# -- property: "as of T" equals replaying the events up to T --------------------------

operations = st.lists(
    st.tuples(
        st.sampled_from(PARTIES),
        st.sampled_from(
            ["sign", "sign", "withdraw", "withdraw", "transmit", "reopen", "reopen", "close"]
        ),
        st.sampled_from(["self-signed", "attested"]),
        st.integers(0, 3),  # minutes since the previous event; 0 gives equal times
    ),
    max_size=25,
)


def _event_for(world: World, party: str, op: str, evidence: str, gap: int) -> Event:
    at = world.now + timedelta(minutes=gap)
    letter = world.letter()
    if op == "sign":
        action = "accede" if letter.status in AFTER_TRANSMISSION else "sign"
        return world.signature(party, action, evidence=evidence, at=at)
    if op == "withdraw":
        mine = [r.id for r in letter.signatures.values() if r.party == party]
        target = letter.active.get(party) or (mine[-1] if mine else "sig-none")
        return world.signature(party, "withdraw", withdraws=target, evidence=evidence, at=at)
    if op == "transmit":
        return world.event("letter.transmitted", {"letter": "L1", "date": "2019-07-12"}, at)
    step = {"reopen": "letter.reopened", "close": "letter.closed"}[op]
    return world.event(step, {"letter": "L1"}, at)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(operations)
def test_as_of_equals_replaying_the_events_up_to_then(
    ops: list[tuple[str, str, str, int]],
) -> None:
    world = build_world()
    world.step("letter.opened")
    setup = list(world.applied)
    history: list[Event] = []
    for party, op, evidence, gap in ops:
        event = _event_for(world, party, op, evidence, gap)
        before = copy.deepcopy(world.register)
        try:
            world.register.apply(event)
        except (RegisterError, SignatureInvalidError):
            assert world.register == before  # a refusal changes nothing
            continue
        world.now = event.at
        history.append(event)

    letter = world.letter()
    moments = {setup[-1].at} | {e.at for e in history}
    moments |= {m + timedelta(seconds=30) for m in moments}
    for moment in sorted(moments):
        replayed = Register()
        for event in setup + [e for e in history if e.at <= moment]:
            replayed.apply(event)
        assert signatory_list(letter, moment) == signatory_list(replayed.letter("L1"))
    assert signatory_list(letter) == signatory_list(letter, world.now + timedelta(days=1))


def test_the_later_of_two_signatures_at_one_instant_counts(opened: World) -> None:
    at = opened.tick()
    # Attested: a self-signed statement must be newer than the party's last act.
    first = opened.sign("FRA", at=at, evidence="attested")
    opened.withdraw("FRA", first, at=at, evidence="attested")
    again = opened.sign("FRA", at=at, evidence="attested")
    for moment in (at, None):
        [entry] = signatory_list(opened.letter(), moment)
        assert (entry.signature, entry.active) == (again, True)
