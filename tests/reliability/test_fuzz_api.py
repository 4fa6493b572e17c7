"""The API's write endpoints, fuzzed with Hypothesis: mutated JSON is refused, and
refused requests change nothing.

A valid body for each endpoint is mutated as ``test_fuzz_parsers`` mutates files
(bytes flipped, cut, NUL, bidirectional controls, lone surrogates, numbers of 5,000
digits, nesting 3,000 deep) and field by field. Every answer must be a success or an
RFC 9457 problem (``application/problem+json``) with a code the API documents and the
status that code maps to, never a server error; and a refusal leaves the log and the
register as they were. A signed statement cannot be changed and stay valid (its
signature covers it), so a mutated statement is either the same statement again
(200, nothing new) or refused. ``schemathesis`` (tests/api) fuzzes the API from its
OpenAPI document; this fuzzes it from valid requests.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.core.cache import cache
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cosignatory.core.statements import SignedStatement, Statement
from cosignatory.web.api import tokens
from cosignatory.web.api.problems import MEDIA_TYPE, PROBLEM_TYPES
from cosignatory.web.log.models import LogEntry
from cosignatory.web.log.services import get_log
from cosignatory.web.register import models as m
from cosignatory.web.register import services as s
from tests.reliability.test_fuzz_parsers import json_mutated, mutated

API = "/api/v1"
LETTER = "L1"
INSTRUMENT = {"kind": "note-verbale", "reference": "NV/1", "date": "2019-07-08"}
EXAMPLES = int(os.environ.get("COSIGNATORY_FUZZ_API_EXAMPLES", "60"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=timedelta(seconds=10),
    suppress_health_check=list(HealthCheck),
    database=None,
)


def private_key(party: str) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(hashlib.sha256(party.encode()).digest())


@pytest.fixture(autouse=True)
def _no_rate_limit(settings: Any) -> Iterator[None]:
    settings.COSIGNATORY_API_WRITES_PER_MINUTE = 100_000
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def open_letter(log: Any) -> str:
    """An open letter L1; FRA and DEU with a representative, a mandate and a key each."""
    s.initialise_register()
    since = datetime(2019, 1, 1, tzinfo=UTC)
    for code in ("FRA", "DEU"):
        rep = f"rep-{code.lower()}"
        s.register_state(code)
        s.register_representative(rep, f"Ambassador of {code}")
        s.grant_mandate(f"mandate-{code.lower()}", rep, code, since, None, INSTRUMENT)
        key = private_key(code).public_key().public_bytes_raw()
        s.register_key(f"key-{code.lower()}", rep, key, since)
    s.create_letter(LETTER, {"en": "A letter"}, ["The President"], "FRA", date(2019, 7, 8))
    s.add_text_version(LETTER, {"en": "We agree."})
    s.open_letter(LETTER)
    return LETTER


def signed_statement(party: str) -> bytes:
    letter = m.Letter.objects.get(pk=LETTER)
    text = m.TextVersion.objects.get(letter=letter, version=letter.current_version)
    made = Statement(
        "sign",
        LETTER,
        text.version,
        text.text_hash,
        party,
        f"rep-{party.lower()}",
        f"key-{party.lower()}",
        datetime.now(UTC),
    )
    signed = SignedStatement(made, made.sign(private_key(party)))
    return json.dumps(signed.to_json()).encode()


def snapshot() -> tuple[int, str, int]:
    return LogEntry.objects.count(), get_log().head().checkpoint, m.EventRecord.objects.count()


def check_answer(response: Any) -> str:
    """Return "accepted" or the problem's code; fail on anything but those two."""
    assert response.status_code < 500, response.content[:2000]
    if response.status_code < 300:
        assert response["Content-Type"].startswith("application/json")
        return "accepted"
    assert response["Content-Type"] == MEDIA_TYPE, response.content[:500]
    body = response.json()
    kind = PROBLEM_TYPES.get(body["code"])
    assert kind is not None, body
    assert body["status"] == response.status_code == kind.status, body
    assert body["detail"].strip() and body["title"], body
    return str(body["code"])


def post(client: Client, path: str, data: bytes, headers: dict[str, str]) -> Any:
    return client.post(API + path, data, content_type="application/json", headers=headers)


