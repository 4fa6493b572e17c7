"""``/api/v1/``: the public contract of DESIGN.md, described by ``/api/v1/openapi.json``.

Around ninja's views: a body over the size limit is refused before anything reads it,
HEAD is answered as GET without a body, an unsupported method and an unknown path
are problem documents too (405 with ``Allow``, 404).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.http.response import HttpResponseBase
from django.urls import URLPattern, URLResolver, re_path
from django.views.decorators.http import require_safe

from cosignatory.core.errors import UnknownEntityError
from cosignatory.errors import CosignatoryError
from cosignatory.web.api.api import api
from cosignatory.web.api.errors import MethodNotAllowedError
from cosignatory.web.api.limits import check_body_size
from cosignatory.web.api.problems import problem

View = Callable[..., HttpResponseBase]


def _guarded(view: View) -> View:
    def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        try:
            check_body_size(request)
        except CosignatoryError as error:
            return problem(request, error)
        method = request.method
        if method == "HEAD":
            request.method = "GET"
        try:
            response = view(request, *args, **kwargs)
        finally:
            request.method = method
        if isinstance(response, HttpResponseNotAllowed):
            methods = {method.strip() for method in response["Allow"].split(",")}
            if "GET" in methods:
                methods.add("HEAD")
            allowed = ", ".join(sorted(methods))
            return problem(
                request,
                MethodNotAllowedError(f"{method} is not allowed here; use {allowed}"),
                headers={"Allow": allowed},
            )
        if method == "HEAD" and isinstance(response, HttpResponse):
            response.content = b""
        return response

    guarded.csrf_exempt = True  # type: ignore[attr-defined]  # as ninja's: tokens, not cookies
    return guarded


def _wrap(patterns: list[URLPattern | URLResolver]) -> list[URLPattern | URLResolver]:
    wrapped: list[URLPattern | URLResolver] = []
    for pattern in patterns:
        if isinstance(pattern, URLPattern):
            callback = pattern.callback
            if pattern.name == "openapi-json":
                # ninja's view of the OpenAPI document answers any method; it is read only.
                callback = require_safe(callback)
            pattern.callback = _guarded(callback)
        wrapped.append(pattern)
    return wrapped


def not_found(request: HttpRequest, rest: str = "") -> HttpResponse:
    return problem(request, UnknownEntityError(f"no such path {request.path!r} in the API"))


not_found.csrf_exempt = True  # type: ignore[attr-defined]

_patterns, _app_name, _namespace = api.urls
# Django tries the patterns in order, building the list of those tried as it goes: the
# signers' path, the busiest under load, is tried first rather than after forty others
# (about 0.2 ms a request). No two of ninja's paths overlap, so the order picks no
# other view.
_FIRST = ("submit_statement",)
_patterns = sorted(_patterns, key=lambda pattern: getattr(pattern, "name", None) not in _FIRST)
app_name = _namespace  # "api-v1", the namespace ninja reverses its own names in
urlpatterns = [
    *_wrap(_patterns),
    re_path(r"^(?P<rest>(?s:.*))$", not_found),  # (?s): a path may hold a newline (%0A)
]
