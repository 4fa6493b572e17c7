"""The API's writes: the registrar's operations, signed statements, and every refusal.

A refusal answers with a problem document and its stable code, and leaves the log and
the register as they were (``unchanged``).
"""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, date, datetime
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from cosignatory.core import limits
from cosignatory.core.statements import SignedStatement, Statement
from cosignatory.web.api import tokens
from cosignatory.web.log.services import get_log
from cosignatory.web.register import models as m
from cosignatory.web.register import services as s
from cosignatory.web.register.rebuild import rebuild
from tests.api.conftest import API, ApiClient, Snapshot, assert_problem

LETTER = "L1"
INSTRUMENT = {"kind": "note-verbale", "reference": "NV/1", "date": "2019-07-08"}


def private_key(name: str) -> Ed25519PrivateKey:
    """A fixed test key per name, so runs are reproducible."""
    return Ed25519PrivateKey.from_private_bytes(hashlib.sha256(name.encode()).digest())


def public_key_b64(name: str) -> str:
    return base64.b64encode(private_key(name).public_key().public_bytes_raw()).decode()


def statement(party: str, action: str = "sign", letter: str = LETTER) -> dict[str, Any]:
    """A statement file signed by ``party``'s test representative, for the letter's
    current version (or, for a withdrawal, the version signed)."""
    row = m.Letter.objects.get(pk=letter)
    version = row.current_version
    if action == "withdraw":
        version = m.Signature.objects.get(letter=row, party_id=party, active=True).version
    text = m.TextVersion.objects.get(letter=row, version=version)
    made = Statement(
        action,
        letter,
        version,
        text.text_hash,
        party,
        f"rep-{party.lower()}",
        f"key-{party.lower()}",
        datetime.now(UTC),
    )
    return SignedStatement(made, made.sign(private_key(party))).to_json()


def created(response: Any, status: int = 201) -> dict[str, Any]:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body: dict[str, Any] = response.json()
    assert body["new"] is (status == 201)
    # The event answered is the one the log holds at that index.
    (entry,) = get_log().storage.read_entries(body["log_index"], body["log_index"] + 1)
    assert body["event"] == json.loads(entry)
    return body


@pytest.fixture
def open_letter(log: Any) -> str:
    """An open letter L1 with one text; FRA and DEU with representatives and keys."""
    s.initialise_register()
    for code in ("FRA", "DEU", "ESP"):
        s.register_state(code)
        rep = f"rep-{code.lower()}"
        s.register_representative(rep, f"Ambassador of {code} (test)")
        since = datetime(2019, 1, 1, tzinfo=UTC)
        s.grant_mandate(f"mandate-{code.lower()}", rep, code, since, None, INSTRUMENT)
        s.register_key(
            f"key-{code.lower()}",
            rep,
            private_key(code).public_key().public_bytes_raw(),
            since,
        )
    s.create_letter(LETTER, {"en": "A test letter"}, ["The President"], "FRA", date(2019, 7, 8))
    s.add_text_version(LETTER, {"en": "We, the undersigned, agree."})
    s.open_letter(LETTER)
    return LETTER


# -- the registrar's operations, end to end -------------------------------------------------


