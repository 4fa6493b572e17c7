"""C2SP tlog-tiles: index encoding, tile paths, entry bundles, hash tiles, tile counts.

Vectors: the spec's own examples (c2sp-examples) and the Tessera test log.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cosignatory.tlog.errors import EntryTooLargeError, MalformedTileError
from cosignatory.tlog.hashing import leaf_hash, root_of
from cosignatory.tlog.tiles import (
    MAX_ENTRY_SIZE,
    MAX_INDEX,
    TILE_HEIGHT,
    TILE_WIDTH,
    EntryTile,
    HashTile,
    decode_entry_bundle,
    decode_index,
    encode_entry_bundle,
    encode_index,
    entry_tiles_for_size,
    parse_tile_path,
    split_hash_tile,
    tiles_for_size,
)

VECTORS = Path(__file__).resolve().parents[1] / "vectors"
SPEC = json.loads((VECTORS / "c2sp-examples" / "spec_examples.json").read_text())
TESSERA_LOG = VECTORS / "tessera-testdata-log" / "log"
TESSERA_TEXT = "one two three four five six seven eit nain ten ileven twelf threeten fourten fivten"
TESSERA_WORDS = [word.encode() for word in TESSERA_TEXT.split()]

indices = st.integers(min_value=0, max_value=MAX_INDEX)
widths = st.integers(min_value=1, max_value=TILE_WIDTH)
hash_tiles = st.builds(HashTile, st.integers(min_value=0, max_value=63), indices, widths)
entry_tiles = st.builds(EntryTile, indices, widths)


# --- index encoding ------------------------------------------------------------------


def test_constants() -> None:
    assert (TILE_HEIGHT, TILE_WIDTH, MAX_ENTRY_SIZE) == (8, 256, 65535)


@pytest.mark.parametrize(
    ("n", "text"), [(int(k), v) for k, v in SPEC["tile_path_examples"].items()]
)
def test_spec_index_example(n: int, text: str) -> None:
    assert encode_index(n) == text
    assert decode_index(text) == n


@pytest.mark.parametrize(
    ("n", "text"),
    [
        (0, "000"),
        (7, "007"),
        (999, "999"),
        (1000, "x001/000"),
        (256_000, "x256/000"),
        (1_000_000, "x001/x000/000"),
        (MAX_INDEX, "x018/x446/x744/x073/x709/x551/615"),
    ],
)
def test_index_examples(n: int, text: str) -> None:
    assert encode_index(n) == text
    assert decode_index(text) == n


@given(indices)
def test_index_round_trip(n: int) -> None:
    assert decode_index(encode_index(n)) == n


@pytest.mark.parametrize(
    "text",
    [
        "",
        "0",
        "00",
        "0000",
        "1",
        "x000/001",  # a leading zero group
        "x000/x001/002",
        "x001",
        "001/002",
        "x01/002",
        "X001/002",
        "x001/002/",
        "/001",
        "x001//002",
        "x001/x02",
        "+01",
        " 001",
        "001\n",
        "١٢٣",  # Arabic-Indic digits are digits to str.isdigit(), not to the spec
        "x018/x446/x744/x073/x709/x551/616",  # 2**64
        "x001/" * 7 + "000",
    ],
)
def test_index_rejections(text: str) -> None:
    with pytest.raises(MalformedTileError):
        decode_index(text)


@pytest.mark.parametrize("n", [-1, MAX_INDEX + 1])
def test_index_out_of_range(n: int) -> None:
    with pytest.raises(MalformedTileError):
        encode_index(n)


# --- tile paths ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tile", "path"),
    [
        (HashTile(0, 1234067), "tile/0/x001/x234/067"),
        (HashTile(0, 0, 1), "tile/0/000.p/1"),
        (HashTile(1, 0, 17), "tile/1/000.p/17"),
        (HashTile(63, 5, 255), "tile/63/005.p/255"),
        (HashTile(2, 1000, 256), "tile/2/x001/000"),
        (EntryTile(5), "tile/entries/005"),
        (EntryTile(0, 255), "tile/entries/000.p/255"),
        (EntryTile(1234067, 9), "tile/entries/x001/x234/067.p/9"),
    ],
)
def test_tile_path_examples(tile: HashTile | EntryTile, path: str) -> None:
    assert tile.path == path
    assert parse_tile_path(path) == tile


@given(st.one_of(hash_tiles, entry_tiles))
def test_tile_path_round_trip(tile: HashTile | EntryTile) -> None:
    parsed = parse_tile_path(tile.path)
    assert parsed == tile
    assert type(parsed) is type(tile)
    assert parsed.path == tile.path
    assert tile.is_full == (tile.width == TILE_WIDTH) == (".p/" not in tile.path)


@pytest.mark.parametrize(
    "path",
    [
        "",
        "checkpoint",
        "tile",
        "tile/",
        "tile/0",
        "tile/0/",
        "tile/entries",
        "tile/entries/",
        "tiles/0/000",
        "/tile/0/000",
        "tile/0/000/",
        "tile//000",
        "tile/0/000.p/256",
        "tile/0/000.p/0",
        "tile/0/000.p/010",
        "tile/0/000.p/1000",
        "tile/0/000.p/",
        "tile/0/000.p",
        "tile/0/000.p/5/",
        "tile/0/000.p/5.p/5",
        "tile/0/000.P/5",
        "tile/0/000.p/+5",
        "tile/0/000.p/5 ",
        "tile/0/000\n",
        "tile/64/000",
        "tile/100/000",
        "tile/00/000",
        "tile/01/000",
        "tile/-1/000",
        "tile/x/000",
        "tile/0/0000",
        "tile/0/1",
        "tile/0/x000/001",
        "tile/0/x001",
        "tile/0/001/002",
        "tile/entries/000.p/256",
        "tile/entries/000.p/0",
        "tile/entries/x001",
        "tile/entries/x000/001",
        "tile/data/000",
        "tile/0/entries/000",
        "tile/0/x018/x446/x744/x073/x709/x551/616",
        "tile/0/" + "x001/" * 1000 + "000",
        "tile/" + "9" * 5000 + "/000",
        "tile/0/000.p/" + "9" * 5000,
    ],
)
def test_tile_path_rejections(path: str) -> None:
    with pytest.raises(MalformedTileError):
        parse_tile_path(path)


@pytest.mark.parametrize(
    ("cls", "args"),
    [
        (HashTile, (-1, 0)),
        (HashTile, (64, 0)),
        (HashTile, (0, -1)),
        (HashTile, (0, MAX_INDEX + 1)),
        (HashTile, (0, 0, 0)),
        (HashTile, (0, 0, 257)),
        (EntryTile, (-1,)),
        (EntryTile, (0, 0)),
        (EntryTile, (0, 257)),
    ],
)
def test_tile_constructor_rejections(
    cls: type[HashTile | EntryTile], args: tuple[int, ...]
) -> None:
    with pytest.raises(MalformedTileError):
        cls(*args)


def test_tiles_are_frozen_and_hashable() -> None:
    tile = HashTile(0, 1)
    with pytest.raises(AttributeError):
        tile.width = 3  # type: ignore[misc]
    assert {tile, HashTile(0, 1, 256)} == {tile}
    assert tile.is_full
    assert not EntryTile(0, 1).is_full


# --- entry bundles -------------------------------------------------------------------

entries = st.lists(st.binary(max_size=300), min_size=1, max_size=TILE_WIDTH)


@settings(max_examples=100, deadline=None)
@given(entries)
def test_entry_bundle_round_trip(items: list[bytes]) -> None:
    bundle = encode_entry_bundle(items)
    assert len(bundle) == sum(2 + len(e) for e in items)
    assert decode_entry_bundle(bundle) == items


@settings(max_examples=100, deadline=None)
@given(entries, st.integers(min_value=0))
def test_truncated_bundle_is_rejected_unless_cut_between_entries(
    items: list[bytes], cut: int
) -> None:
    bundle = encode_entry_bundle(items)
    cut %= len(bundle)
    boundaries = {0}
    offset = 0
    for item in items:
        offset += 2 + len(item)
        boundaries.add(offset)
    if cut in boundaries and cut:
        assert decode_entry_bundle(bundle[:cut]) == items[: sorted(boundaries).index(cut)]
    else:
        with pytest.raises(MalformedTileError):
            decode_entry_bundle(bundle[:cut])


def test_largest_entry_fits() -> None:
    big = bytes(range(256)) * 255 + bytes(255)
    assert len(big) == MAX_ENTRY_SIZE
    bundle = encode_entry_bundle([big, b""])
    assert bundle[:2] == b"\xff\xff"
    assert decode_entry_bundle(bundle) == [big, b""]


def test_entry_too_large() -> None:
    with pytest.raises(EntryTooLargeError) as info:
        encode_entry_bundle([b"ok", bytes(MAX_ENTRY_SIZE + 1)])
    assert info.value.code == "E_ENTRY_TOO_LARGE"


@pytest.mark.parametrize("count", [0, TILE_WIDTH + 1])
def test_bundle_entry_count(count: int) -> None:
    with pytest.raises(MalformedTileError):
        encode_entry_bundle([b"x"] * count)


@pytest.mark.parametrize(
    "data",
    [b"", b"\x00", b"\x00\x01", b"\x00\x05abc", b"\x00\x02ab\x00", b"\x00\x00" * (TILE_WIDTH + 1)],
)
def test_bundle_rejections(data: bytes) -> None:
    with pytest.raises(MalformedTileError):
        decode_entry_bundle(data)


def test_bundle_of_256_empty_entries() -> None:
    assert decode_entry_bundle(b"\x00\x00" * TILE_WIDTH) == [b""] * TILE_WIDTH


# --- hash tiles ----------------------------------------------------------------------


@pytest.mark.parametrize("count", [1, 2, 255, 256])
def test_split_hash_tile(count: int) -> None:
    hashes = [leaf_hash(i.to_bytes(2, "big")) for i in range(count)]
    assert split_hash_tile(b"".join(hashes)) == hashes


@pytest.mark.parametrize("size", [0, 1, 31, 33, 32 * 256 + 1, 32 * 257])
def test_split_hash_tile_rejections(size: int) -> None:
    with pytest.raises(MalformedTileError):
        split_hash_tile(bytes(size))


# --- the Tessera test log ------------------------------------------------------------


def checkpoint_root(size: int) -> bytes:
    """The root hash on line 3 of checkpoint.<size> (C2SP tlog-checkpoint)."""
    lines = (TESSERA_LOG / f"checkpoint.{size}").read_text().split("\n")
    assert int(lines[1]) == size
    return base64.b64decode(lines[2])


@pytest.mark.parametrize("width", range(1, 16))
def test_tessera_entry_bundle(width: int) -> None:
    path = f"tile/entries/000.p/{width}"
    assert parse_tile_path(path) == EntryTile(0, width)
    data = (TESSERA_LOG / path).read_bytes()
    assert decode_entry_bundle(data) == TESSERA_WORDS[:width]
    assert encode_entry_bundle(TESSERA_WORDS[:width]) == data


@pytest.mark.parametrize("width", range(1, 16))
def test_tessera_hash_tile(width: int) -> None:
    path = f"tile/0/000.p/{width}"
    assert parse_tile_path(path) == HashTile(0, 0, width)
    hashes = split_hash_tile((TESSERA_LOG / path).read_bytes())
    assert hashes == [leaf_hash(word) for word in TESSERA_WORDS[:width]]
    assert root_of(hashes) == checkpoint_root(width)


def test_tessera_tile_files_are_exactly_the_tiles_of_each_size() -> None:
    on_disk = {
        str(p.relative_to(TESSERA_LOG)) for p in (TESSERA_LOG / "tile").rglob("*") if p.is_file()
    }
    expected = {t.path for size in range(1, 16) for t in tiles_for_size(size)}
    expected |= {t.path for size in range(1, 16) for t in entry_tiles_for_size(size)}
    assert on_disk == expected
    assert checkpoint_root(0) == root_of([])


# --- tile counts ---------------------------------------------------------------------


def test_spec_tile_counts_for_70000() -> None:
    text = SPEC["tile_layout_example"]
    assert text.startswith("tree size 70000 ->")
    tiles = tiles_for_size(70_000)
    level0 = [t for t in tiles if t.level == 0]
    assert sum(t.is_full for t in level0) == 273
    assert [t.width for t in level0 if not t.is_full] == [112]
    assert [(t.level, t.index, t.width) for t in tiles if t.level > 0] == [
        (1, 0, 256),
        (1, 1, 17),
        (2, 0, 1),
    ]
    for phrase in ("273 full level-0", "width 112", "one full level-1", "width 17", "width 1;"):
        assert phrase in text
    assert len(tiles) == 277
    assert level0[-1] == HashTile(0, 273, 112)
    bundles = entry_tiles_for_size(70_000)
    assert len(bundles) == 274
    assert bundles[-1] == EntryTile(273, 112)


def test_spec_tile_counts_for_256() -> None:
    assert (
        "size 256 -> full level-0 tile + partial level-1 tile width 1"
        in (SPEC["tile_layout_example"])
    )
    assert tiles_for_size(256) == [HashTile(0, 0), HashTile(1, 0, 1)]
    assert entry_tiles_for_size(256) == [EntryTile(0)]


def test_empty_tree_has_no_tiles() -> None:
    assert tiles_for_size(0) == []
    assert entry_tiles_for_size(0) == []
    with pytest.raises(ValueError):
        tiles_for_size(-1)
    with pytest.raises(ValueError):
        entry_tiles_for_size(-1)


@settings(max_examples=100, deadline=None)
@given(st.integers(min_value=0, max_value=300_000))
def test_tiles_cover_every_level(size: int) -> None:
    tiles = tiles_for_size(size)
    assert len({t.path for t in tiles}) == len(tiles)
    level = 0
    while size >> (TILE_HEIGHT * level):
        at_level = [t for t in tiles if t.level == level]
        assert [t.index for t in at_level] == list(range(len(at_level)))
        assert all(t.is_full for t in at_level[:-1])
        assert sum(t.width for t in at_level) == size >> (TILE_HEIGHT * level)
        level += 1
    assert all(t.level < level for t in tiles)
    bundles = entry_tiles_for_size(size)
    assert [(t.index, t.width) for t in bundles] == [
        (t.index, t.width) for t in tiles if t.level == 0
    ]
