"""The signatory list from the tables agrees with the one replayed from the log."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from cosignatory.core import signatories
from cosignatory.core.errors import InvalidEventError, UnknownEntityError
from cosignatory.core.events import Event
from cosignatory.core.state import Register
from cosignatory.web.register import demo, queries
from cosignatory.web.register import models as m
from cosignatory.web.register import services as s


def replay(log: Any) -> Register:
    """The register rebuilt from every entry of the log, judged by the rules again."""
    register = Register()
    for index, entry in enumerate(log.entries(0, log.size())):
        try:
            event = Event.from_bytes(entry)
        except InvalidEventError:
            continue  # not a register event (the log may hold other entries)
        register.apply(event, index)
    return register


def as_core(row: queries.SignatoryRow) -> signatories.SignatoryEntry:
    return signatories.SignatoryEntry(
        row.signature,
        row.party,
        row.action,
        row.version,
        row.at,
        row.evidence,
        row.representative,
        row.withdrawn_at,
        row.on_earlier_version,
        row.voided,
    )


@pytest.fixture
def demo_register(log: Any) -> Any:
    demo.load_demo()
    # Later history on top of the demo's: a re-signature on a new text version, and a
    # signature, withdrawal and accession of one party on one letter.
    letter = "demo-open-letter"
    s.add_text_version(letter, {"en": "We support open data for research, version two."})
    s.record_attested(
        letter,
        "org-demo-heritage",
        "sign",
        {"kind": "letter", "reference": "R/2", "date": "2019-08-02"},
    )
    s.record_attested(
        letter, "FRA", "sign", {"kind": "fax", "reference": "F/1", "date": "2019-08-02"}
    )
    s.record_attested(
        letter, "FRA", "withdraw", {"kind": "fax", "reference": "F/2", "date": "2019-08-03"}
    )
    s.record_attested(
        letter, "FRA", "sign", {"kind": "fax", "reference": "F/3", "date": "2019-08-04"}
    )
    return log


def instants(letter: str) -> list[datetime | None]:
    """Every instant at which the letter's list may change, a microsecond either side."""
    times = set(m.EventRecord.objects.filter(letter_id=letter).values_list("at", flat=True))
    times.update(
        t
        for t in m.Signature.objects.filter(letter_id=letter).values_list("withdrawn_at", flat=True)
        if t
    )
    tick = timedelta(microseconds=1)
    out: list[datetime | None] = [None]
    for t in sorted(times):
        out.extend((t - tick, t, t + tick))
    return out


def test_the_tables_agree_with_a_replay_of_the_log(demo_register: Any) -> None:
    register = replay(demo_register)
    letters = list(m.Letter.objects.values_list("id", flat=True))
    assert set(letters) == set(register.letters)
    checked = 0
    for letter in letters:
        for as_of in instants(letter):
            expected = signatories.signatory_list(register.letter(letter), as_of)
            found = queries.signatory_list(letter, as_of)
            assert [as_core(row) for row in found] == expected, (letter, as_of)
            checked += len(found)
    assert checked > 100


def test_the_list_shows_every_kind_of_standing(demo_register: Any) -> None:
    heritage = {row.party: row for row in queries.signatory_list("demo-heritage")}
    assert heritage["PRT"].withdrawn_at is not None and not heritage["PRT"].active
    assert heritage["ITA"].action == "accede"
    assert heritage["FRA"].evidence == "self-signed"
    assert heritage["FRA"].evidence_detail == "signed with key key-fra"
    assert heritage["ESP"].evidence_detail.startswith("note-verbale DEMO/NV/")
    assert heritage["ESP"].party_name() == "Spain" and heritage["ESP"].party_kind == "state"
    assert heritage["ESP"].party_name("fr") == "Espagne"
    development = {row.party: row for row in queries.signatory_list("demo-development")}
    assert development["BOL"].voided and not development["BOL"].active
    assert all(row.on_earlier_version for row in development.values())
    open_letter = queries.signatory_list("demo-open-letter")
    by_party = {row.party: row for row in open_letter}
    assert by_party["org-demo-heritage"].version == 2
    assert not by_party["org-demo-heritage"].on_earlier_version
    assert by_party["FRA"].active and by_party["FRA"].evidence_detail == "fax F/3, 2019-08-04"
    persons = [row for row in open_letter if row.party_kind == "person"]
    assert len(persons) == 3 and all(row.evidence == "email-verified" for row in persons)


def test_a_date_means_the_end_of_that_day_utc(demo_register: Any) -> None:
    prt = m.Signature.objects.get(letter_id="demo-heritage", party_id="PRT")
    assert prt.withdrawn_at is not None
    day = prt.withdrawn_at.date()
    end = datetime(day.year, day.month, day.day, 23, 59, 59, 999999, tzinfo=UTC)
    assert queries.signatory_list("demo-heritage", day) == queries.signatory_list(
        "demo-heritage", end
    )
    on_the_day = {r.party: r for r in queries.signatory_list("demo-heritage", day)}
    day_before = {
        r.party: r for r in queries.signatory_list("demo-heritage", day - timedelta(days=1))
    }
    assert on_the_day["PRT"].withdrawn_at == prt.withdrawn_at
    assert day_before["PRT"].withdrawn_at is None
    assert queries.signatory_list("demo-heritage", date(2000, 1, 1)) == []


def test_a_fixed_number_of_queries(demo_register: Any, django_assert_max_num_queries: Any) -> None:
    with django_assert_max_num_queries(2):
        rows = queries.signatory_list("demo-heritage", date(2019, 7, 31))
    assert len(rows) > 10


def test_an_unknown_letter_or_a_naive_time_is_refused(demo_register: Any) -> None:
    with pytest.raises(UnknownEntityError):
        queries.signatory_list("no-such-letter")
    with pytest.raises(ValueError):
        queries.signatory_list("demo-heritage", datetime(2019, 7, 31))  # noqa: DTZ001
