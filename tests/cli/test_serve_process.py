"""`cosignatory serve` as the README starts it: gunicorn workers and the notice courier.

Regression: the courier used to be a thread of gunicorn's master that queried the
database while the workers were being forked; a worker forked while that thread held
the database driver's lock hung on its first connection, so every request it took
timed out. The courier is now a process of its own.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.web.conftest import free_port

pytestmark = pytest.mark.no_database

PAGES = ["/", "/bodies/", "/parties/", "/letters/", "/letters/demo-heritage/", "/search/?q=demo"]


def _get(url: str) -> int:
    with urllib.request.urlopen(url, timeout=20) as response:
        return int(response.status)


def _children(pid: int) -> list[str]:
    out = subprocess.run(["ps", "-o", "args=", "--ppid", str(pid)], capture_output=True, text=True)
    return out.stdout.splitlines()


def test_every_worker_answers_and_the_courier_ends_with_the_server(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "COSIGNATORY_DATA_DIR": str(tmp_path), "COSIGNATORY_INSECURE_COOKIES": "1"}
    env.pop("COSIGNATORY_DATABASE_URL", None)  # the embedded database, as the README runs it
    server = subprocess.Popen(
        [str(Path(sys.executable).with_name("cosignatory")), "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                _get(base + "/")
                break
            except OSError:
                assert server.poll() is None, "the server stopped while starting"
                assert time.monotonic() < deadline, "the server did not start in 120 s"
                time.sleep(0.5)
        # Several rounds, so both workers take requests.
        for _ in range(8):
            for page in PAGES:
                assert _get(base + page) == 200, page
        children = _children(server.pid)
        assert any("multiprocessing" in args for args in children), children
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)
    time.sleep(1)
    assert _children(server.pid) == []
