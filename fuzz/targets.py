"""The fuzz targets: one function per parser of outside data, and what it may raise.

Each target takes the fuzzer's bytes, feeds them to the parser, returns whether the
parser accepted them, and lets only the
parser's documented errors out, each with a stable ``E_...`` code and a one-line
message. Anything else (an IndexError, a ValueError or UnicodeDecodeError leaking, a
RecursionError, a failed round trip) propagates: atheris reports it as a crash,
Hypothesis as a failing example. The atheris harnesses (``fuzz/fuzz_*.py``) and the
Hypothesis tests (``tests/reliability/test_fuzz_parsers.py``) share these targets, so
both hold the parsers to one contract.

Where a parser has a writer, a parsed value must write back to the very input
(the formats have one encoding per value) or at least parse back to itself.
"""

from __future__ import annotations

import functools
import io
import re
from collections.abc import Callable
from typing import TypeVar

from cosignatory.core.bundle import read_lines
from cosignatory.core.errors import InvalidEventError, StatementError
from cosignatory.core.events import Event
from cosignatory.core.statements import SignedStatement
from cosignatory.core.verify import verify_bundle
from cosignatory.errors import CosignatoryError
from cosignatory.tlog.checkpoint import Checkpoint
from cosignatory.tlog.errors import (
    MalformedCheckpointError,
    MalformedKeyError,
    MalformedNoteError,
    MalformedTileError,
    ProofInvalidError,
    ProofRangeError,
    SignatureInvalidError,
    UnverifiedNoteError,
)
from cosignatory.tlog.hashing import leaf_hash
from cosignatory.tlog.note import Note, Signer, Verifier, open_note
from cosignatory.tlog.policy import MalformedPolicyError, Policy, WitnessQuorumError
from cosignatory.tlog.proof_format import MalformedProofError, TlogProof
from cosignatory.tlog.tiles import (
    decode_entry_bundle,
    encode_entry_bundle,
    parse_tile_path,
    split_hash_tile,
)
from cosignatory.tlog.witness import (
    WitnessError,
    WitnessRequestError,
    format_add_checkpoint_request,
    parse_add_checkpoint_request,
)
from fuzz import seeds

T = TypeVar("T")
Errors = tuple[type[CosignatoryError], ...]
NOTE_ERRORS: Errors = (
    MalformedNoteError,
    MalformedKeyError,
    SignatureInvalidError,
    UnverifiedNoteError,
)
CHECKPOINT_ERRORS: Errors = (*NOTE_ERRORS, MalformedCheckpointError, WitnessQuorumError)


_LINE_END = re.compile(rb"\r\n|\r|\n")


class ContractError(AssertionError):
    """A parser broke its contract: a bad message, or a value that does not round-trip."""


def text_of(data: bytes) -> str:
    """The fuzzer's bytes as text, invalid UTF-8 kept as lone surrogates (U+DC80..)."""
    return data.decode("utf-8", "surrogateescape")


def _refused(error: CosignatoryError) -> None:
    message = str(error)
    if not error.code.startswith("E_") or not message.strip() or "\n" in message:
        raise ContractError(f"unclear refusal {type(error).__name__}: {message!r}")


def _expect(call: Callable[[], T], allowed: Errors) -> T | None:
    """Return what ``call`` returns, or None if it raised one of ``allowed`` clearly."""
    try:
        return call()
    except allowed as error:
        _refused(error)
        return None


def _same(parsed: object, again: object, what: str) -> None:
    if parsed != again:
        raise ContractError(f"{what} does not round-trip: {parsed!r} != {again!r}")


@functools.cache
def _witnessed() -> str:
    return seeds.witnessed_checkpoint()


@functools.cache
def _verifiers() -> tuple[Verifier, ...]:
    return (seeds.LOG_KEY.verifier(), seeds.LOG_MLDSA.verifier(), seeds.WITNESS.verifier())


# -- tlog ---------------------------------------------------------------------------------


def note(data: bytes) -> bool:
    """A signed note (C2SP signed-note), as read from a file or a witness."""
    parsed = _expect(lambda: Note.from_text(data), (MalformedNoteError,))
    if parsed is not None:
        _same(parsed.to_text(), data.decode("utf-8"), "a note")
    _expect(lambda: open_note(data, _verifiers()), NOTE_ERRORS)
    _expect(lambda: seeds.POLICY.open_checkpoint(data), CHECKPOINT_ERRORS)
    return parsed is not None


def key(data: bytes) -> bool:
    """A vkey or an skey text (signed-note key encodings)."""
    text = text_of(data)
    verifier = _expect(lambda: Verifier.from_vkey(text), (MalformedKeyError,))
    if verifier is not None:
        _same(verifier.to_vkey(), text, "a vkey")
    signer = _expect(lambda: Signer.from_skey(text), (MalformedKeyError,))
    if signer is not None:
        _same(signer.to_skey(), text, "an skey")
    return verifier is not None or signer is not None


def checkpoint(data: bytes) -> bool:
    """A checkpoint body (C2SP tlog-checkpoint note text)."""
    text = text_of(data)
    parsed = _expect(lambda: Checkpoint.from_text(text), (MalformedCheckpointError,))
    if parsed is not None:
        _same(parsed.to_text(), text, "a checkpoint")
    return parsed is not None


