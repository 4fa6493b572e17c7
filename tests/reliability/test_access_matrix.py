"""Who may do what: every URL and every API operation, for every role.

The rows come from the site itself, not from a list kept by hand: every pattern of
Django's URL resolver (includes walked) and every operation of ``/api/v1/openapi.json``.
Each must have a row in :data:`WEB` or be an API path; a URL added without one fails
:func:`test_every_url_has_a_row`. Path parameters are filled with real ids of a
register (the demonstration register plus an open letter that two representatives
can sign).

The roles: ``anonymous``; ``signatory_a`` (representative of FRA) and ``signatory_b``
(of DEU), each a user with the signatory role; ``registrar`` (second factor passed in
this session) and ``registrar_no_2fa``; ``admin``, a Django superuser with no role.
The register has no Django admin site: an administrator works with the ``cosignatory``
command on the server (accounts, tokens), and on the website a superuser is an
ordinary signed-in user, refused the desk and the signing pages like any user without
the role. Then three API tokens, sent as ``Authorization: Bearer`` on a client with no
session: ``token_registrar``, ``token_signatory`` (for FRA) and ``token_revoked``.

Each cell is asserted for a GET, a POST without a CSRF token (always refused, 403),
and a POST with a valid CSRF token and an empty form (allowed or refused by role); no
POST of the matrix records anything. Every answer carries the strict Content Security
Policy. The figures are printed (``-s``).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_totp.models import TOTPDevice

from cosignatory.core.statements import SignedStatement, Statement
from cosignatory.web.accounts.models import RepresentativeAccount
from cosignatory.web.accounts.roles import REGISTRAR, SIGNATORY, grant_role
from cosignatory.web.api import tokens
from cosignatory.web.log.models import LogEntry
from cosignatory.web.register import models as m
from cosignatory.web.register import services as s
from cosignatory.web.register.demo import demo_private_key, load_demo

PASSWORD = "correct horse battery staple 7"
LETTER = "matrix-letter"
CSRF_SECRET = "abcdefghijklmnopqrstuvwxyz012345"  # 32 characters: a valid unmasked secret

SESSION_ROLES = (
    "anonymous",
    "signatory_a",
    "signatory_b",
    "registrar",
    "registrar_no_2fa",
    "admin",
)
TOKEN_ROLES = ("token_registrar", "token_signatory", "token_revoked")
ROLES = SESSION_ROLES + TOKEN_ROLES

# -- the register the matrix runs on ----------------------------------------------------


@dataclass
class World:
    """The register, the users and tokens, and the ids that fill path parameters."""

    users: dict[str, Any]
    secrets: dict[str, str]
    params: dict[str, str]
    key_a: Ed25519PrivateKey = field(default_factory=lambda: demo_private_key("FRA"))
    key_b: Ed25519PrivateKey = field(default_factory=lambda: demo_private_key("DEU"))


def _user(name: str, role: str | None = None, **extra: Any) -> Any:
    user = get_user_model().objects.create_user(name, f"{name}@example.org", PASSWORD, **extra)
    if role:
        grant_role(user, role)
    return user


def build_world() -> World:
    """The demonstration register, an open letter led by FRA, users for every role, tokens."""
    load_demo()
    s.create_letter(
        LETTER,
        {"en": "Matrix letter"},
        ["The President"],
        "FRA",
        date(2026, 11, 1),
        "demo-council-7",
    )
    s.add_text_version(LETTER, {"en": "We, the undersigned, agree."})
    s.open_letter(LETTER)
    users = {
        "signatory_a": _user("amb-fra", SIGNATORY),
        "signatory_b": _user("amb-deu", SIGNATORY),
        "registrar": _user("rita", REGISTRAR),
        "registrar_no_2fa": _user("rick", REGISTRAR),
        "admin": get_user_model().objects.create_superuser("root", "root@example.org", PASSWORD),
    }
    RepresentativeAccount.objects.create(user=users["signatory_a"], representative_id="rep-fra")
    RepresentativeAccount.objects.create(user=users["signatory_b"], representative_id="rep-deu")
    secrets = {
        "token_registrar": tokens.create_token("matrix-registrar", "registrar")[1],
        "token_signatory": tokens.create_token("matrix-fra", "signatory", party="FRA")[1],
        "token_revoked": tokens.create_token("matrix-revoked", "registrar")[1],
    }
    tokens.revoke_token("matrix-revoked")
    size = LogEntry.objects.count()
    document = m.Document.objects.filter(letter_id="demo-heritage", kind="original").get()
    dispute = m.Dispute.objects.order_by("id").first()
    assert dispute is not None and size < 256
    params = {
        "body": "demo-council",
        "session": "demo-council-7",
        "party": "FRA",
        "symbol": document.symbol,
        "letter": LETTER,
        "representative": "rep-fra",
        "mandate": "mandate-fra",
        "key_id": "key-fra",
        "dispute": dispute.id,
        "index": "0",
        "version": "1",
        "code": "E_NOT_FOUND",
        "token": "no-such-confirmation",
        "step": "no-such-step",
        "tile_path": f"0/000.p/{size}",
        "mandates/<str:id>": "mandate-fra",
        "keys/<str:id>": "key-fra",
        "disputes/<str:id>": dispute.id,
    }
    return World(users, secrets, params)


def client_for(world: World, role: str) -> Client:
    """A client acting as ``role``, enforcing CSRF as a browser would meet it."""
    headers = {}
    if role in TOKEN_ROLES:
        headers["Authorization"] = f"Bearer {world.secrets[role]}"
    client = Client(enforce_csrf_checks=True, headers=headers)
    user = world.users.get(role)
    if user is not None:
        client.force_login(user)
        if role == "registrar":
            device, _ = TOTPDevice.objects.get_or_create(
                user=user, name="phone", defaults={"confirmed": True}
            )
            session = client.session
            session[DEVICE_ID_SESSION_KEY] = device.persistent_id
            session.save()
    client.cookies["csrftoken"] = CSRF_SECRET
    return client


@pytest.fixture
def world(log: Any, settings: Any) -> Iterator[World]:
    settings.COSIGNATORY_API_WRITES_PER_MINUTE = 0  # the matrix is not a rate test
    cache.clear()
    yield build_world()
    cache.clear()


def recorded() -> tuple[int, int]:
    return m.EventRecord.objects.count(), LogEntry.objects.count()


# -- the URL map ----------------------------------------------------------------------------


def routes(resolver: URLResolver | None = None, prefix: str = "") -> Iterator[str]:
    """Every URL pattern of the site as one route string, includes walked."""
    for pattern in (resolver or get_resolver()).url_patterns:
        if isinstance(pattern, URLResolver):
            yield from routes(pattern, prefix + str(pattern.pattern))
        else:
            assert isinstance(pattern, URLPattern)
            yield prefix + str(pattern.pattern)


API_PREFIX = "api/v1/"
API_CATCH_ALL = "api/v1/^(?P<rest>(?s:.*))$"


def fill(route: str, params: dict[str, str]) -> str:
    """The route with its parameters replaced by real ids (``/``-prefixed URL)."""
    if route == API_CATCH_ALL:
        return "/api/v1/no/such/path"

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        before = route[: match.start()].rstrip("/").rsplit("/", 1)[-1]
        specific = params.get(f"{before}/{match.group(0)}")
        return specific if specific is not None else params[name]

    return "/" + re.sub(r"<(?:\w+:)?(\w+)>", value, route)


# -- what each role may do -----------------------------------------------------------------

PUBLIC = "public"  # anyone, signed in or not
LOGIN_PAGE = "login-page"  # anyone not signed in; the signed-in are sent on
ACCOUNT = "account"  # any signed-in user
SIGN = "sign"  # the signatory role (its own parties: checked by the views)
DESK = "desk"  # the registrar role with the second factor passed


@dataclass(frozen=True)
class Row:
    """A URL's access class, and the status an allowed GET and an allowed empty POST get."""

    kind: str
    get: int = 200
    post: int = 405
    method_first: bool = False  # a wrong method is 405 before anyone is asked who they are
    csrf: bool = True  # a POST without the CSRF token is refused (403)


