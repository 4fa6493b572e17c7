"""Idempotent retries of the registrar's writes, by ``Idempotency-Key``
(draft-ietf-httpapi-idempotency-key-header).

Every registrar write names a key of the client's choosing. The first request with a
key is carried out and its response stored, in the same transaction as the event it
recorded; a retry with the same key and the same request gets that response again
(``Idempotent-Replayed: true``) and records nothing; the same key with another request
is refused (422 ``E_IDEMPOTENCY_KEY_REUSED``). Keys are per token and kept 24 hours. A
refused write stores nothing, so it can be retried with its key once fixed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Annotated

from django.db import transaction
from django.http import HttpRequest, HttpResponse
from ninja import Header

from cosignatory.web.api.auth import token_of
from cosignatory.web.api.entries import json_response, write_body
from cosignatory.web.api.errors import IdempotencyKeyReusedError
from cosignatory.web.api.models import IdempotencyRecord
from cosignatory.web.log.services import get_log
from cosignatory.web.register.services import Recorded

RETENTION = timedelta(hours=24)
HEADER = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"

IdempotencyKey = Annotated[
    str,
    Header(
        alias=HEADER,
        min_length=1,
        max_length=255,
        pattern=r"^[\x21-\x7e]+$",
        description="a key of your choosing, unique per write (e.g. a UUID); "
        "a retry with the same key and body returns the first response",
    ),
]


def _request_hash(request: HttpRequest) -> str:
    digest = hashlib.sha256()
    for part in (request.method or "", request.path):
        digest.update(part.encode() + b"\n")
    digest.update(request.body)
    return digest.hexdigest()


def once(request: HttpRequest, key: str, write: Callable[[], Recorded]) -> HttpResponse:
    """Carry out ``write`` once for ``key``; return its response, or the stored one.

    Raises IdempotencyKeyReusedError if ``key`` came with another request, and
    whatever ``write`` raises (nothing is then stored).
    """
    token = token_of(request)
    request_hash = _request_hash(request)
    with transaction.atomic():
        # The log's write lock first: two retries racing run one after the other.
        get_log().storage.lock()  # type: ignore[attr-defined]
        now = datetime.now(UTC)
        IdempotencyRecord.objects.filter(created_at__lt=now - RETENTION).delete()
        found = IdempotencyRecord.objects.filter(token=token, key=key).first()
        if found is not None:
            if found.request_hash != request_hash:
                raise IdempotencyKeyReusedError(
                    f"{HEADER} {key!r} was used for another request; use a new key"
                )
            response = json_response(found.status, bytes(found.body))
            response[REPLAYED] = "true"
            return response
        status, body = write_body(write())
        IdempotencyRecord.objects.create(
            token=token,
            key=key,
            request_hash=request_hash,
            status=status,
            body=body,
            created_at=now,
        )
    return json_response(status, body)
