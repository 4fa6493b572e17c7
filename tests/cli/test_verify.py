"""``cosignatory export bundle`` and ``cosignatory verify``, on the demonstration register.

The demo has self-signed, attested and email-verified signatures, an accession, a
withdrawal, an upheld dispute, a registration (G/1 and G/2 in one series), an Add. and
a Corr. Each letter's bundle must verify offline and give the signatory list the
register's tables give; changed bytes, wrong keys, too few witnesses and a forked log
must each fail with one line and a stable code.
"""

from __future__ import annotations

import base64
import http.server
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cosignatory.cli.main import main
from cosignatory.core.bundle import read_lines
from cosignatory.core.events import format_time
from cosignatory.core.verify import verify_bundle
from cosignatory.tlog.checkpoint import Checkpoint, sign_checkpoint
from cosignatory.tlog.log import Log
from cosignatory.tlog.note import Signer, add_signatures, generate_cosigner, generate_ed25519
from cosignatory.tlog.policy import Policy
from cosignatory.tlog.storage import MemoryStorage
from cosignatory.tlog.tiles import tiles_for_size
from cosignatory.web.log.models import LogCheckpoint
from cosignatory.web.log.services import ED25519_KEY_FILE, MLDSA44_KEY_FILE, key_dir
from cosignatory.web.register import queries
from cosignatory.web.register.demo import load_demo

LETTERS = ("demo-heritage", "demo-development", "demo-open-letter", "demo-draft")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def demo(log: Any) -> Any:
    load_demo()
    return log


def export(capsys: pytest.CaptureFixture[str], tmp_path: Path, letter: str, *extra: str) -> Path:
    path = tmp_path / f"{letter}.jsonl"
    code, _, err = run(capsys, "export", "bundle", letter, "--output", str(path), *extra)
    assert code == 0, err
    return path


def vkey(log: Any, which: int = 0) -> str:
    return str(log.verifiers[which].to_vkey())


