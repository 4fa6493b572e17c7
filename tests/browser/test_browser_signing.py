"""A representative signs a letter in Chromium with their key file (Web Crypto Ed25519)."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from playwright.sync_api import Browser, Page, Request, expect

from cosignatory.core.statements import Statement
from cosignatory.tlog.note import generate_ed25519
from cosignatory.web.register import models as m
from cosignatory.web.register import services as s
from tests.browser.conftest import look
from tests.web.test_signing import LETTER, make_register

pytestmark = pytest.mark.django_db(transaction=True)


def key_file(folder: Path, name: str) -> tuple[Path, bytes, str]:
    """An skey file as `cosignatory keygen ed25519` writes it; its public key and text."""
    signer = generate_ed25519(name)
    path = folder / f"{name}.skey"
    path.write_text(signer.to_skey() + "\n")
    return path, signer.verifier().public_key, signer.to_skey()


def log_in(page: Page, site: str, user: Any) -> None:
    """Sign in by handing the browser a session made by the test client."""
    client = Client()
    client.force_login(user)
    session = client.cookies[settings.SESSION_COOKIE_NAME].value
    page.context.add_cookies(
        [{"name": settings.SESSION_COOKIE_NAME, "value": session, "url": site}]
    )


def test_a_representative_signs_in_the_browser_with_their_key_file(
    page: Page, site: str, tmp_path: Path
) -> None:
    skey, public_key, secret = key_file(tmp_path, "rep-fra")
    setup = make_register(fra_public_key=public_key)
    log_in(page, site, setup.user)
    sent: list[str] = []
    page.on("request", lambda request: sent.append(_body(request)))

    page.goto("/sign/")
    expect(page.get_by_role("heading", name="Sign letters")).to_be_visible()
    look(page, "signing-home")
    page.get_by_role("link", name="Read and sign").click()
    expect(page.locator("#text-hash")).to_be_visible()
    expect(page.get_by_role("heading", name="Sign in this browser")).to_be_visible()
    look(page, "signing-letter-before")

    # A key file that is not registered for the representative is refused by the page.
    other, _, _ = key_file(tmp_path, "stranger")
    page.set_input_files("#key-file", str(other))
    expect(page.locator("#key-status")).to_contain_text("not registered for you")
    expect(page.locator("#sign-button")).to_be_disabled()

    page.set_input_files("#key-file", str(skey))
    expect(page.locator("#key-status")).to_contain_text("your registered key: key-fra")
    page.get_by_role("button", name="Sign the letter").click()
    expect(page.locator("#sign-outcome")).to_contain_text("Recorded.")
    expect(page.locator("#sign-outcome")).to_contain_text("entry")
    look(page, "signing-letter-after")

    # The key never left the browser: no request carried the key file's text.
    # PRIVATE+KEY+<name>+<hash>+<base64>; the base64 may itself contain "+".
    seed_b64 = secret.split("+", 4)[4]
    assert len(seed_b64) > 40
    assert not any(seed_b64 in body or "PRIVATE+KEY" in body for body in sent)

    signature = m.Signature.objects.get(letter_id=LETTER, party_id="FRA", active=True)
    assert signature.evidence_kind == "self-signed"
    statement = Statement.from_json(signature.evidence["statement"])
    statement.verify(base64.b64decode(signature.evidence["signature"]), public_key)
    assert (statement.action, statement.key) == ("sign", "key-fra")

    # The public letter page belongs to the public register's tests; only the link here.
    link = page.get_by_role("link", name="See the letter's signatory list")
    expect(link).to_have_attribute("href", f"/letters/{LETTER}/")

    # Withdrawing works the same way; here in Arabic, laid out right to left.
    page.context.add_cookies([{"name": settings.LANGUAGE_COOKIE_NAME, "value": "ar", "url": site}])
    page.goto("/sign/")
    expect(page.locator("html")).to_have_attribute("dir", "rtl")
    look(page, "signing-home-ar")
    page.locator(f'a[href="/sign/{LETTER}/?party=FRA&action=withdraw"]').click()
    expect(page.locator("#signer")).to_be_visible()
    look(page, "signing-withdraw-ar-before")
    page.set_input_files("#key-file", str(skey))
    expect(page.locator("#sign-button")).to_be_enabled()
    page.locator("#sign-button").click()
    expect(page.locator("#sign-outcome")).to_have_attribute("data-kind", "ok")
    look(page, "signing-withdraw-ar-after")
    assert not m.Signature.objects.filter(letter_id=LETTER, party_id="FRA", active=True).exists()
    [withdrawn] = m.Signature.objects.filter(letter_id=LETTER, party_id="FRA")
    assert withdrawn.withdrawal is not None
    assert withdrawn.withdrawal["evidence"]["kind"] == "self-signed"


def test_a_refusal_is_shown_and_nothing_recorded(
    browser: Browser, site: str, tmp_path: Path
) -> None:
    # Its own context: the harness's `page` counts the refusal's expected HTTP 409 as a
    # browser error; here every other console error still fails the test.
    skey, public_key, _ = key_file(tmp_path, "rep-fra")
    setup = make_register(fra_public_key=public_key)
    context = browser.new_context(base_url=site, locale="en-GB")
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    log_in(page, site, setup.user)
    page.goto(f"/sign/{LETTER}/?party=FRA&action=sign")
    page.set_input_files("#key-file", str(skey))
    expect(page.locator("#sign-button")).to_be_enabled()
    s.revoke_key("key-fra", "lost")  # while the page is open
    before = m.EventRecord.objects.count()
    page.locator("#sign-button").click()
    expect(page.locator("#sign-outcome")).to_contain_text("Not recorded.")
    expect(page.locator("#sign-outcome")).to_contain_text("Your key was revoked")
    expect(page.locator("#sign-outcome")).to_have_attribute("data-kind", "error")
    look(page, "signing-letter-refused")
    context.close()
    assert m.EventRecord.objects.count() == before
    assert errors == [
        "Failed to load resource: the server responded with a status of 409 (Conflict)"
    ]


def test_without_javascript_the_page_explains_the_command_line(
    browser: Browser, site: str, tmp_path: Path
) -> None:
    setup = make_register()
    context = browser.new_context(base_url=site, java_script_enabled=False, locale="en-GB")
    page = context.new_page()
    log_in(page, site, setup.user)
    page.goto(f"/sign/{LETTER}/?party=FRA&action=sign")
    expect(page.locator("#signer")).to_be_hidden()
    expect(page.get_by_text("cosignatory sign letter-heritage --party FRA")).to_be_visible()
    expect(page.get_by_label("Signed statement file")).to_be_visible()
    look(page, "signing-letter-no-javascript", accessibility=False)  # axe needs scripts
    context.close()


def _body(request: Request) -> str:
    try:
        return request.post_data or ""
    except UnicodeDecodeError:
        return ""
