"""Fixtures for the API's tests: a client, tokens, the demo register, and a snapshot of
the log to show that a refusal changes nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client

from cosignatory.web.api import tokens
from cosignatory.web.log.models import LogEntry
from cosignatory.web.log.services import get_log
from cosignatory.web.register import models as m

API = "/api/v1"


@pytest.fixture(autouse=True)
def _rate_limit(settings: Any) -> Iterator[None]:
    """Every test starts with no writes counted, and a limit it will not reach."""
    settings.COSIGNATORY_API_WRITES_PER_MINUTE = 10_000
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def demo(log: Any) -> None:
    """The demonstration register (cosignatory.web.register.demo), loaded."""
    from cosignatory.web.register.demo import load_demo

    load_demo()


class ApiClient(Client):
    """Django's test client with JSON bodies and an optional bearer token."""

    def __init__(self, token: str | None = None) -> None:
        super().__init__()
        self.token = token

    def _headers(self, headers: dict[str, str] | None) -> dict[str, str]:
        out = dict(headers or {})
        if self.token is not None:
            out.setdefault("Authorization", f"Bearer {self.token}")
        return out

    def read(self, path: str, headers: dict[str, str] | None = None, **query: Any) -> Any:
        return self.get(API + path, query, headers=self._headers(headers))

    def write(
        self,
        path: str,
        body: Any = None,
        key: str | None = "key-1",
        headers: dict[str, str] | None = None,
    ) -> Any:
        extra = self._headers(headers)
        if key is not None:
            extra.setdefault("Idempotency-Key", key)
        data = b"" if body is None else json.dumps(body).encode()
        return self.post(API + path, data, content_type="application/json", headers=extra)


@pytest.fixture
def anonymous() -> ApiClient:
    return ApiClient()


@pytest.fixture
def registrar(db: None) -> ApiClient:
    """A client with a registrar token."""
    _, secret = tokens.create_token("test-registrar", "registrar")
    return ApiClient(secret)


@pytest.fixture
def signatory(demo: None) -> ApiClient:
    """A client with a signatory token for FRA (a party of the demo register)."""
    _, secret = tokens.create_token("test-fra", "signatory", party="FRA")
    return ApiClient(secret)


@dataclass(frozen=True)
class Snapshot:
    entries: int
    checkpoint: str
    events: int

    @classmethod
    def take(cls) -> Snapshot:
        return cls(
            LogEntry.objects.count(), get_log().head().checkpoint, m.EventRecord.objects.count()
        )


@pytest.fixture
def unchanged() -> Iterator[None]:
    """Assert that the test's requests leave the log and the register as they were."""
    before = Snapshot.take()
    yield
    assert Snapshot.take() == before


def assert_problem(response: Any, status: int, code: str) -> dict[str, Any]:
    """Check an RFC 9457 problem response; return its body."""
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["code"] == code
    assert body["type"].endswith(f"/api/v1/problems/{code}")
    assert body["title"] and body["detail"]
    assert body["instance"] == response.wsgi_request.path
    return body
