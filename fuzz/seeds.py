"""Valid inputs for every parser the fuzzers exercise, and the keys that sign them.

Everything here is deterministic (fixed keys, a fixed clock), so a seed corpus made
today is the corpus made tomorrow, and a crash found from it can be replayed. The
published vectors in ``tests/vectors`` (see its README for their sources) join the
inputs generated here. Used by the atheris harnesses (``fuzz/fuzz_*.py``) and by the
Hypothesis tests (``tests/reliability/test_fuzz_parsers.py``), which mutate them.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

from cosignatory.core.bundle import BundleWriter
from cosignatory.core.statements import SignedStatement
from cosignatory.tlog.checkpoint import Checkpoint
from cosignatory.tlog.log import Log
from cosignatory.tlog.note import KeyType, Note, Signer, add_signatures
from cosignatory.tlog.policy import Policy
from cosignatory.tlog.proof_format import InclusionProof
from cosignatory.tlog.storage import MemoryStorage
from cosignatory.tlog.tiles import encode_entry_bundle
from cosignatory.tlog.witness import (
    MemoryWitnessState,
    TreeHead,
    Witness,
    format_add_checkpoint_request,
)

ROOT = Path(__file__).resolve().parent.parent
VECTORS = ROOT / "tests" / "vectors"
ORIGIN = "fuzz.example/log"
LOG_KEY = Signer(ORIGIN, KeyType.ED25519, bytes(range(32)))
"""The fuzzed log's key: Ed25519, so that a fuzzer spends its time parsing, not in ML-DSA."""
LOG_MLDSA = Signer(ORIGIN, KeyType.MLDSA44, bytes(range(32, 64)))
WITNESS = Signer("fuzz.example/witness", KeyType.COSIGNATURE_ED25519, bytes([7]) * 32)
POLICY = Policy.from_text(
    f"log {LOG_KEY.verifier().to_vkey()}\n"
    f"witness w1 {WITNESS.verifier().to_vkey()}\n"
    "group g1 any w1\n"
    "quorum g1\n"
)
"""The trust policy of the seeds: the log's Ed25519 key and one witness."""
LOG_ONLY = Policy.from_keys([LOG_KEY.verifier(), LOG_MLDSA.verifier()])
LETTER = "L1"
CSV = (
    "party,representative,instrument_kind,reference,date,action\n"
    "FRA,rep-fra,note-verbale,NV/2019/1,2019-07-08,sign\n"
    'DEU,,letter,"Ref, with a comma",2019-07-09,\n'
    "ESP,rep-esp,in-person,Meeting of 10 July,2019-07-10,sign\n"
)
"""A CSV intake file in the documented format (``docs/cli.md``)."""


