"""The log's tables. Only :class:`DjangoLogStorage` writes them.

``LogHead`` has exactly one row: the committed size and checkpoint, and the row every
writer locks first. Entries and tiles are append-only; a partial tile's row is
rewritten as it grows until it is full, then never again.
"""

from __future__ import annotations

from typing import Any

from django.db import models


class LogHead(models.Model):
    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    size = models.BigIntegerField()
    checkpoint = models.TextField()

    class Meta:
        db_table = "tlog_head"


class RowIdField(models.BigIntegerField):  # type: ignore[type-arg]
    """A 64-bit integer primary key that is SQLite's rowid itself.

    SQLite makes only a column typed exactly ``integer`` an alias of the rowid; a
    ``bigint`` key gets a hidden rowid and a second B-tree, which costs every append
    about 15 % (docs/performance.md). SQLite's integers are 64-bit either way.
    """

    def db_type(self, connection: Any) -> str | None:
        if connection.vendor == "sqlite":
            return "integer"
        return super().db_type(connection)


class LogEntry(models.Model):
    index = RowIdField(primary_key=True)
    data = models.BinaryField()

    class Meta:
        db_table = "tlog_entry"


class LogTile(models.Model):
    pk = models.CompositePrimaryKey("level", "index")
    level = models.PositiveSmallIntegerField()
    index = models.BigIntegerField()
    data = models.BinaryField()

    class Meta:
        db_table = "tlog_tile"


class LogCheckpoint(models.Model):
    """Every checkpoint the log has signed, kept so later ones can be checked against it."""

    size = models.BigIntegerField(db_index=True)
    text = models.TextField()
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "tlog_checkpoint"
