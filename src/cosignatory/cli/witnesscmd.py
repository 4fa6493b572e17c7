"""``cosignatory witness serve``: a C2SP tlog-witness over HTTP, without Django.

The witness is :class:`cosignatory.tlog.witness.Witness` behind the standard library's
threading HTTP server: ``POST /add-checkpoint`` and nothing else. Its state is an
SQLite file of its own; it needs no register, no database server and no settings.
"""

from __future__ import annotations

import argparse
import logging
import signal
import socket
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import FrameType

from cosignatory.cli.common import CommandError, read_text_argument
from cosignatory.tlog.note import Signer, Verifier
from cosignatory.tlog.witness import (
    MAX_REQUEST_BYTES,
    SIZE_CONTENT_TYPE,
    SQLiteWitnessState,
    Witness,
    WitnessConflictError,
    WitnessError,
)

_log = logging.getLogger("cosignatory.witness")
_TEXT = "text/plain; charset=utf-8"
_PATH = "/add-checkpoint"


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    witness = commands.add_parser(
        "witness",
        help="run a C2SP tlog-witness that cosigns logs' checkpoints",
        description="A witness cosigns a log's checkpoints only when each is consistent with "
        "the last one it cosigned, so a log cannot show two histories to two readers.",
    )
    sub = witness.add_subparsers(dest="witness_command", metavar="SUBCOMMAND", required=True)
    serve = sub.add_parser(
        "serve",
        help="serve POST /add-checkpoint (C2SP tlog-witness)",
        description="Serve the C2SP tlog-witness protocol: POST /add-checkpoint. The witness "
        "cosigns with --key (make one with `cosignatory keygen NAME --type cosigner`) the "
        "checkpoints of the logs whose verifier keys are given with --log, and keeps the "
        "latest tree head it cosigned for each log in the SQLite file --state. Needs no "
        "database server and no Django settings.",
    )
    serve.add_argument(
        "--key",
        action="append",
        required=True,
        metavar="SKEY_FILE",
        help="the witness's secret key file, type 0x04 (cosigner) or 0x06 (mldsa44); "
        "repeat for several keys, each adds a cosignature line",
    )
    serve.add_argument(
        "--log",
        action="append",
        required=True,
        metavar="VKEY",
        help="a log's verifier key, or a file holding one; its name is the log's origin "
        "(repeatable)",
    )
    serve.add_argument("--state", required=True, metavar="FILE", help="the SQLite state file")
    serve.add_argument(
        "--listen",
        default="127.0.0.1:7380",
        metavar="HOST:PORT",
        help="address to listen on (127.0.0.1:7380; port 0 picks a free one)",
    )
    serve.set_defaults(handler=serve_witness)


def _read_skey(path: str) -> Signer:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise CommandError(f"cannot read the key {path}: {error}") from error
    return Signer.from_skey(text.strip())


def _listen_address(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise CommandError(f"--listen takes HOST:PORT, not {text!r}")
    return host.strip("[]"), int(port)


def build_witness(args: argparse.Namespace) -> Witness:
    """Return the Witness the ``serve`` arguments describe. Raises CommandError."""
    signers = [_read_skey(path) for path in args.key]
    logs = [Verifier.from_vkey(read_text_argument(v, "vkey").strip()) for v in args.log]
    try:
        state = SQLiteWitnessState(args.state)
    except Exception as error:  # sqlite3.Error, OSError: one line, not a traceback
        raise CommandError(f"cannot open the state file {args.state}: {error}") from error
    try:
        return Witness(signers, logs, state)
    except ValueError as error:
        state.close()
        raise CommandError(str(error)) from error


class WitnessHandler(BaseHTTPRequestHandler):
    """One HTTP request to the witness. Keep-alive, as tlog-witness recommends."""

    protocol_version = "HTTP/1.1"
    timeout = 30  # seconds a client may take to send a request (socket timeout)
    server: WitnessServer

    def do_POST(self) -> None:
        if self.path != _PATH:
            self._reply(404, "not found\n")
            return
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            self._reply(411, "a Content-Length is required\n", close=True)
            return
        length_text = self.headers.get("Content-Length", "")
        if not length_text.isdigit():
            self._reply(411, "a Content-Length is required\n", close=True)
            return
        length = int(length_text)
        if length > MAX_REQUEST_BYTES:
            self._reply(413, f"the body is over {MAX_REQUEST_BYTES} bytes\n", close=True)
            return
        try:
            body = self.rfile.read(length)
        except OSError:  # the client went away or stalled past the timeout
            self.close_connection = True
            return
        try:
            lines = self.server.witness.add_checkpoint(body)
        except WitnessConflictError as error:
            # tlog-witness: the body is the witness's size, as text/x.tlog.size.
            self._reply(409, f"{error.known_size}\n", SIZE_CONTENT_TYPE)
        except WitnessError as error:
            self._reply(error.status, f"{error} [{error.code}]\n")
        except Exception:  # a bug or a failing disk: refuse, and say so in the log
            _log.exception("add-checkpoint failed")
            self._reply(500, "internal error\n")
        else:
            self._reply(200, lines)

    def do_GET(self) -> None:
        self._refuse_method()

    def do_HEAD(self) -> None:
        self._refuse_method()

    def do_PUT(self) -> None:
        self._refuse_method()

    def do_DELETE(self) -> None:
        self._refuse_method()

    def _refuse_method(self) -> None:
        if self.path == _PATH:
            self._reply(405, "use POST\n", allow="POST", close=True)
        else:
            self._reply(404, "not found\n", close=True)

    def _reply(
        self,
        status: int,
        text: str,
        content_type: str = _TEXT,
        *,
        allow: str | None = None,
        close: bool = False,
    ) -> None:
        body = text.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        if allow:
            self.send_header("Allow", allow)
        if close:  # the request's body, if any, was not read: the connection cannot go on
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        _log.info("%s %s", self.address_string(), format % args)


class WitnessServer(ThreadingHTTPServer):
    """A threading HTTP server that answers for one :class:`Witness`."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], witness: Witness) -> None:
        self.witness = witness
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, WitnessHandler)


def serve_witness(args: argparse.Namespace) -> None:
    address = _listen_address(args.listen)
    witness = build_witness(args)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    try:
        server = WitnessServer(address, witness)
    except OSError as error:
        raise CommandError(f"cannot listen on {args.listen}: {error.strerror}") from error

    def stop(signum: int, frame: FrameType | None) -> None:
        # shutdown() waits for serve_forever(), which runs in this thread: ask another.
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    host, port = str(server.server_address[0]), int(server.server_address[1])
    keys = ", ".join(v.to_vkey() for v in witness.verifiers)
    shown = f"[{host}]" if ":" in host else host
    print(f"witness listening on http://{shown}:{port} for {len(witness.origins)} log(s)")
    print(f"witness key: {keys}", flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()
        state = witness.state
        if isinstance(state, SQLiteWitnessState):
            state.close()
    print("witness stopped", file=sys.stderr)
