"""Mappings that keep their recent values as objects and the rest in a temporary file.

The offline verifier replays every event of a bundle and keeps the register's state
the rules judge the next event against. For an open letter of a million persons that
state is mostly one party and one signature record a person, about 900 bytes of Python
objects each: far more than the verifier's memory budget. A :class:`SpillDict` holds
at most a few tens of thousands of its values as objects (the recent ones, which the
next events mostly touch: a person's party is registered just before their signature)
and writes the others, as rows, to a private SQLite database that SQLite deletes when
it is closed (its file lies in ``SQLITE_TMPDIR`` or ``TMPDIR``).

A value read from a SpillDict is an object of its own until the next :meth:`SpillFile.spill`,
which writes it back: the rules may change it in place, as they change a dict's values,
provided nothing keeps it across a spill and changes it after (the replay spills only
between events). The database is opened at the first spill, so a small bundle never
touches the disk.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, ItemsView, Iterator, MutableMapping, ValuesView
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from cosignatory.errors import CosignatoryError

__all__ = ["HOT", "Codec", "SpillDict", "SpillError", "SpillFile"]

V = TypeVar("V")


class SpillError(CosignatoryError):
    """The temporary database could not be written or read (a full disk, most likely)."""

    code = "E_SPILL"


@contextmanager
def _reported() -> Iterator[None]:
    """SQLite's errors as a SpillError that says where the file lies."""
    try:
        yield
    except sqlite3.Error as error:
        raise SpillError(
            f"the temporary file that holds the register's state failed ({error}): "
            "set SQLITE_TMPDIR or TMPDIR to a folder with room for about 250 bytes "
            "a signature"
        ) from None


HOT = 32_768
"""Values a SpillDict keeps as objects before :meth:`SpillFile.spill` writes them out."""


@dataclass(frozen=True)
class Codec(Generic[V]):
    """How a value becomes the columns of a row and back.

    ``encode`` gives the values of ``columns`` (numbers, strings, bytes or None);
    ``decode`` gets the key and those values, and returns an equal value.
    """

    columns: tuple[str, ...]
    encode: Callable[[V], tuple[Any, ...]]
    decode: Callable[[str, tuple[Any, ...]], V]


class SpillFile:
    """The temporary database the SpillDicts of one replay share, a table each."""

    def __init__(self, hot: int = HOT) -> None:
        self.hot = max(0, hot)
        self._db: sqlite3.Connection | None = None
        self._maps: list[SpillDict[Any]] = []

    def mapping(self, codec: Codec[V]) -> SpillDict[V]:
        """A new, empty SpillDict of values that ``codec`` writes."""
        mapping: SpillDict[V] = SpillDict(self, f"t{len(self._maps)}", codec)
        self._maps.append(mapping)
        return mapping

    def spill(self) -> None:
        """Write out the values of every mapping that holds more than ``hot`` as objects."""
        for mapping in self._maps:
            if mapping.held > self.hot:
                mapping.spill()

    @property
    def db(self) -> sqlite3.Connection:
        """The connection, opened at the first use: an empty name is SQLite's private
        temporary database, deleted when closed. It needs no durability at all."""
        if self._db is None:
            with _reported():
                self._db = sqlite3.connect("", isolation_level=None)
                for pragma in ("journal_mode = OFF", "synchronous = OFF", "cache_size = -8192"):
                    self._db.execute(f"PRAGMA {pragma}")
        return self._db

    def close(self) -> None:
        """Close the database (and so delete its file); the mappings are unusable after."""
        if self._db is not None:
            self._db.close()
            self._db = None


