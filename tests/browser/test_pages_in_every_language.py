"""Every kind of page in each of the six UN languages, on the demonstration register.

For each language (the reader's choice kept in the ``django_language`` cookie, as the
switcher sets it) the test opens one page of each kind: the public register's pages
without an account, then the registrar's desk and the signing home signed in. Each page
must answer 200, say its language and direction in ``<html lang dir>``, show the
site's menu translated, pass axe-core with no violation and report no CSP violation or
script error. Each is saved as ``{kind}-{lang}.png`` in test-artifacts/screenshots/.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.test import Client
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_totp.models import TOTPDevice
from playwright.sync_api import Page, expect

from cosignatory.web.accounts.models import RepresentativeAccount
from cosignatory.web.accounts.roles import REGISTRAR, SIGNATORY, grant_role
from cosignatory.web.register.demo import load_demo
from tests.browser.conftest import look
from tests.browser.journeys import LANGUAGES, PASSWORD, RIGHT_TO_LEFT, unisolated_ltr_text

pytestmark = pytest.mark.django_db(transaction=True)

# (kind, address) of one page of each kind, on the demonstration register.
PUBLIC_PAGES = [
    ("home", "/"),
    ("bodies", "/bodies/"),
    ("body", "/bodies/demo-council/"),
    ("session", "/sessions/demo-council-7/"),
    ("document", "/documents/DEMO/C/7/G/1/Add.1"),
    ("letters", "/letters/"),
    ("letter", "/letters/demo-heritage/"),
    ("letter-history", "/letters/demo-heritage/history"),
    ("party", "/parties/FRA/"),
    ("parties", "/parties/"),
    ("compare", "/compare/?letters=demo-heritage&letters=demo-development"),
    ("search", "/search/?q=heritage"),
    ("verify", "/letters/demo-heritage/verify"),
]
SIGNED_IN_PAGES = [("desk", "/desk/", "rita"), ("signing", "/sign/", "ana")]


def accounts() -> dict[str, Any]:
    """A registrar with a confirmed authenticator, and a signatory for rep-fra."""
    users = get_user_model().objects
    rita = users.create_user("rita", "", PASSWORD)
    grant_role(rita, REGISTRAR)
    TOTPDevice.objects.create(user=rita, name="phone", confirmed=True)
    ana = users.create_user("ana", "", PASSWORD)
    grant_role(ana, SIGNATORY)
    RepresentativeAccount.objects.create(user=ana, representative_id="rep-fra")
    return {"rita": rita, "ana": ana}


def session_cookie(user: Any) -> str:
    """A session for ``user`` that passed the second factor (the journey test signs in
    through the forms; here only the pages' languages are under test)."""
    client = Client()
    client.force_login(user)
    device = TOTPDevice.objects.filter(user=user).first()
    if device is not None:
        session = client.session
        session[DEVICE_ID_SESSION_KEY] = device.persistent_id
        session.save()
    return str(client.cookies[settings.SESSION_COOKIE_NAME].value)


def check(page: Page, url: str, name: str, lang: str, bidi: list[str]) -> None:
    response = page.goto(url)
    assert response is not None and response.status == 200, f"{name}: {url}"
    html = page.locator("html")
    expect(html).to_have_attribute("lang", lang)
    expect(html).to_have_attribute("dir", "rtl" if lang in RIGHT_TO_LEFT else "ltr")
    home = page.locator('.site-header nav a[href="/"]')
    if lang != "en":  # the site's own words are translated
        expect(home).not_to_have_text("Home")
    look(page, name)
    if lang in RIGHT_TO_LEFT:
        bidi.extend(f"{name}: {problem}" for problem in unisolated_ltr_text(page))


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_kind_of_page_in_each_language(
    new_page: Callable[[], Page], site: str, lang: str
) -> None:
    cache.clear()  # charts cached for an earlier test's register must not show
    load_demo()
    users = accounts()

    bidi: list[str] = []
    reader = new_page()
    reader.context.add_cookies([{"name": "django_language", "value": lang, "url": site}])
    for kind, url in PUBLIC_PAGES:
        check(reader, url, f"{kind}-{lang}", lang, bidi)

    for kind, url, username in SIGNED_IN_PAGES:
        person = new_page()
        person.context.add_cookies(
            [
                {"name": "django_language", "value": lang, "url": site},
                {
                    "name": settings.SESSION_COOKIE_NAME,
                    "value": session_cookie(users[username]),
                    "url": site,
                },
            ]
        )
        check(person, url, f"{kind}-{lang}", lang, bidi)
    assert not bidi, "left-to-right text not isolated in a right-to-left page:\n" + "\n".join(bidi)