WEB: dict[str, Row] = {
    "": Row(PUBLIC),
    "log/checkpoint": Row(PUBLIC),
    "log/vkey": Row(PUBLIC),
    "log/vkeys": Row(PUBLIC),
    "log/tile/<path:tile_path>": Row(PUBLIC),
    "confirm/<str:token>": Row(PUBLIC, get=404),  # no such token: nothing to confirm
    "disputes/new": Row(PUBLIC, get=404),  # names no signature
    "favicon.ico": Row(PUBLIC, get=302, post=302),
    # No CSRF token: it would make every page differ per reader (web/urls.py).
    "i18n/setlang/": Row(PUBLIC, get=302, post=302, csrf=False),
    "accounts/login/": Row(LOGIN_PAGE, post=200),
    "accounts/logout/": Row(PUBLIC, get=405, post=302),
    "accounts/": Row(ACCOUNT, post=200),
    "accounts/two-factor/": Row(ACCOUNT, post=400),
    "accounts/password/": Row(ACCOUNT, post=200),
    "desk/": Row(DESK),
    "desk/bodies/": Row(DESK, post=400),
    "desk/sessions/": Row(DESK, post=400),
    "desk/parties/": Row(DESK),
    "desk/parties/state": Row(DESK, get=405, post=400),
    "desk/parties/new": Row(DESK, get=405, post=400),
    "desk/representatives/": Row(DESK, post=400),
    "desk/representatives/<str:representative>/": Row(DESK),
    "desk/representatives/<str:representative>/mandates": Row(DESK, get=405, post=400),
    "desk/representatives/<str:representative>/keys": Row(DESK, get=405, post=400),
    "desk/mandates/<str:id>/end": Row(DESK, get=405, post=400),
    "desk/keys/<str:id>/revoke": Row(DESK, get=405, post=400),
    "desk/letters/": Row(DESK),
    "desk/letters/new": Row(DESK, post=400),
    "desk/letters/<str:letter>/": Row(DESK),
    "desk/letters/<str:letter>/text": Row(DESK, post=400),
    "desk/letters/<str:letter>/transmit": Row(DESK, get=405, post=400),
    "desk/letters/<str:letter>/register": Row(DESK, get=405, post=400),
    "desk/letters/<str:letter>/cancel-registration": Row(DESK, get=405, post=400),
    "desk/letters/<str:letter>/documents": Row(DESK, get=405, post=400),
    "desk/letters/<str:letter>/signatures": Row(DESK, get=405, post=400),
    "desk/letters/<str:letter>/import": Row(DESK, post=400),
    "desk/letters/<str:letter>/import/confirm": Row(DESK, get=405, post=400),
    "desk/letters/<str:letter>/step/<str:step>": Row(DESK, get=405, post=404),
    "desk/disputes/": Row(DESK),
    "desk/disputes/<str:id>/resolve": Row(DESK, get=405, post=400),
    "sign/": Row(SIGN, method_first=True),
    "sign/statements/submit": Row(SIGN, get=405, post=400, method_first=True),
    "sign/statements/upload": Row(SIGN, get=405, post=400, method_first=True),
    "sign/<str:letter>/": Row(SIGN, method_first=True),
    "bodies/": Row(PUBLIC),
    "bodies/<str:body>/": Row(PUBLIC),
    "sessions/<str:session>/": Row(PUBLIC),
    "sessions/<str:session>/feed.atom": Row(PUBLIC),
    "documents/<path:symbol>": Row(PUBLIC),
    "letters/": Row(PUBLIC),
    "letters/<str:letter>/": Row(PUBLIC),
    "letters/<str:letter>/history": Row(PUBLIC),
    "letters/<str:letter>/feed.atom": Row(PUBLIC),
    "letters/<str:letter>/signatories.csv": Row(PUBLIC),
    "letters/<str:letter>/signatories.json": Row(PUBLIC),
    "letters/<str:letter>/document.pdf": Row(PUBLIC),
    "letters/<str:letter>/verify": Row(PUBLIC),
    "parties/": Row(PUBLIC),
    "parties/<str:party>/": Row(PUBLIC),
    "parties/<str:party>/feed.atom": Row(PUBLIC),
    "compare/": Row(PUBLIC),
    "search/": Row(PUBLIC),
    # The API's own paths are in the OpenAPI matrix below; these two are not operations.
    "api/v1/openapi.json": Row(PUBLIC),
    API_CATCH_ALL: Row(PUBLIC, get=404, post=404),
}
"""Every non-API route of the site, with its access class."""

