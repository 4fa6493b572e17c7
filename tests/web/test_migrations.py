"""The schema: the models and their migrations agree, and a migration keeps every row.

Run on SQLite and on PostgreSQL alike (CI runs the suite on both).
"""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("register", "0002_dispute_events_name_their_letter")]
AFTER = [("register", "0003_fewer_indexes")]
AT = datetime(2019, 7, 1, 9, tzinfo=UTC)


@pytest.mark.django_db
def test_the_models_need_no_new_migration() -> None:
    out = io.StringIO()
    try:
        call_command("makemigrations", "--check", "--dry-run", stdout=out, stderr=out)
    except SystemExit as exit_:  # --check exits 1 when a migration is missing
        pytest.fail(f"the models changed without a migration:\n{out.getvalue()} ({exit_})")


def _indexed_columns(table: str) -> list[list[str]]:
    """The columns of each index of ``table`` but its primary key (and, on PostgreSQL,
    the ``…_like`` twin Django adds to a text column's index for LIKE look-ups)."""
    with connection.cursor() as cursor:
        found = connection.introspection.get_constraints(cursor, table)
    return sorted(
        info["columns"]
        for name, info in found.items()
        if info["index"] and not info["primary_key"] and not name.endswith("_like")
    )


@pytest.mark.django_db
def test_each_index_is_needed() -> None:
    # The letter's look-ups use the indexes that start with it; a second index on the
    # same columns would only cost every INSERT.
    assert _indexed_columns("register_signature") == [
        ["letter_id", "active"],
        ["letter_id", "at"],
        ["letter_id", "party_id"],
        ["party_id"],
        ["representative_id"],
    ]
    assert _indexed_columns("register_eventrecord") == [["letter_id", "log_index"], ["party_id"]]


@pytest.mark.django_db(transaction=True)
def test_dropping_the_indexes_keeps_every_row() -> None:
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps
    party = old.get_model("register", "Party").objects.create(
        id="FRA", kind="state", names={"en": "France"}
    )
    letter = old.get_model("register", "Letter").objects.create(
        id="demo",
        title={"en": "A letter"},
        addressees=[],
        lead_party=party,
        date=AT.date(),
        status="open",
        created_at=AT,
    )
    old.get_model("register", "Signature").objects.create(
        id="sig-1",
        letter=letter,
        party=party,
        action="sign",
        version=1,
        text_hash="a" * 64,
        at=AT,
        evidence_kind="attested",
        evidence={"note": "NV/1"},
        log_index=7,
    )
    old.get_model("register", "EventRecord").objects.create(
        log_index=7, type="signature.recorded", at=AT, letter=letter, party=party
    )

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(AFTER)
    new = executor.loader.project_state(AFTER).apps
    signature = new.get_model("register", "Signature").objects.get(pk="sig-1")
    assert (signature.letter_id, signature.party_id, signature.evidence) == (
        "demo",
        "FRA",
        {"note": "NV/1"},
    )
    record = new.get_model("register", "EventRecord").objects.get(pk=7)
    assert (record.letter_id, record.party_id, record.at) == ("demo", "FRA", AT)
