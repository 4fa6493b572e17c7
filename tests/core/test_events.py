"""Events: schema validation in ``Event.make`` and the log entry encoding."""

from __future__ import annotations

import base64
import json
import unicodedata
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cosignatory.core.canonical import canonical_json, text_hash
from cosignatory.core.errors import EvidenceError, InvalidEventError
from cosignatory.core.events import (
    LANGUAGES,
    MAX_ENTRY_BYTES,
    Event,
    format_time,
    parse_time,
)
from cosignatory.core.state import Register
from cosignatory.tlog.errors import SignatureInvalidError
from tests.core.conftest import INSTRUMENT, World, private_key, public_b64
from tests.core.test_canonical import _JSON as JSON_VALUES

AT = datetime(2019, 7, 8, 9, 30, tzinfo=UTC)
REGISTRAR = private_key(1)

# Unicode 15.1 PropList.txt, property Bidi_Control (all twelve code points).
BIDI_CONTROLS = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
# Invisible characters the register also refuses in names.
INVISIBLE = "\u200b\u200c\u200d\u2060\u2061\u2062\u2063\u2064\ufeff\u00ad"

PARTY = {"id": "FRA", "kind": "state", "names": {"en": "France"}, "code": "FRA"}
SIGNATURE = {
    "id": "sig-1",
    "action": "sign",
    "letter": "L1",
    "version": 1,
    "text_hash": "ab" * 32,
    "party": "FRA",
    "evidence": {"kind": "attested", "instrument": INSTRUMENT},
}


def sealed(event: Event) -> Event:
    return event.sealed("registrar-1", REGISTRAR.sign(event.signed_bytes()))


def entry(type: str = "party.registered", data: dict[str, Any] | None = None) -> bytes:
    return sealed(Event.make(type, AT, PARTY if data is None else data)).to_bytes()


# -- Event.make: schemas ------------------------------------------------------------


def test_make_returns_the_checked_event() -> None:
    event = Event.make("party.registered", AT, PARTY)
    assert (event.type, event.at, dict(event.data), event.v) == ("party.registered", AT, PARTY, 1)
    assert event.registrar_key == "" and event.registrar_sig == b""


def test_unknown_type_is_refused() -> None:
    with pytest.raises(InvalidEventError):
        Event.make("party.deleted", AT, {"id": "FRA"})


@pytest.mark.parametrize(
    ("type", "data"),
    [
        ("party.registered", {**PARTY, "colour": "blue"}),
        ("letter.opened", {"letter": "L1", "by": "FRA"}),
        ("signature.recorded", {**SIGNATURE, "evidence": {**SIGNATURE["evidence"], "x": 1}}),
    ],
    ids=["party", "letter", "nested-evidence"],
)
def test_unknown_fields_are_refused(type: str, data: dict[str, Any]) -> None:
    with pytest.raises(InvalidEventError):
        Event.make(type, AT, data)


@pytest.mark.parametrize("field", ["id", "kind", "names"])
def test_missing_fields_are_refused(field: str) -> None:
    with pytest.raises(InvalidEventError):
        Event.make("party.registered", AT, {k: v for k, v in PARTY.items() if k != field})


def test_optional_fields_may_be_left_out_or_null() -> None:
    Event.make("party.registered", AT, {"id": "X", "kind": "person", "names": {"en": "X"}})
    Event.make("signature.recorded", AT, {**SIGNATURE, "representative": None})