SIGNED_IN = {"signatory_a", "signatory_b", "registrar", "registrar_no_2fa", "admin"}


@dataclass(frozen=True)
class Expect:
    """An expected answer: a status, and where a redirect must lead (a prefix)."""

    status: int
    to: str | None = None

    def mismatch(self, response: Any, what: str) -> list[str]:
        """What is wrong with ``response`` for this cell (nothing: an empty list)."""
        if response.status_code != self.status:
            return [f"{what}: {response.status_code}, expected {self.status}"]
        if self.to is not None and not response["Location"].startswith(self.to):
            return [f"{what}: to {response['Location']}, expected {self.to}"]
        return []


def expect(row: Row, role: str, method: str, url: str) -> Expect:
    """The matrix's cell: what ``role`` gets for ``method`` on a URL of ``row``'s class."""
    allowed = Expect(row.get if method == "GET" else row.post)
    if row.method_first and allowed.status == 405:
        return allowed
    to_login = Expect(302, "/accounts/login/?next=")
    if row.kind == PUBLIC:
        return allowed
    signed_in = role in SIGNED_IN
    if row.kind == LOGIN_PAGE:
        return Expect(302) if signed_in else allowed
    if not signed_in:
        return to_login
    if row.kind == ACCOUNT:
        return allowed
    if row.kind == SIGN:
        return allowed if role in ("signatory_a", "signatory_b") else Expect(403)
    assert row.kind == DESK
    if role == "registrar":
        return allowed
    if role == "registrar_no_2fa":
        return Expect(302, f"/accounts/two-factor/?next={url}")
    return Expect(403)


