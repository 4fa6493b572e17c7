"""Downloads of a public letter: its signatory list as CSV or JSON, and its PDF.

The lists are those of the letter page and the API (:mod:`cosignatory.web.register.
queries`), as of ``?as_of=YYYY-MM-DD`` (the end of that day, UTC) or now. A date that
cannot be read gives status 400 and a one-line message; nothing else is read.

CSV is streamed a chunk of rows at a time, UTF-8 with a byte order mark (so that
spreadsheet programs read Arabic, Chinese and Cyrillic names correctly), a header row,
CRLF line ends (RFC 4180). A cell a spreadsheet would run as a formula (starting with
``=``, ``+``, ``-``, ``@``, a tab or a carriage return) is written with a ``'`` before
it, as OWASP advises for CSV injection: the value reads the same and runs nothing.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from datetime import date
from typing import Any

from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    JsonResponse,
    StreamingHttpResponse,
)
from django.urls import reverse
from django.views.decorators.http import require_safe

from cosignatory.core.events import LANGUAGES, format_time
from cosignatory.web.public import pdf
from cosignatory.web.public.lists import BadQuery, parse_day, public_letter_or_404
from cosignatory.web.register import queries
from cosignatory.web.register.queries import SignatoryRow, end_of_day, signatory_json

CSV_COLUMNS = (
    "party",
    "party_name",
    *(f"name_{lang}" for lang in LANGUAGES),
    "party_code",
    "kind",
    "action",
    "version",
    "signed_at",
    "evidence",
    "evidence_detail",
    "representative",
    "withdrawn_at",
    "on_earlier_version",
    "voided",
    "active",
    "signature_id",
    "log_index",
)
"""The CSV's header row: the API's JSON fields, with the names one column a language."""

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_CHUNK = 2_000


def neutralise(cell: str) -> str:
    """``cell`` as a spreadsheet shows it without running it: a leading ``'`` if it
    begins like a formula (OWASP, CSV injection)."""
    return "'" + cell if cell.startswith(_FORMULA_START) else cell


def filename(letter: str, suffix: str, as_of: date | None = None) -> str:
    """A download's file name: only letters, digits, ``.``, ``_`` and ``-``."""
    stem = re.sub(r"[^A-Za-z0-9._-]", "_", letter).lstrip(".") or "letter"
    dated = f"-as-of-{as_of.isoformat()}" if as_of else ""
    return f"{stem}{dated}-{suffix}"


def _as_of(request: HttpRequest) -> date | None:
    return parse_day(request.GET.get("as_of"))


def _bad(error: BadQuery) -> HttpResponse:
    return HttpResponseBadRequest(f"{error}\n", content_type="text/plain; charset=utf-8")


def _csv_cells(row: SignatoryRow) -> list[str]:
    data = signatory_json(row)
    names = row.party_names
    values: dict[str, Any] = {**data, **{f"name_{lang}": names.get(lang, "") for lang in LANGUAGES}}
    cells = []
    for column in CSV_COLUMNS:
        value = values[column]
        if value is None:
            cells.append("")
        elif isinstance(value, bool):
            cells.append("true" if value else "false")
        else:
            cells.append(neutralise(str(value)))
    return cells


class _Line:
    """A file-like object whose ``write`` returns what it is given (csv's writer)."""

    def write(self, value: str) -> str:
        return value


def _csv_lines(letter: str, current_version: int, as_of: date | None) -> Iterator[str]:
    writer = csv.writer(_Line(), lineterminator="\r\n")
    yield "\ufeff" + writer.writerow(CSV_COLUMNS)
    rows = queries.latest_signatures(letter, as_of).iterator(chunk_size=_CHUNK)
    for found in rows:
        yield writer.writerow(_csv_cells(queries.signatory_row(found, current_version, as_of)))


@require_safe
def signatories_csv(request: HttpRequest, letter: str) -> HttpResponse | StreamingHttpResponse:
    """The letter's signatory list as CSV (streamed), as of ``?as_of``."""
    row = public_letter_or_404(letter)
    try:
        as_of = _as_of(request)
    except BadQuery as error:
        return _bad(error)
    response = StreamingHttpResponse(
        _csv_lines(row.id, row.current_version, as_of), content_type="text/csv; charset=utf-8"
    )
    name = filename(row.id, "signatories.csv", as_of)
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@require_safe
def signatories_json(request: HttpRequest, letter: str) -> HttpResponse:
    """The letter's signatory list as JSON, as of ``?as_of``: the API's page shape
    (``letter``, ``as_of``, ``count``, ``active``, ``items``, ``next``), every row on
    one page."""
    row = public_letter_or_404(letter)
    try:
        as_of = _as_of(request)
    except BadQuery as error:
        return _bad(error)
    rows = queries.signatory_list(row.id, as_of)
    body = {
        "letter": row.id,
        "as_of": format_time(end_of_day(as_of)) if as_of else None,
        "count": len(rows),
        "active": sum(r.active for r in rows),
        "items": [signatory_json(r) for r in rows],
        "next": None,
    }
    response = JsonResponse(body, json_dumps_params={"ensure_ascii": False})
    name = filename(row.id, "signatories.json", as_of)
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@require_safe
def letter_pdf(request: HttpRequest, letter: str) -> HttpResponse:
    """The letter laid out as an official document, its signatories in an annex (PDF,
    see :mod:`.pdf`), in the reader's language or ``?text=xx``, as of ``?as_of``."""
    row = public_letter_or_404(letter)
    version = row.versions.filter(version=row.current_version).first()
    try:
        texts = dict(version.texts) if version else {}
        lang = pdf.choose_language(texts, request.GET.get("text"))
        as_of = _as_of(request)
    except BadQuery as error:
        return _bad(error)
    verify_url = request.build_absolute_uri(reverse("public:letter-verify", args=[row.id]))
    html = pdf.document_html(row, lang, as_of, verify_url)
    response = HttpResponse(
        pdf.render_pdf(html, request.build_absolute_uri("/")), content_type="application/pdf"
    )
    name = filename(row.id, f"{lang}.pdf", as_of)
    response["Content-Disposition"] = f'inline; filename="{name}"'
    return response
