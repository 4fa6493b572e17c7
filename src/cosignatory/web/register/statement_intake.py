"""Bulk intake of self-signed statements: many at once, as if submitted one by one.

A statement file (``cosignatory sign``) records one party's signature, accession or
withdrawal by its representative's own key. :func:`services.submit_statement` records
one; this module records thousands (``cosignatory import LETTER FILE --statements``,
``POST /api/v1/statements/batch``) with the same outcome, faster:

- :func:`plan_statements` parses every statement, verifies all their Ed25519
  signatures in a pool of processes, one per core (:func:`cosignatory.core.sigpool.
  verify_many`), and meanwhile judges each statement in order by the register's own
  rules (:class:`cosignatory.core.state.Register`, on an in-memory copy of the state
  the statements touch), as if every signature verified; should one not, it judges
  them all again knowing which (the signatures are looked up, not checked again). It
  returns a :class:`StatementPlan`, every statement's outcome and every bad one's
  reason, and changes nothing.
- :func:`apply` takes the log's write lock in one transaction, judges the plan again
  against the state as it is now (the register may have changed since), and records
  all the new events with one batch append and one checkpoint: all of them, or none.
- :func:`record_each` judges and records in one go, under the lock, each refusal that
  statement's alone: group commit (:mod:`sequencer`) records waiting requests with it.

Each event is built as :func:`services.submit_statement` builds it and projected by the
same :func:`projector.project`, so the log and the tables are those that submitting
the statements one by one would give (a fresh signature id and the time of recording
aside), and ``cosignatory rebuild`` gives the same tables back. A statement recorded
already is *unchanged*, as the single endpoint answers 200 for it: importing a file
twice changes nothing.

The file: JSON lines, UTF-8, one signed statement per line, each the JSON object that
``cosignatory sign`` writes (``{"statement": {...}, "signature": "..."}``, on one line);
blank lines are skipped.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, cast

from django.db import connection, connections, models, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.base.operations import BaseDatabaseOperations

from cosignatory.core import state as core
from cosignatory.core.events import Event
from cosignatory.core.sigpool import Claim, PreverifiedRegister, start_sealing, start_verifying
from cosignatory.core.statements import SignedStatement
from cosignatory.errors import CosignatoryError
from cosignatory.tlog.note import Signer
from cosignatory.web.log.services import get_log, reset_log_cache
from cosignatory.web.public.searchindex import index_event
from cosignatory.web.register import models as m
from cosignatory.web.register import services
from cosignatory.web.register.intake import (
    E_IMPORT_FIELD,
    E_IMPORT_FILE,
    NEW,
    UNCHANGED,
    WITHDRAWAL,
    IntakeError,
)
from cosignatory.web.register.projector import project

MAX_STATEMENTS = 1_000_000
"""Statements in one file: the largest open letter the benchmarks model."""
MAX_FILE_BYTES = 1024 * 1024 * 1024
MAX_LINE_BYTES = 16 * 1024
"""A statement is about 600 bytes; a line longer than this is not one."""

_QUERY_CHUNK = 500  # identifiers per IN (...) query, well under SQLite's variable limit
_BULK = 500  # rows per INSERT when projecting in bulk


@dataclass(frozen=True)
class ItemError:
    """Why statement ``position`` cannot be recorded (``code``: a stable error code).

    ``position`` is the line number in a file, the index (from 0) in an API batch.
    """

    position: int
    code: str
    reason: str
    # The rule's own error, when one was raised: the API answers with its status.
    error: CosignatoryError | None = field(default=None, compare=False, repr=False)

    def to_json(self) -> dict[str, Any]:
        return {"position": self.position, "code": self.code, "reason": self.reason}


@dataclass(frozen=True)
class JudgedStatement:
    """What recording statement ``position`` does: ``outcome`` is NEW, WITHDRAWAL or
    UNCHANGED; ``log_index`` is the entry that records it (None until it is recorded)."""

    position: int
    letter: str
    party: str
    action: str
    version: int
    representative: str
    key: str
    outcome: str
    detail: str
    signature: str | None
    log_index: int | None

    def to_json(self) -> dict[str, Any]:
        return {
            "position": self.position,
            "letter": self.letter,
            "party": self.party,
            "action": self.action,
            "version": self.version,
            "representative": self.representative,
            "key": self.key,
            "outcome": self.outcome,
            "detail": self.detail,
            "signature": self.signature,
            "log_index": self.log_index,
        }


@dataclass(frozen=True)
class StatementPlan:
    """The judged statements in order, the errors in order, and what applying needs."""

    letter: str | None
    rows: tuple[JudgedStatement, ...]
    errors: tuple[ItemError, ...]
    statements: tuple[tuple[int, SignedStatement], ...]
    verified: frozenset[Claim]
    # The judged events, whether each is plain (see _judge), and the log's size when
    # the state they were judged against was read: if the log has not grown by the
    # time they are recorded, that judgement still holds and is not made again.
    events: tuple[Event, ...] = ()
    plain: tuple[bool, ...] = ()
    log_size: int | None = None
    workers: int | None = None

    @property
    def changes(self) -> tuple[JudgedStatement, ...]:
        """The statements that would add an event to the log."""
        return tuple(row for row in self.rows if row.outcome != UNCHANGED)

    def summary(self) -> dict[str, int]:
        counts = {NEW: 0, WITHDRAWAL: 0, UNCHANGED: 0}
        for row in self.rows:
            counts[row.outcome] += 1
        return {**counts, "errors": len(self.errors)}

    def to_json(self) -> dict[str, Any]:
        return {
            "letter": self.letter,
            "rows": [row.to_json() for row in self.rows],
            "errors": [error.to_json() for error in self.errors],
            "summary": self.summary(),
        }


@dataclass(frozen=True)
class AppliedStatements:
    """What :func:`apply` committed: every statement's outcome with its log index, the
    events recorded, and the log's size afterwards."""

    rows: tuple[JudgedStatement, ...]
    recorded: int
    unchanged: int
    log_size: int