def test_a_register_built_through_the_api_rebuilds_identically(
    log: Any, registrar: ApiClient, anonymous: ApiClient
) -> None:
    s.initialise_register()
    keys = iter(range(1000))

    def post(path: str, body: Any = None, status: int = 201) -> dict[str, Any]:
        return created(registrar.write(path, body, key=f"k{next(keys)}"), status)

    post("/bodies", {"id": "hrc", "names": {"en": "Human Rights Council"}, "symbol_root": "A/HRC"})
    post(
        "/sessions",
        {
            "id": "hrc-41",
            "body": "hrc",
            "number": 41,
            "names": {"en": "41st session"},
            "start": "2019-06-24",
            "end": "2019-07-12",
            "symbol_prefix": "A/HRC/41/",
        },
    )
    france = post("/states", {"code": "fra"})
    assert france["event"]["data"]["names"]["fr"] == "France"
    post("/states", {"code": "DEU"})
    post("/parties", {"id": "org-x", "kind": "organisation", "names": {"en": "X Network"}})
    post("/parties/org-x/contact", {"contact": "office@x.example"})
    post("/representatives", {"id": "rep-fra", "name": "Ambassador of France"})
    post(
        "/mandates",
        {
            "id": "mandate-fra",
            "representative": "rep-fra",
            "party": "FRA",
            "valid_from": "2019-01-01T00:00:00Z",
            "credential": INSTRUMENT,
        },
    )
    post(
        "/keys",
        {
            "id": "key-fra",
            "representative": "rep-fra",
            "public_key": public_key_b64("FRA"),
            "valid_from": "2019-01-01T00:00:00Z",
        },
    )
    post(
        "/letters",
        {
            "id": LETTER,
            "title": {"en": "A letter", "fr": "Une lettre"},
            "addressees": ["The President"],
            "lead_party": "FRA",
            "date": "2019-07-08",
            "session": "hrc-41",
        },
    )
    version = post(f"/letters/{LETTER}/versions", {"texts": {"en": "We agree.", "fr": "D'accord."}})
    assert version["event"]["data"]["version"] == 1
    post(f"/letters/{LETTER}/open")

    signed = created(anonymous.write("/statements", statement("FRA"), key=None))
    again = created(anonymous.write("/statements", statement("FRA"), key=None), 200)
    assert again["log_index"] == signed["log_index"] and again["event"] == signed["event"]
    deu = post(
        f"/letters/{LETTER}/attested", {"party": "DEU", "action": "sign", "instrument": INSTRUMENT}
    )
    post(
        f"/letters/{LETTER}/attested",
        {"party": "DEU", "action": "sign", "instrument": INSTRUMENT},
        200,
    )

    post(f"/letters/{LETTER}/close")
    post(f"/letters/{LETTER}/transmit", {"date": "2019-07-15"})
    registered = post(f"/letters/{LETTER}/register", {"session": "hrc-41", "series": "G"})
    assert registered["event"]["data"]["symbol"] == "A/HRC/41/G/1"
    post(f"/letters/{LETTER}/publish")
    add = post(f"/letters/{LETTER}/documents", {"kind": "Add", "note": "More signatories"})
    assert add["event"]["data"]["symbol"] == "A/HRC/41/G/1/Add.1"
    assert anonymous.get(f"{API}/documents/A/HRC/41/G/1/Add.1").json()["kind"] == "Add"

    dispute = post(
        "/disputes",
        {
            "signature": deu["event"]["data"]["id"],
            "party": "DEU",
            "statement": "We did not sign this letter.",
            "instrument": INSTRUMENT,
        },
    )
    post(
        f"/disputes/{dispute['event']['data']['id']}/resolve",
        {"outcome": "upheld", "note": "A clerical error."},
    )
    withdrawal = created(anonymous.write("/statements", statement("FRA", "withdraw"), key=None))
    assert withdrawal["event"]["data"]["action"] == "withdraw"
    post("/keys/key-fra/revoke", {"reason": "rotated"})
    post("/mandates/mandate-fra/end", {"reason": "posted elsewhere"})

    rows = {r["party"]: r for r in anonymous.read(f"/letters/{LETTER}/signatories").json()["items"]}
    assert rows["DEU"]["voided"] and rows["DEU"]["evidence"] == "attested"
    assert rows["FRA"]["withdrawn_at"] and rows["FRA"]["evidence"] == "self-signed"
    assert not any(row["active"] for row in rows.values())
    assert anonymous.read(f"/letters/{LETTER}").json()["status"] == "published"

    report = rebuild()
    assert report.identical, "\n".join(report.details())


# -- authentication and roles -------------------------------------------------------------------


