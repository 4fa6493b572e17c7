"""The witness over HTTP: the statuses of C2SP tlog-witness, and the client that reads them.

The server is the one ``cosignatory witness serve`` runs, in a thread on loopback.
"""

from __future__ import annotations

import http.client
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from cosignatory.cli.main import main
from cosignatory.cli.witnesscmd import WitnessServer
from cosignatory.tlog.checkpoint import Checkpoint, sign_checkpoint
from cosignatory.tlog.note import generate_cosigner, generate_ed25519
from cosignatory.tlog.proofs import MemoryTree
from cosignatory.tlog.witness import (
    SIZE_CONTENT_TYPE,
    MemoryWitnessState,
    Witness,
    WitnessConflictError,
    WitnessForbiddenError,
    WitnessProofError,
    WitnessRequestError,
    WitnessUnavailableError,
    WitnessUnknownLogError,
    format_add_checkpoint_request,
    submit,
    verified_cosignatures,
)

ORIGIN = "log.example/http"
LOG_KEY = generate_ed25519(ORIGIN)
COSIGNER = generate_cosigner("witness.example/http")
TREE = MemoryTree.from_entries(b"e%d" % i for i in range(20))
FORK = MemoryTree.from_entries(b"f%d" % i for i in range(20))


def signed(size: int, tree: MemoryTree = TREE) -> str:
    return sign_checkpoint(Checkpoint(ORIGIN, size, tree.root(size)), [LOG_KEY])


@pytest.fixture
def url() -> Iterator[str]:
    witness = Witness([COSIGNER], [LOG_KEY.verifier()], MemoryWitnessState())
    server = WitnessServer(("127.0.0.1", 0), witness)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def raw(url: str, method: str, path: str, body: bytes | None = None, **headers: str) -> tuple:
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=5)
    try:
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        return response.status, response.getheader("Content-Type"), response.read()
    finally:
        conn.close()


def test_a_cosignature_over_http(url: str) -> None:
    note = signed(7)
    lines = submit(url, 0, [], note)
    [(line, timestamp)] = verified_cosignatures(note, lines, COSIGNER.verifier())
    assert line == lines[0] and timestamp > 0
    # Then a consistent larger checkpoint, with its proof.
    submit(url, 7, TREE.consistency_proof(7, 12), signed(12))


def test_a_409_carries_the_witness_size_as_text_x_tlog_size(url: str) -> None:
    submit(url, 0, [], signed(7))
    data = format_add_checkpoint_request(3, TREE.consistency_proof(3, 9), signed(9))
    assert raw(url, "POST", "/add-checkpoint", data) == (409, SIZE_CONTENT_TYPE, b"7\n")
    with pytest.raises(WitnessConflictError) as raised:
        submit(url, 0, [], signed(9))
    assert raised.value.known_size == 7


def test_refusals_map_to_their_errors(url: str) -> None:
    submit(url, 0, [], signed(7))
    with pytest.raises(WitnessConflictError):  # same size, another root
        submit(url, 7, [], signed(7, FORK))
    with pytest.raises(WitnessProofError):
        submit(url, 7, FORK.consistency_proof(7, 9), signed(9, FORK))
    with pytest.raises(WitnessRequestError):
        submit(url, 7, [], signed(5))
    impostor = sign_checkpoint(Checkpoint(ORIGIN, 9, TREE.root(9)), [generate_ed25519(ORIGIN)])
    with pytest.raises(WitnessForbiddenError):
        submit(url, 7, TREE.consistency_proof(7, 9), impostor)
    other = generate_ed25519("other.example/log")
    with pytest.raises(WitnessUnknownLogError):
        submit(
            url, 0, [], sign_checkpoint(Checkpoint("other.example/log", 1, TREE.root(1)), [other])
        )


def test_the_http_edges(url: str) -> None:
    assert raw(url, "GET", "/add-checkpoint")[0] == 405
    assert raw(url, "POST", "/elsewhere", b"x")[0] == 404
    assert raw(url, "POST", "/add-checkpoint", b"old 0\n")[0] == 400
    # No Content-Length (a chunked body) is refused; so is an oversized one, unread.
    status = raw(
        url, "POST", "/add-checkpoint", iter([b"old 0\n"]), **{"Transfer-Encoding": "chunked"}
    )
    assert status[0] == 411
    assert raw(url, "POST", "/add-checkpoint", b"", **{"Content-Length": str(1 << 30)})[0] == 413


def test_an_unreachable_witness_is_unavailable() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(WitnessUnavailableError):
        submit(f"http://127.0.0.1:{port}", 0, [], signed(1), timeout=2)
    with pytest.raises(ValueError, match="http"):
        submit("file:///etc/passwd", 0, [], signed(1))


def test_serve_refuses_bad_arguments(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plain = tmp_path / "plain"
    assert main(["keygen", "witness.example/plain", "--out", str(plain)]) == 0
    log_vkey = LOG_KEY.verifier().to_vkey()
    state = str(tmp_path / "state.sqlite3")
    cases = [
        (["--key", str(tmp_path / "missing.skey"), "--log", log_vkey], "cannot read the key"),
        (["--key", f"{plain}.skey", "--log", log_vkey], "cosigns"),
        (["--key", f"{plain}.skey", "--log", "not a vkey"], "[E_KEY_MALFORMED]"),
        (["--key", f"{plain}.skey", "--log", log_vkey, "--listen", "7380"], "HOST:PORT"),
    ]
    capsys.readouterr()
    for args, reason in cases:
        assert main(["witness", "serve", "--state", state, *args]) == 1
        err = capsys.readouterr().err
        assert reason in err and len(err.splitlines()) == 1, err
