"""A representative's key is compromised and revoked at time T.

The register's rule (core/state.py, ``_check_self_signed``): a self-signed act is judged
at the time it is **recorded**, the event's time, not at the time written in the
statement (which the holder of a stolen key could write as they please). So from T on:

* every statement signed with the key is refused with ``E_KEY_REVOKED``, through the
  JSON API, ``cosignatory sign --submit`` and the ``/sign/`` pages, and nothing changes;
  that holds for a statement dated before T that arrives after it, too;
* the signatures recorded before T stand, and every list shows them "made before the
  revocation": the letter page, the JSON and CSV downloads, the API's signatory list
  and the offline verifier's output of the letter's bundle. A list "as of" a date
  before T shows no mark (the key was good then).
"""

from __future__ import annotations

import csv
import io
import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from cosignatory.cli.main import main
from cosignatory.core.statements import SignedStatement, Statement
from cosignatory.tlog.note import KeyType, Signer
from cosignatory.web.accounts.models import RepresentativeAccount
from cosignatory.web.accounts.roles import SIGNATORY, grant_role
from cosignatory.web.log.models import LogEntry
from cosignatory.web.register import models as m
from cosignatory.web.register import services as s
from cosignatory.web.register.demo import demo_private_key, load_demo

EARLY = "kc-signed-early"  # FRA signed it before the revocation
LATER = "kc-open"  # still open: the revoked key tries to sign it

pytestmark = pytest.mark.django_db(transaction=True)


def snapshot() -> tuple[int, int, int, int]:
    return (
        LogEntry.objects.count(),
        m.EventRecord.objects.count(),
        m.Signature.objects.count(),
        m.Signature.objects.filter(active=True).count(),
    )


def statement(letter: str, action: str = "sign", at: Any = None, version: int = 1) -> Statement:
    text = m.TextVersion.objects.get(letter_id=letter, version=version)
    return Statement(
        action, letter, version, text.text_hash, "FRA", "rep-fra", "key-fra", at or timezone.now()
    )


def signed(st: Statement) -> SignedStatement:
    return SignedStatement(st, st.sign(demo_private_key("FRA")))


def body(response: Any) -> str:
    """A download's text, streamed or not."""
    assert response.status_code == 200
    if response.streaming:
        return b"".join(response.streaming_content).decode()
    return str(response.content.decode())


def api_submit(item: SignedStatement) -> Any:
    return Client().post(
        "/api/v1/statements", json.dumps(item.to_json()), content_type="application/json"
    )


@pytest.fixture
def compromised(log: Any, settings: Any) -> dict[str, Any]:
    """The demo register, FRA's signature on EARLY, then key-fra revoked (time T)."""
    settings.COSIGNATORY_API_WRITES_PER_MINUTE = 0
    cache.clear()
    load_demo()
    for letter in (EARLY, LATER):
        s.create_letter(letter, {"en": letter}, ["The President"], "DEU", date(2026, 11, 1))
        s.add_text_version(letter, {"en": f"The text of {letter}."})
        s.open_letter(letter)
    response = api_submit(signed(statement(EARLY)))
    assert response.status_code == 201, response.content
    early = m.Signature.objects.get(letter_id=EARLY, party_id="FRA", active=True)
    prepared = signed(statement(LATER))  # signed before T, never sent before T
    s.revoke_key("key-fra", "the laptop holding it was stolen")
    revoked_at = m.Key.objects.get(pk="key-fra").revoked_at
    assert revoked_at is not None and early.at < revoked_at
    return {"early": early, "prepared": prepared, "revoked_at": revoked_at}


