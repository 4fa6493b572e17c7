"""One sequencer for all of the server's workers: the hub, a process of its own.

With a sequencer in each worker (:mod:`sequencer`), the workers' batches take turns at
the log's write lock: while one worker's batch commits, the other's waits, and both
batches stay small. With ``COSIGNATORY_SEQUENCER_HUB=1``, ``cosignatory serve`` starts
one more process, the hub, before it forks its workers:

- a worker's request thread still checks the statement's signature itself (on the
  worker's core) and hands it to its process's :class:`~sequencer.Sequencer`, whose
  thread now sends every statement waiting to the hub over a local socket, without
  waiting for the answer of the statements it sent before;
- the hub's own sequencer records the statements of every worker, in the order they
  arrive, in batches as large as the load makes them (one transaction, one checkpoint,
  one fsync), and only after the commit sends each worker its statements' outcomes;
- the worker then answers its waiting requests.

So an acknowledgement still means a committed transaction. The socket is a Unix socket
in a folder only the server's user can enter, and each connection is authenticated with
a random key the hub and the workers share (:mod:`multiprocessing.connection`).

The workers' signers are answered sooner, so under a closed-loop load they come back
sooner and take more of the workers' CPU from the readers: the hub is not the default
(docs/performance.md).

If the hub is not there (it did not start, or it stopped), a worker records its
statements itself, as without a hub, and tries to reach the hub again every
``RECONNECT_SECONDS``. Requests whose statements were with the hub when it stopped are
answered with an error asking to send them again: whether they were recorded is
unknown, and the endpoint is idempotent by content, so a retry is answered with the
first record if there is one.

This module imports nothing from Django at module level: the hub's process is started
afresh ("spawn") and sets Django up first.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import multiprocessing
import os
import queue
import shutil
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Client, Connection, Listener
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cosignatory.web.register.sequencer import Sequencer, Waiting

log = logging.getLogger(__name__)

START_SECONDS = 60.0
"""How long the server waits for the hub to be ready before it goes on without it."""
RECONNECT_SECONDS = 5.0
"""How often a worker without the hub tries to reach it again."""


@dataclass(frozen=True)
class Address:
    """Where the hub listens, and the key its clients authenticate with."""

    path: str
    authkey: bytes


_address: Address | None = None
"""The hub of this server, set in gunicorn's master before it forks the workers (who
inherit it); None where there is no hub (tests, ``runserver``, the CLI)."""


def address() -> Address | None:
    """The hub this process's sequencer sends its statements to, if any."""
    return _address


# -- the server's side: starting the hub ----------------------------------------------------


def start() -> Address:
    """Start the hub, wait until it listens (at most ``START_SECONDS``), and keep it
    running: should it stop, it is started again, at the same address.

    Called in gunicorn's master before the workers are forked: they inherit the
    address. The hub is a daemon process, so it ends with the server; it also ends by
    itself should the server's master be killed. While there is no hub, each worker
    records its statements itself.
    """
    global _address
    folder = tempfile.mkdtemp(prefix="cosignatory-hub-")  # mode 0700
    here = Address(os.path.join(folder, "sequencer"), os.urandom(32))
    _address = here
    atexit.register(_stop, folder)
    process = _spawn(here)
    threading.Thread(
        target=_keep, args=(here, process), name="cosignatory-hub-keeper", daemon=True
    ).start()
    return here


_stopping = threading.Event()


def _stop(folder: str) -> None:
    _stopping.set()  # before multiprocessing ends the hub, at the server's exit
    shutil.rmtree(folder, ignore_errors=True)


def _spawn(here: Address) -> multiprocessing.process.BaseProcess | None:
    """Start the hub's process; return it once it listens, or None if it did not start
    in ``START_SECONDS``."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(here.path)  # the socket of a hub that stopped
    context = multiprocessing.get_context("spawn")
    ready_reader, ready_writer = context.Pipe(duplex=False)
    process = context.Process(target=main, args=(here, ready_writer), name="sequencer", daemon=True)
    process.start()
    ready_writer.close()
    try:
        if ready_reader.poll(START_SECONDS) and ready_reader.recv():
            return process
    except EOFError:  # it ended before it listened
        pass
    finally:
        ready_reader.close()
    process.kill()
    process.join()
    return None


def _keep(here: Address, process: multiprocessing.process.BaseProcess | None) -> None:
    while not _stopping.is_set():
        if process is None:
            log.error("the sequencer hub did not start; the workers record their own statements")
            _stopping.wait(RECONNECT_SECONDS)
        else:
            multiprocessing.connection.wait([process.sentinel])
            if _stopping.is_set():
                return
            log.error("the sequencer hub stopped; starting it again")
        if not _stopping.is_set():
            process = _spawn(here)


def main(here: Address, ready: Connection) -> None:
    """The hub's process: set Django up, listen, tell the server, serve for ever."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cosignatory.web.settings")
    import django

    django.setup()
    from cosignatory.web.register.sequencer import Sequencer

    parent = multiprocessing.parent_process()
    if parent is not None:  # the server's master killed: nothing to serve any more
        _watch(parent.sentinel, lambda: os._exit(0))
    listener = Listener(here.path, "AF_UNIX", authkey=here.authkey)
    log.info("the sequencer hub listens (process %d)", os.getpid())
    ready.send(True)
    ready.close()
    serve(listener, Sequencer(to_hub=False))