class SpillDict(MutableMapping[str, V]):
    """A dict of str keys whose values are written to a :class:`SpillFile` at its spills.

    It keeps a dict's insertion order. Made by :meth:`SpillFile.mapping`.
    """

    def __init__(self, file: SpillFile, table: str, codec: Codec[V]) -> None:
        self._file = file
        self._table = table
        self._codec = codec
        self._hot: dict[str, V] = {}
        self._seq: dict[str, int] = {}  # the insertion position of each hot key
        self._both: set[str] = set()  # hot keys that have a row as well
        self._rows = 0
        self._next = 0
        # The last key looked for on disk and not found: the rules look a new key up
        # (is this id taken? has this party signed?) just before they store it.
        self._absent: str | None = None
        self._created = False
        names = ", ".join(codec.columns)
        marks = ", ".join("?" * (len(codec.columns) + 2))
        self._select = f"SELECT seq, key, {names} FROM {table}"  # noqa: S608
        self._write = f"INSERT OR REPLACE INTO {table} (seq, key, {names}) VALUES ({marks})"  # noqa: S608

    @property
    def held(self) -> int:
        """How many values are held as objects."""
        return len(self._hot)

    def __getitem__(self, key: str) -> V:
        try:
            return self._hot[key]
        except KeyError:
            pass
        seq, value = self._cold(key)
        self._hot[key], self._seq[key] = value, seq
        self._both.add(key)
        return value

    def peek(self, key: str) -> V:
        """``self[key]`` without keeping a written value as an object: a change to it is
        lost. For reading many values once, as the verifier's result does."""
        try:
            return self._hot[key]
        except KeyError:
            return self._cold(key)[1]

    def __contains__(self, key: object) -> bool:
        return key in self._hot or (isinstance(key, str) and self._row(key) is not None)

    def __setitem__(self, key: str, value: V) -> None:
        if key not in self._hot:
            row = self._row(key)
            if row is None:
                self._seq[key], self._next = self._next, self._next + 1
            else:
                self._seq[key] = row[0]
                self._both.add(key)
        self._hot[key] = value

    def __delitem__(self, key: str) -> None:
        if key in self._hot:
            del self._hot[key], self._seq[key]
            if key in self._both:
                self._both.discard(key)
                self._delete(key)
        elif not self._delete(key):
            raise KeyError(key)

    def __len__(self) -> int:
        return self._rows + len(self._hot) - len(self._both)

    def __iter__(self) -> Iterator[str]:
        for key, _ in self._pairs():
            yield key

    def items(self) -> ItemsView[str, V]:
        return _Items(self)

    def values(self) -> ValuesView[V]:
        return _Values(self)

    @property
    def spilled(self) -> bool:
        """Whether some values have been written out (else nothing is on disk)."""
        return self._rows > 0

    def spill(self) -> None:
        """Write every value held as an object to its row, and let go of the objects."""
        self._write_back()
        self._hot.clear()
        self._seq.clear()
        self._both.clear()

    def select(self, query: str, *parameters: Any) -> Iterator[V]:
        """The values of the rows ``query`` picks, in its order, read as :meth:`peek` reads.

        In ``query``, ``{table}`` names the table, whose columns are ``seq`` (the
        insertion position), ``key`` and the codec's; the query must return ``seq``,
        ``key`` and the codec's columns, in that order.
        """
        for _, value in self._pairs(query, parameters):
            yield value

    # -- the rows ----------------------------------------------------------------------

    def _pairs(
        self, query: str | None = None, parameters: tuple[Any, ...] = ()
    ) -> Iterator[tuple[str, V]]:
        """Keys and values in insertion order, or in the order ``query`` gives."""
        if query is None:
            if not self._rows:  # nothing written: the hot dict's order is the insertion order
                yield from list(self._hot.items())
                return
            query = "{table_select} ORDER BY seq"
        self._write_back()
        if not self._created:
            return
        sql = query.format(table=self._table, table_select=self._select)
        with _reported():
            for row in self._file.db.execute(sql, parameters):
                key = row[1]
                yield key, self._hot[key] if key in self._hot else self._decode(row)

    def _cold(self, key: str) -> tuple[int, V]:
        """The insertion position and value of ``key`` as written; KeyError if it has none."""
        row = self._row(key)
        if row is None:
            raise KeyError(key)
        return row[0], self._decode(row)

    def _decode(self, row: tuple[Any, ...]) -> V:
        return self._codec.decode(row[1], row[2:])

    def _row(self, key: str) -> tuple[Any, ...] | None:
        if not self._rows or key == self._absent:
            return None
        with _reported():
            found: tuple[Any, ...] | None = self._file.db.execute(
                f"{self._select} WHERE key = ?", (key,)
            ).fetchone()
        if found is None:
            self._absent = key
        return found

    def _delete(self, key: str) -> bool:
        if not self._rows:
            return False
        delete = f"DELETE FROM {self._table} WHERE key = ?"  # noqa: S608
        with _reported():
            deleted = self._file.db.execute(delete, (key,))
        self._rows -= deleted.rowcount
        return deleted.rowcount > 0

    def _write_back(self) -> None:
        if not self._hot:
            return
        self._absent = None
        with _reported():
            db = self._file.db
            if not self._created:
                columns = ", ".join(self._codec.columns)
                # Keyed by the key alone (one B-tree, not a table and an index): looked up
                # by key all the time, ordered by seq only for a whole iteration.
                db.execute(
                    f"CREATE TABLE {self._table} "
                    f"(key TEXT PRIMARY KEY, seq INTEGER NOT NULL, {columns}) WITHOUT ROWID"
                )
                self._created = True
            encode, seq = self._codec.encode, self._seq
            db.execute("BEGIN")
            db.executemany(
                self._write, ((seq[key], key, *encode(value)) for key, value in self._hot.items())
            )
            db.execute("COMMIT")
        self._rows += len(self._hot) - len(self._both)
        self._both.update(self._hot)


class _Items(ItemsView[str, V]):
    _mapping: SpillDict[V]

    def __iter__(self) -> Iterator[tuple[str, V]]:
        return self._mapping._pairs()


class _Values(ValuesView[V]):
    _mapping: SpillDict[V]

    def __iter__(self) -> Iterator[V]:
        for _, value in self._mapping._pairs():
            yield value