def test_after_the_revocation_every_channel_refuses_the_key(
    compromised: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = snapshot()

    # The JSON API: a new statement, and one signed before T but sent after it.
    for item in (signed(statement(LATER)), compromised["prepared"]):
        response = api_submit(item)
        assert response.status_code == 422, response.content
        assert response["Content-Type"] == "application/problem+json"
        assert response.json()["code"] == "E_KEY_REVOKED"
        assert "revoked" in response.json()["detail"]
    # Nor can the key withdraw the signature it made before T.
    withdrawal = statement(EARLY, "withdraw")
    assert api_submit(signed(withdrawal)).json()["code"] == "E_KEY_REVOKED"

    # The command line: cosignatory sign --submit.
    skey = tmp_path / "rep-fra.skey"
    seed = demo_private_key("FRA").private_bytes_raw()
    skey.write_text(Signer("rep-fra", KeyType.ED25519, seed).to_skey() + "\n")
    argv = ["sign", LATER, "--skey", str(skey), "--party", "FRA", "--representative", "rep-fra"]
    code = main([*argv, "--key", "key-fra", "--submit"])
    out, err = capsys.readouterr()
    assert code == 1 and out == ""
    assert err.splitlines()[-1].endswith("[E_KEY_REVOKED]")

    # The /sign/ pages: the key is no longer offered, and an uploaded file is refused.
    user = get_user_model().objects.create_user("amb-fra", password="a long test password")
    grant_role(user, SIGNATORY)
    RepresentativeAccount.objects.create(user=user, representative_id="rep-fra")
    browser = Client()
    browser.force_login(user)
    page = browser.get(f"/sign/{LATER}/", {"party": "FRA"})
    assert page.status_code == 200 and page.context["offers"] == []
    upload = SimpleUploadedFile(
        "statement.json", compromised["prepared"].to_text().encode(), "application/json"
    )
    response = browser.post("/sign/statements/upload", {"statement_file": upload})
    assert response.status_code == 409
    assert "revoked" in response.content.decode()

    assert snapshot() == before
    early = m.Signature.objects.get(pk=compromised["early"].pk)
    assert early.active and early.withdrawn_at is None
    print(f"\nkey compromise: 6 attempts with the revoked key refused, log size {before[0]}")


def test_a_new_key_signs_again(compromised: dict[str, Any]) -> None:
    """Recovery: the registrar registers a new key; the revoked one stays refused."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    fresh = Ed25519PrivateKey.generate()
    s.register_key("key-fra-2", "rep-fra", fresh.public_key().public_bytes_raw(), timezone.now())
    st = Statement.from_json({**statement(LATER).to_json(), "key": "key-fra-2"})
    assert api_submit(SignedStatement(st, st.sign(fresh))).status_code == 201
    assert api_submit(signed(statement(LATER, "withdraw"))).json()["code"] == "E_KEY_REVOKED"


MARK = "made before its revocation on"


def test_signatures_made_before_stay_and_are_marked(
    compromised: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str], log: Any
) -> None:
    early = compromised["early"]
    when = compromised["revoked_at"].strftime("%Y-%m-%dT%H:%M:%S")

    # The letter page.
    page = Client().get(f"/letters/{EARLY}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "made before its key was revoked on" in html
    [row] = page.context["signatories"]
    assert row["row"].active and row["row"].key_revoked_at == compromised["revoked_at"]
    french = Client(headers={"Accept-Language": "fr"}).get(f"/letters/{EARLY}/")
    assert "faite avant la révocation de sa clé le" in french.content.decode()

    # The downloads and the API: still active, the detail says so.
    listing = json.loads(body(Client().get(f"/letters/{EARLY}/signatories.json")))
    [item] = listing["items"]
    assert item["active"] and item["evidence_detail"].startswith("signed with key key-fra, " + MARK)
    assert when in item["evidence_detail"]
    table = list(
        csv.DictReader(io.StringIO(body(Client().get(f"/letters/{EARLY}/signatories.csv"))))
    )
    assert table[0]["active"] == "true" and MARK in table[0]["evidence_detail"]
    api = Client().get(f"/api/v1/letters/{EARLY}/signatories").json()
    assert api["active"] == 1 and MARK in api["items"][0]["evidence_detail"]

    # "As of" an instant between the signature and the revocation, the key was good.
    between = early.at + (compromised["revoked_at"] - early.at) / 2
    as_of = between.isoformat().replace("+00:00", "Z")
    past = Client().get(f"/api/v1/letters/{EARLY}/signatories", {"as_of": as_of}).json()
    [then] = past["items"]
    assert then["active"] and then["evidence_detail"] == "signed with key key-fra"

    # The offline verifier, over the letter's bundle.
    bundle = tmp_path / "bundle.jsonl"
    assert main(["export", "bundle", EARLY, "--output", str(bundle)]) == 0
    capsys.readouterr()
    vkey = str(log.verifiers[0].to_vkey())
    assert main(["verify", str(bundle), "--log-key", vkey, "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    [verified] = result["signatories"]
    assert verified["active"] and verified["signature_id"] == early.id
    assert verified["key_revoked_at"] is not None and verified["key_revoked_at"].startswith(when)
    assert main(["verify", str(bundle), "--log-key", vkey]) == 0
    out = capsys.readouterr().out
    assert "active, made before its key's revocation" in out
    print(f"\nkey compromise: signature {early.id} stays active, marked in 5 places")
