"""Fuzz bundle files, verified offline (cosignatory.core.verify).

Run: .venv/bin/python fuzz/fuzz_bundle.py [CORPUS_DIR] -runs=N (see fuzz/README.md).
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fuzz.harness import run

if __name__ == "__main__":
    run("bundle")
