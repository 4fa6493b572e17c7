"""Django's SQLite backend, with every write transaction begun in its turn.

Every transaction the register opens on SQLite is a write transaction (``BEGIN
IMMEDIATE``, see settings): it takes the database's write lock at once. A writer that
finds the lock taken is left to SQLite's busy handler, which sleeps between tries (1,
2, 5, 10 … up to 100 ms) and so often sleeps well past the moment the lock is free:
under load the server's processes and threads left the lock idle between them, and a
writer unlucky in its sleeps could wait out the whole timeout while others wrote.

Here each transaction first takes an exclusive ``flock`` on a file beside the database
(``NAME.writers``, empty), and lets it go when the transaction commits, rolls back or
its connection closes. Writers queue on the file, and the kernel wakes the next as the
lock is released; the kernel also releases it when a process dies, so a killed writer
never blocks the next start. The turn is taken before ``BEGIN``, never inside a
transaction (a connection holding SQLite's lock never waits for the file), so waiting
for it cannot deadlock against SQLite's own lock.

An in-memory database has no file and no other process: nothing is taken there.
"""

from __future__ import annotations

import fcntl
from typing import IO, Any

from django.db.backends.sqlite3 import base as sqlite


def turn_file(name: str) -> str:
    """The file the writers of the database file ``name`` take turns on."""
    return f"{name}.writers"


class DatabaseWrapper(sqlite.DatabaseWrapper):
    # The hooks below are Django's own, private (not in its type stubs: hence the
    # ignores): where a transaction begins under autocommit, and where it ends.

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._turn: IO[bytes] | None = None

    def _start_transaction_under_autocommit(self) -> None:
        self._take_turn()
        try:
            super()._start_transaction_under_autocommit()  # type: ignore[misc]
        except BaseException:
            self._end_turn()
            raise

    def _commit(self) -> None:
        try:
            super()._commit()  # type: ignore[misc]
        finally:
            self._end_turn()

    def _rollback(self) -> None:
        try:
            super()._rollback()  # type: ignore[misc]
        finally:
            self._end_turn()

    def _close(self) -> None:
        try:
            super()._close()  # type: ignore[misc]
        finally:
            self._end_turn()

    def _take_turn(self) -> None:
        if self._turn is not None or self.is_in_memory_db():
            return
        handle = open(turn_file(self.settings_dict["NAME"]), "ab")  # noqa: SIM115 (kept open)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX)
        except BaseException:
            handle.close()
            raise
        self._turn = handle

    def _end_turn(self) -> None:
        handle, self._turn = self._turn, None
        if handle is not None:
            handle.close()  # closing the file releases its lock
