"""The log over a store: appends, tiles, checkpoints and proofs agree with each other
and with an independent implementation (the Tessera test log, byte for byte)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cosignatory.tlog.checkpoint import Checkpoint, open_checkpoint
from cosignatory.tlog.errors import (
    EntryTooLargeError,
    ProofRangeError,
    TileNotFoundError,
    UnverifiedNoteError,
)
from cosignatory.tlog.hashing import EMPTY_ROOT, leaf_hash, root_of
from cosignatory.tlog.log import Log
from cosignatory.tlog.note import Signer, generate_ed25519, generate_mldsa44
from cosignatory.tlog.proofs import inclusion_proof, verify_consistency, verify_inclusion
from cosignatory.tlog.storage import MemoryStorage
from cosignatory.tlog.tiled import EdgeHashes, FullTileCache, TiledTree
from cosignatory.tlog.tiles import EntryTile, HashTile, decode_entry_bundle, split_hash_tile
from tests.conftest import VECTORS

ORIGIN = "log.test/cosignatory"
ED25519 = generate_ed25519(ORIGIN)
MLDSA44 = generate_mldsa44(ORIGIN)

# Tessera's test log (transparency-dev/tessera testdata/log, Apache-2.0): its published
# test key and the fifteen entries it was built from. See tests/vectors/README.md.
TESSERA = VECTORS / "tessera-testdata-log" / "log"
TESSERA_SKEY = (
    "PRIVATE+KEY+example.com/log/testdata+33d7b496+AeymY/SZAX0jZcJ8enZ5FY1Dz+wTML2yWSkK+9DSF3eg"
)
TESSERA_WORDS = [
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eit",
    "nain",
    "ten",
    "ileven",
    "twelf",
    "threeten",
    "fourten",
    "fivten",
]


def new_log(*signers: Signer) -> Log:
    log = Log(MemoryStorage(), ORIGIN, signers or (ED25519, MLDSA44))
    log.initialise()
    return log


def entries(n: int, start: int = 0) -> list[bytes]:
    return [f"entry {i}".encode() for i in range(start, start + n)]


def test_empty_log_checkpoint_is_signed_by_both_keys_and_opens_with_either() -> None:
    log = new_log()
    text = log.head().checkpoint
    for verifier in log.verifiers:
        cp = open_checkpoint(text, [verifier], origin=ORIGIN)
        assert cp == Checkpoint(ORIGIN, 0, EMPTY_ROOT)


def test_initialise_is_idempotent() -> None:
    log = new_log()
    first = log.head()
    assert log.initialise() == first
    log.append(b"x")
    assert log.initialise().size == 1


def test_log_needs_an_ed25519_key_named_after_the_origin() -> None:
    with pytest.raises(ValueError, match="Ed25519"):
        Log(MemoryStorage(), ORIGIN, [MLDSA44])
    with pytest.raises(ValueError, match="origin"):
        Log(MemoryStorage(), ORIGIN, [generate_ed25519("other.example/log")])


def test_ed25519_key_is_listed_first_whatever_the_order_given() -> None:
    log = Log(MemoryStorage(), ORIGIN, [MLDSA44, ED25519])
    assert log.verifiers[0] == ED25519.verifier()


def test_tessera_log_is_reproduced_byte_for_byte() -> None:
    """Appending Tessera's entries one by one with its key gives its checkpoints and tiles."""
    log = Log(MemoryStorage(), "example.com/log/testdata", [Signer.from_skey(TESSERA_SKEY)])
    head = log.initialise()
    assert head.checkpoint == (TESSERA / "checkpoint.0").read_text()
    for size, word in enumerate(TESSERA_WORDS, start=1):
        result = log.append(word.encode())
        assert result.checkpoint == (TESSERA / f"checkpoint.{size}").read_text()
        tile = HashTile(0, 0, size)
        assert log.hash_tile(tile) == (TESSERA / tile.path).read_bytes()
        bundle = EntryTile(0, size)
        assert log.entry_bundle(bundle) == (TESSERA / bundle.path).read_bytes()


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=300), min_size=1, max_size=8))
def test_batches_of_any_shape_give_the_same_tree(batch_sizes: list[int]) -> None:
    log = new_log(ED25519)
    total = 0
    for n in batch_sizes:
        result = log.append_batch(entries(n, total))
        assert result.first_index == total
        total += n
        assert result.size == total
    expected = root_of([leaf_hash(e) for e in entries(total)])
    assert log.root() == expected
    assert log.checkpoint().root == expected
    # Every full tile's hashes are the leaf hashes (level 0) or subtree roots (level 1).
    for index in range(total // 256):
        level0 = split_hash_tile(log.hash_tile(HashTile(0, index, 256)))
        assert level0 == [leaf_hash(e) for e in entries(256, index * 256)]


def test_level_one_tile_holds_the_roots_of_full_level_zero_tiles() -> None:
    log = new_log(ED25519)
    log.append_batch(entries(256 * 3 + 10))
    level1 = split_hash_tile(log.hash_tile(HashTile(1, 0, 3)))
    for index, node in enumerate(level1):
        assert node == root_of([leaf_hash(e) for e in entries(256, index * 256)])
    with pytest.raises(TileNotFoundError):
        log.hash_tile(HashTile(1, 0, 4))


_BIG = 256 * 256 + 700
_big_log = new_log(ED25519)
_big_log.append_batch(entries(_BIG))


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_every_inclusion_proof_verifies(data: st.DataObject) -> None:
    size = data.draw(st.integers(min_value=1, max_value=_BIG))
    index = data.draw(st.integers(min_value=0, max_value=size - 1))
    proof = _big_log.prove_inclusion(index, size)
    root = _big_log.root(size)
    verify_inclusion(leaf_hash(f"entry {index}".encode()), index, size, proof, root)


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_every_consistency_proof_verifies(data: st.DataObject) -> None:
    new = data.draw(st.integers(min_value=1, max_value=_BIG))
    old = data.draw(st.integers(min_value=1, max_value=new))
    proof = _big_log.prove_consistency(old, new)
    verify_consistency(old, new, _big_log.root(old), _big_log.root(new), proof)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.integers(min_value=1, max_value=700), min_size=1, max_size=5),
    st.lists(st.integers(min_value=0), min_size=1, max_size=12),
)
def test_proofs_at_the_head_stay_right_as_the_log_grows(
    batches: list[int], picks: list[int]
) -> None:
    # One Log keeps the right edge's hashes of its latest head between proofs: each
    # new head must start afresh.
    log = new_log(ED25519)
    size = 0
    for count in batches:
        log.append_batch(entries(count, size))
        size += count
        root = root_of([leaf_hash(e) for e in entries(size)])
        assert log.root() == root
        for pick in picks:
            index = pick % size
            proof = log.prove_inclusion(index)
            verify_inclusion(leaf_hash(f"entry {index}".encode()), index, size, proof, root)
            assert proof == new_log_over(log).prove_inclusion(index)
        for old in {1 + pick % size for pick in picks}:
            proof = log.prove_consistency(old)
            verify_consistency(old, size, log.root(old), root, proof)


