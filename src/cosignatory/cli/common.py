"""Helpers shared by the subcommands: errors, output, reading inputs, Django set-up."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any


class CommandError(Exception):
    """A usage problem found after parsing (a missing file, a bad value): one line, exit 1."""


def setup_django() -> None:
    """Configure Django for the commands that use the database (idempotent)."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cosignatory.web.settings")
    import django
    from django.apps import apps

    if not apps.ready:  # set up once: a second setup would reconfigure logging
        django.setup()


def add_new_log_argument(parser: argparse.ArgumentParser) -> None:
    """``--new-log``, for the commands that may start the register's log."""
    parser.add_argument(
        "--new-log",
        action="store_true",
        help="start a new, empty log even though this data folder's keys have signed one "
        "that the database does not hold (only if none of its checkpoints was published; "
        "a lost database is restored with `cosignatory restore`)",
    )


def print_json(value: Any) -> None:
    """Print ``value`` as JSON on one line, as every ``--json`` output does."""
    print(json.dumps(value, ensure_ascii=False, sort_keys=True))


def print_json_with_list(head: Mapping[str, Any], name: str, items: Iterable[Any]) -> None:
    """Print ``{**head, name: list(items)}`` as :func:`print_json` does, writing each
    item as it comes: a list of a million need not be held, nor its JSON."""
    write = sys.stdout.write
    write("{")
    for number, key in enumerate(sorted([*head, name])):
        write(f"{', ' if number else ''}{_json(key)}: ")
        if key != name:
            write(_json(head[key]))
            continue
        write("[")
        for position, item in enumerate(items):
            write(f"{', ' if position else ''}{_json(item)}")
        write("]")
    write("}\n")


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def read_text_argument(value: str, what: str) -> str:
    """Return ``value`` itself, or the contents of the file it names if that exists.

    ``-`` reads standard input. Raises CommandError for an unreadable file.
    """
    if value == "-":
        return sys.stdin.read()
    path = Path(value)
    if path.is_file():
        try:
            return path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise CommandError(f"cannot read {what} {value}: {error}") from error
    return value