def tile_path(data: bytes) -> bool:
    """A tile's URL path (C2SP tlog-tiles), as the log's HTTP server receives it."""
    text = text_of(data)
    tile = _expect(lambda: parse_tile_path(text), (MalformedTileError,))
    if tile is not None:
        _same(tile.path, text, "a tile path")
    return tile is not None


def tile(data: bytes) -> bool:
    """A hash tile or an entry bundle, as a tlog-tiles client downloads it."""
    entries = _expect(lambda: decode_entry_bundle(data), (MalformedTileError,))
    if entries is not None:
        _same(encode_entry_bundle(entries), data, "an entry bundle")
    hashes = _expect(lambda: split_hash_tile(data), (MalformedTileError,))
    if hashes is not None:
        _same(b"".join(hashes), data, "a hash tile")
    return entries is not None or hashes is not None


def proof(data: bytes) -> bool:
    """A ``.tlog-proof`` file (C2SP tlog-proof), parsed, then verified."""
    parsed = _expect(lambda: TlogProof.from_text(data), (MalformedProofError,))
    if parsed is None:
        return False
    _same(parsed.to_text(), data.decode("utf-8"), "a tlog-proof")
    leaf = leaf_hash(seeds.events()[1])
    _expect(
        lambda: parsed.verify(leaf, seeds.POLICY.logs),
        (*CHECKPOINT_ERRORS, ProofRangeError, ProofInvalidError),
    )
    return True


def policy(data: bytes) -> bool:
    """A trust policy file (C2SP tlog-policy), then a checkpoint opened under it."""
    errors = (MalformedPolicyError, MalformedKeyError)
    parsed = _expect(lambda: Policy.from_text(data), errors)
    # The same file read as text (invalid UTF-8 as lone surrogates) means the same.
    _same(_expect(lambda: Policy.from_text(text_of(data)), errors), parsed, "a policy as text")
    if parsed is None:
        return False
    _same(Policy.from_text(parsed.to_text()), parsed, "a policy")
    _expect(lambda: parsed.open_checkpoint(_witnessed()), CHECKPOINT_ERRORS)
    return True


def witness(data: bytes) -> bool:
    """An add-checkpoint request (C2SP tlog-witness), as a log sends it to a witness that
    has cosigned the seeds' log up to seeds.OLD_SIZE entries (fresh for each input)."""
    request = _expect(lambda: parse_add_checkpoint_request(data), (WitnessRequestError,))
    if request is None:
        return False
    again = format_add_checkpoint_request(request.old_size, request.proof, request.checkpoint)
    _same(again, data, "an add-checkpoint request")
    the_witness, _ = seeds.witness()
    return _expect(lambda: the_witness.add_checkpoint(data), (WitnessError,)) is not None


# -- core ---------------------------------------------------------------------------------


def bundle(data: bytes) -> bool:
    """A bundle file, read line by line and verified offline under the seeds' policy.

    Every check raises its own CosignatoryError (verify_bundle's docstring); nothing
    else may come out.
    """
    verified = _expect(
        lambda: verify_bundle(read_lines(io.BytesIO(data), max_line=1 << 20), seeds.POLICY),
        (CosignatoryError,),
    )
    return verified is not None


def statement(data: bytes) -> bool:
    """A signed statement file, as ``cosignatory sign`` writes it, then verified."""
    parsed = _expect(lambda: SignedStatement.from_text(text_of(data)), (StatementError,))
    if parsed is None:
        return False
    _same(SignedStatement.from_json(parsed.to_json()), parsed, "a signed statement")
    world, _ = seeds.world_log()
    public = world.keys["key-fra"].public_key().public_bytes_raw()
    _expect(lambda: parsed.statement.verify(parsed.signature, public), (SignatureInvalidError,))
    return True


def event(data: bytes) -> bool:
    """A log entry: an event's canonical JSON, as a verifier reads it from a bundle."""
    parsed = _expect(lambda: Event.from_bytes(data), (InvalidEventError,))
    if parsed is not None:
        _same(parsed.to_bytes(), data, "an event")
    return parsed is not None


def csv(data: bytes) -> bool:
    """A CSV intake file: every problem is a row error with a line, a code and a reason.

    Needs Django's settings (the intake module lives in the web layer); reading the
    file touches no database.
    """
    from cosignatory.web.register import intake

    rows, errors = intake._parse(data)
    # The csv module ends a line at \r\n, \r or \n; the line numbers count them so.
    # "A header but no rows" names the line after the last, where a row belongs.
    lines = len(_LINE_END.split(data)) + 1
    for error in errors:
        if error.code not in (intake.E_IMPORT_FILE, intake.E_IMPORT_FIELD):
            raise ContractError(f"row error with code {error.code}")
        if not 1 <= error.line <= lines or not error.reason.strip() or "\n" in error.reason:
            raise ContractError(f"unclear row error {error!r}")
    for row in rows:
        if row.instrument["kind"] not in intake.INSTRUMENT_KINDS or not row.party:
            raise ContractError(f"a row passed that is not well formed: {row!r}")
    return not errors


TARGETS: dict[str, Callable[[bytes], bool]] = {
    "note": note,
    "key": key,
    "checkpoint": checkpoint,
    "tile_path": tile_path,
    "tile": tile,
    "proof": proof,
    "policy": policy,
    "bundle": bundle,
    "statement": statement,
    "event": event,
    "csv": csv,
    "witness": witness,
}
"""Every fuzz target by name; ``fuzz/seeds.py`` SEEDS has the same names."""
