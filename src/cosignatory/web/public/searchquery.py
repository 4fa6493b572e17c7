"""Reading a search query, running it on SQLite or PostgreSQL, and showing matches.

The syntax (docs/downloads-and-search.md): words, all of which must appear (a word also
finds longer words it begins: ``herit`` finds *heritage*); ``"an exact phrase"``;
``OR`` between two words or phrases for either; ``-word`` or ``-"phrase"`` for
neither. A word with punctuation inside, such as a symbol (``DEMO/C/7/G/1``), is a
phrase of its parts. Chinese and Japanese are found anywhere inside a run of
characters (see :mod:`cosignatory.web.public.searchindex`).

The query is parsed here into :class:`Query`, then written in each database's own
language: an FTS5 ``MATCH`` expression, or a PostgreSQL ``tsquery``. Every token is a
run of letters or digits, so neither can carry syntax of its own into them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.db import connections
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from cosignatory.web.public.searchindex import fold_with_offsets, is_cjk, tokens

MAX_QUERY_LENGTH = 200
"""Characters in a query, at most."""
MAX_UNITS = 12
"""Words and phrases in a query, at most."""
MAX_HITS = 2000
"""Matching index rows read, at most (best first), before grouping."""


class QueryError(ValueError):
    """A query that cannot be searched; ``code`` tells which kind."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code  # "empty", "too_long", "too_many", "no_words", "only_excluded"


@dataclass(frozen=True)
class Unit:
    """A word or phrase: tokens in a row; ``prefix`` if the last may begin a longer one."""

    tokens: tuple[str, ...]
    prefix: bool


@dataclass(frozen=True)
class Query:
    """Every clause must match (one of its units), and no excluded unit."""

    clauses: tuple[tuple[Unit, ...], ...]
    excluded: tuple[Unit, ...]

    @property
    def highlighted(self) -> tuple[Unit, ...]:
        """The words and phrases a snippet marks."""
        return tuple(unit for clause in self.clauses for unit in clause)


_PIECE = re.compile(r'(-?)"([^"]*)"?|(-?)(\S+)')


def parse(text: str) -> Query:
    """Read a query. Raises QueryError for one that is empty, too long or has no words."""
    text = text.strip()
    if not text:
        raise QueryError("empty")
    if len(text) > MAX_QUERY_LENGTH:
        raise QueryError("too_long")
    clauses: list[list[Unit]] = []
    excluded: list[Unit] = []
    join_next = False
    count = 0
    for match in _PIECE.finditer(text):
        quoted = match.group(2) is not None
        negated = bool(match.group(1) if quoted else match.group(3))
        raw = match.group(2) if quoted else match.group(4)
        if not quoted and raw == "OR":
            join_next = bool(clauses)
            continue
        found = tokens(raw, trailing=False)
        if not found:
            continue
        count += 1
        if count > MAX_UNITS:
            raise QueryError("too_many")
        unit = Unit(tuple(found), prefix=not quoted)
        if negated:
            excluded.append(unit)
        elif join_next:
            clauses[-1].append(unit)
        else:
            clauses.append([unit])
        join_next = False
    if not clauses:
        raise QueryError("only_excluded" if excluded else "no_words")
    return Query(tuple(tuple(c) for c in clauses), tuple(excluded))


# -- in each database's language --------------------------------------------------------


def to_fts5(query: Query) -> str:
    """The query as an SQLite FTS5 ``MATCH`` expression."""

    def unit(u: Unit) -> str:
        return '"' + " ".join(u.tokens) + '"' + ("*" if u.prefix else "")

    def either(units: tuple[Unit, ...]) -> str:
        return "(" + " OR ".join(unit(u) for u in units) + ")"

    expression = " AND ".join(either(c) for c in query.clauses)
    if query.excluded:
        expression = f"({expression}) NOT {either(query.excluded)}"
    return expression


def to_tsquery(query: Query) -> str:
    """The query as a PostgreSQL ``tsquery`` (for ``to_tsquery('simple', …)``)."""

    def unit(u: Unit) -> str:
        parts = [f"'{t}'" for t in u.tokens]
        if u.prefix:
            parts[-1] += ":*"
        return "(" + " <-> ".join(parts) + ")"

    def either(units: tuple[Unit, ...]) -> str:
        return "(" + " | ".join(unit(u) for u in units) + ")"

    expression = " & ".join(either(c) for c in query.clauses)
    if query.excluded:
        expression += f" & !{either(query.excluded)}"
    return expression


