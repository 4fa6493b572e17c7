"""The production server killed with SIGKILL under signing load, again and again.

Issue 7: a signature the register acknowledged must never be lost, and a request it
did not acknowledge must be recorded wholly or not at all. Each trial, client threads
sign and withdraw through ``POST /api/v1/statements`` (self-signed statements, as
``cosignatory sign`` writes them); at a moment drawn from a seeded random generator the
whole server (gunicorn's master, its workers and the notice courier) is killed with
SIGKILL (once the trial's first request has been answered, then after a random
delay), and restarted as the README starts it; every other start runs the sequencer
hub too (``COSIGNATORY_SEQUENCER_HUB=1``: one process records the statements of both
workers), so each way of recording is killed half the time. Before any client sends
again:

- every statement answered 2xx is in the log, at the index its answer named, with its
  event record and its ``Signature`` row (or the withdrawal on that row);
- every statement in flight at the kill is either wholly there (entry, event record,
  projection) or wholly absent; its client then sends it again, and the answer must
  agree (200 "recorded already" if it was there, 201 if it was not);
- the log is whole: as many entries as the head's size and as event records, and the
  root recomputed from the entries and from the tiles is the one the checkpoint signs,
  which verifies with the log's vkey served at ``/log/vkey``;
- the last checkpoint served before the kill and the head after the restart are each
  consistent with every checkpoint seen before (RFC 9162 consistency proofs, verified).

``cosignatory rebuild`` (a subprocess) must find the tables identical to the log's
replay every ``REBUILD_EVERY`` trials and at the end: a replay of the whole log takes
seconds, a trial about three, so after every trial it would double the run.

``COSIGNATORY_CRASH_TRIALS`` sets the number of kills (default 100); the seed is
``COSIGNATORY_CRASH_SEED`` (default 7), printed with the figures.
"""

from __future__ import annotations

import http.client
import json
import os
import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from cosignatory.core.statements import SignedStatement, Statement
from cosignatory.tlog.note import Verifier
from cosignatory.web.register import models as m
from cosignatory.web.register import services as s
from tests.dbutil import child_env
from tests.reliability.crashload import (
    CheckpointHistory,
    LogState,
    OpenLetter,
    Server,
    Signatory,
    b64,
    fetch_checkpoint,
    get,
    make_letters,
    make_signatories,
    rebuild_matches,
    signature_of,
    trials,
)
from tests.web.conftest import free_port

pytestmark = pytest.mark.django_db(transaction=True)

CLIENTS = 8
PARTIES_PER_CLIENT = 3
LETTERS = 6
REBUILD_EVERY = 25
KILL_AFTER = (0.0, 1.5)
"""Seconds of load before a kill, after the first answer of the trial, drawn uniformly."""


# -- what the clients sent and were told -----------------------------------------------------


@dataclass
class Sent:
    """One statement and what became of it."""

    signed: SignedStatement
    attempts: int = 0
    answer: tuple[int, bool] | None = None
    """(log_index, new) from a 2xx answer: the statement is acknowledged."""
    found_after_kill: bool | None = None
    """At the last restart while unanswered: wholly recorded (True) or absent (False)."""

    @property
    def statement(self) -> Statement:
        return self.signed.statement

    @property
    def signature(self) -> str:
        return b64(self.signed.signature)


