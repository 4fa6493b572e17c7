"""The registrar's desk: who may use it, each workflow step as one event, refusals
that change nothing, CSRF, and the CSV upload's preview then apply."""

from __future__ import annotations

import base64
import re
from datetime import date
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_totp.models import TOTPDevice

from cosignatory.tlog.note import KeyType, Verifier
from cosignatory.web.accounts.roles import REGISTRAR, SIGNATORY, grant_role
from cosignatory.web.register import models as m
from cosignatory.web.register import services as s

PASSWORD = "correct horse battery staple 7"


def make_user(username: str, role: str) -> Any:
    user = get_user_model().objects.create_user(username, "", PASSWORD)
    grant_role(user, role)
    return user


def verified(user: Any, **client_options: Any) -> Client:
    """A client signed in as ``user`` whose session passed the second factor."""
    client = Client(**client_options)
    client.force_login(user)
    device = TOTPDevice.objects.create(user=user, name="phone", confirmed=True)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return client


@pytest.fixture
def desk(log: Any) -> Client:
    s.initialise_register()
    return verified(make_user("rita", REGISTRAR))


def events() -> int:
    return m.EventRecord.objects.count()


def names(prefix: str, en: str, **others: str) -> dict[str, str]:
    return {f"{prefix}_en": en, **{f"{prefix}_{k}": v for k, v in others.items()}}


class Steps:
    """Posts one desk form and checks it added exactly one event to the log."""

    def __init__(self, client: Client) -> None:
        self.client = client

    def post(self, url: str, data: dict[str, Any], adds: int = 1) -> Any:
        before = events()
        response = self.client.post(url, data)
        assert response.status_code == 302, response.content.decode()[:3000]
        assert events() == before + adds, url
        return self.client.get(response["Location"])

    def refused(self, url: str, data: dict[str, Any], says: str) -> str:
        before = events()
        response = self.client.post(url, data)
        html = response.content.decode()
        assert response.status_code == 400, url
        assert says in html, html[:3000]
        assert events() == before
        return html


# -- who may use the desk ------------------------------------------------------------------

DESK_URLS = [
    "/desk/",
    "/desk/bodies/",
    "/desk/sessions/",
    "/desk/parties/",
    "/desk/parties/state",
    "/desk/parties/new",
    "/desk/representatives/",
    "/desk/representatives/rep-x/",
    "/desk/representatives/rep-x/mandates",
    "/desk/representatives/rep-x/keys",
    "/desk/mandates/m-x/end",
    "/desk/keys/k-x/revoke",
    "/desk/letters/",
    "/desk/letters/new",
    "/desk/letters/l1/",
    "/desk/letters/l1/text",
    "/desk/letters/l1/transmit",
    "/desk/letters/l1/register",
    "/desk/letters/l1/cancel-registration",
    "/desk/letters/l1/documents",
    "/desk/letters/l1/signatures",
    "/desk/letters/l1/import",
    "/desk/letters/l1/import/confirm",
    "/desk/letters/l1/step/open",
    "/desk/disputes/",
    "/desk/disputes/d-x/resolve",
]


def test_every_desk_url_is_listed() -> None:
    from cosignatory.web.desk.urls import urlpatterns

    assert len(DESK_URLS) == len(urlpatterns)


@pytest.mark.django_db
@pytest.mark.parametrize("url", DESK_URLS)
def test_anonymous_readers_are_sent_to_sign_in(client: Client, url: str) -> None:
    for response in (client.get(url), client.post(url, {})):
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/?next=")


@pytest.mark.django_db
@pytest.mark.parametrize("url", DESK_URLS)
def test_a_signatory_is_refused_even_with_a_second_factor(url: str) -> None:
    client = verified(make_user("amb", SIGNATORY))
    assert client.get(url).status_code == 403
    assert client.post(url, {}).status_code == 403


