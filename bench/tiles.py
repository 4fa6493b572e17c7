"""Target 5: inclusion proofs at a large size (10,000,000 in a full run) from tiles.

The store is emptied and filled with ``--tile-size`` entries by ``Log.append_batch``
in chunks (timed: how long a log of that size takes to fill). Then, for the same
random leaves:

- in process, ``Log.prove_inclusion`` with a new ``Log`` for each proof (every tile
  read from the database) and with one warm ``Log``;
- over HTTP, the hash tiles a client that verifies a proof fetches
  (``GET /log/tile/<L>/<N>[.p/<W>]``, recorded from what each cold proof reads), served
  by ``cosignatory serve``: proofs per second = tiles per second ÷ tiles per proof.
  A client that keeps full tiles (they are immutable) fetches fewer.

Target: 10,000 proofs per second.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Iterable
from typing import Any

from bench import report
from bench.run import Run, say
from bench.server import run_locust, serving

TARGET = 10_000.0
CHUNK = 500_000
_PAD = "x" * 120


def _entries(start: int, end: int) -> list[bytes]:
    """Entries of about 166 bytes, like the register's events (content does not matter)."""
    return [
        b'{"kind":"bench.entry","n":%d,"pad":"%s"}' % (n, _PAD.encode()) for n in range(start, end)
    ]


def fill(run: Run, size: int) -> float:
    """Empty the store and append ``size`` entries; return the seconds it took."""
    ws = run.workspace
    ws.reset()
    run.filled = False
    run.holds = "tiles"
    log = ws.log()
    t0 = time.perf_counter()
    for start in range(0, size, CHUNK):
        log.append_batch(_entries(start, min(start + CHUNK, size)))
        if start and start % (10 * CHUNK) == 0:
            say(f"tiles: {start:,} entries appended")
    return time.perf_counter() - t0


class _Recording:
    """A log storage that remembers which tiles were read."""

    def __init__(self, storage: Any) -> None:
        self.storage = storage
        self.keys: list[tuple[int, int]] = []

    def read_tiles(self, keys: Iterable[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
        keys = list(keys)
        self.keys.extend(keys)
        return dict(self.storage.read_tiles(keys))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.storage, name)


def tile_path(level: int, index: int, size: int) -> str:
    """The URL path of hash tile (level, index) as a client needs it at ``size``."""
    from cosignatory.tlog.tiles import HashTile

    hashes = size >> (8 * level)
    width = min(256, hashes - index * 256)
    return "/log/" + HashTile(level, index, width).path


def bench_tiles(run: Run) -> dict[str, Any]:
    """Fill a log of ``--tile-size`` entries; prove inclusion from tiles, in process and
    over HTTP."""
    from cosignatory.tlog.log import Log
    from cosignatory.web.log.storage import DjangoLogStorage

    size = run.tile_size
    say(f"tiles: filling a log of {size:,} entries")
    fill_seconds = fill(run, size)
    ws = run.workspace
    shared = ws.log()
    rng = random.Random(run.seed + 5)
    indices = [rng.randrange(size) for _ in range(run.proof_count)]

    cold = warm = 0.0
    paths: list[str] = []
    tiles_per_proof = 0.0
    for attempt in range(run.repeat):
        t0 = time.perf_counter()
        for i in indices:
            Log(DjangoLogStorage(), shared.origin, shared.signers).prove_inclusion(i, size)
        cold = max(cold, len(indices) / (time.perf_counter() - t0))
        log = ws.fresh_log()
        for i in indices:
            log.prove_inclusion(i, size)
        t0 = time.perf_counter()
        for i in indices:
            log.prove_inclusion(i, size)
        warm = max(warm, len(indices) / (time.perf_counter() - t0))
        say(f"tiles: round {attempt + 1}: cold {cold:,.0f}/s, warm {warm:,.0f}/s")
    for i in indices[:500]:
        recording = _Recording(DjangoLogStorage())
        Log(recording, shared.origin, shared.signers).prove_inclusion(i, size)
        paths.extend(tile_path(level, index, size) for level, index in recording.keys)
    tiles_per_proof = len(paths) / min(len(indices), 500)

    seconds = 5.0 if run.quick else 15.0
    users = 32
    say(f"tiles: serving {len(set(paths)):,} distinct tiles to {users} users for {seconds:.0f} s")
    with serving(ws.path, warm=tuple(paths[:8])) as server:
        results = run_locust(
            server.url,
            ws.path,
            users=users,
            seconds=seconds,
            env={"BENCH_READ": json.dumps(paths)},
        )
    agg = results["Aggregated"]
    http = agg.per_second / tiles_per_proof
    figures = {
        "size": size,
        "fill_seconds": round(fill_seconds, 1),
        "fill_entries_per_second": round(size / fill_seconds),
        "proofs": len(indices),
        "cold_per_second": round(cold),
        "warm_per_second": round(warm),
        "tiles_per_proof": round(tiles_per_proof, 2),
        "http_tiles": agg.to_json(),
        "http_proofs_per_second": round(http),
        "target": TARGET,
        "met": max(cold, warm, http) >= TARGET,
    }
    print(f"\n## target 5: inclusion proofs at size {size:,} from tiles\n")
    print(
        f"Filling the log: {fill_seconds:,.0f} s ({size / fill_seconds:,.0f} entries/s, "
        f"append_batch in chunks of {CHUNK:,}). {len(indices):,} random leaves, best of "
        f"{run.repeat}; a cold proof reads {tiles_per_proof:.1f} tiles."
    )
    print()
    rows = [
        [
            "in process, new Log per proof (tiles from SQLite)",
            report.count(cold),
            report.ratio(cold / TARGET),
        ],
        ["in process, one warm Log", report.count(warm), report.ratio(warm / TARGET)],
        [
            f"over HTTP: {agg.per_second:,.0f} tiles/s ÷ {tiles_per_proof:.1f}, {users} users, "
            f"p99 {agg.p99_ms:,.0f} ms",
            report.count(http),
            report.ratio(http / TARGET),
        ],
    ]
    print(report.table(["proofs", "per second", f"/ target {TARGET:,.0f}/s"], rows))
    return figures
