"""``cosignatory token``, through ``main(argv)``, and the tokens it makes."""

from __future__ import annotations

import json
from typing import Any

import pytest

from cosignatory.cli.main import main
from cosignatory.web.api import tokens
from cosignatory.web.api.models import ApiToken
from tests.api.conftest import ApiClient, assert_problem


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.usefixtures("demo")
def test_create_list_and_revoke(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "token", "create", "--role", "registrar", "--name", "desk-1")
    assert code == 0
    secret = out.splitlines()[-1]
    assert secret.startswith("cosi_") and len(secret) > 40
    # Only the hash is kept.
    row = ApiToken.objects.get(name="desk-1")
    assert row.token_hash == tokens.token_hash(secret) and secret not in row.token_hash

    code, out, _ = run(
        capsys,
        "token",
        "create",
        "--role",
        "signatory",
        "--name",
        "fra",
        "--party",
        "FRA",
        "--json",
    )
    assert code == 0
    made = json.loads(out)
    assert (made["role"], made["party"], made["revoked_at"]) == ("signatory", "FRA", None)

    response = ApiClient(secret).write("/letters/demo-heritage/close", key="k")
    assert_problem(response, 409, "E_LIFECYCLE")  # authenticated: the rules answer

    code, out, _ = run(capsys, "token", "list", "--json")
    listed = {row["name"]: row for row in json.loads(out)}
    assert set(listed) == {"desk-1", "fra"}
    assert listed["desk-1"]["last_used_at"] is not None
    code, out, _ = run(capsys, "token", "list")
    assert code == 0 and "desk-1\tregistrar\t-\tlive" in out

    code, out, _ = run(capsys, "token", "revoke", "desk-1")
    assert code == 0 and "revoked" in out
    assert run(capsys, "token", "revoke", "desk-1")[0] == 0  # again: nothing changes
    refused = ApiClient(secret).write("/letters/demo-heritage/close", key="k2")
    assert_problem(refused, 401, "E_AUTH_REQUIRED")


@pytest.fixture
def france(log: Any) -> None:
    from cosignatory.web.register import services

    services.initialise_register()
    services.register_state("FRA")


@pytest.mark.usefixtures("france")
@pytest.mark.parametrize(
    ("argv", "code"),
    [
        (("create", "--role", "registrar", "--name", "x", "--party", "FRA"), "E_REQUEST_INVALID"),
        (("create", "--role", "signatory", "--name", "x"), "E_REQUEST_INVALID"),
        (("create", "--role", "signatory", "--name", "x", "--party", "ATL"), "E_NOT_FOUND"),
        (("create", "--role", "registrar", "--name", "bad name"), "E_REQUEST_INVALID"),
        (("create", "--role", "registrar", "--name", "taken"), "E_DUPLICATE"),
        (("revoke", "nobody"), "E_NOT_FOUND"),
    ],
)
def test_refusals_print_one_line_with_their_code(
    capsys: pytest.CaptureFixture[str], argv: tuple[str, ...], code: str
) -> None:
    tokens.create_token("taken", "registrar")
    before = list(ApiToken.objects.values_list("name", "revoked_at"))
    status, out, err = run(capsys, "token", *argv)
    assert status == 1 and out == ""
    assert err.count("\n") == 1 and err.rstrip().endswith(f"[{code}]")
    assert list(ApiToken.objects.values_list("name", "revoked_at")) == before


def test_a_role_outside_the_choices_is_a_usage_error(db: Any) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["token", "create", "--role", "admin", "--name", "x"])
    assert exit_.value.code == 2
