"""The log stored in the Django database: same tree as in memory, all or nothing,
and one writer at a time across threads and processes, on SQLite and PostgreSQL."""

from __future__ import annotations

import fcntl
import subprocess
import threading
from typing import Any

import pytest
from django.db import OperationalError, connection, connections, transaction
from django.db.backends.sqlite3.base import DatabaseWrapper as SQLiteWrapper

from cosignatory.tlog.checkpoint import open_checkpoint
from cosignatory.tlog.errors import EntryTooLargeError
from cosignatory.tlog.hashing import leaf_hash, root_of
from cosignatory.tlog.log import Log
from cosignatory.tlog.proofs import verify_consistency, verify_inclusion
from cosignatory.tlog.storage import MemoryStorage
from cosignatory.web.log.models import LogCheckpoint, LogEntry, LogHead, LogTile
from cosignatory.web.log.services import get_log
from cosignatory.web.sqlite.base import turn_file
from tests.dbutil import COSIGNATORY, child_env


def snapshot() -> tuple[Any, ...]:
    return (
        list(LogHead.objects.values_list("size", "checkpoint")),
        LogEntry.objects.count(),
        sorted((t.level, t.index, bytes(t.data)) for t in LogTile.objects.all()),
        LogCheckpoint.objects.count(),
    )


def test_database_log_matches_the_memory_log(log: Any) -> None:
    memory = Log(MemoryStorage(), log.origin, log.signers)
    memory.initialise()
    for batch in ([b"a"], [f"b{i}".encode() for i in range(255)], [b"c"] * 600, [b"d"]):
        assert log.append_batch(batch).size == memory.append_batch(batch).size
    assert log.root() == memory.root()
    # Every entry at its index; the batch of 600 goes in INSERTs of 256, 256 and 88 rows.
    assert log.entries(0, 857) == memory.entries(0, 857)
    keys = [(0, i) for i in range(4)] + [(1, 0)]
    assert log.storage.read_tiles(keys) == memory.storage.read_tiles(keys)
    for index in (0, 255, 256, 856):
        proof = log.prove_inclusion(index)
        assert proof == memory.prove_inclusion(index)
        entry = log.entries(index, index + 1)[0]
        verify_inclusion(leaf_hash(entry), index, log.size(), proof, log.root())


def test_every_checkpoint_signed_is_kept(log: Any) -> None:
    for n in range(3):
        log.append(f"{n}".encode())
    sizes = list(LogCheckpoint.objects.order_by("id").values_list("size", flat=True))
    assert sizes == [0, 1, 2, 3]


def test_a_refused_append_changes_nothing(log: Any) -> None:
    log.append_batch([b"one", b"two"])
    before = snapshot()
    with pytest.raises(EntryTooLargeError):
        log.append_batch([b"three", b"x" * 70_000])
    assert snapshot() == before


def test_an_append_rolls_back_with_the_callers_transaction(log: Any) -> None:
    log.append(b"kept")
    before = snapshot()
    with pytest.raises(RuntimeError), transaction.atomic():
        log.append_batch([b"lost"] * 300)
        raise RuntimeError("the caller's change failed after the append")
    assert snapshot() == before
    assert log.size() == 1
    assert log.append(b"next").first_index == 1


def check_log_is_whole(log: Any, expected: set[bytes]) -> None:
    """No index lost or doubled, the root covers exactly the stored entries, and every
    checkpoint ever signed is consistent with the last one."""
    size = log.size()
    stored = log.entries(0, size)
    assert sorted(stored) == sorted(expected)
    assert list(LogEntry.objects.order_by("index").values_list("index", flat=True)) == list(
        range(size)
    )
    root = root_of([leaf_hash(e) for e in stored])
    final = log.checkpoint()
    assert final.root == root
    for text in LogCheckpoint.objects.filter(size__gt=0).values_list("text", flat=True):
        older = open_checkpoint(text, log.verifiers)
        proof = log.prove_consistency(older.size, size)
        verify_consistency(older.size, size, older.root, root, proof)