@pytest.mark.parametrize(
    ("type", "data"),
    [
        ("party.registered", {**PARTY, "kind": "company"}),
        ("party.registered", {**PARTY, "id": "has space"}),
        ("party.registered", {**PARTY, "id": 7}),
        ("party.registered", {**PARTY, "names": "France"}),
        ("party.registered", {**PARTY, "names": {}}),
        ("party.registered", {**PARTY, "names": {"de": "Frankreich"}}),
        ("party.registered", {**PARTY, "names": {"en": ""}}),
        ("party.registered", {**PARTY, "names": {"en": " France"}}),
        ("party.registered", {**PARTY, "names": {"en": "Fra\nnce"}}),
        ("party.registered", {**PARTY, "contact": "not-an-email"}),
        ("party.registered", {**PARTY, "members": "DEU"}),
        ("signature.recorded", {**SIGNATURE, "version": "1"}),
        ("signature.recorded", {**SIGNATURE, "version": True}),
        ("signature.recorded", {**SIGNATURE, "version": 0}),
        ("signature.recorded", {**SIGNATURE, "action": "endorse"}),
        ("signature.recorded", {**SIGNATURE, "text_hash": "AB" * 32}),
        ("signature.recorded", {**SIGNATURE, "text_hash": "ab" * 31}),
        ("signature.recorded", {**SIGNATURE, "evidence": {"kind": "rumour"}}),
        ("signature.recorded", {**SIGNATURE, "evidence": {"kind": "attested"}}),
        (
            "signature.recorded",
            {
                **SIGNATURE,
                "evidence": {"kind": "attested", "instrument": {**INSTRUMENT, "date": "8 July"}},
            },
        ),
        (
            "session.created",
            {
                "id": "s",
                "body": "b",
                "number": 41,
                "names": {"en": "41"},
                "start": "2019-02-30",
                "end": "2019-07-12",
                "symbol_prefix": "A/",
            },
        ),
        (
            "key.registered",
            {"id": "k", "representative": "r", "public_key": "AAAA", "valid_from": format_time(AT)},
        ),
        (
            "key.registered",
            {
                "id": "k",
                "representative": "r",
                "public_key": public_b64(REGISTRAR),
                "valid_from": "2019-07-08T09:30:00Z",
            },
        ),
        (
            "letter.text_version_added",
            {"letter": "L1", "version": 1, "texts": {"en": "  "}, "text_hash": "ab" * 32},
        ),
        (
            "letter.text_version_added",
            {"letter": "L1", "version": 1, "texts": {"en": "a\x00"}, "text_hash": "ab" * 32},
        ),
    ],
)
def test_wrong_values_are_refused(type: str, data: dict[str, Any]) -> None:
    with pytest.raises(InvalidEventError):
        Event.make(type, AT, data)


@pytest.mark.parametrize("data", [["letter", "L1"], "xy", 5, None])
def test_data_that_is_not_an_object_is_refused(data: Any) -> None:
    with pytest.raises(InvalidEventError):
        Event.make("letter.opened", AT, data)


@pytest.mark.parametrize("char", BIDI_CONTROLS + INVISIBLE)
def test_bidi_and_invisible_characters_in_names_are_refused(char: str) -> None:
    name = f"Fran{char}ce"
    for type, data in [
        ("party.registered", {**PARTY, "names": {"en": name}}),
        ("representative.registered", {"id": "rep", "name": name}),
        ("registrar.key_added", {"key": "k", "public_key": public_b64(REGISTRAR), "name": name}),
        (
            "letter.created",
            {
                "id": "L1",
                "title": {"fr": name},
                "addressees": [name],
                "lead_party": "FRA",
                "date": "2019-07-08",
            },
        ),
    ]:
        with pytest.raises(InvalidEventError):
            Event.make(type, AT, data)


def test_names_in_every_un_language_are_accepted() -> None:
    names = {
        "ar": "فرنسا",
        "zh": "法国",
        "en": "France",
        "fr": "France",
        "ru": "Франция",
        "es": "Francia",
    }
    assert set(names) == set(LANGUAGES)
    assert Event.make("party.registered", AT, {**PARTY, "names": names}).data["names"] == names


def test_data_is_nfc_normalised() -> None:
    nfd = unicodedata.normalize("NFD", "Côte d'Ivoire")
    event = Event.make("party.registered", AT, {**PARTY, "names": {"fr": nfd}})
    assert event.data["names"]["fr"] == unicodedata.normalize("NFC", nfd)


def test_times_are_utc_with_microseconds() -> None:
    paris = timezone(timedelta(hours=2))
    event = Event.make(
        "letter.opened", datetime(2019, 7, 8, 11, 30, 0, 5, tzinfo=paris), {"letter": "L1"}
    )
    assert event.at == datetime(2019, 7, 8, 9, 30, 0, 5, tzinfo=UTC)
    assert event.body()["at"] == "2019-07-08T09:30:00.000005Z"
    with pytest.raises(InvalidEventError):
        Event.make("letter.opened", datetime(2019, 7, 8), {"letter": "L1"})  # noqa: DTZ001


@given(st.datetimes(timezones=st.just(UTC)))
def test_a_time_reads_back_as_written(moment: datetime) -> None:
    text = format_time(moment)
    assert parse_time(text) == moment
    assert parse_time(text).tzinfo == UTC


@given(st.from_regex(r"\A[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z\Z"))
def test_a_time_in_the_format_is_read_as_strptime_reads_it(text: str) -> None:
    """Any string of the right shape: the same moment as strptime, or the same refusal."""
    try:
        expected = datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    except ValueError:
        with pytest.raises(InvalidEventError, match="does not exist"):
            parse_time(text)
    else:
        assert parse_time(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "2026-02-30T00:00:00.000000Z",
        "2026-01-01T24:00:00.000000Z",
        "2026-01-01T23:59:60.000000Z",
        "0000-01-01T00:00:00.000000Z",
        "2026-01-01T00:00:00.000000+00:00",
        "2026-01-01T00:00:00Z",
        "2026-01-01 00:00:00.000000Z",
        "٢٠٢٦-01-01T00:00:00.000000Z",
    ],
)
def test_a_time_out_of_the_format_or_the_calendar_is_refused(text: str) -> None:
    with pytest.raises(InvalidEventError):
        parse_time(text)


