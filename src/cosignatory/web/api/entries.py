"""Log entries as the API shows them: the event decoded, with its exact bytes and leaf hash."""

from __future__ import annotations

import base64
import json
from typing import Any

from cosignatory.core.errors import UnknownEntityError
from cosignatory.tlog.hashing import leaf_hash
from cosignatory.web.log.services import get_log
from cosignatory.web.register.services import Recorded


def entry_json(index: int, entry: bytes) -> dict[str, Any]:
    """The ``LogEntryOut`` of the entry at ``index``."""
    return {
        "index": index,
        "leaf_hash": leaf_hash(entry).hex(),
        "entry": base64.b64encode(entry).decode(),
        "event": json.loads(entry),
    }


def read_entries(start: int, end: int) -> list[bytes]:
    """Entries ``[start, end)``, cut at the log's size."""
    end = min(end, get_log().size())
    if start >= end:
        return []
    return get_log().storage.read_entries(start, end)


def read_entry(index: int) -> bytes:
    """The entry at ``index``; raises UnknownEntityError beyond the log."""
    found = read_entries(index, index + 1)
    if not found:
        raise UnknownEntityError(f"the log has no entry {index}")
    return found[0]


def write_result(recorded: Recorded) -> dict[str, Any]:
    """The ``WriteResult`` of what a service recorded (or found recorded already).

    A sealed event the service has at hand is its log entry already (the entry is its
    canonical bytes); only an event found recorded before is read from the log.
    """
    event = recorded.event
    if event is not None and event.registrar_key:
        entry = event.to_bytes()
    else:
        entry = read_entry(recorded.log_index)
    return {"log_index": recorded.log_index, "new": recorded.new, "event": json.loads(entry)}
