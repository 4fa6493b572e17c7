"""The public register's pages: readable by anyone, without JavaScript or login.

Views parse the query, read the tables and render; they never write. Which letters are
public is decided in :mod:`cosignatory.web.public.lists` (every state but ``draft``).
A query value the page cannot use gives the page with a message and status 400.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from django.db.models import Count, OuterRef, Prefetch, Q, Subquery, TextField
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Coalesce
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_safe

from cosignatory.web.public import compare as compare_page
from cosignatory.web.public.letter_pages import letter, letter_history
from cosignatory.web.public.lists import (
    PARTY_KINDS,
    PUBLIC_STATUSES,
    STATUS_LABELS,
    paginate,
    public_letters,
)
from cosignatory.web.register import models as m
from cosignatory.web.register.queries import evidence_detail
from cosignatory.web.ui.locale import register_language

__all__ = [
    "bodies",
    "body",
    "compare",
    "document",
    "letter",
    "letter_history",
    "letters",
    "parties",
    "party",
    "session",
]

LETTERS_PER_PAGE = 50
PARTIES_PER_PAGE = 100


def _todo(request: HttpRequest, **kwargs: str) -> HttpResponse:
    """A page not written yet (placeholder modules use it until replaced)."""
    raise Http404


def _counted(letters: Any) -> Any:
    """Letters with their current number of signatories (one grouped query)."""
    return letters.annotate(signatory_count=signatory_count()).select_related("lead_party")


def signatory_count() -> Coalesce:
    """A letter's current number of signatories, as a subquery counted on the
    (letter, active) index: no join of the letters with all their signatures."""
    active = (
        m.Signature.objects.filter(letter_id=OuterRef("pk"), active=True)
        .order_by()
        .values("letter_id")
        .annotate(n=Count("*"))  # not Count("id"): COUNT(*) needs only the index
        .values("n")
    )
    return Coalesce(Subquery(active), 0)


@require_safe
def bodies(request: HttpRequest) -> HttpResponse:
    """Every body, with how many sessions it has."""
    rows = m.Body.objects.annotate(session_count=Count("sessions")).order_by("id")
    return render(request, "public/bodies.html", {"bodies": rows})


@require_safe
def body(request: HttpRequest, body: str) -> HttpResponse:
    """A body and its sessions, latest first."""
    row = get_object_or_404(m.Body, pk=body)
    sessions = row.sessions.annotate(
        letter_count=Count("letter", filter=Q(letter__status__in=PUBLIC_STATUSES))
    ).order_by("-number")
    return render(request, "public/body.html", {"body": row, "sessions": sessions})


@require_safe
def session(request: HttpRequest, session: str) -> HttpResponse:
    """A session: its official documents by series (each with its Add., Corr. and Rev.),
    and its public letters."""
    row = get_object_or_404(m.Session.objects.select_related("body"), pk=session)
    originals = list(
        m.Document.objects.filter(session=row, kind="original")
        .select_related("letter")
        .order_by("series", "number")
    )
    related: dict[str, list[m.Document]] = defaultdict(list)
    for doc in m.Document.objects.filter(of__in=[d.symbol for d in originals]).order_by(
        "issued_at", "symbol"
    ):
        related[doc.of or ""].append(doc)
    series: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for doc in originals:
        series[doc.series or ""].append({"document": doc, "related": related[doc.symbol]})
    letters = list(
        _counted(
            public_letters()
            .filter(Q(session=row) | Q(registered_session=row))
            .order_by("date", "id")
        )
    )
    compare_url = None
    if 2 <= len(letters) <= compare_page.MAX_LETTERS:
        compare_url = (
            reverse("public:compare")
            + "?"
            + urlencode([("letters", letter.id) for letter in letters])
        )
    return render(
        request,
        "public/session.html",
        {
            "session": row,
            "series": sorted(series.items()),
            "letters": letters,
            "compare_url": compare_url,
        },
    )


@require_safe
def document(request: HttpRequest, symbol: str) -> HttpResponse:
    """An official document by its symbol (``DEMO/C/7/G/1/Add.1``), with the letter it
    belongs to and every document related to it, cancelled ones marked."""
    doc = get_object_or_404(
        m.Document.objects.select_related("letter", "session", "letter__lead_party"),
        pk=symbol.rstrip("/"),
        letter__status__in=PUBLIC_STATUSES,
    )
    related = m.Document.objects.filter(letter=doc.letter).order_by("issued_at", "symbol")
    return render(
        request,
        "public/document.html",
        {
            "document": doc,
            "letter": doc.letter,
            "related": related,
            "status_label": STATUS_LABELS.get(doc.letter.status, doc.letter.status),
        },
    )


@require_safe
def letters(request: HttpRequest) -> HttpResponse:
    """Every public letter, newest first, optionally only those in one state."""
    status = request.GET.get("status") or None
    bad = status is not None and status not in PUBLIC_STATUSES
    rows = public_letters()
    if status is not None and not bad:
        rows = rows.filter(status=status)
    paged = paginate(request, _counted(rows.order_by("-date", "id")), LETTERS_PER_PAGE)
    return render(
        request,
        "public/letters.html",
        {
            "paged": paged,
            "status": None if bad else status,
            "statuses": [(s, STATUS_LABELS[s]) for s in PUBLIC_STATUSES],
            "status_error": bad,
        },
        status=400 if bad else 200,
    )


@require_safe
def parties(request: HttpRequest) -> HttpResponse:
    """Every party, by name in the reader's language, optionally of one kind."""
    kind = request.GET.get("kind") or None
    bad = kind is not None and kind not in PARTY_KINDS
    rows = m.Party.objects.all()
    if kind is not None and not bad:
        rows = rows.filter(kind=kind)
    lang = register_language()
    rows = rows.annotate(
        sort_name=Coalesce(
            KeyTextTransform(lang, "names"),
            KeyTextTransform("en", "names"),
            "id",
            output_field=TextField(),
        )
    ).order_by("sort_name", "id")
    paged = paginate(request, rows, PARTIES_PER_PAGE)
    return render(
        request,
        "public/parties.html",
        {
            "paged": paged,
            "kind": None if bad else kind,
            "kinds": list(PARTY_KINDS.items()),
            "kind_error": bad,
        },
        status=400 if bad else 200,
    )


