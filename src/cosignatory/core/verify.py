"""The offline verifier: check a bundle from its first line to its last, and replay it.

:func:`verify_bundle` reads a bundle (:mod:`cosignatory.core.bundle`) line by line
and checks, in order:

1. the checkpoint: signed by a trusted log key, cosigned as the trust policy's witness
   quorum requires (:class:`cosignatory.tlog.policy.Policy`);
2. every entry: in increasing index order, its inclusion proof leads to the
   checkpoint's root (RFC 9162 §2.1.3.2), it is a well-formed event in canonical form,
   about the bundle's letter or the reference data it relies on, and the register's
   rules accept it (:meth:`cosignatory.core.state.Register.apply`: the registrar's
   seal, every self-signed signature's key, mandate, statement and text hash, every
   attestation, the letter's lifecycle);
3. the end line: the count and digest of the entries, sealed by a registrar key the
   bundle introduced and did not revoke.

Memory stays constant apart from the register's state, and that state is kept on
disk past a few tens of thousands of parties and signatures (:mod:`cosignatory.core.spill`).
Any failure raises the error of the check that failed, its message prefixed with the
line and entry.

What needs no state (a line's structure, its inclusion proof, the event's form, and
the Ed25519 signatures whose keys the nearby lines or the registrar's keys give) is
checked ahead, in a pool of processes on every core, a few hundred lines a task; the
rules then run in this process, in order, and verify here any signature the pool did
not (:class:`_CheckedRegister`). A line the pool finds unsound is read again here, so
the error and its message are the same with or without the pool.

A bundle holds one letter's events, not the whole log, so the replay is *partial*:
the rules run unchanged, except that a session's series counter starts at the number
before the letter's registration (the letters registered before it are not in the
bundle). What a bundle cannot show: that no event about another letter reused the
letter's symbol, or that a public key was not registered twice in events it does
not hold; the registrar checked both when it recorded them (``docs/bundle.md``).
"""

from __future__ import annotations

import base64
import itertools
from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from cosignatory.core.bundle import (
    BundleLetterError,
    BundleOrderError,
    BundleSealError,
    Digest,
    End,
    Entry,
    IncompleteBundleError,
    MalformedBundleError,
    Manifest,
    TruncatedBundleError,
    parse_header,
    parse_line,
)
from cosignatory.core.events import Event, format_time
from cosignatory.core.signatories import latest_records
from cosignatory.core.sigpool import cores, process_pool, verify_one
from cosignatory.core.spill import HOT, SpillDict, SpillFile
from cosignatory.core.state import Register
from cosignatory.core.state_rows import IDS, PARTIES, REPRESENTATIVES, SIGNATURES, TIMES
from cosignatory.core.statements import Statement
from cosignatory.errors import CosignatoryError
from cosignatory.tlog.checkpoint import Checkpoint, open_checkpoint
from cosignatory.tlog.errors import ProofInvalidError, ProofRangeError
from cosignatory.tlog.hashing import leaf_hash
from cosignatory.tlog.note import Verifier
from cosignatory.tlog.policy import Policy
from cosignatory.tlog.proofs import verify_consistency

__all__ = [
    "BundleSignatory",
    "ConsistencyError",
    "VerifiedBundle",
    "check_consistency",
    "consistency_sizes",
    "open_older_checkpoint",
    "verify_bundle",
]


V = TypeVar("V")


class ConsistencyError(ProofInvalidError):
    """The log at an older checkpoint is not proven a prefix of the bundle's log."""

    code = "E_CONSISTENCY"


def _named(error: CosignatoryError, where: str) -> CosignatoryError:
    """The same error (class and code), its message prefixed with where it happened."""
    try:
        named = type(error)(f"{where}: {error}")
    except TypeError:  # an error class that takes other arguments: keep it as it is
        return error
    named.__cause__ = error.__cause__
    return named


