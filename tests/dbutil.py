"""Helpers for tests that run the register in other processes against the test database."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from django.db import connection


def database_url() -> str:
    """Return a COSIGNATORY_DATABASE_URL for the database the test is using."""
    s = connection.settings_dict
    if connection.vendor == "sqlite":
        return "sqlite://" + str(Path(s["NAME"]).resolve())
    user = s["USER"] or ""
    password = f":{s['PASSWORD']}" if s["PASSWORD"] else ""
    return f"postgres://{user}{password}@{s['HOST']}:{s['PORT']}/{s['NAME']}"


def child_env(settings: Any) -> dict[str, str]:
    """The environment for a ``cosignatory`` child process sharing this test's log."""
    env = dict(os.environ)
    env.update(
        COSIGNATORY_DATABASE_URL=database_url(),
        COSIGNATORY_KEY_DIR=str(settings.COSIGNATORY_KEY_DIR),
        COSIGNATORY_LOG_ORIGIN=settings.COSIGNATORY_LOG_ORIGIN,
    )
    return env


COSIGNATORY = [sys.executable, "-m", "cosignatory"]
