"""The C2SP tlog-witness protocol: request format, the witness's checks, its state."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from cosignatory.tlog.checkpoint import Checkpoint, sign_checkpoint
from cosignatory.tlog.errors import SignatureInvalidError, UnverifiedNoteError
from cosignatory.tlog.hashing import HASH_SIZE
from cosignatory.tlog.note import (
    Note,
    Signature,
    Signer,
    Verifier,
    generate_cosigner,
    generate_ed25519,
    generate_mldsa44,
    open_note,
)
from cosignatory.tlog.proofs import MemoryTree
from cosignatory.tlog.witness import (
    MAX_PROOF_LINES,
    AddCheckpointRequest,
    MemoryWitnessState,
    SQLiteWitnessState,
    TreeHead,
    Witness,
    WitnessConflictError,
    WitnessError,
    WitnessForbiddenError,
    WitnessProofError,
    WitnessRequestError,
    WitnessState,
    WitnessUnknownLogError,
    format_add_checkpoint_request,
    parse_add_checkpoint_request,
    verified_cosignatures,
)

ORIGIN = "log.example/witnessed"
LOG_KEY = generate_ed25519(ORIGIN)
COSIGNER = generate_cosigner("witness.example/w1")
HONEST = MemoryTree.from_entries(b"entry %d" % i for i in range(40))


def signed(tree: MemoryTree, size: int, signer: Signer = LOG_KEY) -> str:
    return sign_checkpoint(Checkpoint(ORIGIN, size, tree.root(size)), [signer])


def body(old: int, tree: MemoryTree, size: int, proof: list[bytes] | None = None) -> bytes:
    if proof is None:
        proof = tree.consistency_proof(old, size) if 0 < old < size else []
    return format_add_checkpoint_request(old, proof, signed(tree, size))


def new_witness(state: WitnessState | None = None, signers: list[Signer] | None = None) -> Witness:
    return Witness(
        signers or [COSIGNER],
        [LOG_KEY.verifier()],
        state if state is not None else MemoryWitnessState(),
        clock=lambda: 1_700_000_000,
    )


def cosigned_by(note: str, lines: str, witness: Verifier) -> int:
    """Open the checkpoint with the witness's cosignature lines; return their count."""
    return len(open_note(note + lines, [witness]).verifiers)


# -- the request format ----------------------------------------------------------------

# The example request of C2SP tlog-witness §add-checkpoint, transcribed.
SPEC_REQUEST = (
    "old 20852014\n"
    "PlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=\n"
    "jrJZDmY8Y7SyJE0MWLpLozkIVMSMZcD5kvuKxPC3swk=\n"
    "5+pKlUdi2LeF/BcMHBn+Ku6yhPGNCswZZD1X/6QgPd8=\n"
    "/6WVhPs2CwSsb5rYBH5cjHV/wSmA79abXAwhXw3Kj/0=\n"
    "\n"
    "example.com/behind-the-sofa\n"
    "20852163\n"
    "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
    "\n"
    "— example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/"
    "Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n"
    "— example.com/behind-the-sofa opLqBQsREYCgu6xQkYQwJr9fo45a62DN9EdmHXnZdXNqlcVGlCum2Wks+49/"
    "V6267UEjw6QUXTS5Rovnzv++qbSzm9Q=\n"
)


def test_the_specs_example_request_parses_and_formats_back() -> None:
    request = parse_add_checkpoint_request(SPEC_REQUEST.encode())
    assert request.old_size == 20852014
    assert len(request.proof) == 4
    assert Checkpoint.from_text(Note.from_text(request.checkpoint).text).size == 20852163
    again = format_add_checkpoint_request(request.old_size, request.proof, request.checkpoint)
    assert again == SPEC_REQUEST.encode()


@settings(max_examples=200)
@given(
    old=st.integers(0, (1 << 63) - 1),
    proof=st.lists(st.binary(min_size=HASH_SIZE, max_size=HASH_SIZE), max_size=MAX_PROOF_LINES),
    size=st.integers(0, 40),
)
def test_requests_round_trip(old: int, proof: list[bytes], size: int) -> None:
    note = signed(HONEST, size)
    data = format_add_checkpoint_request(old, proof, note)
    assert parse_add_checkpoint_request(data) == AddCheckpointRequest(old, tuple(proof), note)


HASH = "PlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw="