def new_log_over(log: Log) -> Log:
    """A second Log over the same store: it shares nothing computed with ``log``."""
    return Log(log.storage, ORIGIN, [ED25519])


def test_a_head_replaced_at_the_same_size_is_proven_afresh() -> None:
    # As when a transaction that appended is rolled back and another append reaches
    # the same size with other entries: the hashes kept for the first head must not
    # serve the second.
    log = new_log(ED25519)
    log.append_batch(entries(300))
    for index in range(0, 300, 7):
        log.prove_inclusion(index)
    other = new_log(ED25519)
    other.append_batch(entries(300, start=1000))
    log.storage = other.storage
    root = root_of([leaf_hash(e) for e in entries(300, start=1000)])
    assert log.root() == root
    for index in range(0, 300, 7):
        proof = log.prove_inclusion(index)
        verify_inclusion(leaf_hash(f"entry {1000 + index}".encode()), index, 300, proof, root)


def test_the_root_is_read_from_the_tiles_whatever_was_proven_before() -> None:
    # A check of the stored tiles against the checkpoint (cosignatory rebuild) must see
    # a tile changed behind the log's back, even after proofs kept the right edge.
    log = new_log(ED25519)
    log.append_batch(entries(300))
    for index in range(0, 300, 7):
        log.prove_inclusion(index)
    root = log.root()
    tiles = log.storage._tiles  # type: ignore[attr-defined]
    changed = bytearray(tiles[(0, 1)])
    changed[0] ^= 0xFF
    tiles[(0, 1)] = bytes(changed)
    assert log.root() != root
    assert log.tree().root() != root


