"""``intake``: bulk intake of self-signed statements against the raw Ed25519 limit.

Issue 6, target 2: ``cosignatory import LETTER FILE --statements --apply`` and
``POST /api/v1/statements/batch`` must record at least half as many statements per
second as one core verifies bare Ed25519 signatures (``cryptography``), measured in the
same run. The run registers S persons (a party, a representative, a key and a mandate
each; untimed, appended in bulk), has each sign three open letters, then times:

- the raw limit: S bare ``Ed25519PublicKey.verify`` calls on one core, and the same
  triples through the intake's pool on every core;
- the import of S statements for the first letter, as the CLI runs it (read, verify,
  judge, one batch append, project);
- the batch API for the second letter, S statements in requests of 250, through
  Django's test client in this process (no network: the server's own cost), one
  request after the other;
- the batch API again for the third letter, from API_CLIENTS threads posting their
  requests side by side (one request's verification in the pool then overlaps
  another's transaction, as when a registrar sends batches in parallel).

S is ``--statements`` (of ``python -m bench`` or ``python -m bench.intake``), else
``COSIGNATORY_BENCH_STATEMENTS``, else 100,000.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench import report
from bench.measure import Measurement, measure
from bench.run import Run, best, row, samples_json, say

DEFAULT_STATEMENTS = 100_000
TARGET = 0.5  # statements/s over one core's raw Ed25519 verifications/s
LETTERS = ("bench-import", "bench-api", "bench-api-2", "bench-api-http")
FILES = ("import", "api", "api-2", "api-http")
"""What the statements for each of LETTERS are called in :func:`_setup`'s result."""
API_CLIENTS = 2
"""Clients posting batches at once in the second timing of the batch API."""
HTTP_CLIENTS = 4
"""Clients posting batches at once to the served register (two per worker)."""
_SETUP_CHUNK = 5_000
REBUILD_UP_TO = 5_000
"""Rebuild and compare the tables after a run this small (replaying the register's rules
on every setup event too takes far longer than the intake itself)."""


def statement_count() -> int:
    """The number of statements: ``COSIGNATORY_BENCH_STATEMENTS``, else 100,000."""
    return int(os.environ.get("COSIGNATORY_BENCH_STATEMENTS", DEFAULT_STATEMENTS))


def bench_intake(run: Run) -> dict[str, Any]:
    """Set up S signers, then time raw verification, the import and the batch API."""
    from cosignatory.core.sigpool import cores, verify_many, verify_one

    count = statement_count()
    say(f"intake: a fresh register with {count:,} signers (not timed)")
    run.workspace.reset()
    files = _setup(count, run.seed)
    triples = files["triples"]
    verify_many(triples[: 4 * cores()], workers=cores())  # start the pool: once a process
    raw = [
        measure("raw Ed25519 verify, 1 core", count, lambda: [verify_one(t) for t in triples])[1]
    ]
    pooled = [
        measure(
            f"intake pool, {cores()} processes", count, lambda: verify_many(triples, workers=None)
        )[1]
    ]
    say(f"intake: cosignatory import of {count:,} statements")
    imported = [_time_import(files["import"], count)]
    say(f"intake: the batch API, {count:,} statements in requests of 250")
    api = [_time_api(files["api"], count)]
    say(f"intake: the batch API again, another letter, {API_CLIENTS} clients at once")
    api_together = [_time_api(files["api-2"], count, API_CLIENTS)]
    say(f"intake: the batch API over HTTP, cosignatory serve --workers 2, {HTTP_CLIENTS} clients")
    api_http = [_time_api_http(run.workspace.path, files["api-http"], count)]
    if count <= REBUILD_UP_TO:
        _check_rebuild()

    limit = best(raw).rate
    rows = [row(samples) for samples in (raw, pooled, imported, api, api_together, api_http)]
    print("## Bulk intake of self-signed statements\n")
    print(
        report.table(
            ["phase", "statements", "seconds", "CPU s (this process)", "per second", "peak RSS MB"],
            rows,
        )
    )
    verdict = []
    paths = (
        ("import", imported),
        ("batch API", api),
        (f"batch API, {API_CLIENTS} clients", api_together),
        (f"batch API over HTTP, {HTTP_CLIENTS} clients", api_http),
    )
    for name, samples in paths:
        ratio = best(samples).rate / limit
        verdict.append(
            [
                name,
                f"{ratio:.2f}",
                f"{TARGET:.2f}",
                "met" if ratio >= TARGET else f"missed by {TARGET - ratio:.2f}",
            ]
        )
    print(report.table(["path", "ratio to raw 1-core", "target", ""], verdict, numeric=False))
    print(
        "CPU of this process per statement (the part that is not shared out; over HTTP,"
        " of the two workers): "
        + ", ".join(
            f"{name} {1e6 * best(samples).cpu_seconds / best(samples).count:,.0f} µs"
            for name, samples in (("raw verify", raw), *paths)
        )
        + f"; load average before: {' '.join(f'{x:.1f}' for x in os.getloadavg())}\n"
    )
    return {
        "statements": count,
        "cores": cores(),
        "raw": samples_json(raw),
        "pool": samples_json(pooled),
        "import": samples_json(imported),
        "api": samples_json(api),
        "api_clients": API_CLIENTS,
        "api_together": samples_json(api_together),
        "ratio_import": round(best(imported).rate / limit, 3),
        "ratio_api": round(best(api).rate / limit, 3),
        "ratio_api_together": round(best(api_together).rate / limit, 3),
        "api_http_clients": HTTP_CLIENTS,
        "api_http": samples_json(api_http),
        "ratio_api_http": round(best(api_http).rate / limit, 3),
        "target": TARGET,
    }


