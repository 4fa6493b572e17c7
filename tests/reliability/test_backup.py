"""``cosignatory backup`` and ``cosignatory restore``, on the database the suite runs on.

The register is backed up in this process (the command's handler, on the test
database); the backup is restored by ``cosignatory`` child processes into a fresh
database (a new SQLite file, or a new PostgreSQL database on the same server), which
is then checked from here through a connection of its own: it rebuilds identical, its
log is consistent with every checkpoint published before the backup, and it takes new
events. Bad input is refused with its code and changes nothing.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import subprocess
import tarfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.utils.module_loading import import_string

from cosignatory.cli.main import main
from cosignatory.tlog.checkpoint import Checkpoint, open_checkpoint, sign_checkpoint
from cosignatory.tlog.log import Log
from cosignatory.tlog.note import KeyType, Signer, generate_ed25519
from cosignatory.tlog.proofs import verify_consistency
from cosignatory.web.log.models import LogCheckpoint
from cosignatory.web.log.services import get_log
from cosignatory.web.register import demo
from cosignatory.web.settings import database_from_url
from tests.dbutil import COSIGNATORY, child_env, database_url
from tests.web.test_register_scenarios import snapshot

pytestmark = pytest.mark.django_db(transaction=True)

LETTER = "demo-open-letter"


# -- helpers ---------------------------------------------------------------------------------


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def child(env: dict[str, str], *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*COSIGNATORY, *argv], env=env, capture_output=True, text=True, timeout=600, check=False
    )


def sign_args(skey: Path, party: str = "FRA") -> list[str]:
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
        "--submit",
        "--json",
    ]


def demo_skey(folder: Path, party: str) -> Path:
    """A demonstration representative's key, as a C2SP skey file."""
    seed = demo.demo_private_key(party).private_bytes_raw()
    path = folder / f"rep-{party.lower()}.skey"
    path.write_text(Signer(f"rep-{party.lower()}", KeyType.ED25519, seed).to_skey() + "\n")
    return path


@contextlib.contextmanager
def fresh_database(tmp_path: Path) -> Iterator[str]:
    """Yield the URL of a new, empty database of the suite's kind; drop it afterwards."""
    if connection.vendor == "sqlite":
        yield f"sqlite://{tmp_path / f'fresh-{uuid.uuid4().hex[:8]}' / 'register.sqlite3'}"
        return
    name = f"cosignatory_restore_{uuid.uuid4().hex[:12]}"
    with connection.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{name}"')
    try:
        yield database_url().rsplit("/", 1)[0] + "/" + name
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextlib.contextmanager
def opened(url: str) -> Iterator[str]:
    """Yield the alias of a connection from this process to the database at ``url``."""
    alias = f"restored-{uuid.uuid4().hex[:8]}"
    entry = database_from_url(url)
    entry.pop("TEST", None)
    entry["CONN_MAX_AGE"] = 0
    settings_dict = connections.configure_settings({DEFAULT_DB_ALIAS: {}, alias: entry})[alias]
    backend = import_string(f"{settings_dict['ENGINE']}.base.DatabaseWrapper")
    wrapper: BaseDatabaseWrapper = backend(settings_dict, alias)
    connections[alias] = wrapper
    try:
        yield alias
    finally:
        wrapper.close()
        del connections[alias]


def consistent(log: Log, old: Checkpoint) -> bool:
    """Whether ``old`` is a prefix of ``log``'s current checkpoint (a consistency proof)."""
    new = log.checkpoint()
    if old.size > new.size:
        return False
    if old.size == 0:
        return True
    proof = log.prove_consistency(old.size, new.size)
    try:
        verify_consistency(old.size, new.size, old.root, new.root, proof)
    except Exception:
        return False
    return True


def published_checkpoints(log: Log) -> list[Checkpoint]:
    texts = LogCheckpoint.objects.order_by("size").values_list("text", flat=True)
    return [open_checkpoint(text, log.verifiers) for text in texts]


def write_backup(path: Path, manifest: dict[str, Any], payload: bytes) -> None:
    """A hand-made backup file: ``manifest`` as given, the payload's length and hash set."""
    manifest["payload"] = {
        "name": manifest["payload"]["name"],
        "bytes": len(payload),
        "sha256": hashlib.sha256(payload).hexdigest(),
    }
    write_tar(path, manifest, payload)


def write_tar(path: Path, manifest: dict[str, Any], payload: bytes) -> None:
    with tarfile.open(path, "w") as archive:
        for name, data in (
            ("manifest.json", json.dumps(manifest).encode()),
            (manifest["payload"]["name"], payload),
        ):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))


