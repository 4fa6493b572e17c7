"""What goes into a bundle (``web.register.bundles.stream_bundle``), and what it costs.

A register built through the services, with what a bundle must bring along for the
rules to replay a letter on their own: a group party and its members, a
representative named on an attested signature and on an attested withdrawal, a
representative whose first mandate ended and whose first key was revoked, a
registration cancelled and made again, another letter registered in the same series.
"""

from __future__ import annotations

import io
import json
import tracemalloc
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from cosignatory.core.bundle import MEDIA_TYPE, read_lines
from cosignatory.core.errors import UnknownEntityError
from cosignatory.core.events import Event
from cosignatory.core.statements import SignedStatement, Statement
from cosignatory.core.verify import VerifiedBundle, verify_bundle
from cosignatory.tlog.errors import LogStateError, UnverifiedNoteError
from cosignatory.tlog.note import generate_ed25519
from cosignatory.tlog.policy import Policy
from cosignatory.web.log.models import LogCheckpoint
from cosignatory.web.register import models as m
from cosignatory.web.register import queries
from cosignatory.web.register import services as s
from cosignatory.web.register.bundles import CONTENT_TYPE, bundle_filename, stream_bundle

START = datetime(2019, 7, 1, 9, tzinfo=UTC)
NOTE = {"kind": "note-verbale", "reference": "NV/1", "date": "2019-07-01"}


def key_of(seed: int) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(bytes([seed]) * 32)


def self_sign(party: str, letter: str, rep: str, key: str, seed: int, action: str = "sign") -> None:
    row = m.Letter.objects.get(pk=letter)
    version = row.current_version
    if action == "withdraw":
        version = m.Signature.objects.get(letter=row, party_id=party, active=True).version
    text = m.TextVersion.objects.get(letter=row, version=version)
    statement = Statement(action, letter, version, text.text_hash, party, rep, key, s._now())
    s.submit_statement(SignedStatement(statement, statement.sign(key_of(seed))))


@pytest.fixture
def register(log: Any) -> Any:
    ticks = iter(START + timedelta(hours=n) for n in range(10_000))
    with s.use_clock(lambda: next(ticks)):
        s.initialise_register()
        s.create_body("council", {"en": "Council"}, "C")
        for number in (1, 2):
            s.create_session(
                f"c{number}",
                "council",
                number,
                {"en": f"Session {number}"},
                date(2019, 6, 1),
                date(2019, 12, 1),
                f"C/{number}/",
            )
        for code in ("FRA", "DEU", "ITA", "ESP", "PRT", "NOR"):
            s.register_state(code)
        s.register_party("grp-eu", "group", {"en": "A group"}, members=["FRA", "DEU"])
        s.register_representative("rep-grp", "Chair of the group")
        s.register_representative("rep-esp", "Ambassador of Spain")
        s.register_representative("rep-nor", "Ambassador of Norway")
        s.register_representative("rep-unused", "Someone else")
        s.grant_mandate("m-nor-1", "rep-nor", "NOR", START - timedelta(days=9), None, NOTE)
        s.grant_mandate("m-nor-x", "rep-nor", "ITA", START - timedelta(days=9), None, NOTE)
        s.register_key(
            "key-nor-1",
            "rep-nor",
            key_of(1).public_key().public_bytes_raw(),
            START - timedelta(days=9),
        )
        s.register_key(
            "key-unused",
            "rep-unused",
            key_of(9).public_key().public_bytes_raw(),
            START - timedelta(days=9),
        )
        for letter, lead in (("other", "ITA"), ("main", "grp-eu")):
            s.create_letter(
                letter, {"en": f"Letter {letter}"}, ["The President"], lead, date(2019, 7, 1), "c1"
            )
            s.add_text_version(letter, {"en": f"The text of {letter}."})
            s.open_letter(letter)
        self_sign("NOR", "main", "rep-nor", "key-nor-1", 1)
        s.record_attested("main", "grp-eu", "sign", NOTE, representative="rep-grp")
        s.record_attested("main", "ESP", "sign", NOTE)
        s.record_attested("other", "PRT", "sign", NOTE)
        s.end_mandate("m-nor-1", "replaced")
        s.revoke_key("key-nor-1", "replaced")
        s.grant_mandate("m-nor-2", "rep-nor", "NOR", s._now(), None, NOTE)
        s.register_key("key-nor-2", "rep-nor", key_of(2).public_key().public_bytes_raw(), s._now())
        for letter in ("other", "main"):
            s.transmit_letter(letter, date(2019, 7, 15))
        s.register_document("other", "c1", "G")  # C/1/G/1
        s.register_document("main", "c1", "G")  # C/1/G/2
        s.cancel_registration("main", "filed in the wrong session")
        s.register_document("main", "c2", "G")  # C/2/G/1
        s.reopen_letter("main")
        s.record_attested("main", "ESP", "withdraw", NOTE, representative="rep-esp")
        self_sign("NOR", "main", "rep-nor", "key-nor-2", 2, "withdraw")
        s.add_text_version("main", {"en": "The corrected text of main."})
        self_sign("NOR", "main", "rep-nor", "key-nor-2", 2, "accede")
    return log