def matching_ids(query: Query, using: str = "default") -> list[int]:
    """The ids of the index rows that match, best first (at most MAX_HITS)."""
    connection = connections[using]
    if connection.vendor == "postgresql":
        sql = (
            "SELECT id FROM public_searchentry, to_tsquery('simple'::regconfig, %s) AS q "
            "WHERE to_tsvector('simple'::regconfig, terms) @@ q "
            "ORDER BY ts_rank(to_tsvector('simple'::regconfig, terms), q) DESC, id LIMIT %s"
        )
        params: list[str | int] = [to_tsquery(query), MAX_HITS]
    elif connection.vendor == "sqlite":
        sql = (
            "SELECT rowid FROM public_search_fts WHERE public_search_fts MATCH %s "
            "ORDER BY rank, rowid LIMIT %s"
        )
        params = [to_fts5(query), MAX_HITS]
    else:  # pragma: no cover - the project runs on these two only
        raise NotImplementedError(connection.vendor)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [row[0] for row in cursor.fetchall()]


# -- snippets ---------------------------------------------------------------------------

SNIPPET_CONTEXT = 90
"""Characters shown either side of the first match."""


def _token_pattern(token: str) -> str:
    # A word is marked from its start, whole; Chinese wherever it is.
    return re.escape(token) if is_cjk(token) else rf"(?<![^\W_]){re.escape(token)}[^\W_]*"


def _unit_pattern(unit: Unit) -> str:
    """A phrase as one stretch of folded text: its words with what separates them
    (``DEMO/C/7``), a run of Chinese from its overlapping pairs (开放 放数 → 开放数)."""
    parts = []
    previous_cjk = False
    for n, token in enumerate(unit.tokens):
        cjk = is_cjk(token)
        if n == 0:
            parts.append(re.escape(token) if cjk else rf"(?<![^\W_]){re.escape(token)}")
        elif cjk and previous_cjk and len(token) == 2:
            parts.append(re.escape(token[1:]))
        else:
            parts.append(rf"[\W_]*{re.escape(token)}")
        previous_cjk = cjk
    if not previous_cjk:
        parts.append(r"[^\W_]*")
    return "".join(parts)


def _spans(folded: str, wanted: tuple[Unit, ...]) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    for unit in set(wanted):
        found = [m.span() for m in re.finditer(_unit_pattern(unit), folded)]
        if not found and len(unit.tokens) > 1:  # not as a stretch: each word alone
            for token in unit.tokens:
                found.extend(m.span() for m in re.finditer(_token_pattern(token), folded))
        spans.extend(found)
    spans.sort()
    merged: list[tuple[int, int]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def snippet(content: str, query: Query) -> SafeString:
    """An extract of ``content`` around its first match, HTML-escaped, matches in <mark>."""
    folded, offsets = fold_with_offsets(content)
    spans = [
        (offsets[a], offsets[b - 1] + 1) for a, b in _spans(folded, query.highlighted) if b > a
    ]
    if spans:
        start = max(0, spans[0][0] - SNIPPET_CONTEXT)
        end = min(len(content), spans[0][1] + SNIPPET_CONTEXT)
    else:
        start, end = 0, min(len(content), 2 * SNIPPET_CONTEXT)
    if start > 0:  # begin at a word
        space = content.find(" ", start, spans[0][0] if spans else end)
        start = space + 1 if space != -1 else start
    if end < len(content):
        space = content.rfind(" ", spans[0][1] if spans else start, end)
        end = space if space != -1 else end
    out = ["… " if start > 0 else ""]
    at = start
    for a, b in spans:
        if a >= end:
            break
        a, b = max(a, at), min(b, end)
        if a < b:
            out.append(escape(content[at:a]))
            out.append(f"<mark>{escape(content[a:b])}</mark>")
            at = b
    out.append(escape(content[at:end]))
    out.append(" …" if end < len(content) else "")
    return mark_safe("".join(out))  # noqa: S308 - every piece of content was escaped above
