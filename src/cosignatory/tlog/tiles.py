"""C2SP tlog-tiles: tile coordinates, their URL paths, hash tiles and entry bundles.

A log of this layout serves its Merkle tree as tiles of 256 hashes,
``tile/<L>/<N>[.p/<W>]``, and its entries as bundles of up to 256 entries,
``tile/entries/<N>[.p/<W>]`` (https://c2sp.org/tlog-tiles, "Merkle Tree" and
"Log entries"). Paths here are relative to the log's URL prefix and are parsed
strictly: each tile has exactly one path, and anything else is rejected.

Indices are bounded by 2**64 - 1, as in C2SP's own implementations, so that no path,
however long, makes this module build an unbounded integer.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from cosignatory.tlog.errors import EntryTooLargeError, MalformedTileError
from cosignatory.tlog.hashing import HASH_SIZE

__all__ = [
    "MAX_ENTRY_SIZE",
    "MAX_INDEX",
    "MAX_LEVEL",
    "TILE_HEIGHT",
    "TILE_WIDTH",
    "EntryTile",
    "HashTile",
    "decode_entry_bundle",
    "decode_index",
    "encode_entry_bundle",
    "encode_index",
    "entry_tiles_for_size",
    "parse_tile_path",
    "split_hash_tile",
    "tiles_for_size",
]

TILE_HEIGHT = 8
"""Levels of the Merkle tree spanned by one tile."""

TILE_WIDTH = 1 << TILE_HEIGHT
"""Hashes in a full tile, entries in a full bundle (256)."""

MAX_LEVEL = 63
"""Highest tile level a path may name ("between 0 and 63")."""

MAX_INDEX = (1 << 64) - 1
"""Highest tile index accepted (a uint64, as in C2SP implementations)."""

MAX_ENTRY_SIZE = 0xFFFF
"""Longest entry a bundle can carry: its length is a big-endian uint16."""

# ASCII digits only: str.isdigit() and re's \d would also accept other scripts.
_INDEX_RE = re.compile(r"(?:x[0-9]{3}/)*[0-9]{3}")
_PATH_RE = re.compile(r"tile/(entries|[0-9]+)/((?:x[0-9]{3}/)*[0-9]{3})(?:\.p/([0-9]+))?")
_MAX_INDEX_GROUPS = 7  # 2**64 - 1 has 20 digits


def encode_index(n: int) -> str:
    """Return the tlog-tiles path encoding of tile index ``n``.

    Zero-padded groups of three digits, all but the last prefixed with ``x``:
    1234067 -> ``x001/x234/067``, 0 -> ``000``. Raises MalformedTileError unless
    0 <= n <= MAX_INDEX.
    """
    if not 0 <= n <= MAX_INDEX:
        raise MalformedTileError(f"tile index {n} is out of range")
    digits = str(n)
    digits = "0" * (-len(digits) % 3) + digits
    groups = [digits[i : i + 3] for i in range(0, len(digits), 3)]
    return "".join(f"x{group}/" for group in groups[:-1]) + groups[-1]


def decode_index(text: str) -> int:
    """Return the tile index encoded by ``text``, the inverse of :func:`encode_index`.

    Raises MalformedTileError unless ``text`` is exactly what encode_index produces:
    three-digit groups, ``x`` on all but the last, no leading all-zero group, and a
    value of at most MAX_INDEX.
    """
    if _INDEX_RE.fullmatch(text) is None:
        raise MalformedTileError(f"tile index {text!r} is not x-prefixed 3-digit groups")
    groups = text.split("/")
    if len(groups) > 1 and groups[0] == "x000":
        raise MalformedTileError(f"tile index {text!r} has a leading zero group")
    if len(groups) > _MAX_INDEX_GROUPS:
        raise MalformedTileError(f"tile index {text!r} is out of range")
    value = int("".join(group.removeprefix("x") for group in groups))
    if value > MAX_INDEX:
        raise MalformedTileError(f"tile index {text!r} is out of range")
    return value


def _suffix(width: int) -> str:
    return "" if width == TILE_WIDTH else f".p/{width}"


def _check_tile(index: int, width: int) -> None:
    if not 0 <= index <= MAX_INDEX:
        raise MalformedTileError(f"tile index {index} is out of range")
    if not 1 <= width <= TILE_WIDTH:
        raise MalformedTileError(f"tile width {width} is not between 1 and {TILE_WIDTH}")


@dataclass(frozen=True)
class HashTile:
    """Hash tile ``index`` at ``level``, holding ``width`` hashes (256 when full)."""

    level: int
    index: int
    width: int = TILE_WIDTH

    def __post_init__(self) -> None:
        """Raise MalformedTileError unless 0 <= level <= 63, 0 <= index, 1 <= width <= 256."""
        if not 0 <= self.level <= MAX_LEVEL:
            raise MalformedTileError(f"tile level {self.level} is not between 0 and {MAX_LEVEL}")
        _check_tile(self.index, self.width)

    @property
    def is_full(self) -> bool:
        """True if the tile holds all 256 hashes."""
        return self.width == TILE_WIDTH

    @property
    def path(self) -> str:
        """The path below the log prefix: ``tile/<L>/<N>`` or ``tile/<L>/<N>.p/<W>``."""
        return f"tile/{self.level}/{encode_index(self.index)}{_suffix(self.width)}"


@dataclass(frozen=True)
class EntryTile:
    """Entry bundle ``index``, holding ``width`` entries (256 when full)."""

    index: int
    width: int = TILE_WIDTH

    def __post_init__(self) -> None:
        """Raise MalformedTileError unless 0 <= index and 1 <= width <= 256."""
        _check_tile(self.index, self.width)

    @property
    def is_full(self) -> bool:
        """True if the bundle holds all 256 entries."""
        return self.width == TILE_WIDTH

    @property
    def path(self) -> str:
        """The path below the log prefix: ``tile/entries/<N>`` or ``.../<N>.p/<W>``."""
        return f"tile/entries/{encode_index(self.index)}{_suffix(self.width)}"


def parse_tile_path(path: str) -> HashTile | EntryTile:
    """Return the tile named by ``path`` (relative to the log prefix, no slashes around).

    Raises MalformedTileError for anything but the one canonical path of a tile:
    a level outside 0..63 or with leading zeroes, a badly encoded index, a partial
    width outside 1..255 or with leading zeroes (``.p/256`` and ``.p/0`` included).
    """
    match = _PATH_RE.fullmatch(path)
    if match is None:
        raise MalformedTileError(
            f"{path!r} is not tile/<L>/<N>[.p/<W>] or tile/entries/<N>[.p/<W>]"
        )
    level_text, index_text, width_text = match.groups()
    index = decode_index(index_text)
    width = TILE_WIDTH
    if width_text is not None:
        # "<W> ... a decimal ASCII integer between 1 and 255, with no additional
        # leading zeroes": a full tile has no .p/ suffix.
        if len(width_text) > 3 or width_text.startswith("0") or int(width_text) > 255:
            raise MalformedTileError(f"{path!r}: partial width must be 1..255")
        width = int(width_text)
    if level_text == "entries":
        return EntryTile(index, width)
    if (len(level_text) > 1 and level_text.startswith("0")) or len(level_text) > 2:
        raise MalformedTileError(f"{path!r}: level must be 0..{MAX_LEVEL}, no leading zeroes")
    return HashTile(int(level_text), index, width)


def encode_entry_bundle(entries: Iterable[bytes]) -> bytes:
    """Return the entry bundle of ``entries``: each a big-endian uint16 length, then bytes.

    Raises EntryTooLargeError if an entry is longer than 65,535 bytes, and
    MalformedTileError unless there are 1 to 256 entries (empty tiles are never served).
    """
    parts: list[bytes] = []
    count = 0
    for entry in entries:
        if len(entry) > MAX_ENTRY_SIZE:
            raise EntryTooLargeError(
                f"entry {count} is {len(entry)} bytes; a bundle holds at most {MAX_ENTRY_SIZE}"
            )
        parts.append(len(entry).to_bytes(2, "big"))
        parts.append(entry)
        count += 1
    if not 1 <= count <= TILE_WIDTH:
        raise MalformedTileError(f"an entry bundle holds 1 to {TILE_WIDTH} entries, not {count}")
    return b"".join(parts)


def decode_entry_bundle(data: bytes) -> list[bytes]:
    """Return the entries of an entry bundle, in order.

    Raises MalformedTileError if the data is empty, ends inside a length or an entry,
    or holds more than 256 entries.
    """
    entries: list[bytes] = []
    offset, end = 0, len(data)
    if end == 0:
        raise MalformedTileError("entry bundle is empty")
    while offset < end:
        if len(entries) == TILE_WIDTH:
            raise MalformedTileError(f"entry bundle holds more than {TILE_WIDTH} entries")
        if offset + 2 > end:
            raise MalformedTileError(f"entry bundle ends inside the length of entry {len(entries)}")
        length = (data[offset] << 8) | data[offset + 1]
        offset += 2
        if offset + length > end:
            raise MalformedTileError(f"entry bundle ends inside entry {len(entries)}")
        entries.append(bytes(data[offset : offset + length]))
        offset += length
    return entries


def split_hash_tile(data: bytes) -> list[bytes]:
    """Return the hashes of a hash tile, in order.

    Raises MalformedTileError unless the data is 1 to 256 whole 32-byte hashes.
    """
    size = len(data)
    if size == 0 or size % HASH_SIZE or size > TILE_WIDTH * HASH_SIZE:
        raise MalformedTileError(
            f"hash tile is {size} bytes, not 1 to {TILE_WIDTH} hashes of {HASH_SIZE} bytes"
        )
    return [bytes(data[i : i + HASH_SIZE]) for i in range(0, size, HASH_SIZE)]


def tiles_for_size(size: int) -> list[HashTile]:
    """Return every hash tile of a tree of ``size`` leaves, by level, then by index.

    Level ``l`` has ``size >> 8(l+1)`` full tiles and, if ``(size >> 8l) mod 256`` is
    not 0, one partial tile of that width (tlog-tiles, "Partial Tiles").
    Raises ValueError if ``size`` is negative.
    """
    if size < 0:
        raise ValueError(f"tree size {size} is negative")
    tiles: list[HashTile] = []
    level = 0
    hashes = size  # hashes at this level: complete subtrees of 256**level leaves
    while hashes:
        full, partial = divmod(hashes, TILE_WIDTH)
        tiles.extend(HashTile(level, index) for index in range(full))
        if partial:
            tiles.append(HashTile(level, full, partial))
        hashes = full
        level += 1
    return tiles


def entry_tiles_for_size(size: int) -> list[EntryTile]:
    """Return every entry bundle of a log of ``size`` entries, in order.

    Raises ValueError if ``size`` is negative.
    """
    if size < 0:
        raise ValueError(f"tree size {size} is negative")
    full, partial = divmod(size, TILE_WIDTH)
    tiles = [EntryTile(index) for index in range(full)]
    if partial:
        tiles.append(EntryTile(full, partial))
    return tiles
