"""Signature events: sign, accede, withdraw, and the evidence for each."""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from cosignatory.core.canonical import text_hash
from cosignatory.core.errors import (
    AccessionsClosedError,
    AlreadySignedError,
    DuplicateEntityError,
    EvidenceError,
    InvalidEventError,
    KeyExpiredError,
    KeyRevokedError,
    LetterClosedError,
    MandateError,
    NotSignedError,
    NotTransmittedError,
    StatementError,
    TextVersionError,
    UnknownEntityError,
    WrongPartyError,
)
from cosignatory.core.events import Event, format_time
from cosignatory.core.signatories import signatory_list
from cosignatory.core.sigpool import PreverifiedRegister
from cosignatory.core.state import SignatureRecord
from cosignatory.core.statements import Statement
from cosignatory.tlog.errors import SignatureInvalidError
from tests.core.conftest import (
    TEXTS,
    TEXTS_V2,
    World,
    build_world,
    private_key,
    public_b64,
)


def altered(world: World, event: Event, change: Callable[[dict[str, Any]], None]) -> Event:
    """``event`` with its data changed by ``change``, sealed afresh by the registrar."""
    data = copy.deepcopy(dict(event.data))
    change(data)
    return world.event(event.type, data, at=event.at)


def statement_field(field: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(data: dict[str, Any]) -> None:
        data["evidence"]["statement"][field] = value

    return change


# -- sign -----------------------------------------------------------------------------


def test_signing_an_open_letter_records_the_signature(opened: World) -> None:
    event = opened.signature("FRA", id="sig-fra")
    opened.apply_event(event)
    letter = opened.letter()
    assert letter.signatures["sig-fra"] == SignatureRecord(
        "sig-fra",
        "sign",
        "FRA",
        1,
        event.at,
        "self-signed",
        "rep-fra",
        len(opened.applied) - 1,
        key="key-fra",
    )
    assert letter.active == {"FRA": "sig-fra"}


@pytest.mark.parametrize("evidence", ["self-signed", "attested"])
def test_signing_the_same_version_twice_is_refused(opened: World, evidence: str) -> None:
    opened.sign("FRA")
    opened.refuse(AlreadySignedError, opened.signature("FRA", evidence=evidence))


def test_signing_a_draft_or_closed_letter_is_refused(world: World) -> None:
    world.refuse(LetterClosedError, world.signature("FRA"))
    world.step("letter.opened")
    world.step("letter.closed")
    world.refuse(LetterClosedError, world.signature("FRA"))
    world.refuse(LetterClosedError, world.signature("DEU", evidence="attested"))
    world.step("letter.reopened")
    world.sign("FRA")


def test_after_transmission_parties_accede_rather_than_sign(transmitted: World) -> None:
    transmitted.refuse(LetterClosedError, transmitted.signature("DEU"))


def test_a_signature_over_another_text_version_is_refused(opened: World) -> None:
    opened.refuse(TextVersionError, opened.signature("FRA", version=2))
    opened.refuse(TextVersionError, opened.signature("FRA", digest=text_hash(TEXTS_V2)))
    opened.add_version(TEXTS_V2)
    opened.refuse(TextVersionError, opened.signature("FRA", version=1))
    opened.sign("FRA", version=2)


def test_a_new_version_does_not_carry_signatures_over(opened: World) -> None:
    first = opened.sign("FRA")
    opened.add_version(TEXTS_V2)
    letter = opened.letter()
    [entry] = signatory_list(letter)
    assert (entry.signature, entry.version, entry.on_earlier_version, entry.active) == (
        first,
        1,
        True,
        True,
    )
    second = opened.sign("DEU")
    again = opened.sign("FRA")
    assert letter.signatures[first].superseded_by == again
    assert letter.signatures[first].withdrawn_at is None
    assert letter.active == {"FRA": again, "DEU": second}
    entries = {e.party: e for e in signatory_list(letter)}
    assert entries["FRA"].signature == again and not entries["FRA"].on_earlier_version
    assert entries["DEU"].version == 2
    opened.refuse(AlreadySignedError, opened.signature("FRA"))


def test_only_a_withdrawal_names_a_signature(opened: World) -> None:
    first = opened.sign("FRA")
    opened.refuse(InvalidEventError, opened.signature("DEU", withdraws=first, version=1))


def test_signature_refusals_for_unknown_or_duplicate_entities(opened: World) -> None:
    opened.sign("FRA", id="sig-1")
    opened.refuse(UnknownEntityError, opened.signature("FRA", letter="L9"))
    opened.refuse(UnknownEntityError, opened.signature("ITA", evidence="attested"))
    opened.refuse(DuplicateEntityError, opened.signature("DEU", id="sig-1"))


def test_signature_ids_are_unique_across_letters(opened: World) -> None:
    opened.sign("FRA", id="sig-1")
    opened.create_letter("L2")
    opened.add_version(letter="L2")
    opened.step("letter.opened", "L2")
    opened.refuse(DuplicateEntityError, opened.signature("DEU", letter="L2", id="sig-1"))


def test_a_withdrawal_id_is_not_reused(opened: World) -> None:
    first = opened.sign("FRA")
    opened.withdraw("FRA", first, id="wd-1")
    opened.refuse(DuplicateEntityError, opened.signature("DEU", id="wd-1"))
    opened.refuse(DuplicateEntityError, opened.signature("FRA", id="wd-1"))


def test_a_group_signs_through_its_registrar(opened: World) -> None:
    opened.add_party("EU-3", "group", members=["FRA", "DEU", "ESP"])
    opened.sign("EU-3", evidence="attested")
    assert "EU-3" in opened.letter().active


# -- accede ---------------------------------------------------------------------------


def test_acceding_before_transmission_is_refused(opened: World) -> None:
    opened.refuse(NotTransmittedError, opened.signature("DEU", "accede"))
    opened.refuse(NotTransmittedError, opened.signature("DEU", "accede", evidence="attested"))


def test_acceding_needs_accessions_to_be_open(opened: World) -> None:
    opened.sign("FRA")
    opened.transmit()
    opened.refuse(AccessionsClosedError, opened.signature("DEU", "accede"))
    opened.step("letter.reopened")
    deu = opened.sign("DEU", "accede")
    assert opened.letter().signatures[deu].action == "accede"
    opened.step("letter.closed")
    opened.refuse(AccessionsClosedError, opened.signature("ESP", "accede"))


def test_acceding_after_registration_and_publication(transmitted: World) -> None:
    transmitted.apply(
        "letter.registered",
        {"letter": "L1", "session": "hrc41", "series": "G", "number": 1, "symbol": "A/HRC/41/G/1"},
    )
    transmitted.sign("DEU", "accede")
    transmitted.step("letter.published")
    transmitted.sign("ESP", "accede", evidence="attested")
    assert set(transmitted.letter().active) == {"FRA", "DEU", "ESP"}


def test_a_signatory_cannot_accede_to_what_it_signed(transmitted: World) -> None:
    transmitted.refuse(AlreadySignedError, transmitted.signature("FRA", "accede"))


def test_accession_is_to_the_current_version(transmitted: World) -> None:
    transmitted.add_version(TEXTS_V2)
    transmitted.refuse(TextVersionError, transmitted.signature("DEU", "accede", version=1))
    transmitted.sign("FRA", "accede")  # FRA signed version 1; it accedes to version 2
    assert transmitted.letter().signatures["sig-fra"].superseded_by is not None


# -- withdraw -------------------------------------------------------------------------


def test_a_party_withdraws_its_own_signature(opened: World) -> None:
    first = opened.sign("FRA")
    event = opened.signature("FRA", "withdraw", withdraws=first, id="wd-1")
    opened.apply_event(event)
    record = opened.letter().signatures[first]
    assert (record.withdrawn_at, record.withdrawn_by) == (event.at, "wd-1")
    assert "wd-1" not in opened.letter().signatures
    assert opened.letter().active == {}
    [entry] = signatory_list(opened.letter())
    assert not entry.active and entry.withdrawn_at == event.at


def test_the_registrar_records_a_withdrawal_received_on_paper(transmitted: World) -> None:
    transmitted.withdraw("FRA", "sig-fra", evidence="attested")
    assert transmitted.letter().signatures["sig-fra"].withdrawn_at is not None


def test_withdrawing_twice_is_refused(opened: World) -> None:
    first = opened.sign("FRA")
    opened.withdraw("FRA", first)
    opened.refuse(NotSignedError, opened.signature("FRA", "withdraw", withdraws=first))
    opened.refuse(
        NotSignedError, opened.signature("FRA", "withdraw", withdraws=first, evidence="attested")
    )


def test_withdrawing_what_is_not_signed_is_refused(opened: World) -> None:
    opened.refuse(NotSignedError, opened.signature("FRA", "withdraw", withdraws="sig-x"))
    opened.refuse(NotSignedError, opened.signature("FRA", "withdraw"))  # names nothing


def test_withdrawing_for_another_party_is_refused(opened: World) -> None:
    fra = opened.sign("FRA")
    opened.sign("DEU")
    # DEU names FRA's signature.
    opened.refuse(WrongPartyError, opened.signature("DEU", "withdraw", withdraws=fra))
    opened.refuse(
        WrongPartyError, opened.signature("DEU", "withdraw", withdraws=fra, evidence="attested")
    )
    # DEU's representative signs a withdrawal in FRA's name: no mandate for FRA.
    opened.refuse(
        WrongPartyError,
        opened.signature("FRA", "withdraw", withdraws=fra, representative="rep-deu", key="key-deu"),
    )
    assert opened.letter().active["FRA"] == fra


def test_withdrawing_a_superseded_signature_is_refused(opened: World) -> None:
    first = opened.sign("FRA")
    opened.add_version(TEXTS_V2)
    opened.sign("FRA")
    opened.refuse(NotSignedError, opened.signature("FRA", "withdraw", withdraws=first))


def test_a_withdrawal_names_the_version_it_withdraws_from(opened: World) -> None:
    first = opened.sign("FRA")
    opened.add_version(TEXTS_V2)
    opened.refuse(TextVersionError, opened.signature("FRA", "withdraw", withdraws=first, version=2))
    opened.refuse(
        TextVersionError,
        opened.signature("FRA", "withdraw", withdraws=first, digest=text_hash(TEXTS_V2)),
    )
    opened.withdraw("FRA", first)  # of version 1, while version 2 is current


def test_a_withdrawn_party_may_sign_again(opened: World) -> None:
    first = opened.sign("FRA")
    opened.withdraw("FRA", first)
    again = opened.sign("FRA")
    assert opened.letter().active == {"FRA": again}
    assert opened.letter().signatures[first].superseded_by is None


# -- self-signed evidence -------------------------------------------------------------


@pytest.mark.parametrize(
    "change",
    [
        {"action": "accede"},
        {"letter": "L2"},
        {"version": 2},
        {"text_hash": text_hash(TEXTS_V2)},
        {"party": "DEU"},
        {"representative": "rep-deu"},
        {"key": "key-deu"},
    ],
)
def test_a_statement_that_says_something_else_is_refused(
    opened: World, change: dict[str, Any]
) -> None:
    opened.refuse(StatementError, opened.signature("FRA", statement=change))


def test_a_statement_for_an_event_without_representative_is_refused(opened: World) -> None:
    event = opened.signature("FRA")
    opened.refuse(StatementError, altered(opened, event, lambda d: d.pop("representative")))


@pytest.mark.parametrize(
    ("field", "value"),
    [("v", 2), ("kind", "other"), ("at", "2019-07-08"), ("action", None), ("extra", 1)],
)
def test_a_malformed_statement_is_refused(opened: World, field: str, value: Any) -> None:
    event = opened.signature("FRA")
    opened.refuse(StatementError, altered(opened, event, statement_field(field, value)))


def test_a_statement_that_is_not_an_object_is_refused(opened: World) -> None:
    event = opened.signature("FRA")

    def change(data: dict[str, Any]) -> None:
        data["evidence"]["statement"] = "I sign"

    opened.refuse(StatementError, altered(opened, event, change))


def test_a_preverified_register_judges_the_statement_it_was_given() -> None:
    """The intake hands over the statements it parsed, by signature: the rules take the
    one given for an event's signature and parse every other from the evidence."""
    world = build_world(PreverifiedRegister())
    world.step("letter.opened")
    register = world.register
    assert isinstance(register, PreverifiedRegister)
    event = world.signature("FRA")
    evidence = event.data["evidence"]
    parsed = Statement.from_json(evidence["statement"])
    register.parsed = {evidence["signature"]: dataclasses.replace(parsed, party="DEU")}
    world.refuse(StatementError, event)  # what it was given says something else
    register.parsed = {"another signature": dataclasses.replace(parsed, party="DEU")}
    world.apply_event(event)  # parsed from the evidence
    assert world.letter().active == {"FRA": event.data["id"]}


def test_a_bad_statement_signature_is_refused(opened: World) -> None:
    opened.refuse(SignatureInvalidError, opened.signature("FRA", signer=private_key(99)))
    event = opened.signature("FRA")

    def flip(data: dict[str, Any]) -> None:
        import base64

        raw = bytearray(base64.b64decode(data["evidence"]["signature"]))
        raw[10] ^= 0x40
        data["evidence"]["signature"] = base64.b64encode(bytes(raw)).decode()

    opened.refuse(SignatureInvalidError, altered(opened, event, flip))
    opened.apply_event(event)


def test_an_unknown_key_is_refused(opened: World) -> None:
    opened.keys["key-x"] = private_key(60)
    opened.refuse(UnknownEntityError, opened.signature("FRA", key="key-x"))


def test_another_representative_key_is_refused(opened: World) -> None:
    opened.refuse(WrongPartyError, opened.signature("FRA", key="key-deu"))


def test_a_representative_without_a_mandate_for_the_party_is_refused(opened: World) -> None:
    opened.refuse(WrongPartyError, opened.signature("FRA", representative="rep-deu", key="key-deu"))


def test_a_revoked_key_is_refused(opened: World) -> None:
    first = opened.sign("FRA")
    revoked = opened.apply("key.revoked", {"id": "key-fra", "reason": "compromised"})
    opened.refuse(
        KeyRevokedError, opened.signature("FRA", "withdraw", withdraws=first, at=revoked.at)
    )
    opened.add_version(TEXTS_V2)
    opened.refuse(KeyRevokedError, opened.signature("FRA"))
    # What was signed before the revocation stands; a paper withdrawal still works.
    assert opened.letter().active == {"FRA": first}
    opened.withdraw("FRA", first, evidence="attested")


def test_an_expired_or_not_yet_valid_key_is_refused(opened: World) -> None:
    def register_key(key_id: str, seed: int, start: Any, until: Any) -> None:
        opened.keys[key_id] = private_key(seed)
        opened.apply(
            "key.registered",
            {
                "id": key_id,
                "representative": "rep-fra",
                "public_key": public_b64(opened.keys[key_id]),
                "valid_from": format_time(start),
                "valid_until": format_time(until),
            },
        )

    now = opened.now
    register_key("key-old", 61, now - timedelta(days=10), now + timedelta(minutes=2))
    register_key("key-new", 62, now + timedelta(days=10), now + timedelta(days=20))
    opened.tick(2)
    opened.refuse(KeyExpiredError, opened.signature("FRA", key="key-old"))
    opened.refuse(KeyExpiredError, opened.signature("FRA", key="key-new"))
    opened.sign("FRA")


def test_a_mandate_out_of_period_is_refused(opened: World) -> None:
    opened.apply("mandate.ended", {"id": "mandate-fra", "reason": "recalled"})
    opened.refuse(MandateError, opened.signature("FRA"))
    # A new mandate that starts later is not current yet either.
    later = opened.now + timedelta(days=3)
    opened.apply(
        "mandate.granted",
        {
            "id": "mandate-fra-2",
            "representative": "rep-fra",
            "party": "FRA",
            "valid_from": format_time(later),
            "credential": {"kind": "letter", "reference": "C-2", "date": "2019-06-30"},
        },
    )
    opened.refuse(MandateError, opened.signature("FRA"))
    opened.sign("FRA", at=later)


def test_a_mandate_that_expired_is_refused(opened: World) -> None:
    until = opened.now + timedelta(minutes=2)
    opened.apply(
        "mandate.granted",
        {
            "id": "mandate-fra-esp",
            "representative": "rep-fra",
            "party": "ESP",
            "valid_from": format_time(opened.now),
            "valid_until": format_time(until),
            "credential": {"kind": "letter", "reference": "C-3", "date": "2019-06-30"},
        },
    )
    esp = {"representative": "rep-fra", "key": "key-fra"}
    opened.refuse(MandateError, opened.signature("ESP", at=until, **esp))
    opened.sign("ESP", at=until - timedelta(microseconds=1), **esp)


# -- attested and email-verified evidence -----------------------------------------------


def test_attested_evidence_is_the_registrar_seal_over_the_instrument(opened: World) -> None:
    event = opened.signature("DEU", evidence="attested", representative="rep-deu")
    changed = Event.make(
        event.type,
        event.at,
        {
            **event.data,
            "evidence": {
                "kind": "attested",
                "instrument": {**event.data["evidence"]["instrument"], "reference": "NV/2019/0999"},
            },
        },
    )
    opened.refuse(SignatureInvalidError, changed.sealed(event.registrar_key, event.registrar_sig))
    opened.apply_event(event)
    assert opened.letter().signatures[str(event.data["id"])].evidence == "attested"


def test_attested_evidence_names_a_known_representative(opened: World) -> None:
    opened.refuse(
        UnknownEntityError, opened.signature("DEU", evidence="attested", representative="rep-x")
    )


def test_email_verification_is_for_persons(opened: World) -> None:
    opened.add_party("jane", "person", contact="jane@example.org")
    jane = opened.sign("jane", evidence="email-verified")
    assert opened.letter().signatures[jane].evidence == "email-verified"
    opened.refuse(EvidenceError, opened.signature("FRA", evidence="email-verified"))
    opened.add_party("ngo", "organisation")
    opened.refuse(EvidenceError, opened.signature("ngo", evidence="email-verified"))
    opened.add_party("john", "person")
    opened.refuse(
        EvidenceError, opened.signature("john", evidence="email-verified", representative="rep-fra")
    )
    opened.refuse(
        EvidenceError,
        opened.signature("jane", "withdraw", withdraws=jane, evidence="email-verified"),
    )
    opened.withdraw("jane", jane, evidence="attested")


def test_a_signature_is_recorded_at_the_event_time(opened: World) -> None:
    assert opened.letter().versions[1] == text_hash(TEXTS)
    event = opened.apply_event(opened.signature("ESP"))
    assert opened.letter().signatures[str(event.data["id"])].at == event.at


def test_an_old_statement_cannot_be_replayed_after_a_withdrawal(opened: World) -> None:
    """A "sign" statement used once, then withdrawn from, cannot sign again."""
    signed_at = opened.tick()
    first = opened.signature("FRA", at=signed_at)
    opened.apply_event(first)
    opened.withdraw("FRA", str(first.data["id"]))
    replay = opened.signature(
        "FRA", statement={"at": signed_at}, at=opened.tick(), id="sig-replayed"
    )
    opened.refuse(StatementError, replay)


def test_a_stale_statement_is_refused(opened: World) -> None:
    now = opened.tick()
    stale = opened.signature("FRA", statement={"at": now - timedelta(days=8)}, at=now)
    opened.refuse(StatementError, stale)
    ahead = opened.signature("FRA", statement={"at": now + timedelta(hours=1)}, at=now)
    opened.refuse(StatementError, ahead)
