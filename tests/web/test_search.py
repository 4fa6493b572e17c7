"""Search: letters, documents and parties in every language, on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import pytest
from django.test import Client

from cosignatory.web.public import search as search_view
from cosignatory.web.public.models import SearchEntry
from cosignatory.web.public.searchindex import reindex, terms, tokens
from cosignatory.web.public.searchquery import QueryError, Unit, parse, snippet
from cosignatory.web.register import services as s
from cosignatory.web.register.demo import load_demo
from cosignatory.web.register.rebuild import rebuild


@pytest.fixture
def demo(log: Any) -> None:
    load_demo()


def found(client: Client, q: str, **params: str) -> tuple[int, str, dict[str, list[str]]]:
    """The page's status, its HTML, and the keys found in each group."""
    response = client.get("/search/", {"q": q, **params})
    html = response.content.decode()
    groups = {}
    for kind in ("letter", "document", "party"):
        context = response.context
        rows = dict(context["groups"] or {}).get(kind) if context else None
        groups[kind] = [r.key for r in rows.items] if rows else []
    return response.status_code, html, groups


# -- the query --------------------------------------------------------------------------


def test_a_query_is_words_phrases_alternatives_and_exclusions() -> None:
    query = parse('heritage "cultural heritage" Italy OR Italie -draft')
    assert query.clauses == (
        (Unit(("heritage",), True),),
        (Unit(("cultural", "heritage"), False),),
        (Unit(("italy",), True), Unit(("italie",), True)),
    )
    assert query.excluded == (Unit(("draft",), True),)


def test_symbols_and_punctuation_become_phrases_of_their_parts() -> None:
    assert parse("DEMO/C/7/G/1").clauses == ((Unit(("demo", "c", "7", "g", "1"), True),),)
    # Nothing the databases read as syntax survives: only letters and digits.
    assert parse("a* NEAR(b) 'c'' \"d").clauses[1] == (Unit(("near", "b"), True),)


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("x" * 201, "too_long"),
        ("!!! ???", "no_words"),
        ("-heritage", "only_excluded"),
        (" ".join(["w"] * 13), "too_many"),
    ],
)
def test_queries_that_cannot_be_searched(text: str, code: str) -> None:
    with pytest.raises(QueryError) as raised:
        parse(text)
    assert raised.value.code == code


def test_text_is_folded_and_chinese_is_indexed_in_pairs() -> None:
    assert terms("Soussignés, ÉTATS") == "soussignes etats"
    assert terms("مُتَّحِدَة") == "متحدة"  # Arabic vowel signs dropped
    assert tokens("演示理事会") == ["演示", "示理", "理事", "事会", "会"]
    assert tokens("理事", trailing=False) == ["理事"]


def test_a_snippet_is_escaped_and_marks_every_match() -> None:
    html = snippet("<b>Heritage</b> & the héritage of all", parse("heritage"))
    assert html == "&lt;b&gt;<mark>Heritage</mark>&lt;/b&gt; &amp; the <mark>héritage</mark> of all"
    long = "word " * 60 + "target " + "word " * 60
    cut = snippet(long, parse("targ"))
    assert cut.startswith("… ") and cut.endswith(" …") and "<mark>target</mark>" in cut
    assert len(cut) < 260
    # A phrase, a symbol, a run of Chinese: marked as one stretch.
    symbol = snippet("See DEMO/C/7/G/1/Add.1 and DEMO/C/8.", parse("DEMO/C/7/G/1"))
    assert symbol == "See <mark>DEMO/C/7/G/1</mark>/Add.1 and DEMO/C/8."
    assert snippet("我们支持开放数据。", parse("开放数据")) == "我们支持<mark>开放数据</mark>。"
    assert snippet("the cultural, heritage", parse('"cultural heritage"')) == (
        "the <mark>cultural, heritage</mark>"
    )


# -- the page ---------------------------------------------------------------------------


def test_finds_letters_by_title_and_text_in_any_language(client: Client, demo: None) -> None:
    status, html, groups = found(client, "heritage")
    assert status == 200
    assert groups["letter"] == ["demo-heritage"]
    assert "<mark>heritage</mark>" in html
    # French, with or without its accents; Spanish; prefixes.
    assert found(client, "soussignes")[2]["letter"] == ["demo-heritage"]
    assert found(client, "Démo conjointe")[2]["letter"] == ["demo-heritage"]
    assert found(client, "patrim")[2]["letter"] == ["demo-heritage"]
    assert set(found(client, "cooperación")[2]["letter"]) == {"demo-development"}


def test_a_match_in_the_readers_language_is_shown(client: Client, demo: None) -> None:
    client.cookies["django_language"] = "fr"
    html = client.get("/search/", {"q": "demo conjoint"}, HTTP_ACCEPT_LANGUAGE="fr").content
    assert "<mark>Lettre</mark>" not in html.decode()  # the title was not searched for
    assert "<mark>conjointe</mark>" in html.decode()


def test_earlier_text_versions_are_searched_and_said_to_be_earlier(
    client: Client, demo: None
) -> None:
    _, html, groups = found(client, '"support development for all"')
    assert groups["letter"] == ["demo-development"]
    assert "earlier text, version 1" in html
    _, html, groups = found(client, '"support sustainable development"')
    assert groups["letter"] == ["demo-development"]
    assert "earlier text" not in html