# -- reading ------------------------------------------------------------------------------


def read_lines(lines: Iterable[bytes]) -> tuple[list[tuple[int, SignedStatement]], list[ItemError]]:
    """Parse a JSON-lines file of signed statements (numbered from 1); return the
    well-formed statements with their line numbers, and every problem."""
    found: list[tuple[int, SignedStatement]] = []
    errors: list[ItemError] = []
    total = 0
    number = 0
    for number, raw in enumerate(lines, start=1):
        total += len(raw)
        if total > MAX_FILE_BYTES:
            return [], [
                ItemError(number, E_IMPORT_FILE, f"the file is over {MAX_FILE_BYTES} bytes")
            ]
        if not raw.strip():
            continue
        if len(found) + len(errors) >= MAX_STATEMENTS:
            return [], [
                ItemError(
                    number, E_IMPORT_FILE, f"over {MAX_STATEMENTS} statements: split the file"
                )
            ]
        if len(raw) > MAX_LINE_BYTES:
            errors.append(
                ItemError(number, E_IMPORT_FIELD, f"the line is over {MAX_LINE_BYTES} bytes")
            )
            continue
        try:
            value = json.loads(raw.decode("utf-8-sig" if number == 1 else "utf-8"))
        except UnicodeDecodeError:
            errors.append(ItemError(number, E_IMPORT_FILE, "the line is not UTF-8 text"))
            continue
        except (ValueError, RecursionError) as error:
            errors.append(ItemError(number, E_IMPORT_FIELD, f"the line is not JSON: {error}"))
            continue
        parsed = parse_item(number, value)
        if isinstance(parsed, ItemError):
            errors.append(parsed)
        else:
            found.append((number, parsed))
    if not found and not errors:
        errors.append(ItemError(max(number, 1), E_IMPORT_FILE, "the file holds no statement"))
    return found, errors


def parse_item(position: int, value: Any) -> SignedStatement | ItemError:
    """One signed statement from its JSON value, or why it is not one."""
    try:
        return SignedStatement.from_json(value)
    except CosignatoryError as error:
        return ItemError(position, error.code, str(error), error)


# -- judging ------------------------------------------------------------------------------


