"""The Content Security Policy header, built once rather than on every response.

django-csp's middleware builds the header's text from the settings on every response:
a deep copy of the policy and two builds (the policy and the report-only policy), about
a quarter of what serving a log tile costs. No view of ours changes the policy or asks
for a nonce, so every response gets the same text: :class:`CSPMiddleware` has the
library build it once, and again only when the settings change (as tests change them).
A response that does ask for its own policy or a nonce still goes through the library.
"""

from __future__ import annotations

import functools
import http
from typing import Any

from csp.constants import HEADER, HEADER_REPORT_ONLY
from csp.middleware import CheckableLazyObject
from csp.middleware import CSPMiddleware as LibraryCSPMiddleware
from csp.utils import build_policy
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.http import HttpRequest
from django.http.response import HttpResponseBase

# What a view sets on its response to change the policy (csp.decorators).
_PER_RESPONSE = (
    "_csp_config",
    "_csp_update",
    "_csp_replace",
    "_csp_config_ro",
    "_csp_update_ro",
    "_csp_replace_ro",
)
_DEBUG_PAGES = (http.HTTPStatus.INTERNAL_SERVER_ERROR, http.HTTPStatus.NOT_FOUND)


@functools.cache
def _headers() -> tuple[tuple[str, str, str, tuple[str, ...]], ...]:
    """Each header to set: its name, its text, the response attribute that exempts a
    response from it, and the path prefixes it is not set under."""
    found = []
    for name, text, exempt, setting in (
        (HEADER, build_policy(), "_csp_exempt", "CONTENT_SECURITY_POLICY"),
        (
            HEADER_REPORT_ONLY,
            build_policy(report_only=True),
            "_csp_exempt_ro",
            "CONTENT_SECURITY_POLICY_REPORT_ONLY",
        ),
    ):
        if text:
            policy = getattr(settings, setting, None) or {}
            found.append((name, text, exempt, tuple(policy.get("EXCLUDE_URL_PREFIXES") or ())))
    return tuple(found)


@receiver(setting_changed)
def _forget(*, setting: str, **kwargs: Any) -> None:
    if setting.startswith("CONTENT_SECURITY_POLICY"):
        _headers.cache_clear()


class CSPMiddleware(LibraryCSPMiddleware):
    """django-csp's middleware, with the header's text built once (see the module)."""

    def process_response(
        self, request: HttpRequest, response: HttpResponseBase
    ) -> HttpResponseBase:
        if getattr(request, "_csp_nonce", None) is not None or any(
            getattr(response, name, None) is not None for name in _PER_RESPONSE
        ):
            return super().process_response(request, response)
        # From here on, what the library's process_response does, with the texts kept.
        if response.status_code in _DEBUG_PAGES and settings.DEBUG:
            return response
        for name, text, exempt, excluded in _headers():
            if (
                name not in response
                and getattr(response, exempt, False) is False
                and not request.path_info.startswith(excluded)
            ):
                response[name] = text
        # A nonce asked for after the header is written would not be in it.
        request.csp_nonce = CheckableLazyObject(self._csp_nonce_post_response)  # type: ignore[attr-defined]
        return response
