"""``cosignatory backup`` and ``cosignatory restore``: the register's database in one file.

A backup file (:mod:`cosignatory.cli.backupfile`) holds a manifest and a consistent
copy of the database: made with SQLite's online backup API, or a ``pg_dump`` archive
(custom format) taken in one exported snapshot. Both are safe while the server runs.

Restore checks the file before it touches anything (bad input changes nothing), and
checks the data it restores: the backup's checkpoint must verify with the log's keys
in ``COSIGNATORY_KEY_DIR``, and :func:`cosignatory.web.register.rebuild.rebuild` must
find the log sound (checkpoint signature, Merkle root of the entries and of the tiles)
and the tables identical to a replay of the log. The log's keys are secrets and are
not in the backup: they are backed up separately (docs/cli.md).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import sqlite3
import subprocess
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cosignatory.cli.backupfile import (
    BackupInvalidError,
    Manifest,
    read_backup,
    sha256_file,
    write_backup,
)
from cosignatory.cli.common import CommandError, print_json, setup_django
from cosignatory.errors import CosignatoryError


class BackupDatabaseError(CosignatoryError):
    """The backup is of the other kind of database (SQLite vs PostgreSQL)."""

    code = "E_BACKUP_DATABASE"


class BackupToolError(CosignatoryError):
    """``pg_dump`` or ``pg_restore`` is missing, or failed."""

    code = "E_BACKUP_TOOL"


class RestoreRefusedError(CosignatoryError):
    """The restore would overwrite a register, or the backup is of another log."""

    code = "E_RESTORE_REFUSED"


class RestoreUnverifiedError(CosignatoryError):
    """The restored data does not verify against its log, or its log against its keys."""

    code = "E_RESTORE_UNVERIFIED"


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    backup = commands.add_parser(
        "backup",
        help="write a consistent copy of the register's database to a file",
        description="Write the whole database (log, register, accounts, tokens) to FILE, "
        "a tar archive holding a manifest (the log's origin and its signed checkpoint at "
        "the moment of the backup) and the data: a copy made with SQLite's online backup "
        "API, or a pg_dump archive (custom format, needs PostgreSQL's client tools) taken "
        "in one snapshot. Safe while the server runs. The log's and registrar's keys "
        "(COSIGNATORY_KEY_DIR) are not included: back them up separately. Refuses to "
        "overwrite FILE unless --force.",
    )
    backup.add_argument("file", metavar="FILE", help="the backup file to write")
    backup.add_argument("--force", action="store_true", help="overwrite FILE if it exists")
    backup.add_argument("--json", action="store_true", help="print the result as JSON")
    backup.set_defaults(handler=backup_register)

    restore = commands.add_parser(
        "restore",
        help="restore the register's database from a backup file, and verify it",
        description="Check FILE (a `cosignatory backup` of the same kind of database), then "
        "replace the database with it and verify the result: the backup's checkpoint must "
        "verify with the log's keys in COSIGNATORY_KEY_DIR, the Merkle root of the "
        "restored entries must be the one it signs, and `cosignatory rebuild` must find "
        "every table identical. Refuses to overwrite a register whose log has a "
        "checkpoint unless --force. Stop the server first. Exit 1 with a reason "
        "[E_BACKUP_INVALID, E_BACKUP_DATABASE, E_BACKUP_TOOL, E_RESTORE_REFUSED, "
        "E_RESTORE_UNVERIFIED] otherwise; a backup that fails any check changes nothing.",
    )
    restore.add_argument("file", metavar="FILE", help="the backup file to read")
    restore.add_argument(
        "--force", action="store_true", help="replace a database that already holds a register"
    )
    restore.add_argument("--json", action="store_true", help="print the result as JSON")
    restore.set_defaults(handler=restore_register)


# -- backup --------------------------------------------------------------------------------


def backup_register(args: argparse.Namespace) -> None:
    target = Path(args.file)
    if target.is_dir():
        raise CommandError(f"{target} is a folder; name the backup file")
    if not target.parent.is_dir():
        raise CommandError(f"no such folder: {target.parent}")
    setup_django()
    from django.db import connection

    with tempfile.TemporaryDirectory(prefix="cosignatory-backup-") as folder:
        payload = Path(folder) / "payload"
        if connection.vendor == "sqlite":
            database, head = "sqlite", _copy_sqlite(Path(connection.settings_dict["NAME"]), payload)
        elif connection.vendor == "postgresql":
            database, head = "postgresql", _dump_postgresql(connection, payload)
        else:
            raise CommandError(f"cannot back up a {connection.vendor} database")
        manifest = Manifest(
            database=database,
            origin=head[1].split("\n", 1)[0],  # a checkpoint's first line (C2SP)
            size=head[0],
            checkpoint=head[1],
            created=datetime.now(UTC).isoformat(timespec="seconds"),
            payload_bytes=payload.stat().st_size,
            payload_sha256=sha256_file(payload),
        )
        write_backup(target, manifest, payload, args.force)
    if args.json:
        print_json({"file": str(target), **manifest.to_json()})
    else:
        print(
            f"wrote {target}: {database} database, log {manifest.origin} at size "
            f"{manifest.size} ({manifest.payload_bytes} bytes)"
        )


_NO_LOG = "the database holds no log to back up; run `cosignatory log init` first"


def _copy_sqlite(source: Path, target: Path) -> tuple[int, str]:
    """Copy the database with SQLite's backup API in one step: one consistent snapshot.

    Returns the log's head (size, checkpoint) as the copy holds it.
    """
    if not source.is_file():
        raise CommandError(f"no such database: {source}")
    with (
        contextlib.closing(sqlite3.connect(source, timeout=60)) as live,
        contextlib.closing(sqlite3.connect(target)) as copy,
    ):
        live.backup(copy)  # pages=-1: all at once, under one read transaction
        # One self-contained file: no write-ahead log beside it.
        copy.execute("PRAGMA journal_mode=DELETE")
        head = _sqlite_head(copy)
    if head is None:
        raise CommandError(_NO_LOG)
    return head


def _sqlite_head(database: sqlite3.Connection) -> tuple[int, str] | None:
    try:
        found = database.execute("SELECT size, checkpoint FROM tlog_head WHERE id = 1").fetchone()
    except sqlite3.DatabaseError:
        return None
    return None if found is None else (int(found[0]), str(found[1]))


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackupToolError(
            f"{name} was not found: install PostgreSQL's client tools "
            "(Debian: apt-get install postgresql-client)"
        )
    return found


def _pg_environment(settings_dict: dict[str, Any]) -> dict[str, str]:
    """libpq's variables for the register's database: no password on a command line."""
    env = dict(os.environ)
    for variable, key in (
        ("PGHOST", "HOST"),
        ("PGPORT", "PORT"),
        ("PGUSER", "USER"),
        ("PGPASSWORD", "PASSWORD"),
        ("PGDATABASE", "NAME"),
    ):
        if settings_dict.get(key):
            env[variable] = str(settings_dict[key])
    return env


def _run_tool(command: list[str], env: dict[str, str]) -> str:
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)  # noqa: S603
    if result.returncode != 0:
        lines = result.stderr.strip().splitlines() or [f"exit status {result.returncode}"]
        raise BackupToolError(f"{Path(command[0]).name} failed: {lines[-1]}")
    return result.stdout


def _dump_postgresql(connection: Any, target: Path) -> tuple[int, str]:
    """pg_dump in a snapshot exported by a transaction that also reads the log's head.

    The head and the dump are then the same instant's, while the server keeps writing.
    """
    from django.db import transaction

    pg_dump = _tool("pg_dump")
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            cursor.execute("SELECT pg_export_snapshot()")
            snapshot = cursor.fetchone()[0]
            cursor.execute("SELECT to_regclass('tlog_head') IS NOT NULL")
            if not cursor.fetchone()[0]:
                raise CommandError(_NO_LOG)
            cursor.execute("SELECT size, checkpoint FROM tlog_head WHERE id = 1")
            found = cursor.fetchone()
        if found is None:
            raise CommandError(_NO_LOG)
        _run_tool(
            [
                pg_dump,
                "--format=custom",
                "--no-owner",
                "--no-privileges",
                f"--snapshot={snapshot}",
                f"--file={target}",
            ],
            _pg_environment(connection.settings_dict),
        )
    return int(found[0]), str(found[1])


# -- restore -------------------------------------------------------------------------------


def restore_register(args: argparse.Namespace) -> None:
    setup_django()
    from django.db import connection

    with tempfile.TemporaryDirectory(prefix="cosignatory-restore-") as folder:
        manifest, payload = read_backup(Path(args.file), Path(folder))
        vendor = connection.vendor
        if manifest.database != vendor:
            raise BackupDatabaseError(
                f"the backup is of a {manifest.database} database; this register's is {vendor}"
            )
        _check_keys(manifest)
        if vendor == "sqlite":  # a new register's database may be in a new folder
            Path(connection.settings_dict["NAME"]).parent.mkdir(parents=True, exist_ok=True)
        existing = _existing_log_size(connection)
        if existing is not None and not args.force:
            raise RestoreRefusedError(
                f"the database already holds a register (a log of {existing} entries); "
                "restore with --force to replace it"
            )
        if vendor == "sqlite":
            events = _restore_sqlite(manifest, payload, Path(connection.settings_dict["NAME"]))
        else:
            events = _restore_postgresql(manifest, payload, connection)
    if args.json:
        print_json(
            {
                "restored": True,
                "file": args.file,
                "database": manifest.database,
                "origin": manifest.origin,
                "size": manifest.size,
                "checkpoint": manifest.checkpoint,
                "created": manifest.created,
                "events": events,
            }
        )
    else:
        print(
            f"restored {args.file}: log {manifest.origin} at size {manifest.size} "
            f"(backed up {manifest.created}); verified, rebuild identical: {events} events"
        )


def _check_keys(manifest: Manifest) -> None:
    """The backup's checkpoint must be this register's log's, signed with its keys."""
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured

    from cosignatory.tlog.checkpoint import open_checkpoint
    from cosignatory.web.log.services import get_log

    if manifest.origin != settings.COSIGNATORY_LOG_ORIGIN:
        raise RestoreRefusedError(
            f"the backup is of the log {manifest.origin!r}; this register's origin "
            f"(COSIGNATORY_LOG_ORIGIN) is {settings.COSIGNATORY_LOG_ORIGIN!r}"
        )
    try:
        verifiers = get_log().verifiers
    except ImproperlyConfigured as error:
        raise RestoreRefusedError(
            f"{error}: restore the log's keys into COSIGNATORY_KEY_DIR first"
        ) from None
    try:
        checkpoint = open_checkpoint(manifest.checkpoint, verifiers, origin=manifest.origin)
    except CosignatoryError as error:
        raise RestoreUnverifiedError(
            "the backup's checkpoint does not verify with the log's keys in "
            f"COSIGNATORY_KEY_DIR ({error} [{error.code}]): restore the log's own keys first"
        ) from None
    if checkpoint.size != manifest.size:
        raise BackupInvalidError("the backup's manifest and checkpoint disagree on the size")


