"""The public register's pages, through Django's test client, on the demo register and on
small registers built with the services."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import translation
from django.utils.translation import gettext, pgettext

from cosignatory.web.public import letter_pages, pagecache
from cosignatory.web.register import demo, queries
from cosignatory.web.register import models as m
from cosignatory.web.register import services as s

INLINE = [
    re.compile(r"<style", re.I),
    re.compile(r"\sstyle\s*=", re.I),
    re.compile(r"<script(?![^>]*\ssrc=)", re.I),
    re.compile(r"\son[a-z]+\s*=", re.I),
]


def page(response: Any) -> str:
    """The page's HTML, after checking it carries nothing the CSP would refuse."""
    html: str = response.content.decode()
    for pattern in INLINE:
        assert not pattern.search(html), f"inline code or style: {pattern.pattern}"
    return html


def text_of(html: str) -> str:
    """The page's words, tags removed and spaces collapsed."""
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


@pytest.fixture(autouse=True)
def fresh_cache() -> None:
    """Each test builds its own register: a chart cached by an earlier one must not show."""
    cache.clear()


@pytest.fixture
def demo_register(log: Any) -> Any:
    demo.load_demo()
    return log


# -- every page, on the demo register ------------------------------------------------------

PAGES = [
    ("/", ["Open for signature", "[Demo] Open letter from researchers", "DEMO/C/7/G/1/Add.1"]),
    ("/bodies/", ["Demonstration Council", "DEMO/C"]),
    ("/bodies/demo-council/", ["Seventh session (demonstration)", "DEMO/C/7/"]),
    (
        "/sessions/demo-council-7/",
        ["Series G", "DEMO/C/7/G/1", "DEMO/C/7/G/1/Add.1", "DEMO/C/7/G/2/Corr.1"],
    ),
    ("/documents/DEMO/C/7/G/1", ["DEMO/C/7/G/1/Add.1", "cultural heritage"]),
    ("/letters/", ["[Demo] Joint letter on development and cooperation", "DEMO/C/7/G/2"]),
    ("/letters/demo-heritage/", ["President of the Demonstration Council", "France"]),
    ("/letters/demo-heritage/history", ["Opened for signature", "Signature withdrawn"]),
    ("/parties/", ["France", "Demonstration Heritage Network"]),
    ("/parties/ITA/", ["acceded", "[Demo] Joint letter on the protection of cultural heritage"]),
    ("/compare/", ["Choose two or more letters"]),
]


@pytest.mark.parametrize(("url", "expected"), PAGES)
def test_every_public_page_answers_with_its_content(
    client: Client, demo_register: Any, url: str, expected: list[str]
) -> None:
    response = client.get(url)
    assert response.status_code == 200
    html = page(response)
    for words in expected:
        assert words in html
    assert '<html lang="en" dir="ltr">' in html


def test_home_page_shows_the_log(client: Client, demo_register: Any) -> None:
    html = page(client.get("/"))
    size = demo_register.size()
    assert f"Entries in the log: <bdi>{size}</bdi>." in html
    assert 'href="/log/checkpoint"' in html
    assert 'action="/search/"' in html


# -- documents by symbol --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("symbol", "kind", "related"),
    [
        ("DEMO/C/7/G/1", "Official document", ["DEMO/C/7/G/1/Add.1"]),
        ("DEMO/C/7/G/1/Add.1", "Addendum", ["DEMO/C/7/G/1"]),
        ("DEMO/C/7/G/2/Corr.1", "Corrigendum", ["DEMO/C/7/G/2"]),
    ],
)
def test_documents_are_found_by_symbols_with_slashes(
    client: Client, demo_register: Any, symbol: str, kind: str, related: list[str]
) -> None:
    html = page(client.get(f"/documents/{symbol}"))
    assert f'<h1 class="symbol">{symbol}</h1>' in html
    assert kind in html
    for other in related:
        assert f'href="/documents/{other}"' in html
    assert re.search(r'href="/letters/demo-[a-z]+/"', html)


def test_a_corrigendum_links_to_the_text_version_it_issues(
    client: Client, demo_register: Any
) -> None:
    html = page(client.get("/documents/DEMO/C/7/G/2/Corr.1"))
    assert 'href="/letters/demo-development/?version=2"' in html


def test_a_cancelled_registration_is_marked(log: Any, client: Client) -> None:
    small_register()
    s.transmit_letter("l1", date(2024, 3, 20))
    s.register_document("l1", "council-1", "G")
    s.cancel_registration("l1", "Registered in the wrong series")
    html = page(client.get("/documents/C/1/G/1"))
    assert "This registration was cancelled" in html
    assert "Registered in the wrong series" in html
    letter = page(client.get("/letters/l1/"))
    assert '<del><a class="symbol" href="/documents/C/1/G/1" dir="ltr">' in letter


