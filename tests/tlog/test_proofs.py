"""Inclusion and consistency proofs against published vectors.

Sources (see tests/vectors/README.md): transparency-dev/merkle's probes and RFC 6962
reference tree, Google's CT log Argon 2020 (via golang/mod), and the Tessera test log.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from cosignatory.tlog.errors import ProofInvalidError, ProofRangeError, TlogError
from cosignatory.tlog.hashing import leaf_hash
from cosignatory.tlog.proofs import (
    MemoryTree,
    consistency_proof,
    inclusion_proof,
    root_from_inclusion_proof,
    verify_consistency,
    verify_inclusion,
)

VECTORS = Path(__file__).resolve().parents[1] / "vectors"
MERKLE = VECTORS / "transparency-dev-merkle"
ARGON = VECTORS / "ct-argon2020"
TESSERA_LOG = VECTORS / "tessera-testdata-log" / "log"
TESSERA_TEXT = "one two three four five six seven eit nain ten ileven twelf threeten fourten fivten"
TESSERA_WORDS = TESSERA_TEXT.split()


def b64(text: str) -> bytes:
    return base64.b64decode(text)


def load(path: Path) -> Any:
    return json.loads(path.read_text())


def probes(kind: str, desc: str | None = None) -> list[Any]:
    files = sorted((MERKLE / kind).rglob("*.json"))
    loaded = [(f, load(f)) for f in files]
    return [
        pytest.param(probe, id=str(f.relative_to(MERKLE / kind)))
        for f, probe in loaded
        if desc is None or probe["desc"] == desc
    ]


def reference_tree() -> MemoryTree:
    data = load(MERKLE / "rfc6962_reference_tree.json")
    return MemoryTree(bytes.fromhex(h) for h in data["leaf_hashes_hex"])


def checkpoint_root(size: int) -> bytes:
    """The root hash on line 3 of the Tessera log's signed checkpoint.<size>."""
    lines = (TESSERA_LOG / f"checkpoint.{size}").read_text().split("\n")
    assert int(lines[1]) == size
    return b64(lines[2])


# --- transparency-dev/merkle probes ---------------------------------------------------


def test_probe_counts() -> None:
    assert len(probes("inclusion")) + len(probes("consistency")) == 196
    assert len(probes("inclusion", "happy path")) == len(probes("consistency", "happy path")) == 5


@pytest.mark.parametrize("probe", probes("inclusion"))
def test_inclusion_probe(probe: dict[str, Any]) -> None:
    args = (
        b64(probe["leafHash"]),
        probe["leafIdx"],
        probe["treeSize"],
        [b64(p) for p in probe["proof"] or []],
        b64(probe["root"]),
    )
    if probe["wantErr"]:
        with pytest.raises((ProofInvalidError, ProofRangeError)):
            verify_inclusion(*args)
    else:
        verify_inclusion(*args)


@pytest.mark.parametrize("probe", probes("consistency"))
def test_consistency_probe(probe: dict[str, Any]) -> None:
    args = (
        probe["size1"],
        probe["size2"],
        b64(probe["root1"]),
        b64(probe["root2"]),
        [b64(p) for p in probe["proof"] or []],
    )
    if probe["wantErr"]:
        with pytest.raises((ProofInvalidError, ProofRangeError)):
            verify_consistency(*args)
    else:
        verify_consistency(*args)


@pytest.mark.parametrize("probe", probes("inclusion", "happy path"))
def test_generated_inclusion_proof_equals_happy_path(probe: dict[str, Any]) -> None:
    tree = reference_tree()
    assert b64(probe["root"]) == tree.root(probe["treeSize"])
    proof = tree.inclusion_proof(probe["leafIdx"], probe["treeSize"])
    assert proof == [b64(p) for p in probe["proof"] or []]


@pytest.mark.parametrize("probe", probes("consistency", "happy path"))
def test_generated_consistency_proof_equals_happy_path(probe: dict[str, Any]) -> None:
    tree = reference_tree()
    assert b64(probe["root2"]) == tree.root(probe["size2"])
    proof = tree.consistency_proof(probe["size1"], probe["size2"])
    assert proof == [b64(p) for p in probe["proof"] or []]


def test_every_proof_of_the_reference_tree_verifies() -> None:
    tree = reference_tree()
    for size in range(1, tree.size + 1):
        root = tree.root(size)
        for index in range(size):
            proof = tree.inclusion_proof(index, size)
            verify_inclusion(tree.leaf_hash(index), index, size, proof, root)
        for old in range(1, size + 1):
            proof = tree.consistency_proof(old, size)
            verify_consistency(old, size, tree.root(old), root, proof)


# --- Google CT log Argon 2020 ---------------------------------------------------------


def test_argon2020_inclusion_proof() -> None:
    sth = load(ARGON / "sth.json")
    entry = b64(load(ARGON / "entries.json")["entries"][0]["leaf_input"])
    proof = load(ARGON / "proof.json")
    path = [b64(p) for p in proof["audit_path"]]
    assert len(path) == 30
    verify_inclusion(
        leaf_hash(entry), proof["leaf_index"], sth["tree_size"], path, b64(sth["sha256_root_hash"])
    )


def test_argon2020_consistency_proof() -> None:
    sth = load(ARGON / "sth.json")
    data = load(ARGON / "consistency.json")
    assert data["second"] == sth["tree_size"]
    path = [b64(p) for p in data["consistency"]]
    assert len(path) == 30
    verify_consistency(
        data["first"],
        data["second"],
        b64(data["first_root_b64"]),
        b64(sth["sha256_root_hash"]),
        path,
    )