@dataclass(frozen=True, slots=True)
class BundleSignatory:
    """One party's standing on the letter at the bundle's checkpoint."""

    signature: str
    log_index: int | None
    party: str
    party_kind: str
    party_names: Mapping[str, str]
    action: str
    version: int
    at: datetime
    evidence: str
    representative: str | None
    withdrawn_at: datetime | None
    on_earlier_version: bool
    voided: bool
    # When the key of a self-signed signature was revoked, after the signature (a
    # revoked key signs nothing later): the signature stands, made before the revocation.
    key_revoked_at: datetime | None = None

    @property
    def active(self) -> bool:
        """Counted as a signatory: not withdrawn and not voided."""
        return self.withdrawn_at is None and not self.voided

    def party_name(self, language: str = "en") -> str:
        """The party's name in ``language``, else in any language it has."""
        return self.party_names.get(language) or next(iter(self.party_names.values()), self.party)

    def to_json(self) -> dict[str, Any]:
        return {
            "signature_id": self.signature,
            "log_index": self.log_index,
            "party": self.party,
            "party_name": self.party_name(),
            "party_names": dict(self.party_names),
            "kind": self.party_kind,
            "action": self.action,
            "version": self.version,
            "signed_at": format_time(self.at),
            "evidence": self.evidence,
            "representative": self.representative,
            "withdrawn_at": format_time(self.withdrawn_at) if self.withdrawn_at else None,
            "on_earlier_version": self.on_earlier_version,
            "voided": self.voided,
            "active": self.active,
            "key_revoked_at": format_time(self.key_revoked_at) if self.key_revoked_at else None,
        }


@dataclass
class VerifiedBundle:
    """What a bundle proves: the letter's state at the checkpoint, replayed by the rules."""

    letter: str
    checkpoint: Checkpoint
    witnesses: tuple[str, ...]
    entries: int
    register: Register
    texts: dict[int, dict[str, str]] = field(default_factory=dict)

    def signatories(self) -> list[BundleSignatory]:
        """Each party's latest signature at the checkpoint (see core.signatories)."""
        return list(self.iter_signatories())

    def iter_signatories(self) -> Iterator[BundleSignatory]:
        """:meth:`signatories` one at a time: a million rows need not be held at once."""
        letter = self.register.letters[self.letter]
        current = letter.current_version
        for record in latest_records(letter):
            party = _read(self.register.parties, record.party)
            key = self.register.keys.get(record.key or "")
            yield BundleSignatory(
                record.id,
                record.log_index,
                record.party,
                party.kind,
                party.names,
                record.action,
                record.version,
                record.at,
                record.evidence,
                record.representative,
                record.withdrawn_at,
                record.version < current,
                record.voided,
                key.revoked_at if key is not None else None,
            )

    def to_json(self) -> dict[str, Any]:
        """The result as the ``--json`` document (with every row: see :meth:`json_head`)."""
        rows = [row.to_json() for row in self.iter_signatories()]
        return {
            **self.json_head(len(rows), sum(row["active"] for row in rows)),
            "signatories": rows,
        }

    def json_head(self, count: int, active: int) -> dict[str, Any]:
        """The ``--json`` document but its ``signatories``, for ``count`` rows of which
        ``active`` are active: the CLI writes the rows after it one at a time."""
        letter = self.register.letters[self.letter]
        return {
            "verified": True,
            "letter": self.letter,
            "status": letter.status,
            "accessions_open": letter.accessions_open,
            "symbol": letter.symbol,
            "current_version": letter.current_version,
            "versions": [
                {"version": number, "text_hash": letter.versions[number], "texts": texts}
                for number, texts in sorted(self.texts.items())
            ],
            "checkpoint": {
                "origin": self.checkpoint.origin,
                "size": self.checkpoint.size,
                "root": base64.b64encode(self.checkpoint.root).decode("ascii"),
            },
            "witnesses": list(self.witnesses),
            "entries": self.entries,
            "count": count,
            "active": active,
        }


@dataclass
class _CheckedRegister(Register):
    """A register told which keys the next event's seal and statement verified with.

    The pool checks signatures before the rules run (:func:`_check_lines`): a seal or
    statement checked there with the very key the rules pick is not checked again;
    anything else (another key, no key, not checked) is verified here, as
    :class:`Register` does. Every rule still runs, in the same order.
    """

    seal_checked: bytes | None = None
    statement_checked: bytes | None = None

    def _verify_seal(self, event: Event, public_key: bytes) -> None:
        if public_key != self.seal_checked:
            super()._verify_seal(event, public_key)

    def _verify_statement(self, statement: Statement, signature: bytes, public_key: bytes) -> None:
        if public_key != self.statement_checked:
            super()._verify_statement(statement, signature, public_key)


