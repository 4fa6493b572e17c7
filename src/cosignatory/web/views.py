"""Site-wide pages."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from cosignatory.web.log.services import get_log


@require_safe
def home(request: HttpRequest) -> HttpResponse:
    """The front page: what the register is, and the state of its log."""
    log = get_log()
    head = log.storage.head()
    checkpoint = log.checkpoint() if head is not None else None
    return render(
        request,
        "cosignatory/home.html",
        {
            "checkpoint": checkpoint,
            "checkpoint_text": head.checkpoint if head else "",
            "vkeys": [(v.type_name, v.to_vkey()) for v in log.verifiers],
        },
    )
