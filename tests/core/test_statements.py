"""Signed statements: the bytes a representative signs, their files, their checking."""

from __future__ import annotations

import base64
import dataclasses
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cosignatory.core.canonical import canonical_json
from cosignatory.core.errors import StatementError
from cosignatory.core.statements import KIND, SignedStatement, Statement
from cosignatory.tlog.errors import SignatureInvalidError
from tests.core.conftest import private_key

KEY = private_key(10)
PUBLIC = KEY.public_key().public_bytes_raw()
STATEMENT = Statement(
    "sign",
    "L1",
    2,
    "ab" * 32,
    "FRA",
    "rep-fra",
    "key-fra",
    datetime(2019, 7, 8, 9, 30, tzinfo=UTC),
)

ids = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}", fullmatch=True)
statements = st.builds(
    Statement,
    action=st.sampled_from(["sign", "accede", "withdraw"]),
    letter=ids,
    version=st.integers(1, 10_000),
    text_hash=st.binary(min_size=32, max_size=32).map(bytes.hex),
    party=ids,
    representative=ids,
    key=ids,
    at=st.datetimes(
        # Hypothesis takes naive bounds and adds the zone from timezones=.
        min_value=datetime(2000, 1, 1),  # noqa: DTZ001
        max_value=datetime(2100, 1, 1),  # noqa: DTZ001
        timezones=st.just(UTC),
    ),
)


def test_signed_bytes_are_the_documented_canonical_json() -> None:
    assert STATEMENT.signed_bytes() == (
        b'{"action":"sign","at":"2019-07-08T09:30:00.000000Z","key":"key-fra",'
        b'"kind":"cosignatory.statement","letter":"L1","party":"FRA",'
        b'"representative":"rep-fra","text_hash":"' + b"ab" * 32 + b'","v":1,"version":2}'
    )
    assert STATEMENT.signed_bytes() == canonical_json(STATEMENT.to_json())
    assert STATEMENT.to_json()["kind"] == KIND


@settings(max_examples=100)
@given(statements)
def test_statement_json_round_trip(statement: Statement) -> None:
    assert Statement.from_json(statement.to_json()) == statement
    assert Statement.from_json(json.loads(statement.signed_bytes())) == statement


@settings(max_examples=50)
@given(statements, st.integers(1, 255))
def test_signed_statement_text_round_trip(statement: Statement, seed: int) -> None:
    signed = SignedStatement(statement, statement.sign(private_key(seed)))
    text = signed.to_text()
    assert text.endswith("\n")
    again = SignedStatement.from_text(text)
    assert again == signed
    assert again.to_text() == text
    assert SignedStatement.from_json(signed.to_json()) == signed
    again.statement.verify(again.signature, private_key(seed).public_key().public_bytes_raw())


def test_a_good_signature_verifies() -> None:
    STATEMENT.verify(STATEMENT.sign(KEY), PUBLIC)


def test_every_flipped_bit_in_the_signature_fails() -> None:
    signature = STATEMENT.sign(KEY)
    for bit in range(len(signature) * 8):
        flipped = bytearray(signature)
        flipped[bit // 8] ^= 1 << (bit % 8)
        with pytest.raises(SignatureInvalidError):
            STATEMENT.verify(bytes(flipped), PUBLIC)


@pytest.mark.parametrize(
    "change",
    [
        {"action": "withdraw"},
        {"letter": "L2"},
        {"version": 3},
        {"text_hash": "cd" * 32},
        {"party": "DEU"},
        {"representative": "rep-deu"},
        {"key": "key-deu"},
        {"at": datetime(2019, 7, 8, 9, 30, 1, tzinfo=UTC)},
    ],
)
def test_a_signature_does_not_cover_another_statement(change: dict[str, Any]) -> None:
    signature = STATEMENT.sign(KEY)
    with pytest.raises(SignatureInvalidError):
        dataclasses.replace(STATEMENT, **change).verify(signature, PUBLIC)


@pytest.mark.parametrize("public", [private_key(11).public_key().public_bytes_raw(), b"short"])
def test_another_or_malformed_key_fails(public: bytes) -> None:
    with pytest.raises(SignatureInvalidError):
        STATEMENT.verify(STATEMENT.sign(KEY), public)


@pytest.mark.parametrize(
    "change",
    [
        {"v": 2},
        {"kind": "something.else"},
        {"action": "endorse"},
        {"version": 0},
        {"version": "2"},
        {"text_hash": "AB" * 32},
        {"at": "2019-07-08T09:30:00Z"},
        {"party": "has space"},
        {"extra": 1},
    ],
)
def test_from_json_refuses_wrong_fields(change: dict[str, Any]) -> None:
    with pytest.raises(StatementError):
        Statement.from_json({**STATEMENT.to_json(), **change})


@pytest.mark.parametrize("field", ["v", "kind", "action", "letter", "key", "at"])
def test_from_json_refuses_missing_fields(field: str) -> None:
    value = STATEMENT.to_json()
    del value[field]
    with pytest.raises(StatementError):
        Statement.from_json(value)


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        "[]",
        '{"statement": {}}',
        json.dumps({"statement": STATEMENT.to_json(), "signature": "AAAA"}),
        json.dumps({"statement": STATEMENT.to_json(), "signature": 5}),
        json.dumps(
            {
                "statement": STATEMENT.to_json(),
                "signature": base64.b64encode(bytes(64)).decode(),
                "note": "x",
            }
        ),
        json.dumps({"statement": {**STATEMENT.to_json(), "v": 2}, "signature": "A" * 86 + "=="}),
    ],
)
def test_from_text_refuses_malformed_files(text: str) -> None:
    with pytest.raises(StatementError):
        SignedStatement.from_text(text)