class _Replay:
    """The register's rules over one letter's events (the partial replay above).

    The state a large letter piles up (a party and a signature record for each of a
    million persons) is kept in a :class:`SpillFile`: the recent part as objects, the
    rest on disk, written out between events.
    """

    def __init__(self, letter: str, spill: SpillFile) -> None:
        self.letter = letter
        self.spill = spill
        self.register = _CheckedRegister(
            parties=spill.mapping(PARTIES), representatives=spill.mapping(REPRESENTATIVES)
        )
        self.texts: dict[int, dict[str, str]] = {}

    def apply(
        self,
        event: Event,
        index: int,
        seal_checked: bytes | None = None,
        statement_checked: bytes | None = None,
    ) -> None:
        d = event.data
        about = d["id"] if event.type == "letter.created" else d.get("letter")
        if about is not None and about != self.letter:
            raise BundleLetterError(f"a {event.type} about letter {about}, not {self.letter}")
        if event.type == "letter.registered":
            session = self.register.sessions.get(d["session"])
            # Partial replay: the series' earlier numbers went to letters not in the
            # bundle. Numbers used within the bundle still count.
            if session is not None and session.counters.get(d["series"], 0) < d["number"] - 1:
                session.counters[d["series"]] = d["number"] - 1
        self.register.seal_checked = seal_checked
        self.register.statement_checked = statement_checked
        self.register.apply(event, index)
        if event.type == "letter.created":  # its signatures, new and empty
            letter = self.register.letters[d["id"]]
            letter.signatures = self.spill.mapping(SIGNATURES)
            letter.active = self.spill.mapping(IDS)
            letter.last_act = self.spill.mapping(TIMES)
        elif event.type == "letter.text_version_added":
            self.texts[d["version"]] = dict(d["texts"])
        self.spill.spill()


# -- checking lines ahead, on every core ------------------------------------------------

CHUNK_LINES = 256
"""Bundle lines per task of the pool."""
AHEAD = 4
"""Tasks handed out per worker before the oldest one's result is waited for."""


@dataclass(frozen=True)
class _Checked:
    """What a worker found on a sound entry line: its structure, inclusion proof and
    event are valid. ``seal_key`` and ``statement_key`` are the public keys the seal and
    the self-signed statement verified with (None: not checked there)."""

    index: int
    leaf: bytes
    event: Event
    seal_key: bytes | None
    statement_key: bytes | None


def _check_lines(
    checkpoint: Checkpoint, registrar_keys: Mapping[str, bytes], lines: Sequence[bytes]
) -> list[_Checked | None]:
    """Check what can be checked of each line without the register's state.

    A task of the pool (module level, so that it pickles by name). None for a line that
    is not a sound entry (the end line, a malformed line, a proof or an event that
    fails): the verifier reads that line again itself, in order, and raises what it
    finds. Seals are checked with ``registrar_keys`` (id to raw public key) and the
    registrar keys the lines introduce, statements with the keys the lines register:
    a key registered in an earlier chunk leaves the statement to the rules.
    """
    registrar = dict(registrar_keys)
    keys: dict[str, bytes] = {}
    return [_check_line(raw, checkpoint, registrar, keys) for raw in lines]


def _check_line(
    raw: bytes, checkpoint: Checkpoint, registrar: dict[str, bytes], keys: dict[str, bytes]
) -> _Checked | None:
    try:
        item = parse_line(raw, 0)
        if not isinstance(item, Entry):
            return None
        leaf = leaf_hash(item.entry)
        item.proof.verify(leaf, checkpoint)
        event, signed = Event.from_entry(item.entry)
    except CosignatoryError:
        return None
    d = event.data
    try:
        if event.type == "registrar.key_added":
            registrar.setdefault(d["key"], base64.b64decode(d["public_key"]))
        elif event.type == "key.registered":
            keys.setdefault(d["id"], base64.b64decode(d["public_key"]))
    except (KeyError, TypeError, ValueError):
        pass  # the rules will say what is wrong with it
    seal_key = registrar.get(event.registrar_key)
    if seal_key is not None and not verify_one((seal_key, event.registrar_sig, signed)):
        seal_key = None
    return _Checked(item.index, leaf, event, seal_key, _statement_key(event, keys))


def _statement_key(event: Event, keys: Mapping[str, bytes]) -> bytes | None:
    """The key a self-signed signature's statement verified with, if it is in ``keys``."""
    evidence = event.data.get("evidence") if event.type == "signature.recorded" else None
    if not isinstance(evidence, Mapping) or evidence.get("kind") != "self-signed":
        return None
    public_key = keys.get(evidence.get("key", ""))
    if public_key is None:
        return None
    try:
        statement = Statement.from_json(evidence["statement"])
        signature = base64.b64decode(evidence["signature"])
    except (CosignatoryError, KeyError, TypeError, ValueError):
        return None
    return public_key if verify_one((public_key, signature, statement.signed_bytes())) else None


Numbered = tuple[int, bytes]