def lines_of(letter: str, **kwargs: Any) -> list[bytes]:
    return list(stream_bundle(letter, **kwargs))


def events_in(lines: Iterable[bytes]) -> list[Event]:
    import base64

    return [
        Event.from_bytes(base64.b64decode(json.loads(line)["entry"])) for line in list(lines)[1:-1]
    ]


def verified(lines: list[bytes], log: Any) -> VerifiedBundle:
    return verify_bundle(lines, Policy.from_keys(log.verifiers[:1]))


def test_the_bundle_brings_what_the_rules_need_and_no_more(register: Any) -> None:
    lines = lines_of("main")
    result = verified(lines, register)
    assert result.register.letters["main"].symbol == "C/2/G/1"
    rows = {row.party: row for row in result.signatories()}
    assert set(rows) == {"NOR", "grp-eu", "ESP"}
    assert rows["NOR"].action == "accede" and rows["NOR"].active
    assert rows["ESP"].withdrawn_at is not None
    assert [r.signature for r in result.signatories()] == [
        r.signature for r in queries.signatory_list("main")
    ]
    named = {(e.type, e.data.get("id") or e.data.get("key")) for e in events_in(lines)}
    assert {("party.registered", p) for p in ("FRA", "DEU", "grp-eu", "ESP", "NOR")} <= named
    assert {("representative.registered", r) for r in ("rep-grp", "rep-esp", "rep-nor")} <= named
    assert {("mandate.granted", "m-nor-1"), ("mandate.ended", "m-nor-1")} <= named
    assert {("key.registered", "key-nor-1"), ("key.revoked", "key-nor-1")} <= named
    assert {
        ("session.created", "c1"),
        ("session.created", "c2"),
        ("body.created", "council"),
    } <= named
    # Nothing about the other letter, its signatory, or unused keys and mandates.
    for absent in (
        ("party.registered", "PRT"),
        ("party.registered", "ITA"),
        ("representative.registered", "rep-unused"),
        ("key.registered", "key-unused"),
        ("mandate.granted", "m-nor-x"),
    ):
        assert absent not in named
    assert all(e.data.get("letter") in (None, "main") for e in events_in(lines))
    indexes = [json.loads(line)["index"] for line in lines[1:-1]]
    assert indexes == sorted(set(indexes))


def test_the_other_letter_and_a_letter_led_by_a_plain_party(register: Any) -> None:
    result = verified(lines_of("other"), register)
    assert [row.party for row in result.signatories()] == ["PRT"]
    assert result.register.letters["other"].symbol == "C/1/G/1"


