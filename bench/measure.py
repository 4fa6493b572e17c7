"""Timing, peak memory and the machine a run happened on."""

from __future__ import annotations

import gc
import os
import platform
import resource
import sqlite3
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

_CLEAR_REFS = Path("/proc/self/clear_refs")


@dataclass(frozen=True)
class Measurement:
    """One timed phase: ``count`` operations in ``seconds`` of wall-clock time."""

    name: str
    count: int
    seconds: float
    cpu_seconds: float
    peak_rss_mb: float | None
    start_rss_mb: float | None

    @property
    def rate(self) -> float:
        """Operations per second of wall-clock time."""
        return self.count / self.seconds

    @property
    def micros(self) -> float:
        """Microseconds of wall-clock time per operation."""
        return self.seconds / self.count * 1e6

    def to_json(self) -> dict[str, object]:
        """Return the figures as a JSON-ready dict."""
        return {
            "name": self.name,
            "count": self.count,
            "seconds": round(self.seconds, 6),
            "cpu_seconds": round(self.cpu_seconds, 6),
            "per_second": round(self.rate, 1),
            "peak_rss_mb": self.peak_rss_mb,
            "start_rss_mb": self.start_rss_mb,
        }


def _reset_peak_rss() -> bool:
    # Linux >= 4.0: writing 5 resets the peak RSS (VmHWM, and so ru_maxrss) to the
    # current RSS, which turns the process-wide peak into a per-phase one.
    try:
        _CLEAR_REFS.write_text("5")
    except OSError:
        return False
    return True


def _current_rss_mb() -> float | None:
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return None
    return round(pages * os.sysconf("SC_PAGE_SIZE") / 2**20, 1)


def measure(name: str, count: int, work: Callable[[], T]) -> tuple[T, Measurement]:
    """Run ``work`` once and return its result and how long it took.

    The peak RSS is the phase's own when the kernel lets us reset it, else None.
    """
    gc.collect()
    per_phase = _reset_peak_rss()
    start_rss = _current_rss_mb()
    cpu0 = time.process_time()
    t0 = time.perf_counter()
    result = work()
    seconds = time.perf_counter() - t0
    cpu_seconds = time.process_time() - cpu0
    peak = None
    if per_phase:
        peak = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return result, Measurement(name, count, seconds, cpu_seconds, peak, start_rss)


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory_gb() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    return None


def _filesystem(folder: Path) -> str:
    # The mount that holds the folder: the longest mount point that is a prefix of it.
    try:
        mounts = [line.split()[:3] for line in Path("/proc/self/mounts").read_text().splitlines()]
    except OSError:
        return "unknown"
    found = [m for m in mounts if folder.is_relative_to(m[1])]
    if not found:
        return "unknown"
    source, point, kind = max(found, key=lambda m: len(m[1]))
    return f"{kind} on {source} ({point})"


def machine(data_folder: Path) -> dict[str, object]:
    """Describe the machine, the data folder's file system and the software versions."""
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpus": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "memory_gb": _memory_gb(),
        "platform": platform.platform(),
        "data_filesystem": _filesystem(data_folder.resolve()),
        "python": sys.version.split()[0],
        "sqlite": sqlite3.sqlite_version,
        "django": metadata.version("django"),
        "pymerkle": metadata.version("pymerkle"),
        "cryptography": metadata.version("cryptography"),
        "pynacl": _version("pynacl"),
        "locust": _version("locust"),
        "load average": " ".join(f"{x:.1f}" for x in os.getloadavg()),
    }


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"