def read_backup(path: Path) -> tuple[dict[str, Any], bytes]:
    with tarfile.open(path) as archive:
        manifest = json.load(archive.extractfile("manifest.json"))  # type: ignore[arg-type]
        payload = archive.extractfile(manifest["payload"]["name"]).read()  # type: ignore[union-attr]
    return manifest, payload


@pytest.fixture
def register(log: Any) -> Log:
    """The demo register, committed (other processes read it)."""
    demo.load_demo()
    return log  # type: ignore[no-any-return]


@pytest.fixture
def backup_file(
    capsys: pytest.CaptureFixture[str], register: Log, tmp_path: Path
) -> tuple[Path, dict[str, Any]]:
    path = tmp_path / "register.backup"
    code, out, err = cli(capsys, "backup", str(path), "--json")
    assert (code, err) == (0, ""), err
    return path, json.loads(out)


# -- backup, restore, verify -----------------------------------------------------------------


def test_a_restored_register_rebuilds_identical_and_its_log_is_consistent(
    capsys: pytest.CaptureFixture[str], register: Log, settings: Any, tmp_path: Path
) -> None:
    published = published_checkpoints(register)
    events_before = register.size()
    path = tmp_path / "register.backup"
    code, out, _ = cli(capsys, "backup", str(path), "--json")
    result = json.loads(out)
    assert code == 0
    assert (result["database"], result["size"]) == (connection.vendor, events_before)
    assert result["checkpoint"] == register.head().checkpoint
    assert result["origin"] == settings.COSIGNATORY_LOG_ORIGIN

    # The register goes on after the backup: a signature, and its checkpoint is published.
    skeys = tmp_path / "skeys"
    skeys.mkdir()
    code, out, err = cli(capsys, *sign_args(demo_skey(skeys, "FRA")))
    assert code == 0, err
    after_backup = register.checkpoint()
    assert after_backup.size == events_before + 1

    with fresh_database(tmp_path) as url:
        env = {**child_env(settings), "COSIGNATORY_DATABASE_URL": url}
        restored = child(env, "restore", str(path), "--json")
        assert restored.returncode == 0, restored.stderr
        report = json.loads(restored.stdout)
        assert (report["restored"], report["size"], report["events"]) == (
            True,
            events_before,
            events_before,
        )

        rebuilt = child(env, "rebuild", "--json")
        assert rebuilt.returncode == 0, rebuilt.stderr
        assert json.loads(rebuilt.stdout)["identical"]

        with opened(url) as alias:
            log = get_log(alias)
            assert log.head().checkpoint == result["checkpoint"]
            assert all(consistent(log, old) for old in published)
            # The signature recorded after the backup is not in it.
            assert not consistent(log, after_backup)

        # The restored register takes new events: a signature, by another party.
        signed = child(env, *sign_args(demo_skey(skeys, "DEU"), "DEU"))
        assert signed.returncode == 0, signed.stderr
        assert json.loads(signed.stdout)["log_index"] == events_before
        rebuilt = child(env, "rebuild", "--json")
        assert rebuilt.returncode == 0, rebuilt.stderr
        assert json.loads(rebuilt.stdout)["events"] == events_before + 1
        with opened(url) as alias:
            log = get_log(alias)
            assert log.size() == events_before + 1
            assert all(consistent(log, old) for old in published)
            # A different event at the same index: the checkpoint published after the
            # backup and the restored log have forked (docs/cli.md says what to do).
            assert not consistent(log, after_backup)

        # A second restore refuses to overwrite the register; --force replaces it.
        again = child(env, "restore", str(path))
        assert again.returncode == 1
        assert again.stderr.rstrip().endswith("[E_RESTORE_REFUSED]")
        forced = child(env, "restore", str(path), "--force")
        assert forced.returncode == 0, forced.stderr
        with opened(url) as alias:
            assert get_log(alias).head().checkpoint == result["checkpoint"]
    print(
        f"\nbackup ({connection.vendor}): {events_before} events, "
        f"{result['payload']['bytes']} bytes; restored, rebuilt identical, consistent with "
        f"{len(published)} published checkpoints; one event appended after the restore"
    )


