"""Merkle tree hashes computed from stored hash tiles (C2SP tlog-tiles).

A hash tile at level ``L`` holds, left to right, the hashes of the complete subtrees
of height ``8 * L`` (level 0: the leaf hashes). Every hash of the tree, and so every
proof, can be computed from those rows:

* the node of height ``h = 8 * L + r`` at index ``i`` is the RFC 6962 root of ``2**r``
  consecutive hashes of one tile at level ``L``;
* the hash of any range of leaves splits into such nodes (RFC 9162 §2.1.1).

This module does that arithmetic and the reverse one, extending the tiles' right edge
when entries are appended. It does no I/O: tiles come from a reader callable.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence

from cosignatory.tlog.errors import LogStateError
from cosignatory.tlog.hashing import HASH_SIZE, node_hash, root_of
from cosignatory.tlog.tiles import TILE_HEIGHT, TILE_WIDTH

TileKey = tuple[int, int]
TileReader = Callable[[Iterable[TileKey]], Mapping[TileKey, bytes]]

_FULL_TILE_BYTES = TILE_WIDTH * HASH_SIZE
_sha256 = hashlib.sha256


class FullTileCache:
    """A bounded cache of the inner nodes of full tiles.

    Full tiles never change once committed, so the 255 inner hashes computed from one
    can be shared by every proof that passes through it. A tile read inside a
    transaction that later rolls back was never committed, though, so an entry is
    used only for the very bytes it was computed from (a cheap comparison).
    Least recently used first out.
    """

    def __init__(self, max_tiles: int = 4096) -> None:
        self._max = max_tiles
        self._rows: OrderedDict[TileKey, tuple[bytes, list[list[bytes]]]] = OrderedDict()

    def rows(self, key: TileKey, data: bytes) -> list[list[bytes]]:
        """Return every row of the full tile ``key``: row r holds its nodes of height r."""
        entry = self._rows.get(key)
        if entry is None or entry[0] != data:
            entry = (data, _tile_rows(data))
            self._rows[key] = entry
            if len(self._rows) > self._max:
                self._rows.popitem(last=False)
        else:
            self._rows.move_to_end(key)
        return entry[1]


def _tile_rows(data: bytes) -> list[list[bytes]]:
    row = [data[i : i + HASH_SIZE] for i in range(0, len(data), HASH_SIZE)]
    rows = [row]
    while len(row) > 1:
        row = [node_hash(row[i], row[i + 1]) for i in range(0, len(row) - 1, 2)]
        rows.append(row)
    return rows


EdgeHashes = dict[tuple[int, int], bytes]
"""Hashes at a tree's right edge, by the range of leaves ``(start, end)`` they cover."""


