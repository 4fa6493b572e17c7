"""Run a command as a child process and measure its wall time and its own peak RSS."""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ChildRun:
    """A finished child: exit status, wall-clock seconds, CPU seconds, peak RSS in MB."""

    status: int
    seconds: float
    cpu_seconds: float
    peak_rss_mb: float
    output: str

    def check(self, what: str) -> ChildRun:
        """Raise if the child failed."""
        if self.status != 0:
            raise RuntimeError(f"{what} failed ({self.status}): {self.output[-1500:]}")
        return self


def run_child(command: list[str], stdout: Path | None = None) -> ChildRun:
    """Run ``command``; its peak RSS is its own (``wait4``), not the largest child's so far.

    ``stdout`` receives its standard output (else it is kept, with standard error, in
    :attr:`ChildRun.output`).
    """
    errors = stdout.with_suffix(stdout.suffix + ".err") if stdout else None
    t0 = time.perf_counter()
    with open(stdout or os.devnull, "wb") as out, open(errors or os.devnull, "wb") as err:
        process = subprocess.Popen(
            command,
            stdout=out if stdout else subprocess.PIPE,
            stderr=err if stdout else subprocess.STDOUT,
        )
        captured = b""
        if not stdout:
            assert process.stdout is not None
            captured = process.stdout.read()
        _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - t0
    process.returncode = os.waitstatus_to_exitcode(status)
    output = captured.decode(errors="replace")
    if errors and errors.exists():
        output += errors.read_text(errors="replace")
    return ChildRun(
        process.returncode,
        seconds,
        usage.ru_utime + usage.ru_stime,
        round(usage.ru_maxrss / 1024, 1),
        output,
    )
