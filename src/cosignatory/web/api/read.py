"""The public reads: error codes, bodies, sessions, parties, documents and the log's
events, paginated, with ETags (a letter's own reads are in :mod:`.letters`).

No token is needed. Each read answers 304 to a matching ``If-None-Match`` (see
:mod:`.conditional`) before it runs its own queries.
"""

from __future__ import annotations

from typing import Annotated, Any

from django.http import HttpRequest, HttpResponse
from ninja import Path, Query, Status

from cosignatory.core.errors import UnknownEntityError
from cosignatory.core.events import format_time
from cosignatory.web.api import conditional
from cosignatory.web.api.entries import entry_json, read_entries, read_entry
from cosignatory.web.api.pages import DEFAULT_LIMIT, Digits, Limit, page
from cosignatory.web.api.problems import PROBLEM_TYPES
from cosignatory.web.api.routes import router
from cosignatory.web.api.schemas import (
    ID_PATTERN,
    MAX_INDEX,
    BodyOut,
    BodyPage,
    DocumentOut,
    DocumentPage,
    LogEntryOut,
    LogEntryPage,
    PartyOut,
    PartyPage,
    Problem,
    ProblemTypeOut,
    ProblemTypePage,
    SessionOut,
    SessionPage,
)
from cosignatory.web.register import models as m

SYMBOL_PATTERN = r"^[^\x00-\x1f\x7f]{1,140}$"

IdPath = Annotated[str, Path(pattern=ID_PATTERN)]
AfterId = Annotated[
    str | None, Query(pattern=ID_PATTERN, description="the identifier of the last item seen")
]
FilterId = Annotated[str | None, Query(pattern=ID_PATTERN)]


class EntryIndex(Digits):
    least, most = 0, MAX_INDEX


Index = Annotated[EntryIndex, Path(description="the entry's index, from 0")]
AfterIndex = Annotated[EntryIndex | None, Query(description="the index of the last event seen")]


def responses(model: Any) -> dict[int, Any]:
    """What a read may answer."""
    return {200: model, 304: None, 404: Problem, 405: Problem, 422: Problem}


# -- the problem codes -----------------------------------------------------------------


@router.get(
    "/problems", response=responses(ProblemTypePage), tags=["read"], summary="Every error code"
)
def problems(request: HttpRequest, response: HttpResponse) -> Any:
    """Every stable error code the API answers with, its HTTP status and title."""
    if conditional.not_modified(request, response, conditional.STATIC):
        return Status(304, None)
    return {"items": [vars(kind) for kind in PROBLEM_TYPES.values()]}


@router.get(
    "/problems/{code}",
    response=responses(ProblemTypeOut),
    url_name="problem",
    tags=["read"],
    summary="One error code",
)
def problem(
    request: HttpRequest,
    response: HttpResponse,
    code: Annotated[str, Path(pattern=r"^E_[A-Z_]{1,60}$")],
) -> Any:
    """What an error code means: the ``type`` of every problem document resolves here."""
    kind = PROBLEM_TYPES.get(code)
    if kind is None:
        raise UnknownEntityError(f"no error code {code!r}")
    if conditional.not_modified(request, response, conditional.STATIC):
        return Status(304, None)
    return vars(kind)


# -- bodies, sessions, parties ---------------------------------------------------------------


def _body(row: m.Body) -> dict[str, Any]:
    return {
        "id": row.id,
        "names": row.names,
        "symbol_root": row.symbol_root,
        "symbol_format": row.symbol_format,
    }


@router.get("/bodies", response=responses(BodyPage), tags=["read"], summary="Bodies")
def bodies(
    request: HttpRequest,
    response: HttpResponse,
    after: AfterId = None,
    limit: Limit = DEFAULT_LIMIT,
) -> Any:
    """The bodies letters are addressed to, by identifier."""
    if conditional.not_modified(request, response, conditional.log_marker()):
        return Status(304, None)
    rows = m.Body.objects.order_by("id")
    if after is not None:
        rows = rows.filter(id__gt=after)
    shown, next_path = page(request, list(rows[: limit + 1]), limit, lambda r: r.id)
    return {"items": [_body(r) for r in shown], "next": next_path}


@router.get("/bodies/{body}", response=responses(BodyOut), tags=["read"], summary="One body")
def body(request: HttpRequest, response: HttpResponse, body: IdPath) -> Any:
    if conditional.not_modified(request, response, conditional.log_marker()):
        return Status(304, None)
    return _body(get_or_404(m.Body, body, "body"))


def _session(row: m.Session) -> dict[str, Any]:
    return {
        "id": row.id,
        "body": row.body_id,
        "number": row.number,
        "names": row.names,
        "start": row.start.isoformat(),
        "end": row.end.isoformat(),
        "symbol_prefix": row.symbol_prefix,
    }


@router.get("/sessions", response=responses(SessionPage), tags=["read"], summary="Sessions")
def sessions(
    request: HttpRequest,
    response: HttpResponse,
    body: Annotated[str | None, Query(pattern=ID_PATTERN, description="only this body's")] = None,
    after: AfterId = None,
    limit: Limit = DEFAULT_LIMIT,
) -> Any:
    """Sessions of the bodies, by identifier."""
    if conditional.not_modified(request, response, conditional.log_marker()):
        return Status(304, None)
    rows = m.Session.objects.order_by("id")
    if body is not None:
        rows = rows.filter(body_id=body)
    if after is not None:
        rows = rows.filter(id__gt=after)
    shown, next_path = page(request, list(rows[: limit + 1]), limit, lambda r: r.id)
    return {"items": [_session(r) for r in shown], "next": next_path}


