"""The demonstration register: a fictional body and letters, real state names.

Everything here is sample data and says so: the body is the "Demonstration Council",
its symbols start with ``DEMO/``, and the letters' titles begin with "[Demo]". The
representatives and their keys are made up; their private keys are derived from
public seeds, so never use them for anything else.

It shows every kind of fact the register records: letters in several states,
signatures of all three evidence kinds, an accession, a withdrawal, a dispute, an
Add. and a Corr. document.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from cosignatory.core.statements import SignedStatement, Statement
from cosignatory.web.register import models as m
from cosignatory.web.register import services as s

BODY = "demo-council"
SESSION = "demo-council-7"
START = datetime(2019, 6, 24, 9, 0, tzinfo=UTC)

SELF_SIGNING = ("FRA", "DEU", "NOR", "CHE")
ATTESTING_A = ("ESP", "PRT", "IRL", "NLD", "BEL", "AUT", "FIN", "SWE", "DNK", "ISL", "LUX", "NZL")
ATTESTING_B = ("BRA", "ARG", "URY", "CHL", "MEX", "COL", "PER", "ECU", "BOL", "PRY")


def demo_private_key(party: str) -> Ed25519PrivateKey:
    """The demonstration representative's key for ``party`` (public seed: demo only)."""
    seed = hashlib.sha256(f"cosignatory demo representative {party}".encode()).digest()
    return Ed25519PrivateKey.from_private_bytes(seed)


def _ticks(start: datetime) -> Iterator[datetime]:
    moment = start
    while True:
        yield moment
        moment += timedelta(hours=7, minutes=13)


def _note(reference: str, day: date) -> dict[str, str]:
    return {"kind": "note-verbale", "reference": reference, "date": day.isoformat()}


def _self_sign(party: str, letter: str, action: str, at: datetime) -> None:
    row = m.Letter.objects.get(pk=letter)
    version = row.current_version
    text = m.TextVersion.objects.get(letter=row, version=version)
    if action == "withdraw":
        version = m.Signature.objects.get(letter=row, party_id=party, active=True).version
        text = m.TextVersion.objects.get(letter=row, version=version)
    statement = Statement(
        action,
        letter,
        version,
        text.text_hash,
        party,
        f"rep-{party.lower()}",
        f"key-{party.lower()}",
        at,
    )
    signed = SignedStatement(statement, statement.sign(demo_private_key(party)))
    s.submit_statement(signed)


def load_demo() -> int:
    """Load the demonstration register into an empty register; return events recorded.

    Raises DuplicateEntityError if it was loaded before.
    """
    before = m.EventRecord.objects.count()
    # The demo's history starts in June 2019, unless the register already has later
    # events (such as the registrar's key): events never go back in time.
    last = m.EventRecord.objects.order_by("-log_index").values_list("at", flat=True).first()
    ticks = _ticks(START if last is None or last < START else last + timedelta(minutes=1))
    with s.use_clock(lambda: next(ticks)):
        _reference_data()
        _letter_a()
        _letter_b()
        _letter_c()
        _letter_d()
    return m.EventRecord.objects.count() - before


def _reference_data() -> None:
    s.initialise_register()
    s.create_body(
        BODY,
        {
            "en": "Demonstration Council",
            "fr": "Conseil de démonstration",
            "es": "Consejo de demostración",
            "ru": "Демонстрационный совет",
            "zh": "演示理事会",
            "ar": "مجلس العرض التوضيحي",
        },
        "DEMO/C",
    )
    s.create_session(
        SESSION,
        BODY,
        7,
        {"en": "Seventh session (demonstration)", "fr": "Septième session (démonstration)"},
        date(2019, 6, 24),
        date(2019, 7, 12),
        "DEMO/C/7/",
    )
    for code in SELF_SIGNING + ATTESTING_A + ATTESTING_B + ("ITA",):
        # No contact addresses: demonstration parties get no email notices.
        s.register_state(code)
    for code in SELF_SIGNING:
        rep = f"rep-{code.lower()}"
        s.register_representative(rep, f"Demonstration Ambassador of {code}")
        s.grant_mandate(
            f"mandate-{code.lower()}",
            rep,
            code,
            START - timedelta(days=30),
            None,
            _note(f"DEMO/CRED/{code}", date(2019, 5, 20)),
        )
        s.register_key(
            f"key-{code.lower()}",
            rep,
            demo_private_key(code).public_key().public_bytes_raw(),
            START - timedelta(days=30),
        )
    s.register_party(
        "org-demo-heritage",
        "organisation",
        {"en": "Demonstration Heritage Network", "fr": "Réseau démonstratif du patrimoine"},
    )


