"""``cosignatory account``: the website's user accounts (create, list, disable, reset 2FA).

Registrars use the desk at ``/desk/`` and must set up a second factor (TOTP) the first
time they sign in; signatories act for one representative of the register. Bad input
is reported as one line on standard error with exit status 2, and nothing is changed.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path
from typing import Any

from cosignatory.cli.common import print_json, setup_django

ROLES = ("registrar", "signatory")
USAGE_ERROR = 2


class _Refused(Exception):
    """Input the command refuses: printed as one line, exit status 2."""


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    account = commands.add_parser(
        "account",
        help="create, list and disable website accounts; reset their second factor",
        description="Manage the accounts of the website: registrars (the desk, with "
        "two-factor authentication) and signatories (signing in the browser for a "
        "representative).",
    )
    sub = account.add_subparsers(dest="account_command", metavar="ACTION", required=True)

    create = sub.add_parser(
        "create",
        help="create an account with a role",
        description="Create the account USERNAME with the role registrar or signatory. "
        "The password is asked for twice, or read from the first line of --password-file. "
        "A signatory acts for one representative of the register (--representative).",
    )
    create.add_argument("username", metavar="USERNAME")
    create.add_argument("--role", required=True, metavar="ROLE", help="registrar or signatory")
    create.add_argument(
        "--representative", metavar="ID", help="the representative a signatory acts for"
    )
    create.add_argument("--email", metavar="E", help="the account's email address")
    create.add_argument(
        "--password-file", metavar="FILE", help="read the password from FILE's first line"
    )
    create.add_argument("--json", action="store_true", help="print the result as JSON")
    create.set_defaults(handler=create_account)

    listing = sub.add_parser(
        "list", help="list the accounts", description="List the accounts and their roles."
    )
    listing.add_argument("--json", action="store_true", help="print the list as JSON")
    listing.set_defaults(handler=list_accounts)

    disable = sub.add_parser(
        "disable",
        help="disable an account (it can no longer sign in)",
        description="Disable USERNAME: it can no longer sign in, and its open sessions "
        "stop working. Nothing is deleted.",
    )
    disable.add_argument("username", metavar="USERNAME")
    disable.set_defaults(handler=disable_account)

    reset = sub.add_parser(
        "reset-two-factor",
        help="remove an account's TOTP device (it sets up a new one at next sign-in)",
        description="Remove the second-factor devices of USERNAME, e.g. after a lost "
        "phone. At the next sign-in the two-factor page shows a new QR code.",
    )
    reset.add_argument("username", metavar="USERNAME")
    reset.set_defaults(handler=reset_two_factor)


def _refuse(message: str) -> int:
    print(f"cosignatory: error: {message}", file=sys.stderr)
    return USAGE_ERROR


def _password(args: argparse.Namespace) -> str:
    if args.password_file:
        try:
            text = Path(args.password_file).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise _Refused(f"cannot read {args.password_file}: {error}") from None
        lines = text.splitlines()
        return lines[0] if lines else ""
    first = getpass.getpass("Password: ")
    if getpass.getpass("Password (again): ") != first:
        raise _Refused("the two passwords differ")
    return first


def create_account(args: argparse.Namespace) -> int:
    try:
        return _create(args)
    except _Refused as error:
        return _refuse(str(error))


def _create(args: argparse.Namespace) -> int:
    if args.role not in ROLES:
        raise _Refused(f"unknown role {args.role!r}; expected registrar or signatory")
    if args.role == "signatory" and not args.representative:
        raise _Refused("a signatory needs --representative ID")
    if args.role == "registrar" and args.representative:
        raise _Refused("--representative is for signatories only")
    setup_django()
    from django.contrib.auth import get_user_model
    from django.contrib.auth.password_validation import validate_password
    from django.core.exceptions import ValidationError
    from django.core.validators import validate_email
    from django.db import transaction

    from cosignatory.web.accounts.models import RepresentativeAccount
    from cosignatory.web.accounts.roles import grant_role
    from cosignatory.web.register.models import Representative

    user_model = get_user_model()
    username = args.username.strip()
    if not username or len(username) > 150:
        raise _Refused("the username must be 1 to 150 characters")
    if user_model.objects.filter(username=username).exists():
        raise _Refused(f"an account named {username!r} exists already")
    if args.email:
        try:
            validate_email(args.email)
        except ValidationError:
            raise _Refused(f"{args.email!r} is not an email address") from None
    representative = None
    if args.representative:
        representative = Representative.objects.filter(pk=args.representative).first()
        if representative is None:
            raise _Refused(f"the register has no representative {args.representative!r}")
    password = _password(args)
    candidate = user_model(username=username, email=args.email or "")
    try:
        validate_password(password, candidate)
    except ValidationError as error:
        raise _Refused("password refused: " + " ".join(error.messages)) from None
    with transaction.atomic():
        user = user_model.objects.create_user(username, args.email or "", password)
        grant_role(user, args.role)
        if representative is not None:
            RepresentativeAccount.objects.create(user=user, representative=representative)
    if args.json:
        print_json(_row(user))
    else:
        print(f"created {args.role} account {username}")
        if args.role == "registrar":
            print("at the first sign-in, the two-factor page shows the QR code to scan")
    return 0


def _row(user: Any) -> dict[str, Any]:
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from cosignatory.web.accounts.models import RepresentativeAccount
    from cosignatory.web.accounts.roles import has_role

    link = RepresentativeAccount.objects.filter(user=user).first()
    return {
        "username": user.username,
        "email": user.email or None,
        "roles": [role for role in ROLES if has_role(user, role)],
        "representative": link.representative_id if link else None,
        "active": user.is_active,
        "two_factor": TOTPDevice.objects.filter(user=user, confirmed=True).exists(),
    }


def list_accounts(args: argparse.Namespace) -> int:
    setup_django()
    from django.contrib.auth import get_user_model

    rows = [_row(user) for user in get_user_model().objects.order_by("username")]
    if args.json:
        print_json(rows)
        return 0
    for row in rows:
        print(
            f"{row['username']}\t{','.join(row['roles']) or '-'}\t"
            f"{row['representative'] or '-'}\t{'active' if row['active'] else 'disabled'}\t"
            f"{'2fa' if row['two_factor'] else 'no 2fa'}"
        )
    return 0


def _user(username: str) -> Any:
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.filter(username=username).first()
    if user is None:
        raise _Refused(f"no account named {username!r}")
    return user


def disable_account(args: argparse.Namespace) -> int:
    setup_django()
    try:
        user = _user(args.username)
    except _Refused as error:
        return _refuse(str(error))
    user.is_active = False
    user.save(update_fields=["is_active"])
    print(f"disabled account {user.username}")
    return 0


def reset_two_factor(args: argparse.Namespace) -> int:
    setup_django()
    from django_otp.plugins.otp_totp.models import TOTPDevice

    try:
        user = _user(args.username)
    except _Refused as error:
        return _refuse(str(error))
    removed, _ = TOTPDevice.objects.filter(user=user).delete()
    print(
        f"removed {removed} two-factor device(s) of {user.username}; "
        "a new one is set up at the next sign-in"
    )
    return 0
