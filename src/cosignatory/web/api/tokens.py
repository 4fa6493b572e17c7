"""API tokens: made, revoked and listed here (``cosignatory token``), checked on each request.

A token is ``cosi_`` and 43 random URL-safe characters (256 bits). Only its SHA-256 is
stored: a token of that entropy needs no slow hash, and a leaked table reveals no token.
A **registrar** token may do the registrar's operations; a **signatory** token acts for
one party (it may file a dispute against a signature naming that party).
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta

from django.db import IntegrityError, transaction

from cosignatory.core.errors import DuplicateEntityError, InvalidEventError, UnknownEntityError
from cosignatory.core.events import check_id
from cosignatory.web.api.errors import RequestInvalidError
from cosignatory.web.api.models import ApiToken
from cosignatory.web.register import models as register

PREFIX = "cosi_"
ROLES = tuple(ApiToken.Role.values)
_LAST_USED_PRECISION = timedelta(minutes=1)  # one write a minute per token, not one a request


def token_hash(token: str) -> str:
    """The lowercase hex SHA-256 under which ``token`` is stored."""
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(name: str, role: str, party: str | None = None) -> tuple[ApiToken, str]:
    """Make a token; return its row and the token itself (shown once, never stored).

    Raises RequestInvalidError for a bad name, role or party argument,
    UnknownEntityError for a party not in the register and DuplicateEntityError
    for a name in use (revoked tokens keep their names).
    """
    try:
        check_id(name, "token name")
    except InvalidEventError as error:
        raise RequestInvalidError(str(error)) from None
    if role not in ROLES:
        raise RequestInvalidError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    if role == ApiToken.Role.SIGNATORY:
        if not party:
            raise RequestInvalidError("a signatory token acts for a party: give its identifier")
        if not register.Party.objects.filter(pk=party).exists():
            raise UnknownEntityError(f"no party {party!r}")
    elif party:
        raise RequestInvalidError("a registrar token acts for no party")
    secret = PREFIX + secrets.token_urlsafe(32)
    try:
        with transaction.atomic():
            row = ApiToken.objects.create(
                name=name,
                token_hash=token_hash(secret),
                role=role,
                party=party or None,
                created_at=datetime.now(UTC),
            )
    except IntegrityError:
        raise DuplicateEntityError(f"a token named {name!r} exists already") from None
    return row, secret


def revoke_token(name: str) -> ApiToken:
    """Revoke the token ``name`` from now on; revoking it again changes nothing.

    Raises UnknownEntityError if there is no such token.
    """
    with transaction.atomic():
        row = ApiToken.objects.select_for_update().filter(name=name).first()
        if row is None:
            raise UnknownEntityError(f"no token named {name!r}")
        if row.revoked_at is None:
            row.revoked_at = datetime.now(UTC)
            row.save(update_fields=["revoked_at"])
    return row


def list_tokens() -> list[ApiToken]:
    """Every token, revoked ones included, by name."""
    return list(ApiToken.objects.order_by("name"))


def authenticate(secret: str) -> ApiToken | None:
    """Return the live token ``secret`` is, or None (unknown or revoked).

    Records when it was last used, to the minute.
    """
    if not secret.startswith(PREFIX) or len(secret) > 200:
        return None
    row = ApiToken.objects.filter(token_hash=token_hash(secret), revoked_at__isnull=True).first()
    if row is None:
        return None
    now = datetime.now(UTC)
    if row.last_used_at is None or now - row.last_used_at >= _LAST_USED_PRECISION:
        ApiToken.objects.filter(pk=row.pk).update(last_used_at=now)
        row.last_used_at = now
    return row
