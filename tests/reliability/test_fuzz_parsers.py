"""Every parser of outside data, fuzzed with Hypothesis: it parses or refuses clearly.

The targets and their contract are in ``fuzz/targets.py`` (shared with the atheris
harnesses): a parser either accepts the input (and writes it back as it was read) or
raises its module's documented error, with a stable code and a one-line message;
never an IndexError, a leaking ValueError, UnicodeDecodeError or RecursionError. Each
target gets random bytes, random text, and mutations of valid inputs (published
vectors and generated notes, keys, checkpoints, tiles, proofs, policies, bundles,
statements, events, CSV files and witness requests: ``fuzz/seeds.py``): a flipped
byte, a cut, a line duplicated or dropped, NUL, bidirectional controls, lone
surrogates, huge numbers, deep nesting. The JSON formats also get their values
replaced field by field, and the rules get sealed events with odd values. Hypothesis'
deadline bounds each example, so a parser that hangs fails too.

None of this needs a database. COSIGNATORY_FUZZ_EXAMPLES=5000 runs a longer search.
"""

from __future__ import annotations

import copy
import io
import json
import os
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from fuzz import seeds
from fuzz.targets import TARGETS, _refused
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cosignatory.core.bundle import read_lines
from cosignatory.core.errors import InvalidEventError, StatementError
from cosignatory.core.events import Event, parse_date, parse_time
from cosignatory.core.state import Register
from cosignatory.core.statements import SignedStatement
from cosignatory.core.verify import verify_bundle
from cosignatory.errors import CosignatoryError
from cosignatory.tlog.checkpoint import Checkpoint, sign_checkpoint
from cosignatory.tlog.note import add_signatures
from cosignatory.tlog.policy import MalformedPolicyError, Policy, WitnessQuorumError

pytestmark = pytest.mark.no_database