@pytest.mark.parametrize(
    "text",
    [
        "old 1\n" + HASH + "\n",  # no empty line, no checkpoint
        "old 01\n\nx\n",  # leading zero
        "old -1\n\nx\n",
        "old  1\n\nx\n",
        "Old 1\n\nx\n",
        "old 1 \n\nx\n",
        "old 99999999999999999999\n\nx\n",  # beyond 2^63 - 1
        "old 1\nnot base64\n\nx\n",
        "old 1\n" + HASH[:-4] + "\n\nx\n",  # 24 bytes, not a hash
        "old 1\n" + HASH.rstrip("=") + "\n\nx\n",  # unpadded
        "old 1\n" + (HASH + "\n") * (MAX_PROOF_LINES + 1) + "\nx\n",
        "\nold 1\n\nx\n",
    ],
)
def test_malformed_requests_are_refused(text: str) -> None:
    with pytest.raises(WitnessRequestError) as raised:
        parse_add_checkpoint_request(text.encode())
    assert raised.value.status == 400


def test_a_body_that_is_not_utf8_or_too_long_is_refused() -> None:
    with pytest.raises(WitnessRequestError):
        parse_add_checkpoint_request(b"old 0\n\n\xff\n")
    with pytest.raises(WitnessRequestError):
        parse_add_checkpoint_request(b"old 0\n\n" + b"a" * (2 << 20))


def test_a_client_cannot_format_more_than_63_proof_lines() -> None:
    with pytest.raises(WitnessRequestError):
        format_add_checkpoint_request(1, [bytes(32)] * 64, signed(HONEST, 2))


# -- the witness's checks (tlog-witness §add-checkpoint) --------------------------------


def test_a_first_checkpoint_is_cosigned_and_remembered() -> None:
    witness = new_witness()
    note = signed(HONEST, 5)
    lines = witness.add_checkpoint(format_add_checkpoint_request(0, [], note))
    assert lines.startswith("— witness.example/w1 ") and lines.endswith("\n")
    assert cosigned_by(note, lines, COSIGNER.verifier()) == 1
    assert witness.state.latest(ORIGIN) == TreeHead(5, HONEST.root(5))
    # The cosignature is tlog-cosignature/v1: u64 timestamp, then the signature.
    sig = Signature.from_line(lines.rstrip("\n"))
    assert int.from_bytes(sig.signature[:8], "big") == 1_700_000_000


def test_a_consistent_larger_checkpoint_is_cosigned() -> None:
    witness = new_witness()
    witness.add_checkpoint(body(0, HONEST, 5))
    witness.add_checkpoint(body(5, HONEST, 13))
    assert witness.state.latest(ORIGIN) == TreeHead(13, HONEST.root(13))


def test_the_same_checkpoint_again_is_cosigned_again() -> None:
    witness = new_witness()
    witness.add_checkpoint(body(0, HONEST, 5))
    witness.add_checkpoint(body(5, HONEST, 5))
    assert witness.state.latest(ORIGIN) == TreeHead(5, HONEST.root(5))


def test_every_key_of_the_witness_cosigns() -> None:
    mldsa = generate_mldsa44("witness.example/w1-pq")
    witness = new_witness(signers=[COSIGNER, mldsa])
    note = signed(HONEST, 3)
    lines = witness.add_checkpoint(format_add_checkpoint_request(0, [], note))
    assert len(lines.splitlines()) == 2
    assert cosigned_by(note, lines, mldsa.verifier()) == 1
    assert cosigned_by(note, lines, COSIGNER.verifier()) == 1


def refused(witness: Witness, data: bytes, kind: type[WitnessError], status: int) -> WitnessError:
    before = witness.state.latest(ORIGIN)
    with pytest.raises(kind) as raised:
        witness.add_checkpoint(data)
    assert raised.value.status == status
    assert witness.state.latest(ORIGIN) == before  # a refusal changes nothing
    return raised.value


def test_an_unknown_origin_is_404() -> None:
    other = generate_ed25519("other.example/log")
    note = sign_checkpoint(Checkpoint("other.example/log", 1, HONEST.root(1)), [other])
    refused(new_witness(), format_add_checkpoint_request(0, [], note), WitnessUnknownLogError, 404)


def test_a_checkpoint_without_a_trusted_signature_is_403() -> None:
    impostor = generate_ed25519(ORIGIN)  # the right name, another key
    data = format_add_checkpoint_request(0, [], signed(HONEST, 3, impostor))
    refused(new_witness(), data, WitnessForbiddenError, 403)


def test_a_corrupted_signature_from_the_log_key_is_403() -> None:
    note = signed(HONEST, 3)
    sig = Note.from_text(note).signatures[0]
    bad = Signature(sig.name, sig.key_id, bytes(64))
    data = format_add_checkpoint_request(0, [], Note(Note.from_text(note).text, (bad,)).to_text())
    refused(new_witness(), data, WitnessForbiddenError, 403)


def test_a_note_that_is_not_a_checkpoint_is_400() -> None:
    note = "hello\n\n" + Note.from_text(signed(HONEST, 1)).to_text().split("\n\n")[1]
    refused(new_witness(), format_add_checkpoint_request(0, [], note), WitnessRequestError, 400)


