"""What the load process does, told by environment variables (see bench/server.py).

- ``BENCH_READ``: a JSON list of paths; readers GET them in turn.
- ``BENCH_SIGN``: a file of statements, one JSON a line; signers POST each once to
  ``/api/v1/statements`` and stop when none are left. ``BENCH_SIGNERS`` of the users
  sign, the others read.
- The user classes to run are named on locust's command line (``Signer``, ``Reader``).
- ``BENCH_SIGN_RATE``: statements a second each signer sends at most (empty: each sends
  its next as soon as its last is answered).
- ``BENCH_MAX_REQUESTS``: stop the whole run after this many requests (0: no bound).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from itertools import cycle
from pathlib import Path
from typing import Any

import gevent  # type: ignore[import-untyped]
from locust import FastHttpUser, constant, constant_throughput, events, task
from locust.exception import StopUser

_READ: list[str] = json.loads(os.environ.get("BENCH_READ") or "[]")
_SIGN_FILE = os.environ.get("BENCH_SIGN", "")
_SIGNERS = int(os.environ.get("BENCH_SIGNERS") or "0")
_MAX = int(os.environ.get("BENCH_MAX_REQUESTS") or "0")
_SIGN_RATE = float(os.environ.get("BENCH_SIGN_RATE") or "0")
_statements: Iterator[str] = iter(Path(_SIGN_FILE).read_text().splitlines() if _SIGN_FILE else [])
_paths = cycle(_READ) if _READ else None
_sent = [0]


@events.init.add_listener  # type: ignore[untyped-decorator]
def _bound(environment: Any, **kwargs: Any) -> None:
    """Stop the run after ``BENCH_MAX_REQUESTS`` requests."""

    def count(**kw: Any) -> None:
        _sent[0] += 1
        if _MAX and _sent[0] == _MAX and environment.runner is not None:
            gevent.spawn(environment.runner.quit)

    environment.events.request.add_listener(count)


class Signer(FastHttpUser):
    """Posts pre-made self-signed statements, one per request, as fast as answered or at
    ``BENCH_SIGN_RATE`` a second (if answered in time)."""

    wait_time = constant_throughput(_SIGN_RATE) if _SIGN_RATE else constant(0)
    fixed_count = _SIGNERS

    @task
    def sign(self) -> None:
        body = next(_statements, None)
        if body is None:
            raise StopUser()
        with self.client.post(
            "/api/v1/statements",
            data=body,
            headers={"Content-Type": "application/json"},
            name="POST /api/v1/statements",
            catch_response=True,
        ) as answer:
            if answer.status_code != 201:
                answer.failure(f"{answer.status_code}: {answer.text[:200]}")


class Reader(FastHttpUser):
    """GETs the read paths in turn."""

    wait_time = constant(0)

    @task
    def read(self) -> None:
        assert _paths is not None
        path = next(_paths)
        self.client.get(path, name=path)