# -- the web matrix --------------------------------------------------------------------------

STRICT_CSP = {
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
}


def csp_mismatch(response: Any, what: str) -> list[str]:
    """Empty if the answer carries the strict policy: no inline script or style."""
    policy = response.get("Content-Security-Policy") or ""
    strict = "unsafe-inline" not in policy and "unsafe-eval" not in policy
    if strict and {part.strip() for part in policy.split(";")} >= STRICT_CSP:
        return []
    return [f"{what}: Content-Security-Policy {policy!r}"]


def test_every_url_has_a_row() -> None:
    """A URL added to the site without a row here fails the matrix."""
    found = set(routes())
    web = {r for r in found if not r.startswith(API_PREFIX)} | {
        "api/v1/openapi.json",
        API_CATCH_ALL,
    }
    assert web == set(WEB)


@pytest.mark.django_db
def test_web_matrix(world: World) -> None:
    """Every non-API URL by every role: GET, POST without CSRF, POST with CSRF."""
    before = recorded()
    wrong: list[str] = []
    cells = sum((web_cells(world, role, wrong) for role in ROLES), 0)
    assert not wrong, "\n".join(wrong)
    assert recorded() == before, "a refused or empty POST recorded something"
    print(f"\naccess matrix (web): {len(WEB)} URLs x {len(ROLES)} roles x 3 requests = {cells}")


def web_cells(world: World, role: str, wrong: list[str]) -> int:
    """Request every non-API URL as ``role``; add what is wrong to ``wrong``; count cells."""
    client = client_for(world, role)
    cells = 0
    for route, row in WEB.items():
        url = fill(route, world.params)
        what = f"{role} GET {url}"
        response = client.get(url)
        wrong += expect(row, role, "GET", url).mismatch(response, what)
        wrong += csp_mismatch(response, what)

        what = f"{role} POST {url} without CSRF token"
        response = client.post(url, {})
        if not route.startswith(API_PREFIX):  # the API takes tokens, not cookies
            wrong += (Expect(403) if row.csrf else expect(row, role, "POST", url)).mismatch(
                response, what
            )

        what = f"{role} POST {url}"
        response = client.post(url, {"csrfmiddlewaretoken": CSRF_SECRET})
        wrong += expect(row, role, "POST", url).mismatch(response, what)
        wrong += csp_mismatch(response, what)
        if route == "accounts/logout/":
            client = client_for(world, role)  # signed out: sign in again
        cells += 3
    return cells


