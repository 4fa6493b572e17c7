"""The C2SP formats inside a bundle: tlog-proof (per entry) and tlog-policy (the trust).

The tlog-proof vectors are real proofs from Tessera's test log (tests/vectors/README.md).
"""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cosignatory.tlog.checkpoint import Checkpoint, sign_checkpoint
from cosignatory.tlog.errors import (
    MalformedKeyError,
    ProofInvalidError,
    ProofRangeError,
    SignatureInvalidError,
    UnverifiedNoteError,
)
from cosignatory.tlog.hashing import leaf_hash
from cosignatory.tlog.note import (
    Verifier,
    add_signatures,
    generate_cosigner,
    generate_ed25519,
    generate_mldsa44,
)
from cosignatory.tlog.policy import MalformedPolicyError, Policy, WitnessQuorumError
from cosignatory.tlog.proof_format import (
    HEADER,
    InclusionProof,
    MalformedProofError,
    TlogProof,
)
from tests.conftest import VECTORS

TESSERA_VKEY = "example.com/log/testdata+33d7b496+AeHTu4Q3hEIMHNqc6fASMsq3rKNx280NI+oO5xCFkkSx"
PROOFS = sorted((VECTORS / "derived").glob("*.tlog-proof"))


def test_the_vectors_are_there() -> None:
    assert [p.name for p in PROOFS] == [
        "tessera-log-entry0.tlog-proof",
        "tessera-log-entry14.tlog-proof",
        "tessera-log-entry4.tlog-proof",
    ]


# -- tlog-proof ------------------------------------------------------------------------


@pytest.mark.parametrize("path", PROOFS, ids=lambda p: p.name)
def test_tessera_proofs_parse_round_trip_and_verify(path: Path) -> None:
    text = path.read_text()
    proof = TlogProof.from_text(text)
    assert proof.to_text() == text
    assert TlogProof.from_text(text.encode()) == proof
    # The extra line carries the entry itself (the words of Tessera's test log).
    assert proof.proof.extra is not None
    checkpoint = proof.verify(leaf_hash(proof.proof.extra), [Verifier.from_vkey(TESSERA_VKEY)])
    assert (checkpoint.origin, checkpoint.size) == ("example.com/log/testdata", 15)
    assert checkpoint.to_text() in proof.checkpoint


def test_a_tessera_proof_with_another_entry_does_not_verify() -> None:
    proof = TlogProof.from_text(PROOFS[0].read_text())
    with pytest.raises(ProofInvalidError):
        proof.verify(leaf_hash(b"two"), [Verifier.from_vkey(TESSERA_VKEY)])


def test_a_tessera_proof_with_another_log_key_does_not_verify() -> None:
    proof = TlogProof.from_text(PROOFS[0].read_text())
    other = generate_ed25519("example.com/log/testdata").verifier()
    with pytest.raises(UnverifiedNoteError):
        proof.verify(leaf_hash(b"one"), [other])


def test_a_bundle_proof_is_a_tlog_proof_without_its_checkpoint() -> None:
    whole = TlogProof.from_text(PROOFS[2].read_text())
    head = InclusionProof(whole.proof.index, whole.proof.hashes)
    assert head.to_text().startswith(f"{HEADER}\nindex 4\n")
    rebuilt = head.with_checkpoint(whole.checkpoint)
    # Without the extra line it is still a valid proof of the same entry.
    rebuilt.verify(leaf_hash(b"five"), [Verifier.from_vkey(TESSERA_VKEY)])
    assert TlogProof.from_text(rebuilt.to_text()) == rebuilt


def test_the_index_must_be_in_the_checkpoint() -> None:
    whole = TlogProof.from_text(PROOFS[1].read_text())
    beyond = InclusionProof(15, whole.proof.hashes)
    cp = Checkpoint.from_text(whole.checkpoint.split("\n\n")[0] + "\n")
    with pytest.raises(ProofRangeError):
        beyond.verify(leaf_hash(b"fivten"), cp)


H = base64.b64encode(b"\x01" * 32).decode()
BAD_PROOFS = {
    "no header": "index 0\n",
    "wrong header": "c2sp.org/tlog-proof@v2\nindex 0\n",
    "no index": f"{HEADER}\n{H}\n",
    "leading zero": f"{HEADER}\nindex 01\n",
    "negative": f"{HEADER}\nindex -1\n",
    "index too large": f"{HEADER}\nindex 9223372036854775807\n",
    "two spaces": f"{HEADER}\nindex  1\n",
    "extra after index": f"{HEADER}\nindex 1\nextra AA==\n",
    "empty extra": f"{HEADER}\nextra \nindex 1\n",
    "non-canonical base64": f"{HEADER}\nindex 1\n{H[:-2]}F=\n",
    "short hash": f"{HEADER}\nindex 1\n{base64.b64encode(bytes(31)).decode()}\n",
    "empty line": f"{HEADER}\nindex 1\n\n",
    "carriage return": f"{HEADER}\r\nindex 1\r\n",
    "no final newline": f"{HEADER}\nindex 1",
    "hash with space": f"{HEADER}\nindex 1\n {H}\n",
    "too many hashes": f"{HEADER}\nindex 1\n" + f"{H}\n" * 64,
}


