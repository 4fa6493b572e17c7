"""Bringing a register's log into being: tables, keys, the first checkpoint, demo entries."""

from __future__ import annotations

from pathlib import Path

import rfc8785
from django.core.management import call_command

from cosignatory.tlog.log import AppendResult
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


DEMO_NOTES = (
    "Demonstration log. These entries are sample data, not records of any real letter.",
    "A joint letter is signed, acceded to and withdrawn from through events like these.",
    "Every entry is hashed into an RFC 6962 Merkle tree and served as C2SP tlog-tiles.",
    "Anyone can check a checkpoint with the log's verifier key at /log/vkey.",
)


def load_demo_log(count: int = 300) -> AppendResult:
    """Append ``count`` demonstration entries (canonical JSON) in one batch.

    Enough to fill a full hash tile and start the next, so every tile shape is served.
    """
    entries = [
        rfc8785.dumps(
            {"demo": True, "kind": "demo.note", "n": n, "text": DEMO_NOTES[n % len(DEMO_NOTES)]}
        )
        for n in range(count)
    ]
    return get_log().append_batch(entries)
