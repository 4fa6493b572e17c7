"""C2SP tlog-witness: the add-checkpoint protocol, a witness, its state, and a client.

A witness keeps, for every log it trusts, the latest checkpoint it cosigned (size and
root). It cosigns a new checkpoint only when the log proves it consistent with that
one, so it never cosigns two views of a log that fork or roll back (tlog-witness
§add-checkpoint). Its cosignatures are C2SP tlog-cosignature signature lines (type
0x04 Ed25519 or 0x06 ML-DSA-44, see :mod:`cosignatory.tlog.note`).

The errors of the protocol, each with the HTTP status tlog-witness gives it::

    TlogError
    └── WitnessError                    E_WITNESS
        ├── WitnessRequestError         E_WITNESS_REQUEST      400 malformed request
        ├── WitnessForbiddenError       E_WITNESS_FORBIDDEN    403 no trusted signature
        ├── WitnessUnknownLogError      E_WITNESS_UNKNOWN_LOG  404 origin not trusted
        ├── WitnessConflictError        E_WITNESS_CONFLICT     409 old size or root differs
        ├── WitnessProofError           E_WITNESS_PROOF        422 consistency proof fails
        └── WitnessUnavailableError     E_WITNESS_UNAVAILABLE  (client: no usable answer)
"""

from __future__ import annotations

import logging
import re
import sqlite3
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Protocol

from cosignatory.tlog.checkpoint import MAX_SIZE, Checkpoint, open_checkpoint
from cosignatory.tlog.errors import (
    MalformedCheckpointError,
    MalformedNoteError,
    ProofInvalidError,
    SignatureInvalidError,
    TlogError,
    UnverifiedNoteError,
)
from cosignatory.tlog.hashing import HASH_SIZE
from cosignatory.tlog.note import (
    MAX_NOTE_BYTES,
    KeyType,
    Note,
    Signature,
    Signer,
    Verifier,
    _b64decode_strict,
    _b64encode,
)
from cosignatory.tlog.proofs import verify_consistency

__all__ = [
    "MAX_PROOF_LINES",
    "MAX_REQUEST_BYTES",
    "SIZE_CONTENT_TYPE",
    "AddCheckpointRequest",
    "MemoryWitnessState",
    "SQLiteWitnessState",
    "TreeHead",
    "Witness",
    "WitnessConflictError",
    "WitnessError",
    "WitnessForbiddenError",
    "WitnessProofError",
    "WitnessRequestError",
    "WitnessState",
    "WitnessUnavailableError",
    "WitnessUnknownLogError",
    "format_add_checkpoint_request",
    "parse_add_checkpoint_request",
    "submit",
    "verified_cosignatures",
]

_log = logging.getLogger(__name__)

MAX_PROOF_LINES = 63
"""tlog-witness: a client MUST NOT send more than 63 consistency proof lines."""
MAX_REQUEST_BYTES = MAX_NOTE_BYTES + 4096
"""The largest add-checkpoint body accepted: a note, the old line, 63 proof lines."""
SIZE_CONTENT_TYPE = "text/x.tlog.size"
"""The Content-Type of a 409 answer, whose body is the witness's size (tlog-witness)."""

# tlog-witness: "old", a space, ASCII decimal with no leading zeroes.
_OLD_LINE = re.compile(r"old (0|[1-9][0-9]{0,18})")
_COSIGNER_TYPES = (KeyType.COSIGNATURE_ED25519, KeyType.MLDSA44)


class WitnessError(TlogError):
    """Base of the witness protocol's errors; ``status`` is the HTTP status it answers."""

    code = "E_WITNESS"
    status: ClassVar[int] = 500


class WitnessRequestError(WitnessError):
    """The add-checkpoint body is malformed, or its old size exceeds the checkpoint's."""

    code = "E_WITNESS_REQUEST"
    status = 400


class WitnessForbiddenError(WitnessError):
    """No signature on the checkpoint verifies with a key trusted for its origin."""

    code = "E_WITNESS_FORBIDDEN"
    status = 403


class WitnessUnknownLogError(WitnessError):
    """The witness trusts no key for the checkpoint's origin."""

    code = "E_WITNESS_UNKNOWN_LOG"
    status = 404


