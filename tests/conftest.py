"""Suite-wide fixtures and rules.

Tests under ``tests/tlog`` and ``tests/core`` need no database and are marked
``no_database``; ``scripts/test`` runs everything else a second time on PostgreSQL.
With ``COSIGNATORY_REQUIRE_POSTGRES=1`` the run refuses to start on any other
database, so a PostgreSQL run can never quietly fall back to SQLite.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

TESTS = Path(__file__).resolve().parent
VECTORS = TESTS / "vectors"
_PURE = {"tlog", "core"}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "no_database: the test needs no database")
    if os.environ.get("COSIGNATORY_REQUIRE_POSTGRES") == "1":
        from django.conf import settings

        engine = settings.DATABASES["default"]["ENGINE"]
        if not engine.endswith("postgresql"):
            raise pytest.UsageError(
                f"COSIGNATORY_REQUIRE_POSTGRES=1 but the database engine is {engine}"
            )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        parts = Path(str(item.path)).resolve().relative_to(TESTS).parts
        if parts and parts[0] in _PURE:
            item.add_marker(pytest.mark.no_database)


@pytest.fixture(autouse=True)
def exact_pages(settings: Any) -> None:
    """Public pages checked against the log on every read (no one-second window) and
    the page cache emptied for each test (a setting change empties it)."""
    settings.COSIGNATORY_PAGE_CACHE_SECONDS = 0


@pytest.fixture
def log_settings(settings: Any, tmp_path: Path) -> Iterator[Any]:
    """Fresh log keys in a temporary folder and a test origin, for one test."""
    from cosignatory.web.log.services import ensure_log_keys, reset_log_cache

    settings.COSIGNATORY_KEY_DIR = tmp_path / "keys"
    settings.COSIGNATORY_LOG_ORIGIN = "test.cosignatory.example/log"
    ensure_log_keys()
    reset_log_cache()
    yield settings
    reset_log_cache()


@pytest.fixture
def log(log_settings: Any, db: None) -> Any:
    """The register's log on the test database, initialised (size 0)."""
    from cosignatory.web.log.services import get_log

    the_log = get_log()
    the_log.initialise()
    return the_log