def plan_statements(
    statements: Sequence[tuple[int, SignedStatement]],
    errors: Sequence[ItemError] = (),
    *,
    letter: str | None = None,
    workers: int | None = None,
) -> StatementPlan:
    """Verify every statement's signature (``workers`` processes, default one per core)
    and judge each in order by the register's rules; change nothing.

    ``letter``, when given, is the one letter every statement must name. Returns the
    plan with the ``errors`` found while reading added. Raises UnknownEntityError if
    ``letter`` names no letter.
    """
    if letter is not None and not m.Letter.objects.filter(pk=letter).exists():
        from cosignatory.core.errors import UnknownEntityError

        raise UnknownEntityError(f"no letter {letter!r}")
    claims, pending = _start_verifying(statements, workers)
    size = get_log().size()  # read before the state: a write after it changes the size
    verified, (rows, found, events, plain) = _judge_while_verifying(
        statements, claims, pending, letter, None
    )
    return StatementPlan(
        letter,
        tuple(rows),
        tuple(sorted([*errors, *found], key=lambda error: error.position)),
        tuple(statements),
        verified,
        tuple(events),
        tuple(plain),
        size,
        workers,
    )


def _start_verifying(
    statements: Sequence[tuple[int, SignedStatement]], workers: int | None
) -> tuple[list[Claim], Callable[[], frozenset[Claim]]]:
    """Start verifying the statements' signatures in the pool; return the claims (the
    statements whose key is known, with its public key) and what waits for those whose
    signature verifies."""
    keys = public_keys({signed.statement.key for _, signed in statements})
    claims: list[Claim] = []
    for _, signed in statements:
        public_key = keys.get(signed.statement.key)
        if public_key is not None:
            claims.append((public_key, signed.signature, signed.statement))
    pending = start_verifying(claims, workers)

    def verified() -> frozenset[Claim]:
        results = pending()
        return frozenset(claim for claim, ok in zip(claims, results, strict=True) if ok)

    return claims, verified


_Judged = tuple[list[JudgedStatement], list[ItemError], list[Event], list[bool]]
"""What :func:`_judge` returns: outcomes, errors, events to record, and which are plain."""


def _judge_while_verifying(
    statements: Sequence[tuple[int, SignedStatement]],
    claims: Sequence[Claim],
    pending: Callable[[], frozenset[Claim]],
    letter: str | None,
    base_index: int | None,
) -> tuple[frozenset[Claim], _Judged]:
    """Load the state and judge the statements while the pool verifies ``claims``.

    Judged as if every signature verified (the common case): the judgement depends on
    the results only through that. Should any signature fail, judged again, knowing
    which. Returns the claims that verified and :func:`_judge`'s result.
    """
    state = _load(statements, frozenset())
    assumed = set(claims)
    state.register.verified = assumed
    judged = _judge(statements, state, letter, base_index)
    verified = pending()
    if verified != assumed:
        judged = _judge(statements, _load(statements, verified), letter, base_index)
    return verified, judged


def public_keys(ids: Iterable[str]) -> dict[str, bytes]:
    """The public key of each of the keys ``ids`` that is registered (revoked or not)."""
    return {
        key_id: bytes(public) for key_id, public in _select(m.Key, ("id", "public_key"), "id", ids)
    }


@dataclass
class _State:
    """The state the statements touch, and what the rules' state does not keep."""

    register: PreverifiedRegister
    # Mandates by (representative, party): the rules look a mandate up by scanning the
    # register's mandates, so each statement is judged with only its own pair's.
    mandates: dict[tuple[str, str], dict[str, core.Mandate]]
    # A withdrawn signature's withdrawal as the tables keep it: {"id", "evidence", "log_index"}.
    withdrawals: dict[str, dict[str, Any]]


