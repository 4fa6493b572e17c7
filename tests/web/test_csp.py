"""The Content Security Policy header: built once, and still what django-csp would set."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from csp.constants import HEADER, HEADER_REPORT_ONLY, NONCE
from csp.exceptions import CSPNonceError
from csp.middleware import CSPMiddleware as LibraryCSPMiddleware
from django.http import HttpRequest, HttpResponse
from django.test import Client, RequestFactory, override_settings

from cosignatory.web.csp import CSPMiddleware

POLICY = {"DIRECTIVES": {"default-src": ["'self'"], "img-src": ["'self'", "data:"]}}
OTHER = {"DIRECTIVES": {"default-src": ["'none'"]}, "EXCLUDE_URL_PREFIXES": ["/log/"]}


def answer(
    middleware: type[LibraryCSPMiddleware],
    path: str = "/letters/",
    view: Callable[[HttpRequest], HttpResponse] = lambda request: HttpResponse("page"),
    status: int = 200,
) -> tuple[HttpRequest, HttpResponse]:
    request = RequestFactory().get(path)

    def respond(request: HttpRequest) -> HttpResponse:
        response = view(request)
        response.status_code = status
        return response

    response = middleware(respond)(request)
    assert isinstance(response, HttpResponse)
    return request, response


def headers(response: HttpResponse) -> dict[str, str]:
    return {name: response[name] for name in (HEADER, HEADER_REPORT_ONLY) if name in response}


def both(**kwargs: Any) -> tuple[dict[str, str], dict[str, str]]:
    """The headers our middleware sets, and those django-csp's own sets."""
    return (
        headers(answer(CSPMiddleware, **kwargs)[1]),
        headers(answer(LibraryCSPMiddleware, **kwargs)[1]),
    )


def test_the_site_sends_the_librarys_header(log: Any) -> None:
    ours, library = both()
    assert ours == library and "frame-ancestors 'none'" in ours[HEADER]
    page = Client(HTTP_HOST="localhost").get("/log/vkey")
    assert page.status_code == 200 and page[HEADER] == ours[HEADER]


def test_a_change_of_settings_is_followed() -> None:
    before = both()[0]
    with override_settings(CONTENT_SECURITY_POLICY=POLICY):
        ours, library = both()
        assert ours == library
        assert sorted(ours[HEADER].split("; ")) == ["default-src 'self'", "img-src 'self' data:"]
    with override_settings(
        CONTENT_SECURITY_POLICY=OTHER, CONTENT_SECURITY_POLICY_REPORT_ONLY=POLICY
    ):
        ours, library = both()
        assert ours == library and set(ours) == {HEADER, HEADER_REPORT_ONLY}
        # Excluded from the policy, not from the report-only one.
        ours, library = both(path="/log/checkpoint")
        assert ours == library and set(ours) == {HEADER_REPORT_ONLY}
    assert both()[0] == before


def test_a_response_with_its_own_policy_or_a_nonce_gets_the_librarys() -> None:
    def updated(request: HttpRequest) -> HttpResponse:
        response = HttpResponse("page")
        response._csp_update = {"img-src": ["https://example.org"]}  # type: ignore[attr-defined]
        return response

    def nonced(request: HttpRequest) -> HttpResponse:
        return HttpResponse(str(request.csp_nonce))  # type: ignore[attr-defined]

    ours = answer(CSPMiddleware, view=updated)[1]
    assert "https://example.org" in ours[HEADER]
    assert headers(ours) == headers(answer(LibraryCSPMiddleware, view=updated)[1])
    with override_settings(
        CONTENT_SECURITY_POLICY={"DIRECTIVES": {"script-src": ["'self'", NONCE]}}
    ):
        _, response = answer(CSPMiddleware, view=nonced)
        assert f"script-src 'self' 'nonce-{response.content.decode()}'" in response[HEADER]


def test_exemptions_and_debug_pages_as_the_library() -> None:
    def exempt(request: HttpRequest) -> HttpResponse:
        response = HttpResponse("page")
        response._csp_exempt = True  # type: ignore[attr-defined]
        return response

    def preset(request: HttpRequest) -> HttpResponse:
        response = HttpResponse("page")
        response[HEADER] = "default-src *"
        return response

    for kwargs in ({"view": exempt}, {"view": preset}, {"status": 404}):
        ours, library = both(**kwargs)
        assert ours == library, kwargs
    with override_settings(DEBUG=True):
        assert both(status=404) == ({}, {})
        assert HEADER in both(status=200)[0]


def test_a_nonce_asked_for_after_the_header_is_refused() -> None:
    request, _ = answer(CSPMiddleware)
    with pytest.raises(CSPNonceError):
        str(request.csp_nonce)  # type: ignore[attr-defined]
