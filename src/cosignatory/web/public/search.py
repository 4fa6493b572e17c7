"""The search page: letters, documents and parties matching a query, in groups.

Only public letters (and their documents) are found: an index row that belongs to a
letter is shown only while the letter is not a draft (:mod:`.lists`). A query that
cannot be searched gives the page with a message (status 400; an empty one, 200).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.core.paginator import Paginator
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _
from django.views.decorators.http import require_safe

from cosignatory.web.public.lists import Paged, public_letters, with_query
from cosignatory.web.public.models import SearchEntry
from cosignatory.web.public.searchquery import (
    MAX_QUERY_LENGTH,
    MAX_UNITS,
    Query,
    QueryError,
    matching_ids,
    parse,
    snippet,
)
from cosignatory.web.register import models as m
from cosignatory.web.ui.locale import language_name, register_language

RESULTS_PER_PAGE = 20
GROUPS = (SearchEntry.LETTER, SearchEntry.DOCUMENT, SearchEntry.PARTY)


@dataclass(frozen=True)
class Result:
    """One letter, document or party found, with the piece of text that matched."""

    kind: str
    key: str
    item: Any  # the Letter, Document or Party
    entry: SearchEntry
    snippet: SafeString
    earlier_version: bool

    @property
    def language_name(self) -> str:
        return language_name(self.entry.language) if self.entry.language else ""


def _message(error: QueryError) -> str:
    messages = {
        "empty": _("Type a word, a phrase in quotes, a symbol or a name to search the register."),
        "too_long": _("The search is too long: use at most %(n)d characters.")
        % {"n": MAX_QUERY_LENGTH},
        "too_many": _("The search has too many words: use at most %(n)d.") % {"n": MAX_UNITS},
        "no_words": _("The search has no letters or digits to look for."),
        "only_excluded": _(
            "The search only says what to leave out: add at least one word to look for."
        ),
    }
    return messages[error.code]


def _best(entries: list[SearchEntry], reader: str) -> SearchEntry:
    """The match to show: the reader's language first, then the latest version; the
    entries come best ranked first, which breaks the remaining ties."""
    return min(
        enumerate(entries),
        key=lambda pair: (pair[1].language not in (reader, ""), -pair[1].version, pair[0]),
    )[1]


def find(query: Query, reader: str) -> dict[str, list[Result]]:
    """The public letters, documents and parties matching ``query``, best first."""
    ids = matching_ids(query)
    rank = {id_: n for n, id_ in enumerate(ids)}
    public = Q(letter_id__isnull=True) | Q(letter_id__in=public_letters().values("id"))
    entries = sorted(
        SearchEntry.objects.filter(id__in=ids).filter(public), key=lambda e: rank[e.id]
    )
    grouped: dict[tuple[str, str], list[SearchEntry]] = {}
    for entry in entries:
        grouped.setdefault((entry.kind, entry.key), []).append(entry)
    keys = {kind: [k for (g, k) in grouped if g == kind] for kind in GROUPS}
    items: dict[str, dict[str, Any]] = {
        SearchEntry.LETTER: m.Letter.objects.select_related("lead_party").in_bulk(
            keys[SearchEntry.LETTER]
        ),
        SearchEntry.DOCUMENT: m.Document.objects.select_related("letter").in_bulk(
            keys[SearchEntry.DOCUMENT]
        ),
        SearchEntry.PARTY: m.Party.objects.in_bulk(keys[SearchEntry.PARTY]),
    }
    results: dict[str, list[Result]] = {kind: [] for kind in GROUPS}
    for (kind, key), found in grouped.items():
        item = items[kind].get(key)
        if item is None:
            continue
        entry = _best(found, reader)
        earlier = kind == SearchEntry.LETTER and 0 < entry.version < item.current_version
        results[kind].append(Result(kind, key, item, entry, snippet(entry.content, query), earlier))
    return results


def _page(request: HttpRequest, rows: list[Result], kind: str) -> tuple[str, Paged[Result]]:
    param = f"{kind}_page"
    paginator: Paginator[Result] = Paginator(rows, RESULTS_PER_PAGE)
    page = paginator.get_page(request.GET.get(param))
    previous = (
        with_query(request.GET, **{param: page.previous_page_number()})
        if page.has_previous()
        else None
    )
    following = (
        with_query(request.GET, **{param: page.next_page_number()}) if page.has_next() else None
    )
    return kind, Paged(page, previous, following)


@require_safe
def search(request: HttpRequest) -> HttpResponse:
    """``/search/?q=…``: the matches, grouped into letters, documents and parties."""
    text = request.GET.get("q", "")
    context: dict[str, Any] = {"search_query": text[: MAX_QUERY_LENGTH * 2], "groups": None}
    status = 200
    try:
        query = parse(text)
    except QueryError as error:
        context["message"] = _message(error)
        status = 200 if error.code == "empty" else 400
        context["invalid"] = error.code != "empty"
    else:
        results = find(query, register_language())
        context["groups"] = [_page(request, results[kind], kind) for kind in GROUPS]
        context["total"] = sum(len(rows) for rows in results.values())
    return render(request, "public/search.html", context, status=status)
