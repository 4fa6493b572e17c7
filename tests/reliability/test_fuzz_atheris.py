"""Every atheris harness in ``fuzz/`` runs, coverage-guided, and finds no crash.

Each target (``fuzz/fuzz_<target>.py``) runs as its own process, as a fuzzing
campaign would run it, from a seed corpus of valid inputs (``fuzz/seeds.py``: the
published vectors and generated notes, checkpoints, proofs, bundles, statements,
events and CSV files), for a bounded number of runs: COSIGNATORY_FUZZ_RUNS (default
10,000) or COSIGNATORY_FUZZ_SECONDS (default 6) per target, whichever ends first. A
crash (any exception but the parser's documented error) or a hang (an input taking
over 10 s) makes libFuzzer exit non-zero, and the test shows the crashing input.
Longer campaigns: fuzz/README.md.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from fuzz import seeds
from fuzz.targets import TARGETS

pytestmark = pytest.mark.no_database

ROOT = Path(__file__).resolve().parents[2]
RUNS = int(os.environ.get("COSIGNATORY_FUZZ_RUNS", "10000"))
SECONDS = int(os.environ.get("COSIGNATORY_FUZZ_SECONDS", "6"))


def test_every_target_has_a_harness_and_seeds() -> None:
    harnesses = {path.stem.removeprefix("fuzz_") for path in (ROOT / "fuzz").glob("fuzz_*.py")}
    assert harnesses == set(TARGETS) == set(seeds.SEEDS)


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_atheris_finds_no_crash(target: str, tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    count = seeds.write_corpus(target, corpus)
    artifacts = tmp_path / "artifacts"
    artifacts.mkdir()
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "fuzz" / f"fuzz_{target}.py"),
            f"-runs={RUNS}",
            f"-max_total_time={SECONDS}",
            "-timeout=10",
            "-seed=1",
            f"-artifact_prefix={artifacts}/",
            str(corpus),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        errors="replace",
        timeout=SECONDS + 120,
        check=False,
    )
    output = done.stdout + done.stderr
    crashes = sorted(path.name for path in artifacts.iterdir())
    assert done.returncode == 0 and not crashes, output[-4000:]
    runs = re.search(r"Done (\d+) runs in (\d+) second", output)
    coverage = re.findall(r"cov: (\d+)", output)
    assert runs is not None, output[-2000:]
    print(
        f"\natheris {target}: {runs.group(1)} runs in {runs.group(2)} s from {count} seeds, "
        f"{coverage[-1] if coverage else '?'} edges covered, 0 crashes"
    )
