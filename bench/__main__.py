"""``python -m bench [names...] [--entries N] [--proofs K] [--json FILE]``.

Runs the named benchmarks (default: all) in one fresh temporary data folder and
prints Markdown tables: each figure beside its baseline from the same run.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import report
from bench.append import bench_append
from bench.measure import machine
from bench.proofs import bench_proofs
from bench.run import Run, say
from bench.workspace import Workspace

BENCHMARKS: dict[str, Callable[[Run], dict[str, Any]]] = {
    "append": bench_append,
    "proofs": bench_proofs,
    "intake": __import__("bench.intake", fromlist=["bench_intake"]).bench_intake,
}
"""Every benchmark by name, in the order a full run takes them."""


def _positive(text: str) -> int:
    value = int(text.replace("_", "").replace(",", ""))
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def parse(argv: list[str]) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Benchmark Cosignatory's log against pymerkle on the same data.",
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
        default=1_000_000,
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
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the benchmarks; return the exit status."""
    argv = sys.argv[1:] if argv is None else argv
    args = parse(argv)
    names = list(dict.fromkeys(args.names)) or list(BENCHMARKS)
    # Append first: it fills both stores, which proofs then reuse instead of filling them.
    names.sort(key=list(BENCHMARKS).index)
    command = shlex.join(["python", "-m", "bench", *argv])
    workspace = Workspace.open(keep=args.keep, parent=args.tmp)
    say(f"data folder {workspace.path}")
    about = machine(workspace.path)
    print(f"# Cosignatory log benchmarks, {about['date']}\n")
    print(f"`{command}`\n")
    rows = [[key, str(value)] for key, value in about.items() if key != "date"]
    print(report.table(["machine", ""], rows, numeric=False))
    run = Run(
        workspace, args.entries, args.proofs, args.pymerkle_cold_proofs, args.repeat, args.seed
    )
    results = {}
    try:
        for name in names:
            results[name] = BENCHMARKS[name](run)
    finally:
        workspace.close()
    if args.json:
        document = {
            "command": command,
            "machine": about,
            "parameters": {
                "entries": args.entries,
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
