"""Helpers for the browser journeys: people, their accounts and keys, and what they do
with the site's own forms (signing in, two-factor, the language switcher)."""

from __future__ import annotations

import base64
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.utils import timezone
from django_otp.oath import totp
from playwright.sync_api import Page, expect

from cosignatory.tlog.note import generate_ed25519
from cosignatory.web.accounts.models import RepresentativeAccount
from cosignatory.web.accounts.roles import REGISTRAR, SIGNATORY, grant_role
from cosignatory.web.register import services as s

PASSWORD = "correct horse battery staple 7"
LANGUAGES = ("ar", "zh-hans", "en", "fr", "ru", "es")
RIGHT_TO_LEFT = {"ar"}


def registrar(username: str = "rita") -> Any:
    """A registrar account with a password and no second factor set up yet."""
    user = get_user_model().objects.create_user(username, "", PASSWORD)
    grant_role(user, REGISTRAR)
    return user


def representative(folder: Path, party: str, username: str) -> tuple[Any, Path]:
    """Reference data for ``party``'s representative: a current mandate and a registered
    Ed25519 key (its skey file written to ``folder``, as `cosignatory keygen` does), and
    a signatory account linked to it. Returns the account and the key file."""
    rep, key = f"rep-{party.lower()}", f"key-{party.lower()}"
    signer = generate_ed25519(f"mission.example/{party.lower()}")
    skey = folder / f"{rep}.skey"
    skey.write_text(signer.to_skey() + "\n")
    now = timezone.now()
    s.register_representative(rep, f"Ambassador of {party}")
    s.grant_mandate(
        f"mandate-{party.lower()}",
        rep,
        party,
        now - timedelta(days=30),
        None,
        {"kind": "note-verbale", "reference": f"CRED/{party}", "date": "2026-10-01"},
    )
    s.register_key(key, rep, signer.verifier().public_key, now - timedelta(days=30))
    user = get_user_model().objects.create_user(username, "", PASSWORD)
    grant_role(user, SIGNATORY)
    RepresentativeAccount.objects.create(user=user, representative_id=rep)
    return user, skey


def code_from_secret(secret: str) -> str:
    """The six digits an authenticator app shows now for the base32 ``secret``."""
    return f"{totp(base64.b32decode(secret)):06d}"


def sign_in(page: Page, username: str) -> None:
    """Fill in the sign-in form the page shows (the site sends people there)."""
    expect(page.get_by_role("heading", name="Sign in", exact=True)).to_be_visible()
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.locator("main").get_by_role("button", name="Sign in").click()


def set_up_two_factor(page: Page) -> str:
    """On the first-time two-factor page: read the secret as a person types it into an
    authenticator app, and confirm with the app's code. Returns the secret."""
    expect(page.get_by_role("heading", name="Two-factor authentication")).to_be_visible()
    secret = page.locator("#totp-secret").inner_text().strip()
    page.get_by_label("Code").fill(code_from_secret(secret))
    page.get_by_role("button", name="Confirm and verify").click()
    return secret


def switch_language(page: Page, code: str) -> None:
    """Choose a language with the switcher in the header, as a reader does."""
    page.select_option("#site-language", code)
    page.locator("form.language button[type=submit]").click()
    expect(page.locator("html")).to_have_attribute("lang", code)


def expect_language(page: Page, code: str) -> None:
    """The page is in ``code``, laid out in that language's direction."""
    expect(page.locator("html")).to_have_attribute("lang", code)
    expect(page.locator("html")).to_have_attribute("dir", "rtl" if code in RIGHT_TO_LEFT else "ltr")


# Text in a left-to-right language inside a right-to-left page must be isolated (``dir``
# on the element, or <bdi>): otherwise a leading "[Demo]", a number or a final full stop
# is laid out on the wrong side ("Joint letter on heritage [Demo]").
_UNISOLATED = """() => {
  const rtl = new Set(["ar", "he", "fa", "ur"]);
  const found = [];
  for (const el of document.querySelectorAll("body [lang]")) {
    const lang = el.getAttribute("lang").split("-")[0];
    if (!lang || rtl.has(lang)) continue;
    const style = getComputedStyle(el);
    if (style.direction !== "rtl" || el.tagName === "OPTION") continue;
    // "isolate" alone keeps the page's direction: only dir="auto" (or a <bdi>, or
    // plaintext) lets the text's own direction decide.
    if (style.unicodeBidi === "plaintext" || el.closest("bdi, [dir=auto]")) continue;
    const text = el.textContent.trim();
    if (!text || !/[A-Za-z]/.test(text)) continue;
    if (/^[^\\p{L}]/u.test(text) || /[.:;,!?]$/.test(text)) {
      found.push(`<${el.tagName.toLowerCase()} lang=${lang}> ${text.slice(0, 60)}`);
    }
  }
  return found;
}"""


def unisolated_ltr_text(page: Page) -> list[str]:
    """Left-to-right text in a right-to-left page that will be laid out wrongly."""
    return list(page.evaluate(_UNISOLATED))
