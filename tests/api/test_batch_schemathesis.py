"""``POST /api/v1/statements/batch`` against its OpenAPI description (schemathesis).

Generated batches (well-formed or not) with a registrar token: every answer must be
documented, none a server error, and a refused batch must change nothing.
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from tests.api.conftest import Snapshot
from tests.api.test_schemathesis import (  # the module's register and connection fixtures
    WRITE_EXAMPLES,
    _one_connection,
    demo,
    demo_register,
    registrar_token,
    schema,
)

__all__ = ["_one_connection", "demo", "demo_register", "registrar_token"]


@schema.include(method="POST", path="/api/v1/statements/batch").parametrize()
@settings(max_examples=WRITE_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_the_batch_answers_as_documented_and_a_refusal_changes_nothing(
    case: Any, registrar_token: str
) -> None:
    before = Snapshot.take()
    # Generated statements carry no valid signature: "valid data must be accepted"
    # cannot hold (as for POST /statements); every answer must still be documented.
    response = case.call_and_validate(
        headers={"Authorization": f"Bearer {registrar_token}"},
        excluded_checks=[positive_data_acceptance],
    )
    assert response.status_code < 500
    if response.status_code >= 400:
        assert response.headers["content-type"] == ["application/problem+json"]
        assert Snapshot.take() == before