def _judge(
    statements: Sequence[tuple[int, SignedStatement]],
    state: _State,
    letter: str | None,
    base_index: int | None,
) -> _Judged:
    """Judge every statement in order against the current state; return the outcomes,
    the errors, the (unsealed) events to record, and for each event whether it is
    *plain*: a signature or accession of a party with no current one on the letter.

    ``base_index`` is the log's size when recording (under the write lock), else None.
    """
    register = state.register
    moment = services._now()
    if register.last_at is not None and moment < register.last_at:
        moment = register.last_at  # never before the event before it, as services do
    rows: list[JudgedStatement] = []
    errors: list[ItemError] = []
    events: list[Event] = []
    plain: list[bool] = []
    for position, signed in statements:
        statement = signed.statement
        if letter is not None and statement.letter != letter:
            errors.append(
                ItemError(
                    position,
                    E_IMPORT_FIELD,
                    f"the statement is for letter {statement.letter}, not {letter}",
                )
            )
            continue
        index = None if base_index is None else base_index + len(events)
        known = register.letters.get(statement.letter)
        alone = statement.action != "withdraw" and known is not None
        alone = alone and known is not None and statement.party not in known.active
        try:
            row, event = _judge_one(state, position, signed, moment, index)
        except CosignatoryError as error:
            errors.append(ItemError(position, error.code, str(error), error))
            continue
        rows.append(row)
        if event is not None:
            events.append(event)
            plain.append(alone)
    return rows, errors, events, plain


def _judge_one(
    state: _State, position: int, signed: SignedStatement, moment: datetime, index: int | None
) -> tuple[JudgedStatement, Event | None]:
    """Judge one statement as :func:`services.submit_statement` does, and apply it to the
    in-memory state so that later statements are judged after it."""
    statement = signed.statement
    register = state.register
    letter = register.letter(statement.letter)
    active_id = letter.active.get(statement.party)
    active = letter.signatures[active_id] if active_id else None
    if active is not None and active.version != statement.version:
        active = None  # submit_statement looks for the party's signature on that version

    def judged(outcome: str, detail: str, signature: str | None, at: int | None) -> JudgedStatement:
        return JudgedStatement(
            position,
            statement.letter,
            statement.party,
            statement.action,
            statement.version,
            statement.representative,
            statement.key,
            outcome,
            detail,
            signature,
            at,
        )

    if statement.action == "withdraw":
        if active is None:
            done = _withdrawn_by(state, letter, signed)
            if done is not None:
                return judged(
                    UNCHANGED, "this withdrawal is recorded already", done["id"], done["log_index"]
                ), None
        withdraws = active.id if active is not None else "none"
    elif active is not None:
        return judged(
            UNCHANGED,
            f"{_noun(active.action)} of version {active.version} recorded already",
            active.id,
            active.log_index,
        ), None
    data = services.self_signed_data(signed)
    if statement.action == "withdraw":
        data["withdraws"] = withdraws
    # The evidence is this statement's JSON: the rules need not parse it back.
    register.parsed[data["evidence"]["signature"]] = statement
    event = Event.make("signature.recorded", moment, data)
    register.mandates = state.mandates.get((statement.representative, statement.party), {})
    register.apply(event, index)
    if statement.action == "withdraw":
        state.withdrawals[withdraws] = {
            "id": data["id"],
            "evidence": data["evidence"],
            "log_index": index,
        }
        return judged(WITHDRAWAL, f"withdraws signature {withdraws}", data["id"], index), event
    detail = f"new {_noun(statement.action)} of version {statement.version}"
    return judged(NEW, detail, data["id"], index), event


def _withdrawn_by(
    state: _State, letter: core.Letter, signed: SignedStatement
) -> dict[str, Any] | None:
    """The withdrawal recorded with this very statement, if any (as submit_statement
    finds it: a signature of the party on that version withdrawn by this statement)."""
    statement = signed.statement
    wanted = statement.to_json()
    for record in letter.signatures.values():
        if record.party != statement.party or record.version != statement.version:
            continue
        withdrawal = state.withdrawals.get(record.id)
        if withdrawal is not None and withdrawal["evidence"].get("statement") == wanted:
            return withdrawal
    return None


def _noun(action: str) -> str:
    return {"sign": "signature", "accede": "accession"}.get(action, action)


# -- loading the state the statements touch -------------------------------------------------


def _chunks(values: Iterable[str]) -> Iterator[list[str]]:
    ordered = sorted(values)
    for start in range(0, len(ordered), _QUERY_CHUNK):
        yield ordered[start : start + _QUERY_CHUNK]


