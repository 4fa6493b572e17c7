"""One sequencer for all workers (cosignatory.web.register.hub).

The hub runs here in a thread of the test process, on a real Unix socket with a real
authentication key; "workers" are sequencers that send it their statements, as a
server's forked workers do. Committed transactions, as in the server. The process that
``cosignatory serve`` starts is killed under signing in
tests/reliability/test_hub_process.py, and with the whole server at every other
restart of tests/reliability/test_crash_safety.py.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from multiprocessing.connection import Client, Listener
from pathlib import Path
from typing import Any

import pytest
from django.db import DatabaseError

from cosignatory.core.statements import SignedStatement
from cosignatory.web.log.services import get_log
from cosignatory.web.register import hub
from cosignatory.web.register import models as m
from cosignatory.web.register import sequencer as sq
from cosignatory.web.register import services as s
from cosignatory.web.register import statement_intake as si
from tests.reliability.test_concurrency import race
from tests.web.test_register_scenarios import assert_identical, snapshot
from tests.web.test_statement_intake import People, _checkpoints, make_people

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def people(log: Any) -> People:
    return make_people(12, contact_for=2)


@dataclass
class Hub:
    """A hub serving in a thread, and its sequencer."""

    address: hub.Address
    listener: Listener
    sequencer: sq.Sequencer
    thread: threading.Thread
    stopping: threading.Event

    def worker(self) -> sq.Sequencer:
        """A worker's sequencer, sending to this hub."""
        return sq.Sequencer()

    def stop(self) -> None:
        if self.thread.is_alive():
            self.stopping.set()
            Client(self.address.path, "AF_UNIX", authkey=self.address.authkey).close()
            self.thread.join(10)
            self.listener.close()


@pytest.fixture
def running(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Hub]:
    # A short path: a Unix socket's name has at most 107 bytes.
    folder = tempfile.mkdtemp(dir="/tmp" if len(str(tmp_path)) > 80 else tmp_path)
    address = hub.Address(os.path.join(folder, "s"), os.urandom(32))
    listener = Listener(address.path, "AF_UNIX", authkey=address.authkey)
    sequencer = sq.Sequencer(to_hub=False)
    stopping = threading.Event()
    thread = threading.Thread(target=hub.serve, args=(listener, sequencer, stopping), daemon=True)
    thread.start()
    monkeypatch.setattr(hub, "_address", address)
    here = Hub(address, listener, sequencer, thread, stopping)
    yield here
    here.stop()
    shutil.rmtree(folder, ignore_errors=True)


def _sign(worker: sq.Sequencer, signed: SignedStatement) -> s.Recorded:
    return worker.submit(signed, sq.preverify(signed))


def test_the_statements_of_several_workers_are_recorded_by_the_hub(
    running: Hub, people: People
) -> None:
    workers = [running.worker() for _ in range(3)]
    statements = [people.statement(n) for n in range(12)] * 2  # each sent twice
    checkpoints = _checkpoints()

    def sign(n: int) -> tuple[s.Recorded, bool]:
        recorded = _sign(workers[n % 3], statements[n])
        # Answered only once committed: another connection sees the entry.
        return recorded, m.Signature.objects.filter(log_index=recorded.log_index).exists()

    results: list[Any] = race([partial(sign, n) for n in range(len(statements))])
    assert all(isinstance(r, tuple) and r[1] for r in results), results
    new = [r[0].log_index for r in results if r[0].new]
    assert len(new) == 12 and len(set(new)) == 12  # each recorded once, by the hub
    for n in range(12):  # both copies were told the same entry
        assert results[n][0].log_index == results[n + 12][0].log_index
    for recorded, _ in results:
        if recorded.new:  # the answer carries the entry, as the worker's own would
            entry = get_log().entries(recorded.log_index, recorded.log_index + 1)[0]
            assert recorded.entry == entry == recorded.event.to_bytes()
    assert running.sequencer.recorded == 24
    assert all(worker.batches == 0 for worker in workers)  # none recorded anything itself
    assert _checkpoints() - checkpoints == running.sequencer.batches
    assert_identical()


