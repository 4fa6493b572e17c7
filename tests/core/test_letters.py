"""Letters: text versions, the lifecycle, registration under a symbol, later documents."""

from __future__ import annotations

import unicodedata
from typing import Any

import pytest

from cosignatory.core.canonical import text_hash
from cosignatory.core.errors import (
    InvalidEventError,
    LifecycleError,
    SymbolError,
    TextVersionError,
    UnknownEntityError,
)
from cosignatory.core.state import CLOSED, DRAFT, OPEN, PUBLISHED, REGISTERED, TRANSMITTED
from tests.core.conftest import TEXTS, TEXTS_V2, World


def version_data(number: int, texts: dict[str, str] = TEXTS_V2, **change: Any) -> dict[str, Any]:
    return {
        "letter": "L1",
        "version": number,
        "texts": texts,
        "text_hash": text_hash(texts),
        **change,
    }


def registration(
    number: int, series: str = "G", session: str = "hrc41", **change: Any
) -> dict[str, Any]:
    return {
        "letter": "L1",
        "session": session,
        "series": series,
        "number": number,
        "symbol": f"A/HRC/41/{series}/{number}",
        **change,
    }


def document(kind: str, number: int, of: str = "A/HRC/41/G/1", **change: Any) -> dict[str, Any]:
    return {
        "letter": "L1",
        "kind": kind,
        "of": of,
        "number": number,
        "symbol": f"{of}/{kind}.{number}",
        **change,
    }


def registered(world: World) -> World:
    world.step("letter.opened")
    world.transmit()
    world.apply("letter.registered", registration(1))
    return world


# -- text versions --------------------------------------------------------------------


def test_versions_are_numbered_in_order(world: World) -> None:
    assert world.letter().versions == {1: text_hash(TEXTS)}
    world.refuse(TextVersionError, world.event("letter.text_version_added", version_data(1)))
    world.refuse(TextVersionError, world.event("letter.text_version_added", version_data(3)))
    world.apply("letter.text_version_added", version_data(2))
    texts_v3 = {"en": "Third text"}
    world.apply("letter.text_version_added", version_data(3, texts_v3))
    assert world.letter().versions == {
        1: text_hash(TEXTS),
        2: text_hash(TEXTS_V2),
        3: text_hash(texts_v3),
    }
    assert world.letter().current_version == 3


def test_a_version_hash_must_be_the_hash_of_its_texts(world: World) -> None:
    world.refuse(
        TextVersionError,
        world.event("letter.text_version_added", version_data(2, text_hash=text_hash(TEXTS))),
    )
    other_language = {**TEXTS_V2, "es": "Nosotros"}
    world.refuse(
        TextVersionError,
        world.event(
            "letter.text_version_added",
            version_data(2, other_language, text_hash=text_hash(TEXTS_V2)),
        ),
    )


def test_a_version_submitted_in_nfd_has_the_nfc_hash(world: World) -> None:
    nfd = {lang: unicodedata.normalize("NFD", text) for lang, text in TEXTS_V2.items()}
    assert nfd != TEXTS_V2
    world.apply("letter.text_version_added", version_data(2, nfd, text_hash=text_hash(TEXTS_V2)))
    assert world.letter().versions[2] == text_hash(nfd) == text_hash(TEXTS_V2)


def test_versions_of_an_unknown_letter_are_refused(world: World) -> None:
    world.refuse(
        UnknownEntityError, world.event("letter.text_version_added", version_data(1, letter="L9"))
    )


def test_a_published_letter_text_does_not_change(world: World) -> None:
    registered(world)
    world.step("letter.published")
    world.refuse(LifecycleError, world.event("letter.text_version_added", version_data(2)))


def test_a_registered_letter_may_still_get_a_version(world: World) -> None:
    registered(world)
    world.apply("letter.text_version_added", version_data(2))
    assert world.letter().current_version == 2


# -- lifecycle ------------------------------------------------------------------------


def test_the_whole_lifecycle(world: World) -> None:
    letter = world.letter()
    assert letter.status == DRAFT
    for step, status in [
        ("letter.opened", OPEN),
        ("letter.closed", CLOSED),
        ("letter.reopened", OPEN),
        ("letter.closed", CLOSED),
    ]:
        world.step(step)
        assert letter.status == status
    world.transmit()
    assert (letter.status, letter.accessions_open) == (TRANSMITTED, False)
    world.step("letter.reopened")
    assert (letter.status, letter.accessions_open) == (TRANSMITTED, True)
    world.step("letter.closed")
    assert (letter.status, letter.accessions_open) == (TRANSMITTED, False)
    world.apply("letter.registered", registration(1))
    assert (letter.status, letter.symbol, letter.registered_session) == (
        REGISTERED,
        "A/HRC/41/G/1",
        "hrc41",
    )
    world.step("letter.reopened")
    assert letter.accessions_open
    world.step("letter.published")
    assert (letter.status, letter.accessions_open) == (PUBLISHED, True)
    world.step("letter.closed")
    assert (letter.status, letter.accessions_open) == (PUBLISHED, False)