class WitnessConflictError(WitnessError):
    """The old size is not the witness's, or the same size comes with another root.

    ``known_size`` is the size of the latest checkpoint the witness cosigned (0 if none).
    """

    code = "E_WITNESS_CONFLICT"
    status = 409

    def __init__(self, message: str, known_size: int) -> None:
        super().__init__(message)
        self.known_size = known_size


class WitnessProofError(WitnessError):
    """The consistency proof from the old size to the checkpoint does not verify."""

    code = "E_WITNESS_PROOF"
    status = 422


class WitnessUnavailableError(WitnessError):
    """The witness could not be reached or gave no answer the protocol allows."""

    code = "E_WITNESS_UNAVAILABLE"
    status = 502


_BY_STATUS: dict[int, type[WitnessError]] = {
    cls.status: cls
    for cls in (
        WitnessRequestError,
        WitnessForbiddenError,
        WitnessUnknownLogError,
        WitnessProofError,
    )
}


# -- the request ------------------------------------------------------------------


@dataclass(frozen=True)
class AddCheckpointRequest:
    """An add-checkpoint body: the old size, the consistency proof, the checkpoint note.

    Building one raises WitnessRequestError if the old size is out of range, there are
    more than 63 proof hashes, or a hash is not 32 bytes. The note is not checked here.
    """

    old_size: int
    proof: tuple[bytes, ...]
    checkpoint: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "proof", tuple(bytes(h) for h in self.proof))
        if isinstance(self.old_size, bool) or not 0 <= self.old_size <= MAX_SIZE:
            raise WitnessRequestError(f"old size must be in 0..{MAX_SIZE}")
        if len(self.proof) > MAX_PROOF_LINES:
            raise WitnessRequestError(f"more than {MAX_PROOF_LINES} consistency proof lines")
        if any(len(h) != HASH_SIZE for h in self.proof):
            raise WitnessRequestError("a consistency proof hash is not 32 bytes")


def parse_add_checkpoint_request(body: bytes) -> AddCheckpointRequest:
    """Parse an add-checkpoint body (tlog-witness §add-checkpoint).

    The body is ``old <size>\\n``, one base64 hash a line, an empty line, then the
    checkpoint note. Returns the request. Raises WitnessRequestError if the body is too
    long or not UTF-8, the old line is not canonical decimal, a proof line is not
    canonical base64 of 32 bytes, there are more than 63, or no empty line follows.
    """
    if len(body) > MAX_REQUEST_BYTES:
        raise WitnessRequestError(f"request is longer than {MAX_REQUEST_BYTES} bytes")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise WitnessRequestError("request is not valid UTF-8") from None
    # The proof lines hold no empty line, so the first one ends them.
    head, sep, note = text.partition("\n\n")
    if not sep:
        raise WitnessRequestError("request has no empty line before the checkpoint")
    old_line, *proof_lines = head.split("\n")
    found = _OLD_LINE.fullmatch(old_line)
    if found is None:
        raise WitnessRequestError("first line is not 'old <size>' in canonical decimal")
    if len(proof_lines) > MAX_PROOF_LINES:
        raise WitnessRequestError(f"more than {MAX_PROOF_LINES} consistency proof lines")
    proof = []
    for line in proof_lines:
        node = _b64decode_strict(line)
        if node is None or len(node) != HASH_SIZE:
            raise WitnessRequestError("a consistency proof line is not base64 of 32 bytes")
        proof.append(node)
    return AddCheckpointRequest(int(found.group(1)), tuple(proof), note)


def format_add_checkpoint_request(old_size: int, proof: Sequence[bytes], checkpoint: str) -> bytes:
    """Return the add-checkpoint body that `parse_add_checkpoint_request` parses back.

    Raises WitnessRequestError for an old size or proof the protocol cannot carry.
    """
    request = AddCheckpointRequest(old_size, tuple(proof), checkpoint)
    lines = [f"old {request.old_size}", *(_b64encode(h) for h in request.proof)]
    return ("".join(line + "\n" for line in lines) + "\n" + checkpoint).encode("utf-8")


# -- the state ----------------------------------------------------------------------


@dataclass(frozen=True)
class TreeHead:
    """The latest checkpoint a witness cosigned for one log: its size and root hash."""

    size: int
    root: bytes


