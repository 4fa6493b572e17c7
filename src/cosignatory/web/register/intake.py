"""The registrar's bulk intake of signatures received on paper, from a CSV file.

Two steps, so the registrar sees what will change before anything does:

- :func:`plan_import` reads the file and judges every row by the register's own rules
  (:meth:`cosignatory.core.state.Register.apply`, on an in-memory copy of the letter),
  in file order, and returns a :class:`Plan`: what each row would do, and every bad
  row with its line number and the reason. It changes nothing.
- :func:`apply` records the plan's changes through
  :func:`cosignatory.web.register.services.record_attested`, all inside one
  transaction: if the rules refuse any row (the register may have changed since the
  plan was made), nothing is kept, neither in the log nor in the tables.

The file (``docs/cli.md``): UTF-8, with or without a byte-order mark; a header naming
the columns ``party, representative, instrument_kind, reference, date`` and optionally
``action`` (``sign``, ``accede`` or ``withdraw``; by default ``sign`` until the letter
is transmitted and ``accede`` after), in any order; one row per party.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import transaction

from cosignatory.core import limits
from cosignatory.core import state as core
from cosignatory.core.errors import DuplicateEntityError, NotSignedError, UnknownEntityError
from cosignatory.core.events import Event, check_id, parse_date
from cosignatory.errors import CosignatoryError
from cosignatory.web.log.services import get_log, reset_log_cache
from cosignatory.web.register import models as m
from cosignatory.web.register import services

COLUMNS = ("party", "representative", "instrument_kind", "reference", "date")
"""The columns every file's header names, in any order."""
OPTIONAL_COLUMNS = ("action",)
MAX_ROWS = limits.IMPORT_ROWS
MAX_FILE_BYTES = limits.IMPORT_FILE_BYTES
FIELD_LIMITS = {
    "party": 64,
    "representative": 64,
    "instrument_kind": 20,
    "reference": 200,
    "date": 10,
    "action": 10,
}
INSTRUMENT_KINDS = ("note-verbale", "letter", "email", "fax", "in-person")
ACTIONS = ("sign", "accede", "withdraw")

# What a planned row does.
NEW = "new"  # a signature or an accession
WITHDRAWAL = "withdrawal"
UNCHANGED = "unchanged"  # recorded already: importing a file twice changes nothing

# Codes of the problems with a file that no rule of the register names. A row the
# rules refuse carries the rule's code (E_NOT_FOUND, E_LETTER_CLOSED, ...).
E_IMPORT_FILE = "E_IMPORT_FILE"  # the file as a whole: encoding, header, size
E_IMPORT_FIELD = "E_IMPORT_FIELD"  # a field of one row: missing, too long, malformed

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_QUERY_CHUNK = 500  # identifiers per IN (...) query, well under SQLite's variable limit


class IntakeError(CosignatoryError):
    """A plan with bad rows cannot be applied; nothing was recorded."""

    code = "E_IMPORT_INVALID"


@dataclass(frozen=True)
class RowError:
    """Why line ``line`` of the file cannot be recorded (``code``: a stable error code)."""

    line: int
    code: str
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {"line": self.line, "code": self.code, "reason": self.reason}


@dataclass(frozen=True)
class PlannedRow:
    """What recording line ``line`` would do: ``outcome`` is NEW, WITHDRAWAL or UNCHANGED."""

    line: int
    party: str
    action: str
    instrument: Mapping[str, str]
    representative: str | None
    outcome: str
    detail: str

    def to_json(self) -> dict[str, Any]:
        return {
            "line": self.line,
            "party": self.party,
            "action": self.action,
            "instrument": dict(self.instrument),
            "representative": self.representative,
            "outcome": self.outcome,
            "detail": self.detail,
        }


@dataclass(frozen=True)
class Plan:
    """The judged file: its rows in file order and its errors in line order."""

    letter: str
    rows: tuple[PlannedRow, ...]
    errors: tuple[RowError, ...]

    @property
    def changes(self) -> tuple[PlannedRow, ...]:
        """The rows that would add an event to the log."""
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
class Applied:
    """What :func:`apply` committed: events recorded, rows found recorded already, and
    the log's size afterwards."""

    letter: str
    recorded: int
    unchanged: int
    log_size: int


# -- reading the file -----------------------------------------------------------------


@dataclass(frozen=True)
class _Row:
    line: int
    party: str
    representative: str | None
    instrument: dict[str, str]
    action: str | None


