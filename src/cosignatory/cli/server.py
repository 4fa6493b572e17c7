"""``cosignatory serve`` and ``cosignatory demo``: run the register, load demonstration data."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from cosignatory.cli.common import add_new_log_argument, setup_django


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    serve = commands.add_parser(
        "serve",
        help="run the web register (gunicorn, several workers)",
        description="Prepare the database and the log's keys, load the demo register if the "
        "log is empty, then serve the site with gunicorn, beside the notice courier (and, "
        "with COSIGNATORY_SEQUENCER_HUB=1, the sequencer hub, which records the signers' "
        "statements of every worker). Data lives in COSIGNATORY_DATA_DIR "
        "(default ./data) unless COSIGNATORY_DATABASE_URL names a PostgreSQL database.",
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port (8000)")
    serve.add_argument("--workers", type=int, default=2, help="worker processes (2)")
    serve.add_argument(
        "--threads",
        type=int,
        default=32,
        help="threads per worker (32; a signer waiting for its group commit holds one)",
    )
    serve.add_argument(
        "--no-demo", action="store_true", help="do not load the demo register into an empty log"
    )
    add_new_log_argument(serve)
    serve.set_defaults(handler=serve_site)

    demo = commands.add_parser(
        "demo",
        help="load the demonstration register into the database",
        description="Prepare the database and the log, then append the demonstration entries. "
        "Demonstration data is marked as such in every entry.",
    )
    demo.add_argument("--json", action="store_true", help="print the result as JSON")
    add_new_log_argument(demo)
    demo.set_defaults(handler=load_demo)


def prepare_register(record_registrar: bool = True, new_log: bool = False) -> None:
    """Migrate, make missing keys, and record the registrar's key once.

    ``record_registrar=False`` leaves the register empty for the demo, which records
    the registrar's key itself at the start of its history. ``new_log``: see
    :func:`cosignatory.web.log.setup.initialise_log`.
    """
    setup_django()
    from cosignatory.web.log.setup import initialise_log
    from cosignatory.web.register.services import ensure_registrar_key, initialise_register

    created, _ = initialise_log(new_log=new_log)
    registrar = ensure_registrar_key()
    for path in [*created, *([registrar] if registrar else [])]:
        print(f"made the key {path}", file=sys.stderr)
    if record_registrar:
        initialise_register()


def load_demo(args: argparse.Namespace) -> None:
    prepare_register(record_registrar=False, new_log=args.new_log)
    from cosignatory.cli.common import print_json
    from cosignatory.web.log.services import get_log
    from cosignatory.web.register.demo import load_demo as load

    events = load()
    if args.json:
        print_json({"events": events, "size": get_log().size()})
    else:
        print(f"demo register loaded: {events} events, log size {get_log().size()}")


def serve_site(args: argparse.Namespace) -> None:
    prepare_register(record_registrar=False, new_log=args.new_log)
    from cosignatory.web.register.demo import load_demo as load
    from cosignatory.web.register.models import EventRecord, Letter
    from cosignatory.web.register.services import initialise_register

    if not args.no_demo and not Letter.objects.exists() and EventRecord.objects.count() <= 1:
        print(f"demo register loaded: {load()} events", flush=True)
    initialise_register()
    # Connections opened while preparing must not be inherited by forked workers.
    from django.db import connections

    connections.close_all()
    data = os.environ.get("COSIGNATORY_DATA_DIR", "data")
    print(f"serving on http://{args.host}:{args.port}/ (data folder: {data})", flush=True)
    _run_gunicorn(
        {
            "bind": f"{args.host}:{args.port}",
            "workers": args.workers,
            "threads": args.threads,
            "worker_class": "gthread",
            "accesslog": "-",
            "timeout": 60,
            # gunicorn's control socket is one per user by default, so servers side by
            # side (tests, benchmarks, a second register) would share it; nothing uses it.
            "control_socket_disable": True,
        }
    )


def _run_gunicorn(options: dict[str, Any]) -> None:
    """Run gunicorn in this process with ``options`` and the Django WSGI application.

    Before the workers are forked, the master starts a process that delivers due email
    notices every minute, retries included (see
    :func:`cosignatory.web.notices.services.start_background_delivery`), and, if
    ``COSIGNATORY_SEQUENCER_HUB`` is on, the sequencer hub, which records the self-signed
    statements of every worker (:mod:`cosignatory.web.register.hub`).
    """
    from gunicorn.app.base import BaseApplication

    def when_ready(server: Any) -> None:
        from django.conf import settings

        from cosignatory.web.notices.services import start_background_delivery
        from cosignatory.web.register import hub

        start_background_delivery()
        if settings.COSIGNATORY_GROUP_COMMIT and settings.COSIGNATORY_SEQUENCER_HUB:
            hub.start()  # before the workers are forked: they inherit its address

    class Server(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            for key, value in options.items():
                self.cfg.set(key, value)
            self.cfg.set("when_ready", when_ready)

        def load(self) -> Any:
            from cosignatory.web.wsgi import application

            return application

    Server().run()
