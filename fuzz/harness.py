"""Run one fuzz target of :mod:`fuzz.targets` under atheris (libFuzzer for Python).

The project's modules are imported inside ``atheris.instrument_imports`` so that
libFuzzer sees their branches (coverage-guided, not only random). Every harness
``fuzz/fuzz_<target>.py`` is three lines that call :func:`run`; the arguments are
libFuzzer's (``-runs=N``, ``-max_total_time=S``, corpus folders), see fuzz/README.md.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run(target: str) -> None:
    """Fuzz ``target`` with the command line's libFuzzer arguments; never returns."""
    import atheris

    if target == "csv":
        # The intake lives in the web layer: its module needs Django's settings (no database).
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cosignatory.web.settings")
    with atheris.instrument_imports(include=["cosignatory", "fuzz"]):
        if target == "csv":
            import django

            django.setup()
            import cosignatory.web.register.intake  # noqa: F401  (instrumented here)
        from fuzz import targets

    check = targets.TARGETS[target]

    def one_input(data: bytes) -> None:
        check(data)  # libFuzzer gives a returned value a meaning; return none

    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()
