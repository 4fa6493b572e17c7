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

import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import report
from bench.run import Run, say
from bench.server import LoadResult, run_locust, serving, write_json_lines

TARGET_RATE = 1_000.0
TARGET_P99_MS = 250.0
SIGN = "POST /api/v1/statements"
SIGNERS = 16
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
        if "wsgi" not in stack and "handle_request" not in stack:
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


def bench_signing(run: Run) -> dict[str, Any]:
    """Sign over HTTP for a bounded time while readers load the letter's page."""
    from cosignatory.web.register import models as m

    data = run.dataset
    limits = run.limits
    folder = run.workspace.path
    path = folder / "statements.jsonl"
    write_json_lines(path, statements(run))
    seconds = run.sign_seconds
    page = f"/letters/{data.big_letter}/"
    before = m.Signature.objects.filter(letter_id=data.big_letter).count()
    say(f"signing over HTTP for {seconds:.0f} s: {SIGNERS} signers, {READERS} readers")
    raw = folder / "signing-profile.txt"
    with serving(folder, warm=(page, "/api/v1/")) as server:
        spy = profile(server.process.pid, max(int(seconds) - 2, 1), raw)
        results = run_locust(
            server.url,
            folder,
            users=SIGNERS + READERS,
            seconds=seconds,
            classes=("Signer", "Reader"),
            max_requests=0,
            env={
                "BENCH_SIGN": str(path),
                "BENCH_SIGNERS": str(SIGNERS),
                "BENCH_READ": f'["{page}"]',
            },
        )
        if spy is not None:
            spy.wait(60)
    after = m.Signature.objects.filter(letter_id=data.big_letter).count()
    sign = results.get(SIGN) or LoadResult.nothing(SIGN, SIGNERS)
    read = results.get(page)
    acknowledged = sign.requests - sign.failures
    rate = acknowledged / seconds
    ed = limits.ed25519
    figures: dict[str, Any] = {
        "seconds": seconds,
        "signers": SIGNERS,
        "readers": READERS,
        "pool": len(data.pool),
        "sign": sign.to_json(),
        "read": read.to_json() if read else None,
        "acknowledged": acknowledged,
        "recorded": after - before,
        "signatures_per_second": round(rate, 1),
        "target_per_second": TARGET_RATE,
        "share_of_target": round(rate / TARGET_RATE, 4),
        "ed25519_limit_per_second": round(ed),
        "share_of_ed25519_limit": round(rate / ed, 4),
        "p99_target_ms": TARGET_P99_MS,
        "profile": summarise_profile(raw),
    }
    print(f"\n## target 1: signing over HTTP for {seconds:.0f} s, readers on the same page\n")
    print(
        f"`cosignatory serve --workers 2` (gunicorn gthread, 4 threads a worker); locust "
        f"{SIGNERS} signers posting pre-made self-signed statements, {READERS} readers "
        f"of `{page}`; {len(data.pool):,} statements ready."
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
        f"target 1: {'met' if met else 'MISSED'}; failures {sign.failures:,}; new signatures "
        f"in the register {after - before:,} (every 201 kept: {'yes' if kept else 'NO'})"
    )
    prof = figures["profile"]
    if prof.get("parts"):
        print("\nWhere the workers' request time went (py-spy, share of samples in requests):\n")
        print(profile_table(prof))
    return figures
