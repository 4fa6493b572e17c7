"""The API's own errors: refusals of a request before any service judges it.

The tree (each derives from :class:`cosignatory.errors.CosignatoryError`)::

    ApiError                          E_API
    ├── RequestInvalidError           E_REQUEST_INVALID   (parameters or body break the schema)
    ├── BodyMalformedError            E_BODY_MALFORMED    (the body is not JSON)
    ├── AuthenticationRequiredError   E_AUTH_REQUIRED     (no token, or not a valid one)
    ├── ForbiddenError                E_FORBIDDEN         (the token's role may not do this)
    ├── MethodNotAllowedError         E_METHOD_NOT_ALLOWED
    ├── RequestTooLargeError          E_TOO_LARGE
    ├── RateLimitedError              E_RATE_LIMITED
    ├── IdempotencyKeyReusedError     E_IDEMPOTENCY_KEY_REUSED (same key, different request)
    └── InternalError                 E_INTERNAL          (a bug: logged, never detailed)

:mod:`.problems` maps these and the register's and the log's errors to HTTP statuses.
"""

from __future__ import annotations

from cosignatory.errors import CosignatoryError


class ApiError(CosignatoryError):
    code = "E_API"


class RequestInvalidError(ApiError):
    code = "E_REQUEST_INVALID"


class BodyMalformedError(ApiError):
    code = "E_BODY_MALFORMED"


class AuthenticationRequiredError(ApiError):
    code = "E_AUTH_REQUIRED"


class ForbiddenError(ApiError):
    code = "E_FORBIDDEN"


class MethodNotAllowedError(ApiError):
    code = "E_METHOD_NOT_ALLOWED"


class RequestTooLargeError(ApiError):
    code = "E_TOO_LARGE"


class RateLimitedError(ApiError):
    code = "E_RATE_LIMITED"


class IdempotencyKeyReusedError(ApiError):
    code = "E_IDEMPOTENCY_KEY_REUSED"


class InternalError(ApiError):
    code = "E_INTERNAL"
