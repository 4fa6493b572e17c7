"""The register served as the README serves it in production, and load from locust.

The server is ``cosignatory serve --no-demo --port P --workers 2`` (gunicorn, gthread)
on the run's data folder, in its own process group. The load comes from a second
process: ``locust --headless`` with :mod:`bench.locustfile`, bounded in time (``-t``)
and in requests (the locustfile stops after ``BENCH_MAX_REQUESTS``).
"""

from __future__ import annotations

import csv
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

LOCUSTFILE = Path(__file__).with_name("locustfile.py")


def _bin(name: str) -> str:
    """The venv's console script ``name`` (beside this Python)."""
    return str(Path(sys.executable).with_name(name))


def free_port() -> int:
    """A TCP port on loopback that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def server_env() -> dict[str, str]:
    """The environment of the served register: the run's data folder, no write limit
    (one loopback address sends every statement), no demo."""
    return {**os.environ, "COSIGNATORY_API_WRITES_PER_MINUTE": "0", "PYTHONUNBUFFERED": "1"}


@dataclass
class Server:
    """A running ``cosignatory serve``."""

    process: subprocess.Popen[bytes]
    url: str
    log: Path

    def worker_pids(self) -> list[int]:
        """The gunicorn workers: the children of the master process."""
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == self.process.pid:
                found.append(int(entry.name))
        return found


@contextmanager
def serving(
    folder: Path,
    workers: int = 2,
    warm: tuple[str, ...] = (),
    env: dict[str, str] | None = None,
    threads: int | None = None,
) -> Iterator[Server]:
    """Start the server on a free port, wait until it answers, stop it at the end.

    ``warm``: paths to GET a few times first, so that every worker has imported its
    views and opened its database before anything is measured. ``env``: more
    environment variables for the server; ``threads``: threads per worker (else the
    default of ``cosignatory serve``).
    """
    port = free_port()
    log = folder / f"server-{port}.log"
    command = [_bin("cosignatory"), "serve", "--no-demo", "--port", str(port)]
    command += ["--workers", str(workers)]
    if threads is not None:
        command += ["--threads", str(threads)]
    with log.open("wb") as out:
        process = subprocess.Popen(
            command,
            env={**server_env(), **(env or {})},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = Server(process, f"http://127.0.0.1:{port}", log)
    try:
        _wait_until_up(server)
        for path in warm * (4 * workers):
            with urllib.request.urlopen(f"{server.url}{path}", timeout=120) as answer:
                answer.read()
        yield server
    finally:
        _stop(process)


def _wait_until_up(server: Server, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"the server stopped; see {server.log}")
        try:
            with urllib.request.urlopen(f"{server.url}/log/checkpoint", timeout=5) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"the server did not answer within {timeout:.0f} s; see {server.log}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


# -- locust ----------------------------------------------------------------------------


@dataclass(frozen=True)
class LoadResult:
    """What locust measured for one request name (or all of them)."""

    name: str
    requests: int
    failures: int
    per_second: float
    p50_ms: float
    p99_ms: float
    seconds: float
    users: int

    @classmethod
    def nothing(cls, name: str, users: int) -> LoadResult:
        """The figures of a name that got no answer at all in the time given."""
        return cls(name, 0, 0, 0.0, 0.0, 0.0, 0.0, users)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "users": self.users,
            "requests": self.requests,
            "failures": self.failures,
            "per_second": round(self.per_second, 1),
            "p50_ms": self.p50_ms,
            "p99_ms": self.p99_ms,
            "seconds": round(self.seconds, 2),
        }


def run_locust(
    url: str,
    folder: Path,
    *,
    users: int,
    seconds: float,
    env: dict[str, str],
    classes: tuple[str, ...] = ("Reader",),
    max_requests: int = 0,
) -> dict[str, LoadResult]:
    """Run locust headless against ``url`` and return its figures by request name.

    ``env`` tells :mod:`bench.locustfile` what to do (``BENCH_READ``, ``BENCH_SIGN``...).
    The rate is the requests over the wall-clock time the load ran, ramp-up included.
    """
    prefix = folder / f"locust-{time.monotonic_ns()}"
    command = [
        _bin("locust"),
        "-f",
        str(LOCUSTFILE),
        "--headless",
        "--host",
        url,
        "-u",
        str(users),
        "-r",
        str(max(users, 1)),
        "-t",
        f"{max(int(seconds), 1)}s",
        "--stop-timeout",
        "5",
        "--csv",
        str(prefix),
        "--only-summary",
        "--loglevel",
        "WARNING",
        *classes,
    ]
    drain(url)  # start from an idle server: not behind the last run's queued requests
    full_env = {**os.environ, **env, "BENCH_MAX_REQUESTS": str(max_requests)}
    t0 = time.perf_counter()
    done = subprocess.run(command, env=full_env, capture_output=True, timeout=seconds + 120)
    elapsed = time.perf_counter() - t0
    stats = Path(f"{prefix}_stats.csv")
    if not stats.exists():
        raise RuntimeError(f"locust wrote no figures: {done.stderr.decode()[-2000:]}")
    results = {}
    with stats.open() as handle:
        for row in csv.DictReader(handle):
            results[row["Name"]] = LoadResult(
                row["Name"],
                int(row["Request Count"]),
                int(row["Failure Count"]),
                _number(row["Requests/s"]),
                _number(row["50%"]),
                _number(row["99%"]),
                elapsed,
                users,
            )
    failures = Path(f"{prefix}_failures.csv")
    if failures.exists() and failures.stat().st_size > 200:
        print(f"-- locust failures: {failures.read_text()[:600]}", file=sys.stderr)
    return results


def drain(url: str) -> None:
    """Wait until the server has answered what the last load left queued.

    When locust stops, requests it gave up on are still queued in the server; a cheap
    request answered means those ahead of it are done.
    """
    with urllib.request.urlopen(f"{url}/log/checkpoint", timeout=600) as answer:
        answer.read()


def _number(text: str) -> float:
    """A figure of locust's CSV; "N/A" (no request finished) is 0."""
    try:
        return float(text)
    except ValueError:
        return 0.0


def write_json_lines(path: Path, items: list[Any]) -> None:
    """Write ``items`` one JSON document a line (the statements the signers post)."""
    with path.open("w") as handle:
        for item in items:
            handle.write(json.dumps(item, separators=(",", ":")) + "\n")