class Gate:
    """Lets clients send only while the server is meant to be up, and tells the
    controller when no request is in flight."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._open = False
        self._busy = 0
        self._answered = 0
        self.generation = 0
        self.finishing = False

    def enter(self) -> int:
        """Wait until the gate is open; return its generation (a request may start)."""
        with self._cond:
            while not self._open:
                self._cond.wait()
            self._busy += 1
            return self.generation

    def leave(self) -> None:
        with self._cond:
            self._busy -= 1
            self._cond.notify_all()

    def answered(self) -> None:
        """Count a 2xx answer."""
        with self._cond:
            self._answered += 1
            self._cond.notify_all()

    def open(self) -> None:
        """Let requests start, and wait until one of them is answered.

        The wait makes every trial kill a server that is doing work (its workers past
        their first, slower request), however slow the machine is.
        """
        with self._cond:
            self._open = True
            answered = self._answered
            self._cond.notify_all()
            if not self._cond.wait_for(lambda: self._answered > answered, 300):
                raise AssertionError("no request was answered in 300 s")

    def release(self) -> None:
        """Open the gate for the clients to finish, without waiting."""
        with self._cond:
            self._open = True
            self._cond.notify_all()

    def close(self) -> None:
        """Stop new requests; those in flight go on (they end when the server dies)."""
        with self._cond:
            self._open = False
            self.generation += 1

    def wait_idle(self, timeout: float = 60) -> None:
        with self._cond:
            if not self._cond.wait_for(lambda: self._busy == 0, timeout):
                raise AssertionError("requests still in flight after the kill")


class Client(threading.Thread):
    """Signs and withdraws for its own parties, one request at a time, until told to
    finish; a request without an answer is sent again, the same statement."""

    def __init__(
        self,
        base: str,
        gate: Gate,
        signatories: list[Signatory],
        letters: list[OpenLetter],
        seed: int,
    ) -> None:
        super().__init__(daemon=True)
        self.host, self.port = base.removeprefix("http://").split(":")
        self.gate = gate
        self.signatories = signatories
        self.letters = letters
        self.rng = random.Random(seed)
        self.active: dict[tuple[str, str], bool] = {}
        self.sent: list[Sent] = []
        self.pending: Sent | None = None
        self.failures: list[str] = []

    def _next(self) -> Sent:
        who = self.rng.choice(self.signatories)
        letter = self.rng.choice(self.letters)
        action = "withdraw" if self.active.get((letter.id, who.party)) else "sign"
        sent = Sent(who.statement(action, letter))
        self.sent.append(sent)
        return sent

    def run(self) -> None:
        while True:
            if self.pending is None:
                if self.gate.finishing:
                    return
                self.pending = self._next()
            sent = self.pending
            generation = self.gate.enter()
            try:
                sent.attempts += 1
                answer = self._post(sent)
            except (OSError, http.client.HTTPException) as error:
                if self.gate.generation == generation:  # the server was meant to be up
                    self.failures.append(f"no answer while up: {error!r}")
                continue
            finally:
                self.gate.leave()
            self.pending = None
            status, body = answer
            if status not in (200, 201):
                self.failures.append(f"{sent.statement.action} answered {status}: {body}")
                continue
            result = json.loads(body)
            sent.answer = (int(result["log_index"]), bool(result["new"]))
            self.gate.answered()
            if status != (201 if result["new"] else 200):
                self.failures.append(f"status {status} with new={result['new']}")
            key = (sent.statement.letter, sent.statement.party)
            self.active[key] = sent.statement.action == "sign"

    def _post(self, sent: Sent) -> tuple[int, str]:
        body = json.dumps(sent.signed.to_json())
        connection = http.client.HTTPConnection(self.host, int(self.port), timeout=60)
        try:
            connection.request(
                "POST", "/api/v1/statements", body, {"Content-Type": "application/json"}
            )
            response = connection.getresponse()
            return response.status, response.read().decode()
        finally:
            connection.close()


# -- the checks after each restart ------------------------------------------------------------


@dataclass
class Figures:
    trials: int = 0
    acknowledged: int = 0
    lost: int = 0
    in_flight_at_kill: int = 0
    in_flight_recorded: int = 0
    retried_idempotent: int = 0
    retried_new: int = 0
    rebuilds: int = 0
    problems: list[str] = field(default_factory=list)


def _rows() -> dict[str, dict[str, Any]]:
    fields = ("id", "letter_id", "party_id", "log_index", "active", "withdrawal", "evidence")
    return {row["id"]: row for row in m.Signature.objects.values(*fields)}


def _recorded(sent: Sent, index: int, event: dict[str, Any], rows: dict[str, Any]) -> str | None:
    """Why the statement at log ``index`` is not wholly in the projections, or None."""
    data, statement = event["data"], sent.statement
    if (data["action"], data["letter"], data["party"]) != (
        statement.action,
        statement.letter,
        statement.party,
    ):
        return f"entry {index} records another act"
    if statement.action == "withdraw":
        row = rows.get(data["withdraws"])
        if row is None or row["active"] or (row["withdrawal"] or {}).get("log_index") != index:
            return f"withdrawal at entry {index} is not on signature {data['withdraws']}"
        return None
    row = rows.get(data["id"])
    if (
        row is None
        or row["log_index"] != index
        or row["evidence"].get("signature") != (sent.signature)
    ):
        return f"signature at entry {index} has no Signature row {data['id']}"
    return None


def check_after_restart(
    clients: list[Client], state: LogState, figures: Figures, in_flight: list[Sent]
) -> None:
    """Every acknowledged statement wholly recorded; each one in flight wholly or not at
    all (and marked so); the projections hold exactly the log's signatures."""
    events = state.events()
    by_signature = {sig: i for i, e in enumerate(events) if (sig := signature_of(e)) is not None}
    rows = _rows()
    kinds = Counter(
        e["data"]["action"] == "withdraw" for e in events if e["type"] == "signature.recorded"
    )
    if (
        len(rows) != kinds[False]
        or sum(r["withdrawal"] is not None for r in rows.values()) != (kinds[True])
    ):
        figures.problems.append("the Signature rows are not the log's signatures")
    for client in clients:
        for sent in client.sent:
            if sent.answer is None:
                continue
            index = by_signature.get(sent.signature)
            why = "not in the log" if index is None else _recorded(sent, index, events[index], rows)
            if why is None and index != sent.answer[0]:
                why = f"at entry {index}, acknowledged as {sent.answer[0]}"
            if why is not None:
                figures.lost += 1
                figures.problems.append(f"acknowledged {sent.statement.action} lost: {why}")
    for sent in in_flight:
        index = by_signature.get(sent.signature)
        if index is None:
            half = [r["id"] for r in rows.values() if _mentions(r, sent.signature)]
            if half:
                figures.problems.append(f"unacknowledged statement half-written: rows {half}")
            sent.found_after_kill = False
            continue
        why = _recorded(sent, index, events[index], rows)
        if why is not None:
            figures.problems.append(f"unacknowledged statement half-written: {why}")
        sent.found_after_kill = True
        figures.in_flight_recorded += 1


