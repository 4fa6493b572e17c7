"""The registrar cannot rewrite history: tampering outside the services is detected.

Each case changes or deletes stored rows directly in SQL, as someone with the
database's password could, then runs ``cosignatory rebuild`` (it must exit 1 and name
what differs) and the log's own checks as a reader runs them: the head checkpoint's
signature, the Merkle root of the stored entries, and a consistency proof from every
checkpoint published before the tampering. The last case is a forger who also holds
the log's keys: the log they re-sign passes every check made inside the register, and
only the checkpoints published earlier expose it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.db import connection

from cosignatory.cli.main import main
from cosignatory.errors import CosignatoryError
from cosignatory.tlog.checkpoint import Checkpoint, open_checkpoint
from cosignatory.tlog.hashing import leaf_hash, root_of
from cosignatory.tlog.proofs import verify_consistency
from cosignatory.web.log.models import LogCheckpoint, LogEntry
from cosignatory.web.log.services import get_log
from cosignatory.web.register import demo
from cosignatory.web.register import models as m

ENTRY = 42
"""The demo register's entry 42 is a ``party.registered`` event."""


@pytest.fixture
def published(log: Any) -> list[Checkpoint]:
    """The demo register, and every checkpoint it published (as readers kept them)."""
    demo.load_demo()
    texts = LogCheckpoint.objects.order_by("size").values_list("text", flat=True)
    return [open_checkpoint(text, log.verifiers) for text in texts]


def rebuild(capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, Any], str]:
    code = main(["rebuild", "--json", "--limit", "20"])
    out, err = capsys.readouterr()
    return code, json.loads(out), err


def log_checks(published: list[Checkpoint]) -> list[str]:
    """A reader's checks of the stored log; returns the names of those that fail.

    ``signature``: the head checkpoint opens with the log's key. ``entries``: the
    Merkle root of the stored entries is the one it signs. ``consistency``: every
    published checkpoint is a prefix of it, by a consistency proof from the log's
    tiles and by the root of the stored entries at the published size.
    """
    log = get_log()
    failed = []
    try:
        head = open_checkpoint(log.head().checkpoint, log.verifiers, origin=log.origin)
    except CosignatoryError:
        return ["signature"]
    rows = LogEntry.objects.order_by("index").values_list("index", "data")
    leaves = [leaf_hash(bytes(data)) for index, data in rows if index < head.size]
    if len(leaves) != head.size or root_of(leaves) != head.root:
        failed.append("entries")
    for old in published:
        try:
            if old.size > head.size:
                raise AssertionError("the log is shorter than a checkpoint it published")
            if old.size == 0:
                continue
            proof = log.prove_consistency(old.size, head.size)
            verify_consistency(old.size, head.size, old.root, head.root, proof)
            if root_of(leaves[: old.size]) != old.root:
                raise AssertionError("the stored entries are not the published ones")
        except (CosignatoryError, AssertionError):
            failed.append("consistency")
            break
    return failed


def execute(sql: str, params: list[Any] | None = None) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params or [])
        assert cursor.rowcount != 0, sql


def one(sql: str, params: list[Any] | None = None) -> Any:
    with connection.cursor() as cursor:
        cursor.execute(sql, params or [])
        return cursor.fetchone()[0]


def fra_signature() -> str:
    return str(m.Signature.objects.get(letter_id="demo-heritage", party_id="FRA").pk)


# -- the cases -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    name: str
    tamper: Callable[[], None]
    problem: str | None = None
    """A phrase rebuild's report must have among its log problems."""
    difference: tuple[str, str] | None = None
    """(table, column) rebuild must list; column ``(row)`` for a row on one side only."""
    log_fails: tuple[str, ...] = ()
    """The reader's log checks that must fail (the others must pass)."""


def _change_entry() -> None:
    execute('UPDATE tlog_entry SET data = %s WHERE "index" = %s', [b'{"forged":1}', ENTRY])


def _delete_entry() -> None:
    execute('DELETE FROM tlog_entry WHERE "index" = %s', [ENTRY])


def _add_entry() -> None:
    size = get_log().size()
    execute('INSERT INTO tlog_entry ("index", data) VALUES (%s, %s)', [size, b"slipped in"])


def _change_tile() -> None:
    data = bytearray(one('SELECT data FROM tlog_tile WHERE level = 0 AND "index" = 0'))
    data[32 * ENTRY] ^= 0xFF
    execute('UPDATE tlog_tile SET data = %s WHERE level = 0 AND "index" = 0', [bytes(data)])


def _delete_tile() -> None:
    execute('DELETE FROM tlog_tile WHERE level = 0 AND "index" = 0')


def _change_head() -> None:
    text = one("SELECT checkpoint FROM tlog_head WHERE id = 1")
    lines = text.split("\n")
    lines[2] = "A" * 43 + "="  # another root under the old signature
    execute("UPDATE tlog_head SET checkpoint = %s WHERE id = 1", ["\n".join(lines)])


def _roll_back() -> None:
    """Cut the last ten entries and set the head back to the genuine checkpoint before them."""
    size = get_log().size()
    older = LogCheckpoint.objects.get(size=size - 10).text
    execute('DELETE FROM tlog_entry WHERE "index" >= %s', [size - 10])
    execute("UPDATE tlog_head SET size = %s, checkpoint = %s WHERE id = 1", [size - 10, older])


def _change_recorded_checkpoint() -> None:
    pk, text = LogCheckpoint.objects.filter(size=ENTRY).values_list("pk", "text").get()
    lines = text.split("\n")
    lines[2] = "A" * 43 + "="
    execute("UPDATE tlog_checkpoint SET text = %s WHERE id = %s", ["\n".join(lines), pk])


