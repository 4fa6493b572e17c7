"""Errors as RFC 9457 problem documents: the one place that maps codes to HTTP statuses.

Every refusal the API sends is ``application/problem+json``::

    {"type": "http://host/api/v1/problems/E_LETTER_CLOSED", "title": "...",
     "status": 409, "detail": "...", "code": "E_LETTER_CLOSED", "instance": "/api/v1/..."}

``code`` is the stable code of the error raised, the same the CLI prints; ``type``
resolves to a description of that code (``GET /api/v1/problems/{code}``). The table
below is also what docs/api.md lists, and a test holds the two together.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import reverse
from ninja import NinjaAPI
from ninja.errors import (
    AuthenticationError,
    AuthorizationError,
    HttpError,
    Throttled,
    ValidationError,
)

from cosignatory.core import errors as core
from cosignatory.core.limits import LimitError
from cosignatory.core.names import ConfusableNameError, NameCharacterError
from cosignatory.core.states import UnknownStateError
from cosignatory.errors import CosignatoryError
from cosignatory.tlog import errors as tlog
from cosignatory.web.api import errors as api
from cosignatory.web.register.sequencer import NotAnsweredError

MEDIA_TYPE = "application/problem+json"
logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ProblemType:
    """What a stable error code means over HTTP."""

    code: str
    status: int
    title: str


_TABLE: tuple[tuple[type[CosignatoryError], int, str], ...] = (
    # The request itself.
    (api.BodyMalformedError, 400, "The request body is not JSON"),
    (api.AuthenticationRequiredError, 401, "A valid bearer token is required"),
    (api.ForbiddenError, 403, "The token's role may not do this"),
    (core.UnknownEntityError, 404, "Not found"),
    (api.MethodNotAllowedError, 405, "Method not allowed"),
    (api.RequestTooLargeError, 413, "The request body is too large"),
    (api.RequestInvalidError, 422, "The request does not match the API's schema"),
    (api.IdempotencyKeyReusedError, 422, "The idempotency key was used for another request"),
    (api.RateLimitedError, 429, "Too many writes; retry after the time given"),
    # The register's state forbids it now (it may not later): 409 Conflict.
    (core.DuplicateEntityError, 409, "It exists already"),
    (core.LifecycleError, 409, "The letter's state does not allow this step"),
    (core.LetterClosedError, 409, "The letter is not open for signature"),
    (core.NotTransmittedError, 409, "The letter has not been transmitted"),
    (core.AccessionsClosedError, 409, "The letter is closed for accessions"),
    (core.AlreadySignedError, 409, "The party has signed this version already"),
    (core.NotSignedError, 409, "There is no signature to withdraw"),
    (core.TextVersionError, 409, "Not the text version that can be signed"),
    (core.SymbolError, 409, "The symbol is out of sequence or used"),
    (core.ClockError, 409, "The event is dated before the one before it"),
    (ConfusableNameError, 409, "The name looks like a registered one: confirm it"),
    # What was sent can never be recorded: 422 Unprocessable Content.
    (core.InvalidEventError, 422, "A field is malformed"),
    (LimitError, 422, "A field is over one of the register's limits"),
    (NameCharacterError, 422, "A name holds an invisible or text-direction character"),
    (core.WrongPartyError, 422, "The representative acts for another party"),
    (core.KeyRevokedError, 422, "The key was revoked"),
    (core.KeyExpiredError, 422, "The key is not valid at that time"),
    (core.MandateError, 422, "The representative holds no current mandate for the party"),
    (core.StatementError, 422, "The signed statement is malformed or does not match"),
    (core.EvidenceError, 422, "The evidence is missing or wrong"),
    (tlog.SignatureInvalidError, 422, "The signature does not verify"),
    (tlog.MalformedKeyError, 422, "The key is malformed"),
    (UnknownStateError, 422, "No UN member or observer state has this code"),
    (core.RegisterError, 422, "The register's rules refuse this"),
    (tlog.EntryTooLargeError, 413, "The event is too large for the log"),
    (tlog.ProofRangeError, 404, "Not in the log"),
    # Any other deliberate refusal is about what was sent.
    (CosignatoryError, 422, "Refused"),
    # The server's own faults.
    (tlog.TlogError, 500, "The log failed"),
    (api.InternalError, 500, "Internal error"),
    (NotAnsweredError, 503, "Not recorded in time; send the same request again"),
)

_BY_CLASS: dict[type[CosignatoryError], ProblemType] = {
    cls: ProblemType(cls.code, status, title) for cls, status, title in _TABLE
}
PROBLEM_TYPES: dict[str, ProblemType] = {
    problem.code: problem for problem in sorted(_BY_CLASS.values(), key=lambda p: p.code)
}
"""Every code the API can answer with, by code."""


def problem_type(error: CosignatoryError) -> ProblemType:
    """Return the HTTP meaning of ``error``: its class's, else its nearest base's."""
    for cls in type(error).__mro__:
        found = _BY_CLASS.get(cls)
        if found is not None:
            # A subclass with a code of its own keeps it, with its base's status.
            return found if found.code == error.code else replace(found, code=error.code)
    raise AssertionError("CosignatoryError is in the table")  # pragma: no cover


def problem(
    request: HttpRequest,
    error: CosignatoryError,
    *,
    errors: Sequence[Mapping[str, Any]] | None = None,
    headers: Mapping[str, str] | None = None,
) -> HttpResponse:
    """Return the problem+json response for ``error``."""
    kind = problem_type(error)
    body: dict[str, Any] = {
        "type": request.build_absolute_uri(reverse("api-v1:problem", args=[kind.code])),
        "title": kind.title,
        "status": kind.status,
        "detail": str(error),
        "code": kind.code,
        "instance": request.path,
    }
    if errors is not None:
        body["errors"] = list(errors)
    response = HttpResponse(
        json.dumps(body, ensure_ascii=False, separators=(",", ":")),
        status=kind.status,
        content_type=MEDIA_TYPE,
    )
    for name, value in (headers or {}).items():
        response[name] = value
    return response


# -- ninja's exceptions, as problems ----------------------------------------------------


def install(ninja_api: NinjaAPI) -> None:
    """Make every exception a view raises a problem response."""
    ninja_api.add_exception_handler(CosignatoryError, _cosignatory_error)
    ninja_api.add_exception_handler(ValidationError, _validation_error)
    ninja_api.add_exception_handler(HttpError, _http_error)
    ninja_api.add_exception_handler(Http404, _not_found)
    ninja_api.add_exception_handler(RequestDataTooBig, _too_large)
    ninja_api.add_exception_handler(Exception, _unexpected)


def _cosignatory_error(request: HttpRequest, error: Any) -> HttpResponse:
    assert isinstance(error, CosignatoryError)
    if isinstance(error, NotAnsweredError):
        return problem(request, error, headers={"Retry-After": "1"})
    return problem(request, error)


def _validation_error(request: HttpRequest, error: Any) -> HttpResponse:
    assert isinstance(error, ValidationError)
    details = [
        {
            "loc": [str(part) for part in item.get("loc", ())],
            "msg": str(item.get("msg", "")),
            "type": str(item.get("type", "")),
        }
        for item in error.errors
    ]
    where = "; ".join(f"{'.'.join(d['loc'])}: {d['msg']}" for d in details[:5])
    return problem(request, api.RequestInvalidError(where or "invalid request"), errors=details)


def _http_error(request: HttpRequest, error: Any) -> HttpResponse:
    assert isinstance(error, HttpError)
    if isinstance(error, AuthenticationError):
        return problem(
            request,
            api.AuthenticationRequiredError("send Authorization: Bearer <token>"),
            headers={"WWW-Authenticate": 'Bearer realm="cosignatory"'},
        )
    if isinstance(error, AuthorizationError):
        return problem(request, api.ForbiddenError(error.message))
    if isinstance(error, Throttled):
        return problem(request, api.RateLimitedError("too many writes from this client"))
    cause = error.__cause__
    if isinstance(cause, CosignatoryError):  # raised by our body parser
        return problem(request, cause)
    if error.status_code == 400:  # ninja could not parse the body
        return problem(request, api.BodyMalformedError("the request body is not valid JSON"))
    return problem(request, api.InternalError(f"unexpected HTTP error {error.status_code}"))


def _not_found(request: HttpRequest, error: Any) -> HttpResponse:
    return problem(request, core.UnknownEntityError("not found"))


def _too_large(request: HttpRequest, error: Any) -> HttpResponse:
    return problem(request, api.RequestTooLargeError("the request body is too large"))


def _unexpected(request: HttpRequest, error: Any) -> HttpResponse:
    logger.exception("API request %s %s failed", request.method, request.path, exc_info=error)
    return problem(request, api.InternalError("an internal error occurred; it was logged"))