def _mentions(row: dict[str, Any], signature: str) -> bool:
    withdrawal = (row["withdrawal"] or {}).get("evidence", {})
    return signature in (row["evidence"].get("signature"), withdrawal.get("signature"))


def check_retries(clients: list[Client], figures: Figures) -> None:
    """A statement sent again after a kill must be answered as what the check found:
    recorded already (200, the same entry) or new (201)."""
    figures.acknowledged = 0
    figures.retried_idempotent = figures.retried_new = 0
    for client in clients:
        for sent in client.sent:
            if sent.answer is None:
                continue
            figures.acknowledged += 1
            if sent.found_after_kill is None:
                continue
            if sent.answer[1] == sent.found_after_kill:
                figures.problems.append(
                    f"retry answered new={sent.answer[1]} for a statement "
                    f"{'found' if sent.found_after_kill else 'absent'} after the kill"
                )
            if sent.found_after_kill:
                figures.retried_idempotent += 1
            else:
                figures.retried_new += 1


def check_final_state(clients: list[Client]) -> None:
    """Each party's signature on each letter is active exactly when its last
    acknowledged act was a signature."""
    active = set(m.Signature.objects.filter(active=True).values_list("letter_id", "party_id"))
    expected = {key for client in clients for key, on in client.active.items() if on}
    assert active == expected


# -- the test ---------------------------------------------------------------------------------


