"""Signed statements: a representative's own signature, accession or withdrawal.

No token: the statement's Ed25519 signature, by a key registered for the
representative, is the authentication. Submitting the same fact again changes
nothing and answers 200 with the event recorded first (201 when new).
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Status

from cosignatory.core.statements import SignedStatement
from cosignatory.web.api.entries import write_result
from cosignatory.web.api.limits import WriteThrottle
from cosignatory.web.api.routes import router
from cosignatory.web.api.schemas import Problem, SignedStatementIn, WriteResult
from cosignatory.web.register import services


@router.post(
    "/statements",
    response={
        200: WriteResult,
        201: WriteResult,
        **{status: Problem for status in (400, 404, 405, 409, 413, 422, 429)},
    },
    throttle=WriteThrottle(),
    tags=["signatories"],
    summary="Submit a signed statement (sign, accede or withdraw)",
)
def submit_statement(request: HttpRequest, body: SignedStatementIn) -> Status[Any]:
    """Record a self-signed signature, accession or withdrawal.

    The body is a statement file as ``cosignatory sign`` writes it. The register checks
    that the key is the representative's, valid and not revoked, that they hold a
    current mandate for the party, and that the statement names the letter's text
    version exactly.
    """
    signed = SignedStatement.from_json(body.model_dump())
    recorded = services.submit_statement(signed)
    return Status(201 if recorded.new else 200, write_result(recorded))