# -- the register (untimed) ---------------------------------------------------------------


def _setup(count: int, seed: int) -> dict[str, Any]:
    """Register ``count`` persons in bulk, open both letters, and write the statements."""
    import random

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from cosignatory.core.statements import SignedStatement, Statement
    from cosignatory.web.register import models as m
    from cosignatory.web.register import services as s

    generator = random.Random(seed)
    start = datetime.now(UTC) - timedelta(days=30)
    s.initialise_register()
    keys = [Ed25519PrivateKey.from_private_bytes(generator.randbytes(32)) for _ in range(count)]
    events: list[tuple[str, dict[str, Any]]] = []
    for n, key in enumerate(keys):
        party, rep = f"person-{n}", f"rep-{n}"
        public = base64.b64encode(key.public_key().public_bytes_raw()).decode()
        # Each person verified an address, and so got a mandate and a key, at a moment of
        # their own in the month before, as on a real open letter.
        joined = _time(start + timedelta(seconds=generator.uniform(0, 29 * 86_400)))
        events += [
            ("party.registered", {"id": party, "kind": "person", "names": {"en": f"Person {n}"}}),
            ("representative.registered", {"id": rep, "name": f"Person {n}"}),
            (
                "mandate.granted",
                {
                    "id": f"mandate-{n}",
                    "representative": rep,
                    "party": party,
                    "valid_from": joined,
                    "credential": {"kind": "email", "reference": f"EM/{n}", "date": "2026-01-01"},
                },
            ),
            (
                "key.registered",
                {
                    "id": f"key-{n}",
                    "representative": rep,
                    "public_key": public,
                    "valid_from": joined,
                },
            ),
        ]
    _append_in_bulk(events)
    for letter in LETTERS:
        s.create_letter(
            letter, {"en": "An open letter"}, ["The President"], "person-0", start.date()
        )
        s.add_text_version(letter, {"en": f"We support {letter}."})
        s.open_letter(letter)
    say(f"intake: signing {len(LETTERS) * count:,} statements (not timed)")
    made = datetime.now(UTC) - timedelta(minutes=1)
    out: dict[str, Any] = {"triples": []}
    for letter in LETTERS:
        text_hash = m.TextVersion.objects.get(letter_id=letter, version=1).text_hash
        signed = []
        for n, key in enumerate(keys):
            statement = Statement(
                "sign", letter, 1, text_hash, f"person-{n}", f"rep-{n}", f"key-{n}", made
            )
            signature = statement.sign(key)
            signed.append(SignedStatement(statement, signature).to_json())
            if letter == LETTERS[0]:
                out["triples"].append(
                    (key.public_key().public_bytes_raw(), signature, statement.signed_bytes())
                )
        out[FILES[LETTERS.index(letter)]] = signed
    return out


