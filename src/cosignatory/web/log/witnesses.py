"""The log's side of C2SP tlog-witness: submit checkpoints, keep and serve cosignatures.

After every append commits, :func:`after_append` wakes one background thread per
process, which submits the log's latest checkpoint to each witness in
``COSIGNATORY_WITNESSES`` (:func:`submit_checkpoint`). The writer never waits for a
witness. A witness that fails is logged and tried again with the next checkpoint,
from the last size it cosigned, with a consistency proof from there.

Each cosignature is verified with the witness's key and stored for the checkpoint it
signs (:class:`~cosignatory.web.log.models.LogCosignature`); ``/log/checkpoint``
serves the latest checkpoint with the cosignatures of exactly that tree appended as
further signature lines (:func:`cosigned_checkpoint`). Verifiers that do not know a
witness's key ignore its line (signed-note).
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connections, transaction

from cosignatory.errors import CosignatoryError
from cosignatory.tlog.checkpoint import Checkpoint
from cosignatory.tlog.errors import MalformedKeyError
from cosignatory.tlog.log import Log
from cosignatory.tlog.note import MAX_SIGNATURES, KeyType, Note, Verifier
from cosignatory.tlog.storage import Head
from cosignatory.tlog.witness import WitnessConflictError, submit, verified_cosignatures
from cosignatory.web.log.models import LogCosignature, LogWitness

logger = logging.getLogger(__name__)

SUBMIT_TIMEOUT = 10.0
"""Seconds to wait for one witness's answer."""
_ROUNDS = 4  # tries per witness: each 409 names the size to prove consistency from


@dataclass(frozen=True)
class ConfiguredWitness:
    """A witness from ``COSIGNATORY_WITNESSES``: its submission URL and its key."""

    url: str
    verifier: Verifier


@dataclass(frozen=True)
class Submission:
    """What one witness made of a checkpoint: the size it cosigned, or the error."""

    witness: ConfiguredWitness
    size: int | None
    error: CosignatoryError | None = None


def configured_witnesses() -> list[ConfiguredWitness]:
    """Return the witnesses in ``COSIGNATORY_WITNESSES``.

    Raises ImproperlyConfigured for a URL that is not http(s) or a vkey that is not a
    cosignature key (type 0x04 or 0x06).
    """
    found = []
    for url, vkey in settings.COSIGNATORY_WITNESSES:
        if not url.startswith(("http://", "https://")):
            raise ImproperlyConfigured(f"COSIGNATORY_WITNESSES: {url!r} is not an http(s) URL")
        try:
            verifier = Verifier.from_vkey(vkey)
        except MalformedKeyError as error:
            raise ImproperlyConfigured(f"COSIGNATORY_WITNESSES: {error}") from None
        if verifier.key_type not in (KeyType.COSIGNATURE_ED25519, KeyType.MLDSA44):
            raise ImproperlyConfigured(
                f"COSIGNATORY_WITNESSES: {verifier.name} is a {verifier.type_name} key, "
                "not a cosignature key"
            )
        found.append(ConfiguredWitness(url, verifier))
    return found


def _checkpoint(head: Head) -> tuple[Note, Checkpoint]:
    note = Note.from_text(head.checkpoint)
    return note, Checkpoint.from_text(note.text)


def submit_checkpoint(log: Log) -> list[Submission]:
    """Submit ``log``'s latest checkpoint to every configured witness, one by one.

    Stores each verified cosignature and the size each witness cosigned. Returns one
    Submission per witness; a witness's refusal or silence is its Submission's
    ``error`` (and logged), never raised. Raises ImproperlyConfigured for bad settings.
    """
    results = []
    for witness in configured_witnesses():
        try:
            size = _submit_to(log, witness)
        except CosignatoryError as error:
            logger.warning(
                "witness %s (%s): %s [%s]", witness.verifier.name, witness.url, error, error.code
            )
            results.append(Submission(witness, None, error))
        else:
            results.append(Submission(witness, size))
    return results