@router.get(
    "/sessions/{session}", response=responses(SessionOut), tags=["read"], summary="One session"
)
def session(request: HttpRequest, response: HttpResponse, session: IdPath) -> Any:
    if conditional.not_modified(request, response, conditional.log_marker()):
        return Status(304, None)
    return _session(get_or_404(m.Session, session, "session"))


def _party(row: m.Party) -> dict[str, Any]:
    return {
        "id": row.id,
        "kind": row.kind,
        "names": row.names,
        "code": row.code,
        "members": list(row.members or []),
    }


@router.get("/parties", response=responses(PartyPage), tags=["read"], summary="Parties")
def parties(
    request: HttpRequest,
    response: HttpResponse,
    kind: Annotated[
        str | None,
        Query(pattern=r"^(state|organisation|person|group)$", description="only parties of a kind"),
    ] = None,
    after: AfterId = None,
    limit: Limit = DEFAULT_LIMIT,
) -> Any:
    """Who can sign: states, organisations, persons and groups, by identifier."""
    if conditional.not_modified(request, response, conditional.log_marker()):
        return Status(304, None)
    rows = m.Party.objects.order_by("id")
    if kind is not None:
        rows = rows.filter(kind=kind)
    if after is not None:
        rows = rows.filter(id__gt=after)
    shown, next_path = page(request, list(rows[: limit + 1]), limit, lambda r: r.id)
    return {"items": [_party(r) for r in shown], "next": next_path}


@router.get("/parties/{party}", response=responses(PartyOut), tags=["read"], summary="One party")
def party(request: HttpRequest, response: HttpResponse, party: IdPath) -> Any:
    if conditional.not_modified(request, response, conditional.log_marker()):
        return Status(304, None)
    return _party(get_or_404(m.Party, party, "party"))


# -- documents ----------------------------------------------------------------------------------


def _document(row: m.Document) -> dict[str, Any]:
    return {
        "symbol": row.symbol,
        "letter": row.letter_id,
        "kind": row.kind,
        "of": row.of,
        "number": row.number,
        "series": row.series,
        "session": row.session_id,
        "version": row.version,
        "note": row.note,
        "issued_at": format_time(row.issued_at),
        "cancelled_at": format_time(row.cancelled_at) if row.cancelled_at else None,
    }


@router.get(
    "/documents", response=responses(DocumentPage), tags=["read"], summary="Official documents"
)
def documents(
    request: HttpRequest,
    response: HttpResponse,
    symbol: Annotated[
        str | None, Query(pattern=SYMBOL_PATTERN, description="only the document with this symbol")
    ] = None,
    of: Annotated[
        str | None,
        Query(pattern=SYMBOL_PATTERN, description="only the Add., Corr. and Rev. of this symbol"),
    ] = None,
    letter: FilterId = None,
    session: FilterId = None,
    after: Annotated[
        str | None, Query(pattern=SYMBOL_PATTERN, description="the symbol of the last item seen")
    ] = None,
    limit: Limit = DEFAULT_LIMIT,
) -> Any:
    """Registered letters and the documents that refer to them, by symbol."""
    if conditional.not_modified(request, response, conditional.log_marker()):
        return Status(304, None)
    rows = m.Document.objects.order_by("symbol")
    for field, value in (("symbol", symbol), ("of", of), ("letter_id", letter)):
        if value is not None:
            rows = rows.filter(**{field: value})
    if session is not None:
        rows = rows.filter(session_id=session)
    if after is not None:
        rows = rows.filter(symbol__gt=after)
    shown, next_path = page(request, list(rows[: limit + 1]), limit, lambda r: r.symbol)
    return {"items": [_document(r) for r in shown], "next": next_path}


@router.get(
    "/documents/{path:symbol}",
    response=responses(DocumentOut),
    tags=["read"],
    summary="One document, by symbol",
)
def document(
    request: HttpRequest,
    response: HttpResponse,
    symbol: Annotated[str, Path(pattern=SYMBOL_PATTERN, description="e.g. A/HRC/41/G/17")],
) -> Any:
    """The document with this symbol; slashes stay as they are (``/documents/A/HRC/41/G/17``),
    or use ``/documents?symbol=``."""
    if conditional.not_modified(request, response, conditional.log_marker()):
        return Status(304, None)
    return _document(get_or_404(m.Document, symbol, "document"))


# -- events --------------------------------------------------------------------------------------


@router.get(
    "/events", response=responses(LogEntryPage), tags=["read"], summary="Events, in log order"
)
def events(
    request: HttpRequest,
    response: HttpResponse,
    after: AfterIndex = None,
    limit: Limit = DEFAULT_LIMIT,
) -> Any:
    """The log's entries from the first (or the one after ``after``), decoded."""
    if conditional.not_modified(request, response, conditional.log_marker()):
        return Status(304, None)
    start = 0 if after is None else after + 1
    found = read_entries(start, start + limit + 1)
    rows = list(enumerate(found, start))
    shown, next_path = page(request, rows, limit, lambda r: r[0])
    return {"items": [entry_json(i, e) for i, e in shown], "next": next_path}


@router.get("/events/{index}", response=responses(LogEntryOut), tags=["read"], summary="One event")
def event(request: HttpRequest, response: HttpResponse, index: Index) -> Any:
    """The entry at ``index``: it never changes, so it may be cached for good."""
    entry = read_entry(index)
    if conditional.not_modified(request, response, f"e{index}", conditional.IMMUTABLE):
        return Status(304, None)
    return entry_json(index, entry)


def get_or_404(model: Any, key: str, what: str) -> Any:
    """The row of ``model`` with primary key ``key``; raises UnknownEntityError."""
    found = model.objects.filter(pk=key).first()
    if found is None:
        raise UnknownEntityError(f"no {what} {key!r}")
    return found
