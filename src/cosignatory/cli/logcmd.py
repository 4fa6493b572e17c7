"""``cosignatory log ...``: the transparency log from the command line.

``verify-checkpoint`` needs no database or Django settings; the others work on the
register's own database (``COSIGNATORY_DATA_DIR`` / ``COSIGNATORY_DATABASE_URL``).
"""

from __future__ import annotations

import argparse
import base64
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from cosignatory.cli.common import (
    CommandError,
    add_new_log_argument,
    print_json,
    read_text_argument,
    setup_django,
)
from cosignatory.tlog.checkpoint import open_checkpoint
from cosignatory.tlog.note import Verifier

if TYPE_CHECKING:
    from cosignatory.tlog.log import AppendResult, Log

_PROGRESS_THRESHOLD = 10_000
_APPEND_CHUNK = 50_000


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    log = commands.add_parser(
        "log",
        help="the transparency log: checkpoint, keys, append, proofs",
        description="Read, append to and prove statements about the register's log.",
    )
    sub = log.add_subparsers(dest="log_command", metavar="SUBCOMMAND", required=True)

    init = sub.add_parser(
        "init",
        help="create the tables, the log's and registrar's keys, the first entries",
        description="Migrate the database, make the log's signing keys and the registrar's "
        "key if missing, sign the empty log's checkpoint and record the registrar's key as "
        "the register's first event. Safe to run again. Once the keys have signed a "
        "checkpoint, they start no new log in a database that lost theirs (restore it from "
        "a backup) unless --new-log.",
    )
    add_new_log_argument(init)
    init.set_defaults(handler=init_log)

    checkpoint = sub.add_parser(
        "checkpoint",
        help="print the latest signed checkpoint",
        description="Print the log's latest signed checkpoint (a C2SP signed note).",
    )
    checkpoint.add_argument("--json", action="store_true", help="origin, size, root and text")
    checkpoint.set_defaults(handler=show_checkpoint)

    vkey = sub.add_parser(
        "vkey",
        help="print the log's verifier key (C2SP vkey)",
        description="Print the log's Ed25519 verifier key, the one /log/vkey serves.",
    )
    vkey.add_argument("--all", action="store_true", help="also print the ML-DSA-44 key")
    vkey.add_argument("--json", action="store_true", help="print as JSON")
    vkey.set_defaults(handler=show_vkey)

    append = sub.add_parser(
        "append",
        help="append entries from files or standard input",
        description="Append entries to the log in one all-or-nothing batch and print the new "
        "checkpoint. Each FILE is one entry; with no FILE (or '-') standard input is one "
        "entry, or one entry per line with --lines. For testing and bulk use: the register's "
        "own events are appended by its services.",
    )
    append.add_argument("files", nargs="*", metavar="FILE", help="one entry per file")
    append.add_argument("--lines", action="store_true", help="one entry per input line")
    append.add_argument("--json", action="store_true", help="print the result as JSON")
    append.set_defaults(handler=append_entries)

    inclusion = sub.add_parser(
        "prove-inclusion",
        help="print the inclusion proof of an entry",
        description="Print the RFC 6962 inclusion proof of entry INDEX in the tree of SIZE "
        "(default: the current size), one base64 hash a line.",
    )
    inclusion.add_argument("index", type=int, help="the entry's index (from 0)")
    inclusion.add_argument("--size", type=int, help="tree size (default: current)")
    inclusion.add_argument("--json", action="store_true", help="print as JSON")
    inclusion.set_defaults(handler=prove_inclusion)

    consistency = sub.add_parser(
        "prove-consistency",
        help="print the consistency proof between two sizes",
        description="Print the RFC 6962 consistency proof from tree size OLD to NEW, one "
        "base64 hash a line.",
    )
    consistency.add_argument("old", type=int, help="the older tree size (> 0)")
    consistency.add_argument("new", type=int, help="the newer tree size")
    consistency.add_argument("--json", action="store_true", help="print as JSON")
    consistency.set_defaults(handler=prove_consistency)

    verify = sub.add_parser(
        "verify-checkpoint",
        help="verify a signed checkpoint offline against verifier keys",
        description="Verify a signed checkpoint file (or '-' for standard input) against one "
        "or more verifier keys. Needs no database. Exit 0 and print the checkpoint if a "
        "trusted signature verifies; exit 1 with the reason otherwise.",
    )
    verify.add_argument("file", help="the signed checkpoint, or - for standard input")
    verify.add_argument(
        "--vkey",
        action="append",
        required=True,
        help="a verifier key, or a file holding one (repeatable)",
    )
    verify.add_argument("--origin", help="require this origin")
    verify.add_argument("--json", action="store_true", help="print as JSON")
    verify.set_defaults(handler=verify_checkpoint)

    witness = sub.add_parser(
        "witness",
        help="submit the latest checkpoint to the witnesses now, and show their answers",
        description="Submit the log's latest checkpoint to every witness in "
        "COSIGNATORY_WITNESSES (C2SP tlog-witness) and wait for their answers; the register "
        "does this by itself after every append. Exit 1 if any witness did not cosign.",
    )
    witness.add_argument("--json", action="store_true", help="print as JSON")
    witness.set_defaults(handler=witness_checkpoint)


def _log() -> Log:
    setup_django()
    from cosignatory.web.log.services import get_log

    return get_log()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def init_log(args: argparse.Namespace) -> None:
    from cosignatory.cli.server import prepare_register

    prepare_register(new_log=args.new_log)
    print(f"log initialised at size {_log().size()}")


