"""Load the part of the register an event touches, as a :class:`core.state.Register`.

The rules judge an event against a partial state: the registrar's keys, and the
entities the event names (its letter with the signatures of the party concerned, the
party, the representative with their keys and mandates, the session with its
counters, the symbol it would take). Loading only that keeps a write's cost
independent of the register's size.
"""

from __future__ import annotations

import base64
from typing import Any

from cosignatory.core import state as core
from cosignatory.core.events import Event
from cosignatory.web.register import models as m


def load_slice(event: Event, using: str = "default") -> core.Register:
    """Return the partial register needed to judge ``event``."""
    d = dict(event.data)
    register = core.Register()
    for seal in m.RegistrarKey.objects.using(using).all():
        register.registrar_keys[seal.id] = core.RegistrarKey(
            seal.id, bytes(seal.public_key), seal.revoked_at
        )
    last = m.EventRecord.objects.using(using).order_by("-log_index").values_list("at", flat=True)
    register.last_at = last.first()

    ids = _named_ids(event, d)
    for letter_id, signature_id in (
        m.Dispute.objects.using(using)
        .filter(pk__in=ids["dispute"])
        .values_list("letter_id", "signature_id")
    ):
        ids["letter"].add(letter_id)
        ids["signature"].add(signature_id)
    ids["letter"].update(
        m.Signature.objects.using(using)
        .filter(pk__in=ids["signature"])
        .values_list("letter_id", flat=True)
    )
    for body in m.Body.objects.using(using).filter(pk__in=ids["body"]):
        register.bodies[body.id] = _body(body)
    for session in m.Session.objects.using(using).filter(pk__in=ids["session"]):
        _add_session(register, session, using)
    for party in m.Party.objects.using(using).filter(pk__in=ids["party"]):
        register.parties[party.id] = core.Party(
            party.id, party.kind, party.names, party.contact, tuple(party.members)
        )
    for rep in m.Representative.objects.using(using).filter(pk__in=ids["representative"]):
        register.representatives[rep.id] = core.Representative(rep.id, rep.name, rep.contact)
    mandates = m.Mandate.objects.using(using).filter(pk__in=ids["mandate"])
    mandates |= m.Mandate.objects.using(using).filter(
        representative_id__in=ids["representative"], party_id__in=ids["party"]
    )
    for mandate in mandates:
        register.mandates[mandate.id] = core.Mandate(
            mandate.id,
            mandate.representative_id,
            mandate.party_id,
            mandate.valid_from,
            mandate.valid_until,
            mandate.ended_at,
        )
    keys = m.Key.objects.using(using).filter(pk__in=ids["key"])
    if event.type == "key.registered":
        keys |= m.Key.objects.using(using).filter(public_key=base64.b64decode(d["public_key"]))
    for key in keys:
        register.keys[key.id] = core.Key(
            key.id,
            key.representative_id,
            bytes(key.public_key),
            key.valid_from,
            key.valid_until,
            key.revoked_at,
        )
    for letter in m.Letter.objects.using(using).filter(pk__in=ids["letter"]):
        register.letters[letter.id] = _letter(letter, ids["party"], ids["signature"], using)
    for dispute in m.Dispute.objects.using(using).filter(pk__in=ids["dispute"]):
        register.disputes[dispute.id] = core.Dispute(
            dispute.id, dispute.letter_id, dispute.signature_id, dispute.party_id, dispute.outcome
        )
    symbols = [d.get("symbol")] if d.get("symbol") else []
    register.symbols.update(
        m.Document.objects.using(using).filter(pk__in=symbols).values_list("symbol", flat=True)
    )
    return register


def _named_ids(event: Event, d: dict[str, Any]) -> dict[str, set[str]]:
    """Every identifier the event names, by the kind of thing it names."""
    ids: dict[str, set[str]] = {
        kind: set()
        for kind in (
            "body",
            "session",
            "party",
            "representative",
            "mandate",
            "key",
            "letter",
            "dispute",
            "signature",
        )
    }
    own = event.type.split(".")[0]
    if "id" in d and own in ids:
        ids[own].add(d["id"])
    if own == "letter" and "id" in d:
        ids["letter"].add(d["id"])
    for field, kind in (
        ("body", "body"),
        ("session", "session"),
        ("party", "party"),
        ("lead_party", "party"),
        ("representative", "representative"),
        ("letter", "letter"),
        ("withdraws", "signature"),
        ("signature", "signature"),
    ):
        if d.get(field):
            ids[kind].add(d[field])
    if event.type in ("dispute.filed", "dispute.resolved"):
        ids["dispute"].add(d["id"])
    if event.type == "signature.recorded":
        ids["signature"].add(d["id"])
        evidence = d["evidence"]
        if evidence.get("key"):
            ids["key"].add(evidence["key"])
        statement = evidence.get("statement")
        if isinstance(statement, dict) and isinstance(statement.get("representative"), str):
            ids["representative"].add(statement["representative"])
    ids["party"].update(d.get("members") or [])
    if event.type == "mandate.ended":
        ids["mandate"].add(d["id"])
    if event.type == "key.revoked":
        ids["key"].add(d["id"])
    return ids


def _body(body: m.Body) -> core.Body:
    return core.Body(body.id, body.names, body.symbol_root, body.symbol_format)


def _add_session(register: core.Register, session: m.Session, using: str) -> None:
    counters = dict(
        m.SeriesCounter.objects.using(using)
        .filter(session=session)
        .values_list("series", "last_number")
    )
    register.sessions[session.id] = core.Session(
        session.id, session.body_id, session.number, session.symbol_prefix, counters
    )
    if session.body_id not in register.bodies:
        register.bodies[session.body_id] = _body(
            m.Body.objects.using(using).get(pk=session.body_id)
        )


def _letter(letter: m.Letter, parties: set[str], signatures: set[str], using: str) -> core.Letter:
    loaded = core.Letter(
        letter.id,
        letter.lead_party_id,
        letter.session_id,
        letter.status,
        letter.accessions_open,
        dict(
            m.TextVersion.objects.using(using)
            .filter(letter=letter)
            .values_list("version", "text_hash")
        ),
        letter.symbol,
        letter.registered_session_id,
    )
    if letter.symbol:
        for kind, number in (
            m.Document.objects.using(using)
            .filter(letter=letter, of=letter.symbol)
            .values_list("kind", "number")
        ):
            loaded.documents[kind] = max(number, loaded.documents.get(kind, 0))
    rows = m.Signature.objects.using(using).filter(letter=letter, party_id__in=parties)
    rows |= m.Signature.objects.using(using).filter(letter=letter, pk__in=signatures)
    for row in rows:
        loaded.signatures[row.id] = core.SignatureRecord(
            row.id,
            row.action,
            row.party_id,
            row.version,
            row.at,
            row.evidence_kind,
            row.representative_id,
            row.log_index,
            row.withdrawn_at,
            (row.withdrawal or {}).get("id"),
            row.superseded_by,
            row.voided,
        )
        if row.active:
            loaded.active[row.party_id] = row.id
        if row.withdrawal:
            loaded.withdrawals.add(row.withdrawal["id"])
        for moment in (row.at, row.withdrawn_at):
            held = loaded.last_act.get(row.party_id)
            if moment is not None and (held is None or moment > held):
                loaded.last_act[row.party_id] = moment
    return loaded