def failure(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    """Run a verify that must fail; return its one line of error."""
    code, out, err = run(capsys, *argv)
    assert code == 1, (out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("cosignatory: error: "), err
    return lines[0]


# -- a bundle verifies and says what the register says --------------------------------------


@pytest.mark.parametrize("letter", LETTERS)
def test_each_demo_letter_verifies_and_lists_the_registers_signatories(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, demo: Any, letter: str
) -> None:
    path = export(capsys, tmp_path, letter)
    code, out, err = run(capsys, "verify", str(path), "--log-key", vkey(demo), "--json")
    assert code == 0, err
    result = json.loads(out)
    assert result["verified"] is True and result["letter"] == letter
    assert result["checkpoint"]["size"] == demo.size()
    expected = queries.signatory_list(letter)
    assert [
        (
            row["signature_id"],
            row["log_index"],
            row["party"],
            row["kind"],
            row["party_names"],
            row["action"],
            row["version"],
            row["signed_at"],
            row["evidence"],
            row["representative"],
            row["withdrawn_at"],
            row["on_earlier_version"],
            row["voided"],
            row["active"],
        )
        for row in result["signatories"]
    ] == [
        (
            row.signature,
            row.log_index,
            row.party,
            row.party_kind,
            dict(row.party_names),
            row.action,
            row.version,
            format_time(row.at),
            row.evidence,
            row.representative,
            format_time(row.withdrawn_at) if row.withdrawn_at else None,
            row.on_earlier_version,
            row.voided,
            row.active,
        )
        for row in expected
    ]


def test_the_json_is_the_results_document_written_row_by_row(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, demo: Any
) -> None:
    """``--json`` writes each signatory as it comes, and the bytes are still those of the
    whole document in one ``json.dumps``, ``consistent_with_size`` included."""
    path = export(capsys, tmp_path, "demo-development")
    older = _older(demo, tmp_path, demo.size())
    argv = ("verify", str(path), "--log-key", vkey(demo), "--json", "--consistency", str(older))
    code, out, err = run(capsys, *argv)
    assert code == 0, err
    with path.open("rb") as stream:
        result = verify_bundle(read_lines(stream), Policy.from_keys([demo.verifiers[0]]))
    document = {**result.to_json(), "consistent_with_size": demo.size()}
    assert out == json.dumps(document, ensure_ascii=False, sort_keys=True) + "\n"
    assert document["count"] == 10 and len(document["signatories"]) == 10


def test_workers_check_ahead_and_change_nothing(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    demo: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``--workers 2`` (two lines a task, so that the pool is used on a small bundle)
    prints what one process alone prints, and a changed line fails the same way."""
    from cosignatory.core import verify as verifier

    monkeypatch.setattr(verifier, "CHUNK_LINES", 2)
    path = export(capsys, tmp_path, "demo-open-letter")
    argv = ("verify", str(path), "--log-key", vkey(demo), "--json")
    alone, pooled = run(capsys, *argv, "--workers", "1"), run(capsys, *argv, "--workers", "2")
    assert alone == pooled and alone[0] == 0
    assert json.loads(pooled[1])["count"] > 0
    lines = path.read_bytes().splitlines(keepends=True)
    changed = json.loads(lines[-2])
    changed["entry"] = _flip(changed["entry"])
    lines[-2] = json.dumps(changed).encode() + b"\n"
    path.write_bytes(b"".join(lines))
    one = failure(capsys, *argv, "--workers", "1")
    assert one == failure(capsys, *argv, "--workers", "2")
    assert f"line {len(lines) - 1}, entry" in one


def test_the_table_shows_how_each_signature_stands(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, demo: Any
) -> None:
    path = export(capsys, tmp_path, "demo-development")
    code, out, err = run(capsys, "verify", str(path), "--log-key", vkey(demo))
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("verified: letter demo-development, ")
    assert f"size {demo.size()}" in lines[0]
    bolivia = next(line for line in lines if line.startswith("BOL "))
    assert "voided (dispute upheld), earlier version" in bolivia
    assert lines[-1] == "10 signatories, 9 active"
    # The columns line up: the status column starts at the same place on every row.
    table = lines[lines.index("") + 1 : -2]
    at = table[0].index("status")
    assert len(table) == 11 and all(row[at - 2 : at] == "  " != row[at] for row in table)
    path = export(capsys, tmp_path, "demo-heritage")
    code, out, _ = run(capsys, "verify", str(path), "--log-key", vkey(demo))
    assert "withdrawn 2019-" in next(line for line in out.splitlines() if line.startswith("PRT "))
    assert any(line.startswith("ITA ") and " accede " in line for line in out.splitlines())


def test_export_bundle_forms_and_stdin(
    capsysbinary: pytest.CaptureFixture[bytes],
    tmp_path: Path,
    demo: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    path = tmp_path / "bundle.jsonl"
    assert main(["export", "bundle", "demo-heritage", "-o", str(path)]) == 0
    assert main(["export", "demo-heritage", "--format", "bundle"]) == 0
    by_format = capsysbinary.readouterr().out
    assert main(["export", "bundle", "demo-heritage"]) == 0
    to_stdout = capsysbinary.readouterr().out
    # Ed25519 is deterministic: the same checkpoint gives the same bytes.
    assert by_format == to_stdout == path.read_bytes()
    assert not list(tmp_path.glob("*.partial"))
    monkeypatch.setattr(sys, "stdin", _Stdin(path.read_bytes()))
    assert main(["verify", "-", "--log-key", vkey(demo, 1)]) == 0
    assert capsysbinary.readouterr().out.startswith(b"verified: letter demo-heritage")


class _Stdin:
    def __init__(self, data: bytes) -> None:
        import io

        self.buffer = io.BytesIO(data)


def test_export_usage_errors(capsys: pytest.CaptureFixture[str], tmp_path: Path, demo: Any) -> None:
    assert "E_NOT_FOUND" in failure(capsys, "export", "bundle", "no-such-letter")
    assert "--as-of" in failure(
        capsys, "export", "bundle", "demo-heritage", "--as-of", "2019-07-09"
    )
    assert "export bundle LETTER" in failure(capsys, "export", "demo-heritage", "demo-draft")
    assert "--checkpoint" in failure(
        capsys, "export", "demo-heritage", "--checkpoint", str(tmp_path / "x")
    )
    code, out, _ = run(capsys, "export", "demo-heritage", "--format", "csv")
    assert code == 0 and out.startswith("party,party_name")


def test_verify_usage_errors(capsys: pytest.CaptureFixture[str], tmp_path: Path, demo: Any) -> None:
    path = str(export(capsys, tmp_path, "demo-heritage"))
    assert "--log-key" in failure(capsys, "verify", path)
    policy = tmp_path / "policy"
    policy.write_text(f"log {vkey(demo)}\nquorum none\n")
    assert "--policy replaces" in failure(
        capsys, "verify", path, "--policy", str(policy), "--log-key", vkey(demo)
    )
    assert "go with --consistency" in failure(
        capsys, "verify", path, "--log-key", vkey(demo), "--server", "http://127.0.0.1:9"
    )
    assert "E_POLICY_MALFORMED" in failure(
        capsys, "verify", path, "--log-key", vkey(demo), "--min-witnesses", "1"
    )
    assert "cannot read the bundle" in failure(
        capsys, "verify", str(tmp_path / "missing"), "--log-key", vkey(demo)
    )
    assert "--workers must be at least 1" in failure(
        capsys, "verify", path, "--log-key", vkey(demo), "--workers", "0"
    )
    with pytest.raises(SystemExit) as exit_info:
        main(["verify", "--help"])
    assert exit_info.value.code == 0
    assert "usage: cosignatory verify" in capsys.readouterr().out


# -- changes that matter fail, each with one line -----------------------------------------------


def _rewrite(path: Path, number: int, change: Any) -> Path:
    lines = path.read_bytes().splitlines(keepends=True)
    value = json.loads(lines[number])
    change(value)
    lines[number] = (json.dumps(value, ensure_ascii=False, separators=(",", ":")) + "\n").encode()
    out = path.with_name("tampered.jsonl")
    out.write_bytes(b"".join(lines))
    return out


def _flip(text: str) -> str:
    raw = bytearray(base64.b64decode(text))
    raw[len(raw) // 2] ^= 0x01
    return base64.b64encode(bytes(raw)).decode()


def test_tampering_is_named_in_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, demo: Any
) -> None:
    path = export(capsys, tmp_path, "demo-heritage")
    lines = path.read_bytes().splitlines(keepends=True)
    key = ("--log-key", vkey(demo))
    third = json.loads(lines[3])["index"]

    entry = _rewrite(path, 3, lambda v: v.update(entry=_flip(v["entry"])))
    line = failure(capsys, "verify", str(entry), *key)
    assert f"line 4, entry {third}" in line and line.endswith("[E_PROOF_INVALID]")

    def proof(v: dict[str, Any]) -> None:
        parts = v["proof"].split("\n")
        parts[2] = _flip(parts[2])
        v["proof"] = "\n".join(parts)

    assert "[E_PROOF_INVALID]" in failure(capsys, "verify", str(_rewrite(path, 5, proof)), *key)
    size = demo.size()

    def bigger(v: dict[str, Any]) -> None:
        v["checkpoint"] = v["checkpoint"].replace(f"\n{size}\n", f"\n{size + 1}\n", 1)

    line = failure(capsys, "verify", str(_rewrite(path, 0, bigger)), *key)
    assert line.endswith("[E_SIG_INVALID]") and "line 1: the checkpoint" in line
    other = _rewrite(path, 0, lambda v: v.update(letter="demo-development"))
    assert "[E_BUNDLE_LETTER]" in failure(capsys, "verify", str(other), *key)
    dropped = path.with_name("dropped.jsonl")
    dropped.write_bytes(b"".join([*lines[:-2], lines[-1]]))
    assert "[E_BUNDLE_INCOMPLETE]" in failure(capsys, "verify", str(dropped), *key)
    cut = path.with_name("cut.jsonl")
    cut.write_bytes(b"".join(lines[:-1]))
    assert "[E_BUNDLE_TRUNCATED]" in failure(capsys, "verify", str(cut), *key)
    stranger = generate_ed25519(demo.origin).verifier().to_vkey()
    assert "[E_NOTE_UNVERIFIED]" in failure(capsys, "verify", str(path), "--log-key", stranger)


# -- witnesses -------------------------------------------------------------------------------------


def test_witnesses_k_of_n(capsys: pytest.CaptureFixture[str], tmp_path: Path, demo: Any) -> None:
    witnesses = [generate_cosigner(f"witness{n}.example") for n in range(3)]
    keys = [arg for w in witnesses for arg in ("--witness", w.verifier().to_vkey())]
    policy = tmp_path / "policy"
    policy.write_text(
        f"log {vkey(demo)}\n"
        + "".join(f"witness w{n} {w.verifier().to_vkey()}\n" for n, w in enumerate(witnesses))
        + "group some 2 w0 w1 w2\nquorum some\n"
    )
    for cosigning, ok in ((2, True), (1, False)):
        note = tmp_path / f"checkpoint-{cosigning}"
        note.write_text(add_signatures(demo.head().checkpoint, witnesses[:cosigning]))
        path = export(capsys, tmp_path, "demo-heritage", "--checkpoint", str(note))
        argv = ["verify", str(path), "--log-key", vkey(demo), *keys, "--min-witnesses", "2"]
        if ok:
            code, out, err = run(capsys, *argv)
            assert code == 0, err
            assert "cosigned by witness0.example, witness1.example" in out
            code, out, err = run(capsys, "verify", str(path), "--policy", str(policy), "--json")
            assert code == 0, err
            assert json.loads(out)["witnesses"] == ["w0", "w1"]
        else:
            assert failure(capsys, *argv).endswith("[E_WITNESS_QUORUM]")
            assert "[E_WITNESS_QUORUM]" in failure(
                capsys, "verify", str(path), "--policy", str(policy)
            )
    # Without witness keys, cosignatures are ignored.
    code, _, err = run(capsys, "verify", str(path), "--log-key", vkey(demo))
    assert code == 0, err


# -- consistency with an older checkpoint ----------------------------------------------------------


def _older(demo: Any, tmp_path: Path, size: int) -> Path:
    text = LogCheckpoint.objects.filter(size=size).values_list("text", flat=True).first()
    assert text is not None
    path = tmp_path / f"older-{size}"
    path.write_text(text)
    return path


def _forked(demo: Any, tmp_path: Path, size: int) -> Path:
    """A checkpoint of ``size`` by the same log keys over other entries: a fork."""
    signers = [
        Signer.from_skey((key_dir() / name).read_text().strip())
        for name in (ED25519_KEY_FILE, MLDSA44_KEY_FILE)
    ]
    fork = Log(MemoryStorage(), demo.origin, signers)
    fork.append_batch([f"forked entry {n}".encode() for n in range(size)])
    path = tmp_path / f"forked-{size}"
    path.write_text(fork.head().checkpoint)
    return path


def _proof(capsys: pytest.CaptureFixture[str], tmp_path: Path, old: int, new: int) -> Path:
    code, out, err = run(capsys, "log", "prove-consistency", str(old), str(new))
    assert code == 0, err
    path = tmp_path / f"proof-{old}-{new}"
    path.write_text(out)
    return path


def test_consistency_with_a_proof_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, demo: Any
) -> None:
    path = str(export(capsys, tmp_path, "demo-open-letter"))
    size = demo.size()
    key = ("--log-key", vkey(demo))
    for old in (1, 37, size - 1, size):
        older = _older(demo, tmp_path, old)
        argv = ["verify", path, *key, "--consistency", str(older)]
        if old != size:
            argv += ["--consistency-proof", str(_proof(capsys, tmp_path, old, size))]
        code, out, err = run(capsys, *argv)
        assert code == 0, err
        assert f"consistent with the checkpoint of size {old}" in out
    proof = str(_proof(capsys, tmp_path, 37, size))
    forked = _forked(demo, tmp_path, 37)
    line = failure(
        capsys, "verify", path, *key, "--consistency", str(forked), "--consistency-proof", proof
    )
    assert line.endswith("[E_CONSISTENCY]") and "size 37" in line
    same_size = _forked(demo, tmp_path, size)
    line = failure(capsys, "verify", path, *key, "--consistency", str(same_size))
    assert "fork" in line and line.endswith("[E_CONSISTENCY]")
    line = failure(capsys, "verify", path, *key, "--consistency", str(_older(demo, tmp_path, 37)))
    assert "no consistency proof" in line
    stranger = tmp_path / "stranger"
    stranger.write_text(
        sign_checkpoint(Checkpoint(demo.origin, 3, demo.root(3)), [generate_ed25519(demo.origin)])
    )
    line = failure(
        capsys, "verify", path, *key, "--consistency", str(stranger), "--consistency-proof", proof
    )
    assert "the older checkpoint" in line and line.endswith("[E_NOTE_UNVERIFIED]")


@pytest.fixture
def tile_server(demo: Any) -> Iterator[str]:
    """A tlog-tiles server of the demo log's hash tiles, on loopback."""
    tiles = {"/log/" + t.path: demo.hash_tile(t) for t in tiles_for_size(demo.size())}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = tiles.get(self.path)
            self.send_response(200 if body is not None else 404)
            self.end_headers()
            self.wfile.write(body or b"not found\n")

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_consistency_from_the_servers_tiles(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, demo: Any, tile_server: str
) -> None:
    path = str(export(capsys, tmp_path, "demo-heritage"))
    key = ("--log-key", vkey(demo))
    for old in (1, 37, 64):
        older = _older(demo, tmp_path, old)
        code, out, err = run(
            capsys, "verify", path, *key, "--consistency", str(older), "--server", tile_server
        )
        assert code == 0, err
        assert f"consistent with the checkpoint of size {old}" in out
    forked = _forked(demo, tmp_path, 37)
    line = failure(
        capsys, "verify", path, *key, "--consistency", str(forked), "--server", tile_server
    )
    assert line.endswith("[E_CONSISTENCY]")
    line = failure(
        capsys, "verify", path, *key, "--consistency", str(forked), "--server", "ftp://x/"
    )
    assert "http" in line


# -- the verifier needs no Django ----------------------------------------------------------------


def test_verify_needs_no_django(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, demo: Any
) -> None:
    path = export(capsys, tmp_path, "demo-heritage")
    policy = tmp_path / "policy"
    policy.write_text(f"log {vkey(demo)}\nquorum none\n")
    older = _older(demo, tmp_path, 20)
    proof = _proof(capsys, tmp_path, 20, demo.size())
    for trust in (["--log-key", vkey(demo)], ["--policy", str(policy)]):
        argv = [
            "verify",
            str(path),
            *trust,
            "--consistency",
            str(older),
            "--consistency-proof",
            str(proof),
            "--json",
        ]
        script = (
            "import sys\n"
            "from cosignatory.cli.main import main\n"
            f"code = main({argv!r})\n"
            "assert not any(m == 'django' or m.startswith('django.') for m in sys.modules), "
            "'django'\n"
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
        assert json.loads(done.stdout)["consistent_with_size"] == 20


def test_a_reader_that_stops_early_gets_no_traceback(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, demo: Any
) -> None:
    """``cosignatory verify … | head``: the pipe closes before the table is written."""
    path = export(capsys, tmp_path, "demo-open-letter")
    read_end, write_end = os.pipe()
    os.close(read_end)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO", "COSIGNATORY"))}
    try:
        done = subprocess.run(
            [sys.executable, "-m", "cosignatory", "verify", str(path), "--log-key", vkey(demo)],
            env=env,
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            cwd=tmp_path,
            check=False,
        )
    finally:
        os.close(write_end)
    assert done.returncode == 141, done.stderr
    assert done.stderr == ""