def _load(statements: Sequence[tuple[int, SignedStatement]], verified: frozenset[Claim]) -> _State:
    """Load, in a few queries per 500 identifiers, what the statements name."""
    named = [signed.statement for _, signed in statements]
    party_ids = {s.party for s in named}
    rep_ids = {s.representative for s in named}
    register = PreverifiedRegister(check_seals=False, verified=set(verified))
    register.last_at = (
        m.EventRecord.objects.order_by("-log_index").values_list("at", flat=True).first()
    )
    # A party's kind is all the rules judge its signature by; its names, contact and
    # members (two JSON columns to decode a row) are left out of the state.
    for pid, kind in _select(m.Party, ("id", "kind"), "id", party_ids):
        register.parties[pid] = core.Party(pid, kind, {})
    for rid, name, contact in _select(m.Representative, ("id", "name", "contact"), "id", rep_ids):
        register.representatives[rid] = core.Representative(rid, name, contact)
    key_fields = ("id", "representative", "public_key", "valid_from", "valid_until", "revoked_at")
    for kid, rep, public, start, until, revoked in _select(
        m.Key, key_fields, "id", {s.key for s in named}
    ):
        register.keys[kid] = core.Key(kid, rep, bytes(public), start, until, revoked)
    mandates: dict[tuple[str, str], dict[str, core.Mandate]] = {}
    mandate_fields = ("id", "representative", "party", "valid_from", "valid_until", "ended_at")
    for mid, rep, party, start, until, ended in _select(
        m.Mandate, mandate_fields, "representative", rep_ids
    ):
        if party in party_ids:
            pair = mandates.setdefault((rep, party), {})
            pair[mid] = core.Mandate(mid, rep, party, start, until, ended)
    withdrawals: dict[str, dict[str, Any]] = {}
    for row in m.Letter.objects.filter(pk__in={s.letter for s in named}):
        parties = {s.party for s in named if s.letter == row.id}
        register.letters[row.id] = _letter(row, parties, withdrawals)
    return _State(register, mandates, withdrawals)


def _select(
    model: type[models.Model],
    names: Sequence[str],
    where: str,
    values: Iterable[str],
    *,
    also: tuple[str, Any] | None = None,
    order: str | None = None,
) -> Iterator[tuple[Any, ...]]:
    """The ``names`` fields of every row of ``model`` whose ``where`` field is one of
    ``values`` (and whose ``also`` field, if given, has that value), as tuples, each
    value converted as Django's queries convert it; ordered by ``order`` within each
    500 values.

    One query per 500 values, its text made here: Django's query compiler costs more
    per value and per row than the database does (four times as much at 20,000 keys).
    """
    meta = model._meta
    wrapper = connections[connection.alias]
    quote = wrapper.ops.quote_name
    columns = [_field(model, name).get_col(meta.db_table) for name in names]
    # What the compiler would apply to each column (on SQLite: text to datetime).
    converters = [
        (position, column, converter)
        for position, column in enumerate(columns)
        for converter in (wrapper.ops.get_db_converters(column) + column.get_db_converters(wrapper))
    ]
    selected = ", ".join(quote(column.target.column) for column in columns)
    table = quote(meta.db_table)
    key = quote(_field(model, where).column)
    fixed: list[Any] = []
    condition = ""
    if also is not None:
        field = _field(model, also[0])
        condition = f" AND {quote(field.column)} = %s"
        fixed = [field.get_db_prep_value(also[1], wrapper)]
    sort = "" if order is None else f" ORDER BY {quote(_field(model, order).column)}"
    with wrapper.cursor() as cursor:
        for chunk in _chunks(values):
            marks = ", ".join(["%s"] * len(chunk))
            # Only the model's own table and column names go into the text.
            sql = f"SELECT {selected} FROM {table} WHERE {key} IN ({marks}){condition}{sort}"  # noqa: S608
            cursor.execute(sql, [*chunk, *fixed])
            for found in cursor.fetchall():
                if not converters:
                    yield tuple(found)
                    continue
                row = list(found)
                for position, column, converter in converters:
                    row[position] = converter(row[position], column, wrapper)
                yield tuple(row)


def _field(model: type[models.Model], name: str) -> models.Field[Any, Any]:
    return cast("models.Field[Any, Any]", model._meta.get_field(name))