@pytest.mark.parametrize("text", BAD_PROOFS.values(), ids=BAD_PROOFS.keys())
def test_malformed_proof_lines_are_refused(text: str) -> None:
    with pytest.raises(MalformedProofError) as caught:
        InclusionProof.from_text(text)
    assert caught.value.code == "E_PROOF_MALFORMED"


def test_a_proof_without_its_empty_line_is_refused() -> None:
    with pytest.raises(MalformedProofError):
        TlogProof.from_text(f"{HEADER}\nindex 0\n")
    with pytest.raises(MalformedProofError):
        TlogProof.from_text(b"\xff\n\n")


@given(
    index=st.integers(0, (1 << 63) - 2),
    hashes=st.lists(st.binary(min_size=32, max_size=32), max_size=63),
    extra=st.none() | st.binary(min_size=1, max_size=64),
)
def test_inclusion_proof_text_round_trips(
    index: int, hashes: list[bytes], extra: bytes | None
) -> None:
    proof = InclusionProof(index, tuple(hashes), extra)
    assert InclusionProof.from_text(proof.to_text()) == proof


# -- tlog-policy ----------------------------------------------------------------------------

LOG = generate_ed25519("log.example/log")
LOG_PQ = generate_mldsa44("log.example/log")
WITNESSES = [generate_cosigner(f"w{n}.example") for n in range(1, 7)]


def _checkpoint(cosigners: list[int]) -> str:
    note = sign_checkpoint(Checkpoint("log.example/log", 5, bytes(32)), [LOG])
    return add_signatures(note, [WITNESSES[n] for n in cosigners]) if cosigners else note


def spec_example() -> str:
    """The example of tlog-policy §Example policy, with keys for its elided ones."""
    w = [key.verifier().to_vkey() for key in WITNESSES]
    return (
        f"log {LOG.verifier().to_vkey()}\n\n"
        f"witness X1 {w[0]}\nwitness X2 {w[1]}\nwitness X3 {w[2]}\n"
        "group X-witnesses 2 X1 X2 X3\n\n"
        f"witness Y1 {w[3]}\nwitness Y2 {w[4]}\nwitness Y3 {w[5]}\n"
        "group Y-witnesses any Y1 Y2 Y3\n\n"
        "group X-and-Y all X-witnesses Y-witnesses\n"
        "quorum X-and-Y\n"
    )


@pytest.mark.parametrize(
    ("cosigners", "ok"),
    [
        ([0, 1, 3], True),
        ([0, 2, 5], True),
        ([0, 1, 2, 3, 4, 5], True),
        ([0, 3], False),  # one X only
        ([0, 1], False),  # no Y
        ([3, 4, 5], False),
        ([], False),
    ],
)
def test_the_spec_example_quorum(cosigners: list[int], ok: bool) -> None:
    policy = Policy.from_text(spec_example())
    note = _checkpoint(cosigners)
    if ok:
        opened = policy.open_checkpoint(note)
        assert opened.checkpoint.size == 5
        names = {"X1", "X2", "X3", "Y1", "Y2", "Y3"}
        assert set(opened.witnesses) <= names and len(opened.witnesses) == len(cosigners)
    else:
        with pytest.raises(WitnessQuorumError) as caught:
            policy.open_checkpoint(note)
        assert caught.value.code == "E_WITNESS_QUORUM"


def test_policy_text_round_trips_and_ignores_comments_and_urls() -> None:
    text = "# trusted\n\t" + spec_example().replace("witness X1 ", "  witness\tX1 ").replace(
        "quorum", "# the quorum\nquorum"
    )
    text = text.replace(
        LOG.verifier().to_vkey(), LOG.verifier().to_vkey() + " https://log.example/"
    )
    policy = Policy.from_text(text)
    assert Policy.from_text(policy.to_text()) == policy
    assert policy.describe_quorum() == "2 of X-witnesses, Y-witnesses"


def test_quorum_none_needs_only_the_log() -> None:
    policy = Policy.from_text(f"log {LOG.verifier().to_vkey()}\nquorum none\n")
    assert policy.open_checkpoint(_checkpoint([])).witnesses == ()


def test_a_single_witness_quorum() -> None:
    w = WITNESSES[0].verifier().to_vkey()
    policy = Policy.from_text(f"log {LOG.verifier().to_vkey()}\nwitness A {w}\nquorum A\n")
    assert policy.open_checkpoint(_checkpoint([0])).witnesses == ("A",)
    with pytest.raises(WitnessQuorumError):
        policy.open_checkpoint(_checkpoint([1]))


