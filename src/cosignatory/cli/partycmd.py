"""``cosignatory party register|state`` and ``cosignatory representative register``.

The registrar's reference data from the command line, through the same services as
the desk and the API. A name that looks like one already registered (see
:mod:`cosignatory.web.register.lookalikes`) is printed as a warning on stderr and not
recorded (``E_NAME_CONFUSABLE``) unless ``--allow-confusable`` confirms it.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from cosignatory.cli.common import CommandError, print_json, setup_django
from cosignatory.core.events import LANGUAGES

if TYPE_CHECKING:
    from cosignatory.web.register.lookalikes import Lookalike
    from cosignatory.web.register.services import Recorded

_CONFIRM_HELP = (
    "record the name even if it looks like a registered one (a warning is printed "
    "either way; without this flag nothing is recorded)"
)


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    party = commands.add_parser(
        "party",
        help="register a party (an organisation, a person, a group, or a state)",
        description="Register a party in the register's log. A name that can be "
        "mistaken for a registered party's (Unicode TR39 confusables, e.g. a Cyrillic "
        "'а' for a Latin 'a') is refused with a warning unless --allow-confusable.",
    )
    sub = party.add_subparsers(dest="party_command", metavar="ACTION", required=True)
    register = sub.add_parser("register", help="register an organisation, person or group")
    register.add_argument("id", metavar="ID", help="the party's identifier")
    register.add_argument("--kind", choices=("organisation", "person", "group"), required=True)
    register.add_argument(
        "--name",
        action="append",
        required=True,
        metavar="LANG=NAME",
        help=f"the name in one language ({', '.join(LANGUAGES)}); repeat for each",
    )
    register.add_argument("--contact", metavar="EMAIL", help="address for notices")
    register.add_argument(
        "--member", action="append", metavar="PARTY", help="a group's member; repeat"
    )
    register.add_argument("--allow-confusable", action="store_true", help=_CONFIRM_HELP)
    register.add_argument("--json", action="store_true", help="print the result as JSON")
    register.set_defaults(handler=register_party)

    state = sub.add_parser("state", help="register a UN member or observer state")
    state.add_argument("code", metavar="CODE", help="ISO 3166-1 alpha-3 code, e.g. FRA")
    state.add_argument("--contact", metavar="EMAIL", help="address for notices")
    state.add_argument("--allow-confusable", action="store_true", help=_CONFIRM_HELP)
    state.add_argument("--json", action="store_true", help="print the result as JSON")
    state.set_defaults(handler=register_state)

    rep = commands.add_parser(
        "representative",
        help="register a representative (who may sign for a party)",
        description="Register a representative. A name that can be mistaken for a "
        "registered representative's is refused with a warning unless --allow-confusable.",
    )
    rep_sub = rep.add_subparsers(dest="representative_command", metavar="ACTION", required=True)
    rep_register = rep_sub.add_parser("register", help="register a representative")
    rep_register.add_argument("id", metavar="ID", help="the representative's identifier")
    rep_register.add_argument("--name", required=True, help="the representative's name")
    rep_register.add_argument("--contact", metavar="EMAIL", help="address for notices")
    rep_register.add_argument("--allow-confusable", action="store_true", help=_CONFIRM_HELP)
    rep_register.add_argument("--json", action="store_true", help="print the result as JSON")
    rep_register.set_defaults(handler=register_representative)


def _names(pairs: list[str]) -> dict[str, str]:
    names: dict[str, str] = {}
    for pair in pairs:
        lang, sep, name = pair.partition("=")
        if not sep or lang not in LANGUAGES:
            raise CommandError(f"--name {pair!r}: expected LANG=NAME, LANG one of {LANGUAGES}")
        names[lang] = name
    return names


def _warn(found: list[Lookalike], allow: bool) -> None:
    """Print each look-alike on stderr; refuse unless ``allow``."""
    from cosignatory.web.register.lookalikes import refuse_unconfirmed

    for item in found:
        print(f"cosignatory: warning: {item.describe()}", file=sys.stderr)
    if found and not allow:
        print(
            "cosignatory: check the name; to record it anyway, add --allow-confusable",
            file=sys.stderr,
        )
    refuse_unconfirmed(found, allow)


def _report(recorded: Recorded, what: str, as_json: bool) -> None:
    if as_json:
        print_json({"recorded": what, "new": recorded.new, "log_index": recorded.log_index})
    elif recorded.new:
        print(f"recorded {what} as entry {recorded.log_index} of the log")
    else:
        print(f"{what} was recorded already (entry {recorded.log_index} of the log)")


def register_party(args: argparse.Namespace) -> None:
    names = _names(args.name)
    setup_django()
    from cosignatory.web.register import services
    from cosignatory.web.register.lookalikes import party_lookalikes

    _warn(party_lookalikes(names, args.id), args.allow_confusable)
    recorded = services.register_party(
        args.id, args.kind, names, contact=args.contact, members=args.member
    )
    _report(recorded, f"party {args.id}", args.json)


def register_state(args: argparse.Namespace) -> None:
    setup_django()
    from cosignatory.web.register import services
    from cosignatory.web.register.lookalikes import state_lookalikes

    code = args.code.upper()
    _warn(state_lookalikes(code), args.allow_confusable)
    recorded = services.register_state(code, args.contact)
    _report(recorded, f"state {code}", args.json)


def register_representative(args: argparse.Namespace) -> None:
    setup_django()
    from cosignatory.web.register import services
    from cosignatory.web.register.lookalikes import representative_lookalikes

    _warn(representative_lookalikes(args.name, args.id), args.allow_confusable)
    recorded = services.register_representative(args.id, args.name, args.contact)
    _report(recorded, f"representative {args.id}", args.json)
