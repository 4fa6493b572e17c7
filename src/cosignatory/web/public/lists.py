"""What the public pages share: which letters are public, paging, and reading the query.

Public means every letter that has left the draft state. A draft (``draft``) is the
registrar's work in progress: nobody can sign it yet, and it is shown nowhere. From
``open`` on (``open``, ``closed``, ``transmitted``, ``registered``, ``published``) a
letter has been offered for signature, and everything about it is public.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any, Generic, TypeVar

from django.core.paginator import Page, Paginator
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, QueryDict
from django.utils.translation import gettext_lazy as _

from cosignatory.web.register import models as m

PUBLIC_STATUSES = ("open", "closed", "transmitted", "registered", "published")
"""The letter states shown to the public, in lifecycle order (not ``draft``)."""

STATUS_LABELS = {
    "open": _("open for signature"),
    "closed": _("closed"),
    "transmitted": _("transmitted"),
    "registered": _("registered as an official document"),
    "published": _("published"),
}

EVIDENCE_LABELS = {
    "self-signed": _("self-signed"),
    "attested": _("attested by the registrar"),
    "email-verified": _("email-verified"),
}

PARTY_KINDS = {
    "state": _("State"),
    "organisation": _("Organisation"),
    "person": _("Person"),
}

T = TypeVar("T")


class BadQuery(ValueError):
    """A query parameter the page cannot use; its message is shown to the reader."""


def public_letters() -> QuerySet[m.Letter]:
    """Every letter the public may see."""
    return m.Letter.objects.filter(status__in=PUBLIC_STATUSES)


def public_letter_or_404(letter_id: str) -> m.Letter:
    """The public letter ``letter_id``; raises Http404 for an unknown id or a draft."""
    letter = public_letters().select_related("lead_party", "session").filter(pk=letter_id).first()
    if letter is None:
        raise Http404("no such letter")
    return letter


_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def parse_day(value: str | None) -> date | None:
    """A ``YYYY-MM-DD`` query value as a date (None if empty). Raises BadQuery."""
    if not value:
        return None
    if not _DAY.fullmatch(value):
        raise BadQuery(_("The date must be written YYYY-MM-DD, for example 2019-07-12."))
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise BadQuery(_("There is no such date: %(value)s.") % {"value": value}) from None


def parse_positive(value: str | None, name: str) -> int | None:
    """A positive whole number from a query value (None if empty). Raises BadQuery."""
    if not value:
        return None
    if not value.isascii() or not value.isdigit() or int(value) < 1 or len(value) > 9:
        raise BadQuery(_("%(name)s must be a positive whole number.") % {"name": name})
    return int(value)


@dataclass(frozen=True)
class Paged(Generic[T]):
    """One page of a list, and the links to its neighbours (keeping the other filters)."""

    page: Page[T]
    previous_url: str | None
    next_url: str | None

    @property
    def items(self) -> list[T]:
        return list(self.page.object_list)


def with_query(params: QueryDict, **changes: Any) -> str:
    """``?…`` with ``params`` changed (a None value removes the key)."""
    query = params.copy()
    for key, value in changes.items():
        if value is None:
            query.pop(key, None)
        else:
            query[key] = str(value)
    encoded = query.urlencode()
    return f"?{encoded}" if encoded else "?"


def paginate(
    request: HttpRequest, rows: Any, per_page: int, count: int | None = None
) -> Paged[Any]:
    """Page ``?page=N`` of ``rows``: one ``COUNT`` (none if ``count`` is given) and one
    ``LIMIT``/``OFFSET`` query on a queryset. An out-of-range or malformed page number
    shows the nearest page."""
    paginator: Paginator[Any] = Paginator(rows, per_page)
    if count is not None:
        paginator.count = count  # a cached property: setting it skips the COUNT query
    page = paginator.get_page(request.GET.get("page"))
    previous_url = (
        with_query(request.GET, page=page.previous_page_number()) if page.has_previous() else None
    )
    next_url = with_query(request.GET, page=page.next_page_number()) if page.has_next() else None
    return Paged(page, previous_url, next_url)
