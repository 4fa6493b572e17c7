"""The log as the web layer sees it: one :class:`Log` per process, keys from the data folder.

The log's signing keys are files in ``COSIGNATORY_KEY_DIR``: an Ed25519 key (required
by tlog-tiles) and an ML-DSA-44 key, both named after ``COSIGNATORY_LOG_ORIGIN``.
``ensure_log_keys`` makes them once; nothing else writes them.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from cosignatory.tlog.log import Log
from cosignatory.tlog.note import Signer, generate_ed25519, generate_mldsa44
from cosignatory.web.log.storage import DjangoLogStorage

ED25519_KEY_FILE = "log-ed25519.skey"
MLDSA44_KEY_FILE = "log-mldsa44.skey"


def key_dir() -> Path:
    """Return the folder that holds the log's signing keys."""
    return Path(settings.COSIGNATORY_KEY_DIR)


def ensure_log_keys() -> list[Path]:
    """Create the log's signing keys if they do not exist; return the files created."""
    folder = key_dir()
    folder.mkdir(parents=True, exist_ok=True)
    origin = settings.COSIGNATORY_LOG_ORIGIN
    created = []
    for name, generate in (
        (ED25519_KEY_FILE, generate_ed25519),
        (MLDSA44_KEY_FILE, generate_mldsa44),
    ):
        path = folder / name
        if path.exists():
            continue
        # O_EXCL: two processes starting at once must not both write a key.
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            continue
        with os.fdopen(fd, "w") as handle:
            handle.write(generate(origin).to_skey() + "\n")
        created.append(path)
    return created


@functools.cache
def _load_log(origin: str, folder: str, using: str) -> Log:
    signers = []
    for name in (ED25519_KEY_FILE, MLDSA44_KEY_FILE):
        path = Path(folder) / name
        if not path.exists():
            raise ImproperlyConfigured(
                f"the log's key {path} is missing; run `cosignatory log init` first"
            )
        signers.append(Signer.from_skey(path.read_text().strip()))
    # The register's own log submits its checkpoints to witnesses; a rebuild's replay
    # into another database does not.
    on_append = _after_append if using == "default" else None
    return Log(DjangoLogStorage(using, on_append=on_append), origin, signers)


def _after_append() -> None:
    from cosignatory.web.log.witnesses import after_append  # it imports this module

    after_append()


def get_log(using: str = "default") -> Log:
    """Return this process's :class:`Log` for the configured origin and keys."""
    return _load_log(settings.COSIGNATORY_LOG_ORIGIN, str(key_dir()), using)


def reset_log_cache() -> None:
    """Forget loaded logs (tests that change settings call this)."""
    _load_log.cache_clear()
