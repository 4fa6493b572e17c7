"""The reads of one letter: the letter, its text versions, its signatory list as of a
date, and its history. Their ETag is the index of the letter's last event, so a
change to another letter does not change it (see :mod:`.conditional`).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any

from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from ninja import Path, Query, Status

from cosignatory.core.errors import UnknownEntityError
from cosignatory.core.events import format_time
from cosignatory.web.api import conditional
from cosignatory.web.api.entries import entry_json, read_entry
from cosignatory.web.api.errors import RequestInvalidError
from cosignatory.web.api.pages import DEFAULT_LIMIT, Digits, Limit, page
from cosignatory.web.api.read import AfterId, AfterIndex, IdPath, get_or_404, responses
from cosignatory.web.api.routes import router
from cosignatory.web.api.schemas import (
    ID_PATTERN,
    LetterOut,
    LetterPage,
    LogEntryPage,
    Problem,
    SignatoryPage,
    TextVersionOut,
    TextVersionPage,
)
from cosignatory.web.register import models as m
from cosignatory.web.register.bundles import CONTENT_TYPE as BUNDLE_TYPE
from cosignatory.web.register.bundles import bundle_filename, stream_bundle
from cosignatory.web.register.queries import (
    after_in_time_then_id,
    end_of_day,
    latest_signatures,
    ordered_by_time_then_id,
    signatory_counts,
    signatory_json,
    signatory_row,
)

# -- letters ----------------------------------------------------------------------------------


def _letter(row: m.Letter) -> dict[str, Any]:
    return {
        "id": row.id,
        "title": row.title,
        "addressees": list(row.addressees),
        "lead_party": row.lead_party_id,
        "date": row.date.isoformat(),
        "session": row.session_id,
        "status": row.status,
        "accessions_open": row.accessions_open,
        "current_version": row.current_version,
        "transmitted_on": row.transmitted_on.isoformat() if row.transmitted_on else None,
        "symbol": row.symbol,
        "registered_session": row.registered_session_id,
        "created_at": format_time(row.created_at),
    }


class Version(Digits):
    least, most = 1, 10_000


class VersionSeen(Digits):
    least, most = 0, 10_000


@router.get("/letters", response=responses(LetterPage), tags=["read"], summary="Letters")
def letters(
    request: HttpRequest,
    response: HttpResponse,
    session: Annotated[
        str | None, Query(pattern=ID_PATTERN, description="only this session's")
    ] = None,
    status: Annotated[
        str | None,
        Query(
            pattern=r"^(draft|open|closed|transmitted|registered|published)$",
            description="only letters in this state",
        ),
    ] = None,
    after: AfterId = None,
    limit: Limit = DEFAULT_LIMIT,
) -> Any:
    """Every letter, by identifier."""
    if conditional.not_modified(request, response, conditional.log_marker()):
        return Status(304, None)
    rows = m.Letter.objects.order_by("id")
    if session is not None:
        rows = rows.filter(session_id=session)
    if status is not None:
        rows = rows.filter(status=status)
    if after is not None:
        rows = rows.filter(id__gt=after)
    shown, next_path = page(request, list(rows[: limit + 1]), limit, lambda r: r.id)
    return {"items": [_letter(r) for r in shown], "next": next_path}


@router.get("/letters/{letter}", response=responses(LetterOut), tags=["read"], summary="One letter")
def letter(request: HttpRequest, response: HttpResponse, letter: IdPath) -> Any:
    if conditional.not_modified(request, response, conditional.letter_marker(letter)):
        return Status(304, None)
    return _letter(get_or_404(m.Letter, letter, "letter"))


def _version(row: m.TextVersion) -> dict[str, Any]:
    return {
        "letter": row.letter_id,
        "version": row.version,
        "texts": row.texts,
        "text_hash": row.text_hash,
        "created_at": format_time(row.created_at),
    }


@router.get(
    "/letters/{letter}/versions",
    response=responses(TextVersionPage),
    tags=["read"],
    summary="Text versions",
)
def versions(
    request: HttpRequest,
    response: HttpResponse,
    letter: IdPath,
    after: Annotated[VersionSeen | None, Query(description="the last version number seen")] = None,
    limit: Limit = DEFAULT_LIMIT,
) -> Any:
    """A letter's frozen texts, from version 1."""
    if conditional.not_modified(request, response, conditional.letter_marker(letter)):
        return Status(304, None)
    rows = m.TextVersion.objects.filter(letter_id=letter).order_by("version")
    if after is not None:
        rows = rows.filter(version__gt=after)
    shown, next_path = page(request, list(rows[: limit + 1]), limit, lambda r: r.version)
    return {"items": [_version(r) for r in shown], "next": next_path}


@router.get(
    "/letters/{letter}/versions/{version}",
    response=responses(TextVersionOut),
    tags=["read"],
    summary="One text version",
)
def version(
    request: HttpRequest,
    response: HttpResponse,
    letter: IdPath,
    version: Annotated[Version, Path()],
) -> Any:
    if conditional.not_modified(request, response, conditional.letter_marker(letter)):
        return Status(304, None)
    row = m.TextVersion.objects.filter(letter_id=letter, version=version).first()
    if row is None:
        raise UnknownEntityError(f"letter {letter!r} has no version {version}")
    return _version(row)


