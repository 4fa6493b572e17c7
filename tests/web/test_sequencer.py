"""Group commit (cosignatory.web.register.sequencer).

Statements waiting at the same time are recorded in one transaction with one checkpoint;
each is answered as if it had come alone, and only after the commit. Runs on SQLite and
PostgreSQL. The signatures are real Ed25519 signatures and the sequencer's thread is
real: the tests that go through it use committed transactions, as a server does.
"""

from __future__ import annotations

import json
import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import pytest
from django.db import DatabaseError

from cosignatory.core.statements import SignedStatement, Statement
from cosignatory.web.log.services import get_log
from cosignatory.web.register import models as m
from cosignatory.web.register import sequencer as sq
from cosignatory.web.register import services as s
from cosignatory.web.register import statement_intake as si
from tests.reliability.test_concurrency import race
from tests.web.test_register_scenarios import assert_identical, snapshot
from tests.web.test_statement_intake import LETTER, People, _checkpoints, make_people


@pytest.fixture
def people(log: Any) -> People:
    return make_people(8, contact_for=2)


def _claimed(signed: SignedStatement) -> tuple[SignedStatement, Any]:
    return signed, sq.preverify(signed)


def test_a_batch_records_each_statement_as_if_alone_with_one_checkpoint(people: People) -> None:
    s.revoke_key("key-5", "lost")
    first = people.statement(0)
    forged = SignedStatement(people.statement(1).statement, bytes(64))
    s.submit_statement(people.statement(3))
    withdraw = people.statement(3, "withdraw", at=datetime.now(UTC))  # after the signature
    items = [
        _claimed(first),
        _claimed(first),  # the same statement again: recorded once
        _claimed(forged),  # refused alone
        _claimed(people.statement(5)),  # its key is revoked: refused alone
        _claimed(withdraw),
        _claimed(people.statement(4)),
    ]
    assert items[2][1] is None and items[3][1] is not None  # the forgery is not pre-verified
    size, checkpoints = get_log().size(), _checkpoints()
    outcomes = sq.record_batch(items)
    assert _checkpoints() == checkpoints + 1
    assert get_log().size() == size + 3
    recorded = [o for o in outcomes if isinstance(o, s.Recorded)]
    assert [(o.log_index, o.new) for o in recorded] == [
        (size, True),
        (size, False),
        (size + 1, True),
        (size + 2, True),
    ]
    assert [o.code for o in outcomes if isinstance(o, Exception)] == [  # type: ignore[attr-defined]
        "E_SIG_INVALID",
        "E_KEY_REVOKED",
    ]
    assert m.Signature.objects.get(party_id="person-3").withdrawn_at is not None
    assert m.Signature.objects.filter(letter_id=LETTER, active=True).count() == 2  # 0 and 4
    # The new events are those submitting one by one gives: the entries hold them, and
    # each new outcome carries its entry (the answer is written around it).
    for outcome in recorded:
        entry = get_log().entries(outcome.log_index, outcome.log_index + 1)[0]
        if outcome.new:
            assert outcome.event is not None
            assert entry == outcome.event.to_bytes() == outcome.entry
        else:
            assert outcome.entry is None  # read from the log when answered
    assert_identical()


def test_a_batch_of_refusals_records_nothing(people: People) -> None:
    s.end_mandate("mandate-4", "left office")
    before, size = snapshot(), get_log().size()
    outcomes = sq.record_batch([_claimed(people.statement(4))])
    assert [o.code for o in outcomes] == ["E_MANDATE"]  # type: ignore[union-attr]
    assert snapshot() == before and get_log().size() == size


def test_inside_a_callers_transaction_the_statement_is_recorded_inline(people: People) -> None:
    # A test case's transaction is open here: the sequencer's thread could not see it.
    batches = sq.sequencer().batches
    recorded = s.submit_statement(people.statement(0))
    assert recorded.new and sq.sequencer().batches == batches


