"""Target 3: public reads at several levels of concurrency, so there is a curve.

The letter page and the signatory JSON (``/api/v1/letters/{id}/signatories``) of the
200-signatory letter (≥ 2,000 requests/s, p99 < 100 ms), and the first page of the
big letter's page and JSON (p99 < 200 ms). Each path is loaded alone by locust's
closed-loop users (no think time) for a bounded time at each level.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench import report
from bench.run import Run, say
from bench.server import LoadResult, run_locust, serving
from bench.signing import profile, profile_table, summarise_profile

SMALL_RATE = 2_000.0
SMALL_P99_MS = 100.0
BIG_P99_MS = 200.0


def paths(run: Run) -> dict[str, tuple[float | None, float]]:
    """Each read path with its target rate (None: no rate target) and p99 in ms."""
    data = run.dataset
    small, big = data.small_letter, data.big_letter
    return {
        f"/letters/{small}/": (SMALL_RATE, SMALL_P99_MS),
        f"/api/v1/letters/{small}/signatories": (SMALL_RATE, SMALL_P99_MS),
        f"/letters/{big}/": (None, BIG_P99_MS),
        f"/api/v1/letters/{big}/signatories": (None, BIG_P99_MS),
    }


def levels(run: Run) -> list[int]:
    """The concurrency levels (users) of the curve."""
    if run.users:
        return list(run.users)
    return [1, 8, 32] if run.quick else [1, 4, 16, 64]


def _load(url: str, folder: Path, path: str, users: int, seconds: float) -> dict[str, Any]:
    """Load ``path`` alone with ``users`` closed-loop users; return locust's figures."""
    found = run_locust(
        url, folder, users=users, seconds=seconds, env={"BENCH_READ": json.dumps([path])}
    )
    return (found.get(path) or LoadResult.nothing(path, users)).to_json()


def bench_reads(run: Run) -> dict[str, Any]:
    """Load each read path at each level; print req/s and latency beside the targets."""
    targets = paths(run)
    seconds = 4.0 if run.quick else 10.0
    folder = run.workspace.path
    curve: dict[str, list[dict[str, Any]]] = {}
    profiled = f"/letters/{run.dataset.big_letter}/"
    raw = folder / "reads-profile.txt"
    with serving(folder, warm=tuple(targets)) as server:
        for path in targets:
            curve[path] = []
            for users in levels(run):
                say(f"reads: {path} with {users} users for {seconds:.0f} s")
                curve[path].append(_load(server.url, folder, path, users, seconds))
        # The profile comes from a load of its own: py-spy takes most of a core, which
        # the figures above must not pay.
        say(f"reads: {profiled} again with py-spy on the workers")
        spy = profile(server.process.pid, max(int(seconds) - 1, 1), raw)
        _load(server.url, folder, profiled, levels(run)[-1], seconds)
        if spy is not None:
            spy.wait(60)
    # The same paths without the page cache, at the highest level, for the gain.
    top = levels(run)[-1]
    uncached: dict[str, dict[str, Any]] = {}
    with serving(folder, warm=tuple(targets), env={"COSIGNATORY_PAGE_CACHE": "0"}) as server:
        for path in targets:
            say(f"reads without the page cache: {path} with {top} users for {seconds:.0f} s")
            uncached[path] = _load(server.url, folder, path, top, seconds)
    print(f"\n## target 3: public reads ({seconds:.0f} s a level, closed-loop users)\n")
    rows = []
    verdicts = {}
    for path, points in curve.items():
        rate_target, p99_target = targets[path]
        best = max(points, key=lambda p: p["per_second"])
        ok_rate = rate_target is None or best["per_second"] >= rate_target
        # A level at which no request finished in the time given has no p99 to meet.
        answered = [p for p in points if p["requests"]]
        ok_p99 = bool(answered) and min(p["p99_ms"] for p in answered) < p99_target
        verdicts[path] = ok_rate and ok_p99
        for p in points:
            rows.append(
                [
                    path,
                    str(p["users"]),
                    report.count(p["requests"]),
                    f"{p['per_second']:,.0f}",
                    "–" if rate_target is None else f"≥ {rate_target:,.0f}",
                    f"{p['p50_ms']:,.0f}",
                    f"{p['p99_ms']:,.0f}",
                    f"< {p99_target:,.0f}",
                    str(p["failures"]),
                ]
            )
    headers = ["path", "users", "requests", "req/s", "target", "p50 ms", "p99 ms", "target", "fail"]
    print(report.table(headers, rows))
    print()
    for path, ok in verdicts.items():
        rate_target, p99_target = targets[path]
        best = max(curve[path], key=lambda p: p["per_second"])
        gap = (
            ""
            if rate_target is None
            else f", best {best['per_second'] / rate_target:.0%} of the rate"
        )
        print(f"{path}: {'met' if ok else 'MISSED'}{gap}")
    print(f"\nThe page cache's gain, {top} users (COSIGNATORY_PAGE_CACHE=0 against the default):\n")
    gains = []
    for path, off in uncached.items():
        on = curve[path][-1]
        gain = on["per_second"] / off["per_second"] if off["per_second"] else float("inf")
        gains.append(
            [
                path,
                f"{off['per_second']:,.0f}",
                f"{on['per_second']:,.0f}",
                f"{gain:,.1f}×",
                f"{off['p99_ms']:,.0f}",
                f"{on['p99_ms']:,.0f}",
            ]
        )
    headers = ["path", "req/s off", "req/s on", "gain", "p99 ms off", "p99 ms on"]
    print(report.table(headers, gains))
    prof = summarise_profile(raw)
    if prof.get("in_requests"):
        print(f"\nWhere the workers' time went while serving {profiled} (py-spy):\n")
        print(profile_table(prof))
    return {
        "seconds_per_level": seconds,
        "curve": curve,
        "without_page_cache": uncached,
        "met": verdicts,
        "profile": prof,
    }
