"""Target 6: the signatory list as CSV streams in constant memory.

``cosignatory export LETTER --format csv`` of the letter signed by a tenth of the
persons and of the big letter: the child's own peak RSS (``wait4``) at both sizes,
whose ratio should be about 1. Then the HTTP download (``signatories.csv``) from a
one-worker server: how far the worker's peak RSS (``VmHWM``) rose for each size.
"""

from __future__ import annotations

import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from bench import report
from bench.child import run_child
from bench.run import Run, say
from bench.server import serving


def _hwm_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _download(url: str, path: Path) -> tuple[int, float]:
    t0 = time.perf_counter()
    size = 0
    with urllib.request.urlopen(url, timeout=600) as answer, path.open("wb") as out:
        while chunk := answer.read(1 << 16):
            size += len(chunk)
            out.write(chunk)
    return size, time.perf_counter() - t0


def bench_export(run: Run) -> dict[str, Any]:
    """Export both letters by the CLI and over HTTP; compare the peaks."""
    from bench.generate import TENTH_LETTER

    data = run.dataset
    folder = run.workspace.path
    cli = str(Path(sys.executable).with_name("cosignatory"))
    letters = {TENTH_LETTER: data.signatures // 10, data.big_letter: data.signatures}
    cli_rows: dict[str, dict[str, Any]] = {}
    for letter in letters:
        say(f"cosignatory export {letter} --format csv")
        out = folder / f"{letter}.csv"
        done = run_child([cli, "export", letter, "--format", "csv", "-o", str(out)]).check(
            "cosignatory export"
        )
        with out.open("rb") as handle:
            count = sum(1 for _ in handle) - 1
        cli_rows[letter] = {
            "rows": count,
            "seconds": round(done.seconds, 2),
            "peak_rss_mb": done.peak_rss_mb,
            "mb": round(out.stat().st_size / 2**20, 1),
        }
    http_rows: dict[str, dict[str, Any]] = {}
    with serving(folder, workers=1) as server:
        children = server.worker_pids()  # the worker, and the notices' delivery process
        for letter in letters:
            say(f"GET /letters/{letter}/signatories.csv")
            before = {pid: _hwm_mb(pid) for pid in children}
            size, seconds = _download(
                f"{server.url}/letters/{letter}/signatories.csv", folder / f"{letter}.http.csv"
            )
            # The worker is the child whose peak rose the most.
            worker = max(children, key=lambda pid: _hwm_mb(pid) - before[pid])
            http_rows[letter] = {
                "mb": round(size / 2**20, 1),
                "seconds": round(seconds, 2),
                "worker_peak_rss_mb": round(_hwm_mb(worker), 1),
                "worker_peak_rise_mb": round(_hwm_mb(worker) - before[worker], 1),
            }
    small, big = (cli_rows[letter] for letter in letters)
    ratio = big["peak_rss_mb"] / small["peak_rss_mb"]
    figures = {"cli": cli_rows, "http": http_rows, "cli_peak_ratio": round(ratio, 3)}
    print("\n## target 6: CSV export in constant memory\n")
    rows = []
    for letter in letters:
        c, h = cli_rows[letter], http_rows[letter]
        rows.append(
            [
                letter,
                report.count(c["rows"]),
                f"{c['mb']:,.1f}",
                report.seconds(c["seconds"]),
                report.megabytes(c["peak_rss_mb"]),
                report.seconds(h["seconds"]),
                f"{h['worker_peak_rss_mb']:,.0f} (+{h['worker_peak_rise_mb']:,.0f})",
            ]
        )
    headers = ["letter", "rows", "CSV MB", "CLI s", "CLI peak RSS MB", "HTTP s", "worker peak MB"]
    print(report.table(headers, rows))
    print()
    print(
        f"CLI peak RSS, {big['rows']:,} rows / {small['rows']:,} rows: {report.ratio(ratio)} "
        f"(constant memory: ≈ 1×)"
    )
    return figures
