"""Witnesses on loopback: two ``cosignatory witness serve`` processes and the register's log.

The log submits its checkpoints to both and serves them cosigned. A fork of the log
(the same key and origin, other entries) is refused by both, so it cannot gather the
cosignatures a verifier asks for. Every witness here is a real process with its own
SQLite state file; nothing is mocked.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from cosignatory.cli.main import main
from cosignatory.tlog.checkpoint import open_checkpoint
from cosignatory.tlog.errors import SignatureInvalidError, UnverifiedNoteError
from cosignatory.tlog.log import Log
from cosignatory.tlog.note import KeyType, Note, Verifier, open_note
from cosignatory.tlog.storage import MemoryStorage
from cosignatory.tlog.witness import (
    SQLiteWitnessState,
    TreeHead,
    WitnessConflictError,
    WitnessProofError,
    WitnessRequestError,
    submit,
)
from cosignatory.web.log.models import LogCheckpoint, LogCosignature, LogWitness
from cosignatory.web.log.services import get_log
from cosignatory.web.log.witnesses import submit_checkpoint, wait_for_submissions

STARTUP = 30  # seconds a witness may take to start listening

# The witness runs under main(), then proves it never imported Django (DESIGN.md:
# `witness` uses only core and tlog) before it exits.
_SCRIPT = (
    "import sys\n"
    "from cosignatory.cli.main import main\n"
    "code = main(sys.argv[1:])\n"
    "if any(m == 'django' or m.startswith('django.') for m in sys.modules):\n"
    "    sys.exit('the witness imported Django')\n"
    "sys.exit(code)\n"
)


class WitnessProcess:
    """``cosignatory witness serve`` in a child process, with no Django settings."""

    def __init__(self, folder: Path, name: str, log_vkeys: list[str]) -> None:
        self.folder = folder
        self.state = folder / f"{name}.sqlite3"
        prefix = folder / name
        keygen = ["keygen", f"witness.example/{name}", "--type", "cosigner", "--out", str(prefix)]
        assert main(keygen) == 0
        self.skey = prefix.with_name(name + ".skey")
        self.vkey = prefix.with_name(name + ".vkey").read_text().strip()
        self.verifier = Verifier.from_vkey(self.vkey)
        self.log_vkeys = log_vkeys
        self.listen = "127.0.0.1:0"
        self.url = ""
        self.process: subprocess.Popen[str] | None = None

    def start(self) -> None:
        argv = ["witness", "serve", "--key", str(self.skey), "--state", str(self.state)]
        for vkey in self.log_vkeys:
            argv += ["--log", vkey]
        argv += ["--listen", self.listen]
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO", "COSIGNATORY"))}
        self.process = subprocess.Popen(
            [sys.executable, "-c", _SCRIPT, *argv],
            env=env,
            cwd=self.folder,
            stdout=subprocess.PIPE,
            stderr=(self.folder / f"{self.state.stem}.log").open("a"),
            text=True,
        )
        assert self.process.stdout is not None
        ready, _, _ = select.select([self.process.stdout], [], [], STARTUP)
        line = self.process.stdout.readline() if ready else ""
        assert line.startswith("witness listening on http://"), (line, self.errors())
        self.url = line.split()[3]
        self.listen = self.url.removeprefix("http://")  # a restart keeps the port

    def stop(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=30)
        assert self.process.stdout is not None
        self.process.stdout.close()
        self.process = None
        assert code == 0, self.errors()

    def errors(self) -> str:
        path = self.folder / f"{self.state.stem}.log"
        return path.read_text() if path.exists() else ""

    def head(self, origin: str) -> TreeHead | None:
        """The witness's recorded tree head, read from its state file."""
        state = SQLiteWitnessState(self.state)
        try:
            return state.latest(origin)
        finally:
            state.close()


@pytest.fixture
def witnesses(log_settings: Any, tmp_path: Path) -> Iterator[list[WitnessProcess]]:
    """Two running witnesses that trust the test log's keys, configured for the log."""
    log_vkeys = [v.to_vkey() for v in get_log().verifiers]  # Ed25519 and ML-DSA-44
    started = [WitnessProcess(tmp_path, name, log_vkeys) for name in ("w1", "w2")]
    try:
        for witness in started:
            witness.start()
        log_settings.COSIGNATORY_WITNESSES = [(w.url, w.vkey) for w in started]
        yield started
    finally:
        for witness in started:
            if witness.process is not None:
                witness.stop()


def cosigners(note_text: str, witnesses: list[WitnessProcess]) -> int:
    """How many of the witnesses' keys verifiably cosigned the note (0x04 keys only)."""
    keys = [w.verifier for w in witnesses]
    assert all(k.key_type is KeyType.COSIGNATURE_ED25519 for k in keys)
    try:
        return len(open_note(note_text, keys).verifiers)
    except UnverifiedNoteError:
        return 0


