"""The register's limits on what it accepts, in one place.

Every size the register refuses to exceed is named here, so the event schemas
(:mod:`cosignatory.core.events`), the web settings, the JSON API, the CSV intake and
the documentation (``docs/reliability.md``, "Limits and names") agree. A refusal is a
:class:`LimitError` (``E_LIMIT``) that names the limit, and nothing is recorded.

Two kinds of limit:

* **Event limits** are part of the event schemas: they bind every event, new or
  replayed from a log, so they can be loosened in a later release but never tightened
  (an event already in a log must still replay; see ``docs/formats/events.md``).
* **Intake limits** bind what a request or a file may carry before anything is judged:
  the size of a request body, an upload, the rows of a CSV file. They protect the server
  and may change with a deployment.
"""

from __future__ import annotations

from cosignatory.core.errors import InvalidEventError

# -- event limits (characters, after NFC normalisation) -----------------------------

NAME_CHARS = 300
"""A name or title in one language: a party, representative, body, session, letter,
addressee or registrar key."""

TEXT_CHARS = 20_000
"""A letter's Markdown text in one language (a long joint letter is ~8,000)."""

LANGUAGES_MAX = 6
"""Names and texts come in at most the six UN languages (a mapping keyed by them)."""

ADDRESSEES_MAX = 50
"""Addressees of one letter."""

MEMBERS_MAX = 400
"""Members of a group party (the UN has 193 member states)."""

REASON_CHARS = 500
"""A reason given for ending a mandate or revoking a key."""

NOTE_CHARS = 2_000
"""A dispute's statement, its resolution's note, a document's note."""

REFERENCE_CHARS = 200
"""An instrument's reference (a note verbale's number)."""

ENTRY_BYTES = 60_000
"""One event's canonical JSON: it must fit a log entry (65,535 bytes) with the seal."""

VERSIONS_MAX = 10_000
"""Text versions of one letter (and the largest session number)."""

# -- intake limits (bytes and rows) ---------------------------------------------------

API_BODY_BYTES = 256 * 1024
"""A JSON API request body. The largest event (``ENTRY_BYTES``) fits with room for
JSON escapes."""

FORM_BODY_BYTES = 2_621_440
"""A website form's fields (Django's ``DATA_UPLOAD_MAX_MEMORY_SIZE``): a letter's six
texts of ``TEXT_CHARS`` each, percent-encoded (up to 9 bytes a CJK character), fit."""

FORM_FIELDS_MAX = 1_000
"""Fields in one form (Django's ``DATA_UPLOAD_MAX_NUMBER_FIELDS``)."""

UPLOAD_FILES_MAX = 5
"""Files in one upload (Django's ``DATA_UPLOAD_MAX_NUMBER_FILES``); each form takes one."""

UPLOAD_MEMORY_BYTES = 2_621_440
"""An uploaded file is kept in memory up to this size, on disk beyond it (Django's
``FILE_UPLOAD_MAX_MEMORY_SIZE``)."""

IMPORT_FILE_BYTES = 32 * 1024 * 1024
"""A CSV file of signatures received on paper (``cosignatory import``, the desk)."""

IMPORT_ROWS = 50_000
"""Rows in one CSV import (the UN has 193 member states; an open letter may have more)."""

DESK_UPLOAD_BYTES = 2 * 1024 * 1024
"""A CSV file uploaded on the desk (bigger files: ``cosignatory import``)."""

STATEMENT_FILE_BYTES = 64 * 1024
"""A signed statement file uploaded on the signing page (one is under 1 KB)."""


class LimitError(InvalidEventError):
    """Something is over one of the register's limits; nothing was recorded."""

    code = "E_LIMIT"


def check_length(value: str, limit: int, what: str) -> str:
    """Return ``value`` if it has at most ``limit`` characters; raises LimitError."""
    if len(value) > limit:
        raise LimitError(f"{what} is {len(value)} characters; the limit is {limit}")
    return value


def check_count(count: int, limit: int, what: str) -> int:
    """Return ``count`` if it is at most ``limit``; raises LimitError."""
    if count > limit:
        raise LimitError(f"{what}: {count}; the limit is {limit}")
    return count


def check_size(size: int, limit: int, what: str) -> int:
    """Return ``size`` (bytes) if it is at most ``limit``; raises LimitError."""
    if size > limit:
        raise LimitError(f"{what} is {size} bytes; the limit is {limit}")
    return size
