"""Bundles written and verified without Django: a register built event by event
(:class:`tests.core.conftest.World`), logged in memory, bundled and checked.

The export from the database and the ``cosignatory verify`` command are tested in
``tests/cli/test_verify*.py``.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import tracemalloc
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from cosignatory.core import verify as verifier
from cosignatory.core.bundle import (
    BundleWriter,
    Digest,
    Manifest,
    read_lines,
)
from cosignatory.core.events import Event
from cosignatory.core.verify import (
    VerifiedBundle,
    check_consistency,
    consistency_sizes,
    open_older_checkpoint,
    verify_bundle,
)
from cosignatory.errors import CosignatoryError
from cosignatory.tlog.checkpoint import Checkpoint, sign_checkpoint
from cosignatory.tlog.hashing import leaf_hash
from cosignatory.tlog.log import Log
from cosignatory.tlog.note import (
    Note,
    add_signatures,
    generate_cosigner,
    generate_ed25519,
    generate_mldsa44,
)
from cosignatory.tlog.policy import Policy
from cosignatory.tlog.storage import MemoryStorage
from tests.core.conftest import INSTRUMENT, World, build_world

ORIGIN = "test.example/log"
LOG_ED25519 = generate_ed25519(ORIGIN)
LOG_MLDSA = generate_mldsa44(ORIGIN)
BOTH_KEYS = Policy.from_keys([LOG_ED25519.verifier(), LOG_MLDSA.verifier()])
ED25519_ONLY = Policy.from_keys([LOG_ED25519.verifier()])


# -- building registers, logs and bundles ------------------------------------------------


def letter_of(event: Event, world: World | None = None) -> str | None:
    if event.type == "letter.created":
        return str(event.data["id"])
    if event.type.startswith("dispute.") and world is not None:
        return world.register.disputes[event.data["id"]].letter
    letter = event.data.get("letter")
    return None if letter is None else str(letter)


def register_symbol(world: World, letter: str) -> None:
    number = world.register.sessions["hrc41"].counters.get("G", 0) + 1
    world.step(
        "letter.registered",
        letter,
        session="hrc41",
        series="G",
        number=number,
        symbol=f"A/HRC/41/G/{number}",
    )


def scenario() -> World:
    """L1 signed (self-signed and attested), transmitted, an accession, a withdrawal,
    a dispute upheld, registered as A/HRC/41/G/2 after L2 took G/1, an Add."""
    world = build_world()
    world.create_letter("L2", lead="DEU")
    world.add_version(letter="L2")
    world.step("letter.opened")
    fra = world.sign("FRA")
    deu = world.sign("DEU", evidence="attested", id="sig-deu")
    world.step("letter.opened", "L2")
    world.sign("ESP", letter="L2", evidence="attested")
    world.transmit()
    world.step("letter.transmitted", "L2", date="2019-07-12")
    register_symbol(world, "L2")
    world.step("letter.reopened")
    world.sign("ESP", "accede")
    world.withdraw("DEU", deu, evidence="attested")
    world.apply(
        "dispute.filed",
        {
            "id": "dsp-1",
            "signature": fra,
            "party": "FRA",
            "statement": "We did not sign this letter.",
            "evidence": INSTRUMENT,
        },
    )
    world.apply("dispute.resolved", {"id": "dsp-1", "outcome": "upheld", "note": "Misattributed."})
    register_symbol(world, "L1")
    world.step(
        "document.issued", kind="Add", of="A/HRC/41/G/2", number=1, symbol="A/HRC/41/G/2/Add.1"
    )
    return world


def logged(events: Sequence[Event], signers: Sequence[object] = (LOG_ED25519, LOG_MLDSA)) -> Log:
    log = Log(MemoryStorage(), ORIGIN, list(signers))  # type: ignore[arg-type]
    log.initialise()
    log.append_batch([event.to_bytes() for event in events])
    return log


def seal_with(key: Ed25519PrivateKey, key_id: str = "registrar-1") -> object:
    return lambda message: (key_id, key.sign(message))


def bundle_lines(
    world: World,
    log: Log,
    letter: str = "L1",
    indexes: Iterable[int] | None = None,
    note: str | None = None,
    seal: object = None,
) -> Iterator[bytes]:
    """The bundle of ``letter``: by default every event not about another letter."""
    note = note or log.head().checkpoint
    cp = Checkpoint.from_text(Note.from_text(note).text)
    if indexes is None:
        indexes = [
            i for i, event in enumerate(world.applied) if letter_of(event, world) in (None, letter)
        ]
    writer = BundleWriter(letter, note, cp, seal or seal_with(world.registrar))  # type: ignore[arg-type]
    yield writer.header()
    for index in indexes:
        entry = log.entries(index, index + 1)[0]
        yield writer.entry(index, entry, log.prove_inclusion(index, cp.size))
    yield writer.end()


def bundle_bytes(world: World, log: Log, **kwargs: object) -> bytes:
    return b"".join(bundle_lines(world, log, **kwargs))  # type: ignore[arg-type]


def split(data: bytes) -> list[bytes]:
    return data.splitlines(keepends=True)


def verify(data: bytes, policy: Policy = BOTH_KEYS) -> VerifiedBundle:
    return verify_bundle(split(data), policy)


def refused(data: bytes, policy: Policy = BOTH_KEYS) -> CosignatoryError:
    with pytest.raises(CosignatoryError) as caught:
        verify(data, policy)
    message = str(caught.value)
    assert message and "\n" not in message
    return caught.value


@pytest.fixture(scope="module")
def built() -> tuple[World, Log, bytes]:
    world = scenario()
    log = logged(world.applied)
    return world, log, bundle_bytes(world, log)


# -- what a bundle proves ------------------------------------------------------------------


def test_a_bundle_verifies_and_gives_the_letter_as_the_rules_see_it(
    built: tuple[World, Log, bytes],
) -> None:
    world, log, data = built
    result = verify(data)
    letter = world.letter("L1")
    assert result.letter == "L1"
    assert result.checkpoint == log.checkpoint()
    assert result.register.letters["L1"] == letter
    assert result.texts == {
        1: world.applied[[e.type for e in world.applied].index("letter.text_version_added")].data[
            "texts"
        ]
    }
    rows = {row.party: row for row in result.signatories()}
    assert rows["FRA"].voided and not rows["FRA"].active
    assert rows["DEU"].withdrawn_at is not None
    assert rows["ESP"].action == "accede" and rows["ESP"].active
    assert rows["FRA"].log_index == letter.signatures[rows["FRA"].signature].log_index
    document = result.to_json()
    assert document["symbol"] == "A/HRC/41/G/2"
    assert document["count"] == 3 and document["active"] == 1
    json.dumps(document)


def test_the_other_letter_has_its_own_bundle(built: tuple[World, Log, bytes]) -> None:
    world, log, _ = built
    result = verify(bundle_bytes(world, log, letter="L2"))
    assert [row.party for row in result.signatories()] == ["ESP"]
    assert result.register.letters["L2"].symbol == "A/HRC/41/G/1"


def test_the_end_line_seals_the_list_of_entries(built: tuple[World, Log, bytes]) -> None:
    world, log, data = built
    lines = split(data)
    end = json.loads(lines[-1])
    digest = Digest()
    for line in lines[1:-1]:
        value = json.loads(line)
        digest.add(value["index"], leaf_hash(base64.b64decode(value["entry"])))
    assert end["digest"] == digest.hexdigest() and end["entries"] == len(lines) - 2
    manifest = Manifest("L1", log.checkpoint(), end["entries"], end["digest"])
    world.registrar.public_key().verify(
        base64.b64decode(end["seal"]["sig"]), manifest.signed_bytes()
    )


def test_each_entry_line_and_the_checkpoint_make_a_tlog_proof(
    built: tuple[World, Log, bytes],
) -> None:
    from cosignatory.tlog.proof_format import TlogProof

    _, log, data = built
    lines = split(data)
    note = json.loads(lines[0])["checkpoint"]
    for line in lines[1:-1]:
        value = json.loads(line)
        proof = TlogProof.from_text(value["proof"] + "\n" + note)
        proof.verify(leaf_hash(base64.b64decode(value["entry"])), log.verifiers)


# -- what matters: every change to it is refused, named in one line -------------------------


def _entry(line: bytes) -> bytes:
    return base64.b64decode(json.loads(line)["entry"])


def _edit(data: bytes, number: int, change: object) -> bytes:
    lines = split(data)
    value = json.loads(lines[number])
    change(value)  # type: ignore[operator]
    lines[number] = (json.dumps(value, ensure_ascii=False, separators=(",", ":")) + "\n").encode()
    return b"".join(lines)


def _flip_b64(text: str, byte: int = 0) -> str:
    raw = bytearray(base64.b64decode(text))
    raw[byte % len(raw)] ^= 0x01
    return base64.b64encode(bytes(raw)).decode()


def test_every_entrys_bytes_are_proven(built: tuple[World, Log, bytes]) -> None:
    _, _, data = built
    for number in range(1, len(split(data)) - 1):
        index = json.loads(split(data)[number])["index"]
        for byte in (0, 17, -1):

            def change(value: dict[str, object], byte: int = byte) -> None:
                value["entry"] = _flip_b64(str(value["entry"]), byte)

            error = refused(_edit(data, number, change))
            assert error.code == "E_PROOF_INVALID"
            assert f"line {number + 1}, entry {index}" in str(error)


def test_every_proof_hash_matters(built: tuple[World, Log, bytes]) -> None:
    _, _, data = built
    for number in range(1, len(split(data)) - 1):
        value = json.loads(split(data)[number])
        hashes = value["proof"].splitlines()[2:]
        for position in range(len(hashes)):

            def change(value: dict[str, object], position: int = position) -> None:
                lines = str(value["proof"]).splitlines()
                lines[2 + position] = _flip_b64(lines[2 + position])
                value["proof"] = "\n".join(lines) + "\n"

            assert refused(_edit(data, number, change)).code == "E_PROOF_INVALID"


def _note_edit(data: bytes, old: str, new: str) -> bytes:
    def change(value: dict[str, object]) -> None:
        text = str(value["checkpoint"])
        assert old in text
        value["checkpoint"] = text.replace(old, new, 1)

    return _edit(data, 0, change)


def test_the_checkpoints_size_root_and_signatures_matter(built: tuple[World, Log, bytes]) -> None:
    _, log, data = built
    cp = log.checkpoint()
    root = base64.b64encode(cp.root).decode()
    bigger = _note_edit(data, f"\n{cp.size}\n", f"\n{cp.size + 1}\n")
    assert refused(bigger).code == "E_SIG_INVALID"
    assert refused(_note_edit(data, root, _flip_b64(root))).code == "E_SIG_INVALID"
    assert refused(_note_edit(data, ORIGIN + "\n", "other.example/log\n")).code in (
        "E_SIG_INVALID",
        "E_NOTE_UNVERIFIED",
    )
    note = Note.from_text(log.head().checkpoint)
    for signature in note.signatures:
        line = signature.to_line()
        raw = base64.b64decode(line.split(" ")[-1])
        flipped = raw[:4] + bytes([raw[4] ^ 1]) + raw[5:]
        changed = line.rsplit(" ", 1)[0] + " " + base64.b64encode(flipped).decode()
        error = refused(_note_edit(data, line, changed))
        assert error.code == "E_SIG_INVALID"
        assert str(error).startswith("line 1: the checkpoint:")


def test_the_log_key_must_be_trusted(built: tuple[World, Log, bytes]) -> None:
    _, _, data = built
    stranger = Policy.from_keys([generate_ed25519(ORIGIN).verifier()])
    assert refused(data, stranger).code == "E_NOTE_UNVERIFIED"


@pytest.mark.parametrize("letter", ["L2", "L3"])
def test_the_header_letter_matters(built: tuple[World, Log, bytes], letter: str) -> None:
    _, _, data = built
    error = refused(_edit(data, 0, lambda value: value.update(letter=letter)))
    assert error.code == "E_BUNDLE_LETTER"


def test_reordered_repeated_dropped_and_added_lines(built: tuple[World, Log, bytes]) -> None:
    world, log, data = built
    lines = split(data)
    # Lines 4 and 5 hold two independent events (FRA's and its representative's
    # registrations); swapped, the second comes out of order.
    swapped = [*lines[:4], lines[5], lines[4], *lines[6:]]
    assert refused(b"".join(swapped)).code == "E_BUNDLE_ORDER"
    # Swapped otherwise, the rules may object first: either way it is refused.
    for number in range(1, len(lines) - 2):
        moved = [*lines[:number], lines[number + 1], lines[number], *lines[number + 2 :]]
        assert refused(b"".join(moved)).code.startswith("E_")
    repeated = [*lines[:5], lines[4], *lines[5:]]
    assert refused(b"".join(repeated)).code == "E_BUNDLE_ORDER"
    # A dropped entry: the rules may notice first; otherwise the end line does.
    for number in range(1, len(lines) - 1):
        assert refused(b"".join(lines[:number] + lines[number + 1 :])).code.startswith("E_")
    # ESP's accession: nothing after it relies on it, so only the end line notices.
    accession = next(n for n, line in enumerate(lines[1:-1], 1) if b'"accede"' in _entry(line))
    dropped = lines[:accession] + lines[accession + 1 :]
    error = refused(b"".join(dropped))
    assert error.code == "E_BUNDLE_INCOMPLETE" and "counts" in str(error)
    # Also fixing the count and the digest leaves the registrar's seal to notice.
    selection = [json.loads(line)["index"] for line in lines[1:-1]]
    without = [i for i in selection if i != selection[-1]]
    stranger = seal_with(Ed25519PrivateKey.generate())
    forged = bundle_bytes(world, log, indexes=without, seal=stranger)
    assert refused(forged).code == "E_BUNDLE_SEAL"
    # An event of another letter, proven and sealed, is still not this letter's.
    other = next(i for i, e in enumerate(world.applied) if letter_of(e) == "L2")
    added = bundle_bytes(world, log, indexes=sorted([*selection, other]))
    assert refused(added).code == "E_BUNDLE_LETTER"


def test_a_seal_by_an_unknown_or_revoked_key_is_refused(built: tuple[World, Log, bytes]) -> None:
    world, log, _ = built
    unknown = bundle_bytes(world, log, seal=seal_with(world.registrar, "registrar-9"))
    assert refused(unknown).code == "E_BUNDLE_SEAL"
    revoked = scenario()
    revoked.apply(
        "registrar.key_added",
        {
            "key": "registrar-2",
            "public_key": base64.b64encode(
                Ed25519PrivateKey.from_private_bytes(bytes([2]) * 32)
                .public_key()
                .public_bytes_raw()
            ).decode(),
            "name": "Second key",
        },
    )
    revoked.apply("registrar.key_revoked", {"key": "registrar-1", "reason": "rotated"})
    log2 = logged(revoked.applied)
    error = refused(bundle_bytes(revoked, log2))
    assert error.code == "E_BUNDLE_SEAL" and "revoked" in str(error)


@pytest.mark.parametrize("cut", ["every line", "inside lines"])
def test_a_truncated_bundle_is_refused(built: tuple[World, Log, bytes], cut: str) -> None:
    _, _, data = built
    if cut == "every line":
        ends = [i + 1 for i, byte in enumerate(data) if byte == ord("\n")][:-1]
        for end in [0, *ends]:
            code = refused(data[:end]).code
            assert code == "E_BUNDLE_TRUNCATED", end
    else:
        for end in range(1, len(data) - 1, max(1, len(data) // 97)):
            if data[end - 1] != ord("\n"):
                assert refused(data[:end]).code in ("E_BUNDLE_MALFORMED", "E_BUNDLE_TRUNCATED")
    # The last newline alone carries nothing: without it the bundle is whole.
    verify(data[:-1])


def test_structure_errors_name_their_line(built: tuple[World, Log, bytes]) -> None:
    _, _, data = built
    lines = split(data)
    cases = {
        "E_BUNDLE_MALFORMED": [
            lines[1:],  # no header
            [lines[0], b"\n", *lines[1:]],  # an empty line
            [lines[0], b"[1, 2]\n", *lines[1:]],
            [lines[0], lines[0], *lines[1:]],  # a second header
            [*lines, lines[-1]],  # after the end
            [lines[0], lines[1].replace(b'"index"', b'"Index"'), *lines[2:]],
            [lines[0], lines[1].replace(b"{", b'{"index":0,', 1), *lines[2:]],  # twice
            [lines[0], lines[1].replace(b'"index":', b'"index":0.0,"x":', 1), *lines[2:]],
            [lines[0], lines[1].replace(b"@v1\\n", b"@v1\\nextra AA==\\n", 1), *lines[2:]],
            [lines[0].replace(b"\xe2\x80\x94", b"\xff"), *lines[1:]],  # not UTF-8
        ],
        "E_PROOF_MALFORMED": [
            [lines[0], lines[1].replace(b"@v1\\n", b"@v2\\n", 1), *lines[2:]],
        ],
        "E_BUNDLE_VERSION": [
            [lines[0].replace(b'"version":1', b'"version":2'), *lines[1:]],
            [lines[0].replace(b"cosignatory-bundle", b"cosignatory-bundlf"), *lines[1:]],
        ],
    }
    for code, variants in cases.items():
        for variant in variants:
            error = refused(b"".join(variant))
            assert error.code == code, variant[:2]
            assert str(error).startswith("line "), error
    assert refused(b"").code == "E_BUNDLE_TRUNCATED"


def test_an_entry_beyond_the_checkpoint_is_refused(built: tuple[World, Log, bytes]) -> None:
    world, log, _ = built
    old_note = sign_checkpoint(Checkpoint(ORIGIN, 10, log.root(10)), [LOG_ED25519])
    lines = list(bundle_lines(world, log, indexes=range(10), note=old_note))
    full = split(bundle_bytes(world, log))
    extra = next(line for line in full[1:-1] if json.loads(line)["index"] >= 10)
    error = refused(b"".join([*lines[:-1], extra, lines[-1]]))
    assert error.code == "E_PROOF_RANGE"


def test_harmless_changes_keep_the_same_result(built: tuple[World, Log, bytes]) -> None:
    """JSON formatting, key order, escapes and line endings are not what is proven."""
    _, log, data = built
    expected = verify(data).to_json()
    reformatted = b"".join(
        (
            json.dumps(json.loads(line), indent=1, sort_keys=True, ensure_ascii=True).replace(
                "\n", " "
            )
            + "\r\n"
        ).encode()
        for line in split(data)
    )
    assert verify(reformatted).to_json() == expected
    # A signature by a key the verifier does not know is ignored (signed-note), and an
    # ML-DSA-44 signature the Ed25519-only verifier does not need changes nothing.
    note = Note.from_text(log.head().checkpoint)
    pq = note.signatures[1].to_line()
    changed = pq[:-8] + ("AAAAAAA=" if not pq.endswith("AAAAAAA=") else "BBBBBBB=")
    tampered = _note_edit(data, pq, changed)
    assert verify(tampered, ED25519_ONLY).to_json() == expected
    assert refused(tampered, BOTH_KEYS).code in ("E_SIG_INVALID", "E_NOTE_MALFORMED")


def _signature_lines_span(data: bytes) -> range:
    """Byte offsets of the checkpoint's signature lines inside the header line."""
    header = split(data)[0]
    start = header.index(b"\\n\\n\xe2\x80\x94") + 4
    end = header.index(b'"', start)
    return range(start, end)


