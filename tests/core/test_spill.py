"""Spilled mappings: a dict's behaviour, whatever part of it lies on disk."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cosignatory.core.signatories import latest_records, signatory_list
from cosignatory.core.spill import Codec, SpillDict, SpillError, SpillFile
from cosignatory.core.state import Letter, Party, Representative, SignatureRecord
from cosignatory.core.state_rows import IDS, PARTIES, REPRESENTATIVES, SIGNATURES, TIMES

KEYS = st.sampled_from(["a", "b", "c", "d", "e", "é", "P-1", ""])
OPERATIONS = st.lists(
    st.one_of(
        st.tuples(st.just("set"), KEYS, st.text(max_size=3)),
        st.tuples(st.just("get"), KEYS),
        st.tuples(st.just("peek"), KEYS),
        st.tuples(st.just("delete"), KEYS),
        st.tuples(st.just("contains"), KEYS),
        st.tuples(st.just("list")),
        st.tuples(st.just("spill")),
    ),
    max_size=40,
)


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 3), OPERATIONS)
def test_a_spill_dict_behaves_as_a_dict(hot: int, operations: list[tuple[Any, ...]]) -> None:
    """Any sequence of writes, reads, deletions and spills: the same answers, the same
    length and the same insertion order as a dict's."""
    file = SpillFile(hot)
    spilled = file.mapping(IDS)
    model: dict[str, str] = {}
    for operation in operations:
        name, *arguments = operation
        if name == "set":
            key, value = arguments
            spilled[key] = model[key] = value
        elif name in ("get", "peek"):
            [key] = arguments
            read = spilled.__getitem__ if name == "get" else spilled.peek
            if key in model:
                assert read(key) == model[key]
            else:
                with pytest.raises(KeyError):
                    read(key)
        elif name == "delete":
            [key] = arguments
            if key in model:
                del spilled[key], model[key]
            else:
                with pytest.raises(KeyError):
                    del spilled[key]
        elif name == "contains":
            [key] = arguments
            assert (key in spilled) == (key in model)
        elif name == "list":
            assert list(spilled) == list(model)
            assert list(spilled.values()) == list(model.values())
            assert list(spilled.items()) == list(model.items())
        else:
            file.spill()
        assert len(spilled) == len(model)
        assert spilled.held <= max(hot, len(model))
    assert dict(spilled) == model
    file.close()


def test_a_value_changed_in_place_is_written_back() -> None:
    """What the rules do to a party or a signature record after reading it (a contact
    set, a withdrawal noted) lasts through the next spill."""
    file = SpillFile(hot=0)
    parties = file.mapping(PARTIES)
    parties["P1"] = Party("P1", "person", {"en": "Ann"})
    file.spill()
    assert parties.held == 0 and parties.spilled
    parties["P1"].contact = "ann@example.org"
    assert parties.peek("P1").contact == "ann@example.org"  # still the object held
    file.spill()
    assert parties.held == 0
    assert parties["P1"] == Party("P1", "person", {"en": "Ann"}, "ann@example.org")
    # peek does not keep what it reads: a change to it is lost, as documented.
    file.spill()
    parties.peek("P1").contact = None
    assert parties["P1"].contact == "ann@example.org" and parties.held == 1


def test_a_small_mapping_never_opens_the_database() -> None:
    file = SpillFile(hot=10)
    times = file.mapping(TIMES)
    for n in range(10):
        times[f"P{n}"] = datetime(2019, 7, 12, n, tzinfo=UTC)
        file.spill()
    assert list(times) == [f"P{n}" for n in range(10)] and not times.spilled
    assert file._db is None
    times["P10"] = datetime(2019, 7, 13, tzinfo=UTC)
    file.spill()
    assert times.spilled and times.held == 0 and len(times) == 11


MOMENTS = st.datetimes(timezones=st.just(UTC))  # any year, 1 to 9999
NAMES = st.dictionaries(st.sampled_from(["en", "fr", "ar", "zh"]), st.text(), min_size=1)
SOME_TEXT = st.none() | st.text(max_size=8)