# -- the log entry ------------------------------------------------------------------


def test_entry_is_the_documented_canonical_json() -> None:
    event = sealed(Event.make("letter.opened", AT, {"letter": "L1"}))
    sig = base64.b64encode(event.registrar_sig).decode()
    assert (
        event.to_bytes()
        == (
            '{"at":"2019-07-08T09:30:00.000000Z","data":{"letter":"L1"},'
            f'"registrar":{{"key":"registrar-1","sig":"{sig}"}},"type":"letter.opened","v":1}}'
        ).encode()
    )
    assert event.signed_bytes() == canonical_json(
        {
            "v": 1,
            "type": "letter.opened",
            "at": "2019-07-08T09:30:00.000000Z",
            "data": {"letter": "L1"},
        }
    )


def test_round_trip_of_a_signature_with_a_signed_statement(opened: World) -> None:
    event = opened.signature("FRA")
    assert Event.from_bytes(event.to_bytes()) == event


def test_unsealed_events_cannot_be_logged_or_read() -> None:
    event = Event.make("party.registered", AT, PARTY)
    with pytest.raises(InvalidEventError):
        event.to_bytes()
    unsealed = canonical_json(event.body())
    with pytest.raises(InvalidEventError):
        Event.from_bytes(unsealed)


def _rewrite(raw: bytes, change: Any) -> bytes:
    value = json.loads(raw)
    change(value)
    return canonical_json(value)


@pytest.mark.parametrize(
    "mutate",
    [
        lambda raw: raw + b"\n",
        lambda raw: raw.replace(b'":', b'": '),
        lambda raw: json.dumps(json.loads(raw), ensure_ascii=True).encode(),
        lambda raw: json.dumps(json.loads(raw), sort_keys=False).encode()[::-1],
        lambda raw: raw.replace("Côte".encode(), unicodedata.normalize("NFD", "Côte").encode()),
        lambda raw: raw.replace(b'"v":1', b'"v":1.0'),
        lambda raw: raw.replace(b'"v":1', b'"v":2'),
        lambda raw: raw.replace(b"Z", b"+00:00", 1),
        lambda raw: _rewrite(raw, lambda v: v.update(extra=1)),
        lambda raw: _rewrite(raw, lambda v: v.update(data="xy")),
        lambda raw: _rewrite(raw, lambda v: v.update(data=[["id", "FRA"]])),
        lambda raw: _rewrite(raw, lambda v: v.pop("registrar")),
        lambda raw: _rewrite(raw, lambda v: v["registrar"].update(sig="AAAA")),
        lambda raw: _rewrite(raw, lambda v: v["data"].update(colour="blue")),
        lambda raw: _rewrite(raw, lambda v: v.update(type="party.deleted")),
        lambda raw: b"\xff" + raw,
        lambda raw: raw[:-1],
        lambda raw: b"[]",
    ],
)
def test_from_bytes_refuses_non_canonical_or_invalid_entries(mutate: Any) -> None:
    raw = entry(data={**PARTY, "names": {"fr": "Côte d'Ivoire"}})
    Event.from_bytes(raw)  # the original is fine
    changed = mutate(raw)
    assert changed != raw
    with pytest.raises(InvalidEventError):
        Event.from_bytes(changed)


def test_oversized_entries_are_refused() -> None:
    texts = {lang: "x" * 11_000 for lang in LANGUAGES}
    data = {"letter": "L1", "version": 1, "texts": texts, "text_hash": text_hash(texts)}
    event = sealed(Event.make("letter.text_version_added", AT, data))
    with pytest.raises(InvalidEventError):
        event.to_bytes()
    with pytest.raises(InvalidEventError):
        Event.from_bytes(b" " * (MAX_ENTRY_BYTES + 1))


def test_a_tampered_canonical_entry_parses_but_its_seal_fails() -> None:
    register = Register()
    key_added = sealed(
        Event.make(
            "registrar.key_added",
            AT,
            {"key": "registrar-1", "public_key": public_b64(REGISTRAR), "name": "Registrar"},
        )
    )
    register.apply(Event.from_bytes(key_added.to_bytes()))
    tampered = entry().replace(b'"France"', b'"Franco"')
    event = Event.from_bytes(tampered)
    with pytest.raises(SignatureInvalidError):
        register.apply(event)
    assert "FRA" not in register.parties


# -- round trips (Hypothesis) -------------------------------------------------------