def test_finds_documents_by_symbol(client: Client, demo: None) -> None:
    _, html, groups = found(client, "DEMO/C/7/G/1")
    assert groups["document"] == ["DEMO/C/7/G/1", "DEMO/C/7/G/1/Add.1"] or set(
        groups["document"]
    ) == {"DEMO/C/7/G/1", "DEMO/C/7/G/1/Add.1"}
    assert "demo-heritage" in groups["letter"]
    assert 'href="/documents/DEMO/C/7/G/1/Add.1"' in html
    _, _, groups = found(client, '"DEMO/C/7/G/2/Corr.1"')
    assert groups["document"] == ["DEMO/C/7/G/2/Corr.1"]
    assert found(client, "correction")[2]["document"] == ["DEMO/C/7/G/2/Corr.1"]


def test_finds_parties_by_name_in_every_language(client: Client, demo: None) -> None:
    for name in ("Italy", "Italie", "Италия", "إيطاليا", "意大利", "italia"):
        assert found(client, name)[2]["party"] == ["ITA"], name
    assert found(client, "Suiza")[2]["party"] == ["CHE"]


def test_chinese_is_found_inside_a_run_of_characters(client: Client, demo: None) -> None:
    s.create_letter(
        "zh-letter", {"zh": "关于开放数据的公开信"}, ["秘书长"], "CHE", date(2019, 9, 2)
    )
    s.add_text_version("zh-letter", {"zh": "我们支持为研究开放数据。"})
    s.open_letter("zh-letter")
    for q in ("开放数据", "开放", "数", "研究开放", "公开信", "信", "瑞士"):
        groups = found(client, q)[2]
        assert "zh-letter" in groups["letter"] or groups["party"] == ["CHE"], q
    # One character: at the start (瑞士 Switzerland, 瑞典 Sweden) or the end of a name.
    assert set(found(client, "瑞")[2]["party"]) == {"CHE", "SWE"}
    assert found(client, "士")[2]["party"] == ["CHE"]
    assert found(client, "放开")[2]["letter"] == []  # the characters, but not in this order
    assert "<mark>开放</mark>" in found(client, "开放")[1]


def test_drafts_are_never_found(client: Client, demo: None) -> None:
    assert found(client, "Draft letter")[2]["letter"] == []
    assert (
        found(client, "demo")[2]["letter"] == []
        or "demo-draft" not in found(client, "demo")[2]["letter"]
    )


def test_or_and_exclusion(client: Client, demo: None) -> None:
    both = set(found(client, "heritage OR cooperation")[2]["letter"])
    assert both == {"demo-heritage", "demo-development"}
    letters = set(found(client, "demo joint -heritage")[2]["letter"])
    assert letters == {"demo-development"}


def test_names_are_escaped(client: Client, demo: None) -> None:
    s.register_party("org-x", "organisation", {"en": "<script>alert(1)</script> Network"})
    _, html, groups = found(client, "alert")
    assert groups["party"] == ["org-x"]
    assert "<script>alert" not in html
    assert "&lt;script&gt;<mark>alert</mark>" in html


def test_bad_queries_get_a_message_and_the_form(client: Client, demo: None) -> None:
    response = client.get("/search/")
    assert response.status_code == 200
    assert "Type a word" in response.content.decode()
    for q, words in (
        ("x" * 300, "too long"),
        ("-heritage", "add at least one word"),
        ("!!!", "no letters or digits"),
    ):
        response = client.get("/search/", {"q": q})
        assert response.status_code == 400
        assert words in response.content.decode()
    html = found(client, "zzzyyyxxx")[1]
    assert "Nothing in the register matches" in html


def test_results_are_paginated(client: Client, demo: None, monkeypatch: Any) -> None:
    monkeypatch.setattr(search_view, "RESULTS_PER_PAGE", 5)
    _, html, groups = found(client, "a OR e OR i OR o OR u")  # many a party
    first = groups["party"]
    assert len(first) == 5
    link = re.search(r'href="(\?[^"]*party_page=2[^"]*)"', html)
    assert link is not None
    second = client.get("/search/" + link.group(1).replace("&amp;", "&"))
    assert second.status_code == 200
    keys = [r.key for r in dict(second.context["groups"])["party"].items]
    assert keys and not set(keys) & set(first)


# -- the index as a projection of the log -----------------------------------------------


def _index() -> list[tuple[Any, ...]]:
    return sorted(
        SearchEntry.objects.values_list(
            "kind", "key", "field", "language", "version", "letter_id", "content", "terms"
        )
    )


def test_rebuild_replays_and_checks_the_index(client: Client, demo: None) -> None:
    report = rebuild()
    assert report.identical, report.details()
    live, rebuilt = report.tables["public_searchentry"]
    assert live == rebuilt > 50
    SearchEntry.objects.filter(kind="party", key="ITA", language="fr").delete()
    SearchEntry.objects.filter(kind="letter", field="title").update(content="tampered")
    report = rebuild()
    assert not report.identical
    assert {d.table for d in report.differences} == {"public_searchentry"}
    assert any(d.pk == "party/ITA/name/fr/0" for d in report.differences)


def test_reindex_from_the_tables_gives_the_index_the_log_gives(client: Client, demo: None) -> None:
    from_events = _index()
    SearchEntry.objects.all().delete()
    assert found(client, "Italie")[2]["party"] == []
    assert reindex() == len(from_events)
    assert _index() == from_events
    assert found(client, "Italie")[2]["party"] == ["ITA"]