def _letter(
    row: m.Letter, parties: set[str], withdrawals: dict[str, dict[str, Any]]
) -> core.Letter:
    """The letter as the rules see it (as ``slices`` loads it), with the signatures of
    ``parties``; the withdrawals of those signatures go into ``withdrawals``."""
    letter = core.Letter(
        row.id,
        row.lead_party_id,
        row.session_id,
        row.status,
        row.accessions_open,
        dict(m.TextVersion.objects.filter(letter=row).values_list("version", "text_hash")),
        row.symbol,
        row.registered_session_id,
    )
    for fields in _select(
        m.Signature, _SIGNATURE_FIELDS, "party", parties, also=("letter", row.id), order="log_index"
    ):
        sig = dict(zip(_SIGNATURE_FIELDS, fields, strict=True))
        sid, party, withdrawal = sig["id"], sig["party"], sig["withdrawal"]
        letter.signatures[sid] = core.SignatureRecord(
            sid,
            sig["action"],
            party,
            sig["version"],
            sig["at"],
            sig["evidence_kind"],
            sig["representative"],
            sig["log_index"],
            sig["withdrawn_at"],
            (withdrawal or {}).get("id"),
            sig["superseded_by"],
            sig["voided"],
        )
        if sig["active"]:
            letter.active[party] = sid
        if withdrawal:
            letter.withdrawals.add(withdrawal["id"])
            withdrawals[sid] = withdrawal
        for moment in (sig["at"], sig["withdrawn_at"]):
            held = letter.last_act.get(party)
            if moment is not None and (held is None or moment > held):
                letter.last_act[party] = moment
    return letter


_SIGNATURE_FIELDS = (
    "id",
    "action",
    "party",
    "version",
    "at",
    "evidence_kind",
    "representative",
    "log_index",
    "withdrawn_at",
    "withdrawal",
    "superseded_by",
    "voided",
    "active",
)
"""What :func:`_letter` reads of a signature (not its evidence, a JSON column)."""


# -- recording ------------------------------------------------------------------------------


def apply(plan: StatementPlan, progress: Callable[[int], None] | None = None) -> AppliedStatements:
    """Record every change of ``plan`` in one transaction, with one batch append and one
    checkpoint: all of them, or none.

    ``progress`` is called with the number of events projected so far. Raises
    IntakeError if the plan has errors, or if judged again under the log's write lock
    any statement is refused (the register changed since the plan): nothing is
    recorded.
    """
    if plan.errors:
        raise IntakeError(_refusal(plan.errors))
    signer = services.registrar_signer()
    with _log_locked() as base:
        if base == plan.log_size:  # nothing recorded since the plan: it holds
            rows = _indexed(plan.rows, plan.events, base)
            events, plain = plan.events, plan.plain
        else:
            state = _load(plan.statements, plan.verified)
            rows, errors, judged, flags = _judge(plan.statements, state, plan.letter, base)
            if errors:
                raise IntakeError(_refusal(errors, "the register changed since the plan: "))
            events, plain = tuple(judged), tuple(flags)
        sealed = _record(events, plain, base, signer, plan.workers, progress)
    return AppliedStatements(tuple(rows), len(sealed), len(rows) - len(sealed), get_log().size())


def plan_and_apply(
    statements: Sequence[tuple[int, SignedStatement]], workers: int | None = None
) -> AppliedStatements | tuple[ItemError, ...]:
    """:func:`plan_statements` then :func:`apply`, with the statements judged once.

    Their signatures start verifying in the pool (``workers`` processes) before the
    log's write lock is taken; under it the statements are judged against the register
    as it is then, and recorded all or none. So requests side by side overlap: one
    verifies while another holds the lock, and none is judged twice (a plan made
    before the lock must be judged again once another write came first). Returns what
    was recorded, or the refusals in order (nothing is then recorded).
    """
    claims, pending = _start_verifying(statements, workers)
    signer = services.registrar_signer()
    with _log_locked() as base:
        _, (rows, errors, events, plain) = _judge_while_verifying(
            statements, claims, pending, None, base
        )
        if errors:
            return tuple(errors)
        sealed = _record(events, plain, base, signer, workers, None)
    return AppliedStatements(tuple(rows), len(sealed), len(rows) - len(sealed), get_log().size())


