"""Group commit: the self-signed statements of many requests in one transaction.

Recording one statement on its own costs one transaction under the log's write lock,
one signed checkpoint (Ed25519 and ML-DSA-44) and one fsync, and nothing else can
write meanwhile; under many signers, requests queue on the lock. Instead:

- the request thread checks the statement's Ed25519 signature first, outside any lock
  (each server process on its own core), then hands the statement to its process's
  :class:`Sequencer` and waits;
- the sequencer, one thread per process, takes every statement waiting and records
  them with :func:`record_batch`: in **one** transaction under the log's write lock it
  loads the state they touch, judges each in order by the register's rules (a refusal
  answers that statement only, as if it had come alone), seals the new events, appends
  them with one batch append and **one** checkpoint, projects them, and commits with
  one fsync;
- only after the commit returns does it answer each waiting request.

So no acknowledged signature can be lost: an answer is given only for a committed
transaction (``synchronous=FULL`` on SQLite). A crash before the commit loses only
unanswered requests, which their clients send again; the endpoint is idempotent by
content, so a crash between the commit and the answer leaves a recorded signature that
the client's retry finds (200, the first record). While one batch commits the next
fills, so batches grow with the load and no request waits for a timer.

With ``COSIGNATORY_SEQUENCER_HUB=1``, a worker's sequencer under ``cosignatory serve``
records nothing itself: its thread sends the statements to the server's one sequencer,
in a process of its own (:mod:`hub`), which records those of every worker this way;
without the hub, it records them here.

:func:`services.submit_statement` uses the sequencer when ``COSIGNATORY_GROUP_COMMIT``
is on (the default) and the caller is not inside a transaction of its own (a caller's
transaction is invisible to the sequencer's thread): then it records the statement
itself, as before. Events, log entries and tables are exactly those that recording the
statements one by one gives (built by :mod:`statement_intake`, which the bulk import
shares), a fresh signature id and the time of recording aside.
"""

from __future__ import annotations

import copy
import logging
import os
import queue
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

from django.db import close_old_connections, connection

from cosignatory.core.errors import EvidenceError
from cosignatory.core.sigpool import Claim
from cosignatory.core.statements import SignedStatement
from cosignatory.errors import CosignatoryError
from cosignatory.web.register import hub, services
from cosignatory.web.register import statement_intake as si
from cosignatory.web.register.intake import UNCHANGED

log = logging.getLogger(__name__)

MAX_BATCH = 1000
"""Statements in one transaction at most: a batch of this size commits in well under a
second; more waiting requests go into the next."""
IDLE_SECONDS = 0.1
"""After this long without a statement the sequencer closes its database connection."""
ANSWER_TIMEOUT = 120.0
"""Seconds a request waits for its batch before it gives up (the batch may still
commit: a retry then finds the statement recorded)."""


class NotAnsweredError(CosignatoryError):
    """The register could not tell whether the statement was recorded (its batch took too
    long, or the hub stopped with it): the same statement sent again is answered with
    its record if it was recorded, and recorded if not."""

    code = "E_TRY_AGAIN"


@dataclass
class Waiting:
    """One request's statement, and its answer once its batch has committed."""

    signed: SignedStatement
    claim: Claim | None
    done: threading.Event = field(default_factory=threading.Event)
    result: services.Recorded | None = None
    error: BaseException | None = None


def preverify(signed: SignedStatement) -> Claim | None:
    """The statement's claim if its signature verifies with the key it names, else None
    (the rules then verify it again under the lock and refuse it with their reason)."""
    statement = signed.statement
    # Plain SQL: the ORM's query building cost more than the signature check.
    public_key = si.public_keys((statement.key,)).get(statement.key)
    if public_key is None:
        return None
    claim: Claim = (public_key, signed.signature, statement)
    try:
        statement.verify(signed.signature, claim[0])
    except CosignatoryError:
        return None
    return claim