# -- a small register with known dates ----------------------------------------------------

T0 = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)


def small_register() -> None:
    """Three states sign letter ``l1`` on 1, 2 and 3 March 2024; Germany withdraws on
    10 March. A draft letter ``draft-1`` sits in the same session."""
    clock = {"now": T0}
    with s.use_clock(lambda: clock["now"]):
        s.initialise_register()
        s.create_body("council", {"en": "Council", "ar": "المجلس"}, "C")
        s.create_session(
            "council-1", "council", 1, {"en": "First session"}, date(2024, 3, 1),
            date(2024, 3, 31), "C/1/",
        )  # fmt: skip
        for code in ("FRA", "DEU", "ESP", "NOR"):
            s.register_state(code)
        s.create_letter(
            "l1", {"en": "Letter <one>", "fr": "Lettre un"}, ["The President"], "FRA",
            date(2024, 3, 1), "council-1",
        )  # fmt: skip
        s.add_text_version(
            "l1", {"en": "We **agree**.", "fr": "Nous sommes d'accord.", "ar": "نحن نوافق."}
        )
        s.open_letter("l1")
        for day, code in ((1, "FRA"), (2, "DEU"), (3, "ESP")):
            clock["now"] = T0 + timedelta(days=day - 1)
            s.record_attested(
                "l1", code, "sign",
                {"kind": "note-verbale", "reference": f"NV/{code}", "date": f"2024-03-0{day}"},
            )  # fmt: skip
        clock["now"] = T0 + timedelta(days=9)
        s.record_attested(
            "l1", "DEU", "withdraw",
            {"kind": "note-verbale", "reference": "NV/DEU/2", "date": "2024-03-10"},
        )  # fmt: skip
        s.create_letter(
            "draft-1", {"en": "A secret draft"}, ["The President"], "NOR", date(2024, 3, 5),
            "council-1",
        )  # fmt: skip


@pytest.fixture
def small(log: Any) -> Any:
    small_register()
    return log


def signatory_rows(html: str) -> list[str]:
    """The text of each row of the signatory table."""
    table = html.split('<table class="signatories">', 1)[1].split("</table>", 1)[0]
    body = table.split("<tbody>", 1)[1]
    return [text_of(row) for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S)]


def test_the_list_as_of_a_date_shows_withdrawals_made_by_then(client: Client, small: Any) -> None:
    before = page(client.get("/letters/l1/?as_of=2024-03-05"))
    rows = signatory_rows(before)
    assert [r.split()[1] for r in rows] == ["France", "Germany", "Spain"]
    assert "withdrawn" not in " ".join(rows)
    assert "3 signatories" in text_of(before)
    assert "<del" not in before.split('<table class="signatories">', 1)[1]

    after = page(client.get("/letters/l1/?as_of=2024-03-10"))
    rows = signatory_rows(after)
    assert "withdrawn on Mar 10, 2024" in rows[1]
    assert '<del class="withdrawn"><a href="/parties/DEU/"' in after
    assert "2 signatories. 1 signature withdrawn." in text_of(after)

    early = page(client.get("/letters/l1/?as_of=2024-03-01"))
    assert [r.split()[1] for r in signatory_rows(early)] == ["France"]
    nobody = page(client.get("/letters/l1/?as_of=2024-02-01"))
    assert "Nobody had signed by that date." in nobody


def test_as_of_is_carried_to_the_downloads(client: Client, small: Any) -> None:
    html = page(client.get("/letters/l1/?as_of=2024-03-05"))
    for name in ("signatories.csv", "signatories.json", "document.pdf"):
        assert f'href="/letters/l1/{name}?as_of=2024-03-05"' in html
    assert 'href="/letters/l1/feed.atom"' in html
    assert 'href="/letters/l1/verify"' in html
    assert 'value="2024-03-05"' in html  # the form shows the date asked about


@pytest.mark.parametrize("bad", ["yesterday", "2024-02-30", "2024-3-1", "20240301"])
def test_a_bad_as_of_date_is_refused_with_a_message(client: Client, small: Any, bad: str) -> None:
    response = client.get("/letters/l1/", {"as_of": bad})
    assert response.status_code == 400
    html = page(response)
    assert 'role="alert"' in html
    assert "YYYY-MM-DD" in html or "There is no such date" in html
    # The list is today's, as if no date had been asked for.
    assert "Now: 2 signatories. 1 signature withdrawn." in text_of(html)