def test_no_single_byte_change_yields_another_result(built: tuple[World, Log, bytes]) -> None:
    """Change one byte anywhere: the bundle is refused, or (only within a signature
    line's name or key ID, which can make a signature one the verifier ignores) it
    proves exactly what it proved before."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    _, _, data = built
    expected = verify(data).to_json()
    harmless = _signature_lines_span(data)

    @settings(max_examples=400, deadline=None, derandomize=True)
    @given(st.integers(0, len(data) - 2), st.integers(1, 255))
    def one_byte(position: int, delta: int) -> None:
        changed = bytearray(data)
        changed[position] = (changed[position] + delta) % 256
        try:
            result = verify(bytes(changed))
        except CosignatoryError as error:
            failed = error
        else:
            failed = None
        if failed is not None:
            assert failed.code.startswith("E_") and "\n" not in str(failed)
            return
        assert position in harmless, position
        assert result.to_json() == expected

    one_byte()


# -- witnesses -------------------------------------------------------------------------------

WITNESS_KEYS = [generate_cosigner(f"witness{n}.example") for n in range(3)]


@pytest.mark.parametrize(("cosigning", "ok"), [(3, True), (2, True), (1, False), (0, False)])
def test_witness_quorum(built: tuple[World, Log, bytes], cosigning: int, ok: bool) -> None:
    world, log, _ = built
    note = log.head().checkpoint
    if cosigning:
        note = add_signatures(note, WITNESS_KEYS[:cosigning])
    data = bundle_bytes(world, log, note=note)
    policy = Policy.from_keys(
        [LOG_ED25519.verifier()], [w.verifier() for w in WITNESS_KEYS], min_witnesses=2
    )
    if ok:
        result = verify(data, policy)
        assert len(result.witnesses) == cosigning
    else:
        assert refused(data, policy).code == "E_WITNESS_QUORUM"
    # Without a witness policy the cosignatures are ignored.
    verify(data, ED25519_ONLY)


def test_a_forged_cosignature_fails(built: tuple[World, Log, bytes]) -> None:
    world, log, _ = built
    note = add_signatures(log.head().checkpoint, WITNESS_KEYS[:2])
    impostor = generate_cosigner("witness1.example")
    forged = Note.from_text(note)
    line = forged.signatures[-1].to_line()
    fake = Note.from_text(add_signatures(log.head().checkpoint, [impostor])).signatures[-1]
    swapped = (
        line.rsplit(" ", 1)[0]
        + " "
        + base64.b64encode(
            forged.signatures[-1].key_id.to_bytes(4, "big") + fake.signature
        ).decode()
    )
    data = bundle_bytes(world, log, note=note.replace(line, swapped))
    policy = Policy.from_keys(
        [LOG_ED25519.verifier()], [w.verifier() for w in WITNESS_KEYS], min_witnesses=1
    )
    assert refused(data, policy).code == "E_SIG_INVALID"


# -- consistency with an older checkpoint ------------------------------------------------------


def test_consistency_with_an_older_checkpoint(built: tuple[World, Log, bytes]) -> None:
    _, log, data = built
    cp = verify(data).checkpoint
    for size in (1, 7, cp.size - 1, cp.size):
        older_note = sign_checkpoint(Checkpoint(ORIGIN, size, log.root(size)), [LOG_ED25519])
        older = open_older_checkpoint(older_note, cp, BOTH_KEYS.logs)
        sizes = consistency_sizes(older, cp)
        proof = None if sizes is None else log.prove_consistency(*sizes)
        check_consistency(older, cp, proof)
    empty = sign_checkpoint(Checkpoint(ORIGIN, 0, log.root(0)), [LOG_ED25519])
    check_consistency(open_older_checkpoint(empty, cp, BOTH_KEYS.logs), cp, None)


def test_a_fork_is_not_consistent(built: tuple[World, Log, bytes]) -> None:
    world, log, data = built
    cp = verify(data).checkpoint
    # The same log keys, another history: the first events differ.
    forked_events = [
        *world.applied[:5],
        world.event(
            "party.registered", {"id": "XYZ", "kind": "organisation", "names": {"en": "Fork"}}
        ),
    ]
    fork = logged(forked_events)
    older_note = fork.head().checkpoint
    older = open_older_checkpoint(older_note, cp, BOTH_KEYS.logs)
    proof = log.prove_consistency(older.size, cp.size)
    with pytest.raises(CosignatoryError) as caught:
        check_consistency(older, cp, proof)
    assert caught.value.code == "E_CONSISTENCY"
    # One size, two roots.
    same_size = sign_checkpoint(Checkpoint(ORIGIN, cp.size, bytes(32)), [LOG_ED25519])
    with pytest.raises(CosignatoryError) as caught:
        check_consistency(open_older_checkpoint(same_size, cp, BOTH_KEYS.logs), cp, [])
    assert caught.value.code == "E_CONSISTENCY"
    # A proof is needed between different sizes.
    smaller = sign_checkpoint(Checkpoint(ORIGIN, 3, log.root(3)), [LOG_ED25519])
    with pytest.raises(CosignatoryError) as caught:
        check_consistency(open_older_checkpoint(smaller, cp, BOTH_KEYS.logs), cp, None)
    assert caught.value.code == "E_CONSISTENCY"
    stranger = sign_checkpoint(Checkpoint(ORIGIN, 3, log.root(3)), [generate_ed25519(ORIGIN)])
    with pytest.raises(CosignatoryError) as caught:
        open_older_checkpoint(stranger, cp, BOTH_KEYS.logs)
    assert caught.value.code == "E_NOTE_UNVERIFIED"


# -- checked ahead in a pool of processes ---------------------------------------------------


def _outcome(data: bytes, workers: int) -> object:
    try:
        return verify_bundle(split(data), BOTH_KEYS, workers=workers).to_json()
    except CosignatoryError as error:
        return (error.code, str(error))


def _forged(world: World, number: int, what: str) -> bytes:
    """The L1 bundle of a log whose ``number``-th event has a bad seal (``what`` is
    "seal") or a bad statement signature, sealed anew ("statement"): its proof is sound."""
    events = list(world.applied)
    event = events[number]
    if what == "seal":
        events[number] = event.sealed(event.registrar_key, world.registrar.sign(b"other"))
    else:
        data = json.loads(json.dumps(dict(event.data)))
        data["evidence"]["signature"] = base64.b64encode(bytes(64)).decode()
        events[number] = world.seal(Event(event.type, event.at, data))
    log = logged(events)
    return bundle_bytes(world, log)


def test_the_pool_finds_what_this_process_finds(
    built: tuple[World, Log, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Checked ahead by two processes, a line or two a task (each key then reaches
    the rules from another task than the lines that use it) or all in one task, a
    bundle gives the same result, and a forged seal or statement signature the same
    error at the same line, as in this process alone: a check the pool did not make,
    or made with another key, is made by the rules."""
    world, _, data = built
    monkeypatch.setattr(verifier, "CHUNK_LINES", 1)
    assert _outcome(data, 2) == _outcome(data, 1) == verify(data).to_json()
    in_bundle = {
        i for i, event in enumerate(world.applied) if letter_of(event, world) in (None, "L1")
    }
    statements = [
        i
        for i in sorted(in_bundle)
        if world.applied[i].data.get("evidence", {}).get("kind") == "self-signed"
    ]
    cases = [(i, "seal") for i in sorted(in_bundle)[::3]] + [(i, "statement") for i in statements]
    assert statements and len(cases) > 10
    for number, what in cases:
        forged = _forged(world, number, what)
        for chunk in (1, 2, 1000):
            monkeypatch.setattr(verifier, "CHUNK_LINES", chunk)
            pooled = _outcome(forged, 2)
            assert pooled == _outcome(forged, 1), (number, what, chunk)
            assert isinstance(pooled, tuple) and pooled[0] == "E_SIG_INVALID", pooled


