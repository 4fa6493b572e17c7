"""What the crash tests share: a register with many signatories, the production server
as a process group that can be killed with SIGKILL, and the log read back and checked.

The server is started as the README starts it (``cosignatory serve``), in a session of
its own, so one ``killpg`` takes down gunicorn's master, its workers and the notice
courier at once, as a power cut or the kernel's OOM killer would.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.db import transaction
from django.utils import timezone

from cosignatory.core.statements import SignedStatement, Statement
from cosignatory.tlog.checkpoint import Checkpoint, open_checkpoint
from cosignatory.tlog.hashing import leaf_hash, root_of
from cosignatory.tlog.note import Verifier
from cosignatory.tlog.proofs import consistency_proof, verify_consistency
from cosignatory.tlog.storage import TileKey
from cosignatory.tlog.tiled import TiledTree
from cosignatory.web.log.models import LogEntry, LogHead, LogTile
from cosignatory.web.register import models as m
from cosignatory.web.register import services as s

COSIGNATORY = str(Path(sys.executable).with_name("cosignatory"))
TEXTS = {"en": "We, the undersigned, ask that this letter be recorded."}


def trials(default: int) -> int:
    """The number of kills per database: ``COSIGNATORY_CRASH_TRIALS``, else ``default``."""
    return int(os.environ.get("COSIGNATORY_CRASH_TRIALS", default))


# -- the register ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Signatory:
    """A party, the representative who signs for it, and that representative's key."""

    party: str
    representative: str
    key: str
    private_key: Ed25519PrivateKey

    def statement(self, action: str, letter: OpenLetter) -> SignedStatement:
        """``action`` on ``letter`` for the party, now, signed with the key."""
        statement = Statement(
            action,
            letter.id,
            letter.version,
            letter.text_hash,
            self.party,
            self.representative,
            self.key,
            datetime.now(UTC),
        )
        return SignedStatement(statement, statement.sign(self.private_key))


@dataclass(frozen=True)
class OpenLetter:
    """A letter open for signature: the text version statements must name."""

    id: str
    version: int
    text_hash: str


def make_parties(count: int, prefix: str = "org") -> list[str]:
    """Register ``count`` organisations, all in one transaction (one commit, not ``count``)."""
    ids = [f"{prefix}-{n:05d}" for n in range(count)]
    with transaction.atomic():
        for party in ids:
            s.register_party(party, "organisation", {"en": f"Organisation {party}"})
    return ids


def make_signatories(count: int) -> list[Signatory]:
    """Parties, each with a representative holding a mandate and a registered key."""
    since = timezone.now() - timedelta(days=30)
    parties = make_parties(count)
    found = []
    with transaction.atomic():
        for party in parties:
            representative, key = f"rep-{party}", f"key-{party}"
            private = Ed25519PrivateKey.generate()
            s.register_representative(representative, f"Representative of {party}")
            s.grant_mandate(
                f"mandate-{party}",
                representative,
                party,
                since,
                None,
                {"kind": "note-verbale", "reference": f"CRED/{party}", "date": "2026-10-01"},
            )
            s.register_key(key, representative, private.public_key().public_bytes_raw(), since)
            found.append(Signatory(party, representative, key, private))
    return found


def make_letters(count: int, lead: str, prefix: str = "letter") -> list[OpenLetter]:
    """``count`` letters, each with one text version and open for signature."""
    letters = []
    with transaction.atomic():
        for n in range(count):
            letter = f"{prefix}-{n:04d}"
            s.create_letter(
                letter,
                {"en": f"Joint letter {n}"},
                ["The President"],
                lead,
                datetime.now(UTC).date(),
            )
            s.add_text_version(letter, TEXTS)
            s.open_letter(letter)
            text = m.TextVersion.objects.get(letter_id=letter, version=1)
            letters.append(OpenLetter(letter, 1, text.text_hash))
    return letters


# -- the server -------------------------------------------------------------------------------


def get(url: str, timeout: float = 10) -> str:
    """The body of a GET answered 200; raises OSError (incl. HTTPError) otherwise."""
    with urllib.request.urlopen(url, timeout=timeout) as response:
        body: bytes = response.read()
    return body.decode()


