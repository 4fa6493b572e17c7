"""``cosignatory import`` and ``cosignatory export``, through ``main(argv)``."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from cosignatory.cli.main import main
from cosignatory.cli.registercmd import EXPORT_COLUMNS, neutralise
from cosignatory.core.errors import NotSignedError
from cosignatory.tlog.hashing import leaf_hash, root_of
from cosignatory.web.log.models import LogCheckpoint, LogEntry, LogHead, LogTile
from cosignatory.web.log.services import get_log
from cosignatory.web.notices.models import OutboxMessage
from cosignatory.web.register import intake
from cosignatory.web.register import models as m
from cosignatory.web.register import services as s
from cosignatory.web.register.projector import PROJECTION_MODELS

LETTER = "test-letter"
FORMULA_NAME = '=HYPERLINK("https://evil.example/","Click me")'
HEADER = "party,representative,instrument_kind,reference,date,action"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def note(reference: str, day: str = "2019-07-01") -> dict[str, str]:
    return {"kind": "note-verbale", "reference": reference, "date": day}


def at(day: int, hour: int) -> datetime:
    return datetime(2019, 7, day, hour, tzinfo=UTC)


@pytest.fixture
def register(log: Any) -> Any:
    """An open letter: FRA and the formula-named organisation signed on 1 July 2019,
    PRT signed on 1 July and withdrew on 3 July."""
    clock = [at(1, 9)]
    with s.use_clock(lambda: clock[0]):
        s.initialise_register()
        for code in ("FRA", "DEU", "ESP", "ITA", "NOR", "PRT", "BRA"):
            s.register_state(code)
        s.register_party("org-formula", "organisation", {"en": FORMULA_NAME})
        s.register_representative("rep-esp", "Ambassador of Spain (test)")
        s.create_letter(LETTER, {"en": "A test letter"}, ["The President"], "FRA", date(2019, 7, 1))
        s.add_text_version(LETTER, {"en": "We, the undersigned, agree."})
        s.open_letter(LETTER)
        clock[0] = at(1, 10)
        s.record_attested(LETTER, "FRA", "sign", note("NV/1"))
        s.record_attested(LETTER, "PRT", "sign", note("NV/2"))
        s.record_attested(LETTER, "org-formula", "sign", note("NV/3"))
        clock[0] = at(3, 10)
        s.record_attested(LETTER, "PRT", "withdraw", note("NV/4", "2019-07-03"))
    return log


def write(tmp_path: Path, *lines: str, name: str = "rows.csv", bom: bool = False) -> str:
    path = tmp_path / name
    text = "\r\n".join(lines) + "\r\n"
    path.write_bytes(("\ufeff" if bom else "").encode() + text.encode())
    return str(path)


def snapshot() -> dict[str, Any]:
    """Everything an import could change: the log, every register table, the outbox."""
    state: dict[str, Any] = {model.__name__: model.objects.count() for model in PROJECTION_MODELS}
    state["head"] = list(LogHead.objects.values_list("size", "checkpoint"))
    state["entries"] = LogEntry.objects.count()
    state["checkpoints"] = LogCheckpoint.objects.count()
    state["tiles"] = sorted(
        (level, index, bytes(data))
        for level, index, data in LogTile.objects.values_list("level", "index", "data")
    )
    state["signatures"] = sorted(
        m.Signature.objects.values_list("id", "active", "withdrawn_at", "superseded_by")
    )
    state["outbox"] = OutboxMessage.objects.count()
    return state


def active_parties() -> set[str]:
    return set(
        m.Signature.objects.filter(letter_id=LETTER, active=True).values_list("party_id", flat=True)
    )


# -- help ---------------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["import", "export"])
def test_help(capsys: pytest.CaptureFixture[str], command: str) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    assert f"usage: cosignatory {command}" in capsys.readouterr().out


# -- import: the plan, the dry run, applying -------------------------------------------------

GOOD = (
    HEADER,
    "DEU,,note-verbale,NV/10,2019-07-05,",
    "esp,rep-esp,Letter,L/11,2019-07-05,sign",  # a state's code in any case; kind in any case
    "FRA,,note-verbale,NV/1,2019-07-01,",  # signed already
    "org-formula,,email,E/12,2019-07-06,withdraw",
)


def test_a_dry_run_shows_the_plan_and_changes_nothing(
    capsys: pytest.CaptureFixture[str], register: Any, tmp_path: Path
) -> None:
    path = write(tmp_path, *GOOD)
    before = snapshot()
    code, out, err = run(capsys, "import", LETTER, path, "--json")
    assert code == 0 and err == ""
    plan = json.loads(out)
    assert plan["applied"] is False and plan["errors"] == []
    assert [(r["line"], r["party"], r["action"], r["outcome"]) for r in plan["rows"]] == [
        (2, "DEU", "sign", "new"),
        (3, "ESP", "sign", "new"),
        (4, "FRA", "sign", "unchanged"),
        (5, "org-formula", "withdraw", "withdrawal"),
    ]
    assert plan["rows"][1]["instrument"] == {
        "kind": "letter",
        "reference": "L/11",
        "date": "2019-07-05",
    }
    assert plan["rows"][1]["representative"] == "rep-esp"
    assert plan["summary"] == {"new": 2, "withdrawal": 1, "unchanged": 1, "errors": 0}

    code, out, err = run(capsys, "import", LETTER, path)
    assert code == 0 and err == ""
    assert out.splitlines()[0].split("\t")[:4] == ["line 2", "DEU", "sign", "new"]
    assert "nothing recorded" in out and "--apply" in out
    assert snapshot() == before


def test_apply_records_every_row_and_a_second_import_changes_nothing(
    capsys: pytest.CaptureFixture[str], register: Any, tmp_path: Path
) -> None:
    path = write(tmp_path, *GOOD)
    size = register.size()
    events = m.EventRecord.objects.count()
    code, out, err = run(capsys, "import", LETTER, path, "--apply", "--json")
    assert code == 0, err
    result = json.loads(out)
    assert result["applied"] is True and result["recorded"] == 3
    assert result["log_size"] == size + 3 == register.size()
    assert m.EventRecord.objects.count() == events + 3
    assert active_parties() == {"FRA", "DEU", "ESP"}
    esp = m.Signature.objects.get(letter_id=LETTER, party_id="ESP")
    assert esp.representative_id == "rep-esp" and esp.evidence_kind == "attested"
    assert esp.evidence["instrument"] == {
        "kind": "letter",
        "reference": "L/11",
        "date": "2019-07-05",
    }
    withdrawn = m.Signature.objects.get(letter_id=LETTER, party_id="org-formula")
    assert withdrawn.withdrawal is not None
    assert withdrawn.withdrawal["evidence"]["instrument"]["reference"] == "E/12"

    # The same file again: every row is recorded already, and nothing changes.
    before = snapshot()
    code, out, err = run(capsys, "import", LETTER, path, "--apply", "--json")
    assert code == 0, err
    again = json.loads(out)
    assert again["recorded"] == 0
    assert {row["outcome"] for row in again["rows"]} == {"unchanged"}
    assert snapshot() == before

    code, out, _ = run(capsys, "import", LETTER, path, "--apply")
    assert code == 0 and out.startswith("recorded 0 events")


def test_a_byte_order_mark_is_not_data(
    capsys: pytest.CaptureFixture[str], register: Any, tmp_path: Path
) -> None:
    path = write(tmp_path, *GOOD[:3], bom=True)
    code, out, err = run(capsys, "import", LETTER, path, "--apply", "--json")
    assert code == 0, err
    assert json.loads(out)["recorded"] == 2
    assert {"DEU", "ESP"} <= active_parties()


def test_accessions_after_transmission(
    capsys: pytest.CaptureFixture[str], register: Any, tmp_path: Path
) -> None:
    s.transmit_letter(LETTER, date(2019, 7, 9))
    s.reopen_letter(LETTER)
    path = write(
        tmp_path, "party,representative,instrument_kind,reference,date", "ITA,,fax,F/1,2019-07-10"
    )
    code, out, err = run(capsys, "import", LETTER, path, "--apply", "--json")
    assert code == 0, err
    assert json.loads(out)["rows"][0]["action"] == "accede"
    assert m.Signature.objects.get(letter_id=LETTER, party_id="ITA").action == "accede"


# -- import: bad input changes nothing ------------------------------------------------------

BAD_ROWS = {
    "unknown party": ("XYZ,,note-verbale,NV/20,2019-07-05,", "E_NOT_FOUND"),
    "unknown representative": ("DEU,rep-nobody,note-verbale,NV/20,2019-07-05,", "E_NOT_FOUND"),
    "malformed party": ("D E U,,note-verbale,NV/20,2019-07-05,", "E_IMPORT_FIELD"),
    "empty party": (",,note-verbale,NV/20,2019-07-05,", "E_IMPORT_FIELD"),
    "date that does not exist": ("DEU,,note-verbale,NV/20,2019-02-30,", "E_IMPORT_FIELD"),
    "date not YYYY-MM-DD": ("DEU,,note-verbale,NV/20,05/07/2019,", "E_IMPORT_FIELD"),
    "date in the future": ("DEU,,note-verbale,NV/20,2999-01-01,", "E_IMPORT_FIELD"),
    "unknown instrument kind": ("DEU,,telegram,NV/20,2019-07-05,", "E_IMPORT_FIELD"),
    "empty reference": ("DEU,,note-verbale,,2019-07-05,", "E_IMPORT_FIELD"),
    "reference too long": (f"DEU,,note-verbale,{'R' * 201},2019-07-05,", "E_IMPORT_FIELD"),
    "line break in a field": ('DEU,,note-verbale,"NV/\n20",2019-07-05,', "E_IMPORT_FIELD"),
    "unknown action": ("DEU,,note-verbale,NV/20,2019-07-05,approve", "E_IMPORT_FIELD"),
    "too few fields": ("DEU,,note-verbale,NV/20", "E_IMPORT_FIELD"),
    "too many fields": ("DEU,,note-verbale,NV/20,2019-07-05,,extra", "E_IMPORT_FIELD"),
    "party twice in the file": ("ESP,,note-verbale,NV/21,2019-07-05,", "E_DUPLICATE"),
    "withdrawal of no signature": ("DEU,,note-verbale,NV/20,2019-07-05,withdraw", "E_NOT_SIGNED"),
    "withdrawal twice": ("PRT,,note-verbale,NV/99,2019-07-05,withdraw", "E_NOT_SIGNED"),
    "accession before transmission": (
        "DEU,,note-verbale,NV/20,2019-07-05,accede",
        "E_NOT_TRANSMITTED",
    ),
}


@pytest.mark.parametrize("bad", list(BAD_ROWS.values()), ids=list(BAD_ROWS))
def test_a_bad_row_is_reported_and_nothing_changes(
    capsys: pytest.CaptureFixture[str], register: Any, tmp_path: Path, bad: tuple[str, str]
) -> None:
    row, error_code = bad
    path = write(
        tmp_path,
        HEADER,
        "ESP,,note-verbale,NV/30,2019-07-05,",
        "ITA,,note-verbale,NV/31,2019-07-05,",
        row,  # line 4
        "NOR,,fax,F/32,2019-07-05,",
    )
    before = snapshot()
    for extra in ([], ["--apply"]):
        code, out, err = run(capsys, "import", LETTER, path, *extra)
        assert code == 1
        lines = err.splitlines()
        assert lines[0].startswith(f"{path}:4: ") and lines[0].endswith(f"[{error_code}]")
        assert len(lines) == 2 and lines[1].startswith("cosignatory: error: ")
        assert lines[1].endswith("nothing was recorded [E_IMPORT_INVALID]")
        assert "NOR" in out  # the good rows are shown, with what they would do

        code, out, err = run(capsys, "import", LETTER, path, "--json", *extra)
        assert code == 1 and err.count("\n") == 1 and "[E_IMPORT_INVALID]" in err
        plan = json.loads(out)
        assert [(e["line"], e["code"]) for e in plan["errors"]] == [(4, error_code)]
        assert plan["applied"] is False
        assert snapshot() == before


def test_every_bad_row_is_reported_with_its_line(
    capsys: pytest.CaptureFixture[str], register: Any, tmp_path: Path
) -> None:
    path = write(
        tmp_path,
        HEADER,
        "XYZ,,note-verbale,NV/20,2019-07-05,",
        "DEU,,note-verbale,NV/21,2019-07-05,",
        "",
        'ESP,,"note-verbale",NV/22,2019-13-01,',
        "DEU,,note-verbale,NV/23,2019-07-05,",
        "ITA,,fax,,2019-07-05,",
    )
    before = snapshot()
    code, _, err = run(capsys, "import", LETTER, path, "--apply")
    assert code == 1
    reported = [line.split(":")[1] for line in err.splitlines()[:-1]]
    assert reported == ["2", "5", "6", "7"]
    assert "3 bad rows" not in err and "4 bad rows" in err
    assert snapshot() == before


_HEAD = b"party,representative,instrument_kind,reference,date\r\n"
BAD_FILES = {
    "empty": (b"", 1, "E_IMPORT_FILE"),
    "blank lines": (b"\r\n\r\n", 1, "E_IMPORT_FILE"),
    "no header": (b"DEU,,note-verbale,NV/1,2019-07-05\r\n", 1, "E_IMPORT_FILE"),
    "header missing a column": (
        b"party,representative,kind,reference,date\r\n",
        1,
        "E_IMPORT_FILE",
    ),
    "header with an unknown column": (
        b"party,representative,instrument_kind,reference,date,colour\r\n",
        1,
        "E_IMPORT_FILE",
    ),
    "header naming a column twice": (
        b"party,party,representative,instrument_kind,reference,date\r\n",
        1,
        "E_IMPORT_FILE",
    ),
    "header and no rows": (_HEAD, 2, "E_IMPORT_FILE"),
    "not UTF-8": (_HEAD + b"ESP,,fax,F\xe9,2019-07-05\r\n", 2, "E_IMPORT_FILE"),
    "malformed quoting": (_HEAD + b'ESP,,fax,"F"x,2019-07-05\r\n', 2, "E_IMPORT_FILE"),
    "NUL byte": (_HEAD + b"ESP,,fax,F\x00,2019-07-05\r\n", 2, "E_IMPORT_FIELD"),
}


@pytest.mark.parametrize(("content", "line", "error_code"), BAD_FILES.values(), ids=list(BAD_FILES))
def test_a_bad_file_is_refused_and_nothing_changes(
    capsys: pytest.CaptureFixture[str],
    register: Any,
    tmp_path: Path,
    content: bytes,
    line: int,
    error_code: str,
) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    before = snapshot()
    code, out, err = run(capsys, "import", LETTER, str(path), "--apply", "--json")
    assert code == 1 and "[E_IMPORT_INVALID]" in err
    errors = json.loads(out)["errors"]
    assert [(e["line"], e["code"]) for e in errors] == [(line, error_code)]
    assert snapshot() == before


def test_too_many_rows(capsys: pytest.CaptureFixture[str], register: Any, tmp_path: Path) -> None:
    rows = [f"DEU,,note-verbale,NV/{n},2019-07-05" for n in range(intake.MAX_ROWS + 1)]
    path = write(tmp_path, "party,representative,instrument_kind,reference,date", *rows)
    before = snapshot()
    code, out, _ = run(capsys, "import", LETTER, path, "--json")
    assert code == 1
    plan = json.loads(out)
    assert plan["rows"] == []
    assert [(e["line"], e["code"]) for e in plan["errors"]] == [
        (intake.MAX_ROWS + 2, "E_IMPORT_FILE")
    ]
    assert snapshot() == before


def test_an_unknown_letter_or_file(
    capsys: pytest.CaptureFixture[str], register: Any, tmp_path: Path
) -> None:
    path = write(tmp_path, *GOOD)
    before = snapshot()
    code, out, err = run(capsys, "import", "no-such-letter", path, "--apply")
    assert code == 1 and out == "" and err.count("\n") == 1 and "[E_NOT_FOUND]" in err
    code, out, err = run(capsys, "import", LETTER, str(tmp_path / "missing.csv"))
    assert code == 1 and out == "" and err.count("\n") == 1 and "cannot read" in err
    assert snapshot() == before


def test_a_rule_refusal_while_applying_rolls_everything_back(register: Any) -> None:
    """The register changed between the plan and its application: the row the rules
    now refuse undoes the rows recorded before it."""
    data = "\r\n".join(
        [
            HEADER,
            "DEU,,note-verbale,NV/10,2019-07-05,",
            "ESP,,note-verbale,NV/11,2019-07-05,",
            "FRA,,note-verbale,NV/12,2019-07-05,withdraw",
        ]
    ).encode()
    plan = intake.plan_import(LETTER, data)
    assert not plan.errors and len(plan.changes) == 3
    s.record_attested(LETTER, "FRA", "withdraw", note("NV/13", "2019-07-05"))  # meanwhile
    before = snapshot()
    done: list[int] = []
    with pytest.raises(NotSignedError) as refused:
        intake.apply(plan, progress=lambda row: done.append(row.line))
    assert refused.value.code == "E_NOT_SIGNED"
    assert "line 4" in str(refused.value) and "nothing was recorded" in str(refused.value)
    assert done == [2, 3]  # recorded, then undone
    assert snapshot() == before
    assert active_parties() == {"org-formula"}

    # The log is whole afterwards: the next event extends the committed tree.
    s.record_attested(LETTER, "DEU", "sign", note("NV/14", "2019-07-05"))
    log = get_log()
    entries = log.entries(0, log.size())
    assert log.checkpoint().root == root_of([leaf_hash(e) for e in entries])


def test_a_plan_with_errors_is_never_applied(register: Any) -> None:
    plan = intake.plan_import(LETTER, f"{HEADER}\r\nXYZ,,fax,F/1,2019-07-05,\r\n".encode())
    before = snapshot()
    with pytest.raises(intake.IntakeError):
        intake.apply(plan)
    assert snapshot() == before


# -- export -----------------------------------------------------------------------------------


def export_csv(capsys: pytest.CaptureFixture[str], *extra: str) -> list[dict[str, str]]:
    code, out, err = run(capsys, "export", LETTER, *extra)
    assert code == 0, err
    reader = csv.DictReader(io.StringIO(out, newline=""))
    assert tuple(reader.fieldnames or ()) == EXPORT_COLUMNS
    return list(reader)


def test_export_csv_as_of_dates_around_a_withdrawal(
    capsys: pytest.CaptureFixture[str], register: Any
) -> None:
    assert export_csv(capsys, "--as-of", "2019-06-30") == []

    before = {row["party"]: row for row in export_csv(capsys, "--as-of", "2019-07-02")}
    assert set(before) == {"FRA", "PRT", "org-formula"}  # by time, then signature id
    assert before["PRT"]["withdrawn_at"] == ""
    assert before["FRA"] == {
        "party": "FRA",
        "party_name": "France",
        "kind": "state",
        "action": "sign",
        "version": "1",
        "signed_at": "2019-07-01T10:00:00.000000Z",
        "evidence": "attested",
        "withdrawn_at": "",
        "on_earlier_version": "false",
        "voided": "false",
        "signature_id": before["FRA"]["signature_id"],
        "log_index": before["FRA"]["log_index"],
    }
    fra = m.Signature.objects.get(letter_id=LETTER, party_id="FRA")
    assert (before["FRA"]["signature_id"], before["FRA"]["log_index"]) == (
        fra.id,
        str(fra.log_index),
    )

    after = {row["party"]: row for row in export_csv(capsys, "--as-of", "2019-07-03")}
    assert after["PRT"]["withdrawn_at"] == "2019-07-03T10:00:00.000000Z"
    assert export_csv(capsys) == list(after.values())  # nothing since
    instant = {row["party"]: row for row in export_csv(capsys, "--as-of", "2019-07-03T09:59:59Z")}
    assert instant["PRT"]["withdrawn_at"] == ""


def test_export_json(capsys: pytest.CaptureFixture[str], register: Any) -> None:
    code, out, _ = run(capsys, "export", LETTER, "--format", "json", "--as-of", "2019-07-02")
    assert code == 0
    before = json.loads(out)
    assert before["letter"] == LETTER and before["as_of"] == "2019-07-02T23:59:59.999999Z"
    assert before["count"] == 3 == len(before["signatories"]) and before["active"] == 3
    prt = next(row for row in before["signatories"] if row["party"] == "PRT")
    assert prt["withdrawn_at"] is None and prt["active"] is True
    assert prt["party_names"]["fr"] == "Portugal"
    assert prt["evidence_detail"] == "note-verbale NV/2, 2019-07-01"

    code, out, _ = run(capsys, "export", LETTER, "--format", "json")
    now = json.loads(out)
    assert now["as_of"] is None and now["count"] == 3 and now["active"] == 2
    prt = next(row for row in now["signatories"] if row["party"] == "PRT")
    assert prt["withdrawn_at"] == "2019-07-03T10:00:00.000000Z" and prt["active"] is False
    formula = next(row for row in now["signatories"] if row["party"] == "org-formula")
    assert formula["party_name"] == FORMULA_NAME  # JSON is data, not a spreadsheet


def test_export_neutralises_spreadsheet_formulas(
    capsys: pytest.CaptureFixture[str], register: Any
) -> None:
    rows = {row["party"]: row for row in export_csv(capsys)}
    assert rows["org-formula"]["party_name"] == "'" + FORMULA_NAME
    assert rows["FRA"]["party_name"] == "France"


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_neutralise(start: str) -> None:
    assert neutralise(start + "1+2") == "'" + start + "1+2"


@pytest.mark.parametrize("value", ["France", "", "1", "Côte d'Ivoire", "a=b", " =1"])
def test_neutralise_leaves_plain_text(value: str) -> None:
    assert neutralise(value) == value


def test_export_to_a_file(
    capsys: pytest.CaptureFixture[str], register: Any, tmp_path: Path
) -> None:
    target = tmp_path / "list.csv"
    code, out, _ = run(capsys, "export", LETTER, "--output", str(target))
    assert code == 0 and out == ""
    assert target.read_bytes().startswith(",".join(EXPORT_COLUMNS).encode() + b"\r\n")


def test_export_of_an_unknown_letter(
    capsys: pytest.CaptureFixture[str], register: Any, tmp_path: Path
) -> None:
    target = tmp_path / "list.json"
    code, out, err = run(
        capsys, "export", "no-such-letter", "--format", "json", "--output", str(target)
    )
    assert code == 1 and out == ""
    assert err.count("\n") == 1 and err.rstrip().endswith("[E_NOT_FOUND]")
    assert not target.exists()


@pytest.mark.parametrize("value", ["yesterday", "2019-7-1", "2019-02-30", "2019-07-01T10:00"])
def test_export_refuses_a_bad_date(capsys: pytest.CaptureFixture[str], value: str) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["export", LETTER, "--as-of", value])
    assert exit_info.value.code == 2
