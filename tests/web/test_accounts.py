"""Signing in, the login lockout, two-factor set-up and verification, the account page."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.test import Client
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from cosignatory.web.accounts.models import RepresentativeAccount
from cosignatory.web.accounts.roles import REGISTRAR, SIGNATORY, grant_role
from cosignatory.web.register import services as s

PASSWORD = "correct horse battery staple 7"


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    cache.clear()  # the lockout's counts live in the cache
    yield
    cache.clear()


def make_user(username: str, role: str | None = None) -> Any:
    user = get_user_model().objects.create_user(username, f"{username}@example.org", PASSWORD)
    if role:
        grant_role(user, role)
    return user


def code_for(device: TOTPDevice, steps_ahead: int = 0) -> str:
    """The code the registrar's app shows now (or ``steps_ahead`` periods later)."""
    code = totp(device.bin_key, device.step, device.t0, device.digits, device.drift + steps_ahead)
    return f"{code:0{device.digits}d}"


def login(client: Client, username: str, password: str = PASSWORD) -> Any:
    return client.post("/accounts/login/", {"username": username, "password": password})


@pytest.mark.django_db
def test_login_page_and_sign_in(client: Client) -> None:
    make_user("sam", SIGNATORY)
    page = client.get("/accounts/login/")
    assert page.status_code == 200
    assert 'name="username"' in page.content.decode()
    response = login(client, "sam")
    assert response.status_code == 302 and response["Location"] == "/accounts/"
    home = client.get("/accounts/")
    assert home.status_code == 200
    assert "sam" in home.content.decode()


@pytest.mark.django_db
def test_a_wrong_password_is_refused_with_a_message(client: Client) -> None:
    make_user("sam")
    response = login(client, "sam", "wrong password")
    assert response.status_code == 200
    assert "Please enter a correct username and password" in response.content.decode()
    assert client.get("/accounts/").status_code == 302