@pytest.mark.django_db
@pytest.mark.parametrize("url", DESK_URLS)
def test_a_registrar_without_second_factor_is_sent_to_it(client: Client, url: str) -> None:
    client.force_login(make_user("rita", REGISTRAR))
    for response in (client.get(url), client.post(url, {})):
        assert response.status_code == 302
        assert response["Location"] == f"/accounts/two-factor/?next={url}"


@pytest.mark.django_db
def test_desk_pages_are_never_cached(desk: Client) -> None:
    response = desk.get("/desk/")
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]


@pytest.mark.django_db
def test_the_desk_in_arabic_is_right_to_left(desk: Client) -> None:
    from django.conf import settings

    desk.cookies[settings.LANGUAGE_COOKIE_NAME] = "ar"
    html = desk.get("/desk/").content.decode()
    assert '<html lang="ar" dir="rtl">' in html


@pytest.mark.django_db
def test_unknown_ids_are_404(desk: Client) -> None:
    for url in ("/desk/letters/nope/", "/desk/representatives/nope/", "/desk/letters/nope/text"):
        assert desk.get(url).status_code == 404
    before = events()
    assert desk.post("/desk/letters/nope/step/open").status_code == 404
    assert (
        desk.post("/desk/disputes/nope/resolve", {"outcome": "upheld", "note": "x"}).status_code
        == 404
    )
    assert events() == before


# -- the workflow, one event per step ---------------------------------------------------------


