"""The log's tables. Only :class:`DjangoLogStorage` writes the log's own; the witness
tables only :mod:`cosignatory.web.log.witnesses`.

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


class LogWitness(models.Model):
    """A witness the log submits its checkpoints to (C2SP tlog-witness).

    Known by its verifier key. ``size`` is the latest size it cosigned for this log,
    the ``old`` of the next submission; it only grows.
    """

    vkey = models.TextField(unique=True)
    size = models.BigIntegerField(default=0)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "tlog_witness"


class LogCosignature(models.Model):
    """A witness's cosignature line on the log's checkpoint of ``size`` and ``root``.

    One per witness and size: a later cosignature of the same checkpoint (a fresher
    timestamp) replaces the earlier one. Verified before it is stored.
    """

    witness = models.ForeignKey(LogWitness, on_delete=models.PROTECT, related_name="cosignatures")
    size = models.BigIntegerField()
    root = models.BinaryField()
    line = models.TextField()
    timestamp = models.BigIntegerField()
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "tlog_cosignature"
        constraints = [
            models.UniqueConstraint(fields=["witness", "size"], name="tlog_cosignature_once"),
        ]
        indexes = [models.Index(fields=["size"], name="tlog_cosignature_size")]