def record_each(
    statements: Sequence[tuple[int, SignedStatement]], verified: frozenset[Claim]
) -> tuple[list[JudgedStatement], list[ItemError], list[tuple[Event, bytes]]]:
    """Judge ``statements`` in order against the register as it is now and record every
    one the rules accept, in one transaction with one batch append and one checkpoint.

    Unlike :func:`apply`, a refusal is that statement's alone (as if it had been
    submitted by itself); the others are still recorded. ``verified``: claims whose
    signatures are known good. Returns the outcomes, the refusals and the new events,
    sealed, each with its log entry, in log order; sealing runs in this process.
    """
    signer = services.registrar_signer()
    with _log_locked() as base:
        rows, errors, events, plain = _judge(statements, _load(statements, verified), None, base)
        sealed = _record(events, plain, base, signer, 1, None)
    return rows, errors, sealed


@contextmanager
def _log_locked() -> Iterator[int]:
    """A transaction holding the log's write lock; yields the log's size."""
    log = get_log()
    try:
        with transaction.atomic():
            log.storage.lock()  # type: ignore[attr-defined]
            yield log.size()
    except BaseException:
        # As in intake.apply: tiles written by a rolled-back append must not be trusted.
        reset_log_cache()
        raise


def _record(
    events: Sequence[Event],
    plain: Sequence[bool],
    base: int,
    signer: Signer,
    workers: int | None,
    progress: Callable[[int], None] | None,
) -> list[tuple[Event, bytes]]:
    """Seal ``events`` (in a pool of ``workers``), project them from ``base`` and append
    them with one batch append; return them sealed, each with its log entry. Runs inside
    :func:`_log_locked`."""
    key_id = services.registrar_key_id(signer)
    pending = start_sealing(events, signer.to_skey(), key_id, workers)
    # The tables need the events, not their seals: project while the pool seals.
    _project_all(events, plain, base, progress)
    pairs = pending()
    if pairs:
        result = get_log().append_batch([entry for _, entry in pairs])
        if result.first_index != base:  # pragma: no cover (the lock forbids it)
            raise IntakeError("the log grew while it was locked; nothing was recorded")
    return pairs


def _indexed(
    rows: Sequence[JudgedStatement], events: Sequence[Event], base: int
) -> list[JudgedStatement]:
    """The planned rows with the log indexes their events take from ``base`` on."""
    index = {event.data["id"]: base + offset for offset, event in enumerate(events)}
    return [
        row if row.log_index is not None else replace(row, log_index=index[row.signature])
        for row in rows
    ]


def _project_all(
    events: Sequence[Event],
    plain: Sequence[bool],
    base: int,
    progress: Callable[[int], None] | None,
) -> None:
    """Project the events appended at ``base``, in order, and queue their notices.

    A plain event (a party's first current signature on the letter) only adds a row to
    the signatures and one to the event records: those rows are written in bulk, as
    :func:`projector.project` would write them one by one; every other event goes
    through ``project`` itself, after the rows before it. ``cosignatory rebuild``
    replays every event through ``project``, so a difference would show there.
    """
    contacts = _contacts(events)
    signatures: list[dict[str, Any]] = []
    records: list[dict[str, Any]] = []

    def flush() -> None:
        _insert(m.Signature, signatures)
        _insert(m.EventRecord, records)
        signatures.clear()
        records.clear()

    for offset, event in enumerate(events):
        index = base + offset
        if plain[offset]:
            d = event.data
            signatures.append(_signature_row(event, index))
            index_event(event.type, dict(d))  # nothing for a signature, as in project()
            records.append(
                {
                    "log_index": index,
                    "type": event.type,
                    "at": event.at,
                    "letter_id": d["letter"],
                    "party_id": d["party"],
                }
            )
        else:
            flush()
            project(event, index)
        if event.data["party"] in contacts:
            flush()
            services._queue_notices(event, index)
        if progress is not None and (offset + 1) % _BULK == 0:
            progress(offset + 1)
    flush()
    if progress is not None:
        progress(len(events))


