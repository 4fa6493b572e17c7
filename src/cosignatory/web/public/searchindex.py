"""Keeping the search index: what each event adds to it, and how text becomes terms.

The projector calls :func:`index_event` for every event it projects (live and in
``cosignatory rebuild``), so the index is a projection of the log like the register's
own tables. :func:`reindex` builds it from those tables instead, for a database that
had events before the index existed (the migration that adds it calls it).

Text is *folded* before it is searched: Unicode compatibility forms decomposed,
combining marks (accents, Arabic vowel signs) dropped, case folded. Folding works one
character at a time so a snippet can map a match back to the original text
(:func:`fold_with_offsets`). Words are runs of letters and digits. Chinese and Japanese
are written without spaces, so a run of their characters is indexed as overlapping
pairs (``理事会`` → ``理事 事会 会``): a search for any part of the run, one character
or more, is then a phrase (or prefix) of those pairs, on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Iterator, Mapping
from functools import lru_cache
from typing import Any

from django.utils.html import strip_tags

from cosignatory.web.public.models import SearchEntry
from cosignatory.web.ui.text import render_markdown

# Han, kana and their compatibility blocks: scripts written without spaces between words.
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_TOKEN = re.compile(rf"[{_CJK}]+|(?:(?![{_CJK}])[^\W_])+")
_CJK_RUN = re.compile(rf"[{_CJK}]+")


@lru_cache(maxsize=4096)
def fold_char(char: str) -> str:
    """One character as it is searched: decomposed, without marks, case folded."""
    decomposed = unicodedata.normalize("NFKD", char)
    kept = "".join(c for c in decomposed if not unicodedata.combining(c))
    return kept.casefold()


def fold(text: str) -> str:
    """``text`` folded for searching (see the module's docstring)."""
    return "".join(fold_char(c) for c in text)


def fold_with_offsets(text: str) -> tuple[str, list[int]]:
    """``text`` folded, and for each folded character the index of the original one."""
    folded: list[str] = []
    offsets: list[int] = []
    for index, char in enumerate(text):
        piece = fold_char(char)
        folded.append(piece)
        offsets.extend([index] * len(piece))
    return "".join(folded), offsets


def is_cjk(token: str) -> bool:
    return bool(_CJK_RUN.fullmatch(token))


def pairs(run: str, *, trailing: bool = True) -> list[str]:
    """A run of CJK characters as overlapping pairs, and (``trailing``) its last
    character alone, so that every character starts some token."""
    if len(run) == 1:
        return [run]
    found = [run[i : i + 2] for i in range(len(run) - 1)]
    return [*found, run[-1]] if trailing else found


def tokens(text: str, *, trailing: bool = True) -> list[str]:
    """The search tokens of ``text`` (folded first)."""
    result: list[str] = []
    for token in _TOKEN.findall(fold(text)):
        result.extend(pairs(token, trailing=trailing) if is_cjk(token) else [token])
    return result


def terms(text: str) -> str:
    """What the database indexes for ``text``: its tokens, separated by spaces."""
    return " ".join(tokens(text))


def plain_text(markdown: str) -> str:
    """A letter's Markdown as the plain text a snippet shows."""
    text = html.unescape(strip_tags(render_markdown(markdown)))
    return re.sub(r"\s+", " ", text).strip()


# -- the rows ---------------------------------------------------------------------------


def _row(
    kind: str,
    key: str,
    field: str,
    content: str,
    *,
    language: str = "",
    version: int = 0,
    letter: str | None = None,
) -> SearchEntry:
    return SearchEntry(
        kind=kind,
        key=key,
        field=field,
        language=language,
        version=version,
        letter_id=letter,
        content=content,
        terms=terms(content),
    )


def _names(
    kind: str, key: str, field: str, names: Mapping[str, str], letter: str | None
) -> Iterator[SearchEntry]:
    for language, name in sorted(names.items()):
        if name:
            yield _row(kind, key, field, name, language=language, letter=letter)


def _texts(letter: str, version: int, texts: Mapping[str, str]) -> Iterator[SearchEntry]:
    for language, text in sorted(texts.items()):
        if text:
            yield _row(
                SearchEntry.LETTER,
                letter,
                "text",
                plain_text(text),
                language=language,
                version=version,
                letter=letter,
            )


def _symbol(kind: str, symbol: str, letter: str) -> SearchEntry:
    return _row(
        kind, symbol if kind == SearchEntry.DOCUMENT else letter, "symbol", symbol, letter=letter
    )


def _document(symbol: str, letter: str, note: str | None) -> list[SearchEntry]:
    rows = [_symbol(SearchEntry.DOCUMENT, symbol, letter)]
    if note:
        rows.append(_row(SearchEntry.DOCUMENT, symbol, "note", note, letter=letter))
    return rows


def index_event(event_type: str, data: Mapping[str, Any], using: str = "default") -> None:
    """Add to (or take from) the index of ``using`` what the event changes in it."""
    rows: list[SearchEntry] = []
    if event_type == "party.registered":
        rows.extend(_names(SearchEntry.PARTY, data["id"], "name", data["names"], None))
    elif event_type == "letter.created":
        rows.extend(_names(SearchEntry.LETTER, data["id"], "title", data["title"], data["id"]))
    elif event_type == "letter.text_version_added":
        rows.extend(_texts(data["letter"], data["version"], data["texts"]))
    elif event_type == "letter.registered":
        rows.append(_symbol(SearchEntry.LETTER, data["symbol"], data["letter"]))
        rows.extend(_document(data["symbol"], data["letter"], None))
    elif event_type == "letter.registration_cancelled":
        SearchEntry.objects.using(using).filter(
            kind=SearchEntry.LETTER, key=data["letter"], field="symbol"
        ).delete()
    elif event_type == "document.issued":
        rows.extend(_document(data["symbol"], data["letter"], data.get("note")))
    if rows:
        SearchEntry.objects.using(using).bulk_create(rows)


def reindex(using: str = "default", apps: Any = None) -> int:
    """Build the whole index of ``using`` from the register's tables; return its rows.

    ``apps`` is a migration's app registry (default: the installed models). The rows are
    those :func:`index_event` makes from the log.
    """
    from django.apps import apps as installed

    registry = apps or installed

    def model(name: str) -> Any:
        return registry.get_model("register", name)

    entries = registry.get_model("public", "SearchEntry").objects.using(using)
    entries.all().delete()
    rows: list[SearchEntry] = []
    for party_id, names in model("Party").objects.using(using).values_list("id", "names"):
        rows.extend(_names(SearchEntry.PARTY, party_id, "name", names, None))
    letters = model("Letter").objects.using(using).values_list("id", "title", "symbol")
    for letter_id, title, symbol in letters:
        rows.extend(_names(SearchEntry.LETTER, letter_id, "title", title, letter_id))
        if symbol:
            rows.append(_symbol(SearchEntry.LETTER, symbol, letter_id))
    versions = (
        model("TextVersion").objects.using(using).values_list("letter_id", "version", "texts")
    )
    for letter_id, version, texts in versions:
        rows.extend(_texts(letter_id, version, texts))
    documents = model("Document").objects.using(using).values_list("symbol", "letter_id", "note")
    for symbol, letter_id, _note in documents:
        # A cancelled registration's note is the reason, not a document's note.
        rows.extend(_document(symbol, letter_id, None))
    for symbol, letter_id, note in documents.exclude(kind="original"):
        if note:
            rows.append(_row(SearchEntry.DOCUMENT, symbol, "note", note, letter=letter_id))
    entries.bulk_create(
        [entries.model(**{f: getattr(r, f) for f in _FIELDS}) for r in rows], batch_size=500
    )
    return len(rows)


_FIELDS = ("kind", "key", "field", "language", "version", "letter_id", "content", "terms")
