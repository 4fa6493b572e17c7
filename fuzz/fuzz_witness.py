"""Fuzz add-checkpoint requests to a witness (C2SP tlog-witness).

Run: .venv/bin/python fuzz/fuzz_witness.py [CORPUS_DIR] -runs=N (see fuzz/README.md).
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fuzz.harness import run

if __name__ == "__main__":
    run("witness")
