"""A letter's public page and its full history.

The signatory list is read a page at a time: one ``COUNT`` and one ``LIMIT`` query on
the latest signature of each party (:func:`cosignatory.web.register.queries.
latest_signatures`), so a letter with a million signatures reads as fast as one with
ten. The chart is drawn from per-day counts computed in the database.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.http import require_safe

from cosignatory.core.events import LANGUAGES
from cosignatory.web.public import charts
from cosignatory.web.public.history import describe
from cosignatory.web.public.lists import (
    EVIDENCE_LABELS,
    STATUS_LABELS,
    BadQuery,
    paginate,
    parse_day,
    parse_positive,
    public_letter_or_404,
    with_query,
)
from cosignatory.web.register import models as m
from cosignatory.web.register import queries
from cosignatory.web.ui.locale import direction, format_day, format_number, register_language

SIGNATORIES_PER_PAGE = 100
EVENTS_PER_PAGE = 100
RECENT_EVENTS = 5
CHART_CACHE_SECONDS = 24 * 3600


def _count_changes(letter: m.Letter) -> list[tuple[date, int]]:
    """The letter's per-day count changes, cached until the letter's next event (they
    take a scan of its signatures: a second or so for a million)."""
    last = (
        m.EventRecord.objects.filter(letter=letter)
        .order_by("-log_index")
        .values_list("log_index", flat=True)
        .first()
    )
    key = f"cosignatory:count-changes:{letter.id}:{last}"
    changes: list[tuple[date, int]] | None = cache.get(key)
    if changes is None:
        changes = queries.count_changes(letter.id)
        cache.set(key, changes, CHART_CACHE_SECONDS)
    return changes


def _events(letter: m.Letter) -> Any:
    return m.EventRecord.objects.filter(letter=letter).select_related("party")


@require_safe
def letter(request: HttpRequest, letter: str) -> HttpResponse:
    """A letter: its facts, its text in each language and version, its signatory list
    (as of ``?as_of=YYYY-MM-DD``), a chart of its count and its latest events."""
    row = public_letter_or_404(letter)
    errors: list[str] = []

    def parsed(parse: Any, *args: Any) -> Any:
        try:
            return parse(*args)
        except BadQuery as error:
            errors.append(str(error))
            return None

    as_of: date | None = parsed(parse_day, request.GET.get("as_of"))
    wanted_version = parsed(parse_positive, request.GET.get("version"), "version")

    versions = list(row.versions.order_by("version"))
    by_number = {v.version: v for v in versions}
    if wanted_version is not None and wanted_version not in by_number:
        errors.append(_("This letter has no text version %(n)s.") % {"n": wanted_version})
        wanted_version = None
    shown = by_number.get(wanted_version or row.current_version)

    languages = [code for code in LANGUAGES if shown and shown.texts.get(code)]
    text_lang = request.GET.get("text") or None
    if text_lang is not None and text_lang not in languages:
        errors.append(_("The text is not available in that language."))
        text_lang = None
    if text_lang is None and languages:
        reader = register_language()
        text_lang = reader if reader in languages else languages[0]

    counts = queries.signatory_counts(row.id, as_of)
    paged = paginate(
        request, queries.latest_signatures(row.id, as_of), SIGNATORIES_PER_PAGE, counts.listed
    )
    signatories = [queries.signatory_row(r, row.current_version, as_of) for r in paged.items]
    disputes_of: dict[str, list[m.Dispute]] = {}
    for dispute in m.Dispute.objects.filter(
        signature_id__in=[s.signature for s in signatories]
    ).order_by("filed_at"):
        disputes_of.setdefault(dispute.signature_id, []).append(dispute)

    series = queries.cumulative(_count_changes(row), as_of)
    chart = charts.step_chart(
        series,
        title=_("Number of signatories over time"),
        description=_(
            "A step chart of the number of signatories at the end of each day it changed, "
            "from %(first)s (%(first_n)s) to %(last)s (%(last_n)s)."
        )
        % {
            "first": format_day(series[0][0]) if series else "",
            "first_n": format_number(series[0][1]) if series else "",
            "last": format_day(series[-1][0]) if series else "",
            "last_n": format_number(series[-1][1]) if series else "",
        },
        format_number=format_number,
        format_day=lambda d: format_day(d, fmt="medium"),
        until=as_of if as_of and series and as_of > series[-1][0] else None,
        rtl=direction() == "rtl",
    )
    as_of_query = f"?as_of={as_of.isoformat()}" if as_of else ""
    keep: dict[str, str] = {}  # what the "as of" form carries over: valid choices only
    if wanted_version is not None:
        keep["version"] = str(wanted_version)
    if text_lang is not None and request.GET.get("text") == text_lang:
        keep["text"] = text_lang
    return render(
        request,
        "public/letter.html",
        {
            "letter": row,
            "status_label": STATUS_LABELS.get(row.status, row.status),
            "documents": row.documents.order_by("issued_at", "symbol"),
            "versions": versions,
            "shown": shown,
            "is_current": shown is not None and shown.version == row.current_version,
            "languages": [
                (code, with_query(request.GET, text=code, page=None)) for code in languages
            ],
            "text_lang": text_lang,
            "text": shown.texts.get(text_lang, "") if shown and text_lang else "",
            "version_links": [
                (v.version, with_query(request.GET, version=v.version, page=None)) for v in versions
            ],
            "as_of": as_of,
            "as_of_query": as_of_query,
            "counts": counts,
            "paged": paged,
            "signatories": [
                {
                    "row": s,
                    "evidence_label": EVIDENCE_LABELS.get(s.evidence, s.evidence),
                    "disputes": disputes_of.get(s.signature, []),
                }
                for s in signatories
            ],
            "first_number": paged.page.start_index(),
            "chart": mark_safe(chart),  # noqa: S308 - built from escaped text by charts.py
            "disputes": m.Dispute.objects.filter(letter=row)
            .select_related("party", "signature__party")
            .order_by("filed_at"),
            "recent": describe(_events(row).order_by("-log_index")[:RECENT_EVENTS]),
            "errors": errors,
            "keep": keep,
            "today_url": with_query(request.GET, as_of=None, page=None),
            "history_url": reverse("public:letter-history", args=[row.id]),
        },
        status=400 if errors else 200,
    )


@require_safe
def letter_history(request: HttpRequest, letter: str) -> HttpResponse:
    """Every event of the letter in log order, a page at a time."""
    row = public_letter_or_404(letter)
    paged = paginate(request, _events(row).order_by("log_index"), EVENTS_PER_PAGE)
    return render(
        request,
        "public/letter_history.html",
        {"letter": row, "paged": paged, "moments": describe(paged.items)},
    )
