"""The API against its own published OpenAPI document, with schemathesis.

Schemathesis reads ``/api/v1/openapi.json`` from the running application (WSGI, in
this process, on the test database) and sends each operation generated requests,
valid and invalid: every response must be one the document declares, with the
declared media type, headers and schema, and never a server error. The reads run over
the demo register; ``POST /api/v1/statements`` gets malformed and unsigned statements,
which must all be refused with a documented problem and change nothing; the
registrar's operations get whatever the schema allows, with a registrar token.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, transaction
from django.test import override_settings
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from cosignatory.web.api import tokens
from cosignatory.web.log.services import ensure_log_keys, get_log, reset_log_cache
from cosignatory.web.register.demo import load_demo
from cosignatory.web.wsgi import application
from tests.api.conftest import Snapshot

# Examples per operation: enough to meet every kind of input, bounded for the suite's time.
# COSIGNATORY_API_FUZZ_EXAMPLES=500 runs a longer search by hand.
EXAMPLES = int(os.environ.get("COSIGNATORY_API_FUZZ_EXAMPLES", "25"))
WRITE_EXAMPLES = max(1, EXAMPLES * 2 // 5)  # 23 operations: fewer each, same coverage


@pytest.fixture(scope="module")
def demo_register(
    django_db_setup: None, django_db_blocker: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[None]:
    """The demo register, loaded once for the module inside a transaction that is rolled
    back at its end; each test's own transaction (``db``) nests in it as a savepoint.
    (``log`` in tests/conftest.py makes a log for one test; loading the demo for each of
    the forty-odd operations would take most of the module's time.)"""
    keys = tmp_path_factory.mktemp("keys")
    with (
        django_db_blocker.unblock(),
        override_settings(
            COSIGNATORY_KEY_DIR=keys, COSIGNATORY_LOG_ORIGIN="test.cosignatory.example/log"
        ),
    ):
        reset_log_cache()
        ensure_log_keys()
        try:
            with transaction.atomic():
                get_log().initialise()
                load_demo()
                yield
                transaction.set_rollback(True)
        finally:
            reset_log_cache()


@pytest.fixture
def demo(demo_register: None, db: None) -> None:
    """Each test sees the module's demo register; what it changes is rolled back."""


@pytest.fixture(autouse=True)
def _one_connection() -> Iterator[None]:
    """Keep the test's database connection open across requests, as Django's test client
    does: the application closes it at the end of each request otherwise, and with it
    the test's transaction."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


# Loaded from the application itself, as a client would, while pytest collects (the
# document is built without the database). Not lazily with schemathesis.pytest.from_fixture:
# that relies on a pytest attribute (Node._nodeid) which pytest 9.2 no longer has.
schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", application)


@schema.include(method="GET").parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_reads_conform_to_the_openapi_document(case: Any, demo: None) -> None:
    case.call_and_validate()


@schema.include(method="POST", path="/api/v1/statements").parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_statements_refuse_what_is_malformed_and_change_nothing(case: Any, demo: None) -> None:
    before = Snapshot.take()
    # A statement can match the schema and still not verify (a signature by no registered
    # key, a letter at another version): the register refuses it with 422, which is the
    # truth, not a schema violation; so "valid data must be accepted" does not apply.
    response = case.call_and_validate(excluded_checks=[positive_data_acceptance])
    assert 400 <= response.status_code < 500
    assert response.headers["content-type"] == ["application/problem+json"]
    assert Snapshot.take() == before


@pytest.fixture
def registrar_token(demo: None) -> str:
    return tokens.create_token("fuzz", "registrar")[1]


@schema.include(tag="registrar").parametrize()
@settings(max_examples=WRITE_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_the_registrars_operations_never_fail_on_what_they_are_sent(
    case: Any, registrar_token: str
) -> None:
    # What the schema lets through the register's rules may still refuse (a party
    # unknown, a name in no UN language): so, as for statements, no "valid data must
    # be accepted"; every answer must still be documented, and none a server error.
    case.call_and_validate(
        headers={"Authorization": f"Bearer {registrar_token}"},
        excluded_checks=[positive_data_acceptance],
    )