def fork_of(log: Log, entries: list[bytes]) -> Log:
    """Another log with the same keys and origin: what a compromised log could show."""
    forked = Log(MemoryStorage(), log.origin, log.signers)
    forked.append_batch(entries)
    return forked


def entries(prefix: str, count: int) -> list[bytes]:
    return [f"{prefix} {i}".encode() for i in range(count)]


def test_the_log_is_cosigned_and_a_fork_is_refused(
    client: Client, log: Log, witnesses: list[WitnessProcess]
) -> None:
    log.append_batch(entries("event", 10))
    results = submit_checkpoint(log)
    assert [(r.size, r.error) for r in results] == [(10, None), (10, None)]

    # /log/checkpoint carries both cosignatures and still opens with the log's key.
    served = client.get("/log/checkpoint").content.decode()
    assert open_checkpoint(served, log.verifiers[:1]).size == 10
    assert len(Note.from_text(served).signatures) == 4  # Ed25519, ML-DSA-44, w1, w2
    assert cosigners(served, witnesses) == 2
    for witness in witnesses:
        assert open_note(served, [witness.verifier]).verifiers == (witness.verifier,)

    # The log grows; each witness checks the consistency proof from 10.
    log.append_batch(entries("more", 5))
    assert [r.size for r in submit_checkpoint(log)] == [15, 15]
    served = client.get("/log/checkpoint").content.decode()
    assert cosigners(served, witnesses) == 2
    assert LogWitness.objects.filter(size=15).count() == 2
    genuine = TreeHead(15, log.root(15))

    # A fork: same key, same origin, same size, another root.
    fork = fork_of(log, entries("forged", 15))
    forked = fork.head().checkpoint
    assert open_checkpoint(forked, log.verifiers).size == 15  # the log key did sign it
    for witness in witnesses:
        for old in (15, 0):  # claiming the witness's size, or claiming to be new
            with pytest.raises(WitnessConflictError) as raised:
                submit(witness.url, old, [], forked)
            assert raised.value.status == 409 and raised.value.known_size == 15
        # Grown further, the fork cannot prove itself consistent with what was cosigned.
        grown = fork_of(log, entries("forged", 15) + entries("forged more", 3))
        with pytest.raises(WitnessProofError) as proof_error:
            submit(witness.url, 15, grown.prove_consistency(15, 18), grown.head().checkpoint)
        assert proof_error.value.status == 422
        assert witness.head(log.origin) == genuine  # nothing changed

    # A rollback to an older checkpoint of the genuine log is refused too.
    older = LogCheckpoint.objects.get(size=10).text
    for witness in witnesses:
        with pytest.raises(WitnessRequestError) as bad_request:
            submit(witness.url, 15, [], older)  # old beyond the checkpoint: 400
        assert bad_request.value.status == 400
        with pytest.raises(WitnessConflictError) as conflict:
            submit(witness.url, 10, [], older)
        assert conflict.value.known_size == 15
        assert witness.head(log.origin) == genuine

    # A verifier that wants cosignatures finds two on the genuine checkpoint, none on
    # the fork; the genuine cosignatures do not verify on the fork's tree.
    assert cosigners(served, witnesses) == 2
    assert cosigners(forked, witnesses) == 0
    cosignature_lines = "".join(
        line + "\n"
        for line in LogCosignature.objects.filter(size=15).values_list("line", flat=True)
    )
    with pytest.raises(SignatureInvalidError):
        open_note(forked + cosignature_lines, [w.verifier for w in witnesses])


def test_a_restarted_witness_keeps_its_state(
    client: Client, log: Log, witnesses: list[WitnessProcess]
) -> None:
    log.append_batch(entries("event", 8))
    submit_checkpoint(log)
    first = witnesses[0]
    first.stop()
    first.start()
    with pytest.raises(WitnessConflictError) as raised:
        submit(first.url, 8, [], fork_of(log, entries("forged", 8)).head().checkpoint)
    assert raised.value.known_size == 8
    log.append_batch(entries("after restart", 4))
    assert [(r.size, r.error) for r in submit_checkpoint(log)] == [(12, None), (12, None)]
    assert cosigners(client.get("/log/checkpoint").content.decode(), witnesses) == 2


def test_a_witness_that_was_down_catches_up(
    client: Client, log: Log, witnesses: list[WitnessProcess]
) -> None:
    log.append_batch(entries("event", 5))
    submit_checkpoint(log)
    down = witnesses[1]
    down.stop()
    log.append_batch(entries("while down", 6))
    results = submit_checkpoint(log)
    assert results[0].size == 11 and results[1].size is None
    assert results[1].error is not None and results[1].error.code == "E_WITNESS_UNAVAILABLE"
    served = client.get("/log/checkpoint").content.decode()
    assert cosigners(served, witnesses) == 1  # only cosignatures of exactly this tree

    down.start()
    log.append_batch(entries("back", 2))
    assert [r.size for r in submit_checkpoint(log)] == [13, 13]  # w2 proves from 5
    assert cosigners(client.get("/log/checkpoint").content.decode(), witnesses) == 2


