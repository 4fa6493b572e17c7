"""Target 1: signing over HTTP, one self-signed statement per request, while readers
load the same letter's page.

Signers post pre-made statements of the pool's persons (each signs once) to
``POST /api/v1/statements``; the server answers 201 only after the transaction that
appends the event to the log has committed (SQLite WAL, ``synchronous=FULL``). The
figures: sustained signatures per second against 1,000/s and against the raw Ed25519
verify limit, p50 and p99 latency against 250 ms, and a py-spy profile of the workers
that says what bounds the rate. Afterwards the register must hold exactly one new
signature per 201.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import report
from bench.run import Run, say
from bench.server import LoadResult, run_locust, serving, write_json_lines

TARGET_RATE = 1_000.0
TARGET_P99_MS = 250.0
SIGN = "POST /api/v1/statements"
SIGNERS = 64
READERS = 4


def statements(run: Run) -> list[dict[str, Any]]:
    """One signed statement per pool person, dated now (not timed)."""
    from bench.generate import person_key
    from cosignatory.core.statements import SignedStatement, Statement

    data = run.dataset
    now = datetime.now(UTC)
    found = []
    for signer in data.pool:
        statement = Statement(
            "sign",
            data.big_letter,
            1,
            data.big_text_hash,
            signer.party,
            signer.representative,
            signer.key,
            now,
        )
        signature = statement.sign(person_key(run.seed, signer.name))
        found.append(SignedStatement(statement, signature).to_json())
    return found


def profile(pid: int, seconds: int, out: Path) -> subprocess.Popen[bytes] | None:
    """Start py-spy on the server and its workers, in raw (collapsed stacks) format."""
    spy = Path(sys.executable).with_name("py-spy")
    if not spy.exists():
        return None
    command = [str(spy), "record", "--pid", str(pid), "--subprocesses", "--duration"]
    command += [str(seconds), "--rate", "50", "--format", "raw", "--nonblocking", "-o", str(out)]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


# Where a request's time goes: a frame whose text holds the key counts for the label.
_PARTS = {
    "lock wait (BEGIN IMMEDIATE / log lock)": ("lock (cosignatory/web/log/storage.py",),
    "commit (fsync of the WAL)": ("_commit (django/db/backends/base/base.py",),
    "log append (hashes, tiles, checkpoint)": ("append (cosignatory/tlog/log.py",),
    "checkpoint signing (Ed25519 + ML-DSA-44)": ("sign (cosignatory/tlog/note.py",),
    "rules and statement verify": ("apply (cosignatory/core/state.py",),
    "load the slice of state": ("load_slice (cosignatory/web/register/slices.py",),
    "group commit: one batch (sequencer thread)": ("record_batch (cosignatory/web/register/",),
    "group commit: load the batch's state": ("_load (cosignatory/web/register/statement_int",),
    "group commit: project the batch": ("_project_all (cosignatory/web/register/statemen",),
    "statement verify before queueing": ("preverify (cosignatory/web/register/sequencer",),
    "project into tables": ("project (cosignatory/web/register/projector.py",),
    "idempotency look-up": ("_existing (cosignatory/web/register/services.py",),
    "canonical JSON (RFC 8785)": ("canonical_json (cosignatory/core/canonical.py",),
    "letter page rendering (readers)": ("render (django/template",),
}


def summarise_profile(path: Path) -> dict[str, Any]:
    """Shares of the workers' samples: by request part, and the top functions by self time."""
    if not path.exists():
        return {}
    total = 0
    parts: Counter[str] = Counter()
    own: Counter[str] = Counter()
    ours: Counter[str] = Counter()
    active = 0
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        frames = stack.split(";")
        if not any(key in stack for key in ("wsgi", "handle_request", "sequencer.py")):
            continue  # idle threads and the master
        active += count
        for label, keys in _PARTS.items():
            if any(key in stack for key in keys):
                parts[label] += count
        own[frames[-1]] += count
        for frame in {f for f in frames if "cosignatory/" in f}:
            ours[frame] += count
    if not active:
        return {"samples": total}
    return {
        "samples": total,
        "in_requests": active,
        "parts": {label: round(n / active, 3) for label, n in parts.most_common()},
        "top_self": [[frame, round(n / active, 3)] for frame, n in own.most_common(10)],
        "top_cosignatory": [[frame, round(n / active, 3)] for frame, n in ours.most_common(12)],
    }