@pytest.mark.django_db(transaction=True)
class TestThroughTheSequencer:
    """Committed transactions, as in the server: submit_statement goes through the
    sequencer's thread."""

    def test_waiting_statements_go_into_one_batch(self, people: People) -> None:
        sequencer = sq.Sequencer()
        waiting = [sq.Waiting(*_claimed(people.statement(n))) for n in range(6)]
        for item in waiting:  # queued before the thread starts: it takes them all at once
            sequencer._queue.put(item)
        checkpoints = _checkpoints()
        sequencer._running()
        for item in waiting:
            assert item.done.wait(30)
        assert (sequencer.batches, sequencer.recorded) == (1, 6)
        assert _checkpoints() == checkpoints + 1
        indexes = [item.result.log_index for item in waiting if item.result is not None]
        assert indexes == sorted(indexes) and len(set(indexes)) == 6
        assert_identical()

    def test_many_threads_signing_at_once_are_each_answered_after_the_commit(
        self, people: People
    ) -> None:
        statements = [people.statement(n) for n in range(8)] * 3  # each sent three times
        batches = sq.sequencer().batches

        def sign(signed: SignedStatement) -> tuple[s.Recorded, bool]:
            recorded = s.submit_statement(signed)
            # Answered only once committed: another connection sees the entry.
            return recorded, m.Signature.objects.filter(log_index=recorded.log_index).exists()

        results: list[Any] = race([partial(sign, signed) for signed in statements])
        assert all(isinstance(r, tuple) and r[1] for r in results), results
        new = [r[0].log_index for r in results if r[0].new]
        assert len(new) == 8 and len(set(new)) == 8  # each statement recorded once
        for n in range(8):  # every copy was told the same entry
            assert len({results[n + 8 * k][0].log_index for k in range(3)}) == 1
        assert 1 <= sq.sequencer().batches - batches <= len(statements)
        assert_identical()

    def test_a_failed_batch_answers_every_request_with_the_error_and_records_nothing(
        self, people: People, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        before, size = snapshot(), get_log().size()

        def broken(*args: Any) -> None:
            raise DatabaseError("disk I/O error")

        monkeypatch.setattr(si, "_project_all", broken)
        with pytest.raises(DatabaseError, match="disk I/O error"):
            s.submit_statement(people.statement(0))
        assert snapshot() == before and get_log().size() == size
        monkeypatch.undo()
        recorded = s.submit_statement(people.statement(0))  # the sequencer goes on
        assert recorded.new and recorded.log_index == size
        assert_identical()

    def test_the_requests_of_a_failed_batch_each_raise_an_error_of_their_own(
        self, people: People, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Not one exception object raised in every waiting thread (its traceback would
        gather theirs): a copy each, of the same type and message, caused by the batch's."""
        sequencer = sq.Sequencer()
        waiting = [sq.Waiting(*_claimed(people.statement(n))) for n in range(3)]
        failure = DatabaseError("disk I/O error")

        def broken(*args: Any) -> None:
            raise failure

        monkeypatch.setattr(si, "_project_all", broken)
        sequencer._commit(waiting)
        errors = [item.error for item in waiting]
        assert all(item.done.is_set() and item.result is None for item in waiting)
        assert len({id(error) for error in errors}) == 3 and failure not in errors
        for error in errors:
            assert type(error) is DatabaseError and str(error) == "disk I/O error"
            assert error.__cause__ is failure and error.__traceback__ is None

    def test_a_statement_not_answered_in_time_is_told_to_be_sent_again(
        self, people: People, monkeypatch: pytest.MonkeyPatch, client: Any
    ) -> None:
        """503 E_TRY_AGAIN with Retry-After (the batch may still commit); sent again, the
        statement is answered with its record."""
        release = threading.Event()
        record = sq.record_batch

        def slow(items: Any) -> Any:
            release.wait(30)
            return record(items)

        monkeypatch.setattr(sq, "ANSWER_TIMEOUT", 0.2)
        monkeypatch.setattr(sq, "record_batch", slow)
        body = json.dumps(people.statement(0).to_json())
        post = partial(client.post, "/api/v1/statements", body, content_type="application/json")
        response = post()
        release.set()
        assert response.status_code == 503 and response["Retry-After"] == "1"
        assert response.json()["code"] == "E_TRY_AGAIN"
        assert "send it again" in response.json()["detail"]
        monkeypatch.setattr(sq, "ANSWER_TIMEOUT", 30)
        again = post()
        assert again.status_code == 200 and again.json()["new"] is False
        assert m.Signature.objects.filter(party_id="person-0").count() == 1

    def test_with_group_commit_off_each_statement_is_its_own_transaction(
        self, people: People, settings: Any
    ) -> None:
        settings.COSIGNATORY_GROUP_COMMIT = False
        batches, checkpoints = sq.sequencer().batches, _checkpoints()
        for n in range(3):
            assert s.submit_statement(people.statement(n)).new
        assert sq.sequencer().batches == batches
        assert _checkpoints() == checkpoints + 3


def test_a_statement_signed_by_another_key_is_not_preverified(people: People) -> None:
    statement = Statement(
        "sign",
        LETTER,
        1,
        people.text_hash,
        "person-1",
        "rep-1",
        "key-1",
        datetime.now(UTC) - timedelta(minutes=1),
    )
    assert sq.preverify(SignedStatement(statement, statement.sign(people.keys[2]))) is None
    assert sq.preverify(people.statement(1)) is not None
    unknown = replace(statement, key="key-x")
    assert sq.preverify(SignedStatement(unknown, unknown.sign(people.keys[1]))) is None