EXAMPLES = int(os.environ.get("COSIGNATORY_FUZZ_EXAMPLES", "150"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=timedelta(seconds=5),  # generous: a hang, not a slow machine, fails it
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    database=None,
)

NASTY: list[bytes] = [
    b"\x00",
    b"\r",
    b"\r\n",
    b"\n",
    b"\n\n",
    b"\t",
    b" ",
    b"\xff",
    b"\xed\xa0\x80",  # a UTF-16 surrogate, encoded (not UTF-8)
    b"\xc0\x80",  # an overlong NUL
    "\u202e".encode(),  # right-to-left override
    "\u2066".encode(),  # left-to-right isolate
    "\u200b".encode(),  # zero-width space
    "\ufeff".encode(),  # byte-order mark
    "\u2028".encode(),  # line separator
    "\u2014 ".encode(),  # the signature line's em dash
    "\u0662\u0660\u0661\u0669".encode(),  # 2019 in Arabic-Indic digits
    b"+",
    b"=",
    b"/",
    b"-1",
    b"0",
    b"00",
    b"9" * 20,
    b"9" * 5000,  # past CPython's int() digit limit
    b"1e999",
    b"NaN",
    b"[" * 3000,  # deeper than the recursion limit
    b'"\\ud800"',  # a lone surrogate, escaped in JSON
    b"\\u0000",
    b"x" * 70_000,
]


def _position(draw: st.DrawFn, data: bytearray) -> int:
    return draw(st.integers(0, len(data)))


def _lines(data: bytearray) -> list[bytes]:
    return bytes(data).split(b"\n")


def _mutate(draw: st.DrawFn, data: bytearray) -> bytearray:
    """One mutation of the kinds a corrupted, truncated or hostile file shows."""
    kind = draw(
        st.sampled_from(
            ["flip", "insert", "replace", "cut", "truncate", "dup_line", "drop_line", "swap"]
        )
    )
    at = _position(draw, data)
    if kind == "flip" and data:
        at = min(at, len(data) - 1)
        data[at] ^= draw(st.integers(1, 255))
    elif kind == "insert":
        data[at:at] = draw(st.sampled_from(NASTY) | st.binary(min_size=1, max_size=8))
    elif kind == "replace":
        end = draw(st.integers(at, min(len(data), at + 40)))
        data[at:end] = draw(st.sampled_from(NASTY))
    elif kind == "cut":
        end = draw(st.integers(at, min(len(data), at + 200)))
        del data[at:end]
    elif kind == "truncate":
        del data[at:]
    else:
        lines = _lines(data)
        one = draw(st.integers(0, len(lines) - 1))
        if kind == "dup_line":
            lines.insert(one, lines[one])
        elif kind == "drop_line":
            del lines[one]
        else:
            other = draw(st.integers(0, len(lines) - 1))
            lines[one], lines[other] = lines[other], lines[one]
        data = bytearray(b"\n".join(lines))
    return data


@st.composite
def mutated(draw: st.DrawFn, valid: list[bytes]) -> bytes:
    """A valid input with one to four mutations."""
    data = bytearray(draw(st.sampled_from(valid)))
    for _ in range(draw(st.integers(1, 4))):
        data = _mutate(draw, data)
    return bytes(data)


# Written into the JSON text as they are: json.dumps cannot write them (int() refuses
# to print 5,000 digits) and a parser must still refuse them clearly.
RAW = {
    "\x00huge": "9" * 5000,
    "\x00deep": "[" * 3000 + "]" * 3000,
    "\x00float": "1e999",
    "\x00nan": "NaN",
}
NASTY_JSON: list[Any] = [
    *RAW,
    None,
    True,
    0,
    -1,
    2**63,
    2**64 + 1,
    1.5,
    "",
    " ",
    "\u202eevil",
    "a\x00b",
    "\ud800",
    "x" * 5000,
    "\u0662\u0660\u0661\u0669-07-08T09:30:00.000000Z",
    "2019-02-30",
    [],
    {},
    [[[[[]]]]],
    {"kind": "self-signed"},
]


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a value inside a JSON document."""
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for number, item in enumerate(value):
            found += _paths(item, (*prefix, number))
    return found


def _replace(document: Any, path: tuple[Any, ...], new: Any, drop: bool) -> Any:
    if not path:
        return new
    parent = document
    for part in path[:-1]:
        parent = parent[part]
    if drop and isinstance(parent, dict):
        del parent[path[-1]]
    else:
        parent[path[-1]] = new
    return document


@st.composite
def json_mutated(draw: st.DrawFn, valid: list[bytes]) -> bytes:
    """A valid JSON document with a value replaced or a key dropped or added."""
    document = json.loads(draw(st.sampled_from(valid)))
    path = draw(st.sampled_from(_paths(document)))
    if draw(st.booleans()) and isinstance(document, dict):
        document[draw(st.sampled_from(["extra", "v", "data", "\u202e"]))] = draw(
            st.sampled_from(NASTY_JSON)
        )
    else:
        new = draw(st.sampled_from(NASTY_JSON) | st.integers() | st.text(max_size=20))
        document = _replace(document, path, new, drop=draw(st.booleans()))
    canonical = draw(st.booleans())
    if canonical:  # the events' own encoding, so the fields' checks are what refuses
        text = json.dumps(document, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    else:
        text = json.dumps(document)
    for sentinel, raw in RAW.items():
        text = text.replace(json.dumps(sentinel, ensure_ascii=False), raw)
    return text.encode("utf-8", "surrogatepass")


@st.composite
def bundle_json_mutated(draw: st.DrawFn) -> bytes:
    """A valid bundle with one line's JSON mutated."""
    lines = seeds.bundle().split(b"\n")
    number = draw(st.integers(0, len(lines) - 2))
    lines[number] = draw(json_mutated([lines[number]]))
    return b"\n".join(lines)


def _run(target: str, strategy: st.SearchStrategy[bytes], how: str) -> None:
    """Feed ``target`` the examples of ``strategy``; print what it accepted and refused."""
    check: Callable[[bytes], bool] = TARGETS[target]
    outcomes: Counter[str] = Counter()

    @FUZZ
    @given(strategy)
    def run(data: bytes) -> None:
        outcomes["accepted" if check(data) else "refused"] += 1

    run()
    print(
        f"\nfuzz {target} ({how}): {sum(outcomes.values())} examples, "
        f"{outcomes['accepted']} accepted, {outcomes['refused']} refused, 0 crashes"
    )


# -- every parser, three ways ----------------------------------------------------------------


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_random_bytes_are_parsed_or_refused_clearly(target: str) -> None:
    _run(target, st.binary(max_size=4000), "random bytes")


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_random_text_is_parsed_or_refused_clearly(target: str) -> None:
    lines = st.lists(st.text(max_size=80), max_size=12).map("\n".join)
    _run(target, lines.map(lambda text: text.encode("utf-8")), "random text")


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_mutated_valid_inputs_are_parsed_or_refused_clearly(target: str) -> None:
    valid = seeds.SEEDS[target]()
    for data in valid:  # the seeds themselves are accepted: the mutations start valid
        assert TARGETS[target](data), data[:200]
    _run(target, mutated(valid), "mutated valid inputs")


@pytest.mark.parametrize("target", ["event", "statement"])
def test_json_documents_with_any_field_changed_are_refused_clearly(target: str) -> None:
    _run(target, json_mutated(seeds.SEEDS[target]()), "JSON fields changed")


def test_bundles_with_a_line_changed_are_refused_clearly() -> None:
    _run("bundle", bundle_json_mutated(), "one line's JSON changed")


# -- regressions: the crashes fuzzing found, each with the input that caused it -------------


def test_an_event_with_a_number_of_5000_digits_is_refused() -> None:
    """Found by fuzzing: json.loads raised a bare ValueError (CPython's int digit limit)."""
    entry = json.loads(seeds.events()[0])
    text = json.dumps(entry).replace('"v": 1', '"v": ' + "9" * 5000)
    with pytest.raises(InvalidEventError, match="not JSON"):
        Event.from_bytes(text.encode())


def test_a_statement_file_with_a_number_of_5000_digits_is_refused() -> None:
    """Found by fuzzing: the same bare ValueError from SignedStatement.from_text."""
    document = json.loads(seeds.statements()[0])
    text = json.dumps(document).replace('"version": 1', '"version": ' + "1" * 5000)
    with pytest.raises(StatementError, match="not JSON"):
        SignedStatement.from_text(text)


def test_a_policy_text_with_a_lone_surrogate_is_refused() -> None:
    """Found by fuzzing: UnicodeEncodeError from Policy.from_text given such a str."""
    text = seeds.POLICY.to_text().replace("quorum g1", "quorum g\ud800")
    with pytest.raises(MalformedPolicyError, match="surrogate"):
        Policy.from_text(text)


def test_a_policy_of_deeply_nested_groups_checks_its_quorum() -> None:
    """Found by review while fuzzing: the quorum was checked by recursion through the
    groups, so a policy of 3,000 nested groups raised RecursionError on every
    checkpoint."""
    lines = [f"log {seeds.LOG_KEY.verifier().to_vkey()}"]
    lines.append(f"witness w1 {seeds.WITNESS.verifier().to_vkey()}")
    lines.append("group g0 any w1")
    lines += [f"group g{n} any g{n - 1}" for n in range(1, 3000)]
    policy = Policy.from_text("\n".join([*lines, "quorum g2999"]) + "\n")
    note = sign_checkpoint(Checkpoint(seeds.ORIGIN, 1, bytes(32)), [seeds.LOG_KEY])
    assert policy.open_checkpoint(add_signatures(note, [seeds.WITNESS])).witnesses == ("w1",)
    with pytest.raises(WitnessQuorumError):
        policy.open_checkpoint(note)


def test_times_and_dates_are_written_in_ascii_digits_only() -> None:
    """Found by fuzzing: ``\\d`` let "٢٠١٩-07-08T..." through, which strptime reads as
    2019, so a statement could carry a time with two spellings (its signature, over the
    ASCII spelling, then failed with a misleading E_SIG_INVALID)."""
    arabic = "\u0662\u0660\u0661\u0669"
    with pytest.raises(InvalidEventError):
        parse_time(f"{arabic}-07-08T09:30:00.000000Z")
    with pytest.raises(InvalidEventError):
        parse_date(f"{arabic}-07-08")
    document = json.loads(seeds.statements()[0])
    document["statement"]["at"] = arabic + document["statement"]["at"][4:]
    with pytest.raises(StatementError, match=r"statement\.at"):
        SignedStatement.from_json(document)


def test_an_unknown_field_named_with_a_newline_is_refused_on_one_line() -> None:
    """Found by atheris: the unknown field's name went into the message as it was, so a
    name holding a newline made a two-line error (and a forged line in a log)."""
    entry = json.loads(seeds.events()[0])
    entry["data"]["na\nme"] = "x"
    with pytest.raises(InvalidEventError) as refused:
        Event.from_bytes(json.dumps(entry).encode())
    assert "\n" not in str(refused.value)
    assert "'na\\nme'" in str(refused.value)


def test_a_statement_dated_before_the_year_1000_writes_back_what_was_signed() -> None:
    """Found by atheris: strftime wrote the year 129 as "129", so the statement's signed
    bytes were not those read (and parse_time refused its own output)."""
    document = json.loads(seeds.statements()[0])
    document["statement"]["at"] = "0129-06-24T09:19:00.000000Z"
    signed = SignedStatement.from_json(document)
    assert signed.to_json()["statement"]["at"] == "0129-06-24T09:19:00.000000Z"
    assert SignedStatement.from_json(signed.to_json()) == signed


def test_an_evidence_kind_that_is_not_a_string_is_refused() -> None:
    """Found by fuzzing the rules: ``"kind": []`` raised TypeError (unhashable) from
    Event.from_bytes, as it checked the kind against a dict."""
    for entry in map(json.loads, seeds.events()):
        if entry["type"] == "signature.recorded":
            entry["data"]["evidence"]["kind"] = []
            with pytest.raises(InvalidEventError, match="evidence kind"):
                Event.from_bytes(json.dumps(entry).encode())
            return
    raise AssertionError("the seeds hold no signature.recorded event")


# -- the rules, given well-formed events with odd values ------------------------------------


def _replay_world() -> tuple[Any, list[Any], list[Register]]:
    """A world's events (signatures of each kind, a withdrawal, an accession) and the
    register as it stood before each one."""
    from tests.core.conftest import build_world

    world = build_world()
    world.step("letter.opened")
    world.sign("FRA")
    deu = world.sign("DEU", evidence="attested")
    world.withdraw("DEU", deu, evidence="attested")
    world.transmit()
    world.step("letter.reopened")
    world.sign("ESP", "accede", evidence="attested")
    before, register = [], Register()
    for event in world.applied:
        before.append(copy.deepcopy(register))
        register.apply(event)
    return world, list(world.applied), before


RULE_VALUES: list[Any] = [
    *(value for value in NASTY_JSON if not (isinstance(value, str) and value in RAW)),
    *("FRA", "DEU", "ESP", "XYZ", "L1", "L2", "hrc41", "sig-1", "rep-fra", "key-fra"),
    *(0, 1, 2, 10_000, "2019-07-08", "2019-06-24T09:30:00.000000Z"),
    *("sign", "accede", "withdraw", "attested", "self-signed", "email-verified"),
]


def test_sealed_events_with_any_field_changed_are_judged_or_refused_clearly() -> None:
    """What a verifier replays: an event of the world with one value changed, sealed by
    the registrar, applied to the register as it stood. The rules accept it or raise a
    CosignatoryError; they never crash on a well-formed event."""
    world, events, before = _replay_world()
    outcomes: Counter[str] = Counter()

    @FUZZ
    @given(st.integers(0, len(events) - 1), st.data())
    def run(number: int, data: st.DataObject) -> None:
        event = events[number]
        fields = json.loads(json.dumps(event.data))
        path = data.draw(st.sampled_from(_paths(fields)[1:]))
        fields = _replace(
            fields, path, data.draw(st.sampled_from(RULE_VALUES)), data.draw(st.booleans())
        )
        try:
            changed = Event.make(event.type, event.at, fields)
            changed = changed.sealed(
                world.registrar_id, world.registrar.sign(changed.signed_bytes())
            )
        except InvalidEventError as error:
            _refused(error)
            outcomes["malformed"] += 1
            return
        try:
            copy.deepcopy(before[number]).apply(changed)
            outcomes["accepted"] += 1
        except CosignatoryError as error:
            _refused(error)
            outcomes[error.code] += 1

    run()
    print(f"\nfuzz the rules (sealed events, a field changed): {dict(outcomes)}")


def test_a_changed_bundle_that_still_verifies_proves_the_same() -> None:
    """Some changes leave a bundle valid (JSON spacing, a byte of a signature by a key
    the policy does not trust): then it must prove exactly what the original proves."""
    original = verify_bundle(read_lines(io.BytesIO(seeds.bundle())), seeds.POLICY).to_json()
    outcomes: Counter[str] = Counter()

    @FUZZ
    @given(mutated([seeds.bundle()]) | bundle_json_mutated())
    def run(data: bytes) -> None:
        try:
            verified = verify_bundle(read_lines(io.BytesIO(data)), seeds.POLICY)
        except CosignatoryError as error:
            _refused(error)
            outcomes["refused"] += 1
            return
        assert verified.to_json() == original
        outcomes["still valid, the same"] += 1

    run()
    print(f"\nfuzz bundle (does a changed bundle prove the same?): {dict(outcomes)}")