def profile_table(prof: dict[str, Any]) -> str:
    """The profile's parts and its most inclusive Cosignatory functions, as tables."""
    parts = [[label, f"{share:.0%}"] for label, share in prof.get("parts", {}).items()]
    ours = [[frame, f"{share:.0%}"] for frame, share in prof.get("top_cosignatory", [])]
    own = [[frame, f"{share:.0%}"] for frame, share in prof.get("top_self", [])]
    return "\n\n".join(
        [
            report.table(["part of a request", "share of samples"], parts),
            report.table(["Cosignatory function (inclusive)", "share"], ours),
            report.table(["function (self time)", "share"], own),
        ]
    )


MODES = (
    ("one transaction per signature", {"COSIGNATORY_GROUP_COMMIT": "0"}),
    ("group commit", {"COSIGNATORY_GROUP_COMMIT": "1", "COSIGNATORY_SEQUENCER_HUB": "0"}),
    (
        "group commit, one sequencer for all workers (the hub)",
        {"COSIGNATORY_GROUP_COMMIT": "1", "COSIGNATORY_SEQUENCER_HUB": "1"},
    ),
)
"""The ways the server records, each measured on its share of the pool: the second is
the register's default (a sequencer in each worker); the first is how it recorded
before group commit; the last is the hub (``COSIGNATORY_SEQUENCER_HUB=1``)."""
THREADS = 32
"""Threads per server worker (``cosignatory serve``'s default): a request waiting for its
batch holds one."""


def bench_signing(run: Run) -> dict[str, Any]:
    """Sign over HTTP for a bounded time while readers load the letter's page, in each of
    the ``MODES``, each on its share of the pool."""
    made = statements(run)
    share = len(made) // IN_PROCESS_SHARE
    local, made = made[:share], made[share:]
    part = len(made) // len(MODES)
    phases = [
        _phase(run, label, env, made[n * part : (n + 1) * part])
        for n, (label, env) in enumerate(MODES)
    ]
    before, default, hub = phases
    figures = dict(default)
    figures["per_transaction"] = before
    figures["hub"] = hub
    for key in ("recorded", "recorded_while_profiling", "acknowledged"):
        figures[key] = sum(phase[key] for phase in phases)
    print()
    for name, key, base, after in (
        ("group commit / one transaction per signature", "group_commit_gain", before, default),
        ("one sequencer (the hub) / a sequencer in each worker", "hub_gain", default, hub),
    ):
        gain = after["signatures_per_second"] / max(base["signatures_per_second"], 0.1)
        figures[key] = round(gain, 2)
        reads = [(phase["read"] or {}).get("per_second", 0.0) for phase in (base, after)]
        print(
            f"{name}: {gain:.2f}× signatures per second; p99 "
            f"{base['sign']['p99_ms']:,.0f} ms → {after['sign']['p99_ms']:,.0f} ms; page "
            f"reads meanwhile {reads[0]:,.1f}/s → {reads[1]:,.1f}/s"
        )
    figures["in_process"] = in_process(local)
    return figures


IN_PROCESS_SHARE = 10
"""One statement in this many of the pool is posted in process (:func:`in_process`)."""
IN_PROCESS_THREADS = 32


