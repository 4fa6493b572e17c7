"""One temporary data folder per run: our log's SQLite database and keys, pymerkle's file.

Django's settings read the environment when they are first imported, so
:meth:`Workspace.open` sets every variable first and only then starts Django. It
always points the register at a fresh SQLite file in the temporary folder, whatever
the caller's environment says, so a benchmark can never touch a real database.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cosignatory.tlog.log import Log

ORIGIN = "bench.cosignatory.example/log"

# The same durability for both stores: what settings.py asks of the register's SQLite.
JOURNAL_MODE = "wal"
SYNCHRONOUS = "FULL"


@dataclass
class Workspace:
    """The temporary folder of one run, and the two stores the benchmarks fill."""

    path: Path
    keep: bool = False

    @classmethod
    def open(cls, keep: bool = False, parent: str | None = None) -> Workspace:
        """Make the folder (and ``parent``, if missing), configure and start Django on it,
        and initialise our log."""
        if parent is not None:
            Path(parent).mkdir(parents=True, exist_ok=True)
        path = Path(tempfile.mkdtemp(prefix="cosignatory-bench-", dir=parent)).resolve()
        os.environ.update(
            {
                "DJANGO_SETTINGS_MODULE": "cosignatory.web.settings",
                "COSIGNATORY_DATA_DIR": str(path),
                "COSIGNATORY_DATABASE_URL": f"sqlite://{path / 'cosignatory.sqlite3'}",
                "COSIGNATORY_KEY_DIR": str(path / "keys"),
                "COSIGNATORY_LOG_ORIGIN": ORIGIN,
                # DEBUG would keep every query of the run in memory.
                "COSIGNATORY_DEBUG": "0",
            }
        )
        import django

        django.setup()
        from cosignatory.web.log.setup import initialise_log

        initialise_log()
        return cls(path, keep)

    @property
    def our_file(self) -> Path:
        """The register's SQLite database file."""
        return self.path / "cosignatory.sqlite3"

    def reset(self) -> None:
        """Start both stores afresh: new empty database files and a new :class:`Log`."""
        from django.db import connections

        from cosignatory.web.log.services import reset_log_cache
        from cosignatory.web.log.setup import initialise_log

        connections.close_all()
        for base in (self.our_file, self.pymerkle_file, self.pymerkle_default_file):
            for suffix in ("", "-wal", "-shm", "-journal"):
                Path(f"{base}{suffix}").unlink(missing_ok=True)
        reset_log_cache()  # the old Log's tile cache describes the old tree
        initialise_log(new_log=True)  # the benchmark's keys start a new log on purpose

    def close(self) -> None:
        """Close the database and remove the folder unless asked to keep it."""
        from django.db import connections

        connections.close_all()
        if not self.keep:
            shutil.rmtree(self.path, ignore_errors=True)

    # -- our log -------------------------------------------------------------------

    def log(self) -> Log:
        """Return the register's long-lived :class:`Log` (the one the web layer uses)."""
        from cosignatory.web.log.services import get_log

        return get_log()

    def fresh_log(self) -> Log:
        """Return a new :class:`Log` on the same store: an empty full-tile cache."""
        from cosignatory.tlog.log import Log
        from cosignatory.web.log.storage import DjangoLogStorage

        shared = self.log()
        return Log(DjangoLogStorage(), shared.origin, shared.signers)

    def our_pragmas(self) -> dict[str, str]:
        """Return the journal mode and synchronous level of the register's connection."""
        from django.db import connection

        with connection.cursor() as cursor:
            return _pragmas(cursor)

    def our_file_mb(self) -> float:
        """Return the size of our database file once its write-ahead log is folded in."""
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return round(self.our_file.stat().st_size / 2**20, 1)

    # -- pymerkle ------------------------------------------------------------------

    @property
    def pymerkle_file(self) -> Path:
        """pymerkle's database file with our durability settings, beside ours."""
        return self.path / "pymerkle.sqlite3"

    @property
    def pymerkle_default_file(self) -> Path:
        """pymerkle's database file with its own default settings."""
        return self.path / "pymerkle-default.sqlite3"

    def pymerkle_tree(self, *, as_shipped: bool = False) -> Any:
        """Open a pymerkle ``SqliteTree``, by default with our durability settings.

        pymerkle leaves SQLite's defaults alone: a rollback journal
        (``journal_mode=delete``) with ``synchronous=FULL``. Unless ``as_shipped``, we
        switch it to WAL so that both stores commit the same way; the benchmarks print
        what each connection reports.
        """
        from pymerkle import SqliteTree

        if as_shipped:
            return SqliteTree(str(self.pymerkle_default_file), algorithm="sha256")
        tree = SqliteTree(str(self.pymerkle_file), algorithm="sha256")
        tree.con.execute(f"PRAGMA journal_mode={JOURNAL_MODE}")
        tree.con.execute(f"PRAGMA synchronous={SYNCHRONOUS}")
        return tree


def pymerkle_pragmas(tree: Any) -> dict[str, str]:
    """Return the journal mode and synchronous level of a pymerkle tree's connection."""
    cursor = tree.con.cursor()
    cursor.row_factory = None  # pymerkle's connection returns bare values
    return _pragmas(cursor)


_SYNCHRONOUS_NAMES = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}


def _pragmas(cursor: Any) -> dict[str, str]:
    cursor.execute("PRAGMA journal_mode")
    journal = str(cursor.fetchone()[0])
    cursor.execute("PRAGMA synchronous")
    level = int(cursor.fetchone()[0])
    return {"journal_mode": journal, "synchronous": _SYNCHRONOUS_NAMES.get(level, str(level))}
