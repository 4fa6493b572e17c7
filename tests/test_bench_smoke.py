"""The benchmark suite itself runs, at tiny sizes, so its code cannot rot unnoticed.

Runs of ``python -m bench`` in child processes (it configures Django for its own
temporary data folder, so it cannot share this process's settings): the benchmarks of
the register (limits, reads, signing, bundle, export) at sizes that take seconds, then
``cosignatory rebuild`` on the data folder they kept (the generator's events must be
valid and its bulk projection identical to the projector's), and ``tiles`` alone. The
JSON and SVG are checked for the facts the figures rest on. No time is asserted:
timings belong to the benchmark's report, not to tests.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from bench.workspace import ORIGIN

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.no_database


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COSIGNATORY_")}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    return env


def _bench(folder: Path, *arguments: str) -> dict[str, Any]:
    out = folder / "figures.json"
    command = [sys.executable, "-m", "bench", *arguments, "--json", str(out)]
    command += ["--quick", "--repeat", "1", "--tmp", str(folder)]
    done = subprocess.run(
        command, cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-3000:]
    document: dict[str, Any] = json.loads(out.read_text())
    document["stdout"] = done.stdout
    document["stderr"] = done.stderr  # the progress lines
    return document


@pytest.fixture(scope="module")
def figures(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("bench")
    document = _bench(
        folder,
        *("limits", "reads", "signing", "bundle", "export", "--keep"),
        *("--signatures", "40", "--pool", "12", "--letters", "3", "--users", "2"),
        *("--sign-seconds", "2", "--plot", str(folder / "load.svg")),
    )
    document["svg"] = (folder / "load.svg").read_text()
    (data,) = folder.glob("cosignatory-bench-*")
    env = _env() | {
        "COSIGNATORY_DATA_DIR": str(data),
        "COSIGNATORY_DATABASE_URL": f"sqlite://{data / 'cosignatory.sqlite3'}",
        "COSIGNATORY_KEY_DIR": str(data / "keys"),
        "COSIGNATORY_LOG_ORIGIN": ORIGIN,
    }
    cli = str(Path(sys.executable).with_name("cosignatory"))
    document["rebuild"] = subprocess.run(
        [cli, "rebuild", "--json"], env=env, capture_output=True, text=True, timeout=600
    )
    return document


@pytest.fixture(scope="module")
def tiles(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("tiles")
    return _bench(folder, "tiles", "--tile-size", "700", "--proofs", "5")


def test_the_generated_register_has_the_sizes_asked_for(figures: dict[str, Any]) -> None:
    data = figures["results"]["dataset"]
    assert data["big_letter_signatures"] == 40
    assert data["self_signed"] == 4 and data["email_verified"] == 36
    assert data["session_letters"] == 3 and data["pool"] == 12


def test_every_acknowledged_signature_is_in_the_register(figures: dict[str, Any]) -> None:
    signing = figures["results"]["signing"]
    # How many get through in two seconds depends on the machine; none may be lost.
    assert signing["recorded"] >= signing["acknowledged"]
    # Each way of recording is measured: the default (group commit, a sequencer in each
    # worker) and the two it is compared with.
    for phase in (signing, signing["hub"], signing["per_transaction"]):
        assert phase["sign"]["failures"] == 0
    assert signing["mode"] == "group commit"
    assert signing["hub"]["mode"] == "group commit, one sequencer for all workers (the hub)"
    assert signing["hub_gain"] > 0 and signing["group_commit_gain"] > 0


def test_signing_in_process_records_every_statement(figures: dict[str, Any]) -> None:
    local = figures["results"]["signing"]["in_process"]
    assert local["answers"] == {"201": local["statements"]}
    assert local["recorded"] >= local["statements"]  # the warm-up's too
    assert local["cpu_ms_per_signature"] > 0


def test_reads_answer_without_failures(figures: dict[str, Any]) -> None:
    curve = figures["results"]["reads"]["curve"]
    assert len(curve) == 4
    for points in curve.values():
        assert [p["users"] for p in points] == [2]
        assert all(p["failures"] == 0 for p in points)


def test_the_bundle_verifies_and_the_exports_hold_every_row(figures: dict[str, Any]) -> None:
    results = figures["results"]
    assert results["bundle"]["signature_events"] >= 40
    bundle = results["bundle"]
    # The whole tree is measured (the pool's workers too), and one process alone as well.
    assert bundle["verify_peak_rss_mb"] >= bundle["verify_own_peak_rss_mb"] > 0
    assert bundle["verify_one_process_seconds"] > 0 and bundle["pool_gain"] > 0
    # The open letter also holds what the signing benchmark recorded before the export,
    # in the measured loads and in those profiled.
    signing = results["signing"]
    parts = ("recorded", "recorded_while_profiling")
    signed = sum(signing[part] for part in parts) + signing["in_process"]["recorded"]
    assert results["export"]["cli"]["bench-open-letter"]["rows"] == 40 + signed
    assert results["export"]["cli"]["bench-open-letter-tenth"]["rows"] == 4


def test_the_generated_register_rebuilds_identically(figures: dict[str, Any]) -> None:
    done = figures["rebuild"]
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout)
    assert report["identical"] and not report["problems"] and not report["foreign_entries"]


def test_tiles_and_baselines_are_measured(figures: dict[str, Any], tiles: dict[str, Any]) -> None:
    found = tiles["results"]["tiles"]
    assert found["size"] == 700 and found["http_tiles"]["failures"] == 0
    assert "## target 5" in tiles["stdout"]
    results = figures["results"]
    assert results["limits"]["ed25519_verify_per_s_cryptography"] > 0
    assert results["limits"]["sha256_calls_per_s"] > 0


def test_the_report_and_the_plot_are_written(figures: dict[str, Any]) -> None:
    for heading in ("target 1", "target 3", "target 4", "target 6", "limits"):
        assert f"## {heading}" in figures["stdout"]
    assert figures["svg"].startswith("<svg") and "p99 latency" in figures["svg"]


def test_the_intake_records_every_statement_and_rebuilds(tmp_path: Path) -> None:
    """``intake`` at 40 statements: the import and the batch API (one client, then two
    at once, then over HTTP to ``cosignatory serve``) each record all of them (it raises
    otherwise), and at this size it also rebuilds the tables from the log and fails if
    they differ."""
    document = _bench(tmp_path, "intake", "--statements", "40")
    found = document["results"]["intake"]
    assert found["statements"] == 40 and found["target"] == 0.5
    assert found["ratio_import"] > 0 and found["ratio_api"] > 0
    assert found["ratio_api_together"] > 0 and found["api_clients"] == 2
    assert found["ratio_api_http"] > 0 and found["api_http"]["count"] == 40
    assert "intake: cosignatory rebuild" in document["stderr"]
    assert "## Bulk intake of self-signed statements" in document["stdout"]
