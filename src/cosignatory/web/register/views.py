"""The register's own pages: confirming an email signature, disputing a signature."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_safe

from cosignatory.core.errors import RegisterError
from cosignatory.web.register import models as m
from cosignatory.web.register import services

_ACTION_TEXT = {"sign": _("signature"), "accede": _("accession")}


def _title(letter: m.Letter) -> str:
    return str(letter.title.get("en") or next(iter(letter.title.values())))


@require_safe
def confirm(request: HttpRequest, token: str) -> HttpResponse:
    """The link in a confirmation email. Opening it again changes nothing (mail
    scanners open links), so a GET is safe to repeat."""
    try:
        recorded = services.confirm_email_signature(token)
    except RegisterError as error:
        return render(request, "register/confirm_invalid.html", {"reason": str(error)}, status=404)
    signature = m.Signature.objects.select_related("letter").get(log_index=recorded.log_index)
    return render(
        request,
        "register/confirmed.html",
        {"signature": signature, "letter_title": _title(signature.letter), "new": recorded.new},
    )


@require_safe
def dispute(request: HttpRequest) -> HttpResponse:
    """Where a notice's dispute link leads: what was recorded, and how to dispute it."""
    signature = (
        m.Signature.objects.select_related("letter", "party")
        .filter(pk=request.GET.get("signature", ""))
        .first()
    )
    context = {"signature": signature, "registrar_email": settings.COSIGNATORY_REGISTRAR_EMAIL}
    if signature is not None:
        names = signature.party.names
        context.update(
            party_name=names.get("en") or next(iter(names.values())),
            action_text=str(_ACTION_TEXT.get(signature.action, signature.action)),
            letter_title=_title(signature.letter),
        )
    return render(request, "register/dispute.html", context, status=200 if signature else 404)
