"""The search index: one row per searchable piece of text, kept by the projector.

A row is a letter's title or text in one language (every version), a letter's or
document's symbol, or a party's name in one language. ``content`` is the text as shown
in a result's snippet; ``terms`` is what the database searches: the content folded
(case and diacritics removed) and split into words, with runs of Chinese or Japanese
characters written as overlapping pairs so that a search finds them inside a longer run
(see :mod:`cosignatory.web.public.searchindex`). PostgreSQL searches ``terms`` with a
GIN index on ``to_tsvector('simple', terms)``; SQLite with an FTS5 table over it. Both
are created by this app's migrations.

Every row comes from the log by way of the projector, so ``cosignatory rebuild``
rebuilds and compares this table with the register's own.
"""

from __future__ import annotations

from django.db import models


class SearchEntry(models.Model):
    LETTER = "letter"
    DOCUMENT = "document"
    PARTY = "party"

    kind = models.CharField(max_length=10)  # letter, document, party
    key = models.CharField(max_length=140)  # the letter's or party's id, the document's symbol
    field = models.CharField(max_length=10)  # title, text, symbol, name, note
    language = models.CharField(max_length=8)  # a UN language, or "" (symbols)
    version = models.PositiveIntegerField(default=0)  # a text's version, else 0
    letter_id = models.CharField(max_length=64, null=True)  # whose publicity decides
    content = models.TextField()
    terms = models.TextField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "key", "field", "language", "version"], name="one_search_entry"
            )
        ]
        indexes = [models.Index(fields=["letter_id"])]