def test_an_open_letter_may_be_transmitted_without_closing(opened: World) -> None:
    opened.transmit()
    assert opened.letter().status == TRANSMITTED


@pytest.mark.parametrize(
    ("steps", "refused"),
    [
        ([], "letter.closed"),
        ([], "letter.reopened"),
        ([], "letter.transmitted"),
        ([], "letter.published"),
        (["letter.opened"], "letter.opened"),
        (["letter.opened"], "letter.reopened"),
        (["letter.opened"], "letter.published"),
        (["letter.opened", "letter.closed"], "letter.closed"),
        (["letter.opened", "letter.closed"], "letter.opened"),
        (["letter.opened", "letter.transmitted"], "letter.opened"),
        (["letter.opened", "letter.transmitted"], "letter.transmitted"),
        (["letter.opened", "letter.transmitted"], "letter.closed"),  # accessions not open
        (["letter.opened", "letter.transmitted"], "letter.published"),
        (["letter.opened", "letter.transmitted", "letter.reopened"], "letter.reopened"),
    ],
)
def test_steps_the_state_forbids(world: World, steps: list[str], refused: str) -> None:
    for step in steps:
        extra = {"date": "2019-07-12"} if step == "letter.transmitted" else {}
        world.step(step, **extra)
    extra = {"date": "2019-07-12"} if refused == "letter.transmitted" else {}
    world.refuse(LifecycleError, world.event(refused, {"letter": "L1", **extra}))


def test_a_letter_without_text_cannot_open(world: World) -> None:
    world.create_letter("L2")
    world.refuse(LifecycleError, world.event("letter.opened", {"letter": "L2"}))


def test_lifecycle_steps_need_a_known_letter(world: World) -> None:
    for step in ["letter.opened", "letter.closed", "letter.reopened", "letter.published"]:
        world.refuse(UnknownEntityError, world.event(step, {"letter": "L9"}))


def test_only_a_transmitted_letter_is_registered(opened: World) -> None:
    opened.refuse(LifecycleError, opened.event("letter.registered", registration(1)))


# -- registration and symbols ---------------------------------------------------------


def test_registration_allocates_the_next_number_of_the_series(world: World) -> None:
    symbols = []
    for n in range(1, 18):
        letter = f"L{n}"
        if letter != "L1":
            world.create_letter(letter)
            world.add_version(letter=letter)
        world.step("letter.opened", letter)
        world.transmit(letter)
        world.apply("letter.registered", {**registration(n), "letter": letter})
        symbols.append(world.letter(letter).symbol)
    assert symbols[-1] == "A/HRC/41/G/17"
    assert symbols == [f"A/HRC/41/G/{n}" for n in range(1, 18)]
    assert world.register.sessions["hrc41"].counters == {"G": 17}


def test_series_are_numbered_separately(world: World) -> None:
    registered(world)
    world.create_letter("L2")
    world.add_version(letter="L2")
    world.step("letter.opened", "L2")
    world.transmit("L2")
    world.apply("letter.registered", {**registration(1, "L"), "letter": "L2"})
    assert world.letter("L2").symbol == "A/HRC/41/L/1"
    assert world.register.sessions["hrc41"].counters == {"G": 1, "L": 1}


@pytest.mark.parametrize(
    "change",
    [
        {"number": 2, "symbol": "A/HRC/41/G/2"},  # skips number 1
        {"symbol": "A/HRC/41/G/01"},
        {"symbol": "A/HRC/42/G/1"},
        {"series": "g", "symbol": "A/HRC/41/g/1"},
        {"series": "G-1", "symbol": "A/HRC/41/G-1/1"},
    ],
)
def test_registration_refuses_a_wrong_number_or_symbol(
    world: World, change: dict[str, Any]
) -> None:
    world.step("letter.opened")
    world.transmit()
    world.refuse(SymbolError, world.event("letter.registered", {**registration(1), **change}))


def test_registration_needs_a_known_session(world: World) -> None:
    world.step("letter.opened")
    world.transmit()
    world.refuse(
        UnknownEntityError, world.event("letter.registered", registration(1, session="s9"))
    )


def test_cancelled_numbers_are_never_reused(world: World) -> None:
    registered(world)
    world.apply(
        "letter.registration_cancelled",
        {"letter": "L1", "symbol": "A/HRC/41/G/1", "reason": "registered in error"},
    )
    letter = world.letter()
    assert (letter.status, letter.symbol) == (TRANSMITTED, None)
    assert "A/HRC/41/G/1" in world.register.symbols
    world.refuse(SymbolError, world.event("letter.registered", registration(1)))
    world.apply("letter.registered", registration(2))
    assert letter.symbol == "A/HRC/41/G/2"
    assert world.register.sessions["hrc41"].counters == {"G": 2}


