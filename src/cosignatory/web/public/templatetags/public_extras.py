"""Template filters of the public pages: how a signature is known, in the reader's language.

``register.queries.evidence_detail`` gives the same facts as one English line for the API
and exports; the pages use :func:`evidence_text`, which translates the words, formats the
dates for the reader and isolates references and key ids (``<bdi>``) so that they keep
their order in a right-to-left page.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from cosignatory.web.register import models as m
from cosignatory.web.ui import locale

register = template.Library()


def instrument_kind_label(kind: str) -> str:
    """The name of a kind of instrument (how a party told the registrar), translated."""
    labels = {
        "note-verbale": pgettext("instrument", "note verbale"),
        "letter": pgettext("instrument", "letter"),
        "email": pgettext("instrument", "email"),
        "fax": pgettext("instrument", "fax"),
        "in-person": pgettext("instrument", "in person"),
    }
    return labels.get(kind, kind)


def _day(value: Any) -> str:
    """A date or timestamp from the log (ISO text) formatted for the reader."""
    if not value:
        return ""
    try:
        if isinstance(value, (date, datetime)):
            parsed: date | datetime = value
        elif "T" in str(value):
            parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        else:
            parsed = date.fromisoformat(str(value))
    except ValueError:
        return str(value)
    return locale.format_day(parsed, fmt="medium")


def render_evidence(evidence: Mapping[str, Any] | None) -> SafeString:
    """How a signature is known, as safe HTML in the active language."""
    evidence = evidence or {}
    kind = evidence.get("kind")
    if kind == "attested":
        instrument = evidence.get("instrument") or {}
        return format_html(
            _("{kind} {reference}, {day}"),
            kind=instrument_kind_label(str(instrument.get("kind", ""))),
            reference=format_html("<bdi>{}</bdi>", instrument.get("reference", "")),
            day=format_html("<bdi>{}</bdi>", _day(instrument.get("date"))),
        )
    if kind == "self-signed":
        return format_html(
            _("signed with key {key}"),
            key=format_html("<bdi>{}</bdi>", evidence.get("key", "")),
        )
    if kind == "email-verified":
        return format_html(
            _("email confirmed on {day}"),
            day=format_html("<bdi>{}</bdi>", _day(evidence.get("confirmed_at"))),
        )
    return format_html("{}", kind or "")


@register.filter
def evidence_text(evidence: Mapping[str, Any] | None) -> SafeString:
    """``{{ signature.evidence|evidence_text }}``: how a signature is known, translated."""
    return render_evidence(evidence)


@register.simple_tag
def evidence_by_signature(items: Iterable[Any]) -> dict[str, Any]:
    """``{% evidence_by_signature signatories as evidence %}``: the evidence of the
    signatures of a page (items are ``SignatoryRow`` or ``{"row": SignatoryRow}``),
    read in one query, by signature id."""
    ids = [item["row"].signature if isinstance(item, Mapping) else item.signature for item in items]
    return dict(m.Signature.objects.filter(pk__in=ids).values_list("id", "evidence"))


@register.simple_tag
def evidence_of(evidence: Mapping[str, Any], signature: str) -> SafeString:
    """``{% evidence_of evidence s.signature %}``: one signature's evidence, translated."""
    return render_evidence(evidence.get(signature))