@pytest.mark.django_db
def test_five_failures_lock_the_username_for_15_minutes(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_user("rita", REGISTRAR)
    make_user("other")
    for _ in range(4):
        assert "correct username and password" in login(client, "rita", "nope").content.decode()
    fifth = login(client, "rita", "nope").content.decode()
    assert "Too many failed sign-in attempts" in fifth
    # Even the right password is refused now...
    locked = login(client, "rita")
    assert locked.status_code == 200
    assert "Too many failed sign-in attempts" in locked.content.decode()
    assert "_auth_user_id" not in client.session
    # ...another username is not affected...
    assert login(Client(), "other").status_code == 302
    # ...and after 15 minutes the lock is gone.
    later = time.time() + 15 * 60 + 1
    monkeypatch.setattr("cosignatory.web.accounts.lockout.time.time", lambda: later)
    assert login(client, "rita").status_code == 302


@pytest.mark.django_db
def test_a_success_resets_the_count(client: Client) -> None:
    make_user("rita")
    for _ in range(4):
        login(client, "rita", "nope")
    assert login(client, "rita").status_code == 302
    client.post("/accounts/logout/")
    for _ in range(4):
        login(client, "rita", "nope")
    assert login(client, "rita").status_code == 302


@pytest.mark.django_db
def test_a_registrar_is_sent_to_the_second_factor(client: Client) -> None:
    make_user("rita", REGISTRAR)
    response = login(client, "rita")
    assert response["Location"].startswith("/accounts/two-factor/")
    desk = client.get("/desk/")
    assert desk.status_code == 302
    assert desk["Location"].startswith("/accounts/two-factor/?next=/desk/")


@pytest.mark.django_db
def test_two_factor_set_up_then_verify(client: Client) -> None:
    user = make_user("rita", REGISTRAR)
    client.force_login(user)
    page = client.get("/accounts/two-factor/?next=/desk/")
    assert page.status_code == 200
    html = page.content.decode()
    assert re.search(r'<img class="qr" src="data:image/svg\+xml', html)
    device = TOTPDevice.objects.get(user=user)
    assert not device.confirmed
    secret = re.search(r'id="totp-secret">([A-Z2-7=]+)<', html)
    assert secret is not None
    assert "style=" not in html  # the Content Security Policy forbids inline style
    assert "no-store" in page["Cache-Control"]  # it shows the secret

    # A wrong code: a clear error, nothing changed.
    wrong = client.post("/accounts/two-factor/", {"code": "000000", "next": "/desk/"})
    assert wrong.status_code == 400
    assert "That code is not right" in wrong.content.decode()
    device.refresh_from_db()
    assert not device.confirmed
    assert client.get("/desk/").status_code == 302

    device.throttling_failure_count = 0  # the wrong code above slows the next attempt
    device.throttling_failure_timestamp = None
    device.save()
    ok = client.post("/accounts/two-factor/", {"code": code_for(device), "next": "/desk/"})
    assert ok.status_code == 302 and ok["Location"] == "/desk/"
    device.refresh_from_db()
    assert device.confirmed
    assert client.get("/desk/").status_code == 200

    # A new session asks for a code, and shows no QR code or secret any more.
    fresh = Client()
    fresh.force_login(user)
    assert fresh.get("/desk/").status_code == 302
    again = fresh.get("/accounts/two-factor/").content.decode()
    assert "data:image/svg" not in again and "totp-secret" not in again
    verified = fresh.post("/accounts/two-factor/", {"code": code_for(device, 1), "next": "/desk/"})
    assert verified.status_code == 302
    assert fresh.get("/desk/").status_code == 200


@pytest.mark.django_db
def test_two_factor_refuses_an_outside_next(client: Client) -> None:
    user = make_user("rita", REGISTRAR)
    client.force_login(user)
    client.get("/accounts/two-factor/")
    device = TOTPDevice.objects.get(user=user)
    response = client.post(
        "/accounts/two-factor/", {"code": code_for(device), "next": "https://evil.example/"}
    )
    assert response.status_code == 302 and response["Location"] == "/accounts/"


@pytest.mark.django_db
def test_two_factor_needs_a_signed_in_user(client: Client) -> None:
    response = client.get("/accounts/two-factor/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


@pytest.mark.django_db
def test_account_page_shows_the_representative(client: Client, log: Any) -> None:
    s.initialise_register()
    s.register_representative("rep-fra", "Ambassador of France")
    user = make_user("amb", SIGNATORY)
    RepresentativeAccount.objects.create(user=user, representative_id="rep-fra")
    client.force_login(user)
    html = client.get("/accounts/").content.decode()
    assert "Ambassador of France" in html and "rep-fra" in html
    assert "Signatory" in html
    assert 'href="/sign/"' in html and 'href="/desk/"' not in html.split("<main")[1]


@pytest.mark.django_db
def test_account_page_of_a_verified_registrar_links_to_the_desk(client: Client) -> None:
    user = make_user("rita", REGISTRAR)
    client.force_login(user)
    html = client.get("/accounts/").content.decode()
    assert "Set up two-factor authentication" in html
    device = TOTPDevice.objects.create(user=user, name="phone", confirmed=True)
    session = client.session
    session["otp_device_id"] = device.persistent_id
    session.save()
    html = client.get("/accounts/").content.decode()
    assert "Go to the registrar&#x27;s desk" in html or "Go to the registrar's desk" in html


@pytest.mark.django_db
def test_logout_is_a_post(client: Client) -> None:
    client.force_login(make_user("sam"))
    assert client.get("/accounts/logout/").status_code == 405
    assert client.post("/accounts/logout/").status_code == 302
    assert client.get("/accounts/").status_code == 302


@pytest.mark.django_db
def test_password_change(client: Client) -> None:
    user = make_user("sam")
    client.force_login(user)
    assert client.get("/accounts/password/").status_code == 200
    new = "another long passphrase 42"
    bad = client.post(
        "/accounts/password/",
        {"old_password": "wrong", "new_password1": new, "new_password2": new},
    )
    assert bad.status_code == 200 and "incorrectly" in bad.content.decode()
    ok = client.post(
        "/accounts/password/",
        {"old_password": PASSWORD, "new_password1": new, "new_password2": new},
    )
    assert ok.status_code == 302 and ok["Location"] == "/accounts/"
    user.refresh_from_db()
    assert user.check_password(new)
