"""The storage interface the log is written against, and an in-memory implementation.

A log store keeps three things: the entries (by index), the hash tiles of C2SP
tlog-tiles (the bottom row of every tile level, full or partial) and the log's head
(its size and latest signed checkpoint). Tiles are stored whole: a partial tile is
rewritten as it grows, a full tile is written once and never changes.

The interface is split in two so that the single-writer rule is visible in the types:
:meth:`LogStorage.writer` is the only way to get a :class:`LogWriter`, and a store
must guarantee that at most one writer exists at a time (across threads and
processes, for stores that are shared between processes). Reads made through the
writer see the state under that lock.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Protocol

TileKey = tuple[int, int]
"""A hash tile's (level, index)."""


@dataclass(frozen=True)
class Head:
    """The log's committed state: its size and the signed checkpoint for that size."""

    size: int
    checkpoint: str


class LogReader(Protocol):
    """Reads a log's committed state."""

    def head(self) -> Head | None:
        """Return the committed head, or None for a log that was never initialised."""
        ...

    def read_tiles(self, keys: Iterable[TileKey]) -> dict[TileKey, bytes]:
        """Return the stored bytes of each hash tile asked for that exists.

        A tile that is partial is returned at its current width; absent keys are
        simply missing from the result.
        """
        ...

    def read_entries(self, start: int, end: int) -> list[bytes]:
        """Return entries ``start`` up to ``end`` (exclusive) that exist, in order."""
        ...


class LogWriter(LogReader, Protocol):
    """Writes one append. Only :meth:`LogStorage.writer` hands these out."""

    def write(
        self,
        *,
        first_index: int,
        entries: Sequence[bytes],
        tiles: Mapping[TileKey, bytes],
        head: Head,
    ) -> None:
        """Store new entries from ``first_index``, new or grown tiles, and the new head."""
        ...


class LogStorage(LogReader, Protocol):
    """A log store with a single writer at a time."""

    def writer(self) -> AbstractContextManager[LogWriter]:
        """Return a context that holds the store's write lock.

        It commits what was written when the block exits normally, and discards it
        when the block raises. It blocks while another writer holds the lock.
        """
        ...


class MemoryStorage:
    """A log store in memory, for tests and tools that need no database.

    Writes are staged and applied only when the writer's block exits normally, so an
    exception leaves the store as it was.
    """

    def __init__(self) -> None:
        self._entries: list[bytes] = []
        self._tiles: dict[TileKey, bytes] = {}
        self._head: Head | None = None
        self._lock = threading.Lock()

    def head(self) -> Head | None:
        """Return the committed head (see :class:`LogReader`)."""
        return self._head

    def read_tiles(self, keys: Iterable[TileKey]) -> dict[TileKey, bytes]:
        """Return the stored tiles among ``keys`` (see :class:`LogReader`)."""
        return {key: self._tiles[key] for key in keys if key in self._tiles}

    def read_entries(self, start: int, end: int) -> list[bytes]:
        """Return the stored entries in ``[start, end)`` (see :class:`LogReader`)."""
        return self._entries[max(start, 0) : max(end, 0)]

    @contextmanager
    def writer(self) -> Iterator[LogWriter]:
        """Hold the lock, stage writes, apply them on a clean exit."""
        with self._lock:
            staged = _StagedWrite(self)
            yield staged
            if staged.pending is not None:
                first_index, entries, tiles, head = staged.pending
                if first_index != len(self._entries):
                    raise AssertionError("staged write does not continue the log")
                self._entries.extend(entries)
                self._tiles.update(tiles)
                self._head = head


class ReadThrough:
    """A writer's reads: those of its store, seen under the store's lock."""

    def __init__(self, store: LogReader) -> None:
        self._reader = store

    def head(self) -> Head | None:
        """Return the store's head (see :class:`LogReader`)."""
        return self._reader.head()

    def read_tiles(self, keys: Iterable[TileKey]) -> dict[TileKey, bytes]:
        """Return the store's tiles among ``keys`` (see :class:`LogReader`)."""
        return self._reader.read_tiles(keys)

    def read_entries(self, start: int, end: int) -> list[bytes]:
        """Return the store's entries in ``[start, end)`` (see :class:`LogReader`)."""
        return self._reader.read_entries(start, end)


class _StagedWrite(ReadThrough):
    """The writer of :class:`MemoryStorage`: reads through, keeps one pending write."""

    def __init__(self, store: MemoryStorage) -> None:
        super().__init__(store)
        self.pending: tuple[int, list[bytes], dict[TileKey, bytes], Head] | None = None

    def write(
        self,
        *,
        first_index: int,
        entries: Sequence[bytes],
        tiles: Mapping[TileKey, bytes],
        head: Head,
    ) -> None:
        if self.pending is not None:
            raise AssertionError("one write per writer block")
        self.pending = (first_index, list(entries), dict(tiles), head)
