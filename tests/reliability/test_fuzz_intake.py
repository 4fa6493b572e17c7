"""The registrar's CSV intake, fuzzed with Hypothesis: bad files give clear row errors,
and a plan with errors records nothing.

A valid intake file (``fuzz/seeds.py`` CSV) is mutated as ``test_fuzz_parsers``
mutates files (bytes flipped or cut, lines duplicated, dropped or swapped, NUL,
bidirectional controls, invalid UTF-8, 5,000-digit numbers, quotes that never close)
and goes through the intake's two steps, :func:`plan_import` (the preview) and
:func:`apply`. The preview never raises for a bad file: every problem is a row error
with a line of the file, a stable code and a one-line reason. A plan with errors is
refused by ``apply`` (E_IMPORT_INVALID) and the log and the register are as they were.
A file the mutations left valid is applied, then rolled back, so each example starts
from the same register.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from django.db import transaction
from fuzz import seeds
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cosignatory.web.log.models import LogEntry
from cosignatory.web.log.services import get_log, reset_log_cache
from cosignatory.web.register import intake
from cosignatory.web.register import models as m
from cosignatory.web.register import services as s
from tests.reliability.test_fuzz_parsers import mutated

LETTER = "L1"
INSTRUMENT = {"kind": "note-verbale", "reference": "NV/1", "date": "2019-07-08"}
EXAMPLES = int(os.environ.get("COSIGNATORY_FUZZ_INTAKE_EXAMPLES", "100"))
LINE_END = re.compile(rb"\r\n|\r|\n")  # where the csv module ends a line


@pytest.fixture
def open_letter(log: Any) -> str:
    """An open letter L1; FRA, DEU and ESP registered, each with a representative."""
    s.initialise_register()
    since = datetime(2019, 1, 1, tzinfo=UTC)
    for code in ("FRA", "DEU", "ESP"):
        rep = f"rep-{code.lower()}"
        s.register_state(code)
        s.register_representative(rep, f"Ambassador of {code}")
        s.grant_mandate(f"mandate-{code.lower()}", rep, code, since, None, INSTRUMENT)
    s.create_letter(LETTER, {"en": "A letter"}, ["The President"], "FRA", date(2019, 7, 8))
    s.add_text_version(LETTER, {"en": "We agree."})
    s.open_letter(LETTER)
    return LETTER


def snapshot() -> tuple[int, str, int, int]:
    return (
        LogEntry.objects.count(),
        get_log().head().checkpoint,
        m.EventRecord.objects.count(),
        m.Signature.objects.count(),
    )


def check_plan(plan: intake.Plan, data: bytes) -> None:
    """Every problem is a row error on a line of the file, with a code and one line
    ("a header but no rows" names the line after the last, where a row belongs)."""
    lines = len(LINE_END.split(data))
    for error in plan.errors:
        assert 1 <= error.line <= lines + 1, error
        assert re.fullmatch(r"E_[A-Z_]+", error.code), error
        assert error.reason.strip() and "\n" not in error.reason, error
    for row in plan.rows:
        assert 1 <= row.line <= lines and row.instrument["kind"] in intake.INSTRUMENT_KINDS


@pytest.mark.usefixtures("open_letter")
def test_mutated_csv_files_give_row_errors_and_change_nothing() -> None:
    valid = seeds.CSV.encode()
    assert not intake.plan_import(LETTER, valid).errors
    before = snapshot()
    outcomes: Counter[str] = Counter()

    @settings(
        max_examples=EXAMPLES,
        deadline=timedelta(seconds=10),
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    @given(mutated([valid]) | st.binary(max_size=600))
    def run(data: bytes) -> None:
        plan = intake.plan_import(LETTER, data)
        check_plan(plan, data)
        if plan.errors:
            with pytest.raises(intake.IntakeError):
                intake.apply(plan)
            assert snapshot() == before
            outcomes["refused"] += 1
            outcomes.update(error.code for error in plan.errors)
            return
        try:
            with transaction.atomic():
                intake.apply(plan)
                outcomes["applied"] += 1
                transaction.set_rollback(True)
        finally:
            reset_log_cache()  # the log's cache may hold tiles of the rolled-back appends
        assert snapshot() == before

    run()
    assert snapshot() == before
    print(f"\nfuzz CSV intake: {outcomes['refused'] + outcomes['applied']} files, {dict(outcomes)}")