def test_a_bundle_at_an_earlier_checkpoint(register: Any) -> None:
    registrations = m.EventRecord.objects.filter(type="letter.registered", letter_id="main")
    size = registrations.order_by("log_index")[0].log_index  # just before the first
    older = LogCheckpoint.objects.filter(size=size).values_list("text", flat=True).get()
    lines = lines_of("main", checkpoint=older)
    result = verified(lines, register)
    assert result.checkpoint.size == size
    assert result.register.letters["main"].status == "transmitted"
    assert all(json.loads(line)["index"] < size for line in lines[1:-1])
    first = m.EventRecord.objects.get(type="letter.created", letter_id="main").log_index
    too_early = LogCheckpoint.objects.filter(size=first).values_list("text", flat=True).get()
    with pytest.raises(UnknownEntityError):
        stream_bundle("main", checkpoint=too_early)


def test_refusals_come_before_the_first_line(register: Any) -> None:
    with pytest.raises(UnknownEntityError):
        stream_bundle("no-such-letter")
    stranger = generate_ed25519(register.origin)
    from cosignatory.tlog.checkpoint import Checkpoint, sign_checkpoint

    forged = sign_checkpoint(Checkpoint(register.origin, 3, bytes(32)), [stranger])
    with pytest.raises(UnverifiedNoteError):
        stream_bundle("main", checkpoint=forged)
    wrong_root = sign_checkpoint(Checkpoint(register.origin, 3, bytes(32)), register.signers)
    with pytest.raises(LogStateError):
        stream_bundle("main", checkpoint=wrong_root)
    assert CONTENT_TYPE == MEDIA_TYPE == "application/x-ndjson"
    assert bundle_filename("main") == "main.cosignatory-bundle.jsonl"


def test_the_bundle_is_proven_against_the_head_read_at_the_start(register: Any) -> None:
    lines = stream_bundle("main")
    first = next(lines)
    s.record_attested("main", "FRA", "accede", NOTE)
    rest = list(lines)
    result = verified([first, *rest], register)
    assert "FRA" not in {row.party for row in result.signatories()}
    assert verified(lines_of("main"), register).checkpoint.size == register.size()


def _export_peak(letter: str) -> tuple[int, int]:
    """Stream a letter's bundle, discarding it; return (peak memory, bundle size)."""
    total = 0
    tracemalloc.start()
    try:
        for line in stream_bundle(letter):
            total += len(line)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak, total


@pytest.mark.slow
def test_a_large_letter_streams(log: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The export's memory does not grow with the letter: a letter of 1,000 signatures
    takes about what one of 10 does (a batch of entries, database cursors), though its
    bundle is a hundred times larger. A million signatures are for the benchmarks."""
    from cosignatory.web.register import bundles

    ticks = iter(START + timedelta(minutes=n) for n in range(10_000))
    with s.use_clock(lambda: next(ticks)):
        s.initialise_register()
        s.register_state("FRA")
        for letter in ("small", "big"):
            s.create_letter(letter, {"en": "A letter"}, ["The President"], "FRA", date(2019, 7, 1))
            s.add_text_version(letter, {"en": "Sign here."})
            s.open_letter(letter)
        for n in range(1_000):
            s.register_party(f"org-{n}", "organisation", {"en": f"Organisation {n}"})
            for letter in ("small", "big") if n < 10 else ("big",):
                s.record_attested(letter, f"org-{n}", "sign", NOTE)
    monkeypatch.setattr(bundles, "_BATCH", 64)
    _export_peak("small")  # the first run compiles queries and fills Django's caches
    small_peak, small_size = _export_peak("small")
    big_peak, big_size = _export_peak("big")
    assert big_size > 50 * small_size
    assert big_peak - small_peak < (big_size - small_size) / 10, (small_peak, big_peak, big_size)
    result = verified(list(read_lines(io.BytesIO(b"".join(stream_bundle("big"))))), log)
    assert len(result.signatories()) == 1_000
