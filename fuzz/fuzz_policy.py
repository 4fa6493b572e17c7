"""Fuzz trust policy files (C2SP tlog-policy), then a checkpoint opened under them.

Run: .venv/bin/python fuzz/fuzz_policy.py [CORPUS_DIR] -runs=N (see fuzz/README.md).
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fuzz.harness import run

if __name__ == "__main__":
    run("policy")