@settings(max_examples=30, deadline=None)
@given(st.data())
def test_trees_that_share_one_right_edge_prove_as_trees_alone(data: st.DataObject) -> None:
    # As a bundle's export does: one tree per batch of proofs, one right edge for all.
    size = data.draw(st.integers(min_value=1, max_value=_BIG))
    indexes = data.draw(st.lists(st.integers(min_value=0, max_value=size - 1), max_size=30))
    read = _big_log.storage.read_tiles
    edge: EdgeHashes = {}
    root = _big_log.root(size)
    for start in range(0, len(indexes), 4):
        shared = TiledTree(size, read, FullTileCache(4), edge)
        for index in indexes[start : start + 4]:
            proof = inclusion_proof(index, size, shared.range_hash)
            assert proof == inclusion_proof(index, size, TiledTree(size, read).range_hash)
            verify_inclusion(leaf_hash(f"entry {index}".encode()), index, size, proof, root)
    alone = TiledTree(size, read)
    assert all(found == alone.range_hash(start, end) for (start, end), found in edge.items())
    assert len(edge) <= size.bit_length() + 255 * 3  # ranges ending at size; partial tiles' nodes


def test_proofs_out_of_range_are_refused() -> None:
    log = new_log(ED25519)
    log.append_batch(entries(10))
    with pytest.raises(ProofRangeError):
        log.prove_inclusion(10)
    with pytest.raises(ProofRangeError):
        log.prove_inclusion(0, 11)
    with pytest.raises(ProofRangeError):
        log.prove_consistency(0, 5)
    with pytest.raises(ProofRangeError):
        log.prove_consistency(6, 5)
    with pytest.raises(ProofRangeError):
        log.root(11)


def test_tiles_beyond_the_tree_and_unfinished_full_tiles_are_not_found() -> None:
    log = new_log(ED25519)
    log.append_batch(entries(300))
    assert len(log.hash_tile(HashTile(0, 0, 256))) == 256 * 32
    assert len(log.hash_tile(HashTile(0, 1, 44))) == 44 * 32
    assert log.hash_tile(HashTile(0, 1, 10)) == log.hash_tile(HashTile(0, 1, 44))[: 10 * 32]
    for tile in (HashTile(0, 1, 256), HashTile(0, 1, 45), HashTile(0, 2, 1), HashTile(1, 0, 2)):
        with pytest.raises(TileNotFoundError):
            log.hash_tile(tile)
    assert decode_entry_bundle(log.entry_bundle(EntryTile(1, 44))) == entries(44, 256)
    for bundle in (EntryTile(1, 256), EntryTile(1, 45), EntryTile(2, 1)):
        with pytest.raises(TileNotFoundError):
            log.entry_bundle(bundle)


def test_a_refused_append_changes_nothing() -> None:
    log = new_log(ED25519)
    log.append_batch(entries(5))
    before = (log.head(), log.storage.read_tiles([(0, 0)]))
    with pytest.raises(EntryTooLargeError):
        log.append_batch([b"fine", b"x" * 65536])
    assert (log.head(), log.storage.read_tiles([(0, 0)])) == before
    assert log.storage.read_entries(0, 100) == entries(5)


def test_a_failure_inside_the_writer_leaves_the_store_unchanged() -> None:
    storage = MemoryStorage()
    log = Log(storage, ORIGIN, [ED25519])
    log.initialise()
    head = storage.head()
    with pytest.raises(RuntimeError), storage.writer() as writer:
        writer.write(first_index=0, entries=[b"x"], tiles={}, head=head)  # type: ignore[arg-type]
        raise RuntimeError("boom")
    assert storage.head() == head
    assert storage.read_entries(0, 10) == []


def test_entries_of_exactly_65535_bytes_fit() -> None:
    log = new_log(ED25519)
    log.append(b"y" * 65535)
    assert decode_entry_bundle(log.entry_bundle(EntryTile(0, 1))) == [b"y" * 65535]


def test_checkpoint_from_another_log_is_not_accepted() -> None:
    log = new_log(ED25519)
    other = new_log(generate_ed25519(ORIGIN))
    with pytest.raises(UnverifiedNoteError):
        open_checkpoint(other.head().checkpoint, log.verifiers, origin=ORIGIN)
