"""Site-wide pages."""

from __future__ import annotations

from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from cosignatory.web.log.services import get_log
from cosignatory.web.public.lists import PUBLIC_STATUSES, public_letters
from cosignatory.web.public.views import signatory_count
from cosignatory.web.register import models as m

LATEST = 8


@require_safe
def home(request: HttpRequest) -> HttpResponse:
    """The front page: the latest official documents, the letters open for signature or
    accession, and the size of the log."""
    log = get_log()
    head = log.storage.head()
    checkpoint = log.checkpoint() if head is not None else None
    documents = (
        m.Document.objects.filter(letter__status__in=PUBLIC_STATUSES)
        .select_related("letter")
        .order_by("-issued_at", "symbol")[:LATEST]
    )
    open_letters = (
        public_letters()
        .filter(Q(status="open") | Q(accessions_open=True))
        .annotate(signatory_count=signatory_count())
        .select_related("lead_party")
        .order_by("-date", "id")[:LATEST]
    )
    return render(
        request,
        "cosignatory/home.html",
        {
            "checkpoint": checkpoint,
            # The Ed25519 key only: the others (ML-DSA's is 1,800 characters) are at /log/vkeys.
            "vkey": log.verifiers[0].to_vkey() if log.verifiers else "",
            "documents": documents,
            "open_letters": open_letters,
        },
    )
