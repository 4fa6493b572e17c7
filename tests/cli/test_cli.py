"""The ``cosignatory`` command, through ``main(argv)`` and as a real process."""

from __future__ import annotations

import base64
import json
import os
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from cosignatory.cli.main import main
from cosignatory.tlog.checkpoint import open_checkpoint
from cosignatory.tlog.hashing import leaf_hash
from cosignatory.tlog.note import Verifier, generate_ed25519
from cosignatory.tlog.proofs import verify_consistency, verify_inclusion
from cosignatory.web.log.models import LogCheckpoint, LogEntry, LogHead
from cosignatory.web.log.services import reset_log_cache


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def b64(text: str) -> bytes:
    return base64.b64decode(text)


# -- help ---------------------------------------------------------------------------

COMMANDS = [
    [],
    ["serve"],
    ["demo"],
    ["keygen"],
    ["log"],
    ["log", "init"],
    ["log", "checkpoint"],
    ["log", "vkey"],
    ["log", "append"],
    ["log", "prove-inclusion"],
    ["log", "prove-consistency"],
    ["log", "verify-checkpoint"],
    ["log", "witness"],
    ["witness"],
    ["witness", "serve"],
    ["notices"],
    ["notices", "send"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "cosignatory")
def test_every_command_has_help(capsys: pytest.CaptureFixture[str], command: list[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([*command, "--help"])
    assert exit_info.value.code == 0
    assert "usage: cosignatory" in capsys.readouterr().out


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["log", "prove-inclusion", "not-a-number"])
    assert exit_info.value.code == 2


# -- keygen -------------------------------------------------------------------------


def test_keygen_writes_a_private_skey_and_a_vkey(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    prefix = tmp_path / "witness"
    code, out, _ = run(capsys, "keygen", "example.org/witness", "--out", str(prefix), "--json")
    assert code == 0
    result = json.loads(out)
    skey = Path(result["skey_file"])
    vkey = Path(result["vkey_file"]).read_text().strip()
    assert stat.S_IMODE(skey.stat().st_mode) == 0o600
    assert skey.read_text().startswith("PRIVATE+KEY+example.org/witness+")
    assert Verifier.from_vkey(vkey).name == "example.org/witness"
    assert result["vkey"] == vkey


def test_keygen_mldsa44(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, _ = run(
        capsys,
        "keygen",
        "example.org/pq",
        "--type",
        "mldsa44",
        "--out",
        str(tmp_path / "pq"),
        "--json",
    )
    assert code == 0
    assert Verifier.from_vkey(json.loads(out)["vkey"]).type_name == "ml-dsa-44"


def test_keygen_never_overwrites_a_key(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    prefix = tmp_path / "k"
    assert run(capsys, "keygen", "example.org/k", "--out", str(prefix))[0] == 0
    before = (prefix.with_suffix(".skey").read_text(), prefix.with_suffix(".vkey").read_text())
    code, _, err = run(capsys, "keygen", "example.org/k", "--out", str(prefix))
    assert code == 1
    assert err.count("\n") == 1 and "refusing to overwrite" in err
    after = (prefix.with_suffix(".skey").read_text(), prefix.with_suffix(".vkey").read_text())
    assert after == before


def test_keygen_rejects_a_bad_name(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run(capsys, "keygen", "bad name", "--out", str(tmp_path / "x"))
    assert code == 1
    assert "[E_KEY_MALFORMED]" in err
    assert list(tmp_path.iterdir()) == []


# -- the log ------------------------------------------------------------------------


def db_state() -> tuple[Any, ...]:
    return (
        list(LogHead.objects.values_list("size", "checkpoint")),
        LogEntry.objects.count(),
        LogCheckpoint.objects.count(),
    )


def test_append_checkpoint_and_proofs(
    capsys: pytest.CaptureFixture[str], log: Any, tmp_path: Path
) -> None:
    files = []
    for n in range(3):
        path = tmp_path / f"entry{n}"
        path.write_bytes(f"entry number {n}".encode())
        files.append(str(path))
    code, out, _ = run(capsys, "log", "append", *files, "--json")
    assert code == 0
    appended = json.loads(out)
    assert (appended["first_index"], appended["size"]) == (0, 3)

    lines = tmp_path / "lines"
    lines.write_text("\n".join(f"line {i}" for i in range(300)) + "\n")
    code, out, _ = run(capsys, "log", "append", "--lines", str(lines), "--json")
    assert json.loads(out)["size"] == 303

    code, out, _ = run(capsys, "log", "checkpoint", "--json")
    cp = json.loads(out)
    assert cp["size"] == 303
    vkeys = json.loads(run(capsys, "log", "vkey", "--all", "--json")[1])
    assert [v["type"] for v in vkeys] == ["ed25519", "ml-dsa-44"]
    for v in vkeys:
        assert open_checkpoint(cp["text"], [Verifier.from_vkey(v["vkey"])]).size == 303

    code, out, _ = run(capsys, "log", "prove-inclusion", "1", "--json")
    proof = json.loads(out)
    assert proof["leaf_hash"] == base64.b64encode(leaf_hash(b"entry number 1")).decode()
    verify_inclusion(
        b64(proof["leaf_hash"]), 1, 303, [b64(h) for h in proof["proof"]], b64(cp["root"])
    )
    code, out, _ = run(capsys, "log", "prove-inclusion", "1")
    assert out.split() == proof["proof"]

    code, out, _ = run(capsys, "log", "prove-consistency", "3", "303", "--json")
    cons = json.loads(out)
    verify_consistency(
        3, 303, b64(cons["old_root"]), b64(cons["new_root"]), [b64(h) for h in cons["proof"]]
    )
    assert cons["new_root"] == cp["root"]


@pytest.mark.parametrize(
    "argv",
    [
        ["log", "prove-inclusion", "5"],
        ["log", "prove-inclusion", "0", "--size", "9"],
        ["log", "prove-inclusion", "-1"],
        ["log", "prove-consistency", "0", "2"],
        ["log", "prove-consistency", "3", "2"],
        ["log", "prove-consistency", "2", "99"],
    ],
)
def test_proofs_out_of_range_fail_with_one_line(
    capsys: pytest.CaptureFixture[str], log: Any, argv: list[str]
) -> None:
    log.append_batch([b"a", b"b", b"c"])
    before = db_state()
    code, out, err = run(capsys, *argv)
    assert code == 1
    assert out == ""
    assert err.count("\n") == 1 and "[E_PROOF_RANGE]" in err
    assert db_state() == before


@pytest.mark.parametrize(
    "argv", [["log", "vkey"], ["log", "checkpoint"], ["export", "bundle", "any-letter"]]
)
def test_a_log_never_initialised_is_named_in_one_line(
    capsys: pytest.CaptureFixture[str], log: Any, settings: Any, tmp_path: Path, argv: list[str]
) -> None:
    settings.COSIGNATORY_KEY_DIR = str(tmp_path / "no-keys")
    reset_log_cache()
    code, out, err = run(capsys, *argv)
    assert (code, out) == (1, "")
    assert err.count("\n") == 1 and err.startswith("cosignatory: error: the log's key ")
    assert "run `cosignatory log init` first" in err


def cosignatory(tmp_path: Path, *argv: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run the command as a real process on a data folder in ``tmp_path``."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO", "COSIGNATORY"))}
    clean["COSIGNATORY_DATA_DIR"] = str(tmp_path / "data")
    return subprocess.run(
        [sys.executable, "-m", "cosignatory", *argv],
        env=clean | env,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
    )


def test_a_lost_database_is_named_in_one_line(tmp_path: Path) -> None:
    """The keys are there but the SQLite file was deleted: one line, restore named."""
    assert cosignatory(tmp_path, "log", "init").returncode == 0
    (tmp_path / "data" / "cosignatory.sqlite3").unlink()
    done = cosignatory(tmp_path, "log", "checkpoint")
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith("cosignatory: error: the database has no register tables")
    assert "`cosignatory restore FILE`" in done.stderr


def test_keys_that_signed_a_log_start_no_new_one_unless_asked(tmp_path: Path) -> None:
    """A lost database is restored, not replaced by a new log under the same keys."""
    assert cosignatory(tmp_path, "log", "init").returncode == 0
    started = tmp_path / "data" / "keys" / "log-started"
    assert started.is_file()
    started.unlink()  # a register from before the mark: the next start writes it
    assert cosignatory(tmp_path, "log", "init").returncode == 0
    assert started.is_file()

    database = tmp_path / "data" / "cosignatory.sqlite3"
    database.unlink()
    for argv in (["log", "init"], ["serve", "--no-demo"], ["demo"]):
        done = cosignatory(tmp_path, *argv)
        assert (done.returncode, done.stdout) == (1, ""), argv
        assert done.stderr.count("\n") == 1, done.stderr
        assert "[E_LOG_LOST]" in done.stderr and "`cosignatory restore FILE`" in done.stderr
    with sqlite3.connect(database) as con:  # nothing was created
        assert con.execute("SELECT name FROM sqlite_master").fetchall() == []

    done = cosignatory(tmp_path, "log", "init", "--new-log")
    assert done.returncode == 0, done.stderr
    assert "log initialised at size 1" in done.stdout


def test_a_database_out_of_reach_is_named_in_one_line(tmp_path: Path) -> None:
    url = "postgresql://nobody@127.0.0.1:1/cosignatory"  # port 1: nothing listens
    done = cosignatory(tmp_path, "account", "list", COSIGNATORY_DATABASE_URL=url)
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith("cosignatory: error: the database cannot be used: ")


@pytest.mark.django_db
def test_a_missing_table_is_known_on_this_backend() -> None:
    """The real error of the database the suite runs on (SQLite or PostgreSQL)."""
    from django.db import DatabaseError, connection, transaction

    from cosignatory.cli.main import missing_table

    def error_of(sql: str) -> DatabaseError:
        with pytest.raises(DatabaseError) as raised, transaction.atomic(), connection.cursor() as c:
            c.execute(sql)
        return raised.value

    assert missing_table(error_of("SELECT 1 FROM no_such_register_table"))
    assert not missing_table(error_of("SELECT no_such_column FROM tlog_head"))


def test_append_refuses_bad_input_and_changes_nothing(
    capsys: pytest.CaptureFixture[str], log: Any, tmp_path: Path
) -> None:
    log.append(b"first")
    before = db_state()
    big = tmp_path / "big"
    big.write_bytes(b"x" * 70_000)
    small = tmp_path / "small"
    small.write_bytes(b"fine")
    code, _, err = run(capsys, "log", "append", str(small), str(big))
    assert code == 1 and "[E_ENTRY_TOO_LARGE]" in err
    code, _, err = run(capsys, "log", "append", str(tmp_path / "missing"))
    assert code == 1 and "cannot read" in err
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    code, _, err = run(capsys, "log", "append", "--lines", str(empty))
    assert code == 1 and "nothing to append" in err
    assert db_state() == before


def test_verify_checkpoint(capsys: pytest.CaptureFixture[str], log: Any, tmp_path: Path) -> None:
    log.append_batch([b"x", b"y"])
    cp_file = tmp_path / "checkpoint"
    cp_file.write_text(log.head().checkpoint)
    vkey = log.verifiers[0].to_vkey()
    vkey_file = tmp_path / "log.vkey"
    vkey_file.write_text(vkey + "\n")

    code, out, _ = run(capsys, "log", "verify-checkpoint", str(cp_file), "--vkey", vkey, "--json")
    assert code == 0
    assert json.loads(out)["size"] == 2
    code, out, _ = run(capsys, "log", "verify-checkpoint", str(cp_file), "--vkey", str(vkey_file))
    assert code == 0 and "size 2" in out
    pq = log.verifiers[1].to_vkey()
    assert run(capsys, "log", "verify-checkpoint", str(cp_file), "--vkey", pq)[0] == 0

    stranger = generate_ed25519(log.origin).verifier().to_vkey()
    code, _, err = run(capsys, "log", "verify-checkpoint", str(cp_file), "--vkey", stranger)
    assert code == 1 and "[E_NOTE_UNVERIFIED]" in err

    code, _, err = run(
        capsys,
        "log",
        "verify-checkpoint",
        str(cp_file),
        "--vkey",
        vkey,
        "--origin",
        "other.example/log",
    )
    assert code == 1 and "[E_NOTE_UNVERIFIED]" in err

    tampered = tmp_path / "tampered"
    tampered.write_text(log.head().checkpoint.replace("\n2\n", "\n3\n", 1))
    code, _, err = run(capsys, "log", "verify-checkpoint", str(tampered), "--vkey", vkey)
    assert code == 1 and "[E_SIG_INVALID]" in err

    code, _, err = run(capsys, "log", "verify-checkpoint", str(tmp_path / "nope"), "--vkey", vkey)
    assert code == 1 and "no such checkpoint file" in err

    code, _, err = run(capsys, "log", "verify-checkpoint", str(cp_file), "--vkey", "garbage")
    assert code == 1 and "[E_KEY_MALFORMED]" in err


def test_verify_checkpoint_needs_no_django(log: Any, tmp_path: Path) -> None:
    """The offline verifier runs with no settings and never imports Django."""
    cp_file = tmp_path / "checkpoint"
    cp_file.write_text(log.head().checkpoint)
    script = (
        "import sys\n"
        "from cosignatory.cli.main import main\n"
        f"code = main(['log', 'verify-checkpoint', {str(cp_file)!r}, '--vkey', "
        f"{log.verifiers[0].to_vkey()!r}])\n"
        "assert not any(m == 'django' or m.startswith('django.') for m in sys.modules), 'django'\n"
        "sys.exit(code)\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO", "COSIGNATORY"))}
    done = subprocess.run(
        [sys.executable, "-c", script],
        env=env,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "verified" in done.stdout


def test_demo_loads_a_log_that_verifies(
    capsys: pytest.CaptureFixture[str], log_settings: Any, db: None
) -> None:
    code, out, _ = run(capsys, "demo", "--json")
    assert code == 0
    loaded = json.loads(out)
    assert loaded["events"] > 50
    code, out, _ = run(capsys, "log", "checkpoint", "--json")
    assert json.loads(out)["size"] == loaded["size"]
