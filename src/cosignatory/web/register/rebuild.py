"""``cosignatory rebuild``: replay the log into a fresh database and compare it with the live one.

The log is the source of truth and the register's tables are projections of it
(DESIGN.md, principle 1). :func:`rebuild`

1. checks the log itself: its stored checkpoint opens with the log's own keys, and the
   Merkle root recomputed from the stored entries (RFC 9162 §2.1.1) is the root the
   checkpoint signs, as is the root of the stored tiles; no entry is stored beyond
   it; and every earlier checkpoint the log recorded (``tlog_checkpoint``) opens with
   its key and signs the root of the first entries it counts, so a history rewritten
   or cut short shows while the later checkpoints are kept;
2. replays every entry into a new, temporary SQLite database, judging each event with
   the full rules (:meth:`cosignatory.core.state.Register.apply`, seals included) and
   projecting it with the same code the services use
   (:func:`cosignatory.web.register.projector.project`);
3. compares every projection table of the live database with the rebuilt one, row by
   row and field by field.

Entries that are not register events (notes appended with ``cosignatory log append``)
are counted as foreign and skipped. The live database may be SQLite or PostgreSQL; the
rebuilt one is always a throw-away SQLite file, removed afterwards.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from django.core.management import call_command
from django.db import DEFAULT_DB_ALIAS, connections, models, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.utils.module_loading import import_string

from cosignatory.core.errors import InvalidEventError
from cosignatory.core.events import Event
from cosignatory.core.state import Register
from cosignatory.errors import CosignatoryError
from cosignatory.tlog.checkpoint import Checkpoint, open_checkpoint
from cosignatory.tlog.errors import LogStateError
from cosignatory.tlog.hashing import EMPTY_ROOT, leaf_hash, node_hash
from cosignatory.tlog.log import Log
from cosignatory.web.log.models import LogCheckpoint, LogEntry
from cosignatory.web.log.services import get_log
from cosignatory.web.register.projector import PROJECTION_MODELS, project

_CHUNK = 5_000
"""Entries read, and rows streamed, per database round trip."""


class RebuildMismatchError(CosignatoryError):
    """The log does not verify, or the tables rebuilt from it differ from the live ones."""

    code = "E_REBUILD_MISMATCH"


@dataclass(frozen=True)
class Difference:
    """One way the live tables differ from the rebuilt ones.

    ``field`` is a column name, or ``"(row)"`` when the row exists on one side only
    (its value is then ``"present"`` or ``"missing"``).
    """

    table: str
    pk: str
    field: str
    live: Any
    rebuilt: Any

    def to_json(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "pk": self.pk,
            "field": self.field,
            "live": _jsonable(self.live),
            "rebuilt": _jsonable(self.rebuilt),
        }

    def __str__(self) -> str:
        return f"{self.table} {self.pk} {self.field}: live {self.live!r}, rebuilt {self.rebuilt!r}"


@dataclass
class RebuildReport:
    """What :func:`rebuild` found. ``identical`` is the verdict."""

    log_size: int = 0
    events: int = 0
    foreign_entries: int = 0
    compared: bool = False
    problems: list[str] = field(default_factory=list)
    """The log's own faults: a checkpoint or root that does not verify, a refused event."""
    differences: list[Difference] = field(default_factory=list)
    """The first ``limit`` field differences between live and rebuilt tables."""
    rows_differing: int = 0
    """How many rows differ in all (``differences`` may list only some of them)."""
    tables: dict[str, tuple[int, int]] = field(default_factory=dict)
    """Rows per projection table: (live, rebuilt)."""

    @property
    def identical(self) -> bool:
        """True if the log verifies and every table came out the same."""
        return not self.problems and not self.rows_differing

    def summary(self) -> str:
        """One line for people: the verdict and the counts."""
        foreign = f", {self.foreign_entries} foreign entries" if self.foreign_entries else ""
        if self.identical:
            what = "identical" if self.compared else "replayed"
            return f"{what}: {self.events} events{foreign}"
        parts = []
        if self.problems:
            parts.append(_count(len(self.problems), "log problem", "log problems"))
        if self.rows_differing:
            parts.append(_count(self.rows_differing, "row differs", "rows differ"))
        return (
            f"the register does not match its log: {', '.join(parts)} "
            f"({self.events} events{foreign})"
        )

    def details(self) -> list[str]:
        """One line per problem and per difference listed."""
        lines = [f"log: {problem}" for problem in self.problems]
        lines.extend(str(difference) for difference in self.differences)
        shown = len({(d.table, d.pk) for d in self.differences})
        if self.rows_differing > shown:
            lines.append(f"... and {self.rows_differing - shown} more rows")
        return lines

    def check(self) -> None:
        """Raise RebuildMismatchError (E_REBUILD_MISMATCH) unless ``identical``."""
        if not self.identical:
            raise RebuildMismatchError(self.summary())

    def to_json(self) -> dict[str, Any]:
        return {
            "identical": self.identical,
            "compared": self.compared,
            "log_size": self.log_size,
            "events": self.events,
            "foreign_entries": self.foreign_entries,
            "problems": list(self.problems),
            "rows_differing": self.rows_differing,
            "differences": [d.to_json() for d in self.differences],
            "tables": {name: {"live": a, "rebuilt": b} for name, (a, b) in self.tables.items()},
        }


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def rebuild(
    compare: bool = True,
    *,
    limit: int = 50,
    using: str = DEFAULT_DB_ALIAS,
    progress: Callable[[int], None] | None = None,
) -> RebuildReport:
    """Verify the log, replay it into a fresh database and compare that with ``using``.

    ``limit`` bounds the field differences listed; ``progress`` is called with the
    number of entries replayed so far (for a progress bar). Returns the report; a log
    that does not verify or tables that differ are findings in the report, not
    exceptions (call :meth:`RebuildReport.check` to raise RebuildMismatchError). Raises
    LogStateError if the log was never initialised.

    The log's write lock is held while the log and the live tables are read, so no
    event is recorded between the two.
    """
    report = RebuildReport()
    log = get_log(using)
    with _scratch_database() as scratch, transaction.atomic(using=using):
        log.storage.lock()  # type: ignore[attr-defined]
        checkpoint = _verify_log(log, report, using)
        report.log_size = checkpoint.size if checkpoint else log.size()
        with transaction.atomic(using=scratch):
            _replay(log, report, scratch, progress)
        if compare:
            report.compared = True
            for model in PROJECTION_MODELS:
                _compare(model, using, scratch, report, limit)
    return report


