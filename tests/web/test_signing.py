"""Signing in the browser (``/sign/``), through the test client.

The browser's part (reading the key file, Web Crypto) is in
tests/browser/test_browser_signing.py; here the statement the page offers is signed in
Python, exactly as the page would sign it, and posted to the same endpoints.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from cosignatory.core.statements import SignedStatement, Statement
from cosignatory.web.accounts.models import RepresentativeAccount
from cosignatory.web.accounts.roles import SIGNATORY, grant_role
from cosignatory.web.register import models as m
from cosignatory.web.register import services as s
from cosignatory.web.register.sequencer import NotAnsweredError

LETTER = "letter-heritage"
TEXTS = {
    "en": "We, the undersigned, **call on** all parties to protect cultural heritage.",
    "fr": "Nous, soussignés, **appelons** toutes les parties à protéger le patrimoine.",
    "ar": "نحن الموقعين أدناه ندعو جميع الأطراف إلى حماية التراث الثقافي.",
}


@dataclass
class Setup:
    """A register with two representatives, each with one key and one party."""

    user: Any  # signs for FRA as rep-fra
    fra_key: Ed25519PrivateKey
    deu_key: Ed25519PrivateKey


def make_register(fra_public_key: bytes | None = None) -> Setup:
    """FRA (rep-fra, key-fra) and DEU (rep-deu, key-deu); one open letter in three
    languages; a user ``ana`` with the signatory role linked to rep-fra."""
    now = timezone.now()
    fra_key, deu_key = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    s.initialise_register()
    for code, key in (("FRA", fra_key), ("DEU", deu_key)):
        rep = f"rep-{code.lower()}"
        s.register_state(code)
        s.register_representative(rep, f"Ambassador of {code}")
        s.grant_mandate(
            f"mandate-{code.lower()}",
            rep,
            code,
            now - timedelta(days=30),
            None,
            {"kind": "note-verbale", "reference": f"CRED/{code}", "date": "2026-10-01"},
        )
        public = key.public_key().public_bytes_raw()
        if code == "FRA" and fra_public_key is not None:
            public = fra_public_key
        s.register_key(f"key-{code.lower()}", rep, public, now - timedelta(days=30))
    s.create_letter(
        LETTER,
        {"en": "Joint letter on cultural heritage", "fr": "Lettre conjointe sur le patrimoine"},
        ["The President"],
        "FRA",
        date(2026, 11, 1),
    )
    s.add_text_version(LETTER, TEXTS)
    s.open_letter(LETTER)
    user = get_user_model().objects.create_user("ana", password="a long test password")
    grant_role(user, SIGNATORY)
    RepresentativeAccount.objects.create(user=user, representative_id="rep-fra")
    return Setup(user, fra_key, deu_key)


@pytest.fixture
def setup(log: Any) -> Setup:
    return make_register()


@pytest.fixture
def ana(client: Client, setup: Setup) -> Client:
    client.force_login(setup.user)
    return client


def offered(client: Client, party: str = "FRA", action: str = "sign") -> Statement:
    """The statement the letter page offers for signing (its canonical JSON)."""
    response = client.get(f"/sign/{LETTER}/", {"party": party, "action": action})
    assert response.status_code == 200
    [offer] = response.context["offers"]
    return Statement.from_json(json.loads(offer["canonical"]))


def post(client: Client, statement: Statement, signature: bytes) -> Any:
    body = {"statement": statement.to_json(), "signature": base64.b64encode(signature).decode()}
    return client.post("/sign/statements/submit", json.dumps(body), content_type="application/json")


def entries() -> int:
    return m.EventRecord.objects.count()


pytestmark = pytest.mark.django_db(transaction=True)


def test_anonymous_visitors_are_sent_to_the_login_page(client: Client, setup: Setup) -> None:
    for path in ("/sign/", f"/sign/{LETTER}/?party=FRA"):
        response = client.get(path)
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/")
    response = client.post("/sign/statements/submit", "{}", content_type="application/json")
    assert response.status_code == 302


def test_a_user_without_the_signatory_role_is_refused(client: Client, setup: Setup) -> None:
    other = get_user_model().objects.create_user("bob", password="a long test password")
    client.force_login(other)
    assert client.get("/sign/").status_code == 403


def test_a_signatory_not_linked_to_a_representative_is_refused(
    client: Client, setup: Setup
) -> None:
    other = get_user_model().objects.create_user("cy", password="a long test password")
    grant_role(other, SIGNATORY)
    client.force_login(other)
    assert client.get("/sign/").status_code == 403


def test_home_lists_the_letters_open_to_the_representatives_parties(ana: Client) -> None:
    page = ana.get("/sign/").content.decode()
    assert "Joint letter on cultural heritage" in page
    assert f"/sign/{LETTER}/?party=FRA&amp;action=sign" in page
    assert "party=DEU" not in page  # rep-fra holds no mandate for DEU
    assert "Not signed" in page


def test_the_letter_page_shows_every_language_the_hash_and_the_statement(
    ana: Client, setup: Setup
) -> None:
    response = ana.get(f"/sign/{LETTER}/", {"party": "FRA", "action": "sign"})
    page = response.content.decode()
    text = m.TextVersion.objects.get(letter_id=LETTER, version=1)
    assert text.text_hash in page
    for code in TEXTS:
        assert f'lang="{code}"' in page
    assert "<strong>call on</strong>" in page  # rendered Markdown
    assert "**call on**" in page  # and the exact text
    assert 'dir="rtl"' in page  # the Arabic text
    [offer] = response.context["offers"]
    statement = Statement.from_json(json.loads(offer["canonical"]))
    assert (statement.party, statement.representative, statement.key) == (
        "FRA",
        "rep-fra",
        "key-fra",
    )
    assert statement.text_hash == text.text_hash
    assert statement.signed_bytes().decode().replace('"', "&quot;") in page
    # The key file is read by the page only: its input has no name and is in no form.
    file_input = re.search(r"<input id=\"key-file\"[^>]*>", page)
    assert file_input is not None and "name=" not in file_input.group(0)
    assert "<form" not in page.split('id="signer"')[1].split("</section>")[0]
    assert f"cosignatory sign {LETTER} --party FRA --representative rep-fra --key key-fra" in page


def test_another_party_is_forbidden(ana: Client) -> None:
    assert ana.get(f"/sign/{LETTER}/", {"party": "DEU"}).status_code == 403
    assert ana.get(f"/sign/{LETTER}/", {"party": "ITA"}).status_code == 403


def test_unknown_letter_is_404_and_a_bad_action_400(ana: Client) -> None:
    assert ana.get("/sign/no-such-letter/", {"party": "FRA"}).status_code == 404
    assert ana.get(f"/sign/{LETTER}/", {"party": "FRA", "action": "vote"}).status_code == 400


def test_a_statement_signed_with_the_representatives_key_is_recorded(
    ana: Client, setup: Setup
) -> None:
    statement = offered(ana)
    before = entries()
    response = post(ana, statement, statement.sign(setup.fra_key))
    assert response.status_code == 201, response.json()
    answer = response.json()
    assert answer["ok"] and answer["new"]
    assert answer["letter_url"] == f"/letters/{LETTER}/"
    assert entries() == before + 1
    signature = m.Signature.objects.get(letter_id=LETTER, party_id="FRA", active=True)
    assert signature.evidence_kind == "self-signed"
    assert signature.log_index == answer["log_index"]
    assert signature.evidence["statement"] == statement.to_json()

    # The same statement again changes nothing.
    again = post(ana, statement, statement.sign(setup.fra_key))
    assert again.status_code == 200 and not again.json()["new"]
    assert entries() == before + 1

    # Now the party's signature is listed for withdrawal, and withdrawing works too.
    assert "party=FRA&amp;action=withdraw" in ana.get("/sign/").content.decode()
    withdrawal = offered(ana, action="withdraw")
    response = post(ana, withdrawal, withdrawal.sign(setup.fra_key))
    assert response.status_code == 201, response.json()
    assert not m.Signature.objects.filter(letter_id=LETTER, party_id="FRA", active=True).exists()


def test_a_tampered_signature_is_refused_and_nothing_recorded(ana: Client, setup: Setup) -> None:
    statement = offered(ana)
    signature = bytearray(statement.sign(setup.fra_key))
    signature[0] ^= 1
    before = entries()
    response = post(ana, statement, bytes(signature))
    assert response.status_code == 422
    assert response.json()["code"] == "E_SIG_INVALID"
    assert "does not verify with your registered key" in response.json()["message"]
    assert entries() == before


def test_a_statement_over_another_text_is_refused(ana: Client, setup: Setup) -> None:
    good = offered(ana)
    bad = Statement.from_json({**good.to_json(), "text_hash": "ab" * 32})
    before = entries()
    response = post(ana, bad, bad.sign(setup.fra_key))
    assert response.status_code == 409
    assert response.json()["code"] == "E_TEXT_VERSION"
    assert "text has changed" in response.json()["message"]
    assert entries() == before


def test_a_statement_for_another_party_is_refused_even_if_validly_signed(
    ana: Client, setup: Setup
) -> None:
    good = offered(ana)
    before = entries()
    # DEU's own representative and key: valid, but not what ana may submit.
    for_deu = Statement.from_json(
        {**good.to_json(), "party": "DEU", "representative": "rep-deu", "key": "key-deu"}
    )
    response = post(ana, for_deu, for_deu.sign(setup.deu_key))
    assert response.status_code == 403
    assert response.json()["code"] == "E_WRONG_PARTY"
    # rep-fra's own key, but for a party rep-fra holds no mandate for.
    as_fra = Statement.from_json({**good.to_json(), "party": "DEU"})
    response = post(ana, as_fra, as_fra.sign(setup.fra_key))
    assert response.status_code == 403
    assert entries() == before


def test_a_stale_statement_asks_for_a_reload(ana: Client, setup: Setup) -> None:
    good = offered(ana)
    old = Statement.from_json({**good.to_json(), "at": "2026-01-01T00:00:00.000000Z"})
    before = entries()
    response = post(ana, old, old.sign(setup.fra_key))
    assert response.status_code == 422
    assert "Reload the page" in response.json()["message"]
    assert entries() == before


def test_a_malformed_request_is_refused(ana: Client) -> None:
    before = entries()
    for body in ("not json", "{}", json.dumps({"statement": {}, "signature": "AA=="})):
        response = ana.post("/sign/statements/submit", body, content_type="application/json")
        assert response.status_code == 400
        assert response.json()["code"] == "E_STATEMENT"
    assert entries() == before


def test_a_statement_file_signed_offline_can_be_uploaded(ana: Client, setup: Setup) -> None:
    statement = offered(ana)
    signed = SignedStatement(statement, statement.sign(setup.fra_key))
    upload = SimpleUploadedFile("statement.json", signed.to_text().encode(), "application/json")
    response = ana.post("/sign/statements/upload", {"statement_file": upload})
    assert response.status_code == 200
    page = response.content.decode()
    assert "Statement recorded" in page
    assert f'href="/letters/{LETTER}/"' in page
    assert m.Signature.objects.filter(letter_id=LETTER, party_id="FRA", active=True).exists()


def test_a_bad_statement_file_is_refused_with_a_message(ana: Client, setup: Setup) -> None:
    before = entries()
    upload = SimpleUploadedFile("statement.json", b'{"statement": 1}', "application/json")
    response = ana.post("/sign/statements/upload", {"statement_file": upload})
    assert response.status_code == 400
    assert "not a signed statement file" in response.content.decode()

    statement = offered(ana)
    forged = SignedStatement(statement, statement.sign(setup.deu_key))
    upload = SimpleUploadedFile("statement.json", forged.to_text().encode(), "application/json")
    response = ana.post("/sign/statements/upload", {"statement_file": upload})
    assert response.status_code == 422
    assert "Statement not recorded" in response.content.decode()
    assert entries() == before


def test_after_transmission_the_party_accedes(ana: Client, setup: Setup) -> None:
    s.transmit_letter(LETTER, date(2026, 11, 2))
    assert ana.get(f"/sign/{LETTER}/", {"party": "FRA", "action": "sign"}).status_code == 409
    assert "Read and accede" not in ana.get("/sign/").content.decode()
    s.reopen_letter(LETTER)  # open for accessions
    assert "party=FRA&amp;action=accede" in ana.get("/sign/").content.decode()
    statement = offered(ana, action="accede")
    response = post(ana, statement, statement.sign(setup.fra_key))
    assert response.status_code == 201, response.json()
    signature = m.Signature.objects.get(letter_id=LETTER, party_id="FRA", active=True)
    assert signature.action == "accede"


def test_a_revoked_key_is_not_offered_and_its_statements_are_refused(
    ana: Client, setup: Setup
) -> None:
    statement = offered(ana)  # prepared while the key was valid
    s.revoke_key("key-fra", "lost")
    page = ana.get(f"/sign/{LETTER}/", {"party": "FRA"})
    assert page.status_code == 200
    assert page.context["offers"] == []
    assert "You have no key valid now" in page.content.decode()
    before = entries()
    response = post(ana, statement, statement.sign(setup.fra_key))
    assert response.status_code == 409
    assert response.json()["code"] == "E_KEY_REVOKED"
    assert "revoked" in response.json()["message"]
    assert entries() == before


def test_invisible_formatting_characters_are_shown(ana: Client, setup: Setup) -> None:
    s.add_text_version(LETTER, {"en": "We agree\u202e to nothing."})
    page = ana.get(f"/sign/{LETTER}/", {"party": "FRA"}).content.decode()
    assert "We agree&lt;U+202E&gt; to nothing." in page
    assert "invisible formatting characters" in page


def test_a_statement_the_register_could_not_confirm_is_to_be_sent_again(
    ana: Client, setup: Setup, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The register's answer did not come in time (or its sequencer stopped): 503, and the
    representative is told to send the statement again (see test_sequencer and test_hub
    for how that comes about)."""
    statement = offered(ana)

    def unanswered(signed: Any) -> None:
        raise NotAnsweredError("the register did not record the statement in time")

    monkeypatch.setattr(s, "submit_statement", unanswered)
    response = post(ana, statement, statement.sign(setup.fra_key))
    assert response.status_code == 503
    assert response.json()["code"] == "E_TRY_AGAIN"
    assert "Send it again: if it was recorded, nothing changes" in response.json()["message"]