def test_the_letter_shows_its_facts_text_and_hash(client: Client, small: Any) -> None:
    html = page(client.get("/letters/l1/"))
    assert "Letter &lt;one&gt;" in html  # titles are escaped
    assert "The President" in html
    assert 'href="/parties/FRA/"' in html
    assert "open for signature" in html
    version = m.TextVersion.objects.get(letter_id="l1", version=1)
    assert version.text_hash in html
    assert '<div class="letter-text" lang="en" dir="ltr"><p>We <strong>agree</strong>.</p>' in html
    # The language switcher: links, the current one marked.
    assert 'href="?text=fr"' in html and 'href="?text=ar"' in html
    assert 'aria-current="true"' in html
    assert "Signatures withdrawn" not in html
    assert 'href="/letters/l1/history"' in html


def test_the_text_in_another_language(client: Client, small: Any) -> None:
    html = page(client.get("/letters/l1/?text=ar"))
    assert '<div class="letter-text" lang="ar" dir="rtl"><p>نحن نوافق.</p>' in html
    french = page(client.get("/letters/l1/?text=fr"))
    assert '<div class="letter-text" lang="fr" dir="ltr"><p>Nous sommes d' in french
    missing = client.get("/letters/l1/?text=ru")
    assert missing.status_code == 400
    assert "not available in that language" in page(missing)


def test_earlier_versions_and_their_signatories_are_marked(
    client: Client, demo_register: Any
) -> None:
    current = page(client.get("/letters/demo-development/"))
    assert "sustainable development" in current
    assert "signed version 1 (an earlier text)" in current
    assert 'href="?version=1"' in current
    earlier = page(client.get("/letters/demo-development/?version=1"))
    assert "This is version 1, an earlier text" in text_of(earlier)
    assert "support development for all" in earlier
    assert client.get("/letters/demo-development/?version=9").status_code == 400
    assert client.get("/letters/demo-development/?version=x").status_code == 400


def test_evidence_is_shown_next_to_every_name(client: Client, demo_register: Any) -> None:
    heritage = page(client.get("/letters/demo-heritage/"))
    assert '<span class="badge evidence-self-signed">self-signed</span>' in heritage
    assert "signed with key <bdi>key-fra</bdi>" in heritage
    assert '<span class="badge evidence-attested">attested by the registrar</span>' in heritage
    assert "note verbale <bdi>DEMO/NV/100</bdi>, <bdi>Jul 8, 2019</bdi>" in heritage
    open_letter = page(client.get("/letters/demo-open-letter/"))
    assert '<span class="badge evidence-email-verified">email-verified</span>' in open_letter
    rows = signatory_rows(heritage)
    assert all("self-signed" in r or "attested" in r for r in rows)


def test_evidence_is_told_in_the_reader_s_language(client: Client, demo_register: Any) -> None:
    client.cookies["django_language"] = "fr"
    with translation.override("fr"):
        signed_with_key = gettext("signed with key {key}").format(key="<bdi>key-fra</bdi>")
        verbale = pgettext("instrument", "note verbale")
        attested = gettext("{kind} {reference}, {day}").format(
            kind=verbale, reference="<bdi>DEMO/NV/100</bdi>", day="<bdi>8 juil. 2019</bdi>"
        )
    heritage = page(client.get("/letters/demo-heritage/"))
    assert signed_with_key in heritage
    # the instrument's kind is named in words, its date formatted for a French reader
    assert attested in heritage
    rows = " ".join(signatory_rows(heritage))
    assert "note-verbale" not in rows and "2019-07-08" not in rows
    portugal = page(client.get("/parties/PRT/"))
    assert f"{verbale} <bdi>DEMO/NV/201</bdi>" in portugal


def test_disputes_and_their_outcome_are_shown(client: Client, demo_register: Any) -> None:
    html = text_of(page(client.get("/letters/demo-development/")))
    assert "voided: a dispute was upheld" in html
    assert "disputed: upheld" in html
    assert "Bolivia disputed the signature of Bolivia" in html
    assert "Upheld: the signature is voided." in html
    assert "9 signatories" in html and "1 signature voided after a dispute." in html


def test_the_chart_is_inline_svg_with_a_title(client: Client, small: Any) -> None:
    html = page(client.get("/letters/l1/"))
    svg = html.split("<svg", 1)[1].split("</svg>", 1)[0]
    assert 'role="img"' in svg
    assert "<title" in svg and "Number of signatories over time" in svg
    assert "<desc" in svg and "Mar 1, 2024" in svg