def test_acknowledged_signatures_survive_sigkill(log: Any, settings: Any, tmp_path: Path) -> None:
    count = trials(100)
    seed = int(os.environ.get("COSIGNATORY_CRASH_SEED", "7"))
    rng = random.Random(seed)
    s.initialise_register()
    signatories = make_signatories(CLIENTS * PARTIES_PER_CLIENT)
    letters = make_letters(LETTERS, signatories[0].party)

    env = child_env(settings)
    env.update(COSIGNATORY_DATA_DIR=str(tmp_path), COSIGNATORY_API_WRITES_PER_MINUTE="0")
    output = (tmp_path / "server.log").open("wb")
    server = Server(free_port(), env, output)
    gate = Gate()
    clients = [
        Client(
            server.base,
            gate,
            signatories[n * PARTIES_PER_CLIENT : (n + 1) * PARTIES_PER_CLIENT],
            letters,
            seed * 1000 + n,
        )
        for n in range(CLIENTS)
    ]
    figures = Figures()
    started = time.monotonic()
    try:
        server.start()
        verifier = Verifier.from_vkey(get(server.base + "/log/vkey").strip())
        origin = settings.COSIGNATORY_LOG_ORIGIN
        history = CheckpointHistory(verifier, origin)
        first = fetch_checkpoint(server.base)
        assert first is not None
        history.add(first, LogState.read(verifier, origin))
        for client in clients:
            client.start()
        for trial in range(1, count + 1):
            gate.open()
            time.sleep(rng.uniform(*KILL_AFTER))
            served = fetch_checkpoint(server.base)
            gate.close()
            server.kill()
            gate.wait_idle()
            in_flight = [c.pending for c in clients if c.pending and c.pending.attempts]
            figures.in_flight_at_kill += len(in_flight)
            server.env["COSIGNATORY_SEQUENCER_HUB"] = str(trial % 2)
            server.start()
            state = LogState.read(verifier, origin)
            check_after_restart(clients, state, figures, in_flight)
            if served is not None:
                history.add(served, state)
            history.add(state.checkpoint_text, state)
            figures.trials = trial
            if trial % REBUILD_EVERY == 0:
                rebuild_matches(env)
                figures.rebuilds += 1
            assert not figures.problems, figures.problems[:10]
        gate.finishing = True
        gate.release()
        for client in clients:
            client.join(timeout=120)
            assert not client.is_alive()
        gate.close()
        state = LogState.read(verifier, origin)
        history.add(state.checkpoint_text, state)
        check_after_restart(clients, state, figures, [])
        check_retries(clients, figures)
        check_final_state(clients)
        report = rebuild_matches(env)
        figures.rebuilds += 1
    finally:
        server.kill()
        output.close()
    failures = [f for client in clients for f in client.failures]
    print(
        f"\ncrash safety ({settings.DATABASES['default']['ENGINE'].rsplit('.', 1)[-1]}, "
        f"seed {seed}): {figures.trials} trials, {figures.acknowledged} events acknowledged, "
        f"{figures.lost} lost; {figures.in_flight_at_kill} requests in flight at a kill "
        f"({figures.in_flight_recorded} found recorded), {figures.retried_idempotent} "
        f"retried-idempotent, {figures.retried_new} retried-new; "
        f"{len(history.seen)} checkpoints, {history.proofs_verified} consistency proofs; "
        f"{figures.rebuilds} rebuilds identical ({report['events']} events); "
        f"{time.monotonic() - started:.0f} s"
    )
    assert figures.lost == 0
    assert not figures.problems, figures.problems[:10]
    assert not failures, failures[:10]
    assert figures.trials == count
    assert figures.acknowledged >= count


def test_the_checks_find_a_lost_and_a_half_written_statement(log: Any, settings: Any) -> None:
    """The checks can fail: an acknowledged statement missing from the log is counted
    lost, and a statement whose entry has no projection row is half-written."""
    s.initialise_register()
    [who] = make_signatories(1)
    [letter] = make_letters(1, who.party)
    client = Client("http://127.0.0.1:9", Gate(), [who], [letter], 1)
    kept = client._next()
    recorded = s.submit_statement(kept.signed)
    kept.answer = (recorded.log_index, True)
    never = client._next()  # acknowledged, as a faulty server might, but never recorded
    never.answer = (recorded.log_index + 1, True)
    state = LogState.read(log.verifiers[0], settings.COSIGNATORY_LOG_ORIGIN)

    figures = Figures()
    check_after_restart([client], state, figures, [])
    assert figures.lost == 1
    assert figures.problems == ["acknowledged sign lost: not in the log"]

    client.sent.remove(never)
    kept.answer = None  # now in flight at a kill: its row goes, its entry stays
    m.Signature.objects.filter(log_index=recorded.log_index).delete()
    figures = Figures()
    check_after_restart([client], state, figures, [kept])
    assert figures.lost == 0
    assert figures.problems == [
        "the Signature rows are not the log's signatures",
        f"unacknowledged statement half-written: signature at entry {recorded.log_index} "
        f"has no Signature row {json.loads(state.entries[-1])['data']['id']}",
    ]