@pytest.mark.usefixtures("open_letter", "unchanged")
def test_registrar_operations_refuse_anyone_without_a_registrar_token(
    anonymous: ApiClient,
) -> None:
    _, signatory = tokens.create_token("fra", "signatory", party="FRA")
    _, revoked = tokens.create_token("old", "registrar")
    tokens.revoke_token("old")
    body = {"texts": {"en": "Another text."}}
    path = f"/letters/{LETTER}/versions"

    refused = assert_problem(anonymous.write(path, body), 401, "E_AUTH_REQUIRED")
    assert refused["detail"]
    assert anonymous.write(path, body)["WWW-Authenticate"].startswith("Bearer")
    for token in (revoked, "cosi_not-a-token", ""):
        assert_problem(ApiClient(token).write(path, body), 401, "E_AUTH_REQUIRED")
    basic = {"Authorization": "Basic " + base64.b64encode(b"a:b").decode()}
    assert_problem(anonymous.write(path, body, headers=basic), 401, "E_AUTH_REQUIRED")
    for operation in (path, f"/letters/{LETTER}/close", "/disputes/d-1/resolve", "/bodies"):
        assert_problem(ApiClient(signatory).write(operation, body), 403, "E_FORBIDDEN")


@pytest.mark.usefixtures("open_letter")
def test_a_signatory_token_files_disputes_for_its_own_party_only(registrar: ApiClient) -> None:
    deu = created(
        registrar.write(
            f"/letters/{LETTER}/attested",
            {"party": "DEU", "action": "sign", "instrument": INSTRUMENT},
        )
    )
    signature = deu["event"]["data"]["id"]
    _, fra_token = tokens.create_token("fra", "signatory", party="FRA")
    _, deu_token = tokens.create_token("deu", "signatory", party="DEU")
    dispute = {
        "signature": signature,
        "party": "DEU",
        "statement": "We did not sign.",
        "instrument": {"kind": "email", "reference": "mission mail 7", "date": "2019-07-09"},
    }
    before = Snapshot.take()
    assert_problem(ApiClient(fra_token).write("/disputes", dispute), 403, "E_FORBIDDEN")
    wrong_party = {**dispute, "party": "FRA"}
    assert_problem(
        ApiClient(fra_token).write("/disputes", wrong_party, key="k2"), 422, "E_WRONG_PARTY"
    )
    assert Snapshot.take() == before
    filed = created(ApiClient(deu_token).write("/disputes", dispute))
    assert m.Dispute.objects.get(pk=filed["event"]["data"]["id"]).party_id == "DEU"
    assert tokens.list_tokens()[0].last_used_at is not None


# -- idempotency -----------------------------------------------------------------------------------


@pytest.mark.usefixtures("open_letter")
def test_a_retry_with_the_same_key_returns_the_first_response(registrar: ApiClient) -> None:
    body = {"texts": {"en": "A second text."}}
    first = registrar.write(f"/letters/{LETTER}/versions", body, key="v2")
    assert first.status_code == 201
    size = Snapshot.take()
    retry = registrar.write(f"/letters/{LETTER}/versions", body, key="v2")
    assert retry.status_code == 201 and retry.content == first.content
    assert retry["Idempotent-Replayed"] == "true"
    assert Snapshot.take() == size
    assert m.Letter.objects.get(pk=LETTER).current_version == 2

    other = {"texts": {"en": "A third text."}}
    assert_problem(
        registrar.write(f"/letters/{LETTER}/versions", other, key="v2"),
        422,
        "E_IDEMPOTENCY_KEY_REUSED",
    )
    assert_problem(
        registrar.write(f"/letters/{LETTER}/close", key="v2"), 422, "E_IDEMPOTENCY_KEY_REUSED"
    )
    assert Snapshot.take() == size
    # Keys belong to a token: another registrar's "v2" is another write.
    _, secret = tokens.create_token("second", "registrar")
    assert (
        ApiClient(secret).write(f"/letters/{LETTER}/versions", other, key="v2").status_code == 201
    )
    assert m.Letter.objects.get(pk=LETTER).current_version == 3