def _flip_active() -> None:
    execute("UPDATE register_signature SET active = NOT active WHERE id = %s", [fra_signature()])


def _change_date() -> None:
    execute(
        "UPDATE register_signature SET at = '2019-06-01 00:00:00' WHERE id = %s",
        [fra_signature()],
    )


def _delete_signature() -> None:
    execute("DELETE FROM register_signature WHERE id = %s", [fra_signature()])


def _rename_party() -> None:
    execute(
        'UPDATE register_party SET names = \'{"en": "Francia"}\' WHERE id = %s',
        ["FRA"],
    )


def _add_party() -> None:
    execute(
        "INSERT INTO register_party (id, kind, names, code, contact, members) "
        "VALUES ('ATL', 'state', '{\"en\": \"Atlantis\"}', 'ATL', NULL, '[]')"
    )


def _change_event_record() -> None:
    execute("UPDATE register_eventrecord SET type = 'letter.opened' WHERE log_index = %s", [ENTRY])


def _delete_event_record() -> None:
    execute("DELETE FROM register_eventrecord WHERE log_index = %s", [ENTRY])


CASES = [
    Case(
        "a log entry changed",
        _change_entry,
        problem="the root of the stored entries is not the checkpoint's root",
        log_fails=("entries", "consistency"),
    ),
    Case(
        "a log entry deleted",
        _delete_entry,
        problem="missing from storage",
        log_fails=("entries", "consistency"),
    ),
    Case(
        "a log entry added",
        _add_entry,
        problem="entries are stored beyond the checkpoint",
    ),
    Case(
        "a tile changed",
        _change_tile,
        problem="the root of the stored tiles is not the checkpoint's root",
        log_fails=("consistency",),
    ),
    Case(
        "a tile deleted",
        _delete_tile,
        problem="is missing from storage",
        log_fails=("consistency",),
    ),
    Case(
        "the head's checkpoint changed",
        _change_head,
        problem="the stored checkpoint does not verify",
        log_fails=("signature",),
    ),
    Case(
        "the log cut short, its head set back to an older genuine checkpoint",
        _roll_back,
        problem="more than the log's",
        log_fails=("consistency",),
    ),
    Case(
        "a recorded checkpoint changed",
        _change_recorded_checkpoint,
        problem="does not verify",
    ),
    Case(
        "a signature's active flag flipped",
        _flip_active,
        difference=("register_signature", "active"),
    ),
    Case(
        "a signature's date changed",
        _change_date,
        difference=("register_signature", "at"),
    ),
    Case(
        "a signature deleted",
        _delete_signature,
        difference=("register_signature", "(row)"),
    ),
    Case(
        "a party renamed",
        _rename_party,
        difference=("register_party", "names"),
    ),
    Case(
        "a party added",
        _add_party,
        difference=("register_party", "(row)"),
    ),
    Case(
        "an event record changed",
        _change_event_record,
        difference=("register_eventrecord", "type"),
    ),
    Case(
        "an event record deleted",
        _delete_event_record,
        difference=("register_eventrecord", "(row)"),
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_tampering_outside_the_services_is_detected(
    capsys: pytest.CaptureFixture[str], published: list[Checkpoint], case: Case
) -> None:
    code, report, _ = rebuild(capsys)
    assert (code, report["identical"], log_checks(published)) == (0, True, [])

    case.tamper()

    code, report, err = rebuild(capsys)
    assert code == 1 and not report["identical"]
    assert err.rstrip().endswith("[E_REBUILD_MISMATCH]")
    if case.problem is not None:
        assert any(case.problem in problem for problem in report["problems"]), report["problems"]
    if case.difference is not None:
        found = {(d["table"], d["field"]) for d in report["differences"]}
        assert case.difference in found, report["differences"]
    failed = log_checks(published)
    assert failed == list(case.log_fails)
    print(
        f"\ntamper: {case.name}: rebuild exit {code}, {len(report['problems'])} log problems, "
        f"{report['rows_differing']} rows differ; reader's log checks failed: "
        f"{', '.join(failed) or 'none'}"
    )


def test_a_history_re_signed_with_the_logs_keys_is_exposed_by_published_checkpoints(
    capsys: pytest.CaptureFixture[str], published: list[Checkpoint]
) -> None:
    """A forger with the database and the log's keys rewrites an entry and re-signs.

    They change a note appended to the log (not a register event, so the tables need
    no change), rebuild the tiles, the head and the recorded checkpoints with the
    log's own keys. Every check inside the register passes; a reader holding a
    checkpoint published before the forgery finds no consistency proof to the new one.
    """
    log = get_log()
    log.append(b"a note the registrar later regrets")
    kept = [*published, log.checkpoint()]  # the note's checkpoint, published too
    entries = log.entries(0, log.size())
    entries[-1] = b"a note the registrar prefers"
    for table in ("tlog_entry", "tlog_tile", "tlog_checkpoint", "tlog_head"):
        execute(f"DELETE FROM {table}")
    log.initialise()
    log.append_batch(entries)

    code, report, _ = rebuild(capsys)
    assert (code, report["identical"], report["foreign_entries"]) == (0, True, 1)
    assert log_checks(published) == []  # the register's own history up to the note holds
    assert log_checks(kept) == ["consistency"]
    forged = log.checkpoint()
    proof = log.prove_consistency(kept[-1].size, forged.size)
    with pytest.raises(CosignatoryError) as raised:
        verify_consistency(kept[-1].size, forged.size, kept[-1].root, forged.root, proof)
    print(
        f"\ntamper: a history re-signed with the log's keys: rebuild exit {code} (identical); "
        f"the consistency proof from the published size {kept[-1].size} fails "
        f"[{raised.value.code}]"
    )
