"""A letter as a PDF laid out like an official document, its signatories in an annex.

The page follows the layout of United Nations documents: the symbol at the top on the
far side, the distribution, date and original language below it, the body and session,
the title, the text; then an annex listing the signatories with the evidence of each,
withdrawn ones struck through and marked in words. Everything on it — labels, dates,
names — is in the language of the text shown (the reader's, or ``?text=xx``); Arabic runs
right to left. WeasyPrint draws it with the Noto fonts (Latin, Cyrillic, Arabic, CJK).
"""

from __future__ import annotations

import re
from typing import Any

from django.template.loader import render_to_string
from django.utils import translation
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _

from cosignatory.core.events import LANGUAGES
from cosignatory.web.public.lists import (
    EVIDENCE_LABELS,
    BadQuery,
)
from cosignatory.web.register import models as m
from cosignatory.web.register import queries
from cosignatory.web.ui.locale import (
    direction,
    format_day,
    language_name,
    language_of,
    localised,
    register_language,
)
from cosignatory.web.ui.text import render_markdown

MAX_ANNEX_ROWS = 1_000
"""Signatories listed in the annex at most (some 30 pages, drawn in seconds); beyond,
the annex points to the CSV and JSON."""

_DJANGO_CODE = {"zh": "zh-hans"}


def choose_language(texts: dict[str, str], wanted: str | None) -> str:
    """The language of the text to show: ``wanted`` if given (raises BadQuery if the
    letter has no text in it), else the reader's, else English, else the first."""
    available = [code for code in LANGUAGES if texts.get(code)]
    if wanted:
        if wanted not in available:
            raise BadQuery(_("The text is not available in that language."))
        return wanted
    for code in (register_language(), "en", *available):
        if code in available:
            return code
    return register_language()


def document_html(
    letter: m.Letter, lang: str, as_of: Any = None, verify_url: str | None = None
) -> str:
    """The HTML WeasyPrint turns into the PDF, in ``lang`` (labels, dates, names)."""
    version = letter.versions.filter(version=letter.current_version).first()
    texts: dict[str, str] = dict(version.texts) if version else {}
    session = letter.registered_session or letter.session
    rows = queries.signatory_list(letter.id, as_of)
    disputed = set(
        m.Dispute.objects.filter(letter=letter, outcome__isnull=True).values_list(
            "signature_id", flat=True
        )
    )
    original = next((code for code in ("en", *LANGUAGES) if texts.get(code)), lang)
    annex = [
        {
            "number": n,
            "name": localised(row.party_names, lang) or row.party,
            "name_lang": next(
                (c for c in (lang, "en", *LANGUAGES) if row.party_names.get(c)), lang
            ),
            "kind": row.party_kind,
            "evidence": EVIDENCE_LABELS.get(row.evidence, row.evidence),
            "evidence_detail": row.evidence_detail,
            "action": row.action,
            "at": format_day(row.at, lang),
            "withdrawn_at": format_day(row.withdrawn_at, lang) if row.withdrawn_at else None,
            "voided": row.voided,
            "disputed": row.signature in disputed,
            "earlier": row.on_earlier_version,
        }
        for n, row in enumerate(rows[:MAX_ANNEX_ROWS], 1)
    ]
    with translation.override(_DJANGO_CODE.get(lang, lang)):
        return render_to_string(
            "public/pdf.html",
            {
                "letter": letter,
                "lang": lang,
                "dir": direction(lang),
                "symbol": letter.symbol,
                # Repeated at the top of every later page, from a CSS string: only the
                # characters symbols and ids are made of.
                "running_symbol": re.sub(r"[^A-Za-z0-9._:/ -]", "", letter.symbol or letter.id),
                "date": format_day(letter.date, lang),
                "original": language_name(original, lang),
                "body_name": localised(session.body.names, lang) if session else "",
                "body_lang": language_of(session.body.names, lang) if session else lang,
                "session_name": localised(session.names, lang) if session else "",
                "session_lang": language_of(session.names, lang) if session else lang,
                "title": localised(letter.title, lang),
                "lead_party": localised(letter.lead_party.names, lang),
                "addressees": letter.addressees,
                # render_markdown sanitises with nh3: its HTML is safe to include as it is.
                "text": mark_safe(render_markdown(texts.get(lang, ""))),  # noqa: S308
                "version": version,
                "annex": annex,
                "listed": len(rows),
                "active": sum(r.active for r in rows),
                "truncated": len(rows) > MAX_ANNEX_ROWS,
                "as_of": format_day(as_of, lang) if as_of else None,
                "verify_url": verify_url,
            },
        )


def render_pdf(html: str, base_url: str) -> bytes:
    """Draw ``html`` as PDF with WeasyPrint."""
    # Imported here: it loads Pango, which takes a moment.
    from weasyprint import HTML  # type: ignore[import-untyped]

    pdf: bytes = HTML(string=html, base_url=base_url).write_pdf()
    return pdf
