"""The backup file: a tar archive of ``manifest.json`` and one database payload.

``manifest.json`` says what the file is (``format``, ``version``), which kind of
database it holds, the log's ``origin`` with its ``size`` and signed ``checkpoint`` at
the moment of the backup, and the payload's ``name``, ``bytes`` and ``sha256``, so a
truncated or damaged file is refused before anything is restored (docs/cli.md).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import tarfile
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cosignatory import __version__
from cosignatory.cli.common import CommandError
from cosignatory.errors import CosignatoryError

FORMAT = "cosignatory-backup"
VERSION = 1
MANIFEST = "manifest.json"
PAYLOADS = {"sqlite": "database.sqlite3", "postgresql": "database.pgdump"}
_MANIFEST_LIMIT = 1 << 20
_COPY_CHUNK = 1 << 20


class BackupInvalidError(CosignatoryError):
    """The file is not a Cosignatory backup, or it is truncated or damaged."""

    code = "E_BACKUP_INVALID"


@dataclass(frozen=True)
class Manifest:
    """What a backup file says about itself; built only by :meth:`from_json`."""

    database: str
    origin: str
    size: int
    checkpoint: str
    created: str
    payload_bytes: int
    payload_sha256: str

    @property
    def payload_name(self) -> str:
        return PAYLOADS[self.database]

    def to_json(self) -> dict[str, Any]:
        """The manifest as ``manifest.json`` holds it."""
        return {
            "format": FORMAT,
            "version": VERSION,
            "database": self.database,
            "origin": self.origin,
            "size": self.size,
            "checkpoint": self.checkpoint,
            "created": self.created,
            "cosignatory": __version__,
            "payload": {
                "name": self.payload_name,
                "bytes": self.payload_bytes,
                "sha256": self.payload_sha256,
            },
        }

    @classmethod
    def from_json(cls, data: bytes) -> Manifest:
        """Parse a manifest; raises BackupInvalidError for anything but version 1's shape."""
        try:
            value = json.loads(data)
            if value.get("format") != FORMAT:
                raise BackupInvalidError("the file is not a Cosignatory backup")
            if value.get("version") != VERSION:
                raise BackupInvalidError(
                    f"backup format version {value.get('version')!r} is not supported "
                    f"(this is cosignatory {__version__}, which reads version {VERSION})"
                )
            payload = value["payload"]
            manifest = cls(
                database=value["database"],
                origin=value["origin"],
                size=value["size"],
                checkpoint=value["checkpoint"],
                created=value["created"],
                payload_bytes=payload["bytes"],
                payload_sha256=payload["sha256"],
            )
            types_ok = all(
                isinstance(v, t)
                for v, t in (
                    (manifest.origin, str),
                    (manifest.size, int),
                    (manifest.checkpoint, str),
                    (manifest.created, str),
                    (manifest.payload_bytes, int),
                    (manifest.payload_sha256, str),
                )
            )
            if not types_ok or manifest.database not in PAYLOADS:
                raise BackupInvalidError("the backup's manifest is malformed")
            if payload.get("name") != manifest.payload_name:
                raise BackupInvalidError("the backup's manifest names the wrong payload")
        except (ValueError, TypeError, KeyError, AttributeError) as error:
            raise BackupInvalidError(f"the backup's manifest is malformed: {error}") from None
        return manifest


def sha256_file(path: Path) -> str:
    """Return the hex SHA-256 of the file at ``path``, read a chunk at a time."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_COPY_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def write_backup(target: Path, manifest: Manifest, payload: Path, force: bool) -> None:
    """Write the archive next to ``target`` and rename it into place: never half a file."""
    if target.exists() and not force:
        raise CommandError(f"{target} exists; use --force to overwrite it")
    data = json.dumps(manifest.to_json(), indent=2, sort_keys=True).encode() + b"\n"
    handle, name = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent or ".")
    temporary = Path(name)
    try:
        with os.fdopen(handle, "wb") as raw, tarfile.open(fileobj=raw, mode="w") as archive:
            info = tarfile.TarInfo(MANIFEST)
            info.size, info.mode, info.mtime = len(data), 0o600, int(datetime.now(UTC).timestamp())
            archive.addfile(info, io.BytesIO(data))
            archive.add(payload, arcname=manifest.payload_name, recursive=False)
            raw.flush()
            os.fsync(raw.fileno())
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def read_backup(path: Path, folder: Path) -> tuple[Manifest, Path]:
    """Check the backup file ``path``; extract its payload into ``folder``.

    Returns the manifest and the payload's path. Raises BackupInvalidError if the file
    is not a backup, or its payload is missing, truncated or not what the manifest says.
    """
    if not path.is_file():
        raise CommandError(f"no such backup file: {path}")
    try:
        with tarfile.open(path, mode="r:") as archive:
            first = archive.next()
            if first is None or first.name != MANIFEST or not first.isfile():
                raise BackupInvalidError(f"{path} is not a Cosignatory backup (no manifest)")
            if first.size > _MANIFEST_LIMIT:
                raise BackupInvalidError("the backup's manifest is too large")
            manifest = Manifest.from_json(_read_member(archive, first))
            member = archive.next()
            if member is None or member.name != manifest.payload_name or not member.isfile():
                raise BackupInvalidError("the backup holds no database: it is truncated")
            payload = folder / manifest.payload_name
            _extract(archive, member, payload)
    except (tarfile.TarError, EOFError) as error:
        raise BackupInvalidError(
            f"{path} is not a Cosignatory backup, or it is truncated: {error}"
        ) from None
    if payload.stat().st_size != manifest.payload_bytes:
        raise BackupInvalidError("the backup's database is truncated")
    if sha256_file(payload) != manifest.payload_sha256:
        raise BackupInvalidError(
            "the backup's database is damaged: its SHA-256 is not the manifest's"
        )
    return manifest, payload


def _read_member(archive: tarfile.TarFile, member: tarfile.TarInfo) -> bytes:
    source = archive.extractfile(member)
    assert source is not None  # a regular file
    data = source.read()
    if len(data) != member.size:
        raise BackupInvalidError("the backup is truncated")
    return data


def _extract(archive: tarfile.TarFile, member: tarfile.TarInfo, target: Path) -> None:
    source = archive.extractfile(member)
    assert source is not None  # a regular file
    with target.open("wb") as out:
        shutil.copyfileobj(source, out, _COPY_CHUNK)