def test_the_count_over_time_ends_at_the_list_count(demo_register: Any) -> None:
    for letter in ("demo-heritage", "demo-development", "demo-open-letter"):
        series = queries.count_over_time(letter)
        assert series[-1][1] == queries.signatory_counts(letter).active
        assert series[-1][1] == sum(r.active for r in queries.signatory_list(letter))


def test_the_cached_chart_follows_the_next_event(client: Client, small: Any) -> None:
    before = page(client.get("/letters/l1/"))
    assert "March 10, 2024 (2)" in before  # the chart's description: the last count
    with s.use_clock(lambda: T0 + timedelta(days=12)):
        s.record_attested(
            "l1", "NOR", "sign", {"kind": "note-verbale", "reference": "NV/N", "date": "2024-03-13"}
        )
    after = page(client.get("/letters/l1/"))
    assert "March 13, 2024 (3)" in after


def test_count_over_time_counts_withdrawals_and_replacements(small: Any) -> None:
    assert queries.count_over_time("l1") == [
        (date(2024, 3, 1), 1),
        (date(2024, 3, 2), 2),
        (date(2024, 3, 3), 3),
        (date(2024, 3, 10), 2),
    ]
    assert queries.count_over_time("l1", as_of=date(2024, 3, 5))[-1] == (date(2024, 3, 3), 3)


# -- large lists ---------------------------------------------------------------------------