def test_a_used_symbol_is_refused_even_from_another_session(world: World) -> None:
    # A second session sharing the prefix has its own counter, but not its own symbols.
    registered(world)
    world.apply(
        "session.created",
        {
            "id": "hrc41-bis",
            "body": "hrc",
            "number": 41,
            "names": {"en": "41st (resumed)"},
            "start": "2019-07-13",
            "end": "2019-07-14",
            "symbol_prefix": "A/HRC/41/",
        },
    )
    world.create_letter("L2")
    world.add_version(letter="L2")
    world.step("letter.opened", "L2")
    world.transmit("L2")
    world.refuse(
        SymbolError,
        world.event("letter.registered", {**registration(1, session="hrc41-bis"), "letter": "L2"}),
    )


def test_cancellation_refusals(world: World) -> None:
    world.step("letter.opened")
    world.transmit()
    cancel = {"letter": "L1", "symbol": "A/HRC/41/G/1", "reason": "error"}
    world.refuse(LifecycleError, world.event("letter.registration_cancelled", cancel))
    world.apply("letter.registered", registration(1))
    world.refuse(
        SymbolError,
        world.event("letter.registration_cancelled", {**cancel, "symbol": "A/HRC/41/G/2"}),
    )
    world.step("letter.published")
    world.refuse(LifecycleError, world.event("letter.registration_cancelled", cancel))


def test_a_body_symbol_format_is_used(world: World) -> None:
    world.apply(
        "body.created",
        {
            "id": "ga",
            "names": {"en": "General Assembly"},
            "symbol_root": "A/",
            "symbol_format": "{prefix}{number}",
        },
    )
    world.apply(
        "session.created",
        {
            "id": "ga74",
            "body": "ga",
            "number": 74,
            "names": {"en": "74th session"},
            "start": "2019-09-17",
            "end": "2020-09-14",
            "symbol_prefix": "A/74/",
        },
    )
    world.step("letter.opened")
    world.transmit()
    world.refuse(
        SymbolError,
        world.event(
            "letter.registered",
            {"letter": "L1", "session": "ga74", "series": "G", "number": 1, "symbol": "A/74/G/1"},
        ),
    )
    world.apply(
        "letter.registered",
        {"letter": "L1", "session": "ga74", "series": "G", "number": 1, "symbol": "A/74/1"},
    )
    assert world.letter().symbol == "A/74/1"


# -- later documents ------------------------------------------------------------------


def test_addenda_corrigenda_and_revisions_are_numbered_in_sequence(world: World) -> None:
    registered(world)
    world.apply("document.issued", document("Add", 1))
    world.apply("document.issued", document("Add", 2))
    world.apply("document.issued", document("Corr", 1, version=1))
    world.add_version(TEXTS_V2)
    world.apply("document.issued", document("Rev", 1, version=2))
    world.step("letter.published")
    world.apply("document.issued", document("Add", 3, note="Further signatories"))
    assert world.letter().documents == {"Add": 3, "Corr": 1, "Rev": 1}
    assert {
        "A/HRC/41/G/1/Add.1",
        "A/HRC/41/G/1/Add.3",
        "A/HRC/41/G/1/Corr.1",
        "A/HRC/41/G/1/Rev.1",
    } <= world.register.symbols


@pytest.mark.parametrize(
    "data",
    [
        document("Add", 2),
        document("Add", 1, of="A/HRC/41/G/2"),
        document("Add", 1, symbol="A/HRC/41/G/1/Add.2"),
        document("Add", 1, symbol="A/HRC/41/G/1/Corr.1"),
    ],
)
def test_documents_out_of_sequence_or_misnamed_are_refused(
    world: World, data: dict[str, Any]
) -> None:
    registered(world)
    world.refuse(SymbolError, world.event("document.issued", data))


def test_a_document_number_is_not_reused(world: World) -> None:
    registered(world)
    world.apply("document.issued", document("Add", 1))
    world.refuse(SymbolError, world.event("document.issued", document("Add", 1)))


def test_corr_and_rev_name_an_existing_text_version(world: World) -> None:
    registered(world)
    for kind in ("Corr", "Rev"):
        world.refuse(TextVersionError, world.event("document.issued", document(kind, 1)))
        world.refuse(TextVersionError, world.event("document.issued", document(kind, 1, version=2)))
        world.apply("document.issued", document(kind, 1, version=1))


def test_documents_need_an_official_document(opened: World) -> None:
    opened.refuse(LifecycleError, opened.event("document.issued", document("Add", 1)))
    opened.transmit()
    opened.refuse(LifecycleError, opened.event("document.issued", document("Add", 1)))
    with pytest.raises(InvalidEventError):
        opened.event("document.issued", document("Annex", 1))


def test_documents_of_a_new_registration_start_again_at_one(world: World) -> None:
    registered(world)
    world.apply("document.issued", document("Add", 1))
    world.apply(
        "letter.registration_cancelled",
        {"letter": "L1", "symbol": "A/HRC/41/G/1", "reason": "wrong series"},
    )
    world.refuse(LifecycleError, world.event("document.issued", document("Add", 2)))
    world.apply("letter.registered", registration(2))
    world.refuse(SymbolError, world.event("document.issued", document("Add", 1)))
    world.apply("document.issued", document("Add", 1, of="A/HRC/41/G/2"))
    assert "A/HRC/41/G/2/Add.1" in world.register.symbols
