"""``cosignatory token``: the JSON API's bearer tokens (create, revoke, list).

A token is printed once, when it is made; the register keeps only its SHA-256. See
docs/api.md for what each role may do.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from cosignatory.cli.common import print_json, setup_django

if TYPE_CHECKING:
    from cosignatory.web.api.models import ApiToken


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    token = commands.add_parser(
        "token",
        help="create, revoke and list the JSON API's bearer tokens",
        description="Manage the bearer tokens of the JSON API (/api/v1/). A registrar "
        "token may do the registrar's operations; a signatory token acts for one party.",
    )
    sub = token.add_subparsers(dest="token_command", metavar="ACTION", required=True)

    create = sub.add_parser(
        "create",
        help="make a token and print it (once: it is not stored)",
        description="Make a token and print it. Only its SHA-256 is stored: keep the "
        "token, it cannot be shown again.",
    )
    create.add_argument("--name", required=True, help="a unique name, e.g. secretariat-1")
    create.add_argument(
        "--role", required=True, choices=("registrar", "signatory"), help="what it may do"
    )
    create.add_argument("--party", help="the party a signatory token acts for")
    create.add_argument("--json", action="store_true", help="print the result as JSON")
    create.set_defaults(handler=create_token)

    revoke = sub.add_parser(
        "revoke",
        help="revoke a token (it is refused from now on)",
        description="Revoke the token NAME: every request with it is refused from now on. "
        "Revoking it again changes nothing.",
    )
    revoke.add_argument("name", metavar="NAME", help="the token's name")
    revoke.add_argument("--json", action="store_true", help="print the result as JSON")
    revoke.set_defaults(handler=revoke_token)

    listing = sub.add_parser(
        "list", help="list the tokens (never the tokens themselves)", description="List tokens."
    )
    listing.add_argument("--json", action="store_true", help="print the list as JSON")
    listing.set_defaults(handler=list_tokens)


def _row(row: ApiToken) -> dict[str, Any]:
    from cosignatory.core.events import format_time

    return {
        "name": row.name,
        "role": row.role,
        "party": row.party,
        "created_at": format_time(row.created_at),
        "revoked_at": format_time(row.revoked_at) if row.revoked_at else None,
        "last_used_at": format_time(row.last_used_at) if row.last_used_at else None,
    }


def create_token(args: argparse.Namespace) -> None:
    setup_django()
    from cosignatory.web.api import tokens

    row, secret = tokens.create_token(args.name, args.role, args.party)
    if args.json:
        print_json({**_row(row), "token": secret})
    else:
        print(f"created {row.role} token {row.name}; it is shown this once:")
        print(secret)


def revoke_token(args: argparse.Namespace) -> None:
    setup_django()
    from cosignatory.web.api import tokens

    row = tokens.revoke_token(args.name)
    if args.json:
        print_json(_row(row))
    else:
        print(f"revoked token {row.name}")


def list_tokens(args: argparse.Namespace) -> None:
    setup_django()
    from cosignatory.web.api import tokens

    rows = [_row(row) for row in tokens.list_tokens()]
    if args.json:
        print_json(rows)
        return
    for row in rows:
        state = f"revoked {row['revoked_at']}" if row["revoked_at"] else "live"
        print(
            f"{row['name']}\t{row['role']}\t{row['party'] or '-'}\t{state}\t"
            f"last used {row['last_used_at'] or 'never'}"
        )