@require_safe
def party(request: HttpRequest, party: str) -> HttpResponse:
    """A party's every act on public letters: signatures, accessions, withdrawals (in
    log order, with dates and evidence), and the disputes it filed or that concern it."""
    row = get_object_or_404(m.Party, pk=party)
    acts = (
        m.Signature.objects.filter(party=row, letter__status__in=PUBLIC_STATUSES)
        .select_related("letter")
        .prefetch_related(Prefetch("disputes", queryset=m.Dispute.objects.order_by("filed_at")))
        .order_by("log_index")
    )
    paged = paginate(request, acts, PARTIES_PER_PAGE)
    shown = [
        {
            "signature": s,
            "detail": evidence_detail(s.evidence),
            "withdrawal_detail": evidence_detail((s.withdrawal or {}).get("evidence") or {}),
        }
        for s in paged.items
    ]
    disputes = (
        m.Dispute.objects.filter(Q(party=row) | Q(signature__party=row))
        .filter(letter__status__in=PUBLIC_STATUSES)
        .select_related("letter", "party", "signature__party")
        .order_by("filed_at")
    )
    return render(
        request,
        "public/party.html",
        {
            "party": row,
            "kind_label": PARTY_KINDS.get(row.kind, row.kind),
            "paged": paged,
            "acts": shown,
            "disputes": disputes,
            "led": public_letters().filter(lead_party=row).order_by("-date"),
        },
    )


@require_safe
def compare(request: HttpRequest) -> HttpResponse:
    """Two or more letters side by side: which party signed which."""
    return compare_page.render_compare(request)
