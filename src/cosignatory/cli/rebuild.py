"""``cosignatory rebuild``: check that the register's tables are exactly what its log says.

A thin shell over :func:`cosignatory.web.register.rebuild.rebuild`.
"""

from __future__ import annotations

import argparse
import sys

from cosignatory.cli.common import CommandError, print_json, setup_django

_PROGRESS_THRESHOLD = 10_000


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "rebuild",
        help="replay the log into a fresh database and compare it with the live tables",
        description="Verify the log (its checkpoint's signature, and the Merkle root of its "
        "entries), replay every entry into a temporary database, judging each event by the "
        "register's rules again, and compare every table with the live database. Exit 0 if "
        "they are identical; exit 1 with the differences listed on standard error "
        "[E_REBUILD_MISMATCH] otherwise. Changes nothing. Entries that are not register "
        "events are counted as foreign and skipped.",
    )
    parser.add_argument(
        "--limit", type=int, default=50, help="list at most this many differences (50)"
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.set_defaults(handler=rebuild_register)


def rebuild_register(args: argparse.Namespace) -> None:
    if args.limit < 0:
        raise CommandError("--limit must be 0 or more")
    setup_django()
    from django.db import DatabaseError

    from cosignatory.web.log.services import get_log
    from cosignatory.web.register.rebuild import rebuild

    try:
        size = get_log().size()
    except DatabaseError as error:  # no tables: the database holds no register
        reason = str(error).strip().splitlines()[0]
        raise CommandError(
            f"cannot read the register's log ({reason}); run `cosignatory log init` first"
        ) from None
    if args.json or size < _PROGRESS_THRESHOLD:
        report = rebuild(limit=args.limit)
    else:
        from tqdm import tqdm

        with tqdm(total=size, unit="entry", file=sys.stderr) as bar:

            def advance(done: int) -> None:
                bar.update(done - bar.n)

            report = rebuild(limit=args.limit, progress=advance)
    if args.json:
        print_json(report.to_json())
    elif report.identical:
        print(report.summary())
    else:
        for line in report.details():
            print(f"  {line}", file=sys.stderr)
    report.check()