# -- the scratch database --------------------------------------------------------------


@contextlib.contextmanager
def _scratch_database() -> Iterator[str]:
    """Yield the alias of a new, migrated SQLite database; remove it afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="cosignatory-rebuild-"))
    try:
        with sqlite_database(folder / "rebuilt.sqlite3", durable=False) as alias:
            call_command("migrate", database=alias, verbosity=0, interactive=False)
            yield alias
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@contextlib.contextmanager
def sqlite_database(path: Path, *, durable: bool = True) -> Iterator[str]:
    """Yield the alias of a Django connection to the SQLite file ``path``; close it after.

    The connection is made here, not declared in ``settings.DATABASES``: it exists for
    this thread and this call only, so concurrent requests never see it, and Django's
    test framework (which refuses queries to declared databases a test did not ask for)
    lets it through as a dynamically created connection. ``durable=False`` skips the
    fsync on commit, for a throw-away copy. ``cosignatory restore`` checks a backup's
    database through such a connection before it replaces the register's.
    """
    from cosignatory.web.settings import database_from_url

    alias = f"cosignatory-sqlite-{uuid.uuid4().hex[:12]}"
    entry = database_from_url(f"sqlite://{path}")
    if not durable:
        entry["OPTIONS"]["init_command"] = "PRAGMA journal_mode=WAL;PRAGMA synchronous=OFF"
    entry.pop("TEST", None)
    # Django's own backend: this connection is the copy's only writer, and no file of
    # turns (web/sqlite) is left beside a copy, or beside a backup being checked.
    entry["ENGINE"] = "django.db.backends.sqlite3"
    # Django's own defaults for the keys a DATABASES entry leaves out.
    settings_dict = connections.configure_settings({DEFAULT_DB_ALIAS: {}, alias: entry})[alias]
    backend = import_string(f"{settings_dict['ENGINE']}.base.DatabaseWrapper")
    connection: BaseDatabaseWrapper = backend(settings_dict, alias)
    connections[alias] = connection
    try:
        yield alias
    finally:
        connection.close()
        with contextlib.suppress(AttributeError):
            del connections[alias]


# -- the log ---------------------------------------------------------------------------


def _verify_log(log: Log, report: RebuildReport, using: str) -> Checkpoint | None:
    """Check the stored checkpoints' signatures and roots; record what fails.

    The head's checkpoint must verify and its root must be the root of the stored
    entries and of the stored tiles. So must every earlier checkpoint the log recorded
    (``tlog_checkpoint``): its root must be the root of the first ``size`` stored
    entries, which catches a history rewritten and re-signed, or cut short with the
    head set back to an older checkpoint, as long as the later checkpoints were kept.
    """
    try:
        checkpoint = open_checkpoint(log.head().checkpoint, log.verifiers, origin=log.origin)
    except CosignatoryError as error:
        report.problems.append(f"the stored checkpoint does not verify: {error} [{error.code}]")
        return None
    if checkpoint.size != log.size():
        report.problems.append(
            f"the checkpoint is for {checkpoint.size} entries, the log has {log.size()}"
        )
        return checkpoint
    if LogEntry.objects.using(using).filter(index__gte=checkpoint.size).exists():
        report.problems.append(
            f"entries are stored beyond the checkpoint's {checkpoint.size}: "
            "they were added outside the log"
        )
    recorded = list(
        LogCheckpoint.objects.using(using).order_by("size", "pk").values_list("pk", "size")
    )
    try:
        roots = _roots_of_entries(log, checkpoint.size, {size for _, size in recorded})
        if roots[checkpoint.size] != checkpoint.root:
            report.problems.append(
                "the root of the stored entries is not the checkpoint's root: "
                "an entry was changed, added or removed"
            )
        if log.root(checkpoint.size) != checkpoint.root:
            report.problems.append("the root of the stored tiles is not the checkpoint's root")
    except LogStateError as error:  # entries or tiles missing from storage
        report.problems.append(f"{error} [{error.code}]")
        return checkpoint
    _verify_recorded_checkpoints(log, checkpoint, recorded, roots, report, using)
    return checkpoint


_RECORDED_PROBLEMS = 10
"""Recorded checkpoints that fail, listed one by one; the rest are counted."""


def _verify_recorded_checkpoints(
    log: Log,
    head: Checkpoint,
    recorded: list[tuple[int, int]],
    roots: dict[int, bytes],
    report: RebuildReport,
    using: str,
) -> None:
    """Every checkpoint in ``tlog_checkpoint`` must be the log's and fit its entries."""
    failures: list[str] = []
    head_text = log.head().checkpoint
    head_recorded = False
    texts = LogCheckpoint.objects.using(using).order_by("size", "pk").values_list("pk", "text")
    for pk, text in texts.iterator(chunk_size=_CHUNK):
        head_recorded = head_recorded or text == head_text
        try:
            # The Ed25519 key alone: every checkpoint the log signs carries its signature.
            found = open_checkpoint(text, log.verifiers[:1], origin=log.origin)
        except CosignatoryError as error:
            failures.append(f"recorded checkpoint #{pk} does not verify: {error} [{error.code}]")
            continue
        if found.size > head.size:
            failures.append(
                f"recorded checkpoint #{pk} is for {found.size} entries, more than the log's "
                f"{head.size}: entries signed earlier are gone"
            )
        elif roots.get(found.size) != found.root:
            failures.append(
                f"recorded checkpoint #{pk} (size {found.size}) is not consistent with the "
                "stored entries: the log's history was rewritten"
            )
    if recorded and not head_recorded:
        failures.append("the head's checkpoint is not among the checkpoints the log recorded")
    report.problems.extend(failures[:_RECORDED_PROBLEMS])
    if len(failures) > _RECORDED_PROBLEMS:
        report.problems.append(
            f"... and {len(failures) - _RECORDED_PROBLEMS} more recorded checkpoints fail"
        )