@pytest.mark.django_db
def test_every_workflow_step_is_one_event(desk: Client) -> None:
    step = Steps(desk)
    assert "Letters by status" in desk.get("/desk/").content.decode()

    step.post(
        "/desk/bodies/",
        {
            "id": "hrc",
            **names("name", "Human Rights Council", fr="Conseil des droits de l'homme"),
            "symbol_root": "A/HRC",
        },
    )
    step.post(
        "/desk/sessions/",
        {
            "id": "hrc-41",
            "body": "hrc",
            "number": 41,
            **names("name", "41st session"),
            "start": "2019-06-24",
            "end": "2019-07-12",
            "symbol_prefix": "A/HRC/41/",
        },
    )
    step.post("/desk/parties/state", {"code": "fra", "contact": ""})
    step.post("/desk/parties/state", {"code": "DEU"})
    page = step.post(
        "/desk/parties/new",
        {"id": "org-x", "kind": "organisation", **names("name", "Example Network")},
    )
    assert "Example Network" in page.content.decode()
    step.post(
        "/desk/parties/new",
        {"id": "grp-eu", "kind": "group", **names("name", "A group"), "members": "FRA, DEU"},
    )
    assert m.Party.objects.get(pk="grp-eu").members == ["FRA", "DEU"]

    step.post("/desk/representatives/", {"id": "rep-fra", "name": "Ambassador of France"})
    step.post(
        "/desk/representatives/rep-fra/mandates",
        {
            "party": "FRA",
            "valid_from": "2019-01-01",
            "valid_until": "",
            "instrument_kind": "note-verbale",
            "reference": "CRED/1",
            "instrument_date": "2019-01-01",
        },
    )
    verifier = Verifier(
        "rep-fra", KeyType.ED25519, Ed25519PrivateKey.generate().public_key().public_bytes_raw()
    )
    step.post(
        "/desk/representatives/rep-fra/keys",
        {"id": "key-fra", "public_key": verifier.to_vkey(), "valid_from": "2019-01-01"},
    )
    raw = base64.b64encode(Ed25519PrivateKey.generate().public_key().public_bytes_raw()).decode()
    step.post(
        "/desk/representatives/rep-fra/keys",
        {"id": "key-fra-2", "public_key": raw, "valid_from": "2019-01-01"},
    )
    step.post("/desk/keys/key-fra/revoke", {"reason": "lost"})
    assert m.Key.objects.get(pk="key-fra").revoked_at is not None
    mandate = m.Mandate.objects.get(representative_id="rep-fra")
    step.post(f"/desk/mandates/{mandate.id}/end", {"reason": "posted elsewhere"})

    step.post(
        "/desk/letters/new",
        {
            "id": "l1",
            **names("title", "Joint letter"),
            "addressees": "The President\nThe High Commissioner",
            "lead_party": "FRA",
            "letter_date": "2019-07-08",
            "session": "hrc-41",
        },
    )
    letter = m.Letter.objects.get(pk="l1")
    assert letter.addressees == ["The President", "The High Commissioner"]

    # The text: a preview records nothing, then saving shows the hash.
    before = events()
    preview = desk.post("/desk/letters/l1/text", {"text_en": "We **call on** all.", "preview": "1"})
    assert preview.status_code == 200
    assert "<strong>call on</strong>" in preview.content.decode()
    assert events() == before
    page = step.post(
        "/desk/letters/l1/text",
        {"text_en": "We **call on** all.", "text_fr": "Nous appelons.", "save": "1"},
    )
    text = m.TextVersion.objects.get(letter_id="l1", version=1)
    assert text.text_hash in page.content.decode()

    page = step.post("/desk/letters/l1/step/open", {})
    assert m.Letter.objects.get(pk="l1").status == "open"
    assert "Record a signature received on paper" in page.content.decode()
    step.post(
        "/desk/letters/l1/signatures",
        {
            "party": "FRA",
            "action": "sign",
            "instrument_kind": "note-verbale",
            "reference": "NV/1",
            "instrument_date": "2019-07-08",
        },
    )
    assert m.Signature.objects.filter(letter_id="l1", party_id="FRA", active=True).exists()
    step.post("/desk/letters/l1/step/close", {})
    step.post("/desk/letters/l1/step/reopen", {})
    step.post("/desk/letters/l1/transmit", {"on": "2019-07-09"})
    step.post("/desk/letters/l1/step/reopen", {})  # open for accessions
    step.post(
        "/desk/letters/l1/signatures",
        {
            "party": "DEU",
            "action": "accede",
            "instrument_kind": "letter",
            "reference": "L/2",
            "instrument_date": "2019-07-10",
        },
    )
    step.post("/desk/letters/l1/register", {"session": "hrc-41", "series": "G"})
    assert m.Letter.objects.get(pk="l1").symbol == "A/HRC/41/G/1"
    step.post("/desk/letters/l1/cancel-registration", {"reason": "wrong series"})
    step.post("/desk/letters/l1/register", {"session": "hrc-41", "series": "G"})
    assert m.Letter.objects.get(pk="l1").symbol == "A/HRC/41/G/2"  # numbers never reused
    page = step.post("/desk/letters/l1/step/publish", {})
    html = page.content.decode()
    assert "Issue an addendum" in html and "Open for signature" not in html
    step.post("/desk/letters/l1/documents", {"kind": "Add", "note": "More signatories"})
    step.post("/desk/letters/l1/documents", {"kind": "Corr", "version": 1, "note": "Typo"})
    assert set(m.Document.objects.filter(letter_id="l1").values_list("symbol", flat=True)) >= {
        "A/HRC/41/G/2/Add.1",
        "A/HRC/41/G/2/Corr.1",
    }
    step.post(
        "/desk/letters/l1/signatures",
        {
            "party": "DEU",
            "action": "withdraw",
            "instrument_kind": "note-verbale",
            "reference": "NV/3",
            "instrument_date": "2019-07-20",
        },
    )
    step.post("/desk/letters/l1/step/close", {})

    # Every page of the desk renders with what was made.
    for url in (
        "/desk/",
        "/desk/bodies/",
        "/desk/sessions/",
        "/desk/parties/",
        "/desk/parties/?kind=state",
        "/desk/representatives/",
        "/desk/representatives/rep-fra/",
        "/desk/letters/",
        "/desk/letters/?status=published",
        "/desk/letters/l1/",
        "/desk/letters/l1/text",
        "/desk/letters/l1/import",
        "/desk/disputes/",
    ):
        response = desk.get(url)
        assert response.status_code == 200, url
        assert "style=" not in response.content.decode(), url


