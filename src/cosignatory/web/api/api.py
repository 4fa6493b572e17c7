"""The API object: its routers, its error handling and its published OpenAPI document."""

from __future__ import annotations

import copy
import functools
from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI, Status
from ninja.openapi.schema import OpenAPISchema
from ninja.operation import Operation
from ninja.renderers import JSONRenderer

from cosignatory.web.api import conditional, letters, problems, read, registrar, statements
from cosignatory.web.api.routes import router
from cosignatory.web.api.schemas import Index

VERSION = "1"


class _CompactJSON(JSONRenderer):
    json_dumps_params = {"separators": (",", ":"), "ensure_ascii": False}  # noqa: RUF012


class CosignatoryAPI(NinjaAPI):
    """NinjaAPI whose OpenAPI says what the responses really are.

    Problem responses are ``application/problem+json``; reads carry an ``ETag``; a
    throttled write a ``Retry-After``; an absent optional query parameter is simply
    absent (never ``null``). The document is built once per path prefix.
    """

    def get_openapi_operation_id(self, operation: Operation) -> str:
        return operation.view_func.__name__

    def get_openapi_schema(
        self, *, path_prefix: str | None = None, path_params: dict[str, Any] | None = None
    ) -> OpenAPISchema:
        if path_prefix is None:
            path_prefix = self.get_root_path(path_params or {})
        return copy.deepcopy(self._schema(path_prefix))

    @functools.cache  # noqa: B019 (one API object per process)
    def _schema(self, path_prefix: str) -> OpenAPISchema:
        return _refine(super().get_openapi_schema(path_prefix=path_prefix))


def _refine(schema: OpenAPISchema) -> OpenAPISchema:
    for methods in schema.get("paths", {}).values():
        for method, operation in methods.items():
            for parameter in operation.get("parameters", []):
                _drop_null(parameter["schema"])
            for code, response in operation.get("responses", {}).items():
                status = int(code)  # ninja's keys are numbers until the document is JSON
                content = response.get("content", {})
                if status >= 400 and "application/json" in content:
                    response["content"] = {problems.MEDIA_TYPE: content["application/json"]}
                headers = response.setdefault("headers", {})
                if method == "get" and status == 200:
                    headers["ETag"] = _header("a weak ETag; send it in If-None-Match")
                if status == 429:
                    headers["Retry-After"] = _header("seconds until writes are allowed again")
                if status == 401:
                    headers["WWW-Authenticate"] = _header("Bearer")
                if not headers:
                    del response["headers"]
    return schema


def _drop_null(schema: dict[str, Any]) -> None:
    options = schema.get("anyOf")
    if not options:
        return
    kept = [option for option in options if option.get("type") != "null"]
    if len(kept) == 1:
        del schema["anyOf"]
        schema.update(kept[0])
    else:
        schema["anyOf"] = kept


def _header(description: str) -> dict[str, Any]:
    return {"description": description, "schema": {"type": "string"}}


api = CosignatoryAPI(
    title="Cosignatory",
    version=VERSION,
    description="The register of joint letters: reads, signed statements and the "
    "registrar's operations. Errors are RFC 9457 problem documents with stable codes. "
    "See docs/api.md.",
    urls_namespace="api-v1",
    openapi_url="/openapi.json",
    docs_url=None,  # Swagger UI would load its assets from a CDN
    renderer=_CompactJSON(),
)
problems.install(api)


@router.get("/", response={200: Index, 304: None}, tags=["read"], summary="The API's entry points")
def index(request: HttpRequest, response: HttpResponse) -> Any:
    """Where the collections are, and the OpenAPI document that describes them."""
    if conditional.not_modified(request, response, conditional.STATIC):
        return Status(304, None)
    root = request.path
    return {
        "version": VERSION,
        "openapi": f"{root}openapi.json",
        "links": {
            name: f"{root}{name}"
            for name in ("bodies", "sessions", "parties", "letters", "documents", "events")
        },
    }


# The operations are defined by importing their modules; then the router is mounted.
_MODULES = (read, letters, registrar, statements)
api.add_router("", router)