def _roots_of_entries(log: Log, size: int, sizes: set[int]) -> dict[int, bytes]:
    """The Merkle roots of the stored entries' trees at ``size`` and each of ``sizes``.

    One pass over the entries, keeping only the roots of the perfect subtrees that
    cover the leaves so far (RFC 9162 §2.1.1: the tree's root folds them from the
    right), so memory stays logarithmic in the log's size. Raises LogStateError if
    entries are missing from storage.
    """
    wanted = {n for n in sizes if 0 <= n <= size} | {size}
    stack: list[tuple[int, bytes]] = []  # (height, hash), heights strictly decreasing
    roots: dict[int, bytes] = {}
    if 0 in wanted:
        roots[0] = EMPTY_ROOT
    for start in range(0, size, _CHUNK):
        end = min(start + _CHUNK, size)
        for count, entry in enumerate(log.entries(start, end), start + 1):
            height, node = 0, leaf_hash(entry)
            while stack and stack[-1][0] == height:
                node = node_hash(stack.pop()[1], node)
                height += 1
            stack.append((height, node))
            if count in wanted:
                root = stack[-1][1]
                for _, left in reversed(stack[:-1]):
                    root = node_hash(left, root)
                roots[count] = root
    return roots


def _replay(
    log: Log, report: RebuildReport, scratch: str, progress: Callable[[int], None] | None
) -> None:
    """Judge every entry with the full rules and project the accepted ones into ``scratch``."""
    register = Register()
    for start in range(0, report.log_size, _CHUNK):
        end = min(start + _CHUNK, report.log_size)
        try:
            entries = log.entries(start, end)
        except LogStateError as error:
            report.problems.append(f"replay stopped at entry {start}: {error} [{error.code}]")
            return
        for index, entry in enumerate(entries, start):
            event = _event(index, entry, report)
            if event is None:
                continue
            try:
                register.apply(event, index)
            except CosignatoryError as error:
                report.problems.append(
                    f"entry {index} ({event.type}) is refused by the rules: {error} [{error.code}]"
                )
                continue
            try:
                with transaction.atomic(using=scratch):
                    project(event, index, using=scratch)
            except Exception as error:  # a projector fault: report it, keep replaying
                report.problems.append(
                    f"entry {index} ({event.type}) cannot be projected: "
                    f"{type(error).__name__}: {error}"
                )
                continue
            report.events += 1
        if progress is not None:
            progress(end)


