"""Atom feeds per session, letter and party."""

from __future__ import annotations

from typing import Any
from xml.etree import ElementTree

import pytest
from django.test import Client

from cosignatory.web.register.demo import load_demo

ATOM = "{http://www.w3.org/2005/Atom}"


@pytest.fixture
def demo(log: Any) -> None:
    load_demo()


def feed(client: Client, path: str, **headers: str) -> ElementTree.Element:
    response = client.get(path, **headers)
    assert response.status_code == 200, path
    assert response["Content-Type"].startswith("application/atom+xml")
    return ElementTree.fromstring(response.content)


def titles(root: ElementTree.Element) -> list[str]:
    return [e.findtext(f"{ATOM}title") or "" for e in root.iter(f"{ATOM}entry")]


def links(root: ElementTree.Element) -> list[str]:
    return [
        link.get("href") or ""
        for entry in root.iter(f"{ATOM}entry")
        for link in entry.iter(f"{ATOM}link")
    ]


def test_a_letters_feed_has_its_events(client: Client, demo: None) -> None:
    root = feed(client, "/letters/demo-heritage/feed.atom")
    assert root.findtext(f"{ATOM}title") == (
        "[Demo] Joint letter on the protection of cultural heritage: events"
    )
    found = titles(root)
    assert "Signed: France" in found
    assert "Acceded: Italy" in found
    assert "Signature withdrawn: Portugal" in found
    assert "Registered as an official document: DEMO/C/7/G/1" in found
    assert "Document issued: DEMO/C/7/G/1/Add.1" in found
    assert found[0] == "Closed for signature"  # newest first
    assert all(
        link.startswith("http://testserver/letters/demo-heritage/history#event-")
        for link in links(root)
    )
    entries = list(root.iter(f"{ATOM}entry"))
    assert len({e.findtext(f"{ATOM}id") for e in entries}) == len(entries)
    disputes = titles(feed(client, "/letters/demo-development/feed.atom"))
    assert any(t.startswith("Signature disputed: Bolivia") for t in disputes)
    assert "Dispute resolved" in disputes


def test_a_sessions_feed_has_its_letters_and_documents(client: Client, demo: None) -> None:
    root = feed(client, "/sessions/demo-council-7/feed.atom")
    found = titles(root)
    assert "Letter: [Demo] Joint letter on the protection of cultural heritage" in found
    assert (
        "Document DEMO/C/7/G/1/Add.1: [Demo] Joint letter on the protection of cultural heritage"
        in found
    )
    assert any(t.startswith("Document DEMO/C/7/G/2/Corr.1") for t in found)
    assert not any("Draft letter" in t for t in found)
    assert "http://testserver/documents/DEMO/C/7/G/1/Add.1" in links(root)


def test_a_partys_feed_has_the_events_naming_it(client: Client, demo: None) -> None:
    found = titles(feed(client, "/parties/PRT/feed.atom"))
    heritage = "[Demo] Joint letter on the protection of cultural heritage"
    assert found == [
        f"Signature withdrawn: Portugal — {heritage}",
        f"Signed: Portugal — {heritage}",
    ]
    assert titles(feed(client, "/parties/NOR/feed.atom")) == [
        "Signed: Norway — [Demo] Joint letter on the protection of cultural heritage"
    ]  # Norway's draft letter is not in it
    bolivia = titles(feed(client, "/parties/BOL/feed.atom"))
    assert [t.split(":")[0] for t in bolivia] == ["Signature disputed", "Signed"]


def test_titles_follow_the_readers_language(client: Client, demo: None) -> None:
    root = feed(client, "/letters/demo-heritage/feed.atom", HTTP_ACCEPT_LANGUAGE="fr")
    assert root.findtext(f"{ATOM}title", "").startswith("[Démo] Lettre conjointe")
    assert "Italie" in " ".join(titles(root))
    assert root.get("{http://www.w3.org/XML/1998/namespace}lang") == "fr"
    root = feed(client, "/parties/ITA/feed.atom", HTTP_ACCEPT_LANGUAGE="ar")
    assert "إيطاليا" in root.findtext(f"{ATOM}title", "")


@pytest.mark.parametrize(
    "path",
    [
        "/letters/no-such/feed.atom",
        "/letters/demo-draft/feed.atom",
        "/sessions/no-such/feed.atom",
        "/parties/no-such/feed.atom",
    ],
)
def test_unknown_ids_are_not_found(client: Client, demo: None, path: str) -> None:
    assert client.get(path).status_code == 404
