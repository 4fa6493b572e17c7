"""The registrar's writes: one operation per service, with a registrar token.

Each view parses the body, and hands one call of a named service in
:mod:`cosignatory.web.register.services` to :func:`.idempotency.once`, which carries it
out once per ``Idempotency-Key``. The service judges, records and projects in one
transaction; a refusal raises its error (a problem response) and changes nothing.
Filing a dispute is open to a signatory token too, for its own party.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from django.http import HttpRequest, HttpResponse
from ninja import Path
from ninja.types import TCallable

from cosignatory.core.events import check_b64
from cosignatory.web.api import auth
from cosignatory.web.api.auth import token_of
from cosignatory.web.api.errors import ForbiddenError
from cosignatory.web.api.idempotency import IdempotencyKey, once
from cosignatory.web.api.limits import WriteThrottle
from cosignatory.web.api.routes import router
from cosignatory.web.api.schemas import (
    ID_PATTERN,
    AttestedIn,
    BodyIn,
    ContactIn,
    DisputeIn,
    IssueIn,
    KeyIn,
    LetterIn,
    MandateIn,
    PartyIn,
    Problem,
    ReasonIn,
    RegisterIn,
    RepresentativeIn,
    ResolveIn,
    SessionIn,
    StateIn,
    TextVersionIn,
    TransmitIn,
    WriteResult,
)
from cosignatory.web.register import lookalikes
from cosignatory.web.register import services as s
from cosignatory.web.register.services import Recorded

IdPath = Annotated[str, Path(pattern=ID_PATTERN)]

WRITE_RESPONSES: dict[int, Any] = {
    200: WriteResult,
    201: WriteResult,
    **{status: Problem for status in (400, 401, 403, 404, 405, 409, 413, 422, 429)},
}


_THROTTLE = WriteThrottle()


def _write(path: str, summary: str, **options: Any) -> Callable[[TCallable], TCallable]:
    options.setdefault("auth", auth.registrar)
    return router.post(
        path,
        response=WRITE_RESPONSES,
        summary=summary,
        tags=["registrar"],
        throttle=_THROTTLE,
        **options,
    )


# -- bodies, sessions, parties, representatives, mandates, keys ----------------------------


@_write("/bodies", "Create a body")
def create_body(request: HttpRequest, key: IdempotencyKey, body: BodyIn) -> HttpResponse:
    return once(
        request,
        key,
        lambda: s.create_body(body.id, body.names, body.symbol_root, body.symbol_format),
    )


@_write("/sessions", "Create a session of a body")
def create_session(request: HttpRequest, key: IdempotencyKey, body: SessionIn) -> HttpResponse:
    return once(
        request,
        key,
        lambda: s.create_session(
            body.id, body.body, body.number, body.names, body.start, body.end, body.symbol_prefix
        ),
    )


@_write("/parties", "Register a party")
def register_party(request: HttpRequest, key: IdempotencyKey, body: PartyIn) -> HttpResponse:
    return once(
        request,
        key,
        lambda: _unless_lookalike(
            lambda: lookalikes.party_lookalikes(body.names, body.id),
            body.allow_confusable,
            lambda: s.register_party(
                body.id, body.kind, body.names, body.code, body.contact, body.members
            ),
        ),
    )


def _unless_lookalike(
    found: Callable[[], list[lookalikes.Lookalike]], allow: bool, call: Callable[[], Recorded]
) -> Recorded:
    """Run ``call`` unless a look-alike name is unconfirmed (409 E_NAME_CONFUSABLE)."""
    lookalikes.refuse_unconfirmed(found(), allow)
    return call()


@_write("/states", "Register a state by its ISO 3166-1 alpha-3 code")
def register_state(request: HttpRequest, key: IdempotencyKey, body: StateIn) -> HttpResponse:
    """Its names in the six UN languages come from CLDR."""
    return once(
        request,
        key,
        lambda: _unless_lookalike(
            lambda: lookalikes.state_lookalikes(body.code),
            body.allow_confusable,
            lambda: s.register_state(body.code.upper(), body.contact),
        ),
    )


@_write("/parties/{party}/contact", "Set a party's contact address")
def set_party_contact(
    request: HttpRequest, key: IdempotencyKey, party: IdPath, body: ContactIn
) -> HttpResponse:
    return once(request, key, lambda: s.set_party_contact(party, body.contact))


@_write("/representatives", "Register a representative")
def register_representative(
    request: HttpRequest, key: IdempotencyKey, body: RepresentativeIn
) -> HttpResponse:
    return once(
        request,
        key,
        lambda: _unless_lookalike(
            lambda: lookalikes.representative_lookalikes(body.name, body.id),
            body.allow_confusable,
            lambda: s.register_representative(body.id, body.name, body.contact),
        ),
    )


@_write("/mandates", "Grant a representative a mandate for a party")
def grant_mandate(request: HttpRequest, key: IdempotencyKey, body: MandateIn) -> HttpResponse:
    return once(
        request,
        key,
        lambda: s.grant_mandate(
            body.id,
            body.representative,
            body.party,
            body.valid_from,
            body.valid_until,
            _instrument(body.credential),
        ),
    )


@_write("/mandates/{mandate}/end", "End a mandate")
def end_mandate(
    request: HttpRequest, key: IdempotencyKey, mandate: IdPath, body: ReasonIn
) -> HttpResponse:
    return once(request, key, lambda: s.end_mandate(mandate, body.reason))


@_write("/keys", "Register a representative's Ed25519 key")
def register_key(request: HttpRequest, key: IdempotencyKey, body: KeyIn) -> HttpResponse:
    def write() -> s.Recorded:
        public_key = check_b64(body.public_key, "public_key", 32)
        return s.register_key(
            body.id, body.representative, public_key, body.valid_from, body.valid_until
        )

    return once(request, key, write)


@_write("/keys/{key_id}/revoke", "Revoke a key")
def revoke_key(
    request: HttpRequest, key: IdempotencyKey, key_id: IdPath, body: ReasonIn
) -> HttpResponse:
    return once(request, key, lambda: s.revoke_key(key_id, body.reason))


# -- letters ------------------------------------------------------------------------------------


@_write("/letters", "Create a letter (a draft)")
def create_letter(request: HttpRequest, key: IdempotencyKey, body: LetterIn) -> HttpResponse:
    return once(
        request,
        key,
        lambda: s.create_letter(
            body.id, body.title, body.addressees, body.lead_party, body.date, body.session
        ),
    )


@_write("/letters/{letter}/versions", "Freeze a new text version")
def add_text_version(
    request: HttpRequest, key: IdempotencyKey, letter: IdPath, body: TextVersionIn
) -> HttpResponse:
    """Signatures bind to its hash, which covers every language."""
    return once(
        request,
        key,
        lambda: s.add_text_version(letter, {str(lang): text for lang, text in body.texts.items()}),
    )


@_write("/letters/{letter}/open", "Open a letter for signature")
def open_letter(request: HttpRequest, key: IdempotencyKey, letter: IdPath) -> HttpResponse:
    return once(request, key, lambda: s.open_letter(letter))


@_write("/letters/{letter}/close", "Close a letter for signature")
def close_letter(request: HttpRequest, key: IdempotencyKey, letter: IdPath) -> HttpResponse:
    return once(request, key, lambda: s.close_letter(letter))


@_write("/letters/{letter}/reopen", "Reopen a letter (for signature, or for accessions)")
def reopen_letter(request: HttpRequest, key: IdempotencyKey, letter: IdPath) -> HttpResponse:
    return once(request, key, lambda: s.reopen_letter(letter))


@_write("/letters/{letter}/transmit", "Record a letter's transmission")
def transmit_letter(
    request: HttpRequest, key: IdempotencyKey, letter: IdPath, body: TransmitIn
) -> HttpResponse:
    return once(request, key, lambda: s.transmit_letter(letter, body.date))


@_write("/letters/{letter}/register", "Register a letter as an official document")
def register_document(
    request: HttpRequest, key: IdempotencyKey, letter: IdPath, body: RegisterIn
) -> HttpResponse:
    """The letter takes the next number in the session's series (e.g. ``A/HRC/41/G/17``)."""
    return once(request, key, lambda: s.register_document(letter, body.session, body.series))