# -- streaming -----------------------------------------------------------------------------------


def _persons_bundle(path: Path, persons: int) -> Path:
    """The L1 bundle of ``persons`` persons verified by email, each with a party."""
    world = build_world()
    world.step("letter.opened")
    for n in range(persons):
        party = f"P{n:05d}"
        world.apply("party.registered", {"id": party, "kind": "person", "names": {"en": party}})
        world.sign(party, evidence="email-verified", id=f"sig-{n}")
    log = logged(world.applied)
    with open(path, "wb") as handle:
        for line in bundle_lines(world, log):
            handle.write(line)
    return path


@pytest.mark.slow
@pytest.mark.parametrize("workers", [1, 2])
def test_verification_streams_in_memory_bounded_by_the_register(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workers: int
) -> None:
    """1,000 signatures (a 2.3 MB bundle): beyond the register's own state, the
    verifier holds the lines it has handed to the pool and not yet replayed (a few
    chunks, 16 lines each here): well under the bundle's size. A million is measured by
    the benchmarks; tracemalloc slows this test sixfold."""
    monkeypatch.setattr(verifier, "CHUNK_LINES", 16)
    path = _persons_bundle(tmp_path / "big.jsonl", 1_000)
    size = path.stat().st_size
    assert size > 2_000_000
    tracemalloc.start()
    try:
        with open(path, "rb") as handle:
            result = verify_bundle(read_lines(handle), ED25519_ONLY, workers=workers)
        held, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(result.signatories()) == 1_000
    # The peak exceeds what the result holds by far less than the bundle's size.
    assert peak - held < 1_000_000 < size, (peak, held, size)