def _existing_log_size(connection: Any) -> int | None:
    """The size of the register's log in the database, or None if it has none."""
    if "tlog_head" not in connection.introspection.table_names():
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT size FROM tlog_head WHERE id = 1")
        found = cursor.fetchone()
    return None if found is None else int(found[0])


def _verify(manifest: Manifest, using: str) -> int:
    """Migrate ``using`` to this version's tables, then rebuild; return the events replayed.

    Raises RestoreUnverifiedError if the log or the tables do not verify, or the
    restored log is not the one the manifest names.
    """
    from django.core.management import call_command

    from cosignatory.web.log.services import get_log
    from cosignatory.web.register.rebuild import rebuild

    call_command("migrate", database=using, verbosity=0, interactive=False)
    head = get_log(using).head()
    if head.checkpoint != manifest.checkpoint:
        raise RestoreUnverifiedError(
            "the restored log's checkpoint is not the one the backup recorded"
        )
    report = rebuild(using=using, limit=5)
    if not report.identical:
        details = "; ".join(report.details()[:5])
        raise RestoreUnverifiedError(f"{report.summary()}: {details}")
    return report.events


def _restore_sqlite(manifest: Manifest, payload: Path, target: Path) -> int:
    """Verify the backup's database as a copy, then copy it over the register's.

    The copy into ``target`` is SQLite's backup API in one step: readers see the old
    database or the new one, never a mixture. Nothing is written to ``target`` unless
    the copy verified.
    """
    from django.db import connections

    from cosignatory.web.register.rebuild import sqlite_database

    with contextlib.closing(sqlite3.connect(payload)) as check:
        try:
            result = check.execute("PRAGMA integrity_check").fetchone()
        except sqlite3.DatabaseError as error:
            raise BackupInvalidError(f"the backup's database is not SQLite: {error}") from None
    if result is None or result[0] != "ok":
        raise BackupInvalidError("the backup's database fails SQLite's integrity check")
    with sqlite_database(payload) as alias:
        events = _verify(manifest, alias)
    connections.close_all()
    with (
        contextlib.closing(sqlite3.connect(payload)) as source,
        contextlib.closing(sqlite3.connect(target, timeout=60)) as live,
    ):
        source.backup(live)
        live.execute("PRAGMA journal_mode=WAL")
    return events


