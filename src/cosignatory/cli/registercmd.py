"""``cosignatory import`` and ``cosignatory export``: a letter's signatures, in bulk.

``import`` is the registrar's intake of signatures received on paper (see
:mod:`cosignatory.web.register.intake`): a dry run by default, all or nothing with
``--apply``. ``export`` writes a letter's signatory list as of a date, as CSV or JSON.
Both work on the register's database; Django is set up only when they run.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from collections.abc import Iterable, Iterator
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cosignatory.cli import partycmd
from cosignatory.cli.common import CommandError, print_json, setup_django
from cosignatory.core.errors import UnknownEntityError
from cosignatory.core.events import format_time

if TYPE_CHECKING:
    from cosignatory.web.register.intake import Plan
    from cosignatory.web.register.queries import SignatoryRow
    from cosignatory.web.register.statement_intake import StatementPlan

EXPORT_COLUMNS = (
    "party",
    "party_name",
    "kind",
    "action",
    "version",
    "signed_at",
    "evidence",
    "withdrawn_at",
    "on_earlier_version",
    "voided",
    "signature_id",
    "log_index",
)
# A spreadsheet runs a cell that starts with one of these as a formula (OWASP, "CSV
# Injection"): such cells are written with a leading apostrophe, which makes them text.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_EXPORT_CHUNK = 2_000  # rows fetched from the database at a time
_EXPORT_PIECE = 64 * 1024  # characters of CSV written at a time


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    intake = commands.add_parser(
        "import",
        help="record signatures received on paper, from a CSV file (dry run by default)",
        description="Read a CSV file of signatures, accessions and withdrawals received on "
        "paper for LETTER, judge every row by the register's rules and show what would "
        "change; every bad row is reported with its line number and the reason. Nothing "
        "is recorded without --apply, and --apply records every row or none. Header: "
        "party,representative,instrument_kind,reference,date[,action]. See docs/cli.md.",
    )
    intake.add_argument("letter", metavar="LETTER", help="the letter's identifier")
    intake.add_argument("file", metavar="FILE", help="the CSV file (UTF-8), or - for stdin")
    intake.add_argument(
        "--apply",
        action="store_true",
        help="record the rows, all or none (without it: a dry run that changes nothing)",
    )
    intake.add_argument("--json", action="store_true", help="print the plan as JSON")
    intake.add_argument(
        "--statements",
        action="store_true",
        help="FILE holds self-signed statements, one `cosignatory sign` file per line "
        "(JSON lines), not a CSV of signatures received on paper",
    )
    intake.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="with --statements: processes that verify the signatures (default: one per core)",
    )
    intake.set_defaults(handler=import_signatures)

    export = commands.add_parser(
        "export",
        help="write a letter's signatory list as CSV or JSON, as of a date, or its bundle",
        description="Write LETTER's signatory list: each party's latest signature or "
        "accession made by the end of --as-of (UTC; default: now), whether it was "
        "withdrawn by then, on an earlier text version, or voided by an upheld dispute. "
        "CSV cells that a spreadsheet would run as formulas are written as text. "
        "`cosignatory export bundle LETTER` writes the letter's bundle instead: its "
        "events with inclusion proofs against the log's checkpoint, for `cosignatory "
        "verify` (docs/bundle.md).",
        usage="%(prog)s [-h] [--format {csv,json}] [--as-of YYYY-MM-DD] [--output FILE] "
        "LETTER\n       %(prog)s bundle LETTER [--checkpoint FILE] [--output FILE]",
    )
    export.add_argument(
        "letter", metavar="LETTER", help="the letter's identifier (or: bundle LETTER)"
    )
    # `export bundle LETTER`: the word "bundle", then the letter (a second positional
    # keeps `export LETTER --format csv|json` as it was).
    export.add_argument("bundle_letter", nargs="?", help=argparse.SUPPRESS)
    export.add_argument(
        "--format",
        choices=("csv", "json", "bundle"),
        default="csv",
        help="output format (csv); bundle is `export bundle LETTER`",
    )
    export.add_argument(
        "--checkpoint",
        metavar="FILE",
        help="bundle only: prove against this signed checkpoint of the log (such as one "
        "with witness cosignatures) instead of the latest",
    )
    export.add_argument(
        "--as-of",
        type=_as_of,
        metavar="YYYY-MM-DD",
        help="the list as it stood at the end of this day, UTC (or at an ISO 8601 instant "
        "with its time zone)",
    )
    export.add_argument("--output", "-o", metavar="FILE", help="write to FILE, not stdout")
    export.set_defaults(handler=export_signatories)
    # `party register|state` and `representative register` (the registrar's reference
    # data, with the look-alike name warning) live in their own module.
    partycmd.add_commands(commands)


# -- import ---------------------------------------------------------------------------


def _read_file(name: str, limit: int) -> bytes:
    try:
        if name == "-":
            return sys.stdin.buffer.read(limit + 1)
        with open(name, "rb") as handle:
            return handle.read(limit + 1)
    except OSError as error:
        raise CommandError(f"cannot read {name}: {error.strerror or error}") from error


def import_signatures(args: argparse.Namespace) -> None:
    setup_django()
    if args.statements:
        import_statements(args)
        return
    if args.workers is not None:
        raise CommandError("--workers goes with --statements")
    from tqdm import tqdm

    from cosignatory.web.register import intake

    data = _read_file(args.file, intake.MAX_FILE_BYTES)
    plan = intake.plan_import(args.letter, data)
    if plan.errors or not args.apply:
        if args.json:
            print_json({**plan.to_json(), "file": args.file, "applied": False})
        else:
            _print_plan(plan, args.file, "refused" if args.apply else "dry run")
        if plan.errors:
            count = len(plan.errors)
            raise intake.IntakeError(
                f"{args.file}: {count} bad row{'s' if count > 1 else ''}; nothing was recorded"
            )
        return
    # On a terminal only (disable=None): a pipe or a log file gets no bar.
    bar = tqdm(total=len(plan.changes), unit="row", file=sys.stderr, disable=None, leave=False)

    def advance(row: object) -> None:
        bar.update(1)

    with bar:
        applied = intake.apply(plan, progress=advance)
    if args.json:
        print_json(
            {
                **plan.to_json(),
                "file": args.file,
                "applied": True,
                "recorded": applied.recorded,
                "log_size": applied.log_size,
            }
        )
    else:
        print(
            f"recorded {applied.recorded} event{'s' if applied.recorded != 1 else ''} for "
            f"{plan.letter} ({applied.unchanged} row{'s' if applied.unchanged != 1 else ''} "
            f"recorded already); log size {applied.log_size}"
        )


def _print_plan(plan: Plan, file: str, label: str) -> None:
    for row in plan.rows:
        print(f"line {row.line}\t{row.party}\t{row.action}\t{row.outcome}\t{row.detail}")
    for error in plan.errors:
        print(f"{file}:{error.line}: {error.reason} [{error.code}]", file=sys.stderr)
    counts = plan.summary()
    print(
        f"{label}: {counts['new']} new, {counts['withdrawal']} withdrawal"
        f"{'s' if counts['withdrawal'] != 1 else ''}, {counts['unchanged']} unchanged, "
        f"{counts['errors']} error{'s' if counts['errors'] != 1 else ''}; nothing recorded"
        + ("" if plan.errors or not plan.changes else " (run again with --apply to record)")
    )


def _statement_lines(name: str) -> list[bytes]:
    try:
        if name == "-":
            return sys.stdin.buffer.readlines()
        with open(name, "rb") as handle:
            return handle.readlines()
    except OSError as error:
        raise CommandError(f"cannot read {name}: {error.strerror or error}") from error


def import_statements(args: argparse.Namespace) -> None:
    """``import LETTER FILE --statements``: self-signed statements, as JSON lines."""
    from tqdm import tqdm

    from cosignatory.web.register import statement_intake as si
    from cosignatory.web.register.intake import IntakeError

    if args.workers is not None and args.workers < 1:
        raise CommandError("--workers must be at least 1")
    statements, errors = si.read_lines(_statement_lines(args.file))
    plan = si.plan_statements(statements, errors, letter=args.letter, workers=args.workers)
    if plan.errors or not args.apply:
        if args.json:
            print_json({**plan.to_json(), "file": args.file, "applied": False})
        else:
            _print_statement_plan(plan, args.file, "refused" if args.apply else "dry run")
        if plan.errors:
            count = len(plan.errors)
            raise IntakeError(
                f"{args.file}: {count} bad statement{'s' if count > 1 else ''}; "
                "nothing was recorded"
            )
        return
    bar = tqdm(total=len(plan.changes), unit="event", file=sys.stderr, disable=None, leave=False)

    def advance(done: int) -> None:
        bar.update(done - bar.n)

    with bar:
        applied = si.apply(plan, progress=advance)
    if args.json:
        print_json(
            {
                "letter": plan.letter,
                "rows": [row.to_json() for row in applied.rows],
                "errors": [],
                "summary": plan.summary(),
                "file": args.file,
                "applied": True,
                "recorded": applied.recorded,
                "log_size": applied.log_size,
            }
        )
    else:
        print(
            f"recorded {applied.recorded} event{'s' if applied.recorded != 1 else ''} for "
            f"{plan.letter} ({applied.unchanged} statement"
            f"{'s' if applied.unchanged != 1 else ''} recorded already); "
            f"log size {applied.log_size}"
        )


def _print_statement_plan(plan: StatementPlan, file: str, label: str) -> None:
    for row in plan.rows:
        print(f"line {row.position}\t{row.party}\t{row.action}\t{row.outcome}\t{row.detail}")
    for error in plan.errors:
        print(f"{file}:{error.position}: {error.reason} [{error.code}]", file=sys.stderr)
    counts = plan.summary()
    print(
        f"{label}: {counts['new']} new, {counts['withdrawal']} withdrawal"
        f"{'s' if counts['withdrawal'] != 1 else ''}, {counts['unchanged']} unchanged, "
        f"{counts['errors']} error{'s' if counts['errors'] != 1 else ''}; nothing recorded"
        + ("" if plan.errors or not plan.changes else " (run again with --apply to record)")
    )


# -- export ---------------------------------------------------------------------------


def _as_of(text: str) -> date | datetime:
    """A date (meaning the end of that day, UTC) or an aware ISO 8601 instant."""
    try:
        if len(text) == 10:
            return date.fromisoformat(text)
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date YYYY-MM-DD") from None
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} has no time zone (add Z for UTC)")
    return moment


def export_signatories(args: argparse.Namespace) -> None:
    if args.bundle_letter is not None:
        if args.letter != "bundle":
            raise CommandError("export takes one LETTER, or: export bundle LETTER")
        export_bundle(args.bundle_letter, args)
        return
    if args.format == "bundle":
        export_bundle(args.letter, args)
        return
    if args.checkpoint:
        raise CommandError("--checkpoint is for bundles: export bundle LETTER --checkpoint FILE")
    setup_django()
    from cosignatory.web.register.queries import end_of_day, signatory_json, signatory_list

    as_of = args.as_of
    if as_of is not None and not isinstance(as_of, datetime):
        as_of = end_of_day(as_of)
    if args.format == "csv":
        _write_export(_csv_chunks(args.letter, as_of), args.output)
        return
    rows = signatory_list(args.letter, as_of)
    document = {
        "letter": args.letter,
        "as_of": format_time(as_of) if as_of is not None else None,
        "count": len(rows),
        "active": sum(row.active for row in rows),
        "signatories": [signatory_json(row) for row in rows],
    }
    _write_export([json.dumps(document, ensure_ascii=False, sort_keys=True) + "\n"], args.output)


def _write_export(chunks: Iterable[str], output: str | None) -> None:
    """Write ``chunks`` to stdout, or to ``output`` whole or not at all (via a .partial file)."""
    if not output:
        for chunk in chunks:
            sys.stdout.write(chunk)
        sys.stdout.flush()
        return
    target = Path(output)
    partial = target.with_name(target.name + ".partial")
    try:
        with open(partial, "w", encoding="utf-8", newline="") as handle:
            for chunk in chunks:
                handle.write(chunk)
        partial.replace(target)
    except OSError as error:
        partial.unlink(missing_ok=True)
        raise CommandError(f"cannot write {output}: {error.strerror}") from error
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


def export_bundle(letter: str, args: argparse.Namespace) -> None:
    """Stream LETTER's bundle to --output (written whole or not at all) or stdout."""
    if args.as_of is not None:
        raise CommandError("a bundle is the record at the log's checkpoint: --as-of does not apply")
    checkpoint = None
    if args.checkpoint:
        try:
            checkpoint = Path(args.checkpoint).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise CommandError(f"cannot read the checkpoint {args.checkpoint}: {error}") from None
    setup_django()
    from tqdm import tqdm

    from cosignatory.web.register.bundles import stream_bundle

    lines = stream_bundle(letter, checkpoint=checkpoint)  # raises before the first line
    bar = tqdm(unit="line", file=sys.stderr, disable=None, leave=False)
    if not args.output:
        with bar:
            for line in lines:
                sys.stdout.buffer.write(line)
                bar.update(1)
        sys.stdout.buffer.flush()
        return
    target = Path(args.output)
    partial = target.with_name(target.name + ".partial")
    try:
        with bar, open(partial, "wb") as handle:
            for line in lines:
                handle.write(line)
                bar.update(1)
        partial.replace(target)
    except OSError as error:
        partial.unlink(missing_ok=True)
        raise CommandError(f"cannot write {args.output}: {error.strerror}") from error
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