def test_a_backup_that_does_not_verify_is_not_restored(
    capsys: pytest.CaptureFixture[str],
    backup_file: tuple[Path, dict[str, Any]],
    settings: Any,
    tmp_path: Path,
) -> None:
    """A backup taken of a tampered register (its file intact) fails the rebuild."""
    path, manifest = backup_file
    with fresh_database(tmp_path) as url:
        env = {**child_env(settings), "COSIGNATORY_DATABASE_URL": url}
        assert child(env, "restore", str(path)).returncode == 0
        with opened(url) as alias, connections[alias].cursor() as cursor:
            cursor.execute("UPDATE register_party SET code = 'XXX' WHERE id = 'FRA'")
        tampered = tmp_path / "tampered.backup"
        assert child(env, "backup", str(tampered)).returncode == 0
    with fresh_database(tmp_path) as url:
        env = {**child_env(settings), "COSIGNATORY_DATABASE_URL": url}
        refused = child(env, "restore", str(tampered))
        assert refused.returncode == 1
        assert "register_party FRA code" in refused.stderr
        assert refused.stderr.rstrip().endswith("[E_RESTORE_UNVERIFIED]")
        with opened(url) as alias:  # verified before it is committed: nothing written
            assert "tlog_head" not in connections[alias].introspection.table_names()
        # Nor does it replace a good register, even with --force.
        assert child(env, "restore", str(path)).returncode == 0
        forced = child(env, "restore", str(tampered), "--force")
        assert forced.stderr.rstrip().endswith("[E_RESTORE_UNVERIFIED]")
        with opened(url) as alias:
            assert get_log(alias).head().checkpoint == manifest["checkpoint"]
        rebuilt = child(env, "rebuild")
        assert rebuilt.returncode == 0, rebuilt.stderr


WRITER = """
import os, pathlib, sys, django
os.environ["DJANGO_SETTINGS_MODULE"] = "cosignatory.web.settings"
django.setup()
from cosignatory.web.register import services as s
stop, n = pathlib.Path(sys.argv[1]), 0
while not stop.exists():
    s.register_representative(f"rep-load-{n}", f"Representative under load {n}")
    n += 1
    print(n, flush=True)
"""


