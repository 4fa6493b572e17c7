"""The full-text structures over ``public_searchentry.terms``, per database.

SQLite: an FTS5 table reading its text from the entries (``content=``), kept in step by
triggers; the unicode61 tokenizer with diacritics removed. PostgreSQL: a GIN index on
``to_tsvector('simple', terms)`` (the terms are already folded and split, so the
``simple`` configuration, which neither stems nor drops words, suits every language).
Then the index is filled from the register's tables, for databases with events already.
"""

from typing import Any

from django.db import migrations

SQLITE = [
    "CREATE VIRTUAL TABLE public_search_fts USING fts5(terms, content='public_searchentry', "
    "content_rowid='id', tokenize='unicode61 remove_diacritics 2')",
    "CREATE TRIGGER public_search_ai AFTER INSERT ON public_searchentry BEGIN "
    "INSERT INTO public_search_fts(rowid, terms) VALUES (new.id, new.terms); END",
    "CREATE TRIGGER public_search_ad AFTER DELETE ON public_searchentry BEGIN "
    "INSERT INTO public_search_fts(public_search_fts, rowid, terms) "
    "VALUES ('delete', old.id, old.terms); END",
    "CREATE TRIGGER public_search_au AFTER UPDATE ON public_searchentry BEGIN "
    "INSERT INTO public_search_fts(public_search_fts, rowid, terms) "
    "VALUES ('delete', old.id, old.terms); "
    "INSERT INTO public_search_fts(rowid, terms) VALUES (new.id, new.terms); END",
]
SQLITE_DOWN = [
    "DROP TRIGGER IF EXISTS public_search_au",
    "DROP TRIGGER IF EXISTS public_search_ad",
    "DROP TRIGGER IF EXISTS public_search_ai",
    "DROP TABLE IF EXISTS public_search_fts",
]
POSTGRES = [
    "CREATE INDEX public_search_terms_gin ON public_searchentry "
    "USING gin (to_tsvector('simple'::regconfig, terms))",
]
POSTGRES_DOWN = ["DROP INDEX IF EXISTS public_search_terms_gin"]


def _run(statements: dict[str, list[str]], schema_editor: Any) -> None:
    for sql in statements.get(schema_editor.connection.vendor, []):
        schema_editor.execute(sql)


def forwards(apps: Any, schema_editor: Any) -> None:
    _run({"sqlite": SQLITE, "postgresql": POSTGRES}, schema_editor)
    from cosignatory.web.public.searchindex import reindex

    reindex(schema_editor.connection.alias, apps)


def backwards(apps: Any, schema_editor: Any) -> None:
    _run({"sqlite": SQLITE_DOWN, "postgresql": POSTGRES_DOWN}, schema_editor)


class Migration(migrations.Migration):
    dependencies = [("public", "0001_initial")]
    operations = [migrations.RunPython(forwards, backwards)]
