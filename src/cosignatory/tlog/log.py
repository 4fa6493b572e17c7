"""The append-only log: entries, tiles, checkpoints and proofs over a store.

:class:`Log` is the one object the rest of Cosignatory writes the log through. It
takes a store (see :mod:`cosignatory.tlog.storage`) and the log's signers as
arguments and reads no settings. Every append, single or batch, happens inside the
store's writer block: it reads the size and the right edge under the store's lock,
writes the entries, the grown tiles and a newly signed checkpoint, and returns only
after the store committed them. A store that is a database shares the caller's
transaction, so a caller can make an append part of a larger atomic change.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from cosignatory.tlog.checkpoint import Checkpoint, open_checkpoint, sign_checkpoint
from cosignatory.tlog.errors import (
    EntryTooLargeError,
    LogStateError,
    ProofRangeError,
    TileNotFoundError,
)
from cosignatory.tlog.hashing import HASH_SIZE
from cosignatory.tlog.note import KeyType, Signer, Verifier
from cosignatory.tlog.proofs import consistency_proof, inclusion_proof
from cosignatory.tlog.storage import Head, LogReader, LogStorage, TileKey
from cosignatory.tlog.tiled import (
    EdgeHashes,
    FullTileCache,
    TiledTree,
    extend_tiles,
    right_edge_keys,
)
from cosignatory.tlog.tiles import (
    MAX_ENTRY_SIZE,
    TILE_WIDTH,
    EntryTile,
    HashTile,
    encode_entry_bundle,
)


@dataclass(frozen=True)
class AppendResult:
    """What an append committed: the first new index, the new size and checkpoint."""

    first_index: int
    size: int
    checkpoint: str


class Log:
    """A C2SP tlog-tiles log over a store, signed by the log's keys.

    ``signers`` must include an Ed25519 key named ``origin`` (tlog-tiles requires
    one); further keys, such as an ML-DSA-44 key of the same name, add signatures.
    The Ed25519 key comes first in ``signers`` and ``verifiers``. Raises ValueError
    for a set of keys that breaks these rules.
    """

    def __init__(self, storage: LogStorage, origin: str, signers: Sequence[Signer]) -> None:
        for signer in signers:
            if signer.name != origin:
                raise ValueError(f"key {signer.name!r} is not named after the origin {origin!r}")
        ordered = sorted(signers, key=lambda s: s.key_type is not KeyType.ED25519)
        if not ordered or ordered[0].key_type is not KeyType.ED25519:
            raise ValueError("a log needs an Ed25519 signing key (C2SP tlog-tiles)")
        self.storage = storage
        self.origin = origin
        self.signers = tuple(ordered)
        self.verifiers: tuple[Verifier, ...] = tuple(s.verifier() for s in ordered)
        self._tile_cache = FullTileCache()
        self._edge: tuple[str, EdgeHashes] | None = None  # the latest head's right edge

    # -- writing -----------------------------------------------------------------

    def initialise(self) -> Head:
        """Sign and store the empty tree's checkpoint if the log has no head yet.

        Returns the head, new or existing. Safe to call any number of times.
        """
        with self.storage.writer() as writer:
            head = writer.head()
            if head is None:
                head = Head(0, self._sign(0, TiledTree(0, writer.read_tiles).root()))
                writer.write(first_index=0, entries=[], tiles={}, head=head)
            return head

    def append(self, entry: bytes) -> AppendResult:
        """Append one entry; see :meth:`append_batch`."""
        return self.append_batch([entry])

    def append_batch(self, entries: Sequence[bytes]) -> AppendResult:
        """Append ``entries`` in order, all or none, and sign the new checkpoint.

        Returns once the store has committed. Raises EntryTooLargeError for an entry
        over 65,535 bytes (nothing is written) and LogStateError if the store is
        inconsistent.
        """
        entries = [bytes(entry) for entry in entries]
        for entry in entries:
            if len(entry) > MAX_ENTRY_SIZE:
                raise EntryTooLargeError(
                    f"an entry is {len(entry)} bytes; the most a log entry can hold is "
                    f"{MAX_ENTRY_SIZE}"
                )
        with self.storage.writer() as writer:
            head = writer.head()
            size = head.size if head is not None else 0
            if not entries:
                if head is None:
                    head = Head(0, self._sign(0, TiledTree(0, writer.read_tiles).root()))
                    writer.write(first_index=0, entries=[], tiles={}, head=head)
                return AppendResult(size, size, head.checkpoint)
            edge = writer.read_tiles(right_edge_keys(size))
            tiles = extend_tiles(size, entries, edge)
            new_size = size + len(entries)

            def read(keys: Iterable[TileKey]) -> dict[TileKey, bytes]:
                # The new tree's root reads the tiles this append is about to write.
                wanted = list(keys)
                found = {key: tiles[key] for key in wanted if key in tiles}
                rest = [key for key in wanted if key not in tiles]
                found.update(writer.read_tiles(rest) if rest else {})
                return found

            root = TiledTree(new_size, read, self._tile_cache).root()
            new_head = Head(new_size, self._sign(new_size, root))
            writer.write(first_index=size, entries=entries, tiles=tiles, head=new_head)
        return AppendResult(size, new_size, new_head.checkpoint)

    def _sign(self, size: int, root: bytes) -> str:
        return sign_checkpoint(Checkpoint(self.origin, size, root), self.signers)

    # -- reading -----------------------------------------------------------------

    def head(self) -> Head:
        """Return the committed head. Raises LogStateError if never initialised."""
        head = self.storage.head()
        if head is None:
            raise LogStateError("the log has no checkpoint yet; initialise it first")
        return head

    def size(self) -> int:
        """Return the number of entries committed."""
        head = self.storage.head()
        return 0 if head is None else head.size

    def checkpoint(self) -> Checkpoint:
        """Return the latest checkpoint, verified against the log's own keys."""
        return open_checkpoint(self.head().checkpoint, self.verifiers, origin=self.origin)

    def tree(self, size: int | None = None, reader: LogReader | None = None) -> TiledTree:
        """Return the hashes of the tree at ``size`` (default: the current size), every
        one computed from the stored tiles.

        Raises ProofRangeError for a size larger than the log.
        """
        return self._tree(size, reader, shared=False)

    def _tree(self, size: int | None, reader: LogReader | None, shared: bool) -> TiledTree:
        head = self.storage.head()
        current = 0 if head is None else head.size
        if size is None:
            size = current
        if not 0 <= size <= current:
            raise ProofRangeError(f"the log has {current} entries, not {size}")
        edge = None
        if shared and head is not None and size == current and reader is None:
            # The right edge's hashes are shared by every proof of this very head: its
            # checkpoint names the root, so a head rolled back and replaced by another
            # of the same size cannot reuse them.
            held = self._edge
            if held is None or held[0] != head.checkpoint:
                held = self._edge = (head.checkpoint, {})
            edge = held[1]
        return TiledTree(size, (reader or self.storage).read_tiles, self._tile_cache, edge)

    def root(self, size: int | None = None) -> bytes:
        """Return the root hash at ``size`` (default: the current size), computed from
        the stored tiles (a check of them against a checkpoint relies on it)."""
        return self.tree(size).root()

    def prove_inclusion(self, index: int, size: int | None = None) -> list[bytes]:
        """Return the inclusion proof of entry ``index`` in the tree of ``size``.

        Raises ProofRangeError unless ``0 <= index < size <= log size``.
        """
        tree = self._tree(size, None, shared=True)
        if not 0 <= index < tree.size:
            raise ProofRangeError(f"entry {index} is not in a tree of {tree.size} entries")
        tree.prefetch_for(index)
        return inclusion_proof(index, tree.size, tree.range_hash)

    def prove_consistency(self, old_size: int, new_size: int | None = None) -> list[bytes]:
        """Return the consistency proof from ``old_size`` to ``new_size``.

        Raises ProofRangeError unless ``0 < old_size <= new_size <= log size``.
        """
        tree = self._tree(new_size, None, shared=True)
        if not 0 < old_size <= tree.size:
            raise ProofRangeError(
                f"a consistency proof needs 0 < old size <= {tree.size}, not {old_size}"
            )
        tree.prefetch_for(old_size - 1, old_size)
        return consistency_proof(old_size, tree.size, tree.range_hash)

    def entries(self, start: int, end: int) -> list[bytes]:
        """Return entries ``[start, end)``; raises ProofRangeError past the log's size."""
        size = self.size()
        if not 0 <= start <= end <= size:
            raise ProofRangeError(f"entries [{start}, {end}) are not in a log of {size}")
        found = self.storage.read_entries(start, end)
        if len(found) != end - start:
            raise LogStateError(f"entries [{start}, {end}) are missing from storage")
        return found

    def hash_tile(self, tile: HashTile) -> bytes:
        """Return the bytes of ``tile`` as served under ``/tile/``.

        A full tile is served once the tree has it; a partial tile ``.p/W`` while the
        stored tile has at least W hashes (its first W never change). Raises
        TileNotFoundError otherwise.
        """
        data = self.storage.read_tiles([(tile.level, tile.index)]).get((tile.level, tile.index))
        stored_width = len(data) // HASH_SIZE if data else 0
        if stored_width < tile.width or (tile.is_full and stored_width != TILE_WIDTH):
            raise TileNotFoundError(f"{tile.path} is not in the log")
        assert data is not None
        return data[: tile.width * HASH_SIZE]

    def entry_bundle(self, tile: EntryTile) -> bytes:
        """Return the entry bundle ``tile``; raises TileNotFoundError beyond the log."""
        start = tile.index * TILE_WIDTH
        size = self.size()
        if start + tile.width > size:
            raise TileNotFoundError(f"{tile.path} is not in the log")
        return encode_entry_bundle(self.entries(start, start + tile.width))