# -- the API matrix (OpenAPI) ----------------------------------------------------------------


def operations() -> list[tuple[str, str, bool]]:
    """(method, path, needs a token) of every operation in /api/v1/openapi.json."""
    document = json.loads(Client().get("/api/v1/openapi.json").content)
    return [
        (method.upper(), path, bool(op.get("security")))
        for path, ops in document["paths"].items()
        for method, op in ops.items()
    ]


def api_url(path: str, params: dict[str, str]) -> str:
    return re.sub(r"\{(\w+)\}", lambda match: params[match.group(1)], path)


# Operations a signatory token may call (for its own party: checked by the view).
SIGNATORY_OPERATIONS = {("POST", "/api/v1/disputes")}
UNAUTHENTICATED_WRITES = {("POST", "/api/v1/statements")}  # the statement's signature is the proof


def test_every_api_route_is_an_openapi_operation(db: None) -> None:
    """Each API pattern of the resolver is in the OpenAPI document (or is the document
    itself, or the catch-all 404): no API URL escapes the API matrix."""
    paths = {path for _, path, _ in operations()}
    for route in routes():
        if not route.startswith(API_PREFIX) or route in WEB:
            continue
        as_openapi = "/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route)
        assert as_openapi in paths, route


LET_THROUGH = {400, 404, 422}  # past authorisation: the operation judged the request


def api_expect(method: str, path: str, secured: bool, role: str) -> set[int]:
    """The statuses allowed for ``role``: 401/403 mean refused, the others that the
    request was let through to the operation (which refused the empty body or the
    unknown id, so that nothing changes)."""
    if method == "GET":
        return {200}
    if not secured:
        assert (method, path) in UNAUTHENTICATED_WRITES, path
        return LET_THROUGH
    if role == "token_registrar":
        return LET_THROUGH
    if role == "token_signatory":
        return LET_THROUGH if (method, path) in SIGNATORY_OPERATIONS else {403}
    # No token, a revoked one, or a browser session (cookies do not authenticate the API).
    return {401}


@pytest.mark.django_db
def test_api_matrix(world: World) -> None:
    """Every OpenAPI operation by every role; a refusal is an RFC 9457 problem.

    Reads name real ids; writes name ids that do not exist, so that a request let
    through is refused by the register (404) or the body's check (422) and the
    matrix changes nothing.
    """
    before = recorded()
    ops = operations()
    for role in ROLES:
        api_cells(world, role, ops)
    assert recorded() == before
    print(f"\naccess matrix (API): {len(ops)} operations x {len(ROLES)} roles")


def api_cells(world: World, role: str, ops: list[tuple[str, str, bool]]) -> None:
    client = client_for(world, role)
    missing = dict.fromkeys(world.params, "no-such-id")
    for method, path, secured in ops:
        url = api_url(path, world.params if method == "GET" else missing)
        what = f"{role} {method} {url}"
        if method == "GET":
            response = client.get(url)
        else:
            response = client.post(
                url, b"{}", content_type="application/json", headers={"Idempotency-Key": "m1"}
            )
        assert response.status_code in api_expect(method, path, secured, role), (
            what,
            response.status_code,
            response.content[:300],
        )
        if response.status_code in (401, 403):
            assert response["Content-Type"] == "application/problem+json", what
            code = response.json()["code"]
            assert code == ("E_AUTH_REQUIRED" if response.status_code == 401 else "E_FORBIDDEN")


# -- no signatory acts for another party -----------------------------------------------------


def statement(world: World, action: str, party: str, representative: str, key: str) -> Statement:
    text = m.TextVersion.objects.get(letter_id=LETTER, version=1)
    return Statement(action, LETTER, 1, text.text_hash, party, representative, key, timezone.now())


def submit_page(client: Client, signed: SignedStatement) -> Any:
    return client.post(
        "/sign/statements/submit",
        json.dumps(signed.to_json()),
        content_type="application/json",
        headers={"X-CSRFToken": CSRF_SECRET},
    )


