"""The compare page: two or more letters side by side, party by party.

Each letter's current signatory list is read whole (:func:`signatory_list`): the page
is for comparing letters of states and organisations, hundreds of parties at most.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from cosignatory.web.public import charts
from cosignatory.web.public.lists import public_letters
from cosignatory.web.register import models as m
from cosignatory.web.register.queries import SignatoryRow, signatory_list
from cosignatory.web.ui.locale import direction, format_number, localised

MAX_LETTERS = 6
CHOICES = 200

STANDING_LABELS = {
    "signed": gettext_lazy("signed"),
    "acceded": gettext_lazy("acceded"),
    "withdrawn": gettext_lazy("withdrawn"),
    "voided": gettext_lazy("voided (dispute upheld)"),
    "none": gettext_lazy("not signed"),
}


def standing(row: SignatoryRow | None) -> str:
    """``signed``, ``acceded``, ``withdrawn``, ``voided`` or ``none``."""
    if row is None:
        return "none"
    if row.voided:
        return "voided"
    if row.withdrawn_at is not None:
        return "withdrawn"
    return "acceded" if row.action == "accede" else "signed"


@dataclass
class Comparison:
    """Who stands where on each of ``letters`` (in the order chosen)."""

    letters: list[m.Letter]
    rows: list[dict[str, Any]] = field(default_factory=list)
    all_count: int = 0
    some_count: int = 0
    only: list[tuple[m.Letter, list[m.Party]]] = field(default_factory=list)
    totals: list[tuple[m.Letter, int, int]] = field(default_factory=list)


def compare_letters(letters: list[m.Letter]) -> Comparison:
    """The table and summary of the compare page for ``letters``."""
    lists = [{r.party: r for r in signatory_list(letter.id)} for letter in letters]
    party_ids = sorted({p for rows in lists for p in rows})
    parties = {p.id: p for p in m.Party.objects.filter(pk__in=party_ids)}
    result = Comparison(letters)
    only: list[list[m.Party]] = [[] for _ in letters]
    for pid in sorted(party_ids, key=lambda p: (localised(parties[p].names).casefold(), p)):
        standings = [standing(rows.get(pid)) for rows in lists]
        active = [s in ("signed", "acceded") for s in standings]
        if all(active):
            result.all_count += 1
        elif any(active):
            result.some_count += 1
            if sum(active) == 1:
                only[active.index(True)].append(parties[pid])
        result.rows.append(
            {
                "party": parties[pid],
                "cells": [(s, STANDING_LABELS[s]) for s in standings],
            }
        )
    result.only = list(zip(letters, only, strict=True))
    for letter, rows in zip(letters, lists, strict=True):
        kinds = [standing(r) for r in rows.values()]
        signed = sum(k in ("signed", "acceded") for k in kinds)
        result.totals.append((letter, signed, kinds.count("withdrawn")))
    return result


def _label(letter: m.Letter) -> str:
    return letter.symbol or localised(letter.title)


def render_compare(request: HttpRequest) -> HttpResponse:
    """The page: a form to choose letters, and the comparison of those chosen."""
    wanted = [w for w in dict.fromkeys(request.GET.getlist("letters")) if w]
    found = {
        letter.id: letter
        for letter in public_letters().filter(pk__in=wanted).select_related("lead_party")
    }
    error = None
    if any(w not in found for w in wanted):
        error = _("There is no public letter with that identifier: %(ids)s.") % {
            "ids": ", ".join(w for w in wanted if w not in found)
        }
    elif len(wanted) > MAX_LETTERS:
        error = _("Choose at most %(n)s letters.") % {"n": MAX_LETTERS}
    elif len(wanted) == 1:
        error = _("Choose at least two letters to compare.")
    comparison = None
    chart = ""
    if error is None and len(wanted) >= 2:
        comparison = compare_letters([found[w] for w in wanted])
        only = {letter.id: len(parties) for letter, parties in comparison.only}
        chart = charts.grouped_bars(
            [
                (_label(letter), [active, only[letter.id], withdrawn])
                for letter, active, withdrawn in comparison.totals
            ],
            [_("signatories"), _("only this letter"), _("withdrawn")],
            title=_("Signatories of the letters compared"),
            description=_(
                "For each letter: its number of signatories, how many of them signed "
                "none of the other letters compared, and how many withdrew."
            ),
            format_number=format_number,
            rtl=direction() == "rtl",
        )
    choices = list(public_letters().order_by("-date", "id")[:CHOICES])
    choices += [found[w] for w in wanted if w in found and found[w] not in choices]
    return render(
        request,
        "public/compare.html",
        {
            "choices": choices,
            "chosen": set(wanted),
            "comparison": comparison,
            "chart": mark_safe(chart),  # noqa: S308 - built from escaped text by charts.py
            "error": error,
            "prompt": not wanted,
        },
        status=400 if error else 200,
    )
