"""``cosignatory account``: create, list, disable, reset-two-factor, through ``main(argv)``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django_otp.plugins.otp_totp.models import TOTPDevice

from cosignatory.cli.main import main
from cosignatory.web.accounts.models import RepresentativeAccount
from cosignatory.web.accounts.roles import REGISTRAR, SIGNATORY, has_role
from cosignatory.web.register import services as s

PASSWORD = "correct horse battery staple 7"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def password_file(tmp_path: Path) -> str:
    path = tmp_path / "password"
    path.write_text(PASSWORD + "\n")
    return str(path)


@pytest.fixture
def representative(log: Any) -> str:
    s.initialise_register()
    s.register_representative("rep-fra", "Ambassador of France")
    return "rep-fra"


@pytest.mark.parametrize(
    "command",
    [
        ["account"],
        ["account", "create"],
        ["account", "list"],
        ["account", "disable"],
        ["account", "reset-two-factor"],
    ],
    ids=" ".join,
)
def test_every_account_command_has_help(
    capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([*command, "--help"])
    assert exit_info.value.code == 0
    assert "usage: cosignatory account" in capsys.readouterr().out


@pytest.mark.django_db
def test_create_a_registrar_then_list_it(
    capsys: pytest.CaptureFixture[str], password_file: str
) -> None:
    code, out, err = run(
        capsys,
        "account",
        "create",
        "alice",
        "--role",
        "registrar",
        "--email",
        "alice@example.org",
        "--password-file",
        password_file,
    )
    assert (code, err) == (0, "")
    assert "created registrar account alice" in out
    user = get_user_model().objects.get(username="alice")
    assert user.check_password(PASSWORD)
    assert has_role(user, REGISTRAR) and not has_role(user, SIGNATORY)

    code, out, _ = run(capsys, "account", "list", "--json")
    assert code == 0
    [row] = json.loads(out)
    assert row == {
        "username": "alice",
        "email": "alice@example.org",
        "roles": ["registrar"],
        "representative": None,
        "active": True,
        "two_factor": False,
    }
    code, out, _ = run(capsys, "account", "list")
    assert out.startswith("alice\tregistrar\t-\tactive\tno 2fa")


@pytest.mark.django_db
def test_a_signatory_acts_for_a_representative(
    capsys: pytest.CaptureFixture[str], password_file: str, representative: str
) -> None:
    code, _, err = run(
        capsys,
        "account",
        "create",
        "amb",
        "--role",
        "signatory",
        "--representative",
        representative,
        "--password-file",
        password_file,
    )
    assert (code, err) == (0, "")
    link = RepresentativeAccount.objects.get(user__username="amb")
    assert link.representative_id == representative


@pytest.mark.django_db
def test_the_password_can_come_from_the_prompt(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("getpass.getpass", lambda prompt="": PASSWORD)
    code, _, err = run(capsys, "account", "create", "bob", "--role", "registrar")
    assert (code, err) == (0, "")
    assert get_user_model().objects.get(username="bob").check_password(PASSWORD)

    answers = iter([PASSWORD, PASSWORD + "x"])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    code, _, err = run(capsys, "account", "create", "carol", "--role", "registrar")
    assert code == 2 and "the two passwords differ" in err
    assert not get_user_model().objects.filter(username="carol").exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("extra", "reason"),
    [
        (["--role", "admin"], "unknown role 'admin'"),
        (["--role", "signatory"], "needs --representative"),
        (["--role", "signatory", "--representative", "rep-nobody"], "no representative"),
        (["--role", "registrar", "--representative", "rep-fra"], "for signatories only"),
        (["--role", "registrar", "--email", "not-an-address"], "not an email address"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_changes_nothing(
    capsys: pytest.CaptureFixture[str],
    password_file: str,
    representative: str,
    extra: list[str],
    reason: str,
) -> None:
    code, out, err = run(
        capsys, "account", "create", "dave", *extra, "--password-file", password_file
    )
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("cosignatory: error: ") and reason in err
    assert not get_user_model().objects.filter(username="dave").exists()


@pytest.mark.django_db
def test_an_existing_user_or_a_weak_password_is_refused(
    capsys: pytest.CaptureFixture[str], password_file: str, tmp_path: Path
) -> None:
    assert (
        run(
            capsys,
            "account",
            "create",
            "erin",
            "--role",
            "registrar",
            "--password-file",
            password_file,
        )[0]
        == 0
    )
    code, _, err = run(
        capsys,
        "account",
        "create",
        "erin",
        "--role",
        "registrar",
        "--password-file",
        password_file,
    )
    assert code == 2 and "exists already" in err and err.count("\n") == 1
    assert get_user_model().objects.filter(username="erin").count() == 1

    weak = tmp_path / "weak"
    weak.write_text("short\n")
    code, _, err = run(
        capsys, "account", "create", "frank", "--role", "registrar", "--password-file", str(weak)
    )
    assert code == 2 and "password refused" in err and err.count("\n") == 1
    assert not get_user_model().objects.filter(username="frank").exists()


@pytest.mark.django_db
def test_disable_and_reset_two_factor(
    capsys: pytest.CaptureFixture[str], password_file: str
) -> None:
    run(
        capsys, "account", "create", "gina", "--role", "registrar", "--password-file", password_file
    )
    user = get_user_model().objects.get(username="gina")
    TOTPDevice.objects.create(user=user, name="phone", confirmed=True)

    code, out, _ = run(capsys, "account", "reset-two-factor", "gina")
    assert code == 0 and "removed 1" in out
    assert not TOTPDevice.objects.filter(user=user).exists()

    code, out, _ = run(capsys, "account", "disable", "gina")
    assert code == 0
    user.refresh_from_db()
    assert not user.is_active

    for action in ("disable", "reset-two-factor"):
        code, _, err = run(capsys, "account", action, "nobody")
        assert code == 2 and "no account named 'nobody'" in err and err.count("\n") == 1