def _checked_lines(
    numbered: Iterable[Numbered],
    checkpoint: Checkpoint,
    register: Register,
    workers: int | None,
) -> Generator[tuple[int, bytes, _Checked | None], None, None]:
    """Yield each ``(number, line)`` with what :func:`_check_lines` found on it, in order.

    The lines are checked CHUNK_LINES at a time: in a pool of ``workers`` processes (by
    default one per core), up to AHEAD chunks a worker ahead of the caller, or in this
    process when there is one worker or the bundle fits in one chunk. The registrar's
    keys are taken from ``register`` when each chunk is handed out, once the caller has
    replayed the first.
    """
    chunks = _chunks(numbered)
    first = next(chunks, [])
    second = next(chunks, None)
    count = cores() if workers is None else max(1, workers)
    if second is None or count == 1:
        for chunk in itertools.chain([first], [] if second is None else [second], chunks):
            found = _check_lines(checkpoint, _registrar_keys(register), [raw for _, raw in chunk])
            yield from _joined(chunk, found)
        return
    pool = process_pool(count)
    pending: deque[tuple[list[Numbered], Future[list[_Checked | None]]]] = deque()
    # The first chunk's results are used before the next is handed out: it introduces
    # the registrar's key, which every later seal needs.
    found = pool.submit(_check_lines, checkpoint, {}, [raw for _, raw in first]).result()
    yield from _joined(first, found)
    try:
        for chunk in itertools.chain([second], chunks):
            raws = [raw for _, raw in chunk]
            future = pool.submit(_check_lines, checkpoint, _registrar_keys(register), raws)
            pending.append((chunk, future))
            if len(pending) > AHEAD * count:
                done, future = pending.popleft()
                yield from _joined(done, future.result())
        while pending:
            done, future = pending.popleft()
            yield from _joined(done, future.result())
    finally:
        for _, future in pending:
            future.cancel()


def _chunks(numbered: Iterable[Numbered]) -> Iterator[list[Numbered]]:
    iterator = iter(numbered)
    while chunk := list(itertools.islice(iterator, CHUNK_LINES)):
        yield chunk


def _joined(
    chunk: list[Numbered], found: list[_Checked | None]
) -> Iterator[tuple[int, bytes, _Checked | None]]:
    for (number, raw), checked in zip(chunk, found, strict=True):
        yield number, raw, checked


def _registrar_keys(register: Register) -> dict[str, bytes]:
    return {key.id: key.public_key for key in register.registrar_keys.values()}


def verify_bundle(
    lines: Iterable[bytes],
    policy: Policy,
    *,
    progress: Callable[[int], object] | None = None,
    workers: int | None = None,
    hot: int = HOT,
) -> VerifiedBundle:
    """Check a bundle under the trust ``policy``; return what it proves.

    ``lines`` are the bundle's lines as bytes (see
    :func:`cosignatory.core.bundle.read_lines`); ``progress`` is called with the
    number of bytes of each line read. ``workers`` processes check the lines' proofs,
    events and signatures ahead of the rules (by default one per core; 1: this process
    alone). Past ``hot`` parties or signatures, the replay's state is kept in a
    temporary file (:mod:`cosignatory.core.spill`). Raises the CosignatoryError of the first check
    that fails, its message naming the line (and the entry): a BundleError for the
    structure, the note, checkpoint and policy errors of :mod:`cosignatory.tlog`,
    ProofInvalidError or ProofRangeError for an inclusion proof, InvalidEventError for
    an entry that is not an event, a RegisterError (or SignatureInvalidError) for an
    event the rules refuse.
    """

    def counted() -> Iterable[bytes]:
        for line in lines:
            if progress is not None:
                progress(len(line))
            yield line

    lines_left = iter(counted())
    header = parse_header(next(lines_left, None))
    try:
        witnessed = policy.open_checkpoint(header.checkpoint)
    except CosignatoryError as error:
        raise _named(error, "line 1: the checkpoint") from None
    checkpoint = witnessed.checkpoint
    replay = _Replay(header.letter, SpillFile(hot))
    digest = Digest()
    last = -1
    number = end_number = 1
    end: End | None = None
    checked = _checked_lines(enumerate(lines_left, 2), checkpoint, replay.register, workers)
    try:
        for number, raw, found in checked:
            if end is not None:
                raise MalformedBundleError(f"line {number} follows the end line")
            item = parse_line(raw, number) if found is None else found
            if isinstance(item, End):
                end, end_number = item, number
                continue
            where = f"line {number}, entry {item.index}"
            if item.index <= last:
                raise BundleOrderError(
                    f"{where} comes after entry {last}: entries are in log order, each once"
                )
            last = item.index
            if isinstance(item, _Checked):
                digest.add(item.index, item.leaf)
                event, seal_key, statement_key = item.event, item.seal_key, item.statement_key
            else:
                # Not sound in the pool's eyes: check it here, in order, to say why.
                leaf = leaf_hash(item.entry)
                try:
                    item.proof.verify(leaf, checkpoint)
                except (ProofInvalidError, ProofRangeError) as error:
                    raise _named(error, f"{where}: the entry or its proof was changed") from None
                digest.add(item.index, leaf)
                try:
                    event = Event.from_bytes(item.entry)
                except CosignatoryError as error:
                    raise _named(error, where) from None
                seal_key = statement_key = None
            try:
                replay.apply(event, item.index, seal_key, statement_key)
            except CosignatoryError as error:
                raise _named(error, where) from None
    finally:
        checked.close()
    if end is None:
        raise TruncatedBundleError(
            f"the bundle stops after line {number}, before its end line: it was cut short"
        )
    where = f"line {end_number} (end)"
    if end.entries != digest.count:
        raise IncompleteBundleError(
            f"{where}: it counts {end.entries} entries, the bundle has {digest.count}"
        )
    if end.digest != digest.hexdigest():
        raise IncompleteBundleError(
            f"{where}: its digest is not that of the entries: an entry line was removed, "
            "added or replaced"
        )
    _check_seal(
        replay.register, Manifest(header.letter, checkpoint, end.entries, end.digest), end, where
    )
    if header.letter not in replay.register.letters:
        raise BundleLetterError(f"the bundle holds no letter.created for {header.letter}")
    return VerifiedBundle(
        header.letter,
        checkpoint,
        witnessed.witnesses,
        digest.count,
        replay.register,
        replay.texts,
    )