@pytest.mark.django_db
def test_resolve_a_dispute(desk: Client) -> None:
    s.register_state("FRA")
    s.create_letter("l1", {"en": "A letter"}, ["The President"], "FRA", date(2026, 11, 1))
    s.add_text_version("l1", {"en": "Text."})
    s.open_letter("l1")
    s.record_attested(
        "l1", "FRA", "sign", {"kind": "note-verbale", "reference": "NV/1", "date": "2026-11-02"}
    )
    signature = m.Signature.objects.get(letter_id="l1")
    filed = s.file_dispute(
        signature.id,
        "FRA",
        "We did not sign.",
        {"kind": "note-verbale", "reference": "NV/9", "date": "2026-11-03"},
    )
    assert filed.event is not None
    dispute = filed.event.data["id"]
    assert "We did not sign." in desk.get("/desk/").content.decode()
    step = Steps(desk)
    step.refused(
        f"/desk/disputes/{dispute}/resolve",
        {"outcome": "maybe", "note": "x"},
        "Select a valid choice",
    )
    step.post(f"/desk/disputes/{dispute}/resolve", {"outcome": "upheld", "note": "Misattributed"})
    assert m.Dispute.objects.get(pk=dispute).outcome == "upheld"
    step.refused(
        f"/desk/disputes/{dispute}/resolve",
        {"outcome": "dismissed", "note": "again"},
        "was resolved already",
    )


# -- refusals change nothing -----------------------------------------------------------------


@pytest.mark.django_db
def test_the_registers_refusals_are_form_errors(desk: Client) -> None:
    s.register_state("FRA")
    s.create_letter("l1", {"en": "A letter"}, ["The President"], "FRA", date(2026, 11, 1))
    step = Steps(desk)
    html = step.refused("/desk/letters/l1/step/open", {}, "has no text to sign yet")
    assert "E_LIFECYCLE" in html
    step.refused("/desk/letters/l1/transmit", {"on": "2026-11-02"}, "cannot transmit letter l1")
    step.refused(
        "/desk/letters/l1/register", {"session": "", "series": "G"}, "This field is required"
    )
    step.refused("/desk/letters/l1/step/publish", {}, "cannot publish letter l1")
    step.refused("/desk/parties/state", {"code": "XYZ"}, "no state has the code")
    step.refused("/desk/parties/state", {"code": "FRA"}, "E_DUPLICATE")
    step.refused(
        "/desk/parties/new",
        {"id": "bad id!", "kind": "person", "name_en": "X"},
        "not a valid identifier",
    )
    step.refused(
        "/desk/parties/new",
        {"id": "org-y", "kind": "organisation"},
        "Give the name in one language at least",
    )
    step.refused(
        "/desk/parties/new",
        {"id": "grp", "kind": "group", "name_en": "G", "members": "FRA NOPE"},
        "E_NOT_FOUND",
    )
    step.refused(
        "/desk/letters/new",
        {
            "id": "l1",
            "title_en": "Again",
            "addressees": "X",
            "lead_party": "FRA",
            "letter_date": "2026-11-01",
        },
        "E_DUPLICATE",
    )
    step.refused("/desk/letters/l1/text", {"save": "1"}, "Write the text in one language")
    step.refused(
        "/desk/sessions/",
        {
            "id": "s1",
            "body": "",
            "number": 1,
            "name_en": "S",
            "start": "2026-01-02",
            "end": "2026-01-01",
            "symbol_prefix": "X/",
        },
        "The last day is before the first",
    )
    s.register_representative("rep-x", "X")
    step.refused(
        "/desk/representatives/rep-x/keys",
        {"public_key": "not a key", "valid_from": "2026-01-01"},
        "neither a verifier key line nor a 32-byte key",
    )
    assert desk.post("/desk/keys/nope/revoke", {"reason": "x"}).status_code == 404


@pytest.mark.django_db
def test_csrf_is_enforced(log: Any) -> None:
    s.initialise_register()
    client = verified(make_user("rita", REGISTRAR), enforce_csrf_checks=True)
    form = {"id": "hrc", "name_en": "Council", "symbol_root": "A/HRC"}
    before = events()
    assert client.post("/desk/bodies/", form).status_code == 403
    assert events() == before
    page = client.get("/desk/bodies/").content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    assert token is not None
    response = client.post("/desk/bodies/", {**form, "csrfmiddlewaretoken": token.group(1)})
    assert response.status_code == 302
    assert events() == before + 1