def _letter_a() -> None:
    letter = "demo-heritage"
    s.create_letter(
        letter,
        {
            "en": "[Demo] Joint letter on the protection of cultural heritage",
            "fr": "[Démo] Lettre conjointe sur la protection du patrimoine culturel",
            "es": "[Demo] Carta conjunta sobre la protección del patrimonio cultural",
        },
        ["President of the Demonstration Council", "Demonstration High Commissioner"],
        "FRA",
        date(2019, 7, 8),
        SESSION,
    )
    s.add_text_version(
        letter,
        {
            "en": "We, the undersigned, **call on** all parties to protect cultural heritage.\n\n"
            "We ask that this letter be recorded as an official document of the session.",
            "fr": "Nous, soussignés, **appelons** toutes les parties à protéger le patrimoine "
            "culturel.\n\nNous demandons que cette lettre soit enregistrée comme document "
            "officiel de la session.",
            "es": "Nosotros, los abajo firmantes, **instamos** a todas las partes a proteger el "
            "patrimonio cultural.",
        },
    )
    s.open_letter(letter)
    for code in SELF_SIGNING:
        _self_sign(code, letter, "sign", s._now())
    for n, code in enumerate(ATTESTING_A):
        s.record_attested(letter, code, "sign", _note(f"DEMO/NV/{100 + n}", date(2019, 7, 8)))
    s.transmit_letter(letter, date(2019, 7, 9))
    s.register_document(letter, SESSION, "G")
    s.publish_letter(letter)
    s.reopen_letter(letter)
    s.record_attested(letter, "ITA", "accede", _note("DEMO/NV/200", date(2019, 7, 15)))
    s.issue_document(letter, "Add", note="Additional signatory: Italy (demonstration)")
    s.record_attested(letter, "PRT", "withdraw", _note("DEMO/NV/201", date(2019, 7, 20)))
    s.close_letter(letter)


def _letter_b() -> None:
    letter = "demo-development"
    s.create_letter(
        letter,
        {
            "en": "[Demo] Joint letter on development and cooperation",
            "es": "[Demo] Carta conjunta sobre desarrollo y cooperación",
        },
        ["President of the Demonstration Council"],
        "BRA",
        date(2019, 7, 12),
        SESSION,
    )
    s.add_text_version(
        letter,
        {
            "en": "We commend the spirit of cooperation and support development for all.",
            "es": "Encomiamos el espíritu de cooperación y apoyamos el desarrollo para todos.",
        },
    )
    s.open_letter(letter)
    for n, code in enumerate(ATTESTING_B):
        s.record_attested(letter, code, "sign", _note(f"DEMO/NV/{300 + n}", date(2019, 7, 12)))
    disputed = m.Signature.objects.get(letter_id=letter, party_id="BOL")
    dispute = s.file_dispute(
        disputed.id,
        "BOL",
        "We did not sign this letter.",
        _note("DEMO/NV/BOL/1", date(2019, 7, 14)),
    )
    assert dispute.event is not None
    s.resolve_dispute(
        dispute.event.data["id"], "upheld", "The note verbale was attributed to the wrong mission."
    )
    s.transmit_letter(letter, date(2019, 7, 15))
    s.register_document(letter, SESSION, "G")
    s.add_text_version(
        letter,
        {
            "en": "We commend the spirit of cooperation and support sustainable development "
            "for all.",
            "es": "Encomiamos el espíritu de cooperación y apoyamos el desarrollo sostenible para "
            "todos.",
        },
    )
    s.issue_document(letter, "Corr", version=2, note="Editorial correction of the English text")


def _letter_c() -> None:
    letter = "demo-open-letter"
    s.create_letter(
        letter,
        {"en": "[Demo] Open letter from researchers on open data"},
        ["Demonstration High Commissioner"],
        "org-demo-heritage",
        date(2019, 8, 1),
    )
    s.add_text_version(letter, {"en": "We support open data for research. (Demonstration.)"})
    s.open_letter(letter)
    s.record_attested(
        letter,
        "org-demo-heritage",
        "sign",
        {"kind": "letter", "reference": "DEMO/HN/1", "date": "2019-08-01"},
    )
    for n, name in enumerate(("Ada Demo", "Grace Example", "Alan Sample")):
        token = s.request_email_signature(letter, name, f"person{n}@demo.invalid", send=False)
        s.confirm_email_signature(token)


def _letter_d() -> None:
    s.create_letter(
        "demo-draft",
        {"en": "[Demo] Draft letter, not yet open for signature"},
        ["President of the Demonstration Council"],
        "NOR",
        date(2019, 9, 1),
        SESSION,
    )