def _event(index: int, entry: bytes, report: RebuildReport) -> Event | None:
    """Parse a log entry; count it as foreign unless it claims to be a register event."""
    try:
        return Event.from_bytes(entry)
    except InvalidEventError as error:
        if _claims_to_be_event(entry):
            report.problems.append(f"entry {index} is a malformed register event: {error}")
        else:
            report.foreign_entries += 1
        return None


def _claims_to_be_event(entry: bytes) -> bool:
    try:
        value = json.loads(entry)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        return False
    return isinstance(value, dict) and {"type", "registrar"} <= set(value)


# -- comparing tables ------------------------------------------------------------------


@dataclass(frozen=True)
class _Layout:
    key: tuple[str, ...]
    columns: tuple[str, ...]


def _layout(model: type[models.Model]) -> _Layout:
    """The columns that identify a row, and the columns compared.

    An automatic integer primary key is a sequence value, not a fact from the log:
    PostgreSQL sequences skip the numbers of rolled-back inserts, so it is left out and
    the row is identified by its model's first unique constraint instead.
    """
    meta = model._meta
    pk = meta.pk
    assert pk is not None
    columns = [f.attname for f in meta.concrete_fields]
    if not isinstance(pk, models.AutoField):
        return _Layout((pk.attname,), tuple(columns))
    columns.remove(pk.attname)
    unique = next(
        (c for c in meta.constraints if isinstance(c, models.UniqueConstraint) and c.fields),
        None,
    )
    if unique is None:
        raise TypeError(f"{meta.label} has an automatic key and no unique constraint")
    key = tuple(_attname(meta.get_field(name)) for name in unique.fields)
    return _Layout(key, tuple(columns))


