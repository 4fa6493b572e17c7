"""``cosignatory sign`` and ``cosignatory rebuild``, through ``main(argv)``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from cosignatory.cli.main import main
from cosignatory.core.statements import SignedStatement
from cosignatory.tlog.note import KeyType, Signer, generate_ed25519, generate_mldsa44
from cosignatory.web.log.services import get_log
from cosignatory.web.register import demo
from cosignatory.web.register import models as m
from cosignatory.web.register import services as s
from tests.web.test_register_scenarios import snapshot

LETTER = "demo-open-letter"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def demo_register(log: Any) -> Any:
    demo.load_demo()
    return log


@pytest.fixture
def fra_skey(tmp_path: Path) -> Path:
    """France's demonstration representative's key, as a C2SP skey file."""
    seed = demo.demo_private_key("FRA").private_bytes_raw()
    path = tmp_path / "rep-fra.skey"
    path.write_text(Signer("rep-fra", KeyType.ED25519, seed).to_skey() + "\n")
    return path


def sign_args(skey: Path, *extra: str, party: str = "FRA") -> list[str]:
    lower = party.lower()
    return [
        "sign",
        LETTER,
        "--skey",
        str(skey),
        "--party",
        party,
        "--representative",
        f"rep-{lower}",
        "--key",
        f"key-{lower}",
        *extra,
    ]


@pytest.mark.parametrize("command", [["sign"], ["rebuild"]])
def test_help(capsys: pytest.CaptureFixture[str], command: list[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([*command, "--help"])
    assert exit_info.value.code == 0
    assert "usage: cosignatory" in capsys.readouterr().out


# -- rebuild --------------------------------------------------------------------------------


def test_rebuild_of_the_demo_is_identical(
    capsys: pytest.CaptureFixture[str], demo_register: Any
) -> None:
    size = get_log().size()
    code, out, err = run(capsys, "rebuild")
    assert (code, out, err) == (0, f"identical: {size} events\n", "")
    code, out, _ = run(capsys, "rebuild", "--json")
    report = json.loads(out)
    assert code == 0 and report["identical"] and report["events"] == size
    assert report["tables"]["register_letter"] == {"live": 4, "rebuilt": 4}


def test_rebuild_reports_a_tampered_table(
    capsys: pytest.CaptureFixture[str], demo_register: Any
) -> None:
    m.Letter.objects.filter(pk="demo-draft").update(status="published")
    code, out, err = run(capsys, "rebuild")
    assert code == 1 and out == ""
    lines = err.splitlines()
    assert "  register_letter demo-draft status: live 'published', rebuilt 'draft'" in lines
    assert lines[-1].startswith("cosignatory: error: the register does not match its log")
    assert lines[-1].endswith("[E_REBUILD_MISMATCH]")
    code, out, err = run(capsys, "rebuild", "--json")
    report = json.loads(out)
    assert code == 1 and not report["identical"] and "[E_REBUILD_MISMATCH]" in err
    assert report["differences"] == [
        {
            "table": "register_letter",
            "pk": "demo-draft",
            "field": "status",
            "live": "published",
            "rebuilt": "draft",
        }
    ]


def test_rebuild_reports_a_tampered_log(
    capsys: pytest.CaptureFixture[str], demo_register: Any
) -> None:
    from cosignatory.web.log.models import LogEntry

    LogEntry.objects.filter(index=5).update(data=b"not what was logged")
    code, _, err = run(capsys, "rebuild")
    assert code == 1
    assert "log: the root of the stored entries is not the checkpoint's root" in err
    assert err.rstrip().endswith("[E_REBUILD_MISMATCH]")


# -- sign -----------------------------------------------------------------------------------


def test_sign_writes_a_statement_that_verifies(
    capsys: pytest.CaptureFixture[str], demo_register: Any, fra_skey: Path, tmp_path: Path
) -> None:
    before = snapshot()
    output = tmp_path / "fra.statement.json"
    code, out, err = run(capsys, *sign_args(fra_skey, "--output", str(output)))
    assert code == 0 and out == f"wrote {output}\n"
    text = m.TextVersion.objects.get(letter_id=LETTER, version=1)
    # People see exactly what they sign: the hash and the whole text.
    assert text.text_hash in err and text.texts["en"] in err
    signed = SignedStatement.from_text(output.read_text())
    statement = signed.statement
    assert (statement.action, statement.letter, statement.version, statement.party) == (
        "sign",
        LETTER,
        1,
        "FRA",
    )
    assert statement.text_hash == text.text_hash
    statement.verify(signed.signature, demo.demo_private_key("FRA").public_key().public_bytes_raw())
    assert snapshot() == before  # without --submit, nothing is recorded
    # An existing file is never overwritten.
    code, _, err = run(capsys, *sign_args(fra_skey, "--output", str(output)))
    assert code == 1 and "exists" in err


def test_sign_without_output_prints_the_statement(
    capsys: pytest.CaptureFixture[str], demo_register: Any, fra_skey: Path
) -> None:
    code, out, err = run(capsys, *sign_args(fra_skey))
    assert code == 0
    assert SignedStatement.from_text(out).statement.party == "FRA"
    code, out, err = run(capsys, *sign_args(fra_skey, "--json"))
    result = json.loads(out)
    assert code == 0 and err == "" and result["submitted"] is False and result["file"] is None
    assert SignedStatement.from_json(result["statement"]).statement.letter == LETTER


def test_sign_submit_records_once(
    capsys: pytest.CaptureFixture[str], demo_register: Any, fra_skey: Path, tmp_path: Path
) -> None:
    size = get_log().size()
    code, out, _ = run(capsys, *sign_args(fra_skey, "--submit", "--json"))
    first = json.loads(out)
    assert code == 0 and first["submitted"] and first["new"]
    assert first["log_index"] == size and get_log().size() == size + 1
    signature = m.Signature.objects.get(letter_id=LETTER, party_id="FRA", active=True)
    assert signature.evidence_kind == "self-signed"
    assert signature.evidence["statement"] == first["statement"]["statement"]
    # Submitting again (a new statement for the same version) records nothing.
    before = snapshot()
    code, out, _ = run(capsys, *sign_args(fra_skey, "--submit"))
    assert code == 0
    assert f"recorded already, as entry {size} of the log: nothing changed" in out
    assert snapshot() == before
    # And a withdrawal, signed the same way.
    code, out, _ = run(capsys, *sign_args(fra_skey, "--action", "withdraw", "--submit"))
    assert code == 0 and f"recorded as entry {size + 1} of the log" in out
    assert not m.Signature.objects.filter(letter_id=LETTER, party_id="FRA", active=True).exists()
    code, out, _ = run(capsys, "rebuild")
    assert (code, out) == (0, f"identical: {size + 2} events\n")


def test_sign_with_a_revoked_key_is_refused_and_changes_nothing(
    capsys: pytest.CaptureFixture[str], demo_register: Any, fra_skey: Path, tmp_path: Path
) -> None:
    s.revoke_key("key-fra", "compromised")
    before = snapshot()
    output = tmp_path / "refused.json"
    code, out, err = run(capsys, *sign_args(fra_skey, "--submit", "--output", str(output)))
    assert code == 1 and out == ""
    assert err.splitlines()[-1].endswith("[E_KEY_REVOKED]")
    assert snapshot() == before
    assert not output.exists()


@pytest.mark.parametrize(
    ("extra", "code_or_text"),
    [
        (["--action", "withdraw"], "[E_NOT_SIGNED]"),  # FRA never signed this letter
        (["--action", "accede", "--submit"], "[E_NOT_TRANSMITTED]"),
    ],
)
def test_sign_refusals(
    capsys: pytest.CaptureFixture[str],
    demo_register: Any,
    fra_skey: Path,
    extra: list[str],
    code_or_text: str,
) -> None:
    before = snapshot()
    code, out, err = run(capsys, *sign_args(fra_skey, *extra))
    assert code == 1 and out == "" and err.rstrip().endswith(code_or_text)
    assert snapshot() == before


def test_sign_refuses_the_wrong_key_file(
    capsys: pytest.CaptureFixture[str], demo_register: Any, tmp_path: Path
) -> None:
    other = tmp_path / "other.skey"
    other.write_text(generate_ed25519("someone").to_skey())
    code, _, err = run(capsys, *sign_args(other, "--submit"))
    assert code == 1 and err.rstrip().endswith("[E_SIG_INVALID]")
    mldsa = tmp_path / "mldsa.skey"
    mldsa.write_text(generate_mldsa44("someone").to_skey())
    code, _, err = run(capsys, *sign_args(mldsa))
    assert code == 1 and "not an Ed25519 key" in err
    code, _, err = run(capsys, *sign_args(tmp_path / "missing.skey"))
    assert code == 1 and "cannot read the key file" in err
    code, _, err = run(capsys, "sign", "no-such-letter", *sign_args(other)[2:])
    assert code == 1 and err.rstrip().endswith("[E_NOT_FOUND]")


def test_sign_shows_invisible_characters(
    capsys: pytest.CaptureFixture[str], demo_register: Any, fra_skey: Path
) -> None:
    # A right-to-left override makes "abc" display reversed: it must not pass unseen.
    s.add_text_version(LETTER, {"en": "We support \u202eabc\u202c open data."})
    code, _, err = run(capsys, *sign_args(fra_skey))
    assert code == 0
    assert "We support <U+202E>abc<U+202C> open data." in err
    assert "invisible formatting characters" in err
    assert "\u202e" not in err