def test_either_log_key_opens_the_checkpoint() -> None:
    note = sign_checkpoint(Checkpoint("log.example/log", 5, bytes(32)), [LOG, LOG_PQ])
    for key in (LOG, LOG_PQ):
        Policy.from_keys([key.verifier()]).open_checkpoint(note)


def test_a_witness_key_alone_is_not_the_log() -> None:
    policy = Policy.from_keys([generate_ed25519("log.example/log").verifier()])
    with pytest.raises(UnverifiedNoteError):
        policy.open_checkpoint(_checkpoint([0]))
    # A log key not named after the origin does not vouch for it.
    stranger = generate_ed25519("other.example/log")
    note = sign_checkpoint(Checkpoint("log.example/log", 5, bytes(32)), [stranger])
    with pytest.raises(UnverifiedNoteError):
        Policy.from_keys([stranger.verifier()]).open_checkpoint(note)


def test_a_bad_cosignature_by_a_trusted_witness_fails_the_note() -> None:
    note = _checkpoint([0, 1])
    lines = note.split("\n")
    last = lines[-2]
    lines[-2] = last[:-6] + ("A" if last[-6] != "A" else "B") + last[-5:]
    policy = Policy.from_keys([LOG.verifier()], [w.verifier() for w in WITNESSES[:2]], 1)
    with pytest.raises(SignatureInvalidError):
        policy.open_checkpoint("\n".join(lines))


def test_from_keys_defaults_to_all_witnesses() -> None:
    witnesses = [w.verifier() for w in WITNESSES[:3]]
    policy = Policy.from_keys([LOG.verifier()], witnesses)
    with pytest.raises(WitnessQuorumError) as caught:
        policy.open_checkpoint(_checkpoint([0, 1]))
    assert "3 of w1.example, w2.example, w3.example" in str(caught.value)
    Policy.from_keys([LOG.verifier()], witnesses, 2).open_checkpoint(_checkpoint([0, 1]))
    for k in (0, 4):
        with pytest.raises(MalformedPolicyError):
            Policy.from_keys([LOG.verifier()], witnesses, k)
    with pytest.raises(MalformedPolicyError):
        Policy.from_keys([LOG.verifier()], [], 1)


W1 = WITNESSES[0].verifier().to_vkey()
W2 = WITNESSES[1].verifier().to_vkey()
L1 = LOG.verifier().to_vkey()
BAD_POLICIES = {
    "no quorum": f"log {L1}\n",
    "two quorums": f"log {L1}\nquorum none\nquorum none\n",
    "no log": "quorum none\n",
    "undefined quorum": f"log {L1}\nquorum W\n",
    "quorum before its witness": f"log {L1}\nquorum W\nwitness W {W1}\n",
    "witness named none": f"log {L1}\nwitness none {W1}\nquorum none\n",
    "name twice": f"log {L1}\nwitness A {W1}\nwitness A {W2}\nquorum A\n",
    "group member undefined": f"log {L1}\nwitness A {W1}\ngroup G 1 A B\nquorum G\n",
    "member twice": f"log {L1}\nwitness A {W1}\ngroup G 1 A A\nquorum G\n",
    "threshold zero": f"log {L1}\nwitness A {W1}\ngroup G 0 A\nquorum G\n",
    "threshold too high": f"log {L1}\nwitness A {W1}\ngroup G 2 A\nquorum G\n",
    "threshold not decimal": f"log {L1}\nwitness A {W1}\ngroup G 01 A\nquorum G\n",
    "group without members": f"log {L1}\ngroup G any\nquorum none\n",
    "none as member": f"log {L1}\nwitness A {W1}\ngroup G any A none\nquorum G\n",
    "duplicate log key": f"log {L1}\nlog {L1}\nquorum none\n",
    "duplicate witness key": f"log {L1}\nwitness A {W1}\nwitness B {W1}\nquorum A\n",
    "witness key as log": f"log {W1}\nquorum none\n",
    "log key as witness": f"log {L1}\nwitness A {L1}\nquorum A\n",
    "unknown keyword": f"log {L1}\nwitnesses A {W1}\nquorum none\n",
    "control character": f"log {L1}\r\nquorum none\n",
    "extra item": f"log {L1} https://x/ more\nquorum none\n",
}


@pytest.mark.parametrize("text", BAD_POLICIES.values(), ids=BAD_POLICIES.keys())
def test_malformed_policies_are_refused(text: str) -> None:
    with pytest.raises((MalformedPolicyError, MalformedKeyError)):
        Policy.from_text(text)


def test_policy_names_are_opaque_octets() -> None:
    kelvin = "\u212a".encode()
    text = f"log {L1}\nwitness K {W1}\n".encode() + b"witness " + kelvin + f" {W2}\n".encode()
    policy = Policy.from_text(text + b"group G all K " + kelvin + b"\nquorum G\n")
    assert len(policy.witnesses) == 2
    assert Policy.from_text(policy.to_text().encode("utf-8", "surrogateescape")) == policy
