"""Bringing a register's log into being: tables, keys, the first checkpoint."""

from __future__ import annotations

from pathlib import Path

from django.core.management import call_command

from cosignatory.tlog.storage import Head
from cosignatory.web.log.services import ensure_log_keys, get_log, reset_log_cache


def initialise_log(verbosity: int = 0) -> tuple[list[Path], Head]:
    """Migrate the database, make missing log keys, sign the empty checkpoint.

    Returns the key files made and the log's head. Idempotent.
    """
    call_command("migrate", interactive=False, verbosity=verbosity)
    created = ensure_log_keys()
    if created:
        reset_log_cache()
    return created, get_log().initialise()
