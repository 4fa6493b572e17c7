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
from pydantic import GetCoreSchemaHandler
from pydantic_core import core_schema

MAX_LIMIT = 100


class Digits(int):
    """A whole number in a URL's path or query, written in the digits 0-9 only, from
    ``least`` to ``most``. pydantic's integers also take "+1", " 1", "1_0" and "1.0",
    which the OpenAPI document's ``integer`` does not. The value is a plain int.

    Subclass with the bounds; the document says ``type: integer`` with them as
    ``minimum`` and ``maximum``, exactly as for an ``int`` with ``ge`` and ``le``.
    """

    least: int = 0
    most: int = 2**63 - 1

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_before_validator_function(
            _in_digits, core_schema.int_schema(ge=cls.least, le=cls.most)
        )


def _in_digits(value: Any) -> Any:
    if isinstance(value, str) and not (value.isascii() and value.isdigit()):
        raise ValueError("Input should be a whole number written in the digits 0-9")
    return value


class PageSize(Digits):
    least, most = 1, MAX_LIMIT


DEFAULT_LIMIT = PageSize(50)


Limit = Annotated[PageSize, Query(description=f"items per page, 1 to {MAX_LIMIT}")]

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