_name_chars = st.characters(
    categories=("L", "N", "P", "S", "Zs"),
    exclude_characters=BIDI_CONTROLS + INVISIBLE + "\u3164\u115f\u1160\uffa0",
)
names = st.text(_name_chars, min_size=1, max_size=30).filter(lambda s: s == s.strip() and s)
ids = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,20}", fullmatch=True)
times = st.datetimes(
    # Hypothesis takes naive bounds and adds the zone from timezones=.
    min_value=datetime(2000, 1, 1),  # noqa: DTZ001
    max_value=datetime(2100, 1, 1),  # noqa: DTZ001
    timezones=st.just(UTC),
)
languages = st.sampled_from(LANGUAGES)
texts = st.dictionaries(
    languages,
    st.text(st.characters(codec="utf-8", exclude_categories=("Cc", "Cs")), max_size=200).map(
        lambda t: "# Letter\n" + t
    ),
    min_size=1,
)


@st.composite
def events(draw: st.DrawFn) -> Event:
    kind = draw(st.sampled_from(["party", "text", "signature", "body", "dispute"]))
    if kind == "party":
        data: dict[str, Any] = {
            "id": draw(ids),
            "kind": draw(st.sampled_from(["state", "organisation", "person", "group"])),
            "names": draw(st.dictionaries(languages, names, min_size=1)),
        }
        if draw(st.booleans()):
            data["members"] = draw(st.lists(ids, max_size=5))
        return Event.make("party.registered", draw(times), data)
    if kind == "text":
        chosen = draw(texts)
        data = {
            "letter": draw(ids),
            "version": draw(st.integers(1, 10_000)),
            "texts": chosen,
            "text_hash": text_hash(chosen),
        }
        return Event.make("letter.text_version_added", draw(times), data)
    if kind == "body":
        data = {
            "id": draw(ids),
            "names": draw(st.dictionaries(languages, names, min_size=1)),
            "symbol_root": draw(st.text(max_size=40).filter(lambda s: s.isprintable())),
        }
        return Event.make("body.created", draw(times), data)
    if kind == "dispute":
        data = {
            "id": draw(ids),
            "signature": draw(ids),
            "party": draw(ids),
            "statement": draw(st.text(st.characters(exclude_categories=("Cc", "Cs")))),
            "evidence": {**INSTRUMENT, "reference": draw(names)},
        }
        return Event.make("dispute.filed", draw(times), data)
    data = {
        **SIGNATURE,
        "id": draw(ids),
        "action": draw(st.sampled_from(["sign", "accede", "withdraw"])),
        "version": draw(st.integers(1, 10_000)),
        "text_hash": draw(st.binary(min_size=32, max_size=32)).hex(),
        "party": draw(ids),
    }
    return Event.make("signature.recorded", draw(times), data)


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(events())
def test_to_bytes_from_bytes_round_trip(event: Event) -> None:
    event = sealed(event)
    raw = event.to_bytes()
    again = Event.from_bytes(raw)
    assert again == event
    assert again.to_bytes() == raw
    assert event.to_bytes(event.signed_bytes()) == raw  # the seal written into them
    assert Event.from_entry(raw) == (event, event.signed_bytes())


@settings(max_examples=300)
@given(JSON_VALUES, st.sampled_from(["letter.opened", "x\u00e9\U0001f600", "e\u0301"]))
def test_the_entry_from_the_signed_bytes_is_the_entry(data: Any, type: str) -> None:
    """Writing the seal into the signed bytes gives what encoding the whole event gives,
    for any data the canonical encoder takes (astral keys, escapes, NFC rewrites)."""
    try:
        signed = canonical_json(data)
    except InvalidEventError:
        return  # outside what can be signed
    event = Event(type, AT, {"value": data}, "registrar-1", b"\x01" * 64)
    assert event.to_bytes(event.signed_bytes()) == event.to_bytes()
    assert signed in event.to_bytes()
    # Bytes that are not this event's signed bytes are not used.
    assert event.to_bytes(b"{}") == event.to_bytes()


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(events(), st.data())
def test_no_changed_byte_is_accepted(event: Event, data: st.DataObject) -> None:
    """A changed entry is refused when parsed, or parses to another event whose seal fails."""
    register = Register()
    introduction = Event.make(
        "registrar.key_added",
        AT - timedelta(days=365 * 100),
        {"key": "registrar-1", "public_key": public_b64(REGISTRAR), "name": "Registrar"},
    )
    register.apply(sealed(introduction))
    raw = sealed(event).to_bytes()
    position = data.draw(st.integers(0, len(raw) - 1))
    replacement = data.draw(st.integers(0, 255).filter(lambda b: b != raw[position]))
    changed = raw[:position] + bytes([replacement]) + raw[position + 1 :]
    try:
        parsed = Event.from_bytes(changed)
    except InvalidEventError:
        return
    assert parsed != event
    with pytest.raises((SignatureInvalidError, EvidenceError)):
        register._check_seal(parsed)