@pytest.mark.usefixtures("open_letter", "unchanged")
def test_a_registrar_write_needs_an_idempotency_key(registrar: ApiClient) -> None:
    refused = assert_problem(
        registrar.write(f"/letters/{LETTER}/close", key=None), 422, "E_REQUEST_INVALID"
    )
    assert refused["errors"][0]["loc"] == ["header", "Idempotency-Key"]


@pytest.mark.usefixtures("log")
def test_a_refused_write_keeps_no_response_for_its_key(registrar: ApiClient) -> None:
    s.initialise_register()
    s.register_state("FRA")
    letter = {
        "id": "L2",
        "title": {"en": "T"},
        "addressees": ["P"],
        "lead_party": "FRA",
        "date": "2019-07-01",
    }
    registrar.write("/letters", letter, key="create")
    before = Snapshot.take()
    assert_problem(registrar.write("/letters/L2/open", key="open"), 409, "E_LIFECYCLE")
    assert Snapshot.take() == before
    s.add_text_version("L2", {"en": "Now a text."})
    assert registrar.write("/letters/L2/open", key="open").status_code == 201


@pytest.mark.usefixtures("log")
def test_too_many_addressees_are_refused_by_the_schema(registrar: ApiClient) -> None:
    """The API's schema carries the register's limit, so the OpenAPI document tells
    clients the same number the rules enforce."""
    s.initialise_register()
    s.register_state("FRA")
    before = Snapshot.take()
    letter = {
        "id": "L3",
        "title": {"en": "T"},
        "addressees": [f"Addressee {n}" for n in range(limits.ADDRESSEES_MAX + 1)],
        "lead_party": "FRA",
        "date": "2019-07-01",
    }
    assert_problem(registrar.write("/letters", letter, key="many"), 422, "E_REQUEST_INVALID")
    assert Snapshot.take() == before
    letter["addressees"] = letter["addressees"][: limits.ADDRESSEES_MAX]
    assert registrar.write("/letters", letter, key="enough").status_code == 201


# -- signed statements ----------------------------------------------------------------------------


@pytest.mark.usefixtures("open_letter")
def test_a_statement_is_recorded_once(anonymous: ApiClient) -> None:
    file = statement("ESP")
    first = created(anonymous.write("/statements", file, key=None))
    assert first["event"]["data"]["evidence"]["kind"] == "self-signed"
    size = Snapshot.take()
    second = created(anonymous.write("/statements", file, key=None), 200)
    assert second["log_index"] == first["log_index"]
    assert Snapshot.take() == size
    row = m.Signature.objects.get(log_index=first["log_index"])
    assert (row.party_id, row.letter_id, row.action) == ("ESP", LETTER, "sign")


@pytest.mark.usefixtures("open_letter")
def test_writes_need_no_csrf_token(registrar: ApiClient) -> None:
    """The API authenticates by token or signature, never by cookie: Django's CSRF check
    (which the test client skips unless asked) must not stand in its way."""
    anonymous = ApiClient()
    anonymous.handler.enforce_csrf_checks = True
    assert anonymous.write("/statements", statement("ESP"), key=None).status_code == 201
    strict = ApiClient(registrar.token)
    strict.handler.enforce_csrf_checks = True
    assert strict.write(f"/letters/{LETTER}/close").status_code == 201