def _attname(found: Any) -> str:
    assert isinstance(found, models.Field)
    return found.attname


def _normalise(value: Any) -> Any:
    """A value as it compares across SQLite and PostgreSQL."""
    if isinstance(value, memoryview | bytearray):
        return bytes(value)
    if isinstance(value, datetime):
        return value.astimezone(UTC) if value.tzinfo else value
    return value


def _fingerprint(row: tuple[Any, ...]) -> bytes:
    canonical = []
    for value in row:
        value = _normalise(value)
        if isinstance(value, datetime | date):
            canonical.append(["t", value.isoformat()])
        elif isinstance(value, bytes):
            canonical.append(["b", value.hex()])
        else:
            canonical.append(value)
    text = json.dumps(canonical, sort_keys=True, ensure_ascii=False, default=repr)
    return hashlib.sha256(text.encode()).digest()


def _rows(
    model: type[models.Model], using: str, layout: _Layout
) -> Iterator[tuple[tuple[Any, ...], bytes]]:
    rows = model._default_manager.using(using).values_list(*layout.key, *layout.columns)
    width = len(layout.key)
    for row in rows.iterator(chunk_size=_CHUNK):
        yield tuple(row[:width]), _fingerprint(row[width:])


def _compare(
    model: type[models.Model], live: str, rebuilt: str, report: RebuildReport, limit: int
) -> None:
    """Compare one table: a fingerprint per live row, then one pass over the rebuilt rows.

    Memory grows with the table's row count (a key and 32 bytes a row), not its size;
    only the rows listed as differing are read again in full.
    """
    layout = _layout(model)
    table = model._meta.db_table
    fingerprints = dict(_rows(model, live, layout))
    live_count = len(fingerprints)
    rebuilt_count = 0
    differing: list[tuple[Any, ...]] = []
    for key, fingerprint in _rows(model, rebuilt, layout):
        rebuilt_count += 1
        found = fingerprints.pop(key, None)
        if found == fingerprint:
            continue
        report.rows_differing += 1
        if found is None:
            _note(report, limit, Difference(table, _show(key), "(row)", "missing", "present"))
        elif len(differing) < limit:
            differing.append(key)
    report.tables[table] = (live_count, rebuilt_count)
    report.rows_differing += len(fingerprints)
    for key in fingerprints:  # the live rows the log does not account for
        _note(report, limit, Difference(table, _show(key), "(row)", "present", "missing"))
    for key in differing:
        live_row, rebuilt_row = (_full_row(model, alias, layout, key) for alias in (live, rebuilt))
        for column, a, b in zip(layout.columns, live_row, rebuilt_row, strict=True):
            if _fingerprint((a,)) != _fingerprint((b,)):
                _note(report, limit, Difference(table, _show(key), column, a, b))


def _full_row(
    model: type[models.Model], using: str, layout: _Layout, key: tuple[Any, ...]
) -> tuple[Any, ...]:
    found = (
        model._default_manager.using(using)
        .filter(**dict(zip(layout.key, key, strict=True)))
        .values_list(*layout.columns)
        .get()
    )
    return tuple(_normalise(value) for value in found)


def _note(report: RebuildReport, limit: int, difference: Difference) -> None:
    if len(report.differences) < limit:
        report.differences.append(difference)


def _show(key: tuple[Any, ...]) -> str:
    return "/".join(str(part) for part in key)


def _jsonable(value: Any) -> Any:
    value = _normalise(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)
    return value
