"""``cosignatory notices send``: deliver the email notices that are due (retries included)."""

from __future__ import annotations

import argparse
import time

from cosignatory.cli.common import CommandError, print_json, setup_django


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    notices = commands.add_parser(
        "notices",
        help="email notices: deliver those due",
        description="Email notices wait in an outbox until they are sent.",
    )
    sub = notices.add_subparsers(dest="notices_command", metavar="SUBCOMMAND", required=True)
    send = sub.add_parser(
        "send",
        help="send the notices that are due, once or every N seconds",
        description="Send every notice that is due: new ones whose first try did not run and "
        "retries whose time has come. `cosignatory serve` does this every minute by itself.",
    )
    send.add_argument("--every", type=int, metavar="SECONDS", help="repeat until interrupted")
    send.add_argument("--json", action="store_true", help="print the result as JSON")
    send.set_defaults(handler=send_notices)


def send_notices(args: argparse.Namespace) -> None:
    if args.every is not None and args.every < 1:
        raise CommandError("--every takes a whole number of seconds, 1 or more")
    setup_django()
    from cosignatory.web.notices.services import deliver_all_due

    while True:
        report = deliver_all_due()
        if args.json:
            print_json({"sent": report.sent, "retried": report.retried, "failed": report.failed})
        else:
            print(f"sent {report.sent}, to retry {report.retried}, given up {report.failed}")
        if args.every is None:
            return
        time.sleep(args.every)
