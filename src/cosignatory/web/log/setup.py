"""Bringing a register's log into being: tables, keys, the first checkpoint.

The log's keys sign every checkpoint the register publishes. Once they have signed one,
a new log under the same keys, started because the database was lost, would contradict
every checkpoint published before: a fork of the log, which witnesses and readers treat
as the log lying. So the first checkpoint leaves a mark beside the keys
(:data:`STARTED_FILE`), and a key folder so marked starts no new log unless asked
(``new_log``): a lost database is restored from a backup instead.
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.db import connection

from cosignatory.errors import CosignatoryError
from cosignatory.tlog.storage import Head
from cosignatory.web.log.models import LogHead
from cosignatory.web.log.services import ensure_log_keys, get_log, key_dir, reset_log_cache

STARTED_FILE = "log-started"
"""Written beside the log's keys once they have signed a checkpoint."""


class LogLostError(CosignatoryError):
    """The log's keys have signed a log that the database does not hold."""

    code = "E_LOG_LOST"


def initialise_log(verbosity: int = 0, *, new_log: bool = False) -> tuple[list[Path], Head]:
    """Migrate the database, make missing log keys, sign the empty checkpoint.

    Returns the key files made and the log's head. Idempotent. Raises LogLostError,
    before changing anything, if the keys have signed a log before and the database
    holds none, unless ``new_log``.
    """
    started = key_dir() / STARTED_FILE
    if started.exists() and not new_log and not _holds_a_log():
        raise LogLostError(
            f"the log's keys in {key_dir()} have signed a log that this database does not "
            "hold: if the register's database was lost, restore it with `cosignatory "
            "restore FILE`; a new log under these keys would contradict the checkpoints "
            "already published (--new-log starts one all the same)"
        )
    call_command("migrate", interactive=False, verbosity=verbosity)
    created = ensure_log_keys()
    if created:
        reset_log_cache()
    head = get_log().initialise()
    if not started.exists():
        started.write_text(
            f"The keys in this folder sign the checkpoints of {settings.COSIGNATORY_LOG_ORIGIN}.\n"
            "Written by Cosignatory; see docs/cli.md (log init).\n"
        )
    return created, head


def _holds_a_log() -> bool:
    """Whether the database has the log's tables and a signed head in them."""
    if LogHead._meta.db_table not in connection.introspection.table_names():
        return False
    return LogHead.objects.exists()