@_write("/letters/{letter}/cancel-registration", "Cancel a letter's registration")
def cancel_registration(
    request: HttpRequest, key: IdempotencyKey, letter: IdPath, body: ReasonIn
) -> HttpResponse:
    """The symbol's number is never used again."""
    return once(request, key, lambda: s.cancel_registration(letter, body.reason))


@_write("/letters/{letter}/publish", "Publish a registered letter")
def publish_letter(request: HttpRequest, key: IdempotencyKey, letter: IdPath) -> HttpResponse:
    return once(request, key, lambda: s.publish_letter(letter))


@_write("/letters/{letter}/documents", "Issue an Add., Corr. or Rev. of a registered letter")
def issue_document(
    request: HttpRequest, key: IdempotencyKey, letter: IdPath, body: IssueIn
) -> HttpResponse:
    return once(request, key, lambda: s.issue_document(letter, body.kind, body.version, body.note))


@_write("/letters/{letter}/attested", "Record a signature received on paper")
def record_attested(
    request: HttpRequest, key: IdempotencyKey, letter: IdPath, body: AttestedIn
) -> HttpResponse:
    """A signature, accession or withdrawal received by an instrument (a note verbale...),
    sealed by the registrar. Signing again on the current version changes nothing."""
    return once(
        request,
        key,
        lambda: s.record_attested(
            letter, body.party, body.action, _instrument(body.instrument), body.representative
        ),
    )


# -- disputes -------------------------------------------------------------------------------------


@_write("/disputes", "File a dispute against a signature", auth=auth.registrar_or_signatory)
def file_dispute(request: HttpRequest, key: IdempotencyKey, body: DisputeIn) -> HttpResponse:
    """A party says "we did not sign this". A signatory token files for its own party only."""
    token = token_of(request)
    if token.role == token.Role.SIGNATORY and token.party != body.party:
        raise ForbiddenError(f"this token acts for {token.party}, not {body.party}")
    return once(
        request,
        key,
        lambda: s.file_dispute(
            body.signature, body.party, body.statement, _instrument(body.instrument)
        ),
    )


@_write("/disputes/{dispute}/resolve", "Resolve a dispute")
def resolve_dispute(
    request: HttpRequest, key: IdempotencyKey, dispute: IdPath, body: ResolveIn
) -> HttpResponse:
    """An upheld dispute voids the signature."""
    return once(request, key, lambda: s.resolve_dispute(dispute, body.outcome, body.note))


def _instrument(instrument: Any) -> dict[str, str]:
    return {
        "kind": instrument.kind,
        "reference": instrument.reference,
        "date": instrument.date.isoformat(),
    }
