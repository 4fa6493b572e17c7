"""Signed statements: a representative's own signature, accession or withdrawal.

No token: the statement's Ed25519 signature, by a key registered for the
representative, is the authentication. Submitting the same fact again changes
nothing and answers 200 with the event recorded first (201 when new).

``POST /statements/batch`` takes up to MAX_BATCH statements at once, all or none
(:mod:`cosignatory.web.register.statement_intake`), with a registrar token: the
statements still authenticate themselves, but one request costs the server hundreds of
signature checks, so bulk intake is the registrar's (an organiser forwarding statements
collected offline).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from django.http import HttpRequest, HttpResponse
from ninja import Body, Field, Status
from pydantic import BaseModel

from cosignatory.core.statements import SignedStatement
from cosignatory.errors import CosignatoryError
from cosignatory.web.api import auth
from cosignatory.web.api.entries import write_response
from cosignatory.web.api.errors import RequestInvalidError
from cosignatory.web.api.limits import WriteThrottle
from cosignatory.web.api.problems import problem
from cosignatory.web.api.routes import router
from cosignatory.web.api.schemas import Problem, SignedStatementIn, WriteResult
from cosignatory.web.register import services
from cosignatory.web.register import statement_intake as si


@router.post(
    "/statements",
    response={
        200: WriteResult,
        201: WriteResult,
        **{status: Problem for status in (400, 404, 405, 409, 413, 422, 429, 503)},
    },
    throttle=WriteThrottle(),
    tags=["signatories"],
    summary="Submit a signed statement (sign, accede or withdraw)",
)
def submit_statement(request: HttpRequest, body: SignedStatementIn) -> HttpResponse:
    """Record a self-signed signature, accession or withdrawal.

    The body is a statement file as ``cosignatory sign`` writes it. The register checks
    that the key is the representative's, valid and not revoked, that they hold a
    current mandate for the party, and that the statement names the letter's text
    version exactly.
    """
    signed = SignedStatement.from_json(body.model_dump())
    return write_response(services.submit_statement(signed))


# -- many at once -----------------------------------------------------------------------

MAX_BATCH = 250
"""Statements per batch request: about 650 bytes each, well within the body limit."""


# Plain pydantic models, as for the request bodies (schemas._SignedIn): built from dicts, they
# need none of django-ninja's attribute reading around each of up to 250 items.
class BatchItemOut(BaseModel):
    """What one statement of a batch did: ``outcome`` is ``new`` (a signature or an
    accession), ``withdrawal``, or ``unchanged`` (recorded already: ``log_index`` and
    ``signature`` are those of the first record)."""

    position: int = Field(description="the statement's index in the request, from 0")
    outcome: str = Field(pattern="^(new|withdrawal|unchanged)$")
    letter: str
    party: str
    action: str
    signature: str | None = Field(description="the signature (or withdrawal) recorded")
    log_index: int


class BatchResult(BaseModel):
    """What a batch recorded: every statement's outcome, in the request's order."""

    recorded: int = Field(description="events appended (one checkpoint for all)")
    unchanged: int
    log_size: int
    items: list[BatchItemOut]


BatchIn = Annotated[list[SignedStatementIn], Body(min_length=1, max_length=MAX_BATCH)]


@router.post(
    "/statements/batch",
    response={
        200: BatchResult,
        201: BatchResult,
        **{status: Problem for status in (400, 401, 403, 404, 405, 409, 413, 422, 429)},
    },
    auth=auth.registrar,
    throttle=WriteThrottle(),
    tags=["signatories"],
    summary="Submit many signed statements at once, all or none (registrar)",
)
def submit_statement_batch(request: HttpRequest, body: BatchIn) -> Any:
    """Record up to 250 self-signed statements in one transaction and one log append.

    Each statement is judged exactly as ``POST /statements`` judges it, in the order
    given. If any is refused, nothing is recorded: the problem's ``code`` is the first
    refused statement's and ``errors`` lists every refused one (``loc``: ``["body",
    position]``, ``type``: its code). Statements recorded already are ``unchanged``, so
    sending the same batch again is safe and answers 200 with the same log indexes
    (201 when anything is new). A registrar token is required: one request makes the
    server verify up to 250 signatures.
    """
    parsed: list[tuple[int, SignedStatement]] = []
    errors: list[si.ItemError] = []
    for position, item in enumerate(body):
        found = si.parse_item(position, item.model_dump())
        if isinstance(found, si.ItemError):
            errors.append(found)
        else:
            parsed.append((position, found))
    if errors:  # every statement is still judged, so that every refusal is listed
        return _refused(request, si.plan_statements(parsed, errors).errors)
    applied = si.plan_and_apply(parsed)
    if isinstance(applied, tuple):
        return _refused(request, applied)
    items = [
        {
            "position": row.position,
            "outcome": row.outcome,
            "letter": row.letter,
            "party": row.party,
            "action": row.action,
            "signature": row.signature,
            "log_index": row.log_index,
        }
        for row in applied.rows
    ]
    result = {
        "recorded": applied.recorded,
        "unchanged": applied.unchanged,
        "log_size": applied.log_size,
        "items": items,
    }
    return Status(201 if applied.recorded else 200, result)


def _refused(request: HttpRequest, errors: Sequence[si.ItemError]) -> HttpResponse:
    """The problem for a refused batch: the first refused statement's error, with every
    refused statement listed."""
    first = errors[0]
    count = len(errors)
    detail = (
        f"statement {first.position}: {first.reason}; {count} statement"
        f"{'s' if count > 1 else ''} refused, nothing was recorded"
    )
    error: CosignatoryError = RequestInvalidError(detail)
    if first.error is not None:
        try:
            error = type(first.error)(detail)
        except TypeError:  # an error class that takes other arguments
            error = first.error
    listed = [{"loc": ["body", str(e.position)], "msg": e.reason, "type": e.code} for e in errors]
    return problem(request, error, errors=listed)