def _time(moment: datetime) -> str:
    from cosignatory.core.events import format_time

    return format_time(moment)


def _append_in_bulk(events: list[tuple[str, dict[str, Any]]]) -> None:
    """Seal, append and project setup events in chunks: what the services would record,
    without one transaction and one checkpoint per event."""
    from django.db import transaction

    from cosignatory.core.events import Event
    from cosignatory.web.log.services import get_log
    from cosignatory.web.register import services as s
    from cosignatory.web.register.projector import project

    signer = s.registrar_signer()
    key_id = s.registrar_key_id(signer)
    moment = datetime.now(UTC)  # after the registrar key, before the letters
    for first in range(0, len(events), _SETUP_CHUNK):
        chunk = events[first : first + _SETUP_CHUNK]
        sealed = []
        for kind, data in chunk:
            event = Event.make(kind, moment, data)
            sealed.append(event.sealed(key_id, signer.sign(event.signed_bytes())))
        with transaction.atomic():
            log = get_log()
            log.storage.lock()  # type: ignore[attr-defined]
            result = log.append_batch([event.to_bytes() for event in sealed])
            for offset, event in enumerate(sealed):
                project(event, result.first_index + offset)


# -- what is timed --------------------------------------------------------------------------


def _time_import(statements: list[dict[str, Any]], count: int) -> Measurement:
    """``cosignatory import LETTER FILE --statements --apply``, in this process."""
    import tempfile

    from cosignatory.cli.main import main

    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as handle:
        for statement in statements:
            handle.write(json.dumps(statement, separators=(",", ":")) + "\n")
        path = handle.name
    try:
        code, m = measure(
            "cosignatory import --statements --apply",
            count,
            lambda: main(["import", LETTERS[0], path, "--statements", "--apply"]),
        )
    finally:
        os.unlink(path)
    if code != 0:
        raise RuntimeError(f"cosignatory import exited with {code}")
    return m


def _request_bodies(statements: list[dict[str, Any]]) -> list[bytes]:
    """The statements as batch API request bodies, MAX_BATCH (250) a request."""
    from cosignatory.web.api.statements import MAX_BATCH

    return [
        json.dumps(statements[start : start + MAX_BATCH]).encode()
        for start in range(0, len(statements), MAX_BATCH)
    ]


def _time_api(statements: list[dict[str, Any]], count: int, clients: int = 1) -> Measurement:
    """POST /api/v1/statements/batch, 250 statements a request: one request after the
    other, or ``clients`` threads each posting every ``clients``-th request (a registrar
    sending batches side by side: one request's verification then overlaps another's
    transaction)."""
    from concurrent.futures import ThreadPoolExecutor

    from django.conf import settings
    from django.db import connection
    from django.test import Client
    from django.urls import get_resolver

    from cosignatory.web.api import tokens

    settings.COSIGNATORY_API_WRITES_PER_MINUTE = 0  # no rate limit for the benchmark
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    get_resolver().url_patterns  # noqa: B018 (imports every view, as web/wsgi.py does at start)
    _, secret = tokens.create_token(f"bench-registrar-{clients}", "registrar")
    bodies = _request_bodies(statements)

    def post(share: list[bytes]) -> int:
        client = Client(headers={"Authorization": f"Bearer {secret}"})
        recorded = 0
        try:
            for data in share:
                response = client.post(
                    "/api/v1/statements/batch", data, content_type="application/json"
                )
                if response.status_code != 201:
                    raise RuntimeError(
                        f"the batch API answered {response.status_code}: {response.content[:300]!r}"
                    )
                recorded += response.json()["recorded"]
        finally:
            if clients > 1:
                connection.close()  # this thread's own connection
        return recorded

    def post_all() -> int:
        if clients == 1:
            return post(bodies)
        with ThreadPoolExecutor(clients) as executor:
            shares = [bodies[n::clients] for n in range(clients)]
            return sum(executor.map(post, shares))

    name = "POST /api/v1/statements/batch (250 each)"
    if clients > 1:
        name += f", {clients} clients"
    recorded, m = measure(name, count, post_all)
    if recorded != count:
        raise RuntimeError(f"the batch API recorded {recorded}, not {count}")
    return m