def test_a_refusal_reaches_the_worker_as_the_register_raised_it(
    running: Hub, people: People
) -> None:
    s.end_mandate("mandate-4", "left office")
    before = snapshot()
    worker = running.worker()
    forged = SignedStatement(people.statement(1).statement, bytes(64))
    with pytest.raises(Exception) as refused:
        _sign(worker, forged)
    assert getattr(refused.value, "code", None) == "E_SIG_INVALID"
    with pytest.raises(Exception) as refused:
        _sign(worker, people.statement(4))
    assert getattr(refused.value, "code", None) == "E_MANDATE"
    assert snapshot() == before


def test_a_failed_batch_is_told_to_each_worker_and_records_nothing(
    running: Hub, people: People, monkeypatch: pytest.MonkeyPatch
) -> None:
    before, size = snapshot(), get_log().size()

    def broken(*args: Any) -> None:
        raise DatabaseError("disk I/O error")

    monkeypatch.setattr(si, "_project_all", broken)
    worker = running.worker()
    with pytest.raises(RuntimeError, match="not recorded: disk I/O error"):
        _sign(worker, people.statement(0))
    assert snapshot() == before and get_log().size() == size
    monkeypatch.setattr(si, "_project_all", _project_all)
    assert _sign(worker, people.statement(0)).log_index == size  # the hub goes on


_project_all = si._project_all


def test_without_the_hub_a_worker_records_its_statements_itself(
    running: Hub, people: People
) -> None:
    running.stop()
    worker = running.worker()
    size = get_log().size()
    recorded = _sign(worker, people.statement(0))
    assert recorded.new and recorded.log_index == size
    assert (worker.batches, running.sequencer.recorded) == (1, 0)
    assert_identical()


def test_when_the_hub_stops_its_unanswered_requests_are_told_to_send_again(
    running: Hub, people: People, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The hub stops while a batch is with it: that batch's requests hear an error (their
    statements may or may not be recorded); the next statement is recorded by the worker;
    the statement sent again is answered with its record, recorded once."""
    entered, release = threading.Event(), threading.Event()
    record = sq.record_batch

    def slow(items: Any) -> Any:
        entered.set()
        release.wait(30)
        return record(items)

    monkeypatch.setattr(sq, "record_batch", slow)
    worker = running.worker()
    first = people.statement(0)
    outcome: list[Any] = []
    thread = threading.Thread(target=lambda: outcome.append(_try(worker, first)))
    thread.start()
    assert entered.wait(30)
    assert worker._link is not None
    _shut(worker._link)  # as if the hub's process had ended
    thread.join(30)
    assert isinstance(outcome[0], sq.NotAnsweredError) and outcome[0].code == "E_TRY_AGAIN"
    assert "send the statement again" in str(outcome[0])
    release.set()
    monkeypatch.setattr(sq, "record_batch", record)
    second = _sign(worker, people.statement(1))  # recorded by the worker itself
    assert second.new and worker.batches == 1
    again = _sign(worker, first)  # whatever became of it, recorded once
    assert m.Signature.objects.filter(party_id="person-0").count() == 1
    assert again.log_index == m.Signature.objects.get(party_id="person-0").log_index
    assert_identical()


def _try(worker: sq.Sequencer, signed: SignedStatement) -> Any:
    try:
        return _sign(worker, signed)
    except BaseException as error:
        return error


def _shut(link: hub.Link) -> None:
    """Shut the link's socket down, as the hub's death would: the link reads EOF."""
    assert link._connection is not None
    sock = socket.socket(fileno=os.dup(link._connection.fileno()))
    sock.shutdown(socket.SHUT_RDWR)
    sock.close()


def test_a_client_without_the_key_is_refused_and_the_hub_goes_on(
    running: Hub, people: People
) -> None:
    with pytest.raises(Exception):  # noqa: B017 (AuthenticationError or a closed socket)
        Client(running.address.path, "AF_UNIX", authkey=b"wrong" * 8)
    assert _sign(running.worker(), people.statement(0)).new
    assert running.sequencer.recorded == 1