def _parse(data: bytes) -> tuple[list[_Row], list[RowError]]:
    """Read the rows of a CSV file; return the well-formed ones and every problem."""
    if len(data) > MAX_FILE_BYTES:
        return [], [RowError(1, E_IMPORT_FILE, f"the file is over {MAX_FILE_BYTES} bytes")]
    try:
        text = data.decode("utf-8-sig")  # a byte-order mark, if any, is not data
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        return [], [RowError(line, E_IMPORT_FILE, "the file is not UTF-8 text")]
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    header: list[str] | None = None
    rows: list[_Row] = []
    errors: list[RowError] = []
    count, start = 0, 1
    try:
        for record in reader:
            # A record may span lines (a quoted newline): report the line it starts on.
            line, start = start, reader.line_num + 1
            if not any(field.strip() for field in record):
                continue  # blank lines, and the empty rows spreadsheets leave at the end
            if header is None:
                header = [name.strip().lower() for name in record]
                problem = _header_problem(header)
                if problem:
                    return [], [RowError(line, E_IMPORT_FILE, problem)]
                continue
            count += 1
            if count > MAX_ROWS:
                return [], [RowError(line, E_IMPORT_FILE, f"over {MAX_ROWS} rows: split the file")]
            if len(record) != len(header):
                errors.append(
                    RowError(
                        line,
                        E_IMPORT_FIELD,
                        f"{len(record)} fields where the header names {len(header)}",
                    )
                )
                continue
            row = _row(line, dict(zip(header, record, strict=True)))
            if isinstance(row, RowError):
                errors.append(row)
            else:
                rows.append(row)
    except csv.Error as error:
        errors.append(RowError(start, E_IMPORT_FILE, f"not readable as CSV: {error}"))
    if header is None:
        errors.append(RowError(1, E_IMPORT_FILE, f"no header: the first line names {_names()}"))
    elif count == 0 and not errors:
        errors.append(RowError(start, E_IMPORT_FILE, "the file has a header but no rows"))
    return rows, errors


def _names() -> str:
    return ", ".join(COLUMNS) + " (and optionally " + ", ".join(OPTIONAL_COLUMNS) + ")"


def _header_problem(header: list[str]) -> str | None:
    missing = [name for name in COLUMNS if name not in header]
    unknown = [name for name in header if name not in COLUMNS + OPTIONAL_COLUMNS]
    repeated = sorted({name for name in header if header.count(name) > 1})
    if missing or unknown or repeated:
        parts = [
            f"{what}: {', '.join(repr(n) for n in names)}"
            for what, names in (("missing", missing), ("unknown", unknown), ("twice", repeated))
            if names
        ]
        return f"the header must name {_names()}; " + "; ".join(parts)
    return None


def _row(line: int, fields: dict[str, str]) -> _Row | RowError:
    """Check one row's fields; return the row, or the first problem found."""

    def bad(reason: str) -> RowError:
        return RowError(line, E_IMPORT_FIELD, reason)

    values = {name: value.strip() for name, value in fields.items()}
    for name, value in values.items():
        if len(value) > FIELD_LIMITS[name]:
            return bad(f"{name} is {len(value)} characters long; the limit is {FIELD_LIMITS[name]}")
        if _CONTROL.search(value):
            return bad(f"{name} contains control characters (a line break?)")
    for name in ("party", "instrument_kind", "reference", "date"):
        if not values[name]:
            return bad(f"{name} is empty")
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._:-]*", values["party"]):
        return bad(f"party {values['party']!r} is not a party's identifier or code")
    representative = values["representative"] or None
    if representative is not None:
        try:
            check_id(representative, "representative")
        except CosignatoryError:
            return bad(f"representative {representative!r} is not a representative's identifier")
    kind = values["instrument_kind"].lower().replace(" ", "-")
    if kind not in INSTRUMENT_KINDS:
        return bad(
            f"instrument_kind {values['instrument_kind']!r} is not one of "
            f"{', '.join(INSTRUMENT_KINDS)}"
        )
    try:
        day = parse_date(values["date"])
    except CosignatoryError:
        return bad(f"date {values['date']!r} is not a real date written YYYY-MM-DD")
    # A day's grace: the instrument may be dated in a time zone ahead of UTC.
    if day > datetime.now(UTC).date() + timedelta(days=1):
        return bad(f"date {day.isoformat()} is in the future")
    action = values.get("action", "").lower() or None
    if action is not None and action not in ACTIONS:
        return bad(f"action {values['action']!r} is not one of {', '.join(ACTIONS)}")
    instrument = {"kind": kind, "reference": values["reference"], "date": day.isoformat()}
    return _Row(line, values["party"], representative, instrument, action)


