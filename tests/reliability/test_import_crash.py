"""``cosignatory import LETTER FILE --apply`` killed with SIGKILL mid-way: all or nothing.

Issue 7: the registrar's bulk intake records a whole file in one transaction
(docs/cli.md, "Import and export"), so a crash part-way through must leave the
register as it was, or, if the commit came first, with every row. Each trial imports
a file of ``ROWS`` attested signatures into a fresh letter, its standard error on a
terminal so that it draws its progress bar, and kills the command's process group
once the bar shows a row number drawn from a seeded generator: inside the apply step,
with that many rows written in the open transaction. After each kill: the log and
every register table are exactly as before, or exactly as before plus the file's
rows; the log is whole (its head, entries, event records, tiles and signed root
agree); and ``cosignatory rebuild`` finds the tables identical to the log's replay.
Last, the same file imported into the last killed letter runs to the end and records
every row.

``COSIGNATORY_IMPORT_KILLS`` sets the number of kills (default 4); the seed is
``COSIGNATORY_CRASH_SEED`` (default 7).
"""

from __future__ import annotations

import fcntl
import os
import pty
import random
import re
import struct
import subprocess
import termios
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from cosignatory.tlog.note import Verifier
from cosignatory.web.log.models import LogCheckpoint, LogEntry, LogHead, LogTile
from cosignatory.web.log.services import get_log
from cosignatory.web.notices.models import OutboxMessage
from cosignatory.web.register import models as m
from cosignatory.web.register import services as s
from cosignatory.web.register.projector import PROJECTION_MODELS
from tests.dbutil import child_env
from tests.reliability.crashload import (
    COSIGNATORY,
    LogState,
    kill_group,
    make_letters,
    make_parties,
    rebuild_matches,
)

pytestmark = pytest.mark.django_db(transaction=True)

ROWS = 2_000


def snapshot() -> dict[str, Any]:
    """Everything an import could change: the log, every register table, the outbox."""
    state: dict[str, Any] = {model.__name__: model.objects.count() for model in PROJECTION_MODELS}
    state["head"] = list(LogHead.objects.values_list("size", "checkpoint"))
    state["entries"] = LogEntry.objects.count()
    state["checkpoints"] = LogCheckpoint.objects.count()
    state["tiles"] = sorted(
        (level, index, bytes(data))
        for level, index, data in LogTile.objects.values_list("level", "index", "data")
    )
    state["outbox"] = OutboxMessage.objects.count()
    return state


def write_file(path: Path, parties: list[str]) -> Path:
    day = (datetime.now(UTC).date() - timedelta(days=1)).isoformat()
    lines = ["party,representative,instrument_kind,reference,date"]
    lines += [f"{party},,note-verbale,NV/{n},{day}" for n, party in enumerate(parties)]
    path.write_text("\r\n".join(lines) + "\r\n")
    return path


def start_import(
    letter: str, path: Path, env: dict[str, str], *apply: str, stderr: int | None = None
) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [COSIGNATORY, "import", letter, str(path), *apply],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE if stderr is None else stderr,
        text=True,
        start_new_session=True,
    )


def run_import(letter: str, path: Path, env: dict[str, str]) -> str:
    """Import ``path`` into ``letter`` to the end; return what the command printed."""
    process = start_import(letter, path, env, "--apply")
    out, err = process.communicate(timeout=1800)
    assert process.returncode == 0, err
    return out


def kill_at_row(letter: str, path: Path, env: dict[str, str], row: int) -> int:
    """Start the import with its standard error on a terminal, so it draws its progress
    bar, and SIGKILL it once the bar shows ``row`` rows recorded (in the open
    transaction). Returns the last count the bar showed."""
    master, slave = pty.openpty()
    # A terminal of 0 columns (a fresh pty's) gets no bar at all: give it 120.
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 120, 0, 0))
    process = start_import(letter, path, env, "--apply", stderr=slave)
    os.close(slave)
    shown, seen = 0, ""
    try:
        while shown < row:
            try:
                chunk = os.read(master, 4096).decode(errors="replace")
            except OSError:  # the command ended: its terminal is gone
                break
            if not chunk:
                break
            seen = (seen + chunk)[-200:]
            counts = _PROGRESS.findall(seen)
            shown = int(counts[-1]) if counts else shown
    finally:
        kill_group(process)
        os.close(master)
    return shown


_PROGRESS = re.compile(rf"(\d+)/{ROWS}\b")


def recorded(letter: str) -> int:
    return m.Signature.objects.filter(letter_id=letter, active=True).count()


def test_an_import_killed_mid_way_records_all_rows_or_none(
    log: Any, settings: Any, tmp_path: Path
) -> None:
    kills = int(os.environ.get("COSIGNATORY_IMPORT_KILLS", "4"))
    rng = random.Random(int(os.environ.get("COSIGNATORY_CRASH_SEED", "7")))
    started = time.monotonic()
    s.initialise_register()
    parties = make_parties(ROWS)
    letters = make_letters(kills, parties[0])
    path = write_file(tmp_path / "rows.csv", parties)
    env = child_env(settings)
    env.update(COSIGNATORY_DATA_DIR=str(tmp_path))
    verifier = Verifier.from_vkey(get_log().verifiers[0].to_vkey())
    origin = settings.COSIGNATORY_LOG_ORIGIN
    setup = time.monotonic() - started

    outcomes = {"none": 0, "all": 0}
    shown_at_kill = []
    for letter in letters:
        before = snapshot()
        size = LogState.read(verifier, origin).checkpoint.size
        shown_at_kill.append(kill_at_row(letter.id, path, env, rng.randrange(1, ROWS + 1)))
        after = LogState.read(verifier, origin)  # the log is whole, whatever happened
        if snapshot() == before:
            outcomes["none"] += 1
            assert recorded(letter.id) == 0
        else:
            outcomes["all"] += 1
            assert after.checkpoint.size == size + ROWS
            assert recorded(letter.id) == ROWS
        rebuild_matches(env)

    # The last letter's import, run again, goes to the end.
    last = letters[-1].id
    done = recorded(last)
    size = LogState.read(verifier, origin).checkpoint.size
    whole = time.monotonic()
    out = run_import(last, path, env)
    whole = time.monotonic() - whole
    assert f"recorded {ROWS - done} events" in out
    assert recorded(last) == ROWS
    assert LogState.read(verifier, origin).checkpoint.size == size + ROWS - done
    report = rebuild_matches(env)
    print(
        f"\nimport crash ({settings.DATABASES['default']['ENGINE'].rsplit('.', 1)[-1]}): "
        f"{kills} kills of a {ROWS}-row import, at rows {shown_at_kill} as its progress bar "
        f"showed: {outcomes['none']} left nothing, {outcomes['all']} had committed "
        f"everything, 0 partial; the import run again recorded {ROWS - done} rows in "
        f"{whole:.0f} s; rebuild identical ({report['events']} events); set-up {setup:.0f} s, "
        f"{time.monotonic() - started:.0f} s in all"
    )
    assert outcomes["none"] + outcomes["all"] == kills
    assert any(0 < shown < ROWS for shown in shown_at_kill), "no kill landed mid-way"
