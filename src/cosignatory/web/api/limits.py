"""Limits on writes: a rate per client and a size per request.

The rate is a fixed window: at most ``COSIGNATORY_API_WRITES_PER_MINUTE`` writes per
client per clock minute, counted in Django's cache. A client is its token, or its IP
address when it sends none (signed statements). With the default cache
(``LocMemCache``) each server process counts on its own, so N processes allow N times
the rate; a shared cache (e.g. Redis or Memcached in ``CACHES``) makes it exact.
"""

from __future__ import annotations

import time

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest
from ninja.throttling import BaseThrottle

from cosignatory.web.api.errors import RequestInvalidError, RequestTooLargeError

WINDOW_SECONDS = 60
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def client_of(request: HttpRequest) -> str:
    """Who is counted: the token, else the address the connection came from.

    ``X-Forwarded-For`` is not trusted: behind a proxy, set ``REMOTE_ADDR`` from it there.
    """
    token = getattr(request, "auth", None)
    if token is not None and getattr(token, "pk", None) is not None:
        return f"token:{token.pk}"
    return f"ip:{request.META.get('REMOTE_ADDR', '')}"


class WriteThrottle(BaseThrottle):
    """At most ``COSIGNATORY_API_WRITES_PER_MINUTE`` writes per client per clock minute."""

    def allow_request(self, request: HttpRequest) -> bool:
        limit = int(settings.COSIGNATORY_API_WRITES_PER_MINUTE)
        if limit <= 0:
            return True
        window = int(time.time() // WINDOW_SECONDS)
        key = f"cosignatory:api-writes:{client_of(request)}:{window}"
        cache.add(key, 0, timeout=2 * WINDOW_SECONDS)
        try:
            count = cache.incr(key)
        except ValueError:  # evicted between add and incr
            cache.set(key, 1, timeout=2 * WINDOW_SECONDS)
            count = 1
        return count <= limit

    def wait(self) -> float:
        """Seconds until the current window ends."""
        return WINDOW_SECONDS - time.time() % WINDOW_SECONDS


def check_body_size(request: HttpRequest) -> None:
    """Refuse a request whose declared body is over ``COSIGNATORY_API_MAX_BODY_BYTES``,
    before anything reads it.

    Raises RequestTooLargeError, or RequestInvalidError for a malformed Content-Length.
    """
    if request.method not in _BODY_METHODS:
        return
    declared = request.META.get("CONTENT_LENGTH") or "0"
    try:
        length = int(declared)
    except ValueError:
        length = -1
    if length < 0:
        raise RequestInvalidError("Content-Length is not a number")
    limit = int(settings.COSIGNATORY_API_MAX_BODY_BYTES)
    if length > limit:
        raise RequestTooLargeError(f"the body is {length} bytes; the limit is {limit}")
