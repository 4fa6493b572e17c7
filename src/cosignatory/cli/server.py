"""``cosignatory serve`` and ``cosignatory demo``: run the register, load demonstration data."""

from __future__ import annotations

import argparse
import os
from typing import Any

from cosignatory.cli.common import setup_django


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    serve = commands.add_parser(
        "serve",
        help="run the web register (gunicorn, several workers)",
        description="Prepare the database and the log's keys, load the demo register if the "
        "log is empty, then serve the site with gunicorn. Data lives in COSIGNATORY_DATA_DIR "
        "(default ./data) unless COSIGNATORY_DATABASE_URL names a PostgreSQL database.",
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port (8000)")
    serve.add_argument("--workers", type=int, default=2, help="worker processes (2)")
    serve.add_argument("--threads", type=int, default=4, help="threads per worker (4)")
    serve.add_argument(
        "--no-demo", action="store_true", help="do not load the demo register into an empty log"
    )
    serve.set_defaults(handler=serve_site)

    demo = commands.add_parser(
        "demo",
        help="load the demonstration register into the database",
        description="Prepare the database and the log, then append the demonstration entries. "
        "Demonstration data is marked as such in every entry.",
    )
    demo.add_argument("--json", action="store_true", help="print the result as JSON")
    demo.set_defaults(handler=load_demo)


def _prepare() -> None:
    setup_django()
    from cosignatory.web.log.setup import initialise_log

    created, _ = initialise_log()
    for path in created:
        print(f"made the log key {path}")


def load_demo(args: argparse.Namespace) -> None:
    _prepare()
    from cosignatory.cli.common import print_json
    from cosignatory.web.log.setup import load_demo_log

    result = load_demo_log()
    if args.json:
        print_json({"first_index": result.first_index, "size": result.size})
    else:
        print(f"demo loaded: log size {result.size}")


def serve_site(args: argparse.Namespace) -> None:
    _prepare()
    from cosignatory.web.log.services import get_log
    from cosignatory.web.log.setup import load_demo_log

    if not args.no_demo and get_log().size() == 0:
        result = load_demo_log()
        print(f"demo loaded: log size {result.size}")
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
        }
    )


def _run_gunicorn(options: dict[str, Any]) -> None:
    """Run gunicorn in this process with ``options`` and the Django WSGI application."""
    from gunicorn.app.base import BaseApplication

    class Server(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            for key, value in options.items():
                self.cfg.set(key, value)

        def load(self) -> Any:
            from cosignatory.web.wsgi import application

            return application

    Server().run()
