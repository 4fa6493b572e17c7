"""ETags and conditional GETs (RFC 9110, sections 8.8.3 and 13.1.2).

Every read answers with a weak ETag made from a cheap marker of what it shows: the
log's size for lists over the whole register, the index of a letter's last event for
what belongs to one letter. The register changes only by appending events, so an
unchanged marker means an unchanged answer; a client that sends the ETag back in
``If-None-Match`` gets ``304 Not Modified`` without the query being run.
"""

from __future__ import annotations

from django.db.models import Max
from django.http import HttpRequest, HttpResponse

from cosignatory.core.errors import UnknownEntityError
from cosignatory.web.log.services import get_log
from cosignatory.web.register import models as m

# Part of every tag: a new revision of the API's responses makes every tag new.
_REVISION = "v1"
_CHANGING = "no-cache"  # may be stored, but revalidated (cheaply, with the tag) each time
IMMUTABLE = "public, max-age=31536000, immutable"
STATIC = "static"
"""The marker of what changes only with the API's revision (the index, the error codes)."""


def log_marker() -> str:
    """The marker of anything in the register: the log's size."""
    return f"n{get_log().size()}"


def letter_marker(letter: str) -> str:
    """The marker of what belongs to ``letter``: the index of its last event.

    Raises UnknownEntityError if there is no such letter.
    """
    last = m.EventRecord.objects.filter(letter_id=letter).aggregate(last=Max("log_index"))["last"]
    if last is None:  # a letter exists from its letter.created event on
        raise UnknownEntityError(f"no letter {letter!r}")
    return f"l{last}"


def etag(marker: str) -> str:
    return f'W/"{_REVISION}-{marker}"'


def not_modified(
    request: HttpRequest, response: HttpResponse, marker: str, cache_control: str = _CHANGING
) -> bool:
    """Put the ETag of ``marker`` on ``response``; return True if the client has it.

    ``If-None-Match`` uses the weak comparison: ``W/"x"`` matches ``"x"``, and ``*``
    matches anything.
    """
    tag = etag(marker)
    response["ETag"] = tag
    response["Cache-Control"] = cache_control
    header = request.headers.get("If-None-Match")
    if not header:
        return False
    wanted = _opaque(tag)
    for candidate in header.split(","):
        candidate = candidate.strip()
        if candidate == "*" or _opaque(candidate) == wanted:
            return True
    return False


def _opaque(tag: str) -> str:
    return tag[2:] if tag.startswith("W/") else tag
