"""``cosignatory import LETTER FILE --statements``, through ``main(argv)``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from cosignatory.cli.main import main
from cosignatory.core.statements import SignedStatement
from cosignatory.web.log.services import get_log
from cosignatory.web.register import models as m
from cosignatory.web.register import services as s
from tests.web.test_register_scenarios import snapshot
from tests.web.test_statement_intake import LETTER, People, make_people


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def people(log: Any) -> People:
    return make_people(4)


def write(path: Path, statements: list[SignedStatement], extra: bytes = b"") -> Path:
    lines = [json.dumps(signed.to_json()) for signed in statements]
    path.write_bytes(("\n".join(lines) + "\n").encode() + extra)
    return path


def test_a_dry_run_shows_the_plan_and_apply_records_it(
    people: People, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file = write(tmp_path / "s.jsonl", [people.statement(n) for n in range(3)])
    before = snapshot()
    code, out, _ = run(capsys, "import", LETTER, str(file), "--statements")
    assert code == 0
    assert "dry run: 3 new, 0 withdrawals, 0 unchanged, 0 errors; nothing recorded" in out
    assert "line 2\tperson-1\tsign\tnew" in out
    assert snapshot() == before
    size = get_log().size()
    code, out, _ = run(capsys, "import", LETTER, str(file), "--statements", "--apply")
    assert code == 0
    assert out.strip() == (
        f"recorded 3 events for {LETTER} (0 statements recorded already); log size {size + 3}"
    )
    assert m.Signature.objects.filter(letter_id=LETTER, evidence_kind="self-signed").count() == 3
    # The same file again changes nothing.
    before = snapshot()
    code, out, _ = run(capsys, "import", LETTER, str(file), "--statements", "--apply", "--json")
    assert code == 0
    result = json.loads(out)
    assert (result["recorded"], result["summary"]["unchanged"]) == (0, 3)
    assert snapshot() == before
    code, out, _ = run(capsys, "rebuild")
    assert code == 0, out


def test_bad_statements_are_listed_by_line_and_apply_records_none(
    people: People, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    s.revoke_key("key-2", "lost")
    forged = SignedStatement(people.statement(1).statement, bytes(64))
    file = write(
        tmp_path / "s.jsonl",
        [people.statement(0), forged, people.statement(2)],
        extra=b"{not json\n",
    )
    before = snapshot()
    code, out, err = run(capsys, "import", LETTER, str(file), "--statements", "--apply")
    assert code != 0
    assert f"{file}:2: " in err and "[E_SIG_INVALID]" in err
    assert f"{file}:3: " in err and "[E_KEY_REVOKED]" in err
    assert f"{file}:4: " in err and "[E_IMPORT_FIELD]" in err
    assert (
        err.strip()
        .splitlines()[-1]
        .endswith("3 bad statements; nothing was recorded [E_IMPORT_INVALID]")
    )
    assert "refused: 1 new" in out
    assert snapshot() == before


def test_the_csv_import_is_unchanged_without_the_flag(
    people: People, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A statements file given as CSV is refused by the CSV reader, with its reason."""
    file = write(tmp_path / "s.jsonl", [people.statement(0)])
    before = snapshot()
    code, _, err = run(capsys, "import", LETTER, str(file), "--apply")
    assert code != 0 and "E_IMPORT" in err
    assert snapshot() == before
    code, _, err = run(capsys, "import", LETTER, str(file), "--workers", "2")
    assert code != 0 and "--workers goes with --statements" in err


def test_an_unknown_letter_or_an_empty_file_is_one_line(
    people: People, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_bytes(b"\n\n")
    code, _, err = run(capsys, "import", LETTER, str(empty), "--statements")
    assert code != 0 and "holds no statement" in err
    file = write(tmp_path / "s.jsonl", [people.statement(0)])
    code, _, err = run(capsys, "import", "no-such-letter", str(file), "--statements")
    assert code != 0 and "no letter" in err
