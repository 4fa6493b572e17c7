"""The ``cosignatory`` command: one entry point, one subcommand per operation.

``main(argv)`` returns the exit code and is what tests call. Every deliberate error
(:class:`cosignatory.errors.CosignatoryError`) is printed once, as one line with its
stable code, and exits 1; usage errors exit 2 (argparse's convention).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Sequence

from cosignatory import __version__
from cosignatory.cli import (
    account,
    backup,
    keys,
    logcmd,
    noticescmd,
    rebuild,
    registercmd,
    server,
    sign,
    tokencmd,
    verifycmd,
    witnesscmd,
)
from cosignatory.cli.common import CommandError
from cosignatory.errors import CosignatoryError


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser for every subcommand."""
    parser = argparse.ArgumentParser(
        prog="cosignatory",
        description="A public, verifiable register of joint letters.",
    )
    parser.add_argument("--version", action="version", version=f"cosignatory {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    server.add_commands(commands)
    keys.add_commands(commands)
    logcmd.add_commands(commands)
    noticescmd.add_commands(commands)
    registercmd.add_commands(commands)
    sign.add_commands(commands)
    rebuild.add_commands(commands)
    backup.add_commands(commands)
    tokencmd.add_commands(commands)
    verifycmd.add_commands(commands)
    witnesscmd.add_commands(commands)
    account.add_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line ``argv`` (default: ``sys.argv[1:]``); return the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        result: int | None = args.handler(args)
    except CosignatoryError as error:
        print(f"cosignatory: error: {error} [{error.code}]", file=sys.stderr)
        return 1
    except CommandError as error:
        print(f"cosignatory: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("cosignatory: interrupted", file=sys.stderr)
        return 130
    except Exception as error:
        message = _misconfigured(error) or _database_unusable(error)
        if message is None:
            raise
        print(f"cosignatory: error: {message}", file=sys.stderr)
        return 1
    return result or 0


# Django is not imported to classify an error: the commands that need no Django, such
# as ``verify``, never load it, and then no error can be Django's.


def _misconfigured(error: Exception) -> str | None:
    """The message of Django's ImproperlyConfigured, such as a data folder whose log was
    never initialised (the message says what to run); else None."""
    exceptions = sys.modules.get("django.core.exceptions")
    if exceptions is not None and isinstance(error, exceptions.ImproperlyConfigured):
        return str(error)
    return None


def _database_unusable(error: Exception) -> str | None:
    """One line for a database the command cannot use; else None.

    That is a database without the register's tables (a deleted SQLite file, an empty
    PostgreSQL database) or one that cannot be reached or is locked. Other database
    errors are defects and keep their traceback.
    """
    utils = sys.modules.get("django.db.utils")
    if utils is None or not isinstance(error, utils.DatabaseError):
        return None
    reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    if missing_table(error):
        return (
            f"the database has no register tables ({reason}): a new register starts "
            "with `cosignatory log init`; if the register's database was lost, restore it "
            "with `cosignatory restore FILE`, as a new log under the same keys would "
            "contradict the checkpoints already published"
        )
    if isinstance(error, utils.OperationalError):
        return f"the database cannot be used: {reason}"
    return None


def missing_table(error: Exception) -> bool:
    """Whether a database error says that a table does not exist (SQLite's "no such
    table", PostgreSQL's undefined_table, SQLSTATE 42P01)."""
    if str(error).startswith("no such table"):
        return True
    return getattr(error.__cause__, "sqlstate", None) == "42P01"


def run() -> None:
    """The console script's entry point.

    A reader that stops early (``cosignatory verify … | head``) closes the pipe: the
    command then stops quietly with 141 (128 + SIGPIPE), as ``cat`` does, not with a
    traceback.
    """
    try:
        code = main()
        sys.stdout.flush()
    except BrokenPipeError:
        # Python flushes stdout once more at exit: point it at /dev/null so that this
        # flush cannot fail again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        code = 128 + signal.SIGPIPE
    sys.exit(code)