def submit_api(signed: SignedStatement) -> Any:
    return Client().post(
        "/api/v1/statements", json.dumps(signed.to_json()), content_type="application/json"
    )


@pytest.mark.django_db
def test_a_signatory_cannot_sign_withdraw_or_dispute_for_another_party(world: World) -> None:
    b = client_for(world, "signatory_b")
    a = client_for(world, "signatory_a")
    nothing = recorded()

    # B's page for A's party, and B's statements claiming A: refused.
    assert b.get(f"/sign/{LETTER}/", {"party": "FRA"}).status_code == 403
    claims = [
        (statement(world, "sign", "FRA", "rep-deu", "key-deu"), world.key_b),  # B's key, A's party
        (statement(world, "sign", "FRA", "rep-fra", "key-fra"), world.key_a),  # A's own (stolen)
        (statement(world, "sign", "DEU", "rep-deu", "key-fra"), world.key_a),  # A's key as B's rep
    ]
    for claim, key in claims:
        signed = SignedStatement(claim, claim.sign(key))
        assert submit_page(b, signed).status_code == 403
    assert recorded() == nothing

    # The API takes no session: the statement's signature and the register's rules decide.
    for claim, key in claims[0::2]:
        response = submit_api(SignedStatement(claim, claim.sign(key)))
        assert response.status_code == 422, response.content  # the API's status for the code
        assert response.json()["code"] == "E_WRONG_PARTY"
    assert recorded() == nothing

    # A signs; B can withdraw it neither on the page nor through the API.
    own = statement(world, "sign", "FRA", "rep-fra", "key-fra")
    assert submit_page(a, SignedStatement(own, own.sign(world.key_a))).status_code == 201
    signature = m.Signature.objects.get(letter_id=LETTER, party_id="FRA", active=True)
    after_sign = recorded()
    withdrawals = [
        (statement(world, "withdraw", "FRA", "rep-deu", "key-deu"), world.key_b),
        (statement(world, "withdraw", "FRA", "rep-fra", "key-deu"), world.key_b),
    ]
    for claim, key in withdrawals:
        signed = SignedStatement(claim, claim.sign(key))
        assert submit_page(b, signed).status_code == 403
        response = submit_api(signed)
        assert response.status_code in (403, 422), response.content
        assert response.json()["code"] in ("E_WRONG_PARTY", "E_SIG_INVALID", "E_STATEMENT")
    assert b.get(f"/sign/{LETTER}/", {"party": "FRA", "action": "withdraw"}).status_code == 403

    # Disputes: B's signatory token may file only for DEU, and DEU only against DEU's.
    _, b_token = tokens.create_token("matrix-deu", "signatory", party="DEU")
    api_b = Client(headers={"Authorization": f"Bearer {b_token}"})
    dispute = {
        "signature": signature.id,
        "statement": "We did not sign this.",
        "instrument": {"kind": "note-verbale", "reference": "NV/1", "date": "2026-11-02"},
    }
    for party, status, code in (("FRA", 403, "E_FORBIDDEN"), ("DEU", 422, "E_WRONG_PARTY")):
        response = api_b.post(
            "/api/v1/disputes",
            json.dumps({**dispute, "party": party}),
            content_type="application/json",
            headers={"Idempotency-Key": f"d-{party}"},
        )
        assert response.status_code == status, response.content
        assert response.json()["code"] == code
    # And the desk, where the registrar resolves disputes, is closed to signatories.
    assert b.get("/desk/disputes/").status_code == 403
    assert recorded() == after_sign
    assert m.Signature.objects.get(pk=signature.id).active


# -- accounts: hashes, lockout, second factor, cookies ---------------------------------------


@pytest.mark.django_db
def test_passwords_are_stored_as_argon2(world: World) -> None:
    for user in world.users.values():
        user.refresh_from_db()
        assert user.password.startswith("argon2$argon2id$"), user.username