class TiledTree:
    """The hashes of a tree of ``size`` leaves, computed from its tiles.

    Tiles are fetched through ``read`` at most once per instance; ``prefetch`` asks for
    several in one call, so a store can answer a whole proof with one query.

    Every proof needs hashes of the tree's right edge: ranges of leaves that end at
    ``size``, and nodes inside the partial tiles. They are computed once and kept in
    ``edge``, which trees of the very same tree (same size, same root) may share. A
    tree has at most about ``log2(size)`` such ranges and 255 such nodes a level.
    """

    def __init__(
        self,
        size: int,
        read: TileReader,
        cache: FullTileCache | None = None,
        edge: EdgeHashes | None = None,
    ) -> None:
        self.size = size
        self._read = read
        self._cache = cache
        self._edge: EdgeHashes = {} if edge is None else edge
        self._tiles: dict[TileKey, bytes] = {}

    def prefetch(self, keys: Iterable[TileKey]) -> None:
        """Fetch the given tiles that are not yet held, in one read."""
        wanted = [key for key in set(keys) if key not in self._tiles]
        if wanted:
            self._tiles.update(self._read(wanted))

    def prefetch_for(self, *indexes: int) -> None:
        """Fetch the tiles a proof about leaf ``indexes`` (and the right edge) needs.

        Every node a proof uses is an ancestor's sibling of a named leaf or a piece of
        the tree's right edge; at each level those lie in the tile above the leaf.
        """
        keys: set[TileKey] = set()
        level = 0
        while level == 0 or self.size >> (TILE_HEIGHT * level):
            shift = TILE_HEIGHT * (level + 1)
            keys.update(
                (level, index >> shift) for index in (*indexes, self.size - 1) if index >= 0
            )
            level += 1
        self.prefetch(keys)

    def _tile(self, key: TileKey) -> bytes:
        data = self._tiles.get(key)
        if data is None:
            self.prefetch([key])
            data = self._tiles.get(key)
            if data is None:
                raise LogStateError(f"hash tile {key[0]}/{key[1]} is missing from storage")
        return data

    def node(self, height: int, index: int) -> bytes:
        """Return the hash of the complete subtree of ``2**height`` leaves at ``index``."""
        level, row = divmod(height, TILE_HEIGHT)
        first = index << row  # first hash of the tile row at height 8 * level
        tile_index, offset = divmod(first, TILE_WIDTH)
        key = (level, tile_index)
        data = self._tile(key)
        count = 1 << row
        if (offset + count) * HASH_SIZE > len(data):
            raise LogStateError(f"hash tile {level}/{tile_index} is too short for node {height}")
        if row == 0:
            return data[offset * HASH_SIZE : (offset + 1) * HASH_SIZE]
        full = len(data) == _FULL_TILE_BYTES
        if self._cache is not None and full:
            return self._cache.rows(key, data)[row][offset >> row]
        leaves = (index << height, (index + 1) << height)
        found = None if full else self._edge.get(leaves)
        if found is None:
            chunk = data[offset * HASH_SIZE : (offset + count) * HASH_SIZE]
            found = root_of([chunk[i : i + HASH_SIZE] for i in range(0, len(chunk), HASH_SIZE)])
            if not full:  # a node of a partial tile: the right edge
                self._edge[leaves] = found
        return found

    def range_hash(self, start: int, end: int) -> bytes:
        """Return the RFC 9162 MTH of leaves ``[start, end)`` (end <= size)."""
        if not 0 <= start < end <= self.size:
            raise LogStateError(f"range [{start}, {end}) is outside a tree of {self.size}")
        return self._range(start, end)

    def _range(self, start: int, end: int) -> bytes:
        length = end - start
        if length & (length - 1) == 0 and start % length == 0:
            return self.node(length.bit_length() - 1, start // length)
        edge = end == self.size
        found = self._edge.get((start, end)) if edge else None
        if found is None:
            split = 1 << ((length - 1).bit_length() - 1)
            found = node_hash(self._range(start, start + split), self._range(start + split, end))
            if edge:
                self._edge[(start, end)] = found
        return found

    def root(self) -> bytes:
        """Return the tree's root hash (the empty root for size 0)."""
        if self.size == 0:
            return root_of([])
        return self.range_hash(0, self.size)


def _full_tile_root(data: bytes) -> bytes:
    """Return the root of a full tile's 256 hashes, ``data`` being their concatenation.

    The same tree as :func:`root_of`; its first row is hashed straight from ``data``
    (one 64-byte slice per pair), which saves splitting 256 hashes apart on every tile
    an append fills.
    """
    sha256 = _sha256
    row = [
        sha256(b"\x01" + data[i : i + 2 * HASH_SIZE]).digest()
        for i in range(0, len(data), 2 * HASH_SIZE)
    ]
    while len(row) > 1:
        row = [sha256(b"\x01" + row[i] + row[i + 1]).digest() for i in range(0, len(row), 2)]
    return row[0]


def right_edge_keys(size: int) -> list[TileKey]:
    """Return the partial tile at each level of a tree of ``size``: those an append grows."""
    keys = []
    level = 0
    count = size
    while count > 0:
        if count % TILE_WIDTH:
            keys.append((level, count // TILE_WIDTH))
        count //= TILE_WIDTH
        level += 1
    return keys


def extend_tiles(
    size: int, entries: Sequence[bytes], edge: Mapping[TileKey, bytes]
) -> dict[TileKey, bytes]:
    """Return every tile that appending ``entries`` to a tree of ``size`` writes.

    ``edge`` holds the tree's partial tiles (see :func:`right_edge_keys`). The result
    maps each new or grown tile to its full new contents. Cost: one leaf hash per
    entry and about one node hash per entry for the tiles that fill up.
    Raises LogStateError when a partial tile's stored width disagrees with ``size``.
    """
    written: dict[TileKey, bytes] = {}
    # The leaf hashes (leaf_hash, inlined: this loop runs once per entry appended),
    # gathered in one growing buffer rather than a list of a million objects joined.
    sha256 = _sha256
    leaves = bytearray()
    for entry in entries:
        leaves += sha256(b"\x00" + entry).digest()
    carry = bytes(leaves)
    level = 0
    before = size  # complete subtrees of height 8 * level before the append
    while carry:
        tile_index, offset = divmod(before, TILE_WIDTH)
        existing = b""
        if offset:
            existing = edge.get((level, tile_index), b"")
            if len(existing) != offset * HASH_SIZE:
                raise LogStateError(
                    f"hash tile {level}/{tile_index} holds {len(existing) // HASH_SIZE} "
                    f"hashes, a tree of {size} needs {offset}"
                )
        row = existing + carry
        next_carry = []
        for start in range(0, len(row), _FULL_TILE_BYTES):
            chunk = row[start : start + _FULL_TILE_BYTES]
            written[(level, tile_index + start // _FULL_TILE_BYTES)] = chunk
            if len(chunk) == _FULL_TILE_BYTES:
                next_carry.append(_full_tile_root(chunk))
        carry = b"".join(next_carry)
        before //= TILE_WIDTH
        level += 1
    return written