# -- judging the rows ---------------------------------------------------------------------


def plan_import(letter_id: str, data: bytes) -> Plan:
    """Read a CSV file of signatures received on paper and judge each row; change nothing.

    Returns the plan: every row's outcome and every bad row with its line number and
    reason. Raises UnknownEntityError if there is no such letter.
    """
    letter_row = m.Letter.objects.filter(pk=letter_id).first()
    if letter_row is None:
        raise UnknownEntityError(f"no letter {letter_id!r}")
    rows, errors = _parse(data)
    parties = _parties({row.party for row in rows})
    representatives = _representatives({r.representative for r in rows if r.representative})
    register = core.Register(check_seals=False)  # the plan seals nothing
    register.parties.update({party.id: party for party in parties.values()})
    register.representatives.update(representatives)
    letter, withdrawals = _letter(letter_row, {p.id for p in parties.values()})
    register.letters[letter.id] = letter
    # Parties sign until the letter is transmitted and accede after (a closed letter
    # refuses both, with the reason for signing).
    default_action = "accede" if letter.status in core.AFTER_TRANSMISSION else "sign"

    planned: list[PlannedRow] = []
    first_line: dict[str, int] = {}
    for row in rows:
        party = parties.get(row.party)
        if party is None:
            errors.append(
                RowError(
                    row.line,
                    UnknownEntityError.code,
                    f"no party {row.party!r} in the register (give its identifier or code)",
                )
            )
            continue
        if party.id in first_line:
            errors.append(
                RowError(
                    row.line,
                    DuplicateEntityError.code,
                    f"party {party.id} is on line {first_line[party.id]} already",
                )
            )
            continue
        first_line[party.id] = row.line
        try:
            planned.append(
                _judge(register, letter, withdrawals, party.id, row, row.action or default_action)
            )
        except CosignatoryError as error:
            errors.append(RowError(row.line, error.code, str(error)))
    errors.sort(key=lambda error: error.line)
    return Plan(letter.id, tuple(planned), tuple(errors))


def _judge(
    register: core.Register,
    letter: core.Letter,
    withdrawals: Mapping[str, Mapping[str, Any]],
    party: str,
    row: _Row,
    action: str,
) -> PlannedRow:
    """Judge one row as ``services.record_attested`` would record it, and apply it to
    the in-memory register so that later rows are judged after it."""
    active_id = letter.active.get(party)
    active = letter.signatures[active_id] if active_id else None

    def planned(outcome: str, detail: str) -> PlannedRow:
        return PlannedRow(
            row.line, party, action, row.instrument, row.representative, outcome, detail
        )

    data: dict[str, Any] = {
        "id": services.new_id("sig"),
        "action": action,
        "letter": letter.id,
        "party": party,
        "evidence": {"kind": "attested", "instrument": dict(row.instrument)},
    }
    if row.representative:
        data["representative"] = row.representative
    if action == "withdraw":
        if active is None:
            if _withdrawn_already(letter, withdrawals, party, row.instrument):
                return planned(UNCHANGED, "this withdrawal is recorded already")
            raise NotSignedError(f"{party} has no current signature on {letter.id} to withdraw")
        data.update(
            withdraws=active.id,
            version=active.version,
            text_hash=letter.versions[active.version],
        )
        outcome = WITHDRAWAL
        detail = f"withdraws the {_noun(active.action)} of {active.at:%Y-%m-%d} ({active.id})"
    else:
        version = letter.current_version
        if active is not None and active.version == version:
            return planned(
                UNCHANGED,
                f"{_noun(active.action)} of version {version} on {active.at:%Y-%m-%d} "
                f"recorded already ({active.id})",
            )
        data.update(version=version or 1, text_hash=letter.versions.get(version, "0" * 64))
        outcome = NEW
        detail = f"new {_noun(action)} of version {version}"
        if active is not None:
            detail += f", replacing the one of version {active.version}"
    register.apply(Event.make("signature.recorded", datetime.now(UTC), data))
    return planned(outcome, detail)


def _noun(action: str) -> str:
    return {"sign": "signature", "accede": "accession"}.get(action, action)