def test_a_backup_taken_while_events_are_recorded_is_consistent(
    capsys: pytest.CaptureFixture[str], register: Log, settings: Any, tmp_path: Path
) -> None:
    """Another process records events all through the backup, as a running server would.

    The backup must be one instant's: the checkpoint in its manifest is the restored
    log's, and the restored tables rebuild identical from the restored log.
    """
    stop = tmp_path / "stop"
    writer = subprocess.Popen(
        [COSIGNATORY[0], "-c", WRITER, str(stop)],
        env=child_env(settings),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert writer.stdout is not None
    try:
        for _ in range(5):  # wait until the writer is under way
            assert writer.stdout.readline(), writer.stderr.read() if writer.stderr else ""
        path = tmp_path / "under-load.backup"
        code, out, err = cli(capsys, "backup", str(path), "--json")
        assert code == 0, err
        manifest = json.loads(out)
        recorded_during = int(writer.stdout.readline())  # it goes on after the backup
    finally:
        stop.touch()
        writer.communicate(timeout=600)
    assert writer.returncode == 0
    final = register.size()
    assert register.size() > manifest["size"]
    with fresh_database(tmp_path) as url:
        env = {**child_env(settings), "COSIGNATORY_DATABASE_URL": url}
        restored = child(env, "restore", str(path), "--json")
        assert restored.returncode == 0, restored.stderr
        with opened(url) as alias:
            log = get_log(alias)
            assert log.head().checkpoint == manifest["checkpoint"]
            assert consistent(register, log.checkpoint())
    print(
        f"\nbackup under load ({connection.vendor}): taken at log size {manifest['size']} "
        f"while another process recorded events (the log reached {final}, "
        f"{recorded_during}+ events by the writer); restored and verified"
    )


# -- bad input -------------------------------------------------------------------------------


def other_kind() -> tuple[str, str]:
    if connection.vendor == "sqlite":
        return "postgresql", "database.pgdump"
    return "sqlite", "database.sqlite3"


def _not_a_backup(path: Path, manifest: dict[str, Any], payload: bytes) -> None:
    path.write_text("party,representative\nFRA,rep-fra\n")


def _truncated(path: Path, manifest: dict[str, Any], payload: bytes) -> None:
    write_backup(path, manifest, payload)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _damaged(path: Path, manifest: dict[str, Any], payload: bytes) -> None:
    write_backup(path, manifest, payload)  # the manifest now has the intact payload's hash
    flipped = bytearray(payload)
    flipped[len(flipped) // 2] ^= 0xFF
    write_tar(path, manifest, bytes(flipped))


def _not_a_database(path: Path, manifest: dict[str, Any], payload: bytes) -> None:
    """The file is intact (its hash matches) but what it holds is not a database."""
    write_backup(path, manifest, b"SQLite format 3\x00" + bytes(4096))


def _other_database(path: Path, manifest: dict[str, Any], payload: bytes) -> None:
    kind, name = other_kind()
    write_backup(path, {**manifest, "database": kind, "payload": {"name": name}}, payload)


def _newer_format(path: Path, manifest: dict[str, Any], payload: bytes) -> None:
    write_backup(path, {**manifest, "version": 2}, payload)


def _another_log(path: Path, manifest: dict[str, Any], payload: bytes) -> None:
    write_backup(path, {**manifest, "origin": "elsewhere.example/log"}, payload)


def _other_keys(path: Path, manifest: dict[str, Any], payload: bytes) -> None:
    """Signed by another key of the same name: the log's keys in KEY_DIR are not its."""
    origin = manifest["origin"]
    checkpoint = Checkpoint(origin, manifest["size"], b"\x00" * 32)
    text = sign_checkpoint(checkpoint, [generate_ed25519(origin)])
    write_backup(path, {**manifest, "checkpoint": text}, payload)


BAD = {
    "not a backup": (_not_a_backup, "E_BACKUP_INVALID"),
    "truncated": (_truncated, "E_BACKUP_INVALID"),
    "damaged": (_damaged, "E_BACKUP_INVALID"),
    "holding no database": (_not_a_database, "E_BACKUP_INVALID"),
    "of the other kind of database": (_other_database, "E_BACKUP_DATABASE"),
    "of a newer format": (_newer_format, "E_BACKUP_INVALID"),
    "of another log": (_another_log, "E_RESTORE_REFUSED"),
    "signed by other keys": (_other_keys, "E_RESTORE_UNVERIFIED"),
}


@pytest.mark.parametrize("name", list(BAD))
def test_a_bad_backup_file_is_refused_and_changes_nothing(
    capsys: pytest.CaptureFixture[str],
    backup_file: tuple[Path, dict[str, Any]],
    tmp_path: Path,
    name: str,
) -> None:
    make, code = BAD[name]
    manifest, payload = read_backup(backup_file[0])
    bad = tmp_path / "bad.backup"
    make(bad, manifest, payload)
    before = snapshot()
    # --force: the file itself must stop the restore, not the register already there.
    status, out, err = cli(capsys, "restore", str(bad), "--force")
    assert (status, out) == (1, "")
    assert err.startswith("cosignatory: error: ") and err.rstrip().endswith(f"[{code}]"), err
    assert len(err.splitlines()) == 1
    assert snapshot() == before
    print(f"\nrestore of a backup {name}: {err.strip()}")


def test_restore_refuses_to_overwrite_a_register_without_force(
    capsys: pytest.CaptureFixture[str], backup_file: tuple[Path, dict[str, Any]]
) -> None:
    before = snapshot()
    status, out, err = cli(capsys, "restore", str(backup_file[0]))
    assert (status, out) == (1, "")
    assert "restore with --force" in err and err.rstrip().endswith("[E_RESTORE_REFUSED]")
    assert snapshot() == before


def test_backup_refuses_to_overwrite_a_file_and_a_missing_file_is_named(
    capsys: pytest.CaptureFixture[str], backup_file: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    path, _ = backup_file
    written = path.read_bytes()
    status, _, err = cli(capsys, "backup", str(path))
    assert status == 1 and "use --force" in err
    assert path.read_bytes() == written
    status, _, err = cli(capsys, "restore", str(tmp_path / "missing.backup"))
    assert status == 1 and "no such backup file" in err


@pytest.mark.parametrize("command", ["backup", "restore"])
def test_help(capsys: pytest.CaptureFixture[str], command: str) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    assert "usage: cosignatory" in capsys.readouterr().out


def test_rebuild_and_backup_of_a_database_without_a_register_say_so(
    settings: Any, log: Any, tmp_path: Path
) -> None:
    with fresh_database(tmp_path) as url:
        env = {**child_env(settings), "COSIGNATORY_DATABASE_URL": url}
        for argv in (["rebuild"], ["backup", str(tmp_path / "nothing.backup")]):
            result = child(env, *argv)
            assert result.returncode == 1, result.stderr
            # A new SQLite file does not exist yet: backup names it.
            assert any(
                reason in result.stderr for reason in ("cosignatory log init", "no such database")
            )
            assert len(result.stderr.splitlines()) == 1, result.stderr
        assert not (tmp_path / "nothing.backup").exists()