@pytest.mark.django_db(transaction=True)
def test_concurrent_appends_from_threads_never_fork_the_tree(log_settings: Any) -> None:
    get_log().initialise()
    threads, per_thread = 6, 15
    errors: list[BaseException] = []
    start = threading.Barrier(threads)

    def work(t: int) -> None:
        try:
            start.wait()
            for i in range(per_thread):
                get_log().append_batch([f"t{t}-{i}-{j}".encode() for j in range(1 + i % 3)])
        except BaseException as error:  # reported to the main thread
            errors.append(error)
        finally:
            connections.close_all()

    workers = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert errors == []
    expected = {
        f"t{t}-{i}-{j}".encode()
        for t in range(threads)
        for i in range(per_thread)
        for j in range(1 + i % 3)
    }
    check_log_is_whole(get_log(), expected)


@pytest.mark.django_db(transaction=True)
def test_concurrent_appends_from_processes_never_fork_the_tree(
    log_settings: Any, tmp_path: Any
) -> None:
    get_log().initialise()
    connection.close()
    processes, per_process = 4, 8
    env = child_env(log_settings)
    children = []
    for p in range(processes):
        lines = "\n".join(f"p{p}-{i}" for i in range(per_process))
        script = tmp_path / f"input-{p}"
        script.write_text(lines)
        # Each child appends its lines one batch at a time, racing the others.
        children.append(
            subprocess.Popen(
                [
                    "bash",
                    "-c",
                    f"for i in $(seq 1 {per_process}); do "
                    f'sed -n "${{i}}p" {script} | {" ".join(COSIGNATORY)} log append --lines '
                    ">/dev/null || exit 1; done",
                ],
                env=env,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    for child in children:
        _, err = child.communicate(timeout=300)
        assert child.returncode == 0, err
    expected = {f"p{p}-{i}".encode() for p in range(processes) for i in range(per_process)}
    check_log_is_whole(get_log(), expected)


def test_a_rolled_back_append_leaves_no_stale_tile_in_the_cache(log: Any) -> None:
    """Tiles seen inside a transaction that rolls back must not serve later proofs."""
    with pytest.raises(RuntimeError), transaction.atomic():
        log.append_batch([f"lost {i}".encode() for i in range(300)])
        log.prove_inclusion(3)  # fills the cache with the tile about to vanish
        raise RuntimeError("roll back")
    kept = [f"kept {i}".encode() for i in range(300)]
    log.append_batch(kept)
    root = log.root()
    assert root == root_of([leaf_hash(e) for e in kept])
    assert log.checkpoint().root == root
    for index in (3, 255, 299):
        verify_inclusion(leaf_hash(kept[index]), index, 300, log.prove_inclusion(index), root)


# -- writers take turns (cosignatory.web.sqlite) ---------------------------------------

sqlite_only = pytest.mark.skipif(
    connection.vendor != "sqlite", reason="PostgreSQL wakes a waiting writer itself"
)


def turn_taken() -> bool:
    """Whether some transaction holds the writers' turn (tried as another process would)."""
    with open(turn_file(connection.settings_dict["NAME"]), "ab") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
        return False


@sqlite_only
def test_a_transaction_holds_the_writers_turn_until_it_ends(
    log_settings: Any, transactional_db: None
) -> None:
    assert not turn_taken()
    with transaction.atomic():
        LogHead.objects.count()
        assert turn_taken()
        with transaction.atomic():  # a savepoint: the turn is held already
            LogHead.objects.count()
        assert turn_taken()
    assert not turn_taken()  # committed
    with pytest.raises(RuntimeError), transaction.atomic():
        assert turn_taken()
        raise RuntimeError("rolled back")
    assert not turn_taken()

    def refused(self: Any) -> None:
        raise OperationalError("database is locked")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(SQLiteWrapper, "_start_transaction_under_autocommit", refused)
        with pytest.raises(OperationalError), transaction.atomic():
            pass
    assert not turn_taken()  # a transaction that could not begin gave its turn back


@sqlite_only
def test_a_writer_waits_for_its_turn_then_goes_on(
    log_settings: Any, transactional_db: None
) -> None:
    """The turn is held elsewhere (as by another process): a transaction begins only
    once it is let go, though SQLite's own lock is free all along."""
    entered = threading.Event()

    def writer() -> None:
        try:
            with transaction.atomic():
                LogHead.objects.count()
                entered.set()
        finally:
            connection.close()  # this thread's own connection

    with open(turn_file(connection.settings_dict["NAME"]), "ab") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        thread = threading.Thread(target=writer)
        thread.start()
        assert not entered.wait(0.5), "the writer began while another held the turn"
        fcntl.flock(held, fcntl.LOCK_UN)
    assert entered.wait(10)
    thread.join(10)
    assert not turn_taken()