def _instant(as_of: date | datetime | None) -> datetime | None:
    """The instant a date or time names, in UTC; beyond what UTC can hold, its limit."""
    if as_of is None:
        return None
    if not isinstance(as_of, datetime):
        return end_of_day(as_of)
    try:
        return as_of.astimezone(UTC)
    except OverflowError:  # e.g. 0001-01-01T00:00:00+01:00
        return (
            datetime.min.replace(tzinfo=UTC)
            if as_of.year == 1
            else datetime.max.replace(tzinfo=UTC)
        )


@router.get(
    "/letters/{letter}/signatories",
    response=responses(SignatoryPage),
    tags=["read"],
    summary="A letter's signatory list, as of a date",
)
def signatories(
    request: HttpRequest,
    response: HttpResponse,
    letter: IdPath,
    as_of: Annotated[
        date | datetime | None,
        Query(
            description="a date (the list at the end of that day, UTC) or an instant with its "
            "time zone; absent: now"
        ),
    ] = None,
    after: Annotated[
        str | None,
        Query(pattern=ID_PATTERN, description="the signature_id of the last row seen"),
    ] = None,
    limit: Limit = DEFAULT_LIMIT,
) -> Any:
    """Each party's latest signature or accession made by ``as_of``: whether it was
    withdrawn by then, is on an earlier text version, or was voided by an upheld dispute.
    Ordered by the time of that signature, then its id."""
    if isinstance(as_of, datetime) and as_of.tzinfo is None:
        raise RequestInvalidError("as_of: a time needs its time zone (e.g. Z for UTC)")
    if conditional.not_modified(request, response, conditional.letter_marker(letter)):
        return Status(304, None)
    instant = _instant(as_of)
    current = m.Letter.objects.filter(pk=letter).values_list("current_version", flat=True).first()
    if current is None:
        raise UnknownEntityError(f"no letter {letter!r}")
    # One page is one indexed query and the counts are two: the list is never loaded
    # whole, so the first page of a million-signature letter costs what a short one does.
    query = ordered_by_time_then_id(latest_signatures(letter, instant))
    if after is not None:
        mark = m.Signature.objects.filter(pk=after, letter_id=letter).values_list("at", "id")
        found = mark.first()
        if found is None:
            raise UnknownEntityError(f"letter {letter!r} has no signature {after!r}")
        query = after_in_time_then_id(query, *found)
    rows = [signatory_row(found, current, instant) for found in query[: limit + 1]]
    shown, next_path = page(request, rows, limit, lambda r: r.signature)
    counts = signatory_counts(letter, instant)
    return {
        "letter": letter,
        "as_of": format_time(instant) if instant is not None else None,
        "count": counts.listed,
        "active": counts.active,
        "items": [signatory_json(r) for r in shown],
        "next": next_path,
    }


@router.get(
    "/letters/{letter}/events",
    response=responses(LogEntryPage),
    tags=["read"],
    summary="A letter's events",
)
def letter_events(
    request: HttpRequest,
    response: HttpResponse,
    letter: IdPath,
    after: AfterIndex = None,
    limit: Limit = DEFAULT_LIMIT,
) -> Any:
    """The events about one letter, in log order: its whole history."""
    if conditional.not_modified(request, response, conditional.letter_marker(letter)):
        return Status(304, None)
    indexes = m.EventRecord.objects.filter(letter_id=letter).order_by("log_index")
    if after is not None:
        indexes = indexes.filter(log_index__gt=after)
    wanted = list(indexes.values_list("log_index", flat=True)[: limit + 1])
    rows = [(index, read_entry(index)) for index in wanted[:limit]]
    if len(wanted) > limit:
        rows.append((wanted[limit], b""))  # only marks that a next page exists
    shown, next_path = page(request, rows, limit, lambda r: r[0])
    return {"items": [entry_json(i, e) for i, e in shown], "next": next_path}


# -- the verification bundle ------------------------------------------------------------------


@router.get(
    "/letters/{letter}/bundle",
    response={404: Problem, 405: Problem, 422: Problem},
    tags=["read"],
    summary="The letter's verification bundle",
    openapi_extra={
        "responses": {
            "200": {
                "description": "The bundle, streamed as JSON Lines (docs/bundle.md); check it "
                "offline with `cosignatory verify BUNDLE --log-key VKEY`.",
                "content": {BUNDLE_TYPE: {"schema": {"type": "string"}}},
            }
        }
    },
)
def bundle(request: HttpRequest, letter: IdPath) -> Any:
    """Everything needed to verify the letter offline, proven against the current
    checkpoint. Streamed: a letter with a million signatures is never held in memory."""
    lines = stream_bundle(letter)  # raises UnknownEntityError (404) before any line
    response = StreamingHttpResponse(lines, content_type=BUNDLE_TYPE)
    response["Content-Disposition"] = f'attachment; filename="{bundle_filename(letter)}"'
    response["Cache-Control"] = "no-cache"
    return response