def _vector_json(path: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((VECTORS / path).read_text(encoding="utf-8"))
    return loaded


@functools.cache
def world_log() -> tuple[Any, Log]:
    """A small register (tests/core/conftest.py's world, two signatures) and its log.

    The repository's root must be on sys.path (the harnesses put it there)."""
    from tests.core.conftest import build_world

    world = build_world()
    world.step("letter.opened")
    world.sign("FRA")
    world.sign("DEU", evidence="attested")
    log = Log(MemoryStorage(), ORIGIN, [LOG_KEY, LOG_MLDSA])
    log.initialise()
    log.append_batch([event.to_bytes() for event in world.applied])
    return world, log


def witnessed_checkpoint() -> str:
    """The log's signed checkpoint, cosigned by the witness (0x04 cosignature)."""
    _, log = world_log()
    return add_signatures(log.head().checkpoint, [WITNESS])


def events() -> list[bytes]:
    """The log entries of the world: one of each kind of event it holds."""
    world, _ = world_log()
    return [event.to_bytes() for event in world.applied]


def bundle() -> bytes:
    """The bundle of letter L1: every entry of the log, with proofs, sealed."""
    world, log = world_log()
    note = witnessed_checkpoint()
    cp = Checkpoint.from_text(Note.from_text(note).text)
    writer = BundleWriter(
        LETTER, note, cp, lambda message: (world.registrar_id, world.registrar.sign(message))
    )
    lines = [writer.header()]
    for index in range(cp.size):
        lines.append(
            writer.entry(
                index, log.entries(index, index + 1)[0], log.prove_inclusion(index, cp.size)
            )
        )
    lines.append(writer.end())
    return b"".join(lines)


def statements() -> list[bytes]:
    """Signed statement files: the self-signed signature in the world's log."""
    out = []
    for entry in events():
        data = json.loads(entry)["data"]
        evidence = data.get("evidence", {})
        if evidence.get("kind") == "self-signed":
            signed = SignedStatement.from_json(
                {"statement": evidence["statement"], "signature": evidence["signature"]}
            )
            out.append(signed.to_text().encode())
    return out


def notes() -> list[bytes]:
    """Signed notes: the spec's and Go's examples, Tessera's checkpoints, ours."""
    c2sp = _vector_json("c2sp-examples/spec_examples.json")
    golang = _vector_json("golang-mod-sumdb/note_vectors.json")
    found = [
        str(c2sp["signed_note_example"]["note"]).encode(),
        str(c2sp["checkpoint_example_no_key_published"]).encode(),
        str(golang["signed_by_peter"]).encode(),
        (VECTORS / "torchwood-litewitness" / "checkpoint.1").read_bytes(),
        (VECTORS / "tessera-testdata-log" / "log" / "checkpoint").read_bytes(),
        witnessed_checkpoint().encode(),
    ]
    return found


def keys() -> list[bytes]:
    """vkey and skey texts, of every signature type."""
    golang = _vector_json("golang-mod-sumdb/note_vectors.json")
    found = [(VECTORS / "torchwood-litewitness" / "vkey.txt").read_text().strip()]
    for key in golang["keys"].values():
        found.extend(value for name, value in key.items() if name in ("vkey", "skey"))
    for signer in (LOG_KEY, LOG_MLDSA, WITNESS):
        found += [signer.verifier().to_vkey(), signer.to_skey()]
    return [text.encode() for text in found]


def checkpoint_bodies() -> list[bytes]:
    """Checkpoint note texts (bodies without signatures), with and without extensions."""
    signed = notes()
    bodies = [Note.from_text(signed[number]).text for number in (1, 3, 4, 5)]
    bodies.append(Checkpoint(ORIGIN, 2**63 - 1, bytes(32), ("ext one", "ext two")).to_text())
    return [body.encode() for body in bodies]


def tile_paths() -> list[bytes]:
    paths = ["tile/0/000", "tile/1/x001/x234/067.p/17", "tile/entries/000.p/255", "tile/63/999"]
    return [path.encode() for path in paths]


def tiles() -> list[bytes]:
    """Tessera's hash tiles and entry bundles, and ours."""
    log_dir = VECTORS / "tessera-testdata-log" / "log" / "tile"
    found = [path.read_bytes() for path in sorted(log_dir.glob("*/000.p/*"))][:6]
    found.append(encode_entry_bundle(events()))
    return found


def proofs() -> list[bytes]:
    """Complete tlog-proof files: the derived Tessera vectors and one of our log."""
    found = [path.read_bytes() for path in sorted((VECTORS / "derived").glob("*.tlog-proof"))]
    _, log = world_log()
    size = log.size()
    proof = InclusionProof(1, tuple(log.prove_inclusion(1, size)), b"extra")
    found.append(proof.with_checkpoint(witnessed_checkpoint()).to_text().encode())
    return found


def policies() -> list[bytes]:
    mldsa = LOG_MLDSA.verifier().to_vkey()
    return [
        POLICY.to_text().encode(),
        LOG_ONLY.to_text().encode(),
        (
            "# a comment\n"
            f"log {LOG_KEY.verifier().to_vkey()} https://fuzz.example/log/\n"
            f"log {mldsa}\n"
            f"witness w1 {WITNESS.verifier().to_vkey()} https://w1.example/\n"
            "group g1 all w1\n"
            "group g2 1 g1\n"
            "quorum none\n"
        ).encode(),
    ]


OLD_SIZE = 10
"""The size the fuzzed witness has cosigned already (see :func:`witness`)."""


@functools.cache
def _witnessed_prefix() -> tuple[bytes, tuple[bytes, ...]]:
    """The root of the log's first OLD_SIZE entries, and the requests of :func:`witness`."""
    _, log = world_log()
    old = Log(MemoryStorage(), ORIGIN, [LOG_KEY])
    old.initialise()
    old.append_batch(log.entries(0, OLD_SIZE))
    head = log.head().checkpoint
    requests = (
        format_add_checkpoint_request(OLD_SIZE, log.prove_consistency(OLD_SIZE), head),
        format_add_checkpoint_request(OLD_SIZE, [], old.head().checkpoint),
    )
    return old.root(), requests


def witness() -> tuple[Witness, list[bytes]]:
    """A new witness of the seeds' log that has cosigned its first OLD_SIZE entries, and
    add-checkpoint requests it accepts: from there to the log's head, and the same
    size again (an empty proof)."""
    root, requests = _witnessed_prefix()
    state = MemoryWitnessState()
    state.advance(ORIGIN, None, TreeHead(OLD_SIZE, root))
    the_witness = Witness([WITNESS], [LOG_KEY.verifier()], state, clock=lambda: 1_700_000_000.0)
    return the_witness, list(requests)


SEEDS = {
    "note": notes,
    "key": keys,
    "checkpoint": checkpoint_bodies,
    "tile_path": tile_paths,
    "tile": tiles,
    "proof": proofs,
    "policy": policies,
    "bundle": lambda: [bundle()],
    "statement": statements,
    "event": events,
    "csv": lambda: [CSV.encode()],
    "witness": lambda: witness()[1],
}
"""Each fuzz target's valid inputs, by target name."""


def write_corpus(target: str, folder: Path) -> int:
    """Write ``target``'s seeds into ``folder`` (one file each); return how many."""
    folder.mkdir(parents=True, exist_ok=True)
    seeds = SEEDS[target]()
    for number, seed in enumerate(seeds):
        (folder / f"seed-{number:03d}").write_bytes(seed)
    return len(seeds)