class Server:
    """``cosignatory serve --no-demo`` in a session of its own, restartable and killable."""

    def __init__(self, port: int, env: dict[str, str], output: IO[bytes]) -> None:
        self.port = port
        self.base = f"http://127.0.0.1:{port}"
        self.env = env
        self.output = output
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self, timeout: float = 120) -> None:
        """Start the server and return once it answers (polled every 20 ms)."""
        command = [COSIGNATORY, "serve", "--no-demo", "--port", str(self.port)]
        command += ["--workers", "2", "--threads", "4"]
        self.process = subprocess.Popen(
            command,
            env=self.env,
            stdout=self.output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.starts += 1
        deadline = time.monotonic() + timeout
        while True:
            try:
                get(self.base + "/log/checkpoint", timeout=5)
                return
            except OSError:
                if self.process.poll() is not None:
                    raise AssertionError(
                        f"the server exited with {self.process.returncode}"
                    ) from None
                if time.monotonic() > deadline:
                    raise AssertionError(f"the server did not answer in {timeout} s") from None
                time.sleep(0.02)

    def kill(self) -> None:
        """SIGKILL the whole process group, and wait until none of it is left running."""
        if self.process is not None:
            kill_group(self.process)
            self.process = None


def kill_group(process: subprocess.Popen[Any]) -> None:
    """SIGKILL ``process``'s group (it leads a session of its own), and wait until none
    of the group is left running."""
    pgid = process.pid
    with contextlib.suppress(ProcessLookupError):  # it may have ended already
        os.killpg(pgid, signal.SIGKILL)
    process.communicate()
    deadline = time.monotonic() + 30
    while _alive_in_group(pgid):
        if time.monotonic() > deadline:
            raise AssertionError(f"processes of group {pgid} survived SIGKILL")
        time.sleep(0.01)


def _alive_in_group(pgid: int) -> bool:
    """Whether any process of group ``pgid`` is still running (zombies do not count)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid pgrp ...: comm may hold spaces, so split after its ')'.
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


# -- the log, read back and checked -----------------------------------------------------------


@dataclass(frozen=True)
class LogState:
    """The committed log and its head as the database holds them, checked for agreement:
    the checkpoint verifies with the log's vkey, its size is the number of entries and of
    event records, and the root recomputed from the entries and from the tiles is the
    root it signs."""

    checkpoint: Checkpoint
    checkpoint_text: str
    entries: list[bytes]
    tiles: dict[TileKey, bytes]

    @classmethod
    def read(cls, verifier: Verifier, origin: str) -> LogState:
        head = LogHead.objects.get()
        checkpoint = open_checkpoint(head.checkpoint, [verifier], origin=origin)
        rows = list(LogEntry.objects.order_by("index").values_list("index", "data"))
        assert [index for index, _ in rows] == list(range(len(rows))), "entries have gaps"
        entries = [bytes(data) for _, data in rows]
        assert checkpoint.size == head.size == len(entries), (checkpoint.size, len(entries))
        records = set(m.EventRecord.objects.values_list("log_index", flat=True))
        assert records == set(range(len(entries))), "event records differ from the log entries"
        assert root_of([leaf_hash(entry) for entry in entries]) == checkpoint.root
        tiles = {(t.level, t.index): bytes(t.data) for t in LogTile.objects.all()}
        state = cls(checkpoint, head.checkpoint, entries, tiles)
        assert state.tree(checkpoint.size).root() == checkpoint.root, "tiles disagree with root"
        return state

    def tree(self, size: int) -> TiledTree:
        def read(keys: Any) -> dict[TileKey, bytes]:
            return {key: self.tiles[key] for key in keys if key in self.tiles}

        return TiledTree(size, read)

    def events(self) -> list[dict[str, Any]]:
        return [json.loads(entry) for entry in self.entries]


class CheckpointHistory:
    """Every checkpoint seen so far; each new one must be consistent with every earlier
    one (RFC 9162 §2.1.4 proofs, computed from the stored tiles and verified)."""

    def __init__(self, verifier: Verifier, origin: str) -> None:
        self.verifier = verifier
        self.origin = origin
        self.seen: dict[int, bytes] = {}
        self.proofs_verified = 0

    def add(self, text: str, state: LogState) -> None:
        """Verify ``text``'s signature and its consistency with every earlier checkpoint,
        using ``state`` (the log as it is now, at least as large). Raises on any failure."""
        checkpoint = open_checkpoint(text, [self.verifier], origin=self.origin)
        size, root = checkpoint.size, checkpoint.root
        assert size <= state.checkpoint.size, "a checkpoint ahead of the committed log"
        known = self.seen.get(size)
        assert known is None or known == root, f"two roots for size {size}"
        new_tree = state.tree(state.checkpoint.size)
        # The new checkpoint is a prefix of the present log ...
        if size:
            proof = consistency_proof(size, state.checkpoint.size, new_tree.range_hash)
            verify_consistency(size, state.checkpoint.size, root, state.checkpoint.root, proof)
        # ... and every earlier one is a prefix of the new one.
        tree = state.tree(size)
        for old_size, old_root in self.seen.items():
            assert old_size <= size, f"the log shrank from {old_size} to {size} entries"
            if old_size:
                proof = consistency_proof(old_size, size, tree.range_hash)
                verify_consistency(old_size, size, old_root, root, proof)
                self.proofs_verified += 1
        self.seen[size] = root


def signature_of(event: dict[str, Any]) -> str | None:
    """The base64 signature of a self-signed statement an event records, if any."""
    evidence = event.get("data", {}).get("evidence", {})
    return evidence.get("signature") if evidence.get("kind") == "self-signed" else None


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def rebuild_matches(env: dict[str, str]) -> dict[str, Any]:
    """Run ``cosignatory rebuild --json`` against the test database; return its report.

    Raises AssertionError with the report if the tables differ from the log's replay.
    """
    done = subprocess.run(
        [COSIGNATORY, "rebuild", "--json"], env=env, capture_output=True, text=True, timeout=600
    )
    report: dict[str, Any] = json.loads(done.stdout) if done.stdout.strip() else {}
    assert done.returncode == 0 and report.get("identical"), (done.returncode, done.stderr, report)
    return report


def fetch_checkpoint(base: str) -> str | None:
    """The checkpoint the server serves now, or None if it does not answer."""
    try:
        return get(base + "/log/checkpoint", timeout=5)
    except (OSError, urllib.error.URLError):
        return None