def _restore_postgresql(manifest: Manifest, payload: Path, connection: Any) -> int:
    """Restore and verify in one transaction of our own: a backup that fails changes nothing.

    ``pg_restore`` turns the archive into its SQL script (drop, create, ``COPY`` the
    rows), which is run here inside the transaction that then migrates and verifies
    the result; any failure rolls the whole restore back. The archive is read through
    once (``pg_restore --list``) before anything is written.
    """
    from django.db import transaction

    from cosignatory.web.log.services import reset_log_cache

    pg_restore = _tool("pg_restore")
    env = {**_pg_environment(connection.settings_dict), "PGCLIENTENCODING": "UTF8"}
    try:
        _run_tool([pg_restore, "--list", str(payload)], env)
    except BackupToolError as error:
        raise BackupInvalidError(
            f"the backup's database is not a pg_dump archive: {error}"
        ) from None
    script = [
        pg_restore,
        "--clean",
        "--if-exists",
        "--no-owner",
        "--no-privileges",
        "--file=-",
        str(payload),
    ]
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SHOW search_path")
            search_path = cursor.fetchone()[0]
            _run_script(cursor, script, env)
            # The script empties search_path for its own statements; ours need it back.
            cursor.execute("SELECT pg_catalog.set_config('search_path', %s, true)", [search_path])
        reset_log_cache()
        return _verify(manifest, "default")