class WitnessState(Protocol):
    """Where a witness keeps the latest tree head it cosigned, per log origin."""

    def latest(self, origin: str) -> TreeHead | None:
        """Return the tree head last cosigned for ``origin``, or None if never."""
        ...

    def advance(self, origin: str, old: TreeHead | None, new: TreeHead) -> None:
        """Replace ``old`` by ``new`` for ``origin`` as one atomic compare-and-swap.

        Returns once ``new`` is durable. Raises WitnessConflictError, changing nothing,
        if the stored head is no longer ``old``.
        """
        ...


def _check_advance(old: TreeHead | None, new: TreeHead) -> None:
    # Defence in depth: the witness has already checked consistency.
    if old is not None and new.size < old.size:
        raise ValueError("a witness's tree head never moves to a smaller size")


def _conflict(current: TreeHead | None) -> WitnessConflictError:
    size = current.size if current is not None else 0
    return WitnessConflictError(f"the witness's latest cosigned size is now {size}", size)


class MemoryWitnessState:
    """A :class:`WitnessState` in memory, for tests."""

    def __init__(self) -> None:
        self._heads: dict[str, TreeHead] = {}
        self._lock = threading.Lock()

    def latest(self, origin: str) -> TreeHead | None:
        """See :meth:`WitnessState.latest`."""
        with self._lock:
            return self._heads.get(origin)

    def advance(self, origin: str, old: TreeHead | None, new: TreeHead) -> None:
        """See :meth:`WitnessState.advance`."""
        _check_advance(old, new)
        with self._lock:
            current = self._heads.get(origin)
            if current != old:
                raise _conflict(current)
            self._heads[origin] = new


class SQLiteWitnessState:
    """A :class:`WitnessState` in an SQLite file, safe across threads and processes.

    WAL with ``synchronous=FULL``: a committed head survives a power cut. The
    compare-and-swap runs in one ``BEGIN IMMEDIATE`` transaction, which holds the
    database's write lock from its first read, so two submissions can never both pass
    the check and the later commit roll the earlier back (tlog-witness's race).
    """

    def __init__(self, path: str | Path, *, timeout: float = 30.0) -> None:
        """Open (creating if needed) the state file. Raises sqlite3.Error if unusable."""
        self._conn = sqlite3.connect(
            str(path), timeout=timeout, isolation_level=None, check_same_thread=False
        )
        self._lock = threading.Lock()
        with self._lock:
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=FULL")
            self._conn.execute(
                "CREATE TABLE IF NOT EXISTS witness_head ("
                " origin TEXT PRIMARY KEY,"
                " size INTEGER NOT NULL CHECK (size >= 0),"
                " root BLOB NOT NULL CHECK (length(root) = 32)"
                ") STRICT"
            )

    def close(self) -> None:
        """Close the database connection."""
        with self._lock:
            self._conn.close()

    def _read(self, origin: str) -> TreeHead | None:
        row = self._conn.execute(
            "SELECT size, root FROM witness_head WHERE origin = ?", (origin,)
        ).fetchone()
        return None if row is None else TreeHead(int(row[0]), bytes(row[1]))

    def latest(self, origin: str) -> TreeHead | None:
        """See :meth:`WitnessState.latest`."""
        with self._lock:
            return self._read(origin)

    def advance(self, origin: str, old: TreeHead | None, new: TreeHead) -> None:
        """See :meth:`WitnessState.advance`."""
        _check_advance(old, new)
        with self._lock, self._transaction():
            current = self._read(origin)
            if current != old:
                raise _conflict(current)
            self._conn.execute(
                "INSERT INTO witness_head (origin, size, root) VALUES (?, ?, ?) "
                "ON CONFLICT (origin) DO UPDATE SET size = excluded.size, root = excluded.root",
                (origin, new.size, new.root),
            )

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")


# -- the witness --------------------------------------------------------------------


