"""Whole answers of the busiest public reads, kept for anonymous readers.

A letter being signed by thousands is also read by thousands: its page and its
signatory JSON would otherwise be rendered again for every reader (tens of queries,
templates, number and date formatting). :class:`PageCacheMiddleware` keeps the answer
of each such GET (by path, query and the reader's language), with the log's head it was
made at, in this process's memory:

- within ``COSIGNATORY_PAGE_CACHE_SECONDS`` (default 1) of being made, an answer is
  served as it is: a reader may see a page up to that long behind the log, the same
  promise a ``max-age=1`` front cache would make;
- after that, it is served only if the log's head (its signed checkpoint) is still the
  same: one indexed read instead of a render. The register changes only by appending to
  the log, so an unchanged head means an unchanged page. Otherwise it is made again, by
  one reader: readers who come while that one's page is being made are served the
  answer it replaces (so behind by at most the window plus one render), rather than
  each making the same page at the same time while signatures come in;
- Never kept longer than MAX_AGE seconds, so nothing that depends on the clock (today's
  date) stays behind.

Only what everyone sees the same is kept: GET requests without a session or message
cookie (a signed-in registrar sees other links) whose answer is a 200 that sets no
cookie. A HEAD is answered from a kept GET's answer (the server sends its headers
only), but its own answer is not kept. The paths are those of :data:`CACHED`;
everything else passes through.
"""

from __future__ import annotations

import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.core.signals import setting_changed
from django.http import HttpRequest, HttpResponse, HttpResponseBase

from cosignatory.web.log.services import get_log

CACHED = re.compile(r"^/(?:letters/[^/]+/|api/v1/letters/[^/]+(?:/signatories)?)$")
"""A letter's page, and its JSON and signatory list in the API."""
MAX_AGE = 60.0
MAX_BYTES = 64 * 1024 * 1024
"""Memory the cache may hold in one process; the least recently read answers go first."""


@dataclass
class _Answer:
    head: str
    made: float  # when it was rendered
    checked: float  # when its head was last found current
    headers: list[tuple[str, str]]
    content: bytes
    renewing: bool = False  # a reader is making it again

    def response(self) -> HttpResponse:
        answer = HttpResponse(self.content)  # only 200s are kept
        for name, value in self.headers:
            answer[name] = value
        return answer


class PageCache:
    """Answers by key, least recently read first out, at most ``max_bytes`` in all."""

    def __init__(self, max_bytes: int = MAX_BYTES) -> None:
        self.max_bytes = max_bytes
        self._answers: OrderedDict[tuple[str, ...], _Answer] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: tuple[str, ...]) -> _Answer | None:
        with self._lock:
            found = self._answers.get(key)
            if found is not None:
                self._answers.move_to_end(key)
            return found

    def put(self, key: tuple[str, ...], answer: _Answer) -> None:
        if len(answer.content) > self.max_bytes // 8:
            return  # one answer may not push out most of the others
        with self._lock:
            old = self._answers.pop(key, None)
            if old is not None:
                self._bytes -= len(old.content)
            self._answers[key] = answer
            self._bytes += len(answer.content)
            while self._bytes > self.max_bytes:
                _, gone = self._answers.popitem(last=False)
                self._bytes -= len(gone.content)

    def claim(self, answer: _Answer) -> bool:
        """Whether the caller is the one to make ``answer`` again (no other reader is)."""
        with self._lock:
            if answer.renewing:
                return False
            answer.renewing = True
            return True

    def clear(self) -> None:
        with self._lock:
            self._answers.clear()
            self._bytes = 0


cache = PageCache()
_clock: Callable[[], float] = time.monotonic


def _forget(**_: object) -> None:
    cache.clear()  # a changed setting (in tests) may change what a page shows


setting_changed.connect(_forget)


def _cacheable(request: HttpRequest) -> bool:
    if not settings.COSIGNATORY_PAGE_CACHE:
        return False
    if request.method not in ("GET", "HEAD") or not CACHED.match(request.path):
        return False
    allowed = {settings.LANGUAGE_COOKIE_NAME, settings.CSRF_COOKIE_NAME}
    return set(request.COOKIES) <= allowed and "If-None-Match" not in request.headers


def _head() -> str:
    head = get_log().storage.head()
    return "" if head is None else head.checkpoint


class PageCacheMiddleware:
    """Serve :data:`CACHED` paths from :data:`cache` for anonymous readers (placed after
    ``LocaleMiddleware``: the reader's language is part of the key)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        if not _cacheable(request):
            return self.get_response(request)
        language = getattr(request, "LANGUAGE_CODE", "")
        key = (request.path, request.META.get("QUERY_STRING", ""), language)
        now = _clock()
        found = cache.get(key)
        if found is not None and now - found.made < MAX_AGE:
            if now - found.checked < settings.COSIGNATORY_PAGE_CACHE_SECONDS:
                cache.hits += 1
                return found.response()
            head = _head()
            if head == found.head:
                found.checked = now
                cache.hits += 1
                return found.response()
            if not cache.claim(found):  # another reader is making it again
                cache.hits += 1
                return found.response()
            try:
                return self._make(request, key, head, now)
            finally:
                found.renewing = False  # whatever came of it (an error, a 404)
        return self._make(request, key, _head(), now)

    def _make(
        self, request: HttpRequest, key: tuple[str, ...], head: str, now: float
    ) -> HttpResponseBase:
        cache.misses += 1
        response = self.get_response(request)
        if (
            request.method == "GET"  # a HEAD is answered from a GET's answer, never kept
            and response.status_code == 200
            and isinstance(response, HttpResponse)
            and not response.cookies
            and not response.has_header("Set-Cookie")
        ):
            cache.put(key, _Answer(head, now, now, list(response.items()), response.content))
        return response