def _time_api_http(folder: Path, statements: list[dict[str, Any]], count: int) -> Measurement:
    """POST /api/v1/statements/batch over loopback to ``cosignatory serve --workers 2``
    (as the README serves the register in production), HTTP_CLIENTS threads each posting
    its next request of 250 as soon as the last is answered, a new connection each.

    The first request of each client is not timed (unless the run is too small to
    spare them): it starts that worker's pool of processes, once in a server's life.
    The CPU reported is the two workers' own (their pools' excluded), the part that is
    not shared out; this process only sends bytes.
    """
    import http.client
    from concurrent.futures import ThreadPoolExecutor
    from dataclasses import replace

    from bench.server import serving
    from cosignatory.web.api import tokens

    _, secret = tokens.create_token("bench-registrar-http", "registrar")
    bodies = _request_bodies(statements)
    # A run too small to spare them (the smoke test's) times every request.
    warm = HTTP_CLIENTS if len(bodies) > 2 * HTTP_CLIENTS else 0
    untimed, timed = bodies[:warm], bodies[warm:]
    headers = {"Authorization": f"Bearer {secret}", "Content-Type": "application/json"}

    with serving(folder, workers=2) as server:
        port = int(server.url.rsplit(":", 1)[1])

        def post(body: bytes) -> int:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
            try:
                connection.request("POST", "/api/v1/statements/batch", body, headers)
                answer = connection.getresponse()
                content = answer.read()
            finally:
                connection.close()
            if answer.status != 201:
                raise RuntimeError(f"the batch API answered {answer.status}: {content[:300]!r}")
            return int(json.loads(content)["recorded"])

        with ThreadPoolExecutor(HTTP_CLIENTS) as executor:
            warmed = sum(executor.map(post, untimed))
            workers = server.worker_pids()
            cpu_before = _cpu_seconds(workers)
            recorded, m = measure(
                f"POST /api/v1/statements/batch (250 each) over HTTP, {HTTP_CLIENTS} clients",
                count - warmed,
                lambda: sum(executor.map(post, timed)),
            )
            workers_cpu = _cpu_seconds(workers) - cpu_before
    if warmed + recorded != count:
        raise RuntimeError(f"the batch API recorded {warmed + recorded}, not {count}")
    # This process's memory and CPU say nothing about the server's.
    return replace(m, cpu_seconds=workers_cpu, peak_rss_mb=None, start_rss_mb=None)


def _cpu_seconds(pids: list[int]) -> float:
    """The CPU time (user and system) that the processes ``pids`` have used so far."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        # After the command's closing parenthesis: field 14 (utime) is the 12th, 15th the 13th.
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / ticks


def _check_rebuild() -> None:
    """The tables must be what replaying the log gives (not timed)."""
    from cosignatory.web.register.rebuild import rebuild

    say("intake: cosignatory rebuild (not timed)")
    report_ = rebuild()
    if not report_.identical:
        raise RuntimeError("rebuild differs: " + "; ".join(report_.details()[:5]))


def main(argv: list[str] | None = None) -> int:
    """``python -m bench.intake [--statements N]``: this benchmark alone."""
    parser = argparse.ArgumentParser(prog="python -m bench.intake", description=__doc__)
    parser.add_argument("--statements", type=int, default=statement_count(), metavar="N")
    parser.add_argument("--seed", type=int, default=2019)
    args = parser.parse_args(argv)
    from bench.__main__ import main as bench_main

    return bench_main(["intake", "--statements", str(args.statements), "--seed", str(args.seed)])


if __name__ == "__main__":
    sys.exit(main())