class Witness:
    """A tlog-witness: checks add-checkpoint requests and cosigns consistent checkpoints.

    ``signers`` are the witness's cosigning keys (type 0x04 or 0x06), each adding one
    line to every answer; ``trusted_logs`` the logs' verifier keys, each named after
    the origin it vouches for. Raises ValueError for a key of the wrong type, no
    signer, or two log keys with the same name and key ID.
    """

    def __init__(
        self,
        signers: Sequence[Signer],
        trusted_logs: Sequence[Verifier],
        state: WitnessState,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not signers:
            raise ValueError("a witness needs a cosigning key")
        for signer in signers:
            if signer.key_type not in _COSIGNER_TYPES:
                raise ValueError(f"{signer.name}: a witness key cosigns (type 0x04 or 0x06)")
        self.signers = tuple(signers)
        self.verifiers = tuple(s.verifier() for s in self.signers)
        self._logs: dict[str, list[Verifier]] = {}
        for verifier in trusted_logs:
            keys = self._logs.setdefault(verifier.name, [])
            if any(k.key_id == verifier.key_id and k != verifier for k in keys):
                raise ValueError(f"two keys for {verifier.name} share the key ID")
            if verifier not in keys:
                keys.append(verifier)
        self.state = state
        self._clock = clock

    @property
    def origins(self) -> tuple[str, ...]:
        """The origins of the logs this witness cosigns, sorted."""
        return tuple(sorted(self._logs))

    def add_checkpoint(self, body: bytes) -> str:
        """Handle one add-checkpoint request body (tlog-witness §add-checkpoint).

        Returns the cosignature lines, each ending in a newline, once the new tree head
        is durable. Raises WitnessRequestError (400), WitnessForbiddenError (403),
        WitnessUnknownLogError (404), WitnessConflictError (409) or WitnessProofError
        (422); a refused request changes nothing.
        """
        request = parse_add_checkpoint_request(body)
        try:
            note = Note.from_text(request.checkpoint)
            cp = Checkpoint.from_text(note.text)
        except (MalformedNoteError, MalformedCheckpointError) as error:
            raise WitnessRequestError(f"not a signed checkpoint: {error}") from None
        verifiers = self._logs.get(cp.origin)
        if verifiers is None:
            raise WitnessUnknownLogError(f"this witness does not know the log {cp.origin!r}")
        try:
            open_checkpoint(request.checkpoint, verifiers, origin=cp.origin)
        except (UnverifiedNoteError, SignatureInvalidError) as error:
            raise WitnessForbiddenError(f"checkpoint signature: {error}") from None
        if request.old_size > cp.size:
            raise WitnessRequestError(f"old size {request.old_size} exceeds size {cp.size}")
        current = self.state.latest(cp.origin)
        self._check(cp, request, current)
        lines = self._cosign(note.text)
        # tlog-witness: persist before answering; the swap fails if another request won.
        self.state.advance(cp.origin, current, TreeHead(cp.size, cp.root))
        return lines

    def _check(
        self, cp: Checkpoint, request: AddCheckpointRequest, current: TreeHead | None
    ) -> None:
        note_text = request.checkpoint
        known = current.size if current is not None else 0
        if request.old_size != known:
            raise WitnessConflictError(
                f"old size {request.old_size} is not the witness's size {known}", known
            )
        if current is not None and cp.size == current.size:
            if cp.root != current.root:
                # Evidence of a fork: a validly signed checkpoint of a size already cosigned,
                # with another root. tlog-witness lets the witness keep it: it is logged.
                _log.warning("fork: %s size %d, another root: %r", cp.origin, cp.size, note_text)
                raise WitnessConflictError(f"size {cp.size} was cosigned with another root", known)
            if request.proof:
                raise WitnessProofError("sizes are equal but the consistency proof is not empty")
        elif current is None or current.size == 0:
            # The empty tree is a prefix of every tree; the proof MUST be empty.
            if request.proof:
                raise WitnessProofError("old size is 0 but the consistency proof is not empty")
        else:
            try:
                verify_consistency(current.size, cp.size, current.root, cp.root, request.proof)
            except ProofInvalidError as error:
                _log.warning(
                    "inconsistent: %s %d -> %d: %s: %r", cp.origin, known, cp.size, error, note_text
                )
                raise WitnessProofError(str(error)) from None

    def _cosign(self, text: str) -> str:
        timestamp = int(self._clock())
        lines = []
        for signer in self.signers:
            try:
                sig = signer.sign_note(text, timestamp)
            except MalformedNoteError as error:  # e.g. an origin too long for ML-DSA-44
                raise WitnessRequestError(f"cannot cosign this checkpoint: {error}") from None
            lines.append(Signature(signer.name, signer.key_id, sig).to_line() + "\n")
        return "".join(lines)


# -- the client ---------------------------------------------------------------------


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None  # a redirected POST would lose its body: report the 3xx instead


_OPENER = urllib.request.build_opener(_NoRedirects)


def submit(
    url: str,
    old_size: int,
    proof: Sequence[bytes],
    checkpoint_note: str,
    *,
    timeout: float = 10.0,
) -> list[str]:
    """POST an add-checkpoint request to the witness whose submission prefix is ``url``.

    Returns the signature lines of the answer, without newlines and unverified: check
    them with :func:`verified_cosignatures`. Raises WitnessConflictError (with the
    witness's ``known_size``), WitnessRequestError, WitnessForbiddenError,
    WitnessUnknownLogError or WitnessProofError for the witness's refusals, and
    WitnessUnavailableError if it cannot be reached in ``timeout`` seconds or answers
    outside the protocol. Raises ValueError for a URL that is not http(s).
    """
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"a witness URL is http:// or https://, not {url!r}")
    request = urllib.request.Request(  # noqa: S310 (the scheme is checked above)
        url.rstrip("/") + "/add-checkpoint",
        data=format_add_checkpoint_request(old_size, proof, checkpoint_note),
        method="POST",
        headers={"Content-Type": "text/plain; charset=utf-8"},
    )
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            body = response.read(MAX_REQUEST_BYTES)
    except urllib.error.HTTPError as error:
        with error:
            refusal = _refusal(error.code, error.headers.get("Content-Type", ""), error.read(4096))
        raise refusal from None
    except (OSError, ValueError) as error:  # URLError, timeouts, resets, bad URLs
        raise WitnessUnavailableError(f"witness {url}: {error}") from None
    return _signature_lines(url, body)