def show_checkpoint(args: argparse.Namespace) -> None:
    log = _log()
    text = log.head().checkpoint
    if args.json:
        cp = log.checkpoint()
        print_json({"origin": cp.origin, "size": cp.size, "root": _b64(cp.root), "text": text})
    else:
        sys.stdout.write(text)


def show_vkey(args: argparse.Namespace) -> None:
    verifiers = _log().verifiers
    shown = verifiers if args.all else verifiers[:1]
    if args.json:
        print_json([{"name": v.name, "type": v.type_name, "vkey": v.to_vkey()} for v in shown])
    else:
        for verifier in shown:
            print(verifier.to_vkey())


def _read_entries(args: argparse.Namespace) -> list[bytes]:
    if args.files and args.files != ["-"]:
        entries = []
        for name in args.files:
            try:
                data = Path(name).read_bytes()
            except OSError as error:
                raise CommandError(f"cannot read {name}: {error.strerror}") from error
            entries.extend(data.splitlines() if args.lines else [data])
        return entries
    data = sys.stdin.buffer.read()
    return data.splitlines() if args.lines else [data]


def append_entries(args: argparse.Namespace) -> None:
    entries = _read_entries(args)
    if not entries:
        raise CommandError("nothing to append")
    log = _log()
    if len(entries) < _PROGRESS_THRESHOLD:
        result = log.append_batch(entries)
    else:
        result = _append_with_progress(log, entries)
    if args.json:
        print_json(
            {
                "first_index": result.first_index,
                "size": result.size,
                "checkpoint": result.checkpoint,
            }
        )
    else:
        print(
            f"appended {result.size - result.first_index} entries from index {result.first_index}"
        )
        sys.stdout.write(result.checkpoint)


def _append_with_progress(log: Log, entries: list[bytes]) -> AppendResult:
    """Append in chunks inside one transaction, so the whole batch stays all-or-nothing."""
    from django.db import transaction
    from tqdm import tqdm

    from cosignatory.tlog.log import AppendResult

    first: int | None = None
    with transaction.atomic(), tqdm(total=len(entries), unit="entry", file=sys.stderr) as bar:
        for start in range(0, len(entries), _APPEND_CHUNK):
            chunk = entries[start : start + _APPEND_CHUNK]
            result = log.append_batch(chunk)
            first = result.first_index if first is None else first
            bar.update(len(chunk))
    return AppendResult(first or 0, result.size, result.checkpoint)


def prove_inclusion(args: argparse.Namespace) -> None:
    log = _log()
    size = log.size() if args.size is None else args.size
    proof = log.prove_inclusion(args.index, size)
    if args.json:
        entry = log.entries(args.index, args.index + 1)[0]
        from cosignatory.tlog.hashing import leaf_hash

        print_json(
            {
                "index": args.index,
                "size": size,
                "leaf_hash": _b64(leaf_hash(entry)),
                "root": _b64(log.root(size)),
                "proof": [_b64(h) for h in proof],
            }
        )
    else:
        for node in proof:
            print(_b64(node))


def prove_consistency(args: argparse.Namespace) -> None:
    log = _log()
    proof = log.prove_consistency(args.old, args.new)
    if args.json:
        print_json(
            {
                "old_size": args.old,
                "new_size": args.new,
                "old_root": _b64(log.root(args.old)),
                "new_root": _b64(log.root(args.new)),
                "proof": [_b64(h) for h in proof],
            }
        )
    else:
        for node in proof:
            print(_b64(node))


def verify_checkpoint(args: argparse.Namespace) -> None:
    text = read_text_argument(args.file, "checkpoint")
    if args.file != "-" and not Path(args.file).is_file():
        raise CommandError(f"no such checkpoint file: {args.file}")
    verifiers = [Verifier.from_vkey(read_text_argument(v, "vkey").strip()) for v in args.vkey]
    cp = open_checkpoint(text, verifiers, origin=args.origin)
    if args.json:
        print_json({"origin": cp.origin, "size": cp.size, "root": _b64(cp.root), "verified": True})
    else:
        print(f"verified: {cp.origin} size {cp.size} root {_b64(cp.root)}")


def witness_checkpoint(args: argparse.Namespace) -> None:
    log = _log()
    from django.core.exceptions import ImproperlyConfigured

    from cosignatory.web.log.witnesses import submit_checkpoint

    try:
        results = submit_checkpoint(log)
    except ImproperlyConfigured as error:
        raise CommandError(str(error)) from None
    if not results:
        raise CommandError("no witnesses are configured (COSIGNATORY_WITNESSES)")
    if args.json:
        print_json(
            [
                {
                    "url": r.witness.url,
                    "witness": r.witness.verifier.to_vkey(),
                    "size": r.size,
                    "error": None if r.error is None else str(r.error),
                    "code": None if r.error is None else r.error.code,
                }
                for r in results
            ]
        )
    else:
        for r in results:
            name = f"{r.witness.verifier.name} ({r.witness.url})"
            if r.error is None:
                print(f"{name}: cosigned size {r.size}")
            else:
                print(f"{name}: {r.error} [{r.error.code}]")
    failed = sum(r.error is not None for r in results)
    if failed:
        raise CommandError(f"{failed} of {len(results)} witnesses did not cosign")