def in_process(made: list[dict[str, Any]]) -> dict[str, Any]:
    """The server's own CPU per signature: no HTTP server and no load process.

    ``IN_PROCESS_THREADS`` threads of this process post ``made`` to ``/api/v1/statements``
    through Django's WSGI handler, group commit on; the figure is this process's CPU
    time (the sequencer's thread included) over the signatures. Over HTTP the same work
    shares two cores with the HTTP server, the readers and the load process, so this
    says how much of a signature's cost is the register's own.
    """
    from django.core.handlers.wsgi import WSGIHandler
    from django.test.utils import override_settings

    from cosignatory.web.register import models as m

    handler = WSGIHandler()
    bodies = [json.dumps(item).encode() for item in made]
    warm = min(len(bodies) // 10, 50)  # the first requests import the signing path
    codes: Counter[str] = Counter()
    lock = threading.Lock()

    def post(body: bytes) -> None:
        environ = {
            "REQUEST_METHOD": "POST",
            "PATH_INFO": "/api/v1/statements",
            "SERVER_NAME": "localhost",
            "SERVER_PORT": "80",
            "HTTP_HOST": "localhost",
            "REMOTE_ADDR": "127.0.0.1",
            "CONTENT_TYPE": "application/json",
            "CONTENT_LENGTH": str(len(body)),
            "wsgi.input": io.BytesIO(body),
            "wsgi.url_scheme": "http",
            "wsgi.errors": sys.stderr,
        }
        status: list[str] = []
        answer = handler(environ, lambda line, headers: status.append(line))
        b"".join(answer)
        answer.close()  # type: ignore[attr-defined]
        with lock:
            codes[status[0].split()[0]] += 1

    def signer(queue: Iterator[bytes]) -> None:
        while True:
            with lock:
                body = next(queue, None)
            if body is None:
                return
            post(body)

    say(f"signing in process: {len(bodies) - warm:,} statements, {IN_PROCESS_THREADS} threads")
    before = m.Signature.objects.count()
    with override_settings(COSIGNATORY_API_WRITES_PER_MINUTE=0, COSIGNATORY_GROUP_COMMIT=True):
        for body in bodies[:warm]:
            post(body)
        codes.clear()
        queue = iter(bodies[warm:])
        threads = [
            threading.Thread(target=signer, args=(queue,)) for _ in range(IN_PROCESS_THREADS)
        ]
        cpu, wall = time.process_time(), time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    count = max(len(bodies) - warm, 1)
    figures = {
        "statements": count,
        "threads": IN_PROCESS_THREADS,
        "answers": dict(codes),
        "cpu_ms_per_signature": round(cpu / count * 1000, 3),
        "signatures_per_second": round(count / wall, 1),
        "recorded": m.Signature.objects.count() - before,
    }
    print(
        f"\nIn process (no HTTP server, no load process; {IN_PROCESS_THREADS} threads through "
        f"Django's WSGI handler, group commit): {figures['cpu_ms_per_signature']:.2f} ms of "
        f"CPU a signature, {figures['signatures_per_second']:,.0f} signatures/s on one "
        f"process; answers {dict(codes)}"
    )
    return figures


PROFILE_SECONDS = 10.0
"""Seconds of the separate load during which py-spy samples the workers."""


def _sign_and_read(
    url: str, folder: Path, statements: Path, page: str, seconds: float, rate: float = 0.0
) -> dict[str, LoadResult]:
    """Signers post ``statements`` while readers load ``page``, for ``seconds``: each as
    soon as the last is answered, or ``rate`` a second together."""
    return run_locust(
        url,
        folder,
        users=SIGNERS + READERS,
        seconds=seconds,
        classes=("Signer", "Reader"),
        max_requests=0,
        env={
            "BENCH_SIGN": str(statements),
            "BENCH_SIGNERS": str(SIGNERS),
            "BENCH_SIGN_RATE": str(rate / SIGNERS) if rate else "",
            "BENCH_READ": f'["{page}"]',
        },
    )


def _phase(run: Run, label: str, env: dict[str, str], made: list[dict[str, Any]]) -> dict[str, Any]:
    from cosignatory.web.register import models as m

    data = run.dataset
    limits = run.limits
    folder = run.workspace.path
    slug = label.replace(" ", "-")
    path = folder / f"statements-{slug}.jsonl"
    write_json_lines(path, made)
    seconds = run.sign_seconds
    page = f"/letters/{data.big_letter}/"
    before = m.Signature.objects.filter(letter_id=data.big_letter).count()
    pace = f" at {run.sign_rate:,.0f}/s together" if run.sign_rate else ""
    say(
        f"signing over HTTP for {seconds:.0f} s, {label}: {SIGNERS} signers{pace}, "
        f"{READERS} readers"
    )
    raw = folder / f"signing-profile-{slug}.txt"
    with serving(folder, warm=(page, "/api/v1/"), env=env, threads=THREADS) as server:
        results = _sign_and_read(server.url, folder, path, page, seconds, run.sign_rate)
        after = m.Signature.objects.filter(letter_id=data.big_letter).count()
        sign = results.get(SIGN) or LoadResult.nothing(SIGN, SIGNERS)
        # The profile comes from a load of its own, after the measured one: py-spy
        # sampling the workers takes most of a core (18 s of CPU in an 18 s profile),
        # which the figures above must not pay. It signs with the statements left, past
        # those a signer may have had in flight when the load stopped (not counted,
        # perhaps recorded: sent again they would be answered 200, "recorded already").
        spare = made[sign.requests + SIGNERS :]
        if spare:
            spare_path = folder / f"statements-{slug}-profiled.jsonl"
            write_json_lines(spare_path, spare)
            profiled = min(seconds, PROFILE_SECONDS)
            spy = profile(server.process.pid, max(int(profiled) - 2, 1), raw)
            _sign_and_read(server.url, folder, spare_path, page, profiled, run.sign_rate)
            if spy is not None:
                spy.wait(60)
    profiled_signatures = m.Signature.objects.filter(letter_id=data.big_letter).count() - after
    read = results.get(page)
    acknowledged = sign.requests - sign.failures
    rate = acknowledged / seconds
    # Signers stop when the statements run out; the rate over the whole time is then
    # only a lower bound.
    exhausted = sign.requests >= len(made)
    ed = limits.ed25519
    figures: dict[str, Any] = {
        "mode": label,
        "sign_rate": run.sign_rate or None,
        "seconds": seconds,
        "signers": SIGNERS,
        "readers": READERS,
        "threads_per_worker": THREADS,
        "pool": len(made),
        "sign": sign.to_json(),
        "read": read.to_json() if read else None,
        "acknowledged": acknowledged,
        "recorded": after - before,
        "signatures_per_second": round(rate, 1),
        "statements_ran_out": exhausted,
        "target_per_second": TARGET_RATE,
        "share_of_target": round(rate / TARGET_RATE, 4),
        "ed25519_limit_per_second": round(ed),
        "share_of_ed25519_limit": round(rate / ed, 4),
        "p99_target_ms": TARGET_P99_MS,
        "profile": summarise_profile(raw),
        "recorded_while_profiling": profiled_signatures,
    }
    print(f"\n## target 1: signing over HTTP for {seconds:.0f} s, {label}\n")
    print(
        f"`cosignatory serve --workers 2 --threads {THREADS}` (gunicorn gthread), "
        f"{' '.join(f'{name}={value}' for name, value in env.items())}; locust "
        f"{SIGNERS} signers posting pre-made self-signed statements"
        f"{pace or ', each as soon as the last is answered'}, {READERS} readers "
        f"of `{page}`; {len(made):,} statements ready."
    )
    print()
    rows = [
        [
            "signatures acknowledged (201)",
            report.count(acknowledged),
            f"{rate:,.1f}/s",
            f"≥ {TARGET_RATE:,.0f}/s",
            report.ratio(rate / TARGET_RATE),
        ],
        ["raw Ed25519 verify limit, one core", "", f"{ed:,.0f}/s", "", report.ratio(rate / ed)],
        ["signing p50", "", f"{sign.p50_ms:,.0f} ms", "", ""],
        [
            "signing p99",
            "",
            f"{sign.p99_ms:,.0f} ms",
            f"< {TARGET_P99_MS:.0f} ms",
            report.ratio(sign.p99_ms / TARGET_P99_MS),
        ],
    ]
    if read:
        rows.append(
            [
                "page reads meanwhile",
                report.count(read.requests),
                f"{read.per_second:,.1f}/s",
                "",
                "",
            ]
        )
        rows.append(["page read p99", "", f"{read.p99_ms:,.0f} ms", "", ""])
    print(report.table(["what", "count", "figure", "target", "figure / target"], rows))
    print()
    met = rate >= TARGET_RATE and sign.p99_ms < TARGET_P99_MS
    # Requests still in flight when locust stops may commit without being counted: the
    # register may hold more, never fewer, than the 201s.
    kept = after - before >= acknowledged
    print(
        f"target 1 ({label}): {'met' if met else 'MISSED'}; failures {sign.failures:,}; new "
        f"signatures in the register {after - before:,} (every 201 kept: "
        f"{'yes' if kept else 'NO'})"
    )
    if exhausted:
        print(
            f"the {len(made):,} statements ran out before the {seconds:.0f} s were over: "
            f"{rate:,.1f}/s is a lower bound (a larger --pool gives the rate)"
        )
    prof = figures["profile"]
    if prof.get("parts"):
        print(
            "\nWhere the workers' time went (py-spy, in a load of its own after the measured "
            "one; share of samples in requests):\n"
        )
        print(profile_table(prof))
    return figures