def _refusal(status: int, content_type: str, body: bytes) -> WitnessError:
    text = body.decode("utf-8", "replace").strip()
    if status == WitnessConflictError.status:
        if content_type.split(";")[0].strip() == SIZE_CONTENT_TYPE and re.fullmatch(
            r"0|[1-9][0-9]{0,18}", text
        ):
            return WitnessConflictError(f"witness has size {text}", int(text))
        return WitnessUnavailableError(f"409 without a {SIZE_CONTENT_TYPE} body")
    kind = _BY_STATUS.get(status)
    if kind is None:
        return WitnessUnavailableError(f"witness answered HTTP {status}: {text[:200]}")
    return kind(f"witness refused (HTTP {status}): {text[:200]}")


def _signature_lines(url: str, body: bytes) -> list[str]:
    try:
        text = body.decode("utf-8")
        lines = text.split("\n")
        if not text.endswith("\n") or len(lines) < 2:
            raise MalformedNoteError("the answer is not newline-terminated signature lines")
        for line in lines[:-1]:
            Signature.from_line(line)
    except (UnicodeDecodeError, MalformedNoteError) as error:
        raise WitnessUnavailableError(f"witness {url} answered 200 with {error}") from None
    return lines[:-1]


def verified_cosignatures(
    checkpoint_note: str, lines: Sequence[str], witness: Verifier
) -> list[tuple[str, int]]:
    """Return the lines among ``lines`` that are ``witness``'s cosignatures of the note.

    Each result is (line, timestamp). Lines by other keys are ignored, as tlog-witness
    requires of clients. Raises ValueError if ``witness`` is not a cosigning key (0x04
    or 0x06), MalformedNoteError if the note or a line is malformed,
    SignatureInvalidError if a line by ``witness`` does not verify, and
    UnverifiedNoteError if no line is by it.
    """
    if witness.key_type not in _COSIGNER_TYPES:
        raise ValueError(f"{witness.name}: a witness key cosigns (type 0x04 or 0x06)")
    text = Note.from_text(checkpoint_note).text
    found = []
    for line in lines:
        sig = Signature.from_line(line)
        if (sig.name, sig.key_id) == (witness.name, witness.key_id):
            timestamp = witness.verify_note(text, sig.signature)
            found.append((line, timestamp or 0))
    if not found:
        raise UnverifiedNoteError(f"no cosignature by {witness.name} in the answer")
    return found