def test_an_old_size_beyond_the_checkpoint_is_400() -> None:
    witness = new_witness()
    witness.add_checkpoint(body(0, HONEST, 9))
    refused(witness, body(9, HONEST, 5, proof=[]), WitnessRequestError, 400)


def test_a_wrong_old_size_is_409_with_the_witness_size() -> None:
    witness = new_witness()
    witness.add_checkpoint(body(0, HONEST, 9))
    error = refused(witness, body(4, HONEST, 12), WitnessConflictError, 409)
    assert isinstance(error, WitnessConflictError) and error.known_size == 9
    # A client that does not know the witness's size may ask with old 0.
    error = refused(witness, body(0, HONEST, 12), WitnessConflictError, 409)
    assert isinstance(error, WitnessConflictError) and error.known_size == 9


def test_a_rollback_is_refused() -> None:
    witness = new_witness()
    witness.add_checkpoint(body(0, HONEST, 9))
    refused(witness, body(0, HONEST, 5), WitnessConflictError, 409)  # old 0 != 9
    refused(witness, body(9, HONEST, 5, proof=[]), WitnessRequestError, 400)  # old > size


FORK = MemoryTree.from_entries([b"entry %d" % i for i in range(6)] + [b"forged"] * 34)


def test_a_fork_of_the_same_size_is_409() -> None:
    witness = new_witness()
    witness.add_checkpoint(body(0, HONEST, 9))
    error = refused(witness, body(9, FORK, 9), WitnessConflictError, 409)
    assert isinstance(error, WitnessConflictError) and error.known_size == 9


def test_a_fork_of_a_larger_size_fails_its_proof_422() -> None:
    witness = new_witness()
    witness.add_checkpoint(body(0, HONEST, 9))
    # The fork's own proof from 9 leads to the fork's root at 9, not the witness's.
    refused(witness, body(9, FORK, 20), WitnessProofError, 422)


def test_a_fork_that_shares_the_witness_tree_is_consistent() -> None:
    # The fork agrees with the honest log up to 6 entries: a witness at 5 cannot tell.
    witness = new_witness()
    witness.add_checkpoint(body(0, HONEST, 5))
    witness.add_checkpoint(body(5, FORK, 20))
    refused(witness, body(20, HONEST, 20), WitnessConflictError, 409)


@pytest.mark.parametrize(
    ("old", "size", "proof"),
    [
        (0, 5, [bytes(32)]),  # old 0: the proof MUST be empty
        (5, 5, [bytes(32)]),  # equal sizes: nothing to prove
        (5, 9, [bytes(32)] * 3),  # a wrong proof
        (5, 9, []),  # a missing proof
    ],
)
def test_a_bad_consistency_proof_is_422(old: int, size: int, proof: list[bytes]) -> None:
    witness = new_witness()
    if old:
        witness.add_checkpoint(body(0, HONEST, old))
    refused(witness, body(old, HONEST, size, proof), WitnessProofError, 422)


def test_a_witness_needs_a_cosigning_key() -> None:
    with pytest.raises(ValueError, match="cosigns"):
        new_witness(signers=[generate_ed25519("witness.example/plain")])
    with pytest.raises(ValueError, match="needs"):
        Witness([], [LOG_KEY.verifier()], MemoryWitnessState())


# -- the witness's state never goes back ----------------------------------------------


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_the_witness_accepts_exactly_the_consistent_checkpoints(data: st.DataObject) -> None:
    """Random submissions from a log and a fork of it, with honest or wrong old sizes."""
    split = data.draw(st.integers(0, 30), label="fork point")
    fork = MemoryTree.from_entries(
        [b"entry %d" % i for i in range(split)] + [b"fork %d" % i for i in range(split, 30)]
    )
    trees = (HONEST, fork)
    witness = new_witness()
    for _ in range(data.draw(st.integers(1, 10), label="submissions")):
        tree = trees[data.draw(st.integers(0, 1), label="tree")]
        size = data.draw(st.integers(0, 30), label="size")
        current = witness.state.latest(ORIGIN)
        known = current.size if current else 0
        old = (
            known if data.draw(st.booleans(), label="honest old") else data.draw(st.integers(0, 30))
        )
        proof = tree.consistency_proof(old, size) if 0 < old < size else []

        if old > size:
            expected: type[WitnessError] | None = WitnessRequestError
        elif old != known or (
            current is not None and size == current.size and tree.root(size) != current.root
        ):
            expected = WitnessConflictError
        elif current is not None and tree.root(current.size) != current.root:
            expected = WitnessProofError
        else:
            expected = None

        event(expected.__name__ if expected else "cosigned")
        note = signed(tree, size)
        request = format_add_checkpoint_request(old, proof, note)
        if expected is None:
            lines = witness.add_checkpoint(request)
            assert cosigned_by(note, lines, COSIGNER.verifier()) == 1
            assert witness.state.latest(ORIGIN) == TreeHead(size, tree.root(size))
        else:
            with pytest.raises(expected):
                witness.add_checkpoint(request)
            assert witness.state.latest(ORIGIN) == current
        after = witness.state.latest(ORIGIN)
        assert after is None or after.size >= known  # never decreases