# -- the CSV upload ----------------------------------------------------------------------------

CSV_OK = (
    "party,representative,instrument_kind,reference,date\n"
    "FRA,,note-verbale,NV/1,2026-11-02\n"
    "DEU,,note-verbale,NV/2,2026-11-02\n"
)


@pytest.fixture
def open_letter(desk: Client) -> str:
    for code in ("FRA", "DEU"):
        s.register_state(code)
    s.create_letter("l1", {"en": "A letter"}, ["The President"], "FRA", date(2026, 11, 1))
    s.add_text_version("l1", {"en": "Text."})
    s.open_letter("l1")
    return "l1"


def upload(client: Client, letter: str, text: str) -> Any:
    file = SimpleUploadedFile("signatures.csv", text.encode(), content_type="text/csv")
    return client.post(f"/desk/letters/{letter}/import", {"file": file})


@pytest.mark.django_db
def test_csv_preview_then_apply(desk: Client, open_letter: str) -> None:
    before = events()
    preview = upload(desk, open_letter, CSV_OK)
    assert preview.status_code == 200
    html = preview.content.decode()
    assert "2 new, 0 withdrawals, 0 recorded already, 0 bad rows." in html
    assert "NV/1" in html and "NV/2" in html
    assert events() == before  # a preview records nothing
    token = re.search(r'name="token" value="([^"]+)"', html)
    assert token is not None

    wrong = desk.post(f"/desk/letters/{open_letter}/import/confirm", {"token": "forged"})
    assert wrong.status_code == 400 and "upload the file again" in wrong.content.decode()
    assert events() == before

    done = desk.post(f"/desk/letters/{open_letter}/import/confirm", {"token": token.group(1)})
    assert done.status_code == 302
    assert events() == before + 2
    assert set(
        m.Signature.objects.filter(letter_id=open_letter).values_list("party_id", flat=True)
    ) == {"FRA", "DEU"}
    # The upload is gone from the session: confirming twice records nothing more.
    again = desk.post(f"/desk/letters/{open_letter}/import/confirm", {"token": token.group(1)})
    assert again.status_code == 400
    assert events() == before + 2
    # The same file again: everything is recorded already, nothing to confirm.
    html = upload(desk, open_letter, CSV_OK).content.decode()
    assert "0 new, 0 withdrawals, 2 recorded already" in html and 'name="token"' not in html


@pytest.mark.django_db
def test_csv_with_bad_rows_shows_them_and_cannot_be_applied(desk: Client, open_letter: str) -> None:
    before = events()
    html = upload(
        desk, open_letter, CSV_OK + "NOPE,,note-verbale,NV/3,2026-11-02\nFRA,,fax,NV/4,yesterday\n"
    ).content.decode()
    assert "2 bad rows" in html
    assert "E_NOT_FOUND" in html and "E_IMPORT_FIELD" in html
    assert 'name="token"' not in html
    assert (
        desk.post(f"/desk/letters/{open_letter}/import/confirm", {"token": "x"}).status_code == 400
    )
    assert events() == before
    bad = upload(desk, open_letter, "not,a,header\n1,2,3\n").content.decode()
    assert "E_IMPORT_FILE" in bad
    assert events() == before


@pytest.mark.django_db
def test_csv_upload_is_size_limited(
    desk: Client, open_letter: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("cosignatory.web.desk.letters.MAX_UPLOAD_BYTES", 50)
    response = upload(desk, open_letter, CSV_OK)
    assert response.status_code == 400
    assert "larger than 50 bytes" in response.content.decode()


def test_desk_urls_reverse() -> None:
    assert reverse("desk:home") == "/desk/"
    assert reverse("desk:letter-step", args=["l1", "open"]) == "/desk/letters/l1/step/open"
