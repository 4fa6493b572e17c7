"""The log's tables. Only :class:`DjangoLogStorage` writes them.

``LogHead`` has exactly one row: the committed size and checkpoint, and the row every
writer locks first. Entries and tiles are append-only; a partial tile's row is
rewritten as it grows until it is full, then never again.
"""

from __future__ import annotations

from django.db import models


class LogHead(models.Model):
    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    size = models.BigIntegerField()
    checkpoint = models.TextField()

    class Meta:
        db_table = "tlog_head"


class LogEntry(models.Model):
    index = models.BigIntegerField(primary_key=True)
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
