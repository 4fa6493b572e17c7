"""Pagination: ``?limit=`` and ``?after=``, with a ``next`` link on every page but the last.

A list is in a fixed order of a key (an identifier, a symbol, a version, a log index);
``after`` is the key of the last item seen, so a page never repeats or skips an item
while the register grows. ``next`` is the path of the following page, with the same
filters.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, TypeVar

from django.http import HttpRequest
from ninja import Query

DEFAULT_LIMIT = 50
MAX_LIMIT = 100

Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description=f"items per page, 1 to {MAX_LIMIT}")]

T = TypeVar("T")


def page(
    request: HttpRequest, rows: Sequence[T], limit: int, key: Any
) -> tuple[Sequence[T], str | None]:
    """Cut ``rows`` (fetched with one more than ``limit``) to a page and its ``next`` path.

    ``key(row)`` is the value the next page starts after.
    """
    if len(rows) <= limit:
        return rows, None
    shown = rows[:limit]
    query = request.GET.copy()
    query["after"] = str(key(shown[-1]))
    query["limit"] = str(limit)
    return shown, f"{request.path}?{query.urlencode(safe='/:')}"
