"""From events to tables: the one function that writes the register's projections.

``project(event, log_index)`` is called by the services right after an event is
appended (in the same transaction) and by ``cosignatory rebuild`` for every entry of
the log, so the live tables and a rebuilt copy come from the same code. It trusts the
event: the rules in :mod:`cosignatory.core.state` have judged it before.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

from cosignatory.core.events import Event, parse_date, parse_time
from cosignatory.web.public.models import SearchEntry  # search index hook (public app)
from cosignatory.web.public.searchindex import index_event  # search index hook
from cosignatory.web.register import models as m

Projector = Callable[[Event, dict[str, Any], int, str], None]
_PROJECTORS: dict[str, Projector] = {}

# The projection tables, in an order that respects their foreign keys.
PROJECTION_MODELS: tuple[type[Any], ...] = (
    m.RegistrarKey,
    m.Body,
    m.Session,
    m.SeriesCounter,
    m.Party,
    m.Representative,
    m.Mandate,
    m.Key,
    m.Letter,
    m.TextVersion,
    m.Document,
    m.Signature,
    m.Dispute,
    m.EventRecord,
    # The public search index (cosignatory.web.public.searchindex): a projection too,
    # so `cosignatory rebuild` rebuilds and compares it with the rest.
    SearchEntry,
)


def handles(event_type: str) -> Callable[[Projector], Projector]:
    def register(function: Projector) -> Projector:
        _PROJECTORS[event_type] = function
        return function

    return register


def project(event: Event, log_index: int, using: str = "default") -> None:
    """Write what ``event`` (at ``log_index``) changes into the tables of ``using``."""
    data = dict(event.data)
    _PROJECTORS[event.type](event, data, log_index, using)
    index_event(event.type, data, using)  # keeps the public search index current
    m.EventRecord.objects.using(using).create(
        log_index=log_index,
        type=event.type,
        at=event.at,
        letter_id=_letter_of(event, data, using),
        party_id=data.get("party") or (data["id"] if event.type == "party.registered" else None),
    )


def _letter_of(event: Event, data: dict[str, Any], using: str) -> str | None:
    if event.type == "letter.created":
        return str(data["id"])
    if "letter" in data:
        return str(data["letter"])
    if event.type == "dispute.resolved":
        return str(m.Dispute.objects.using(using).get(pk=data["id"]).letter_id)
    if event.type == "dispute.filed":  # names the signature, which names the letter
        return str(m.Signature.objects.using(using).get(pk=data["signature"]).letter_id)
    return None


def _time(value: str | None) -> Any:
    return parse_time(value) if value else None


@handles("registrar.key_added")
def _registrar_key_added(event: Event, d: dict[str, Any], index: int, using: str) -> None:
    m.RegistrarKey.objects.using(using).create(
        id=d["key"], public_key=base64.b64decode(d["public_key"]), name=d["name"], added_at=event.at
    )


@handles("registrar.key_revoked")
def _registrar_key_revoked(event: Event, d: dict[str, Any], index: int, using: str) -> None:
    m.RegistrarKey.objects.using(using).filter(pk=d["key"]).update(revoked_at=event.at)


@handles("body.created")
def _body_created(event: Event, d: dict[str, Any], index: int, using: str) -> None:
    m.Body.objects.using(using).create(
        id=d["id"],
        names=d["names"],
        symbol_root=d["symbol_root"],
        symbol_format=d.get("symbol_format"),
    )


@handles("session.created")
def _session_created(event: Event, d: dict[str, Any], index: int, using: str) -> None:
    m.Session.objects.using(using).create(
        id=d["id"],
        body_id=d["body"],
        number=d["number"],
        names=d["names"],
        start=parse_date(d["start"]),
        end=parse_date(d["end"]),
        symbol_prefix=d["symbol_prefix"],
    )


@handles("party.registered")
def _party_registered(event: Event, d: dict[str, Any], index: int, using: str) -> None:
    m.Party.objects.using(using).create(
        id=d["id"],
        kind=d["kind"],
        names=d["names"],
        code=d.get("code"),
        contact=d.get("contact"),
        members=list(d.get("members") or []),
    )


@handles("party.contact_set")
def _party_contact_set(event: Event, d: dict[str, Any], index: int, using: str) -> None:
    m.Party.objects.using(using).filter(pk=d["party"]).update(contact=d.get("contact"))


@handles("representative.registered")
def _representative_registered(event: Event, d: dict[str, Any], index: int, using: str) -> None:
    m.Representative.objects.using(using).create(
        id=d["id"], name=d["name"], contact=d.get("contact")
    )


@handles("mandate.granted")
def _mandate_granted(event: Event, d: dict[str, Any], index: int, using: str) -> None:
    m.Mandate.objects.using(using).create(
        id=d["id"],
        representative_id=d["representative"],
        party_id=d["party"],
        valid_from=parse_time(d["valid_from"]),
        valid_until=_time(d.get("valid_until")),
        credential=d["credential"],
    )


@handles("mandate.ended")
def _mandate_ended(event: Event, d: dict[str, Any], index: int, using: str) -> None:
    m.Mandate.objects.using(using).filter(pk=d["id"]).update(ended_at=event.at)


@handles("key.registered")
def _key_registered(event: Event, d: dict[str, Any], index: int, using: str) -> None:
    m.Key.objects.using(using).create(
        id=d["id"],
        representative_id=d["representative"],
        public_key=base64.b64decode(d["public_key"]),
        valid_from=parse_time(d["valid_from"]),
        valid_until=_time(d.get("valid_until")),
    )


@handles("key.revoked")
def _key_revoked(event: Event, d: dict[str, Any], index: int, using: str) -> None:
    m.Key.objects.using(using).filter(pk=d["id"]).update(revoked_at=event.at)


@handles("letter.created")
def _letter_created(event: Event, d: dict[str, Any], index: int, using: str) -> None:
    m.Letter.objects.using(using).create(
        id=d["id"],
        title=d["title"],
        addressees=d["addressees"],
        lead_party_id=d["lead_party"],
        date=parse_date(d["date"]),
        session_id=d.get("session"),
        status="draft",
        created_at=event.at,
    )


@handles("letter.text_version_added")
def _text_version_added(event: Event, d: dict[str, Any], index: int, using: str) -> None:
    m.TextVersion.objects.using(using).create(
        letter_id=d["letter"],
        version=d["version"],
        texts=d["texts"],
        text_hash=d["text_hash"],
        created_at=event.at,
    )
    m.Letter.objects.using(using).filter(pk=d["letter"]).update(current_version=d["version"])


def _letter(d: dict[str, Any], using: str) -> m.Letter:
    return m.Letter.objects.using(using).select_for_update().get(pk=d["letter"])


@handles("letter.opened")
def _letter_opened(event: Event, d: dict[str, Any], index: int, using: str) -> None:
    m.Letter.objects.using(using).filter(pk=d["letter"]).update(status="open")


@handles("letter.closed")
def _letter_closed(event: Event, d: dict[str, Any], index: int, using: str) -> None:
    letter = _letter(d, using)
    if letter.status in ("transmitted", "registered", "published"):
        letter.accessions_open = False
    else:
        letter.status = "closed"
    letter.save(using=using, update_fields=["status", "accessions_open"])


@handles("letter.reopened")
def _letter_reopened(event: Event, d: dict[str, Any], index: int, using: str) -> None:
    letter = _letter(d, using)
    if letter.status in ("transmitted", "registered", "published"):
        letter.accessions_open = True
    else:
        letter.status = "open"
    letter.save(using=using, update_fields=["status", "accessions_open"])


@handles("letter.transmitted")
def _letter_transmitted(event: Event, d: dict[str, Any], index: int, using: str) -> None:
    m.Letter.objects.using(using).filter(pk=d["letter"]).update(
        status="transmitted", accessions_open=False, transmitted_on=parse_date(d["date"])
    )


@handles("letter.registered")
def _letter_registered(event: Event, d: dict[str, Any], index: int, using: str) -> None:
    m.Letter.objects.using(using).filter(pk=d["letter"]).update(
        status="registered", symbol=d["symbol"], registered_session_id=d["session"]
    )
    m.SeriesCounter.objects.using(using).update_or_create(
        session_id=d["session"], series=d["series"], defaults={"last_number": d["number"]}
    )
    m.Document.objects.using(using).create(
        symbol=d["symbol"],
        letter_id=d["letter"],
        kind="original",
        number=d["number"],
        series=d["series"],
        session_id=d["session"],
        issued_at=event.at,
    )


@handles("letter.registration_cancelled")
def _registration_cancelled(event: Event, d: dict[str, Any], index: int, using: str) -> None:
    m.Letter.objects.using(using).filter(pk=d["letter"]).update(status="transmitted", symbol=None)
    m.Document.objects.using(using).filter(pk=d["symbol"]).update(
        cancelled_at=event.at, note=d["reason"]
    )


@handles("letter.published")
def _letter_published(event: Event, d: dict[str, Any], index: int, using: str) -> None:
    m.Letter.objects.using(using).filter(pk=d["letter"]).update(status="published")


@handles("document.issued")
def _document_issued(event: Event, d: dict[str, Any], index: int, using: str) -> None:
    m.Document.objects.using(using).create(
        symbol=d["symbol"],
        letter_id=d["letter"],
        kind=d["kind"],
        of=d["of"],
        number=d["number"],
        version=d.get("version"),
        note=d.get("note"),
        issued_at=event.at,
    )


@handles("signature.recorded")
def _signature_recorded(event: Event, d: dict[str, Any], index: int, using: str) -> None:
    signatures = m.Signature.objects.using(using)
    if d["action"] == "withdraw":
        signatures.filter(pk=d["withdraws"]).update(
            withdrawn_at=event.at,
            active=False,
            withdrawal={"id": d["id"], "evidence": d["evidence"], "log_index": index},
        )
        return
    signatures.filter(letter_id=d["letter"], party_id=d["party"], active=True).update(
        active=False, superseded_by=d["id"]
    )
    signatures.create(
        id=d["id"],
        letter_id=d["letter"],
        party_id=d["party"],
        action=d["action"],
        version=d["version"],
        text_hash=d["text_hash"],
        at=event.at,
        evidence_kind=d["evidence"]["kind"],
        evidence=d["evidence"],
        representative_id=d.get("representative"),
        log_index=index,
    )


@handles("dispute.filed")
def _dispute_filed(event: Event, d: dict[str, Any], index: int, using: str) -> None:
    signature = m.Signature.objects.using(using).get(pk=d["signature"])
    m.Dispute.objects.using(using).create(
        id=d["id"],
        letter_id=signature.letter_id,
        signature=signature,
        party_id=d["party"],
        statement=d["statement"],
        evidence=d["evidence"],
        filed_at=event.at,
    )


@handles("dispute.resolved")
def _dispute_resolved(event: Event, d: dict[str, Any], index: int, using: str) -> None:
    dispute = m.Dispute.objects.using(using).get(pk=d["id"])
    dispute.outcome = d["outcome"]
    dispute.note = d["note"]
    dispute.resolved_at = event.at
    dispute.save(using=using, update_fields=["outcome", "note", "resolved_at"])
    if d["outcome"] == "upheld":
        m.Signature.objects.using(using).filter(pk=dispute.signature_id).update(
            voided=True, active=False
        )
