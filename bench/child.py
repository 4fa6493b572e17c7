"""Run a command as a child process and measure its wall time and its own peak RSS
(and, if asked, the peak RSS of its whole process tree: a pool's workers included)."""

from __future__ import annotations

import contextlib
import os
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

TREE_SAMPLE_SECONDS = 0.1


@dataclass(frozen=True)
class ChildRun:
    """A finished child: exit status, wall-clock seconds, CPU seconds, peak RSS in MB."""

    status: int
    seconds: float
    cpu_seconds: float
    peak_rss_mb: float
    output: str
    tree_peak_rss_mb: float | None = None

    def check(self, what: str) -> ChildRun:
        """Raise if the child failed."""
        if self.status != 0:
            raise RuntimeError(f"{what} failed ({self.status}): {self.output[-1500:]}")
        return self


def run_child(command: list[str], stdout: Path | None = None, tree: bool = False) -> ChildRun:
    """Run ``command``; its peak RSS is its own (``wait4``), not the largest child's so far.

    ``stdout`` receives its standard output (else it is kept, with standard error, in
    :attr:`ChildRun.output`). With ``tree``, the RSS of the child and all its descendants
    is also summed every TREE_SAMPLE_SECONDS, and the largest sum kept
    (:attr:`ChildRun.tree_peak_rss_mb`).
    """
    errors = stdout.with_suffix(stdout.suffix + ".err") if stdout else None
    t0 = time.perf_counter()
    with open(stdout or os.devnull, "wb") as out, open(errors or os.devnull, "wb") as err:
        process = subprocess.Popen(
            command,
            stdout=out if stdout else subprocess.PIPE,
            stderr=err if stdout else subprocess.STDOUT,
        )
        sampler = _TreeSampler(process.pid) if tree else None
        captured = b""
        if not stdout:
            assert process.stdout is not None
            captured = process.stdout.read()
        _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - t0
    tree_peak = sampler.stop() if sampler is not None else None
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
        tree_peak,
    )


class _TreeSampler:
    """Sum the RSS of a process and its descendants, in a thread, until stopped."""

    def __init__(self, pid: int) -> None:
        self._pid = pid
        self._peak = 0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._done.wait(TREE_SAMPLE_SECONDS):
            try:
                root = psutil.Process(self._pid)
                processes = [root, *root.children(recursive=True)]
            except psutil.Error:
                continue
            total = 0
            for process in processes:
                with contextlib.suppress(psutil.Error):  # it ended meanwhile
                    total += process.memory_info().rss
            self._peak = max(self._peak, total)

    def stop(self) -> float:
        """Stop sampling; return the largest sum seen, in MB."""
        self._done.set()
        self._thread.join()
        return round(self._peak / 2**20, 1)
