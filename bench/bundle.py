"""Target 4: offline verification of the big letter's bundle.

``cosignatory export bundle LETTER`` writes it; ``cosignatory verify BUNDLE --log-key``
checks the checkpoint, every inclusion proof, every event by the register's rules and
every seal and self-signed statement. Its time is compared with the raw time to
verify as many Ed25519 signatures as the letter has signatures (target: at most 1.5 times), and
with the stricter count of every Ed25519 signature the verifier checks (one seal per
entry, plus each self-signed statement). Its peak RSS, that of its whole process tree
(its pool's workers included, sampled every 0.1 s; at least its own from ``wait4``), is
compared with 500 MB. It runs once more with ``--workers 1``, for the pool's gain.
"""

from __future__ import annotations

import base64
import json
import sys
from pathlib import Path
from typing import Any

from bench import report
from bench.child import ChildRun, run_child
from bench.run import Run, say

TARGET_RATIO = 1.5
TARGET_RSS_MB = 500.0


def _cli() -> str:
    return str(Path(sys.executable).with_name("cosignatory"))


def _tree_peak(run: ChildRun) -> float:
    """The peak RSS of a run's process tree (at least its own, which wait4 measures)."""
    return max(run.peak_rss_mb, run.tree_peak_rss_mb or 0.0)


def count_signatures(path: Path) -> tuple[int, int, int]:
    """Entries, signature events and self-signed statements in a bundle."""
    entries = signatures = statements = 0
    with path.open("rb") as handle:
        for line in handle:
            item = json.loads(line)
            if "entry" not in item:
                continue
            entries += 1
            entry = base64.b64decode(item["entry"])
            if b'"signature.recorded"' in entry:
                signatures += 1
            if b'"self-signed"' in entry:
                statements += 1
    return entries, signatures, statements


def bench_bundle(run: Run) -> dict[str, Any]:
    """Export and verify the big letter's bundle; time and peak memory against the raw."""
    data = run.dataset
    limits = run.limits
    folder = run.workspace.path
    bundle = folder / "big.cosignatory-bundle.jsonl"
    vkey = folder / "log.vkey"
    run_child([_cli(), "log", "vkey"], stdout=vkey).check("cosignatory log vkey")
    say(f"exporting the bundle of {data.big_letter}")
    export = run_child([_cli(), "export", "bundle", data.big_letter, "-o", str(bundle)])
    export.check("cosignatory export bundle")
    entries, signatures, statements = count_signatures(bundle)
    say(f"verifying the bundle: {entries:,} entries (best of {run.repeat})")
    command = [_cli(), "verify", str(bundle), "--log-key", str(vkey)]
    verifies = []
    for _ in range(run.repeat):
        done = run_child(command, stdout=folder / "verify.out", tree=True)
        verifies.append(done.check("cosignatory verify"))
    best = min(verifies, key=lambda r: r.seconds)
    peak = max(_tree_peak(r) for r in verifies)
    say("verifying it once more in one process (--workers 1), for the pool's gain")
    alone = run_child([*command, "--workers", "1"], stdout=folder / "verify1.out", tree=True)
    alone.check("cosignatory verify --workers 1")
    raw = signatures / limits.ed25519
    raw_all = (entries + statements) / limits.ed25519
    ratio = best.seconds / raw
    figures = {
        "entries": entries,
        "signature_events": signatures,
        "self_signed_statements": statements,
        "bundle_mb": round(bundle.stat().st_size / 2**20, 1),
        "export_seconds": round(export.seconds, 2),
        "export_peak_rss_mb": export.peak_rss_mb,
        "verify_seconds": round(best.seconds, 2),
        "verify_cpu_seconds": round(best.cpu_seconds, 2),
        "verify_samples_seconds": [round(r.seconds, 2) for r in verifies],
        "verify_peak_rss_mb": peak,
        "verify_own_peak_rss_mb": max(r.peak_rss_mb for r in verifies),
        "verify_one_process_seconds": round(alone.seconds, 2),
        "verify_one_process_peak_rss_mb": _tree_peak(alone),
        "pool_gain": round(alone.seconds / best.seconds, 2),
        "raw_seconds_signatures": round(raw, 2),
        "raw_seconds_all_ed25519": round(raw_all, 2),
        "ratio": round(ratio, 3),
        "ratio_all_ed25519": round(best.seconds / raw_all, 3),
        "target_ratio": TARGET_RATIO,
        "target_rss_mb": TARGET_RSS_MB,
        "met": ratio <= TARGET_RATIO and peak < TARGET_RSS_MB,
    }
    print(f"\n## target 4: offline verification of the {data.big_letter} bundle\n")
    print(
        f"{entries:,} entries ({figures['bundle_mb']:,.0f} MB), {signatures:,} signature "
        f"events, {statements:,} self-signed statements; best of {run.repeat}."
    )
    print()
    rows = [
        [
            "cosignatory export bundle",
            report.seconds(export.seconds),
            "",
            report.megabytes(export.peak_rss_mb),
            "",
        ],
        [
            "cosignatory verify",
            report.seconds(best.seconds),
            report.ratio(ratio),
            report.megabytes(peak),
            f"< {TARGET_RSS_MB:.0f}",
        ],
        [
            "cosignatory verify --workers 1 (one process)",
            report.seconds(alone.seconds),
            report.ratio(alone.seconds / raw),
            report.megabytes(_tree_peak(alone)),
            "",
        ],
        [
            f"raw: {signatures:,} Ed25519 verifies",
            report.seconds(raw),
            f"target ≤ {TARGET_RATIO}×",
            "",
            "",
        ],
        [
            f"raw: {entries + statements:,} Ed25519 verifies (every seal and statement)",
            report.seconds(raw_all),
            report.ratio(best.seconds / raw_all),
            "",
            "",
        ],
    ]
    print(report.table(["what", "seconds", "verify / raw", "peak RSS MB", "target"], rows))
    print()
    print(
        "Peak RSS of the verify is that of its whole process tree (its pool's workers "
        f"included); of its own process: {figures['verify_own_peak_rss_mb']:,.0f} MB. "
        f"The pool's gain over one process: {figures['pool_gain']}×."
    )
    verdict = "met" if figures["met"] else "MISSED"
    print(f"target 4: {verdict} (time {report.ratio(ratio)} of raw, peak {peak:,.0f} MB)")
    return figures