@pytest.mark.django_db
def test_sign_in_locks_after_five_failures_even_with_the_right_password(world: World) -> None:
    # The lockout itself is tested in tests/web/test_accounts.py; here: it guards the
    # registrar's account too, and a locked registrar reaches no desk page.
    client = Client()
    for _ in range(5):
        client.post("/accounts/login/", {"username": "rita", "password": "wrong"})
    response = client.post("/accounts/login/", {"username": "rita", "password": PASSWORD})
    assert response.status_code == 200
    assert "Too many failed sign-in attempts" in response.content.decode()
    assert client.get("/desk/").status_code == 302


@pytest.mark.django_db
def test_signing_in_sets_secure_http_only_same_site_cookies(world: World, settings: Any) -> None:
    assert settings.SESSION_COOKIE_SECURE and settings.CSRF_COOKIE_SECURE, (
        "the test run must not set COSIGNATORY_INSECURE_COOKIES or COSIGNATORY_DEBUG"
    )
    client = Client()
    client.get("/accounts/login/")
    response = client.post("/accounts/login/", {"username": "amb-fra", "password": PASSWORD})
    assert response.status_code == 302
    for name in ("sessionid", "csrftoken"):
        cookie = client.cookies[name]
        assert cookie["secure"] is True, name
        assert cookie["httponly"] is True, name
        assert cookie["samesite"] == "Lax", name


@pytest.mark.parametrize(
    ("env", "secure"), [({}, True), ({"COSIGNATORY_INSECURE_COOKIES": "1"}, False)]
)
def test_cookies_are_secure_unless_the_operator_says_otherwise(
    env: dict[str, str], secure: bool, tmp_path: Any
) -> None:
    import os

    child = {
        k: v
        for k, v in os.environ.items()
        if k not in ("COSIGNATORY_INSECURE_COOKIES", "COSIGNATORY_DEBUG")
    }
    child.update(env, COSIGNATORY_DATA_DIR=str(tmp_path))
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "from cosignatory.web import settings as s; "
            "print(s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SESSION_COOKIE_HTTPONLY, "
            "s.CSRF_COOKIE_HTTPONLY)",
        ],
        env=child,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert out == [str(secure), str(secure), "True", "True"]


@pytest.mark.django_db
def test_a_registrar_must_pass_the_second_factor_in_each_session(world: World) -> None:
    client = Client()
    response = client.post("/accounts/login/", {"username": "rita", "password": PASSWORD})
    assert response["Location"].startswith("/accounts/two-factor/")
    response = client.get("/desk/letters/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/two-factor/?next=/desk/letters/"
    # A verified session elsewhere does not carry over to this one.
    assert client_for(world, "registrar").get("/desk/letters/").status_code == 200
    assert client.get("/desk/letters/").status_code == 302


# -- tokens: scoped and revocable ------------------------------------------------------------


@pytest.mark.django_db
def test_a_token_is_refused_from_the_moment_it_is_revoked(world: World) -> None:
    row, secret = tokens.create_token("soon-revoked", "registrar")
    api = Client(headers={"Authorization": f"Bearer {secret}", "Idempotency-Key": "r1"})
    body = json.dumps({"reason": "lost"})
    ok = api.post("/api/v1/keys/no-such-key/revoke", body, content_type="application/json")
    assert ok.status_code == 404  # authenticated: the register answers
    tokens.revoke_token(row.name)
    refused = api.post("/api/v1/keys/key-fra/revoke", body, content_type="application/json")
    assert refused.status_code == 401
    assert refused.json()["code"] == "E_AUTH_REQUIRED"
    assert m.Key.objects.get(pk="key-fra").revoked_at is None


@pytest.mark.django_db
def test_a_signatory_token_cannot_do_the_registrars_operations(world: World) -> None:
    api = Client(headers={"Authorization": f"Bearer {world.secrets['token_signatory']}"})
    before = recorded()
    response = api.post(
        "/api/v1/keys/key-deu/revoke",
        json.dumps({"reason": "taking over"}),
        content_type="application/json",
        headers={"Idempotency-Key": "x"},
    )
    assert response.status_code == 403
    assert response.json()["code"] == "E_FORBIDDEN"
    assert recorded() == before
    assert m.Key.objects.get(pk="key-deu").revoked_at is None
