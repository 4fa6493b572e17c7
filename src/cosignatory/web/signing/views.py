"""Signing in the browser (``/sign/``): a representative signs, accedes or withdraws.

The server writes the statement (with its own time) and the page signs exactly its
RFC 8785 bytes with the representative's key, read from a local file by
``static/signing/signer.js``; the key never reaches the server. The signed statement
comes back to :func:`submit` (or, signed offline with ``cosignatory sign``, to
:func:`upload`) and is recorded by ``services.submit_statement``, which verifies it
like any other. Views only parse, authorise and call.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST, require_safe

from cosignatory.core.errors import StatementError
from cosignatory.core.state import STATEMENT_MAX_AGE
from cosignatory.core.statements import SignedStatement
from cosignatory.errors import CosignatoryError
from cosignatory.web.accounts.models import RepresentativeAccount
from cosignatory.web.accounts.roles import signatory_required
from cosignatory.web.register import models as m
from cosignatory.web.register import services
from cosignatory.web.signing import acts
from cosignatory.web.signing.errors import RELOAD, message_for
from cosignatory.web.signing.forms import MAX_FILE_BYTES, StatementFileForm

_STATUS = {
    "E_NOT_FOUND": 404,
    "E_WRONG_PARTY": 403,
    "E_MANDATE": 403,
    "E_SIG_INVALID": 422,
    "E_STATEMENT": 422,
    "E_EVENT_INVALID": 422,
    "E_TEXT_VERSION": 409,
    "E_TRY_AGAIN": 503,
}


def _representative(request: HttpRequest) -> m.Representative:
    """The representative the signed-in signatory acts as; 403 if none."""
    account = (
        RepresentativeAccount.objects.select_related("representative")
        .filter(user_id=request.user.pk or 0)
        .first()
    )
    if account is None:
        raise PermissionDenied(_("Your account is not linked to a representative."))
    return account.representative


def _party(representative: m.Representative, party_id: str) -> m.Party:
    """``party_id`` if the representative holds a current mandate for it; else 403."""
    for party in acts.parties_for(representative):
        if party.id == party_id:
            return party
    raise PermissionDenied(_("You hold no current mandate to act for this party."))


@require_safe
@signatory_required
def home(request: HttpRequest) -> HttpResponse:
    """The letters open to the representative's parties, with each party's status."""
    representative = _representative(request)
    parties = acts.parties_for(representative)
    openings = acts.openings(parties)
    return render(
        request,
        "signing/home.html",
        {
            "representative": representative,
            "parties": parties,
            "to_sign": [o for o in openings if o.action != "withdraw"],
            "to_withdraw": [o for o in openings if o.action == "withdraw"],
            "keys": acts.keys_for(representative),
        },
    )


@require_safe
@signatory_required
def letter(request: HttpRequest, letter: str) -> HttpResponse:
    """The exact text to sign in every language, its hash, and the statement to sign."""
    representative = _representative(request)
    row = get_object_or_404(m.Letter.objects.select_related("lead_party"), pk=letter)
    action = request.GET.get("action", "sign")
    if action not in acts.ACTIONS:
        return render(request, "signing/refused.html", {"letter": row}, status=400)
    party_id = request.GET.get("party")
    if party_id is None:
        parties = acts.parties_for(representative)
        if len(parties) != 1:
            return render(request, "signing/refused.html", {"letter": row}, status=400)
        party = parties[0]
    else:
        party = _party(representative, party_id)
    context: dict[str, Any] = {
        "letter": row,
        "party": party,
        "action": action,
        "representative": representative,
        "form": StatementFileForm(),
        "max_file_bytes": MAX_FILE_BYTES,
    }
    try:
        text = acts.version_for(row, party, action)
    except acts.NotOpen:
        return render(request, "signing/letter.html", context, status=409)
    now = timezone.now()
    keys = acts.keys_for(representative, now)
    offers = []
    for key in keys:
        statement = acts.statement_for(text, party, action, key, now)
        public = base64.urlsafe_b64encode(bytes(key.public_key)).decode().rstrip("=")
        offers.append(
            {"key": key, "public_key": public, "canonical": statement.signed_bytes().decode()}
        )
    context.update(
        text=text,
        texts=[(code, body, acts.visible(body)) for code, body in sorted(text.texts.items())],
        offers=offers,
        prepared_at=now,
        valid_until=now + STATEMENT_MAX_AGE,
    )
    return render(request, "signing/letter.html", context)


@dataclass(frozen=True)
class Outcome:
    """What became of a submitted statement, for a page or a JSON answer."""

    status: int
    code: str | None = None
    message: str = ""
    detail: str = ""
    log_index: int | None = None
    new: bool = False
    letter: str | None = None

    def to_json(self) -> dict[str, Any]:
        answer: dict[str, Any] = {"ok": self.code is None, "message": self.message}
        if self.code is None:
            answer.update(log_index=self.log_index, new=self.new)
            if self.letter is not None:
                answer["letter_url"] = reverse("public:letter", args=[self.letter])
        else:
            answer.update(code=self.code, detail=self.detail)
        return answer


def _refused(status: int, code: str, message: str, detail: str = "") -> Outcome:
    return Outcome(status, code, message, detail)


def _record(request: HttpRequest, signed: SignedStatement) -> Outcome:
    """Authorise ``signed`` for the signed-in representative, then record it.

    A statement naming another representative, or a party they hold no current mandate
    for, is refused before the register sees it, whoever signed it.
    """
    representative = _representative(request)
    statement = signed.statement
    if statement.representative != representative.id:
        return _refused(403, "E_WRONG_PARTY", _("This statement names another representative."))
    if statement.party not in {p.id for p in acts.parties_for(representative)}:
        return _refused(403, "E_WRONG_PARTY", message_for("E_MANDATE"))
    if timezone.now() - statement.at > STATEMENT_MAX_AGE:
        return _refused(422, "E_STATEMENT", str(RELOAD))
    try:
        recorded = services.submit_statement(signed)
    except CosignatoryError as error:
        return _refused(
            _STATUS.get(error.code, 409), error.code, message_for(error.code), str(error)
        )
    if recorded.new:
        message = _("Recorded as entry %(index)s of the register's log.")
    else:
        message = _("This was recorded already, as entry %(index)s of the log: nothing changed.")
    return Outcome(
        201 if recorded.new else 200,
        message=message % {"index": recorded.log_index},
        log_index=recorded.log_index,
        new=recorded.new,
        letter=statement.letter,
    )


@require_POST
@signatory_required
def submit(request: HttpRequest) -> JsonResponse:
    """Record ``{"statement": ..., "signature": ...}`` signed in the browser (JSON)."""
    try:
        # Only JSON: a form's body was consumed by the CSRF check, and is no statement.
        if request.content_type != "application/json":
            raise ValueError(f"the body must be application/json, not {request.content_type}")
        signed = SignedStatement.from_json(json.loads(request.body))
    except (ValueError, RecursionError, StatementError) as error:
        outcome = _refused(
            400, "E_STATEMENT", _("The request is not a signed statement."), str(error)
        )
    else:
        outcome = _record(request, signed)
    return JsonResponse(outcome.to_json(), status=outcome.status)


@require_POST
@signatory_required
def upload(request: HttpRequest) -> HttpResponse:
    """Record a statement file signed offline; the same checks as :func:`submit`."""
    form = StatementFileForm(request.POST, request.FILES)
    if not form.is_valid():
        return render(request, "signing/outcome.html", {"form": form}, status=400)
    outcome = _record(request, form.cleaned_data["statement_file"])
    letter = m.Letter.objects.filter(pk=outcome.letter).first() if outcome.letter else None
    return render(
        request,
        "signing/outcome.html",
        {"outcome": outcome, "letter": letter},
        status=outcome.status if outcome.code else 200,
    )
