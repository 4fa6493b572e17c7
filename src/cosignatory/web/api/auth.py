"""Bearer tokens (RFC 6750) scoped to a role.

``Authorization: Bearer <token>`` authenticates; the operation's role authorises. No
token, an unknown one or a revoked one: 401 ``E_AUTH_REQUIRED``. A live token whose
role may not do the operation: 403 ``E_FORBIDDEN``.
"""

from __future__ import annotations

from django.http import HttpRequest
from ninja.security import HttpBearer

from cosignatory.web.api import tokens
from cosignatory.web.api.errors import ForbiddenError
from cosignatory.web.api.models import ApiToken


class TokenAuth(HttpBearer):
    """A bearer token with one of ``roles``."""

    def __init__(self, *roles: str) -> None:
        super().__init__()
        self.roles = frozenset(roles)

    def authenticate(self, request: HttpRequest, token: str) -> ApiToken | None:
        found = tokens.authenticate(token)
        if found is None:
            return None
        if found.role not in self.roles:
            raise ForbiddenError(f"a {found.role} token may not do this")
        return found


registrar = TokenAuth(ApiToken.Role.REGISTRAR)
"""The registrar's operations."""

registrar_or_signatory = TokenAuth(ApiToken.Role.REGISTRAR, ApiToken.Role.SIGNATORY)
"""Operations a signatory may do for its own party (the view checks the party)."""


def token_of(request: HttpRequest) -> ApiToken:
    """The token the request was authenticated with."""
    found = getattr(request, "auth", None)
    assert isinstance(found, ApiToken)
    return found