@pytest.mark.usefixtures("open_letter", "unchanged")
def test_statements_that_do_not_verify_change_nothing(anonymous: ApiClient) -> None:
    forged = statement("FRA")
    forged["signature"] = SignedStatement(
        Statement.from_json(forged["statement"]), private_key("someone else").sign(b"x")
    ).to_json()["signature"]
    assert_problem(anonymous.write("/statements", forged, key=None), 422, "E_SIG_INVALID")

    stale = statement("FRA")
    stale["statement"]["at"] = "2019-07-09T10:00:00.000000Z"  # not when it is submitted
    assert_problem(anonymous.write("/statements", stale, key=None), 422, "E_STATEMENT")

    for_deu = statement("FRA")
    for_deu["statement"]["party"] = "DEU"  # rep-fra holds no mandate for DEU
    assert_problem(anonymous.write("/statements", for_deu, key=None), 422, "E_WRONG_PARTY")

    unknown = statement("FRA")
    unknown["statement"]["letter"] = "no-such-letter"
    assert_problem(anonymous.write("/statements", unknown, key=None), 404, "E_NOT_FOUND")

    withdraw = statement("DEU")
    withdraw["statement"]["action"] = "withdraw"
    made = Statement.from_json(withdraw["statement"])
    withdraw = SignedStatement(made, made.sign(private_key("DEU"))).to_json()
    assert_problem(anonymous.write("/statements", withdraw, key=None), 409, "E_NOT_SIGNED")

    as_text = statement("FRA")
    as_text["statement"]["version"] = "1"
    invalid = assert_problem(
        anonymous.write("/statements", as_text, key=None), 422, "E_REQUEST_INVALID"
    )
    assert invalid["errors"][0]["loc"] == ["body", "body", "statement", "version"]
    extra = {**statement("FRA"), "comment": "hello"}
    assert_problem(anonymous.write("/statements", extra, key=None), 422, "E_REQUEST_INVALID")


# -- malformed, oversized and too many requests ------------------------------------------


@pytest.mark.usefixtures("open_letter", "unchanged")
def test_malformed_and_oversized_bodies_are_refused(
    anonymous: ApiClient, registrar: ApiClient, settings: Any
) -> None:
    for client in (anonymous, registrar):
        response = client.post(
            f"{API}/statements",
            b"{not json",
            content_type="application/json",
            headers=client._headers({}),
        )
        assert_problem(response, 400, "E_BODY_MALFORMED")
    assert_problem(
        registrar.post(
            f"{API}/letters/{LETTER}/versions",
            b"[1, 2",
            content_type="application/json",
            headers=registrar._headers({"Idempotency-Key": "k"}),
        ),
        400,
        "E_BODY_MALFORMED",
    )
    huge = {"texts": {"en": "x" * (300 * 1024)}}
    assert_problem(registrar.write(f"/letters/{LETTER}/versions", huge), 413, "E_TOO_LARGE")
    assert_problem(anonymous.write("/statements", huge, key=None), 413, "E_TOO_LARGE")
    settings.COSIGNATORY_API_MAX_BODY_BYTES = 100
    assert_problem(anonymous.write("/statements", statement("FRA"), key=None), 413, "E_TOO_LARGE")


@pytest.mark.usefixtures("open_letter")
def test_writes_are_limited_per_client_per_minute(
    anonymous: ApiClient, registrar: ApiClient, settings: Any
) -> None:
    settings.COSIGNATORY_API_WRITES_PER_MINUTE = 2
    refused = {"statement": {}, "signature": ""}
    for _ in range(2):
        assert anonymous.write("/statements", refused, key=None).status_code == 422
    before = Snapshot.take()
    limited = assert_problem(
        anonymous.write("/statements", statement("ESP"), key=None), 429, "E_RATE_LIMITED"
    )
    assert limited["detail"]
    wait = int(anonymous.write("/statements", refused, key=None)["Retry-After"])
    assert 1 <= wait <= 60
    assert Snapshot.take() == before
    # The registrar's token is another client; reads are never limited.
    assert registrar.write(f"/letters/{LETTER}/close", key="c").status_code == 201
    assert anonymous.read("/letters").status_code == 200


def test_limits_can_be_turned_off(open_letter: str, anonymous: ApiClient, settings: Any) -> None:
    settings.COSIGNATORY_API_WRITES_PER_MINUTE = 0
    for _ in range(5):
        response = anonymous.write("/statements", {"statement": {}, "signature": ""}, key=None)
        assert response.status_code == 422
    assert json.loads(response.content)["code"] == "E_REQUEST_INVALID"