def _submit_to(log: Log, witness: ConfiguredWitness) -> int:
    row, _ = LogWitness.objects.get_or_create(vkey=witness.verifier.to_vkey())
    old = row.size
    head = log.head()
    for _ in range(_ROUNDS):
        if old > head.size:
            # The witness cosigned a larger tree: a newer head another process wrote,
            # or entries this log once signed are gone.
            head = log.head()
            if old > head.size:
                raise WitnessConflictError(
                    f"the witness has cosigned size {old}, more than this log's {head.size}",
                    old,
                )
            continue
        _, cp = _checkpoint(head)
        proof = log.prove_consistency(old, cp.size) if 0 < old < cp.size else []
        try:
            lines = submit(witness.url, old, proof, head.checkpoint, timeout=SUBMIT_TIMEOUT)
        except WitnessConflictError as error:
            if error.known_size == old:  # same size, another root: the witness saw a fork
                raise
            old = error.known_size  # our record was stale: prove from the witness's size
            continue
        cosignatures = verified_cosignatures(head.checkpoint, lines, witness.verifier)
        _record(row, cp, *cosignatures[-1])
        return cp.size
    raise WitnessConflictError(f"the witness's size kept changing; last {old}", old)


def _record(row: LogWitness, cp: Checkpoint, line: str, timestamp: int) -> None:
    with transaction.atomic():
        LogWitness.objects.filter(pk=row.pk, size__lt=cp.size).update(size=cp.size)
        LogCosignature.objects.update_or_create(
            witness=row,
            size=cp.size,
            defaults={"root": cp.root, "line": line, "timestamp": timestamp},
        )


def cosigned_checkpoint(head: Head) -> str:
    """Return ``head``'s signed checkpoint with the stored cosignatures of its tree.

    Only cosignatures of exactly this size and root are added, after the log's own
    signatures, so the result is a valid signed note of the same checkpoint.
    """
    note, cp = _checkpoint(head)
    room = MAX_SIGNATURES - len(note.signatures)
    lines = (
        LogCosignature.objects.filter(size=cp.size, root=cp.root)
        .order_by("witness_id")
        .values_list("line", flat=True)[: max(room, 0)]
    )
    return head.checkpoint + "".join(line + "\n" for line in lines)


class _Submitter:
    """One background thread per process that submits the latest checkpoint.

    Kicks while it runs coalesce into one more round, so a burst of appends costs
    each witness a request or two, not one per append. The thread is not a daemon:
    a process that exits (``cosignatory log append``) first lets a round in flight
    finish, bounded by SUBMIT_TIMEOUT.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending = False
        self._running = False
        self._pid = os.getpid()
        self._idle = threading.Event()
        self._idle.set()

    def kick(self) -> None:
        with self._lock:
            if self._pid != os.getpid():  # a forked worker: the parent's thread is not here
                self._pid, self._running = os.getpid(), False
            self._pending = True
            if self._running:
                return
            self._running = True
            self._idle.clear()
        threading.Thread(target=self._run, name="cosignatory-witnesses").start()

    def _run(self) -> None:
        try:
            while self._take():
                try:
                    from cosignatory.web.log.services import get_log

                    submit_checkpoint(get_log())
                except Exception:  # a background thread has nobody to raise to
                    logger.exception("submitting the checkpoint to witnesses failed")
        finally:
            connections.close_all()  # this thread's connections only

    def _take(self) -> bool:
        with self._lock:
            if not self._pending:
                self._running = False
                self._idle.set()
                return False
            self._pending = False
            return True

    def wait(self, timeout: float) -> bool:
        return self._idle.wait(timeout)


_submitter = _Submitter()


def after_append() -> None:
    """Wake the background submission, if witnesses are configured. Never blocks."""
    if settings.COSIGNATORY_WITNESSES:
        _submitter.kick()


def wait_for_submissions(timeout: float = 60.0) -> bool:
    """Wait until no background submission runs; return False on timeout (for tests)."""
    return _submitter.wait(timeout)
