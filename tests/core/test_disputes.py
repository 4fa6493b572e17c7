"""Disputes: a party says "we did not sign this"; an upheld dispute voids the signature."""

from __future__ import annotations

from typing import Any

from cosignatory.core.errors import (
    DuplicateEntityError,
    LifecycleError,
    UnknownEntityError,
    WrongPartyError,
)
from cosignatory.core.signatories import signatory_list
from cosignatory.core.state import Dispute
from tests.core.conftest import INSTRUMENT, TEXTS_V2, World


def filing(signature: str = "sig-fra", party: str = "FRA", id: str = "d-1") -> dict[str, Any]:
    return {
        "id": id,
        "signature": signature,
        "party": party,
        "statement": "We did not sign this letter.",
        "evidence": INSTRUMENT,
    }


def resolution(outcome: str, id: str = "d-1") -> dict[str, Any]:
    return {"id": id, "outcome": outcome, "note": "Checked with the mission."}


def test_a_party_disputes_a_signature_naming_it(transmitted: World) -> None:
    transmitted.apply("dispute.filed", filing())
    assert transmitted.register.disputes["d-1"] == Dispute("d-1", "L1", "sig-fra", "FRA")
    assert transmitted.letter().active == {"FRA": "sig-fra"}  # filing alone changes nothing


def test_disputing_another_party_signature_is_refused(transmitted: World) -> None:
    transmitted.refuse(WrongPartyError, transmitted.event("dispute.filed", filing(party="DEU")))
    transmitted.refuse(WrongPartyError, transmitted.event("dispute.filed", filing(party="ITA")))


def test_dispute_filing_refusals(transmitted: World) -> None:
    transmitted.refuse(
        UnknownEntityError, transmitted.event("dispute.filed", filing(signature="sig-x"))
    )
    transmitted.apply("dispute.filed", filing())
    transmitted.refuse(DuplicateEntityError, transmitted.event("dispute.filed", filing()))


def test_a_withdrawal_cannot_be_disputed(opened: World) -> None:
    first = opened.sign("FRA")
    opened.withdraw("FRA", first, id="wd-1")
    opened.refuse(UnknownEntityError, opened.event("dispute.filed", filing(signature="wd-1")))


def test_an_upheld_dispute_voids_the_signature(transmitted: World) -> None:
    transmitted.apply("dispute.filed", filing())
    transmitted.apply("dispute.resolved", resolution("upheld"))
    letter = transmitted.letter()
    assert transmitted.register.disputes["d-1"].outcome == "upheld"
    assert letter.signatures["sig-fra"].voided
    assert letter.active == {}
    [entry] = signatory_list(letter)
    assert entry.voided and not entry.active and entry.withdrawn_at is None
    # The party may now accede for real.
    again = transmitted.sign("FRA", "accede")
    assert letter.active == {"FRA": again}


def test_a_dismissed_dispute_leaves_the_signature(transmitted: World) -> None:
    transmitted.apply("dispute.filed", filing())
    before = transmitted.letter().signatures["sig-fra"]
    transmitted.apply("dispute.resolved", resolution("dismissed"))
    assert transmitted.register.disputes["d-1"].outcome == "dismissed"
    assert transmitted.letter().signatures["sig-fra"] == before
    assert signatory_list(transmitted.letter())[0].active


def test_a_dispute_is_resolved_once(transmitted: World) -> None:
    transmitted.refuse(
        UnknownEntityError, transmitted.event("dispute.resolved", resolution("upheld"))
    )
    transmitted.apply("dispute.filed", filing())
    transmitted.apply("dispute.resolved", resolution("dismissed"))
    transmitted.refuse(LifecycleError, transmitted.event("dispute.resolved", resolution("upheld")))


def test_upholding_against_a_superseded_signature_keeps_the_current_one(opened: World) -> None:
    first = opened.sign("FRA")
    opened.add_version(TEXTS_V2)
    second = opened.sign("FRA")
    opened.apply("dispute.filed", filing(signature=first))
    opened.apply("dispute.resolved", resolution("upheld"))
    assert opened.letter().signatures[first].voided
    assert opened.letter().active == {"FRA": second}
