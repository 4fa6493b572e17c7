"""``POST /api/v1/statements/batch``: many self-signed statements at once, all or none."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cosignatory.core.statements import SignedStatement
from cosignatory.web.api import tokens
from cosignatory.web.api.statements import MAX_BATCH
from cosignatory.web.log.services import get_log
from cosignatory.web.register import models as m
from cosignatory.web.register import services as s
from tests.api.conftest import ApiClient
from tests.web.test_register_scenarios import assert_identical, snapshot
from tests.web.test_statement_intake import People, make_people

PATH = "/statements/batch"


@pytest.fixture
def people(log: Any) -> People:
    return make_people(4)


def body(statements: list[SignedStatement]) -> list[dict[str, Any]]:
    return [signed.to_json() for signed in statements]


def test_a_batch_is_recorded_with_one_checkpoint_and_a_retry_changes_nothing(
    people: People, registrar: ApiClient
) -> None:
    from cosignatory.web.log.models import LogCheckpoint

    statements = [people.statement(n) for n in range(4)]
    size, checkpoints = get_log().size(), LogCheckpoint.objects.count()
    response = registrar.write(PATH, body(statements), key=None)
    assert response.status_code == 201, response.content
    result = response.json()
    assert (result["recorded"], result["unchanged"], result["log_size"]) == (4, 0, size + 4)
    assert [item["log_index"] for item in result["items"]] == list(range(size, size + 4))
    assert {item["outcome"] for item in result["items"]} == {"new"}
    assert LogCheckpoint.objects.count() == checkpoints + 1
    for item in result["items"]:
        assert m.Signature.objects.get(pk=item["signature"]).log_index == item["log_index"]
    before = snapshot()
    again = registrar.write(PATH, body(statements), key=None)
    assert again.status_code == 200
    assert [i["outcome"] for i in again.json()["items"]] == ["unchanged"] * 4
    assert [i["log_index"] for i in again.json()["items"]] == list(range(size, size + 4))
    assert snapshot() == before
    assert_identical()


def test_one_bad_statement_refuses_the_batch_with_every_bad_one_listed(
    people: People, registrar: ApiClient
) -> None:
    s.revoke_key("key-3", "lost")
    good = people.statement(0)
    forged = SignedStatement(people.statement(1).statement, bytes(64))
    before = snapshot()
    response = registrar.write(
        PATH, body([good, forged, people.statement(2), people.statement(3)]), key=None
    )
    assert response.status_code == 422
    assert response["Content-Type"] == "application/problem+json"
    problem = response.json()
    assert problem["code"] == "E_SIG_INVALID"
    assert [(e["loc"], e["type"]) for e in problem["errors"]] == [
        (["body", "1"], "E_SIG_INVALID"),
        (["body", "3"], "E_KEY_REVOKED"),
    ]
    assert snapshot() == before


def test_a_closed_letter_answers_409_and_records_nothing(
    people: People, registrar: ApiClient
) -> None:
    from tests.web.test_statement_intake import LETTER

    s.close_letter(LETTER)
    before = snapshot()
    response = registrar.write(PATH, body([people.statement(0)]), key=None)
    assert response.status_code == 409
    assert response.json()["code"] == "E_LETTER_CLOSED"
    assert snapshot() == before


def test_the_batch_needs_a_registrar_token(people: People, anonymous: ApiClient) -> None:
    before = snapshot()
    assert anonymous.write(PATH, body([people.statement(0)]), key=None).status_code == 401
    _, secret = tokens.create_token("a-signatory", "signatory", "person-0")
    signatory = ApiClient(secret)
    assert signatory.write(PATH, body([people.statement(0)]), key=None).status_code == 403
    assert snapshot() == before


def test_the_batch_size_is_bounded(people: People, registrar: ApiClient) -> None:
    assert registrar.write(PATH, [], key=None).status_code == 422
    one = people.statement(0).to_json()
    response = registrar.write(PATH, [one] * (MAX_BATCH + 1), key=None)
    assert response.status_code == 422
    assert response.json()["code"] == "E_REQUEST_INVALID"
    # The largest batch fits the body limit.
    assert len(json.dumps([one] * MAX_BATCH)) < 256 * 1024


def test_items_that_are_not_statements_are_refused_where_they_stand(
    people: People, registrar: ApiClient
) -> None:
    """Each malformed item is named by its position (a string, a statement that is not
    an object, an unknown field beside a good statement, one inside it), and nothing is
    recorded."""
    before = snapshot()
    good = people.statement(0).to_json()
    extra_inside = {**good, "statement": {**good["statement"], "note": "x"}}
    items = [good, "x", {"statement": "x", "signature": good["signature"]}]
    items += [{**good, "note": "x"}, extra_inside]
    response = registrar.write(PATH, items, key=None)
    assert response.status_code == 422
    problem = response.json()
    assert problem["code"] == "E_REQUEST_INVALID"
    located = {tuple(error["loc"][:4]) for error in problem["errors"]}
    assert located == {
        ("body", "body", "1"),
        ("body", "body", "2", "statement"),
        ("body", "body", "3", "note"),
        ("body", "body", "4", "statement"),
    }
    assert snapshot() == before


def test_a_duplicate_within_the_batch_is_unchanged(people: People, registrar: ApiClient) -> None:
    one = people.statement(1)
    later = people.statement(2, at=datetime.now(UTC) - timedelta(seconds=5))
    response = registrar.write(PATH, body([one, later, one]), key=None)
    assert response.status_code == 201
    items = response.json()["items"]
    assert [i["outcome"] for i in items] == ["new", "new", "unchanged"]
    assert items[2]["log_index"] == items[0]["log_index"]
