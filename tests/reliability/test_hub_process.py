"""The sequencer hub of ``cosignatory serve``, a process of its own, killed and started again.

The server is started as the README starts it (gunicorn, two workers), with
``COSIGNATORY_SEQUENCER_HUB=1``; signers post
self-signed statements to ``POST /api/v1/statements`` from several threads at once.
The hub's process is then killed with SIGKILL: every request must still be answered
(by a worker recording itself while the hub is away, or told to send again), the
server must start the hub again at the same address, and the workers must join it.
At the end every statement answered 2xx is in the register, and the tables equal the
log's replay.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from cosignatory.core.statements import SignedStatement
from cosignatory.web.register import hub
from cosignatory.web.register import models as m
from cosignatory.web.register import services as s
from tests.dbutil import child_env
from tests.reliability.crashload import Server, Signatory, make_letters, make_signatories
from tests.reliability.test_concurrency import race
from tests.web.conftest import free_port
from tests.web.test_register_scenarios import assert_identical

pytestmark = pytest.mark.django_db(transaction=True)

LISTENS = re.compile(rb"the sequencer hub listens \(process (\d+)\)")


def _post(base: str, signed: SignedStatement) -> tuple[int, dict[str, Any]]:
    connection = http.client.HTTPConnection(base.removeprefix("http://"), timeout=60)
    try:
        connection.request(
            "POST",
            "/api/v1/statements",
            json.dumps(signed.to_json()),
            {"Content-Type": "application/json"},
        )
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def _hubs(log_file: Path) -> list[int]:
    return [int(pid) for pid in LISTENS.findall(log_file.read_bytes())]


def _wait_for(what: str, check: Any, seconds: float = 60) -> Any:
    deadline = time.monotonic() + seconds
    while not (found := check()):
        assert time.monotonic() < deadline, f"{what}: not within {seconds} s"
        time.sleep(0.1)
    return found


def test_the_hub_records_for_every_worker_and_is_started_again_when_killed(
    log: Any, settings: Any, tmp_path: Path
) -> None:
    s.initialise_register()
    signatories = make_signatories(24)
    [letter] = make_letters(1, signatories[0].party)

    env = child_env(settings)
    env.update(
        COSIGNATORY_DATA_DIR=str(tmp_path),
        COSIGNATORY_API_WRITES_PER_MINUTE="0",
        COSIGNATORY_SEQUENCER_HUB="1",
    )
    log_file = tmp_path / "server.log"
    server = Server(free_port(), env, log_file.open("wb"))
    answers: list[Any] = []

    def sign(group: list[Signatory]) -> None:
        jobs = [lambda who=who: _post(server.base, who.statement("sign", letter)) for who in group]
        answers.extend(race(jobs))

    try:
        server.start()
        [first_hub] = _wait_for("the hub listens", lambda: _hubs(log_file))
        sign(signatories[:8])
        assert b"a worker joined the sequencer hub" in log_file.read_bytes()

        os.kill(first_hub, signal.SIGKILL)
        sign(signatories[8:16])  # while the hub is away, or just back
        hubs = _wait_for("a new hub", lambda: len(_hubs(log_file)) == 2 and _hubs(log_file))
        assert hubs[1] != first_hub
        # A worker without the hub tries again at its first batch after RECONNECT_SECONDS.
        time.sleep(hub.RECONNECT_SECONDS + 1)
        sign(signatories[16:])
    finally:
        server.kill()

    since_restart = log_file.read_bytes().split(b"the sequencer hub listens")[2]
    assert b"a worker joined the sequencer hub" in since_restart
    assert all(not isinstance(a, BaseException) for a in answers), answers
    statuses = [status for status, _ in answers]
    # Only a statement that was with the hub when it was killed may be told to send
    # again (503 E_TRY_AGAIN); every other one is answered 201.
    assert statuses.count(201) >= len(answers) - 8, answers
    assert set(statuses) <= {201, 503}, answers
    for status, body in answers:
        if status == 201:
            assert m.Signature.objects.filter(log_index=body["log_index"], active=True).exists()
        else:
            assert body["code"] == "E_TRY_AGAIN", body
    assert_identical()