@pytest.fixture
def five_per_page(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(letter_pages, "SIGNATORIES_PER_PAGE", 5)


def test_the_signatory_list_is_paginated(
    client: Client, demo_register: Any, five_per_page: None
) -> None:
    first = page(client.get("/letters/demo-heritage/"))
    assert len(signatory_rows(first)) == 5
    assert "Signatories 1–5 of 17" in first
    assert "Page 1 of 4" in first
    assert 'href="?page=2" rel="next"' in first
    last = page(client.get("/letters/demo-heritage/?page=4"))
    rows = signatory_rows(last)
    assert [r.split()[0] for r in rows] == ["16", "17"]
    assert "Italy" in rows[1] and "acceded" in rows[1]
    # Paging keeps the date asked about.
    dated = page(client.get("/letters/demo-heritage/?as_of=2019-07-12"))
    assert 'href="?as_of=2019-07-12&amp;page=2"' in dated


def test_a_page_of_signatories_costs_the_same_queries_whatever_its_length(
    client: Client, demo_register: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def queries_for(per_page: int) -> list[str]:
        monkeypatch.setattr(letter_pages, "SIGNATORIES_PER_PAGE", per_page)
        pagecache.cache.clear()  # the render's queries, not the cache's
        with CaptureQueriesContext(connection) as captured:
            assert client.get("/letters/demo-heritage/").status_code == 200
        return [q["sql"] for q in captured.captured_queries]

    queries_for(100)  # the chart's day counts are cached from here on
    two_rows, all_rows = queries_for(2), queries_for(100)
    assert len(two_rows) == len(all_rows)
    # The rows come from one LIMIT query, the total from one COUNT: nothing loads the list.
    reads = [q for q in two_rows if 'FROM "register_signature"' in q and "LIMIT 2" in q]
    assert len(reads) == 1
    assert any("COUNT(" in q and "register_signature" in q for q in two_rows)


def test_the_history_is_complete_and_paginated(
    client: Client, demo_register: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(letter_pages, "EVENTS_PER_PAGE", 10)
    first = page(client.get("/letters/demo-heritage/history"))
    assert "Letter created (draft)" in first
    assert first.count("log entry ") == 10
    assert 'href="?page=2"' in first
    total = m.EventRecord.objects.filter(letter_id="demo-heritage").count()
    pages = -(-total // 10)
    last = page(client.get(f"/letters/demo-heritage/history?page={pages}"))
    assert "Closed for signature" in last
    assert last.count("log entry ") == total - 10 * (pages - 1)


# -- what is not public, and what is not there -----------------------------------------------


def test_drafts_are_not_public(client: Client, small: Any) -> None:
    assert client.get("/letters/draft-1/").status_code == 404
    assert client.get("/letters/draft-1/history").status_code == 404
    for url in ("/letters/", "/sessions/council-1/", "/compare/", "/parties/NOR/", "/"):
        html = page(client.get(url))
        assert "A secret draft" not in html, url
    response = client.get("/compare/?letters=l1&letters=draft-1")
    assert response.status_code == 400
    assert "There is no public letter with that identifier: draft-1" in page(response)


@pytest.mark.parametrize(
    "url",
    [
        "/letters/nope/",
        "/letters/nope/history",
        "/parties/nope/",
        "/bodies/nope/",
        "/sessions/nope/",
        "/documents/C/1/G/99",
        "/documents/nope",
    ],
)
def test_unknown_ids_are_not_found(client: Client, small: Any, url: str) -> None:
    assert client.get(url).status_code == 404


# -- lists and filters ---------------------------------------------------------------------


def test_letters_filter_by_status(client: Client, demo_register: Any) -> None:
    published = page(client.get("/letters/?status=published"))
    assert "cultural heritage" in published
    assert "open data" not in published
    opened = page(client.get("/letters/?status=open"))
    assert "open data" in opened and "cultural heritage" not in opened
    bad = client.get("/letters/?status=draft")
    assert bad.status_code == 400
    assert "There is no such status" in page(bad)
    assert "[Demo] Draft letter" not in page(bad)


def test_parties_filter_by_kind_and_are_paginated(client: Client, demo_register: Any) -> None:
    organisations = page(client.get("/parties/?kind=organisation"))
    assert "Demonstration Heritage Network" in organisations
    assert "France" not in organisations
    people = page(client.get("/parties/?kind=person"))
    assert "Ada Demo" in people
    assert client.get("/parties/?kind=robot").status_code == 400
    states = page(client.get("/parties/?kind=state"))
    names = re.findall(r'href="/parties/[A-Z]{3}/" lang="en">([^<]+)<', states)
    assert names == sorted(names)


def test_a_party_page_shows_every_act(client: Client, demo_register: Any) -> None:
    portugal = text_of(page(client.get("/parties/PRT/")))
    assert "withdrawn on" in portugal and "note verbale DEMO/NV/201" in portugal
    bolivia = text_of(page(client.get("/parties/BOL/")))
    assert "voided: a dispute was upheld" in bolivia
    assert "Bolivia disputed the signature of Bolivia" in bolivia
    france = text_of(page(client.get("/parties/FRA/")))
    assert "self-signed" in france and "Letters led by this party" in france


# -- compare ------------------------------------------------------------------------------


def test_compare_two_letters(client: Client, demo_register: Any) -> None:
    html = page(client.get("/compare/?letters=demo-heritage&letters=demo-development"))
    words = text_of(html)
    assert "0 parties signed all the letters compared." in words
    assert "16 parties signed only" in words
    assert "9 parties signed only" in words
    assert "<svg" in html and "Signatories of the letters compared" in html
    row = re.search(r'href="/parties/PRT/"[^>]*>Portugal</a></th>(.*?)</tr>', html, re.S)
    assert row is not None
    assert re.findall(r">([a-z ()]+)</td>", row.group(1)) == ["withdrawn", "not signed"]
    italy = re.search(r'href="/parties/ITA/"[^>]*>Italy</a></th>(.*?)</tr>', html, re.S)
    assert italy is not None and "acceded" in italy.group(1)
    assert 'value="demo-heritage" id="letter-' in html and "checked" in html


def test_a_session_links_to_the_comparison_of_its_letters(
    client: Client, demo_register: Any
) -> None:
    html = page(client.get("/sessions/demo-council-7/"))
    assert 'href="/compare/?letters=demo-heritage&amp;letters=demo-development"' in html


def test_compare_needs_two_letters(client: Client, demo_register: Any) -> None:
    one = client.get("/compare/?letters=demo-heritage")
    assert one.status_code == 400
    assert "Choose at least two letters to compare." in page(one)
    unknown = client.get("/compare/?letters=demo-heritage&letters=nope")
    assert unknown.status_code == 400
    assert "nope" in page(unknown)


# -- Arabic ------------------------------------------------------------------------------


def test_arabic_is_right_to_left_with_arabic_names(client: Client, demo_register: Any) -> None:
    client.cookies["django_language"] = "ar"
    html = page(client.get("/letters/demo-heritage/"))
    assert '<html lang="ar" dir="rtl">' in html
    assert "فرنسا" in html  # France
    assert 'lang="en" dir="ltr">[Demo] Joint letter' in html  # an English title keeps its language
    compare = page(client.get("/compare/?letters=demo-heritage&letters=demo-development"))
    assert 'direction="rtl"' in compare
    parties = page(client.get("/parties/?kind=state"))
    assert "البرازيل" in parties  # Brazil


def test_arabic_from_the_browser_preference(client: Client, demo_register: Any) -> None:
    html = page(client.get("/bodies/", HTTP_ACCEPT_LANGUAGE="ar"))
    assert 'dir="rtl"' in html
    assert "مجلس العرض التوضيحي" in html