def record_batch(
    items: Sequence[tuple[SignedStatement, Claim | None]],
) -> list[services.Recorded | BaseException]:
    """Record ``items`` in order, in one transaction with one batch append; return for
    each what :func:`services.submit_statement` would have returned or raised alone.

    A refusal is that statement's outcome only. An error of the batch itself (the
    database) rolls everything back and raises.
    """
    statements = [(position, signed) for position, (signed, _) in enumerate(items)]
    verified = frozenset(claim for _, claim in items if claim is not None)
    rows, errors, sealed = si.record_each(statements, verified)
    by_id = {event.data["id"]: (event, entry) for event, entry in sealed}
    outcomes: list[services.Recorded | BaseException] = [
        RuntimeError("statement not judged") for _ in items
    ]
    for row in rows:
        assert row.log_index is not None
        found = by_id.get(row.signature or "") if row.outcome != UNCHANGED else None
        if found is None:
            outcomes[row.position] = services.Recorded(None, row.log_index, new=False)
        else:
            event, entry = found
            outcomes[row.position] = services.Recorded(event, row.log_index, entry=entry)
    for error in errors:
        outcomes[error.position] = error.error or EvidenceError(error.reason)
    return outcomes


class Sequencer:
    """The one thread of a process that records waiting statements in batches (or sends
    them to the server's hub, which does)."""

    def __init__(self, max_batch: int = MAX_BATCH, *, to_hub: bool = True) -> None:
        """``to_hub``: send the statements to the server's hub, if it has one
        (:mod:`hub`), rather than record them here."""
        self.max_batch = max_batch
        self.to_hub = to_hub
        self._queue: queue.SimpleQueue[Waiting] = queue.SimpleQueue()
        self._start = threading.Lock()
        self._pid: int | None = None
        self._link: hub.Link | None = None
        self.batches = 0
        self.recorded = 0

    def submit(self, signed: SignedStatement, claim: Claim | None) -> services.Recorded:
        """Queue ``signed`` and wait until its batch has committed; return its record or
        raise its refusal."""
        waiting = Waiting(signed, claim)
        self.put(waiting)
        if not waiting.done.wait(ANSWER_TIMEOUT):
            raise NotAnsweredError(
                "the register did not record the statement in time; send it again"
            )
        if waiting.error is not None:
            raise waiting.error
        assert waiting.result is not None
        return waiting.result

    def put(self, waiting: Waiting) -> None:
        """Queue ``waiting``; its ``done`` is set once it is answered."""
        self._running()
        self._queue.put(waiting)

    def _running(self) -> None:
        # A forked server worker inherits no thread: start one in each process.
        if self._pid == os.getpid():
            return
        with self._start:
            if self._pid != os.getpid():
                if self._pid is not None:  # forked: the parent's queue is not ours
                    self._queue = queue.SimpleQueue()
                address = hub.address() if self.to_hub else None
                self._link = hub.Link(address) if address is not None else None
                threading.Thread(
                    target=self._run, name="cosignatory-sequencer", daemon=True
                ).start()
                self._pid = os.getpid()

    def _run(self) -> None:
        while True:
            try:
                first = self._queue.get(timeout=IDLE_SECONDS)
            except queue.Empty:
                connection.close()  # idle: hold no connection (a test database is dropped)
                first = self._queue.get()
            batch = [first]
            while len(batch) < self.max_batch:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            if self._link is None or not self._link.forward(batch):
                self._commit(batch)

    def _commit(self, batch: list[Waiting]) -> None:
        close_old_connections()
        try:
            outcomes = record_batch([(item.signed, item.claim) for item in batch])
        except BaseException as error:  # the batch failed as a whole: each request hears it
            log.exception("a batch of %d statements was not recorded", len(batch))
            connection.close()  # a broken connection is opened again for the next batch
            outcomes = [_own_copy(error) for _ in batch]
        else:
            self.batches += 1
            self.recorded += len(batch)
        answer(batch, outcomes)


def answer(batch: Sequence[Waiting], outcomes: Sequence[services.Recorded | BaseException]) -> None:
    """Give each request of ``batch`` its outcome, and wake it."""
    for item, outcome in zip(batch, outcomes, strict=True):
        if isinstance(outcome, BaseException):
            item.error = outcome
        else:
            item.result = outcome
        item.done.set()


def _own_copy(error: BaseException) -> BaseException:
    """``error`` for one of the requests of a failed batch, caused by it.

    Each waiting thread raises its own: one exception object raised in many threads at
    once would collect all their tracebacks, and keep collecting them.
    """
    try:
        copied = copy.copy(error)
    except Exception:  # an exception class that cannot be rebuilt from its arguments
        copied = RuntimeError(f"the batch was not recorded: {error}")
    copied.__cause__ = error
    return copied


_sequencer = Sequencer()


def sequencer() -> Sequencer:
    """This process's sequencer."""
    return _sequencer
