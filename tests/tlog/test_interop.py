"""Checkpoints signed by other implementations open with ours (see tests/vectors/README.md)."""

from __future__ import annotations

from cosignatory.tlog.checkpoint import open_checkpoint
from cosignatory.tlog.note import KeyType, Signer, Verifier, open_note
from tests.conftest import VECTORS

TORCHWOOD = VECTORS / "torchwood-litewitness"


def test_torchwood_mldsa44_cosigned_checkpoint_opens() -> None:
    """An ML-DSA-44 (0x06) tlog-cosignature made by Go's torchwood verifies here."""
    verifier = Verifier.from_vkey((TORCHWOOD / "vkey.txt").read_text().strip())
    assert verifier.key_type is KeyType.MLDSA44
    text = (TORCHWOOD / "checkpoint.1").read_text()
    cp = open_checkpoint(text, [verifier], origin="example.com/mldsa-log")
    assert cp.size == 1
    note = open_note(text, [verifier]).note
    assert verifier.verify_note(note.text, note.signatures[0].signature) == 0  # timestamp


def test_torchwood_seed_gives_the_same_key() -> None:
    seed = bytes.fromhex((TORCHWOOD / "gentest_seed.txt").read_text().strip())
    signer = Signer("example.com/mldsa-log", KeyType.MLDSA44, seed)
    assert signer.verifier().to_vkey() == (TORCHWOOD / "vkey.txt").read_text().strip()


def test_our_mldsa44_cosignature_of_the_same_checkpoint_verifies_with_their_key() -> None:
    seed = bytes.fromhex((TORCHWOOD / "gentest_seed.txt").read_text().strip())
    signer = Signer("example.com/mldsa-log", KeyType.MLDSA44, seed)
    body = open_note((TORCHWOOD / "checkpoint.1").read_text(), [signer.verifier()]).text
    ours = signer.sign_note(body, timestamp=0)
    verifier = Verifier.from_vkey((TORCHWOOD / "vkey.txt").read_text().strip())
    assert verifier.verify_note(body, ours) == 0