def neutralise(value: str) -> str:
    """Return a CSV cell a spreadsheet shows as text, never runs as a formula."""
    return "'" + value if value.startswith(_FORMULA_STARTS) else value


def _csv_chunks(letter: str, as_of: datetime | None) -> Iterator[str]:
    """The signatory list as CSV (RFC 4180), formula-safe, in pieces of about 64 kB.

    Rows come from the database a chunk at a time in log order (the order they were
    recorded), so memory stays flat however long the list. Raises UnknownEntityError
    before anything is written if there is no such letter.
    """
    from cosignatory.web.register import models as m
    from cosignatory.web.register.queries import latest_signatures, signatory_row

    current = m.Letter.objects.filter(pk=letter).values_list("current_version", flat=True).first()
    if current is None:
        raise UnknownEntityError(f"no letter {letter!r}")
    rows = latest_signatures(letter, as_of).iterator(chunk_size=_EXPORT_CHUNK)
    return _csv_text(signatory_row(found, current, as_of) for found in rows)


def _csv_text(rows: Iterable[SignatoryRow]) -> Iterator[str]:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(EXPORT_COLUMNS)
    for row in rows:
        writer.writerow([neutralise(str(cell)) for cell in _export_cells(row)])
        if out.tell() >= _EXPORT_PIECE:
            yield out.getvalue()
            out.seek(0)
            out.truncate()
    yield out.getvalue()


def _export_cells(row: SignatoryRow) -> list[Any]:
    return [
        row.party,
        row.party_name("en"),
        row.party_kind,
        row.action,
        row.version,
        format_time(row.at),
        row.evidence,
        format_time(row.withdrawn_at) if row.withdrawn_at else "",
        _bool(row.on_earlier_version),
        _bool(row.voided),
        row.signature,
        row.log_index,
    ]


def _bool(value: bool) -> str:
    return "true" if value else "false"