def serve(listener: Listener, sequencer: Sequencer, stop: threading.Event | None = None) -> None:
    """Accept workers on ``listener`` and record their statements with ``sequencer``;
    return once ``stop`` is set (at the next connection) or the listener fails."""
    while True:
        try:
            worker = listener.accept()
        except OSError:
            return
        except Exception:  # a client that failed to authenticate: refuse it, go on
            log.warning("a connection to the sequencer hub was refused", exc_info=True)
            continue
        if stop is not None and stop.is_set():
            worker.close()
            return
        log.info("a worker joined the sequencer hub")
        _Worker(worker, sequencer).start()


def _watch(sentinel: int, then: Callable[[], object]) -> None:
    def wait() -> None:
        multiprocessing.connection.wait([sentinel])
        then()

    threading.Thread(target=wait, name="cosignatory-hub-parent", daemon=True).start()


class _Worker:
    """One worker's connection to the hub: a thread reads its batches and queues their
    statements on the hub's sequencer; another answers each batch, in order, once every
    statement of it has been judged and committed."""

    def __init__(self, connection: Connection, sequencer: Sequencer) -> None:
        self.connection = connection
        self.sequencer = sequencer
        self.batches: queue.SimpleQueue[list[Waiting] | None] = queue.SimpleQueue()

    def start(self) -> None:
        threading.Thread(target=self._read, name="cosignatory-hub-read", daemon=True).start()
        threading.Thread(target=self._answer, name="cosignatory-hub-answer", daemon=True).start()

    def _read(self) -> None:
        from cosignatory.web.register.sequencer import Waiting

        try:
            while True:
                items = self.connection.recv()
                batch = [Waiting(signed, claim) for signed, claim in items]
                self.batches.put(batch)
                for item in batch:
                    self.sequencer.put(item)
        except (EOFError, OSError):  # the worker went away
            pass
        except Exception:
            log.exception("a worker sent the sequencer hub something it cannot read")
        self.batches.put(None)

    def _answer(self) -> None:
        while True:
            batch = self.batches.get()
            if batch is None:
                break
            for item in batch:
                item.done.wait()
            try:
                self.connection.send([_outcome(item) for item in batch])
            except OSError:  # the worker went away: its requests are unanswered anyway
                break
        self.connection.close()


def _outcome(item: Waiting) -> Any:
    """What the worker raises or returns for ``item``: its record, its refusal, or an
    error every process can read (a database driver's exception may not be)."""
    from cosignatory.errors import CosignatoryError

    if item.error is None:
        return item.result
    if isinstance(item.error, CosignatoryError):
        return item.error
    return RuntimeError(f"the statement was not recorded: {item.error}")


# -- a worker's side ------------------------------------------------------------------------


class Link:
    """A worker's connection to the hub, used by its sequencer's thread only.

    :meth:`forward` sends a batch and returns at once; a thread of the link reads the
    hub's answers, which come in the order the batches were sent, and answers the
    waiting requests.
    """

    def __init__(self, hub: Address) -> None:
        self.hub = hub
        self._connection: Connection | None = None
        self._sent: deque[list[Waiting]] = deque()
        self._lock = threading.Lock()
        self._retry_at = 0.0

    def forward(self, batch: list[Waiting]) -> bool:
        """Send ``batch`` to the hub; False if it cannot be reached (then the caller
        records the batch itself: the hub did not receive it whole)."""
        connection = self._connection or self._connect()
        if connection is None:
            return False
        with self._lock:
            self._sent.append(batch)
        try:
            connection.send([(item.signed, item.claim) for item in batch])
        except (OSError, ValueError):
            with self._lock:
                if self._sent and self._sent[-1] is batch:
                    self._sent.pop()
                else:  # the reader has already failed it: it was answered
                    return True
            self._lost(connection)
            return False
        return True

    def _connect(self) -> Connection | None:
        if time.monotonic() < self._retry_at:
            return None
        try:
            connection = Client(self.hub.path, "AF_UNIX", authkey=self.hub.authkey)
        except (OSError, EOFError, multiprocessing.AuthenticationError):
            log.warning("the sequencer hub cannot be reached; this worker records itself")
            self._retry_at = time.monotonic() + RECONNECT_SECONDS
            return None
        self._connection = connection
        threading.Thread(
            target=self._read, args=(connection,), name="cosignatory-hub-link", daemon=True
        ).start()
        return connection

    def _read(self, connection: Connection) -> None:
        from cosignatory.web.register.sequencer import answer

        try:
            while True:
                outcomes = connection.recv()
                with self._lock:
                    batch = self._sent.popleft()
                answer(batch, outcomes)
        except (EOFError, OSError):
            log.warning("the sequencer hub stopped; this worker records itself")
        self._lost(connection)

    def _lost(self, connection: Connection) -> None:
        """The hub went away: fail what it had not answered (it may or may not have
        recorded it) and go on without it until the next try."""
        with self._lock:
            if self._connection is not connection:
                return
            self._connection = None
            self._retry_at = time.monotonic() + RECONNECT_SECONDS
            unanswered, self._sent = list(self._sent), deque()
        connection.close()
        from cosignatory.web.register.sequencer import NotAnsweredError, answer

        message = "the register stopped before answering; send the statement again"
        for batch in unanswered:
            answer(batch, [NotAnsweredError(message) for _ in batch])