def test_argon2020_proofs_reject_a_changed_hash() -> None:
    sth = load(ARGON / "sth.json")
    root = b64(sth["sha256_root_hash"])
    entry = b64(load(ARGON / "entries.json")["entries"][0]["leaf_input"])
    proof = load(ARGON / "proof.json")
    path = [b64(p) for p in proof["audit_path"]]
    path[17] = bytes([path[17][0] ^ 1]) + path[17][1:]
    with pytest.raises(ProofInvalidError):
        verify_inclusion(leaf_hash(entry), proof["leaf_index"], sth["tree_size"], path, root)
    data = load(ARGON / "consistency.json")
    cpath = [b64(p) for p in data["consistency"]]
    with pytest.raises(ProofInvalidError):
        verify_consistency(
            data["first"] + 1, data["second"], b64(data["first_root_b64"]), root, cpath
        )


# --- the Tessera test log -------------------------------------------------------------


def tessera_tree() -> MemoryTree:
    return MemoryTree.from_entries(word.encode() for word in TESSERA_WORDS)


def test_tessera_roots_match_the_signed_checkpoints() -> None:
    tree = tessera_tree()
    for size in range(16):
        assert tree.root(size) == checkpoint_root(size)


CONSISTENCY_PAIRS = load(VECTORS / "derived" / "tessera-log-consistency.json")["pairs"]


def test_tessera_has_120_pairs() -> None:
    assert len(CONSISTENCY_PAIRS) == 120


@pytest.mark.parametrize(
    "pair", [pytest.param(p, id=f"{p['size1']}-{p['size2']}") for p in CONSISTENCY_PAIRS]
)
def test_tessera_consistency_pair(pair: dict[str, Any]) -> None:
    tree = tessera_tree()
    m, n = pair["size1"], pair["size2"]
    want = [b64(p) for p in pair["proof"]]
    root1, root2 = b64(pair["root1"]), b64(pair["root2"])
    assert root1 == checkpoint_root(m) == tree.root(m)
    assert root2 == checkpoint_root(n) == tree.root(n)
    assert tree.consistency_proof(m, n) == want
    verify_consistency(m, n, root1, root2, want)


def test_tessera_inclusion_proofs_verify_against_checkpoints() -> None:
    tree = tessera_tree()
    for size in range(1, 16):
        for index in range(size):
            proof = tree.inclusion_proof(index, size)
            verify_inclusion(
                leaf_hash(TESSERA_WORDS[index].encode()), index, size, proof, checkpoint_root(size)
            )


# --- ranges and malformed input -------------------------------------------------------


def test_errors_have_stable_codes() -> None:
    assert ProofInvalidError.code == "E_PROOF_INVALID"
    assert ProofRangeError.code == "E_PROOF_RANGE"
    assert issubclass(ProofInvalidError, TlogError)


@pytest.mark.parametrize(("index", "size"), [(-1, 5), (5, 5), (6, 5), (0, 0), (0, -1)])
def test_inclusion_proof_out_of_range(index: int, size: int) -> None:
    tree = reference_tree()
    with pytest.raises(ProofRangeError):
        inclusion_proof(index, size, tree.range_hash)
    with pytest.raises(ProofRangeError):
        root_from_inclusion_proof(tree.leaf_hash(0), index, size, [])


@pytest.mark.parametrize(("old", "new"), [(0, 0), (0, 5), (-1, 5), (6, 5)])
def test_consistency_proof_out_of_range(old: int, new: int) -> None:
    tree = reference_tree()
    with pytest.raises(ProofRangeError):
        consistency_proof(old, new, tree.range_hash)
    with pytest.raises(ProofRangeError):
        verify_consistency(old, new, tree.root(0), tree.root(0), [])


def test_consistency_of_equal_sizes_is_empty() -> None:
    tree = reference_tree()
    assert consistency_proof(8, 8, tree.range_hash) == []
    verify_consistency(8, 8, tree.root(8), tree.root(8), [])


def test_memory_tree_refuses_sizes_beyond_its_leaves() -> None:
    tree = reference_tree()
    with pytest.raises(ProofRangeError):
        tree.inclusion_proof(0, 9)
    with pytest.raises(ProofRangeError):
        tree.consistency_proof(1, 9)
    with pytest.raises(ProofRangeError):
        tree.range_hash(3, 9)
    with pytest.raises(ProofRangeError):
        tree.leaf_hash(8)


def test_memory_tree_append() -> None:
    tree = MemoryTree()
    assert tree.root() == reference_tree().root(0)
    data = load(MERKLE / "rfc6962_reference_tree.json")
    for i, leaf in enumerate(data["leaf_inputs_hex"]):
        assert tree.append(bytes.fromhex(leaf)) == i
    assert tree.size == 8
    assert tree.root() == bytes.fromhex(data["root_by_size_hex"][8])


def test_short_hashes_are_rejected() -> None:
    tree = reference_tree()
    proof = tree.inclusion_proof(5, 8)
    with pytest.raises(ProofInvalidError):
        verify_inclusion(tree.leaf_hash(5)[:31], 5, 8, proof, tree.root(8))
    with pytest.raises(ProofInvalidError):
        verify_inclusion(tree.leaf_hash(5), 5, 8, [*proof[:2], proof[2] + b"\0"], tree.root(8))
    cproof = tree.consistency_proof(6, 8)
    with pytest.raises(ProofInvalidError):
        verify_consistency(6, 8, tree.root(6), tree.root(8), [cproof[0][:16], *cproof[1:]])


def test_root_from_inclusion_proof_returns_the_root() -> None:
    tree = reference_tree()
    proof = tree.inclusion_proof(3, 7)
    assert root_from_inclusion_proof(tree.leaf_hash(3), 3, 7, proof) == tree.root(7)