def bodies(valid: bytes) -> st.SearchStrategy[bytes]:
    return mutated([valid]) | json_mutated([valid])


@pytest.mark.usefixtures("open_letter")
def test_mutated_statements_are_refused_or_the_same_and_change_nothing() -> None:
    client = Client()
    valid = signed_statement("FRA")
    first = client.post(API + "/statements", valid, content_type="application/json")
    assert first.status_code == 201, first.content
    before = snapshot()
    codes: Counter[str] = Counter()

    @FUZZ
    @given(bodies(valid))
    def run(data: bytes) -> None:
        response = post(client, "/statements", data, {})
        code = check_answer(response)
        if code == "accepted":  # only the very statement recorded first, again
            assert response.status_code == 200, response.content
            assert response.json()["log_index"] == first.json()["log_index"]
        codes[code] += 1
        assert snapshot() == before

    run()
    assert snapshot() == before
    print(f"\nfuzz POST /statements: {sum(codes.values())} mutated bodies, {dict(codes)}")


REGISTRAR_BODIES: dict[str, dict[str, Any]] = {
    "/parties": {"id": "org-x", "kind": "organisation", "names": {"en": "X Network"}},
    "/representatives": {"id": "rep-x", "name": "Ambassador X"},
    "/mandates": {
        "id": "mandate-x",
        "representative": "rep-fra",
        "party": "DEU",
        "valid_from": "2019-01-01T00:00:00Z",
        "credential": INSTRUMENT,
    },
    "/letters": {
        "id": "L2",
        "title": {"en": "A letter", "fr": "Une lettre"},
        "addressees": ["The President"],
        "lead_party": "FRA",
        "date": "2019-07-08",
    },
    f"/letters/{LETTER}/versions": {"texts": {"en": "We agree.", "fr": "D'accord."}},
    f"/letters/{LETTER}/attested": {"party": "DEU", "action": "sign", "instrument": INSTRUMENT},
    f"/letters/{LETTER}/transmit": {"date": "2019-07-15"},
}


@pytest.mark.parametrize("path", sorted(REGISTRAR_BODIES))
@pytest.mark.usefixtures("open_letter")
def test_mutated_registrar_writes_are_answered_and_refusals_change_nothing(path: str) -> None:
    _, secret = tokens.create_token("fuzz-registrar", "registrar")
    client = Client()
    keys = itertools.count()
    valid = json.dumps(REGISTRAR_BODIES[path]).encode()
    codes: Counter[str] = Counter()

    @FUZZ
    @given(bodies(valid))
    def run(data: bytes) -> None:
        headers = {"Authorization": f"Bearer {secret}", "Idempotency-Key": f"k{next(keys)}"}
        before = snapshot()
        code = check_answer(post(client, path, data, headers))
        if code != "accepted":
            assert snapshot() == before, code
        codes[code] += 1

    run()
    print(f"\nfuzz POST {path}: {sum(codes.values())} mutated bodies, {dict(codes)}")


@pytest.mark.usefixtures("open_letter")
def test_mutated_statement_batches_are_refused_or_the_same_and_change_nothing() -> None:
    """``POST /statements/batch`` (all or none): a mutated batch is refused, or holds
    only statements recorded already (200, nothing new)."""
    _, secret = tokens.create_token("fuzz-registrar", "registrar")
    client = Client()
    headers = {"Authorization": f"Bearer {secret}"}
    valid = b"[" + signed_statement("FRA") + b"," + signed_statement("DEU") + b"]"
    first = post(client, "/statements/batch", valid, headers)
    assert first.status_code == 201, first.content
    before = snapshot()
    codes: Counter[str] = Counter()

    @FUZZ
    @given(bodies(valid))
    def run(data: bytes) -> None:
        response = post(client, "/statements/batch", data, headers)
        code = check_answer(response)
        if code == "accepted":
            assert response.status_code == 200, response.content
            assert response.json()["recorded"] == 0
        codes[code] += 1
        assert snapshot() == before

    run()
    print(f"\nfuzz POST /statements/batch: {sum(codes.values())} mutated bodies, {dict(codes)}")
