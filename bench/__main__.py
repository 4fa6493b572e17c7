"""``python -m bench [names...] [--quick] [--signatures N] [--json FILE] ...``.

Runs the named benchmarks (default: all) in one fresh temporary data folder and
prints Markdown tables: each figure beside its baseline from the same run. To add a
benchmark, write ``bench/<name>.py`` with ``bench_<name>(run) -> dict`` and add one
line to :data:`BENCHMARKS`.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import report
from bench.append import bench_append
from bench.baselines import bench_limits
from bench.bundle import bench_bundle
from bench.export import bench_export
from bench.measure import machine
from bench.plot import write_plot
from bench.proofs import bench_proofs
from bench.reads import bench_reads
from bench.run import Run, say
from bench.signing import bench_signing
from bench.tiles import bench_tiles
from bench.workspace import Workspace

BENCHMARKS: dict[str, Callable[[Run], dict[str, Any]]] = {
    "append": bench_append,
    "proofs": bench_proofs,
    "limits": bench_limits,
    "reads": bench_reads,
    "signing": bench_signing,
    "bundle": bench_bundle,
    "export": bench_export,
    "tiles": bench_tiles,
    "intake": __import__("bench.intake", fromlist=["bench_intake"]).bench_intake,
}
"""Every benchmark by name, in the order a full run takes them."""


def _positive(text: str) -> int:
    value = int(text.replace("_", "").replace(",", ""))
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def _levels(text: str) -> tuple[int, ...]:
    return tuple(_positive(part) for part in text.split(","))


def parse(argv: list[str]) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Benchmark Cosignatory against the limits and baselines of the same machine.",
    )
    parser.add_argument(
        "names",
        nargs="*",
        metavar="NAME",
        help=f"benchmarks to run: {', '.join(BENCHMARKS)} (default: all)",
    )
    parser.add_argument(
        "--entries",
        type=_positive,
        metavar="N",
        help="entries in the log (default 1,000,000)",
    )
    parser.add_argument(
        "--proofs",
        type=_positive,
        default=2_000,
        metavar="K",
        help="inclusion proofs per mode and side (default 2,000)",
    )
    parser.add_argument(
        "--pymerkle-cold-proofs",
        type=_positive,
        default=10,
        metavar="K",
        help="pymerkle proofs with a cleared cache, each one re-hashes about N leaves (default 10)",
    )
    parser.add_argument(
        "--repeat",
        type=_positive,
        default=3,
        metavar="R",
        help="rounds of each measurement, the best is reported (default 3)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="small sizes and short loads: 20,000 signatures, pool 2,000, 10 s of signing, "
        "tiles at 200,000, 100,000 log entries (each can still be set)",
    )
    parser.add_argument(
        "--signatures",
        type=_positive,
        metavar="N",
        help="signatures of the open letter (default 1,000,000; --quick 20,000)",
    )
    parser.add_argument(
        "--pool",
        type=_positive,
        metavar="P",
        help="persons ready to sign over HTTP (default 10,000; --quick 2,000)",
    )
    parser.add_argument(
        "--sign-seconds",
        type=_positive,
        metavar="S",
        help="seconds of signing over HTTP (default 60; --quick 10)",
    )
    parser.add_argument(
        "--sign-rate",
        type=_positive,
        metavar="R",
        default=None,
        help="signers together send R statements a second, whatever the answers' speed "
        "(default: each sends its next as soon as it is answered)",
    )
    parser.add_argument(
        "--tile-size",
        type=_positive,
        metavar="N",
        help="log size for the proofs from tiles (default 10,000,000; --quick 200,000)",
    )
    parser.add_argument(
        "--statements",
        type=_positive,
        metavar="S",
        help="self-signed statements of the intake benchmark (default "
        "$COSIGNATORY_BENCH_STATEMENTS, else 100,000)",
    )
    parser.add_argument(
        "--letters",
        type=_positive,
        default=300,
        metavar="L",
        help="letters of the session, each signed by up to 193 states (default 300)",
    )
    parser.add_argument(
        "--users",
        type=_levels,
        default=(),
        metavar="U,U,...",
        help="concurrency levels of the read curve (default 1,4,16,64; --quick 1,8,32)",
    )
    parser.add_argument(
        "--plot", type=Path, metavar="SVG", help="write the load curve here (default: none)"
    )
    parser.add_argument("--seed", type=int, default=2019, help="seed of the data (default 2019)")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the figures here")
    parser.add_argument(
        "--tmp", metavar="DIR", help="make the temporary data folder under DIR (default: $TMPDIR)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary data folder")
    args = parser.parse_args(argv)
    unknown = [name for name in args.names if name not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark {unknown[0]!r}; choose from {', '.join(BENCHMARKS)}")
    sizes = QUICK if args.quick else FULL
    for name, value in sizes.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    return args


FULL = {
    "entries": 1_000_000,
    "signatures": 1_000_000,
    "pool": 10_000,
    "sign_seconds": 60,
    "tile_size": 10_000_000,
}
"""The sizes of a full run."""
QUICK = {
    "entries": 100_000,
    "signatures": 20_000,
    "pool": 2_000,
    "sign_seconds": 10,
    "tile_size": 200_000,
}
"""The sizes of ``--quick``."""


def main(argv: list[str] | None = None) -> int:
    """Run the benchmarks; return the exit status."""
    argv = sys.argv[1:] if argv is None else argv
    args = parse(argv)
    if args.statements is not None:
        os.environ["COSIGNATORY_BENCH_STATEMENTS"] = str(args.statements)
    names = list(dict.fromkeys(args.names)) or list(BENCHMARKS)
    # Append first: it fills both stores, which proofs then reuse instead of filling them.
    names.sort(key=list(BENCHMARKS).index)
    command = shlex.join(["python", "-m", "bench", *argv])
    workspace = Workspace.open(keep=args.keep, parent=args.tmp)
    say(f"data folder {workspace.path}")
    about = machine(workspace.path)
    print(f"# Cosignatory benchmarks, {about['date']}\n")
    print(f"`{command}`\n")
    rows = [[key, str(value)] for key, value in about.items() if key != "date"]
    print(report.table(["machine", ""], rows, numeric=False))
    run = Run(
        workspace,
        args.entries,
        args.proofs,
        args.pymerkle_cold_proofs,
        args.repeat,
        args.seed,
        signatures=args.signatures,
        pool=args.pool,
        tile_size=args.tile_size,
        quick=args.quick,
        sign_seconds=float(args.sign_seconds),
        sign_rate=float(args.sign_rate or 0),
        letters=args.letters,
        users=args.users,
    )
    results: dict[str, Any] = {}
    try:
        for name in names:
            results[name] = BENCHMARKS[name](run)
        if run._dataset is not None:
            results["dataset"] = run._dataset.summary()
        if run._limits is not None:
            results.setdefault("limits", run._limits.to_json())
    finally:
        workspace.close()
    if args.plot and ("reads" in results or "signing" in results):
        write_plot(args.plot, results, str(about["date"]))
        say(f"plot written to {args.plot}")
    if args.json:
        document = {
            "command": command,
            "machine": about,
            "parameters": {
                "entries": args.entries,
                "signatures": args.signatures,
                "pool": args.pool,
                "sign_seconds": args.sign_seconds,
                "sign_rate": args.sign_rate,
                "tile_size": args.tile_size,
                "letters": args.letters,
                "users": list(args.users),
                "quick": args.quick,
                "proofs": args.proofs,
                "pymerkle_cold_proofs": args.pymerkle_cold_proofs,
                "repeat": args.repeat,
                "seed": args.seed,
            },
            "results": results,
        }
        args.json.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
        say(f"figures written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
