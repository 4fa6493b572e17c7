"""The verify page: what is proven, the checkpoint, the keys, and commands that work."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.test import Client

from cosignatory.cli.main import main
from cosignatory.web.log.services import get_log
from cosignatory.web.register.demo import load_demo


@pytest.fixture
def demo(log: Any) -> None:
    load_demo()


def test_the_page_shows_the_checkpoint_keys_and_bundle(client: Client, demo: None) -> None:
    response = client.get("/letters/demo-heritage/verify")
    assert response.status_code == 200
    html = response.content.decode()
    assert "What a check proves" in html
    assert "inclusion proof" in html
    log = get_log()
    head = log.storage.head()
    assert head is not None
    checkpoint = response.context["checkpoint"]
    assert checkpoint["size"] == log.size()
    assert checkpoint["origin"] == "test.cosignatory.example/log"
    assert checkpoint["text"].startswith("test.cosignatory.example/log\n")
    for vkey in (v.to_vkey() for v in log.verifiers):
        assert vkey in html
    assert 'href="/api/v1/letters/demo-heritage/bundle"' in html
    assert 'href="/log/vkey"' in html and 'href="/log/vkeys"' in html
    assert "cosignatory verify demo-heritage.cosignatory-bundle.jsonl --log-key log.vkey" in html
    assert "self-signed" in html and "attested by the registrar" in html


def test_the_commands_shown_verify_the_letter(
    client: Client, demo: None, tmp_path: Path, monkeypatch: Any, capsys: Any
) -> None:
    """Run the page's commands: each curl through the test client, then the verifier."""
    commands = client.get("/letters/demo-heritage/verify").context["commands"]
    monkeypatch.chdir(tmp_path)
    *fetches, verify = commands
    for line in fetches:
        curl, flags, url, output, target = shlex.split(line)
        assert (curl, flags, output) == ("curl", "-sf", "-o")
        assert url.startswith("http://testserver/")
        response = client.get(urlsplit(url).path)
        assert response.status_code == 200, url
        body = b"".join(response.streaming_content) if response.streaming else response.content
        Path(target).write_bytes(body)
    argv = shlex.split(verify)
    assert argv[:2] == ["cosignatory", "verify"]
    capsys.readouterr()
    assert main(argv[1:]) == 0
    printed = capsys.readouterr().out
    assert "France" in printed or "FRA" in printed


def test_the_checkpoint_commands_verify_it(
    client: Client, demo: None, tmp_path: Path, monkeypatch: Any
) -> None:
    commands = client.get("/letters/demo-heritage/verify").context["checkpoint_commands"]
    monkeypatch.chdir(tmp_path)
    for line in commands[:-1]:
        _curl, _flags, url, _o, target = shlex.split(line)
        Path(target).write_bytes(client.get(urlsplit(url).path).content)
    assert main(shlex.split(commands[-1])[1:]) == 0


@pytest.mark.parametrize("letter", ["no-such-letter", "demo-draft"])
def test_unknown_and_draft_letters_are_not_found(client: Client, demo: None, letter: str) -> None:
    assert client.get(f"/letters/{letter}/verify").status_code == 404