class _RacingState(MemoryWitnessState):
    """Lets another submission win between a request's check and its commit."""

    def __init__(self) -> None:
        super().__init__()
        self.interleave: list[bytes] = []
        self.witness: Witness | None = None

    def advance(self, origin: str, old: TreeHead | None, new: TreeHead) -> None:
        if self.interleave and self.witness is not None:
            self.witness.add_checkpoint(self.interleave.pop())
        super().advance(origin, old, new)


def test_a_submission_that_loses_a_race_cannot_roll_the_witness_back() -> None:
    """tlog-witness's race: A (size N) checked, B (size N+K) committed, then A."""
    state = _RacingState()
    witness = new_witness(state)
    state.witness = witness
    witness.add_checkpoint(body(0, HONEST, 5))
    state.interleave.append(body(5, HONEST, 20))  # B, committed inside A's advance
    with pytest.raises(WitnessConflictError) as raised:
        witness.add_checkpoint(body(5, HONEST, 10))  # A
    assert raised.value.known_size == 20
    assert state.latest(ORIGIN) == TreeHead(20, HONEST.root(20))


# -- the SQLite state -------------------------------------------------------------------


def test_the_sqlite_state_persists_and_swaps_atomically(tmp_path: Path) -> None:
    path = tmp_path / "witness.sqlite3"
    state = SQLiteWitnessState(path)
    head5, head9 = TreeHead(5, HONEST.root(5)), TreeHead(9, HONEST.root(9))
    assert state.latest(ORIGIN) is None
    state.advance(ORIGIN, None, head5)
    with pytest.raises(WitnessConflictError) as raised:
        state.advance(ORIGIN, None, head9)
    assert raised.value.known_size == 5
    state.advance(ORIGIN, head5, head9)
    with pytest.raises(ValueError, match="smaller"):
        state.advance(ORIGIN, head9, head5)
    state.close()

    reopened = SQLiteWitnessState(path)
    assert reopened.latest(ORIGIN) == head9
    reopened.close()
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_concurrent_witnesses_on_one_state_file_never_roll_back(tmp_path: Path) -> None:
    """Threads with separate connections (as separate processes would be) race to submit."""
    path = tmp_path / "witness.sqlite3"
    witnesses = [new_witness(SQLiteWitnessState(path)) for _ in range(4)]
    sizes = list(range(1, 41))
    seen: list[int] = []
    errors: list[BaseException] = []
    start = threading.Barrier(len(witnesses))

    def work(w: Witness, mine: list[int]) -> None:
        try:
            start.wait()
            for size in mine:
                current = w.state.latest(ORIGIN)
                old = current.size if current else 0
                if old > size:
                    continue
                try:
                    w.add_checkpoint(body(old, HONEST, size))
                except WitnessConflictError:
                    continue
                after = w.state.latest(ORIGIN)
                assert after is not None
                seen.append(after.size)
        except BaseException as error:
            errors.append(error)

    threads = [
        threading.Thread(target=work, args=(w, sizes[i::4])) for i, w in enumerate(witnesses)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    final = witnesses[0].state.latest(ORIGIN)
    assert final is not None and final.size == max(seen)
    assert final.root == HONEST.root(final.size)
    for w in witnesses:
        assert isinstance(w.state, SQLiteWitnessState)
        w.state.close()


# -- checking a witness's answer (the client side) -------------------------------------


def test_verified_cosignatures_keeps_the_witness_lines_and_ignores_others() -> None:
    note = signed(HONEST, 4)
    other = generate_cosigner("witness.example/other")
    lines = new_witness(signers=[other, COSIGNER]).add_checkpoint(
        format_add_checkpoint_request(0, [], note)
    )
    found = verified_cosignatures(note, lines.splitlines(), COSIGNER.verifier())
    assert [line for line, _ in found] == [lines.splitlines()[1]]
    assert found[0][1] == 1_700_000_000


def test_verified_cosignatures_raises_on_a_forged_or_missing_line() -> None:
    note = signed(HONEST, 4)
    lines = new_witness().add_checkpoint(format_add_checkpoint_request(0, [], note))
    # The same cosignature does not verify on another checkpoint.
    with pytest.raises(SignatureInvalidError):
        verified_cosignatures(signed(HONEST, 5), lines.splitlines(), COSIGNER.verifier())
    with pytest.raises(UnverifiedNoteError):
        verified_cosignatures(note, lines.splitlines(), generate_cosigner("w2").verifier())
    with pytest.raises(ValueError, match="cosign"):
        verified_cosignatures(note, lines.splitlines(), LOG_KEY.verifier())