def test_a_stale_record_is_corrected_by_the_witness_409(
    log: Log, witnesses: list[WitnessProcess]
) -> None:
    log.append_batch(entries("event", 9))
    submit_checkpoint(log)
    LogWitness.objects.update(size=3)  # as if the log had lost its record
    log.append_batch(entries("more", 2))
    assert [(r.size, r.error) for r in submit_checkpoint(log)] == [(11, None), (11, None)]
    assert set(LogWitness.objects.values_list("size", flat=True)) == {11}


def test_the_log_witness_command(
    capsys: pytest.CaptureFixture[str], log: Log, witnesses: list[WitnessProcess]
) -> None:
    log.append_batch(entries("event", 3))
    assert main(["log", "witness"]) == 0
    out = capsys.readouterr().out
    assert out.count("cosigned size 3") == 2
    witnesses[0].stop()
    assert main(["log", "witness"]) == 1
    captured = capsys.readouterr()
    assert "[E_WITNESS_UNAVAILABLE]" in captured.out and "1 of 2" in captured.err


@pytest.mark.django_db(transaction=True)
def test_appends_are_submitted_in_the_background(
    client: Client, witnesses: list[WitnessProcess]
) -> None:
    log = get_log()
    log.initialise()
    for i in range(5):
        log.append_batch(entries(f"batch {i}", 3))
    assert wait_for_submissions(timeout=60)
    # The kicks coalesce; the last round submits the latest checkpoint.
    assert set(LogWitness.objects.values_list("size", flat=True)) == {15}
    assert cosigners(client.get("/log/checkpoint").content.decode(), witnesses) == 2


def test_without_witnesses_the_checkpoint_is_the_logs_own(client: Client, log: Log) -> None:
    log.append_batch(entries("event", 2))
    assert submit_checkpoint(log) == []
    assert client.get("/log/checkpoint").content.decode() == log.head().checkpoint


def test_the_offline_verifier_counts_the_cosignatures(
    capsys: pytest.CaptureFixture[str],
    log_settings: Any,
    db: None,
    witnesses: list[WitnessProcess],
    tmp_path: Path,
) -> None:
    """`cosignatory verify --witness ... --min-witnesses K` on a letter's bundle."""
    from cosignatory.web.register.models import Letter

    assert main(["demo"]) == 0
    log = get_log()
    assert all(r.error is None for r in submit_checkpoint(log))
    letter = str(Letter.objects.order_by("pk").values_list("pk", flat=True)[0])
    trust = ["--log-key", log.verifiers[0].to_vkey()]
    for witness in witnesses:
        trust += ["--witness", witness.vkey]

    cosigned = tmp_path / "cosigned.jsonl"
    assert main(["export", "bundle", letter, "--output", str(cosigned)]) == 0
    capsys.readouterr()
    assert main(["verify", str(cosigned), *trust, "--min-witnesses", "2"]) == 0

    # The same tree under the log's signatures alone: no witness vouches for it.
    plain_checkpoint = tmp_path / "checkpoint"
    plain_checkpoint.write_text(log.head().checkpoint)
    plain = tmp_path / "plain.jsonl"
    argv = ["export", "bundle", letter, "--checkpoint", str(plain_checkpoint)]
    assert main([*argv, "--output", str(plain)]) == 0
    capsys.readouterr()
    assert main(["verify", str(plain), *trust, "--min-witnesses", "1"]) == 1
    assert "[E_WITNESS_QUORUM]" in capsys.readouterr().err


def test_the_witnesses_setting(log_settings: Any) -> None:
    from django.core.exceptions import ImproperlyConfigured

    from cosignatory.tlog.note import generate_cosigner, generate_ed25519
    from cosignatory.web.log.witnesses import configured_witnesses
    from cosignatory.web.settings import witnesses_from_env

    assert witnesses_from_env("") == []
    assert witnesses_from_env(" http://a|k1 ;http://b|k2;") == [
        ("http://a", "k1"),
        ("http://b", "k2"),
    ]
    with pytest.raises(ImproperlyConfigured):
        witnesses_from_env("http://a")
    good = generate_cosigner("witness.example/good").verifier().to_vkey()
    log_settings.COSIGNATORY_WITNESSES = [("http://127.0.0.1:1", good)]
    assert [w.verifier.to_vkey() for w in configured_witnesses()] == [good]
    for url, vkey in [
        ("file:///etc/passwd", good),
        ("http://127.0.0.1:1", "not a vkey"),
        ("http://127.0.0.1:1", generate_ed25519("plain").verifier().to_vkey()),  # not 0x04
    ]:
        log_settings.COSIGNATORY_WITNESSES = [(url, vkey)]
        with pytest.raises(ImproperlyConfigured):
            configured_witnesses()