def _withdrawn_already(
    letter: core.Letter,
    withdrawals: Mapping[str, Mapping[str, Any]],
    party: str,
    instrument: Mapping[str, str],
) -> bool:
    """Whether the party's latest signature was withdrawn on this very instrument."""
    records = [r for r in letter.signatures.values() if r.party == party]
    if not records:
        return False
    latest = max(records, key=lambda r: (r.at, r.log_index or 0))
    evidence = withdrawals.get(latest.id) or {}
    return latest.withdrawn_at is not None and evidence.get("instrument") == dict(instrument)


def _chunks(values: Iterable[str]) -> Iterator[list[str]]:
    ordered = sorted(values)
    for start in range(0, len(ordered), _QUERY_CHUNK):
        yield ordered[start : start + _QUERY_CHUNK]


def _parties(given: set[str]) -> dict[str, core.Party]:
    """Map each value of the party column to a party: by identifier, else by code."""
    by_id: dict[str, m.Party] = {}
    for chunk in _chunks(given):
        by_id.update((p.id, p) for p in m.Party.objects.filter(pk__in=chunk))
    by_code: dict[str, list[m.Party]] = {}
    for chunk in _chunks({value.upper() for value in given - set(by_id)}):
        for party in m.Party.objects.filter(code__in=chunk):
            by_code.setdefault(party.code or "", []).append(party)
    found: dict[str, core.Party] = {}
    for value in given:
        row = by_id.get(value)
        if row is None:
            matches = by_code.get(value.upper(), [])
            row = matches[0] if len(matches) == 1 else None
        if row is not None:
            found[value] = core.Party(row.id, row.kind, row.names, row.contact, tuple(row.members))
    return found


def _representatives(given: set[str | None]) -> dict[str, core.Representative]:
    found = {}
    for chunk in _chunks(value for value in given if value):
        for rep in m.Representative.objects.filter(pk__in=chunk):
            found[rep.id] = core.Representative(rep.id, rep.name, rep.contact)
    return found


def _letter(row: m.Letter, parties: set[str]) -> tuple[core.Letter, dict[str, Mapping[str, Any]]]:
    """The letter as the rules see it, with the signatures of ``parties``; and the
    evidence of each withdrawn signature's withdrawal, by signature."""
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
    withdrawals: dict[str, Mapping[str, Any]] = {}
    for chunk in _chunks(parties):
        for sig in m.Signature.objects.filter(letter=row, party_id__in=chunk).order_by("log_index"):
            withdrawal = sig.withdrawal or {}
            letter.signatures[sig.id] = core.SignatureRecord(
                sig.id,
                sig.action,
                sig.party_id,
                sig.version,
                sig.at,
                sig.evidence_kind,
                sig.representative_id,
                sig.log_index,
                sig.withdrawn_at,
                withdrawal.get("id"),
                sig.superseded_by,
                sig.voided,
            )
            if sig.active:
                letter.active[sig.party_id] = sig.id
            if withdrawal:
                withdrawals[sig.id] = withdrawal.get("evidence") or {}
    return letter, withdrawals


# -- recording ------------------------------------------------------------------------------


def apply(plan: Plan, progress: Callable[[PlannedRow], None] | None = None) -> Applied:
    """Record every change of ``plan`` in one transaction: all of them, or none.

    ``progress`` is called after each row is recorded. Raises IntakeError if the plan
    has errors, or the error of the first row the rules refuse (its message naming the
    line); in either case nothing is recorded.
    """
    if plan.errors:
        raise IntakeError(
            f"{len(plan.errors)} bad row{'s' if len(plan.errors) > 1 else ''} "
            f"(first on line {plan.errors[0].line}); nothing was recorded"
        )
    recorded = 0
    try:
        with transaction.atomic():
            # Held to the end: no other write comes between this import's events.
            get_log().storage.lock()  # type: ignore[attr-defined]
            for row in plan.changes:
                try:
                    result = services.record_attested(
                        plan.letter, row.party, row.action, row.instrument, row.representative
                    )
                except CosignatoryError as error:
                    raise _at_line(error, row) from error
                recorded += result.new
                if progress is not None:
                    progress(row)
    except BaseException:
        # The log object caches hashes of full tiles; tiles written by the rolled-back
        # appends must not be trusted, so drop it and read the committed log afresh.
        reset_log_cache()
        raise
    return Applied(plan.letter, recorded, len(plan.rows) - recorded, get_log().size())


def _at_line(error: CosignatoryError, row: PlannedRow) -> CosignatoryError:
    """The same error (the same code), its message naming the row that caused it."""
    message = f"line {row.line} ({row.party} {row.action}): {error}; nothing was recorded"
    try:
        return type(error)(message)
    except TypeError:  # an error class that takes other arguments: keep it as it is
        return error
