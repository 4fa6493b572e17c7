"""Verifying many Ed25519 signatures at once, on every core.

Checking a signature is the one costly step of recording a self-signed statement
(tens of microseconds of pure CPU), and it depends on nothing but the key, the
signature and the signed bytes. A bulk intake therefore checks all of them first, in a
pool of processes (:func:`verify_many`), and judges the statements afterwards, one by
one, with a :class:`PreverifiedRegister`: the register's own rules, in the same order,
except that the last check, the signature, is looked up instead of recomputed.

A triple that was not verified beforehand (or failed) is simply verified again, where
the rules ask for it: a missing result can cost time, never let a bad signature through.
"""

from __future__ import annotations

import atexit
import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeVar

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from cosignatory.core.events import Event
from cosignatory.core.state import Register
from cosignatory.core.statements import Statement
from cosignatory.tlog.note import Signer

Triple = tuple[bytes, bytes, bytes]
"""What one check needs: the raw public key, the signature and the signed bytes."""

PARALLEL_FROM = 64
"""Below this many signatures a pool costs more (start-up, pickling) than it saves."""
CHUNK = 2048
"""Signatures per task: big enough to hide the pickling, small enough to share out."""

_pools: dict[int, Executor] = {}
R = TypeVar("R")


def verify_one(triple: Triple) -> bool:
    """Whether ``triple``'s signature verifies (a malformed key or signature: False)."""
    public_key, signature, message = triple
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True


def _verify_chunk(chunk: Sequence[Triple]) -> list[bool]:
    # One task of the pool; module level, so that it pickles by name.
    return [verify_one(triple) for triple in chunk]


Claim = tuple[bytes, bytes, Statement]
"""A statement with its signature and the raw public key of the key it names."""


def _verify_claims(chunk: Sequence[Claim]) -> list[bool]:
    # The statement's canonical bytes are made here too: RFC 8785 in pure Python costs
    # about as much as the signature check, and shares out as well.
    return [verify_one((key, signature, s.signed_bytes())) for key, signature, s in chunk]


def verify_statements(claims: Sequence[Claim], workers: int | None = None) -> list[bool]:
    """Verify every statement's signature; return whether each verifies, in order.

    As :func:`verify_many`, with the signed bytes made in the workers as well.
    """
    return start_verifying(claims, workers)()


def start_verifying(
    claims: Sequence[Claim], workers: int | None = None
) -> Callable[[], list[bool]]:
    """Start :func:`verify_statements` in the pool; return what waits for its result."""
    return _start(_verify_claims, claims, workers)


def cores() -> int:
    """The cores this process may run on (its CPU affinity, not the machine's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover (not Linux)
        return max(1, os.cpu_count() or 1)


def verify_many(triples: Sequence[Triple], workers: int | None = None) -> list[bool]:
    """Verify every triple; return whether each verifies, in order.

    ``workers`` processes share the work; by default one per core, and none (this
    process alone) for fewer than PARALLEL_FROM triples. Raises nothing for a bad
    signature: the caller decides what a False means.
    """
    return _share(_verify_chunk, triples, workers)


def _share(
    task: Callable[[Sequence[Any]], list[R]], items: Sequence[Any], workers: int | None
) -> list[R]:
    return _start(task, items, workers)()


def _start(
    task: Callable[[Sequence[Any]], list[R]], items: Sequence[Any], workers: int | None
) -> Callable[[], list[R]]:
    """Hand ``task`` over ``items`` to the pool now; return what waits for the results.

    Meanwhile this process is free for other work: that overlap is the point. With one
    worker, or too few items, the task runs in this process when the results are asked for.
    """
    count = cores() if workers is None else max(1, workers)
    if count == 1 or len(items) < (PARALLEL_FROM if workers is None else 2):
        return lambda: task(items)
    size = min(CHUNK, -(-len(items) // count))
    pool = process_pool(count)
    futures = [
        pool.submit(task, items[start : start + size]) for start in range(0, len(items), size)
    ]

    def results() -> list[R]:
        found: list[R] = []
        for future in futures:
            found.extend(future.result())
        return found

    return results


def seal_many(
    events: Sequence[Event], skey: str, key_id: str, workers: int | None = None
) -> list[tuple[Event, bytes]]:
    """Seal every event with the registrar's key; return each sealed event with its log
    entry (its canonical bytes), in order.

    The two RFC 8785 encodings and the signature of each event are the other costly
    steps of recording one, so they are shared out like the checks. ``skey`` is the
    registrar's key in C2SP form: it goes to this process's own workers only, through
    their pipes. Raises MalformedKeyError for a bad key.
    """
    return start_sealing(events, skey, key_id, workers)()


def start_sealing(
    events: Sequence[Event], skey: str, key_id: str, workers: int | None = None
) -> Callable[[], list[tuple[Event, bytes]]]:
    """Start :func:`seal_many` in the pool; return what waits for its result."""
    pending = _start(partial(_seal_chunk, skey, key_id), events, workers)

    def sealed() -> list[tuple[Event, bytes]]:
        return [
            (event.sealed(key_id, signature), entry)
            for event, (signature, entry) in zip(events, pending(), strict=True)
        ]

    return sealed


def _seal_chunk(skey: str, key_id: str, events: Sequence[Event]) -> list[tuple[bytes, bytes]]:
    signer = Signer.from_skey(skey)
    sealed = []
    for event in events:
        signed = event.signed_bytes()
        signature = signer.sign(signed)
        sealed.append((signature, event.sealed(key_id, signature).to_bytes(signed)))
    return sealed


def process_pool(workers: int) -> Executor:
    """A pool of ``workers`` processes, started once and kept for the next batch.

    The processes come from a fork server (or are spawned), never forked from this
    process: it may hold threads and database connections a child must not inherit.
    """
    pool = _pools.get(workers)
    if pool is None:
        methods = multiprocessing.get_all_start_methods()
        method = "forkserver" if "forkserver" in methods else "spawn"
        pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context(method))
        _pools[workers] = pool
    return pool


def shutdown() -> None:
    """Stop the pools' processes (at exit, or when a test wants them gone)."""
    while _pools:
        _, pool = _pools.popitem()
        pool.shutdown(wait=True, cancel_futures=True)


atexit.register(shutdown)


@dataclass
class PreverifiedRegister(Register):
    """A register whose statement signatures may have been verified beforehand.

    ``verified`` holds the claims :func:`verify_statements` accepted; every other signature
    is verified as :class:`Register` does. Every rule still runs, in the same order.
    """

    verified: set[Claim] = field(default_factory=set)
    parsed: dict[str, Statement] = field(default_factory=dict)
    """Statements the caller has parsed already, by their signature as an event's evidence
    writes it (base64). The caller vouches that an event whose evidence has that signature
    carries exactly that statement (its ``to_json``), as it does when it built the
    evidence from it; the statement is then not parsed again from the evidence."""

    def _evidence_statement(self, evidence: dict[str, Any]) -> Statement:
        known = self.parsed.get(evidence["signature"])
        return known if known is not None else super()._evidence_statement(evidence)

    def _verify_statement(self, statement: Statement, signature: bytes, public_key: bytes) -> None:
        # Equal statements (a frozen dataclass) have equal signed bytes.
        if (public_key, signature, statement) in self.verified:
            return
        statement.verify(signature, public_key)