def _run_script(cursor: Any, command: list[str], env: dict[str, str]) -> None:
    """Run the SQL script ``command`` writes (pg_restore's) on ``cursor``, statement by statement.

    pg_dump's scripts end every statement at the end of a line with ``;`` and follow
    ``COPY ... FROM stdin;`` with the rows in COPY's text format up to a ``\\.`` line,
    which go through the driver's COPY protocol. Raises BackupInvalidError if the
    database refuses a statement, BackupToolError if the command fails.
    """
    import psycopg
    from django.db import DatabaseError

    process = subprocess.Popen(  # noqa: S603 - pg_restore, found on PATH
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, encoding="utf-8"
    )
    assert process.stdout is not None
    assert process.stderr is not None
    try:
        lines: list[str] = []
        for line in process.stdout:
            if not lines and (not line.strip() or line.startswith(("--", "\\"))):
                continue  # blank lines, comments, psql's meta-commands (\restrict)
            lines.append(line)
            if not line.rstrip().endswith(";"):
                continue
            statement, lines = "".join(lines), []
            if statement.startswith("COPY ") and statement.rstrip().endswith("FROM stdin;"):
                with cursor.cursor.copy(statement) as copy:
                    for row in process.stdout:
                        if row == "\\.\n":
                            break
                        copy.write(row)
            else:
                cursor.execute(statement)
    except (DatabaseError, psycopg.Error) as failure:
        raise BackupInvalidError(
            f"the backup's database cannot be restored: {str(failure).strip()}"
        ) from None
    finally:
        process.stdout.close()
        error = process.stderr.read()
        returncode = process.wait()
    if returncode != 0:
        lines = error.strip().splitlines() or [f"exit status {returncode}"]
        raise BackupToolError(f"pg_restore failed: {lines[-1]}")
