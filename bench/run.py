"""What every benchmark shares: the run's parameters and stores, and how figures are kept."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bench import report
from bench.data import make_entries
from bench.measure import Measurement
from bench.workspace import Workspace

if TYPE_CHECKING:
    from bench.baselines import Limits
    from bench.generate import Dataset


def say(message: str) -> None:
    """Print progress to stderr, so stdout holds only the results."""
    print(f"-- {message}", file=sys.stderr, flush=True)


@dataclass
class Run:
    """The parameters and shared state of one ``python -m bench`` run."""

    workspace: Workspace
    entry_count: int
    proof_count: int
    pymerkle_cold_count: int
    repeat: int
    seed: int
    signatures: int = 1_000_000
    pool: int = 10_000
    tile_size: int = 10_000_000
    quick: bool = False
    letters: int = 300
    users: tuple[int, ...] = ()
    sign_seconds: float = 60.0
    sign_rate: float = 0.0
    """Statements a second all signers send together; 0: each as soon as answered."""
    _entries: list[bytes] | None = None
    filled: bool = False
    _dataset: Dataset | None = None
    _limits: Limits | None = None
    holds: str = "entries"  # what the store holds: "entries", "register" or "tiles"

    @property
    def entries(self) -> list[bytes]:
        """The run's entries, made once (not timed)."""
        if self._entries is None:
            say(f"making {self.entry_count:,} entries (seed {self.seed})")
            self._entries = make_entries(self.entry_count, self.seed)
        return self._entries

    @property
    def limits(self) -> Limits:
        """The raw Ed25519 and SHA-256 limits of this machine, measured once per run."""
        if self._limits is None:
            from bench.baselines import measure_limits

            say("measuring the raw Ed25519 and SHA-256 limits")
            self._limits = measure_limits(max(self.repeat, 3))
        return self._limits

    @property
    def dataset(self) -> Dataset:
        """The generated register (made once, in a fresh store; its time is reported)."""
        if self._dataset is None:
            from bench.generate import generate

            self.workspace.reset()
            self.filled = False
            say(f"generating the register: {self.signatures:,} signatures, pool {self.pool:,}")
            self._dataset = generate(
                self.signatures, self.seed, self.letters, pool=self.pool, progress=say
            )
            self.holds = "register"
            say(f"generated {self._dataset.events:,} events in {self._dataset.seconds:,.0f} s")
        return self._dataset

    def fill(self) -> None:
        """Append the entries to both stores, untimed, unless ``append`` already did."""
        if self.filled:
            return
        if self.holds != "entries":
            self.workspace.reset()
            self.holds = "entries"
        say(f"filling both stores with {self.entry_count:,} entries (not timed)")
        self.workspace.log().append_batch(self.entries)
        tree = self.workspace.pymerkle_tree()
        tree.append_entries(self.entries)
        tree.close()
        self.filled = True


def best(samples: list[Measurement]) -> Measurement:
    """Return the fastest of repeated measurements: the one the machine disturbed least."""
    return min(samples, key=lambda m: m.seconds)


def row(samples: list[Measurement]) -> list[str]:
    """Return a table row for repeated measurements: the best one, and the highest peak."""
    m = best(samples)
    return [
        m.name,
        report.count(m.count),
        report.seconds(m.seconds),
        report.seconds(m.cpu_seconds),
        report.count(m.rate),
        peak(samples),
    ]


def peak(samples: list[Measurement]) -> str:
    """The highest peak RSS of the samples and how far it rose above the phase's start."""
    peaks = [(s.peak_rss_mb, s.start_rss_mb) for s in samples if s.peak_rss_mb is not None]
    if not peaks:
        return "–"
    peak, start = max(peaks)
    rise = "" if start is None else f" (+{max(peak - start, 0):,.0f})"
    return f"{peak:,.0f}{rise}"


def samples_json(samples: list[Measurement]) -> dict[str, Any]:
    """Return the best measurement as JSON, with every sample's time beside it."""
    return {**best(samples).to_json(), "samples_seconds": [round(m.seconds, 4) for m in samples]}


def pragma_text(pragmas: dict[str, str]) -> str:
    """Return a connection's durability settings as ``journal_mode=..., synchronous=...``."""
    return f"journal_mode={pragmas['journal_mode']}, synchronous={pragmas['synchronous']}"