def _insert(model: type[models.Model], rows: Sequence[dict[str, Any]]) -> None:
    """INSERT ``rows`` of ``model``, each its fields' values by attribute name (a field
    left out takes its default), every value prepared by its field as ``bulk_create``
    prepares it, but in one ``executemany``: without a model instance per row or the
    SQL compiler, which cost more than the insert itself."""
    if not rows:
        return
    meta = model._meta
    fields = meta.concrete_fields
    quote = connection.ops.quote_name
    # Only the model's own table and column names, quoted, go into the text; every
    # value is a parameter.
    columns = ", ".join(quote(f.column) for f in fields)
    marks = ", ".join(["%s"] * len(fields))
    sql = f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES ({marks})"  # noqa: S608
    defaults = {f.attname: f.get_default() for f in fields}
    unknown = set().union(*rows) - defaults.keys()
    if unknown:
        raise ValueError(f"{meta.label} has no field {sorted(unknown)[0]!r}")
    # The wrapper itself, not the thread-local proxy: fields ask it for its operations
    # once per value.
    wrapper = connections[connection.alias]
    prepare = [(f.attname, _preparer(f, wrapper)) for f in fields]
    params = [[p(row.get(name, defaults[name])) for name, p in prepare] for row in rows]
    with connection.cursor() as cursor:
        for start in range(0, len(params), _BULK):
            cursor.executemany(sql, params[start : start + _BULK])


def _preparer(column: models.Field[Any, Any], wrapper: BaseDatabaseWrapper) -> Callable[[Any], Any]:
    """Return what turns a value of ``column`` into its database parameter, as
    ``column.get_db_prep_save`` does.

    The events of one batch share their moment, so a time column's conversion (the
    costliest: time zone arithmetic and formatting) is kept for repeated values. A value
    that the column's conversion would hand back unchanged (see :func:`_unchanged`) skips
    it: most columns of a signature row are text.
    """

    def prepare(value: Any) -> Any:
        return column.get_db_prep_save(value, wrapper)

    if isinstance(column, models.DateTimeField):
        return functools.lru_cache(maxsize=8)(prepare)
    kinds = _unchanged(column, wrapper)
    if not kinds:
        return prepare

    def quick(value: Any) -> Any:
        return value if type(value) in kinds else prepare(value)

    return quick


_BASE_INTEGER_ADAPTER = BaseDatabaseOperations.adapt_integerfield_value


def _unchanged(column: models.Field[Any, Any], wrapper: BaseDatabaseWrapper) -> tuple[type, ...]:
    """The exact Python types whose values ``column.get_db_prep_save`` returns as they
    are, on ``wrapper``'s database; none for a column of any other class.

    Django's text and boolean fields return a ``str`` (or ``bool``) and ``None``
    unchanged; its integer fields an ``int``, unless the backend adapts integers
    (psycopg 3 on PostgreSQL wraps them in typed objects). A foreign key prepares its
    value as the field it points to does. Only these exact classes qualify: a subclass
    may convert differently.
    """
    target = column.target_field if isinstance(column, models.ForeignKey) else column
    kind = type(target)
    if kind in (models.CharField, models.TextField):
        return (str, type(None))
    if kind is models.BooleanField:
        return (bool, type(None))
    integers = (models.IntegerField, models.BigIntegerField, models.PositiveIntegerField)
    adapter = type(wrapper.ops).adapt_integerfield_value
    if kind in integers and adapter is _BASE_INTEGER_ADAPTER:
        return (int, type(None))
    return ()


def _signature_row(event: Event, index: int) -> dict[str, Any]:
    """The row :func:`projector.project` creates for a new signature or accession, as
    :func:`_insert` takes it."""
    d = event.data
    return {
        "id": d["id"],
        "letter_id": d["letter"],
        "party_id": d["party"],
        "action": d["action"],
        "version": d["version"],
        "text_hash": d["text_hash"],
        "at": event.at,
        "evidence_kind": d["evidence"]["kind"],
        "evidence": d["evidence"],
        "representative_id": d.get("representative"),
        "log_index": index,
    }


def _contacts(events: Sequence[Event]) -> set[str]:
    """The parties named by ``events`` that have a contact address (notices go to them)."""
    parties = {event.data["party"] for event in events}
    return {pid for pid, contact in _select(m.Party, ("id", "contact"), "id", parties) if contact}


def _refusal(errors: Sequence[ItemError], prefix: str = "") -> str:
    count = len(errors)
    first = errors[0]
    return (
        f"{prefix}{count} statement{'s' if count > 1 else ''} refused (first at "
        f"{first.position}: {first.reason} [{first.code}]); nothing was recorded"
    )