@pytest.mark.slow
def test_past_hot_values_the_replays_state_lies_on_disk(tmp_path: Path) -> None:
    """With at most 50 parties and records kept as objects, the Python memory the
    result holds does not grow with the signatures (SQLite's pages are not Python
    objects: they lie in the temporary file and its bounded cache); kept as objects,
    800 more signatures hold about 700 KB more. Either way, the same result."""

    def verified(persons: int, hot: int) -> tuple[int, dict[str, object]]:
        path = _persons_bundle(tmp_path / f"{persons}.jsonl", persons)
        tracemalloc.start()
        try:
            with open(path, "rb") as handle:
                result = verify_bundle(read_lines(handle), ED25519_ONLY, workers=1, hot=hot)
            held, _ = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        return held, result.to_json()

    small, large = verified(400, 50), verified(1_200, 50)
    assert large[0] - small[0] < 100_000, (small[0], large[0])
    assert large[1]["count"] == 1_200
    as_objects = verified(1_200, 10_000)
    assert as_objects[0] - small[0] > 500_000
    assert as_objects[1] == large[1]


def test_a_spilled_replay_gives_the_same_result(built: tuple[World, Log, bytes]) -> None:
    """Parties, signatures and their look-ups written out after every event (hot 0)
    or kept: the same result, and the same refusal of a forged bundle."""
    world, _, data = built

    def outcome(data: bytes, hot: int) -> object:
        try:
            return verify_bundle(split(data), BOTH_KEYS, workers=1, hot=hot).to_json()
        except CosignatoryError as error:
            return (error.code, str(error))

    assert outcome(data, 0) == outcome(data, 1) == verify(data).to_json()
    for number, event in enumerate(world.applied):
        if letter_of(event, world) in (None, "L1") and event.type == "signature.recorded":
            forged = _forged(world, number, "seal")
            assert outcome(forged, 0) == outcome(forged, 10_000)


@pytest.mark.parametrize("workers", [1, 2])
def test_a_bundle_is_read_as_it_comes(
    built: tuple[World, Log, bytes], monkeypatch: pytest.MonkeyPatch, workers: int
) -> None:
    """The verifier fails at the first bad line, having read at most the few chunks
    it checks ahead: an endless stream after it is not read to its end."""
    monkeypatch.setattr(verifier, "CHUNK_LINES", 4)
    _, _, data = built
    lines = split(data)
    consumed = []

    def source() -> Iterator[bytes]:
        for number in itertools.count():
            consumed.append(number)
            yield lines[number] if number < 3 else b"{}\n" if number == 3 else lines[1]

    with pytest.raises(CosignatoryError) as caught:
        verify_bundle(source(), BOTH_KEYS, workers=workers)
    assert str(caught.value) == "line 4 has no field 'entry'"
    ahead = verifier.CHUNK_LINES * (verifier.AHEAD * workers + 2)
    assert 4 <= len(consumed) <= 4 + ahead
    assert hashlib.sha256(data).digest()  # the original is untouched
