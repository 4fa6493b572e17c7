"""The log store in the Django database (SQLite or PostgreSQL).

One writer at a time, on both databases: on PostgreSQL the writer takes a
transaction-scoped advisory lock before it reads anything; on SQLite every write
transaction begins IMMEDIATE (see settings), which takes the database's write lock at
its first statement (once it is the transaction's turn: :mod:`cosignatory.web.sqlite`).
Either lock lasts until the outermost transaction ends, so an append made inside a
caller's ``transaction.atomic()`` block stays exclusive until the caller commits, and
commits or rolls back with the caller's own changes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager

from django.db import connections, transaction

from cosignatory.tlog.storage import Head, LogWriter, ReadThrough, TileKey
from cosignatory.web.log.models import LogCheckpoint, LogEntry, LogHead, LogTile

# pg_advisory_xact_lock key: "cosi" as a big-endian integer, unlikely to collide.
_ADVISORY_LOCK_KEY = 0x636F7369
_HEAD_ID = 1
# Entry rows per INSERT statement: one entry bundle. A multi-row INSERT binds and steps
# once per statement, not once per row, which takes about a third off inserting a
# million entries (docs/performance.md); 512 parameters stay under every database's
# limit (SQLite's oldest default is 999).
_ROWS_PER_INSERT = 256


def _select_statements(quote: Callable[[str], str]) -> tuple[str, str]:
    """Return the SQL that reads the head, and the start of the SQL that reads tiles.

    Raw SQL on the read path: building these through the ORM cost more than running
    them (docs/performance.md).
    """
    head = quote(LogHead._meta.db_table)
    tile = quote(LogTile._meta.db_table)
    size, checkpoint, pk = quote("size"), quote("checkpoint"), quote("id")
    level, index, data = quote("level"), quote("index"), quote("data")
    read_head = f"SELECT {size}, {checkpoint} FROM {head} WHERE {pk} = %s"  # noqa: S608
    read_tiles = f"SELECT {level}, {index}, {data} FROM {tile} WHERE "  # noqa: S608
    return read_head, read_tiles


def _insert_entries(quote: Callable[[str], str], rows: int) -> str:
    """Return the SQL that inserts ``rows`` entries, each an (index, data) pair.

    Only our own table and column names, quoted, go into the text; values are
    parameters.
    """
    entry = quote(LogEntry._meta.db_table)
    values = ", ".join(["(%s, %s)"] * rows)
    return f"INSERT INTO {entry} ({quote('index')}, {quote('data')}) VALUES {values}"  # noqa: S608


def _upsert_tile(quote: Callable[[str], str]) -> str:
    """Return the SQL that writes a tile: a tile only ever grows, so the upsert
    rewrites a partial tile in place."""
    tile = quote(LogTile._meta.db_table)
    index, data, level = quote("index"), quote("data"), quote("level")
    return (
        f"INSERT INTO {tile} ({level}, {index}, {data}) VALUES (%s, %s, %s) "  # noqa: S608
        f"ON CONFLICT ({level}, {index}) DO UPDATE SET {data} = excluded.{data}"
    )


class DjangoLogStorage:
    """A :class:`cosignatory.tlog.storage.LogStorage` over the Django database ``using``.

    ``on_append``, if given, is called after each transaction that wrote to the log
    commits (never if it rolls back), in the committing thread; it must not block.
    """

    def __init__(self, using: str = "default", on_append: Callable[[], None] | None = None) -> None:
        self.using = using
        self.on_append = on_append
        quote = connections[using].ops.quote_name
        self._read_head, self._read_tiles = _select_statements(quote)
        self._tile_key = f"({quote('level')} = %s AND {quote('index')} = %s)"
        self._insert_full = _insert_entries(quote, _ROWS_PER_INSERT)
        self._upsert_tile = _upsert_tile(quote)

    def head(self) -> Head | None:
        with connections[self.using].cursor() as cursor:
            cursor.execute(self._read_head, [_HEAD_ID])
            found = cursor.fetchone()
        return None if found is None else Head(found[0], found[1])

    def read_tiles(self, keys: Iterable[TileKey]) -> dict[TileKey, bytes]:
        wanted = list(dict.fromkeys(keys))
        if not wanted:
            return {}
        where = " OR ".join([self._tile_key] * len(wanted))
        params = [value for key in wanted for value in key]
        with connections[self.using].cursor() as cursor:
            cursor.execute(self._read_tiles + where, params)
            rows = cursor.fetchall()
        return {(level, index): bytes(data) for level, index, data in rows}

    def read_entries(self, start: int, end: int) -> list[bytes]:
        rows = (
            LogEntry.objects.using(self.using)
            .filter(index__gte=start, index__lt=end)
            .order_by("index")
            .values_list("data", flat=True)
        )
        return [bytes(data) for data in rows]

    def lock(self) -> None:
        """Take the log's write lock until the current transaction ends.

        Call inside ``transaction.atomic()``. Services take it before they read the
        state an event is judged against, so no other writer can change that state
        between the judgement and the append. Re-entrant within a transaction.
        """
        connection = connections[self.using]
        if not connection.in_atomic_block:
            raise RuntimeError("the log's lock is held for a transaction: use atomic()")
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_ADVISORY_LOCK_KEY])
        # SQLite: the IMMEDIATE transaction already holds the database's write lock.

    @contextmanager
    def writer(self) -> Iterator[LogWriter]:
        with transaction.atomic(using=self.using):
            self.lock()
            yield _DjangoWriter(self)


class _DjangoWriter(ReadThrough):
    def __init__(self, store: DjangoLogStorage) -> None:
        super().__init__(store)
        self._store = store
        self._written = False

    def write(
        self,
        *,
        first_index: int,
        entries: Sequence[bytes],
        tiles: Mapping[TileKey, bytes],
        head: Head,
    ) -> None:
        if self._written:
            raise AssertionError("one write per writer block")
        self._written = True
        store = self._store
        connection = connections[store.using]
        # The parameters of every row in one flat list: index, data, index, data, ...
        params: list[int | bytes] = [0] * (2 * len(entries))
        params[0::2] = range(first_index, first_index + len(entries))
        params[1::2] = entries
        step = 2 * _ROWS_PER_INSERT
        full = len(params) - len(params) % step
        with connection.cursor() as cursor:
            if full:
                cursor.executemany(
                    store._insert_full, [params[i : i + step] for i in range(0, full, step)]
                )
            if full < len(params):
                rest = params[full:]
                cursor.execute(_insert_entries(connection.ops.quote_name, len(rest) // 2), rest)
            if tiles:
                cursor.executemany(
                    store._upsert_tile, [(*key, data) for key, data in tiles.items()]
                )
        LogHead.objects.using(store.using).update_or_create(
            pk=_HEAD_ID, defaults={"size": head.size, "checkpoint": head.checkpoint}
        )
        LogCheckpoint.objects.using(store.using).create(size=head.size, text=head.checkpoint)
        if store.on_append is not None:
            transaction.on_commit(store.on_append, using=store.using)