def _read(mapping: Mapping[str, V], key: str) -> V:
    """``mapping[key]``, without keeping a spilled value as an object: the result reads
    each of a million parties once."""
    return mapping.peek(key) if isinstance(mapping, SpillDict) else mapping[key]


def _check_seal(register: Register, manifest: Manifest, end: End, where: str) -> None:
    key = register.registrar_keys.get(end.seal_key)
    if key is None:
        raise BundleSealError(
            f"{where}: sealed by {end.seal_key!r}, not a registrar key in the bundle"
        )
    if key.revoked_at is not None:
        raise BundleSealError(f"{where}: sealed by registrar key {key.id}, which was revoked")
    try:
        Ed25519PublicKey.from_public_bytes(key.public_key).verify(end.seal, manifest.signed_bytes())
    except (InvalidSignature, ValueError):
        raise BundleSealError(f"{where}: the registrar's seal does not verify") from None


# -- consistency with an older checkpoint -------------------------------------------------


def consistency_sizes(older: Checkpoint, checkpoint: Checkpoint) -> tuple[int, int] | None:
    """Return the (old, new) sizes a consistency proof between two checkpoints spans,
    smaller first; None when no proof is needed (equal sizes, or an empty tree)."""
    small, large = sorted((older.size, checkpoint.size))
    if small == 0 or small == large:
        return None
    return small, large


def open_older_checkpoint(
    older_note: str | bytes, checkpoint: Checkpoint, logs: Sequence[Verifier]
) -> Checkpoint:
    """Verify an older checkpoint with the log keys ``logs``, for ``checkpoint``'s origin.

    Witnesses are not required on it. Returns its Checkpoint. Raises what
    ``open_checkpoint`` raises, the message prefixed with "the older checkpoint".
    """
    try:
        return open_checkpoint(older_note, logs, origin=checkpoint.origin)
    except CosignatoryError as error:
        raise _named(error, "the older checkpoint") from None


def check_consistency(
    older: Checkpoint, checkpoint: Checkpoint, proof: Sequence[bytes] | None
) -> None:
    """Check that the log only grew between two verified checkpoints of one log.

    ``proof`` is the RFC 6962 consistency proof between their sizes, smaller first
    (see :func:`consistency_sizes`; None when none is needed). Returns None. Raises
    ConsistencyError (E_CONSISTENCY) if it does not verify: the checkpoints are of
    different histories (a fork), or the proof is wrong or missing.
    """
    small, large = sorted((older, checkpoint), key=lambda cp: cp.size)
    what = f"the log at size {small.size} is not proven a prefix of the log at size {large.size}"
    if small.size == 0:
        return
    if small.size == large.size:
        if small.root != large.root:
            raise ConsistencyError(f"{what}: two different roots for one size (a fork)")
        return
    if proof is None:
        raise ConsistencyError(f"{what}: no consistency proof was given")
    try:
        verify_consistency(small.size, large.size, small.root, large.root, proof)
    except (ProofInvalidError, ProofRangeError) as error:
        raise ConsistencyError(f"{what}: {error}") from None
