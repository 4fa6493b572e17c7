"""Refuse sign-in for a username after too many wrong passwords (kept in Django's cache).

After :data:`MAX_FAILURES` failed attempts for one username within :data:`WINDOW`,
every attempt for it is refused for :data:`WINDOW`, right password or not. The counts
live in the cache (``CACHES['default']``): with several server processes it must be a
shared cache (database, Redis, Memcached) for the limit to hold across them.
"""

from __future__ import annotations

import hashlib
import time

from django.core.cache import cache

MAX_FAILURES = 5
WINDOW = 15 * 60  # seconds: both the counting window and the lock's length


def _key(kind: str, username: str) -> str:
    # Hashed: usernames may hold characters a cache backend refuses in keys.
    digest = hashlib.sha256(username.strip().casefold().encode()).hexdigest()[:32]
    return f"cosignatory:login:{kind}:{digest}"


def locked_until(username: str) -> float | None:
    """Return when the lock on ``username`` ends (a Unix time), or None if it is not locked."""
    until = cache.get(_key("lock", username))
    if until is None or until <= time.time():
        return None
    return float(until)


def record_failure(username: str) -> bool:
    """Count a failed attempt for ``username``; return True if that locks it."""
    now = time.time()
    key = _key("failures", username)
    recent = [t for t in cache.get(key, []) if t > now - WINDOW]
    recent.append(now)
    cache.set(key, recent, WINDOW)
    if len(recent) >= MAX_FAILURES:
        cache.set(_key("lock", username), now + WINDOW, WINDOW)
        cache.delete(key)
        return True
    return False


def clear(username: str) -> None:
    """Forget the failed attempts of ``username`` (after a successful sign-in)."""
    cache.delete_many([_key("failures", username), _key("lock", username)])
