"""The public page cache (cosignatory.web.public.pagecache).

A letter's page and its API reads are kept whole for anonymous readers: served again
while the log's head is unchanged (or within the configured window), made again after
any new event, never for a signed-in user, never when the answer sets a cookie.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.http import HttpResponse
from django.test import Client

from cosignatory.web.public import pagecache
from cosignatory.web.register import services as s
from tests.web.test_public_pages import signatory_rows, small_register

PAGE = "/letters/l1/"


@pytest.fixture
def small(log: Any) -> Any:
    small_register()
    return log


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> dict[str, float]:
    now = {"t": 1000.0}
    monkeypatch.setattr(pagecache, "_clock", lambda: now["t"])
    return now


def _counts() -> tuple[int, int]:
    return pagecache.cache.hits, pagecache.cache.misses


def test_an_unchanged_letter_is_served_from_the_cache(client: Client, small: Any) -> None:
    hits, misses = _counts()
    first = client.get(PAGE)
    second = client.get(PAGE)
    assert first.status_code == second.status_code == 200
    assert second.content == first.content
    assert _counts() == (hits + 1, misses + 1)
    # Another query string or language is another answer.
    assert client.get(PAGE, {"text": "fr"}).content != first.content
    arabic = client.get(PAGE, headers={"accept-language": "ar"})
    assert 'dir="rtl"' in arabic.content.decode() and _counts()[1] == misses + 3


def test_a_head_is_answered_from_a_kept_get_and_never_kept_itself(
    client: Client, small: Any
) -> None:
    pagecache.cache.clear()
    hits, misses = _counts()
    assert client.head(PAGE).status_code == 200  # made, and not kept
    assert _counts() == (hits, misses + 1)
    assert all(key[0] != PAGE for key in pagecache.cache._answers)
    page = client.get(PAGE)  # made and kept
    head = client.head(PAGE)  # the GET's answer, its headers only
    assert _counts() == (hits + 1, misses + 2)
    assert head.status_code == 200 and head.content == b""
    assert head["Content-Type"] == page["Content-Type"]


def test_a_new_event_makes_the_page_again(client: Client, small: Any) -> None:
    before = signatory_rows(client.get(PAGE).content.decode())
    s.record_attested(
        "l1", "NOR", "sign", {"kind": "note-verbale", "reference": "NV/NOR", "date": "2024-03-11"}
    )
    after = signatory_rows(client.get(PAGE).content.decode())
    assert len(after) == len(before) + 1 and any("Norway" in row for row in after)


def test_within_the_window_a_page_may_be_a_second_behind(
    client: Client, small: Any, settings: Any, clock: dict[str, float]
) -> None:
    settings.COSIGNATORY_PAGE_CACHE_SECONDS = 1
    before = client.get(PAGE).content
    s.record_attested(
        "l1", "NOR", "sign", {"kind": "note-verbale", "reference": "NV/NOR", "date": "2024-03-11"}
    )
    clock["t"] += 0.5
    assert client.get(PAGE).content == before  # within the window: not checked
    clock["t"] += 0.6
    assert "Norway" in client.get(PAGE).content.decode()  # checked: the head moved


def test_no_answer_is_kept_past_its_maximum_age(
    client: Client, small: Any, clock: dict[str, float]
) -> None:
    client.get(PAGE)
    hits, misses = _counts()
    clock["t"] += pagecache.MAX_AGE + 1
    client.get(PAGE)
    assert _counts() == (hits, misses + 1)


def test_signed_in_users_and_cookies_pass_by_the_cache(client: Client, small: Any) -> None:
    client.force_login(User.objects.create_user("reader", password="a long password 123"))
    hits, misses = _counts()
    client.get(PAGE)
    client.get(PAGE)
    assert _counts() == (hits, misses)  # not even looked up
    anonymous = Client()
    anonymous.cookies["messages"] = "x"
    anonymous.get(PAGE)
    assert _counts() == (hits, misses)


def test_the_cache_can_be_turned_off(client: Client, small: Any, settings: Any) -> None:
    settings.COSIGNATORY_PAGE_CACHE = False
    hits, misses = _counts()
    assert client.get(PAGE).content == client.get(PAGE).content
    assert _counts() == (hits, misses)


def test_errors_and_conditional_requests_are_not_kept(client: Client, small: Any) -> None:
    assert client.get("/letters/no-such-letter/").status_code == 404
    assert client.get("/letters/no-such-letter/").status_code == 404
    assert all(key[0] != "/letters/no-such-letter/" for key in pagecache.cache._answers)
    api = "/api/v1/letters/l1/signatories"
    first = client.get(api)
    assert first.status_code == 200 and client.get(api).json() == first.json()
    assert client.get(api, headers={"if-none-match": first["ETag"]}).status_code == 304


def test_the_language_form_needs_no_token_so_pages_are_the_same_for_everyone(
    small: Any,
) -> None:
    strict = Client(enforce_csrf_checks=True)
    page = strict.get(PAGE)
    assert "csrfmiddlewaretoken" not in page.content.decode()
    assert "Set-Cookie" not in page.headers and not page.cookies
    changed = strict.post("/i18n/setlang/", {"language": "fr", "next": PAGE})
    assert changed.status_code == 302 and changed.cookies["django_language"].value == "fr"
    assert 'lang="fr"' in strict.get(PAGE).content.decode()


def test_the_cache_keeps_within_its_memory() -> None:
    cache = pagecache.PageCache(max_bytes=800)
    for n in range(10):
        cache.put((str(n),), pagecache._Answer("h", 0, 0, [], b"x" * 100))
    assert cache._bytes <= 800 and cache.get(("0",)) is None and cache.get(("9",)) is not None
    cache.put(("big",), pagecache._Answer("h", 0, 0, [], b"x" * 200))  # over an eighth
    assert cache.get(("big",)) is None


def test_while_one_reader_makes_a_changed_page_the_others_get_the_one_it_replaces(
    rf: Any, monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    """Under signing the head moves all the time: each reader making the same page at once
    would take the cores from the signers. One makes it; the others meanwhile are served
    the answer it replaces; a reader whose making fails hands the turn on."""
    settings.COSIGNATORY_PAGE_CACHE_SECONDS = 0  # the head is checked at every read
    head = {"now": "one"}
    monkeypatch.setattr(pagecache, "_head", lambda: head["now"])
    started, release = threading.Event(), threading.Event()
    made: list[int] = []

    def view(request: Any) -> HttpResponse:
        made.append(len(made))
        if made[-1] == 1:
            started.set()
            release.wait(10)
        if made[-1] == 2:
            raise RuntimeError("the render failed")
        return HttpResponse(f"page {made[-1]}".encode())

    middleware = pagecache.PageCacheMiddleware(view)

    def read() -> bytes:
        return bytes(middleware(rf.get(PAGE)).content)  # type: ignore[attr-defined]

    assert read() == b"page 0"
    head["now"] = "two"
    renewed: list[bytes] = []
    thread = threading.Thread(target=lambda: renewed.append(read()))
    thread.start()
    assert started.wait(10)
    assert read() == b"page 0"  # being made again by the other reader: the one it replaces
    release.set()
    thread.join(10)
    assert renewed == [b"page 1"] and read() == b"page 1" and made == [0, 1]
    head["now"] = "three"
    with pytest.raises(RuntimeError):
        read()
    assert read() == b"page 3" and made == [0, 1, 2, 3]  # the failed turn was handed on
