"""The log over HTTP, read the way a C2SP tlog-tiles client reads it."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from cosignatory.tlog.checkpoint import open_checkpoint
from cosignatory.tlog.hashing import leaf_hash
from cosignatory.tlog.note import Verifier
from cosignatory.tlog.proofs import verify_consistency
from cosignatory.tlog.tiled import TiledTree
from cosignatory.tlog.tiles import (
    decode_entry_bundle,
    entry_tiles_for_size,
    split_hash_tile,
    tiles_for_size,
)

SIZE = 256 * 256 + 256 * 2 + 7  # full tiles on two levels, partial tiles on three


@pytest.fixture
def big_log(log: Any) -> Any:
    log.append_batch([f"event {i}".encode() for i in range(SIZE)])
    return log


def fetch(client: Client, path: str) -> bytes:
    response = client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    return response.content


def test_a_tiles_client_rederives_the_checkpoint_root(client: Client, big_log: Any) -> None:
    vkey = fetch(client, "/log/vkey").decode().strip()
    verifier = Verifier.from_vkey(vkey)
    cp = open_checkpoint(fetch(client, "/log/checkpoint").decode(), [verifier])
    assert cp.size == SIZE

    tiles: dict[tuple[int, int], bytes] = {}
    for tile in tiles_for_size(cp.size):
        tiles[(tile.level, tile.index)] = fetch(client, "/log/" + tile.path)
    leaves = []
    for bundle in entry_tiles_for_size(cp.size):
        leaves.extend(decode_entry_bundle(fetch(client, "/log/" + bundle.path)))
    assert leaves == [f"event {i}".encode() for i in range(SIZE)]

    # The level-0 tiles are the entries' leaf hashes ...
    level0 = b"".join(tiles[key] for key in sorted(k for k in tiles if k[0] == 0))
    assert split_hash_tile_all(level0) == [leaf_hash(e) for e in leaves]
    # ... and the tiles alone give the signed root.
    tree = TiledTree(cp.size, lambda keys: {k: tiles[k] for k in keys if k in tiles})
    assert tree.root() == cp.root


def split_hash_tile_all(data: bytes) -> list[bytes]:
    out: list[bytes] = []
    for start in range(0, len(data), 256 * 32):
        out.extend(split_hash_tile(data[start : start + 256 * 32]))
    return out


def test_every_vkey_verifies_the_checkpoint_alone(client: Client, big_log: Any) -> None:
    lines = fetch(client, "/log/vkeys").decode().splitlines()
    assert [Verifier.from_vkey(line).type_name for line in lines] == ["ed25519", "ml-dsa-44"]
    text = fetch(client, "/log/checkpoint").decode()
    for line in lines:
        assert open_checkpoint(text, [Verifier.from_vkey(line)]).size == SIZE


def test_full_tiles_are_immutable_and_partial_ones_are_not(client: Client, big_log: Any) -> None:
    full = client.get("/log/tile/0/000")
    assert full["Cache-Control"] == "public, max-age=31536000, immutable"
    assert full["Content-Type"] == "application/octet-stream"
    assert len(full.content) == 256 * 32
    partial = client.get("/log/tile/0/258.p/7")
    assert partial.status_code == 200
    assert "immutable" not in partial["Cache-Control"]
    assert len(partial.content) == 7 * 32
    assert client.get("/log/checkpoint")["Cache-Control"] == "no-cache"


@pytest.mark.parametrize(
    "path",
    [
        "/log/tile/0/258",  # only partial so far
        "/log/tile/0/258.p/8",  # wider than the tree
        "/log/tile/0/259.p/1",  # beyond the tree
        "/log/tile/3/000.p/1",  # a level the tree does not reach
        "/log/tile/entries/258",
        "/log/tile/entries/259.p/1",
        "/log/tile/0/1",  # malformed index
        "/log/tile/0/000.p/256",
        "/log/tile/0/000.p/0",
        "/log/tile/x/000",
        "/log/tile/0/000/",
        "/log/tile/",
    ],
)
def test_tiles_not_in_the_tree_answer_404(client: Client, big_log: Any, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404


def test_only_safe_methods_are_allowed(client: Client, log: Any) -> None:
    assert client.post("/log/checkpoint").status_code == 405
    assert client.head("/log/checkpoint").status_code == 200


def test_checkpoint_of_a_log_not_yet_initialised_is_503(
    client: Client, log_settings: Any, db: None
) -> None:
    response = client.get("/log/checkpoint")
    assert response.status_code == 503


def test_checkpoints_served_over_time_are_consistent(client: Client, log: Any) -> None:
    verifier = Verifier.from_vkey(fetch(client, "/log/vkey").decode().strip())
    seen = []
    for n in (1, 5, 250, 300):
        log.append_batch([f"{n}-{i}".encode() for i in range(n)])
        seen.append(open_checkpoint(fetch(client, "/log/checkpoint").decode(), [verifier]))
    for older in seen:
        newest = seen[-1]
        proof = log.prove_consistency(older.size, newest.size)
        verify_consistency(older.size, newest.size, older.root, newest.root, proof)


def test_front_page_shows_the_log(client: Client, log: Any) -> None:
    log.append_batch([b"a", b"b"])
    response = client.get("/")
    assert response.status_code == 200
    page = response.content.decode()
    assert log.verifiers[0].to_vkey() in page
    assert "<dd>2</dd>" in page