def _round_trip(codec: Codec[Any], key: str, value: object) -> None:
    file = SpillFile(hot=0)
    mapping = file.mapping(codec)
    mapping[key] = value
    file.spill()
    assert mapping.peek(key) == value
    file.close()


@settings(max_examples=50, deadline=None)
@given(
    st.builds(
        Party,
        st.text(min_size=1),
        st.sampled_from(["person", "state", "group"]),
        NAMES,
        SOME_TEXT,
        st.lists(st.text(), max_size=3).map(tuple),
    ),
    st.builds(Representative, st.text(min_size=1), st.text(), SOME_TEXT),
    st.builds(
        SignatureRecord,
        st.text(min_size=1),
        st.sampled_from(["sign", "accede"]),
        st.text(),
        st.integers(1, 9),
        MOMENTS,
        st.sampled_from(["self-signed", "attested", "email-verified"]),
        SOME_TEXT,
        st.none() | st.integers(0, 2**62),
        st.none() | MOMENTS,
        SOME_TEXT,
        SOME_TEXT,
        st.booleans(),
        SOME_TEXT,
    ),
    MOMENTS,
)
def test_every_codec_gives_back_an_equal_value(
    party: Party, representative: Representative, record: SignatureRecord, moment: datetime
) -> None:
    _round_trip(PARTIES, party.id, party)
    _round_trip(REPRESENTATIVES, representative.id, representative)
    _round_trip(SIGNATURES, record.id, record)
    _round_trip(TIMES, "t", moment)
    _round_trip(IDS, "i", "sig-1")


START = datetime(2019, 7, 12, tzinfo=UTC)
RECORDS = st.lists(
    st.tuples(st.sampled_from(["FRA", "DEU", "ESP"]), st.integers(0, 4), st.booleans()),
    max_size=14,
)


@settings(max_examples=200, deadline=None)
@given(RECORDS, st.none() | st.integers(-1, 5), st.integers(0, 3))
def test_the_latest_records_chosen_on_disk_are_those_chosen_in_memory(
    records: list[tuple[str, int, bool]], as_of: int | None, hot: int
) -> None:
    """Each party's latest record by time, the later recorded of two at one instant,
    ordered by time and id: SQLite chooses as the dict of every record does. The
    records may come in any order of time (a partial register is filled so)."""
    moment = None if as_of is None else START + timedelta(minutes=as_of)
    file = SpillFile(hot)
    in_memory, on_disk = Letter("L1", "FRA", None), Letter("L1", "FRA", None)
    on_disk.signatures = file.mapping(SIGNATURES)
    for n, (party, minutes, withdrawn) in enumerate(records):
        at = START + timedelta(minutes=minutes)
        for letter in (in_memory, on_disk):
            letter.signatures[f"s{(n * 7) % 10}{n}"] = SignatureRecord(
                f"s{(n * 7) % 10}{n}",
                "sign",
                party,
                1,
                at,
                "attested",
                None,
                n,
                withdrawn_at=at if withdrawn else None,
            )
        file.spill()
    assert list(latest_records(on_disk, moment)) == list(latest_records(in_memory, moment))
    assert signatory_list(on_disk, moment) == signatory_list(in_memory, moment)
    assert on_disk.signatures.spilled == (len(records) > hot)  # type: ignore[attr-defined]


def test_spill_dicts_are_made_by_their_file() -> None:
    file = SpillFile()
    assert isinstance(file.mapping(IDS), SpillDict)


def test_a_full_disk_is_a_spill_error() -> None:
    """SQLite's "database or disk is full" (here: the file may not grow past a few
    pages) is a CosignatoryError with a stable code, that says what to do."""
    file = SpillFile(hot=0)
    file.db.execute("PRAGMA max_page_count = 3")
    ids = file.mapping(IDS)
    with pytest.raises(SpillError) as caught:
        for n in range(10_000):
            ids[f"P{n}"] = "x" * 100
            file.spill()
    assert caught.value.code == "E_SPILL"
    assert "disk is full" in str(caught.value) and "TMPDIR" in str(caught.value)
