"""C2SP tlog-checkpoint: parsing, round-trips, the Tessera log, and dual-key signing."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cosignatory.tlog.checkpoint import MAX_SIZE, Checkpoint, open_checkpoint, sign_checkpoint
from cosignatory.tlog.errors import (
    MalformedCheckpointError,
    MalformedNoteError,
    SignatureInvalidError,
    UnverifiedNoteError,
)
from cosignatory.tlog.note import (
    KeyType,
    Note,
    Signer,
    Verifier,
    generate_ed25519,
    open_note,
    sign_note,
)

VECTORS = Path(__file__).resolve().parents[1] / "vectors"
C2SP = json.loads((VECTORS / "c2sp-examples" / "spec_examples.json").read_bytes())
TESSERA_LOG = VECTORS / "tessera-testdata-log" / "log"
TESSERA_ORIGIN = "example.com/log/testdata"
# Test-only keys published in transparency-dev/tessera testdata/build_log.sh.
TESSERA_VKEY = "example.com/log/testdata+33d7b496+AeHTu4Q3hEIMHNqc6fASMsq3rKNx280NI+oO5xCFkkSx"
TESSERA_SKEY = (
    "PRIVATE+KEY+example.com/log/testdata+33d7b496+AeymY/SZAX0jZcJ8enZ5FY1Dz+wTML2yWSkK+9DSF3eg"
)
ROOT = bytes(range(32))
ROOT_B64 = base64.b64encode(ROOT).decode()

_CONTROLS = "".join(chr(c) for c in range(0x20))
lines = st.text(st.characters(codec="utf-8", exclude_characters=_CONTROLS), min_size=1)
checkpoints = st.builds(
    Checkpoint,
    origin=lines,
    size=st.integers(0, MAX_SIZE),
    root=st.binary(min_size=32, max_size=32),
    extensions=st.lists(lines, max_size=4).map(tuple),
)


@pytest.fixture(scope="module")
def tessera_signer() -> Signer:
    return Signer.from_skey(TESSERA_SKEY)


@pytest.fixture(scope="module")
def mldsa_signer() -> Signer:
    return Signer(TESSERA_ORIGIN, KeyType.MLDSA44, bytes(range(32)))


def test_c2sp_checkpoint_example_parses() -> None:
    note = Note.from_text(C2SP["checkpoint_example_no_key_published"])
    cp = Checkpoint.from_text(note.text)
    assert cp.origin == "example.com/behind-the-sofa"
    assert cp.size == 20852163
    assert cp.root == base64.b64decode("CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=")
    assert cp.extensions == ()
    assert cp.to_text() == note.text


@given(cp=checkpoints)
def test_checkpoint_round_trips(cp: Checkpoint) -> None:
    text = cp.to_text()
    assert Checkpoint.from_text(text) == cp
    assert Checkpoint.from_text(text).to_text() == text


@given(text=st.text())
def test_arbitrary_text_parses_or_raises_malformed(text: str) -> None:
    try:
        cp = Checkpoint.from_text(text)
    except MalformedCheckpointError:
        return
    assert cp.to_text() == text


def test_extensions_are_kept() -> None:
    text = f"o\n1\n{ROOT_B64}\nfirst ext\nsecond ext\n"
    cp = Checkpoint.from_text(text)
    assert cp.extensions == ("first ext", "second ext")
    assert cp.to_text() == text


@pytest.mark.parametrize(
    "body",
    [
        "",
        "\n",
        "o\n",
        "o\n1\n",  # no root line
        f"o\n1\n{ROOT_B64}",  # no final newline
        f"\n1\n{ROOT_B64}\n",  # empty origin
        f"o\n\n{ROOT_B64}\n",  # empty size
        f"o\n01\n{ROOT_B64}\n",  # leading zero
        f"o\n00\n{ROOT_B64}\n",
        f"o\n+1\n{ROOT_B64}\n",
        f"o\n-1\n{ROOT_B64}\n",
        f"o\n1a\n{ROOT_B64}\n",
        f"o\n0x1\n{ROOT_B64}\n",
        f"o\n 1\n{ROOT_B64}\n",
        f"o\n1 \n{ROOT_B64}\n",
        f"o\n1_000\n{ROOT_B64}\n",
        f"o\n\u0661\n{ROOT_B64}\n",  # Arabic-Indic digit one
        f"o\n{MAX_SIZE + 1}\n{ROOT_B64}\n",
        f"o\n{'9' * 20}\n{ROOT_B64}\n",
        "o\n1\n\n",  # empty root
        "o\n1\nnot base64!\n",
        f"o\n1\n{ROOT_B64.rstrip('=')}\n",  # missing padding
        f"o\n1\n{ROOT_B64[:-2]}9=\n",  # non-zero trailing bits
        f"o\n1\n{base64.b64encode(ROOT[:31]).decode()}\n",  # 31 bytes
        f"o\n1\n{base64.b64encode(ROOT + b'!').decode()}\n",  # 33 bytes
        f"o\n1\n{ROOT_B64}\n\n",  # empty extension line
        f"o\n1\n{ROOT_B64}\next\n\n",
        f"o\n1\n{ROOT_B64}\n\next\n",
        f"o\x01\n1\n{ROOT_B64}\n",  # control character
        f"o\r\n1\n{ROOT_B64}\n",
        f"o\n1\n{ROOT_B64}\ne\txt\n",
        f"o\ud800\n1\n{ROOT_B64}\n",  # not UTF-8
    ],
)
def test_malformed_checkpoints_are_rejected(body: str) -> None:
    with pytest.raises(MalformedCheckpointError):
        Checkpoint.from_text(body)


@pytest.mark.parametrize(
    ("origin", "size", "root", "extensions"),
    [
        ("", 0, ROOT, ()),
        ("a\nb", 0, ROOT, ()),
        ("o", -1, ROOT, ()),
        ("o", MAX_SIZE + 1, ROOT, ()),
        ("o", True, ROOT, ()),
        ("o", 0, ROOT[:31], ()),
        ("o", 0, ROOT + b"\x00", ()),
        ("o", 0, ROOT, ("",)),
        ("o", 0, ROOT, ("a\nb",)),
    ],
)
def test_invalid_checkpoint_values_are_rejected(
    origin: str, size: int, root: bytes, extensions: tuple[str, ...]
) -> None:
    with pytest.raises(MalformedCheckpointError):
        Checkpoint(origin, size, root, extensions)


def test_origin_is_not_held_to_key_name_rules() -> None:
    # tlog-checkpoint §Note text: clients MUST NOT assume the origin follows the format.
    cp = Checkpoint.from_text(f"a log with spaces+plus\n0\n{ROOT_B64}\n")
    assert cp.origin == "a log with spaces+plus"


# --- the Tessera test log -----------------------------------------------------------------


@pytest.mark.parametrize("size", range(16))
def test_tessera_checkpoints_open_with_stored_sizes_and_roots(
    size: int, tessera_signer: Signer
) -> None:
    stored = (TESSERA_LOG / f"checkpoint.{size}").read_bytes().decode("utf-8")
    origin, size_line, root_line = stored.split("\n")[:3]
    cp = open_checkpoint(stored, [Verifier.from_vkey(TESSERA_VKEY)], origin=TESSERA_ORIGIN)
    assert cp == Checkpoint(TESSERA_ORIGIN, size, base64.b64decode(root_line))
    assert (origin, size_line) == (TESSERA_ORIGIN, str(size))
    assert sign_checkpoint(cp, [tessera_signer]) == stored


def test_tessera_latest_checkpoint_is_size_15_and_empty_root_is_sha256_of_nothing() -> None:
    verifier = Verifier.from_vkey(TESSERA_VKEY)
    latest = open_checkpoint((TESSERA_LOG / "checkpoint").read_bytes(), [verifier])
    assert latest.size == 15
    assert latest == open_checkpoint((TESSERA_LOG / "checkpoint.15").read_bytes(), [verifier])
    empty = open_checkpoint((TESSERA_LOG / "checkpoint.0").read_bytes(), [verifier])
    assert empty.root == hashlib.sha256(b"").digest()
    assert base64.b64encode(empty.root).decode() == C2SP["empty_tree_root_b64"]


# --- signing and opening ------------------------------------------------------------------


def test_dual_signed_checkpoint_opens_with_either_key_alone(
    tessera_signer: Signer, mldsa_signer: Signer
) -> None:
    cp = Checkpoint(TESSERA_ORIGIN, 7, ROOT, ("ext",))
    signed = sign_checkpoint(cp, [tessera_signer, mldsa_signer])
    ed, pq = tessera_signer.verifier(), mldsa_signer.verifier()
    assert open_checkpoint(signed, [ed], origin=TESSERA_ORIGIN) == cp
    assert open_checkpoint(signed, [pq], origin=TESSERA_ORIGIN) == cp
    assert open_checkpoint(signed, [pq, ed]) == cp
    assert open_note(signed, [pq, ed]).verifiers == (ed, pq)
    # The Ed25519 signature is the one Tessera's own key would have made.
    assert (
        Note.from_text(signed).signatures[0]
        == Note.from_text(sign_checkpoint(cp, [tessera_signer])).signatures[0]
    )


@given(cp=checkpoints.filter(lambda cp: len(cp.origin.encode("utf-8")) <= 255))
@settings(max_examples=50)
def test_any_dual_signed_checkpoint_opens_with_either_key_alone(
    cp: Checkpoint, tessera_signer: Signer, mldsa_signer: Signer
) -> None:
    signed = sign_checkpoint(cp, [tessera_signer, mldsa_signer])
    for verifier in (tessera_signer.verifier(), mldsa_signer.verifier()):
        opened = open_note(signed, [verifier])
        assert opened.verifiers == (verifier,)
        assert Checkpoint.from_text(opened.text) == cp


def test_mldsa44_cannot_cosign_an_origin_longer_than_255_bytes(
    tessera_signer: Signer, mldsa_signer: Signer
) -> None:
    # tlog-cosignature: log_origin is opaque<1..2^8-1>; Ed25519 has no such limit.
    ed, pq = tessera_signer.verifier(), mldsa_signer.verifier()
    cp = Checkpoint("é" * 128, 1, ROOT)  # 256 bytes
    assert open_note(sign_checkpoint(cp, [tessera_signer]), [ed]).verifiers == (ed,)
    with pytest.raises(MalformedNoteError):
        sign_checkpoint(cp, [mldsa_signer])
    longest = Checkpoint("é" * 127 + "e", 1, ROOT)  # 255 bytes
    assert open_note(sign_checkpoint(longest, [mldsa_signer]), [pq]).verifiers == (pq,)


def test_wrong_origin_is_rejected(tessera_signer: Signer) -> None:
    signed = sign_checkpoint(Checkpoint(TESSERA_ORIGIN, 1, ROOT), [tessera_signer])
    with pytest.raises(UnverifiedNoteError):
        open_checkpoint(signed, [tessera_signer.verifier()], origin="example.com/other")


def test_key_not_named_as_origin_cannot_vouch_for_it() -> None:
    other_log = generate_ed25519("example.com/other-log")
    signed = sign_checkpoint(Checkpoint(TESSERA_ORIGIN, 1, ROOT), [other_log])
    with pytest.raises(UnverifiedNoteError):
        open_checkpoint(signed, [other_log.verifier()])


def test_checkpoint_signed_by_unknown_key_is_unverified(tessera_signer: Signer) -> None:
    signed = sign_checkpoint(Checkpoint(TESSERA_ORIGIN, 1, ROOT), [tessera_signer])
    with pytest.raises(UnverifiedNoteError):
        open_checkpoint(signed, [generate_ed25519(TESSERA_ORIGIN).verifier()])


def test_tampered_checkpoint_is_rejected(tessera_signer: Signer, mldsa_signer: Signer) -> None:
    signed = sign_checkpoint(Checkpoint(TESSERA_ORIGIN, 1, ROOT), [tessera_signer])
    tampered = signed.replace(f"\n1\n{ROOT_B64}", f"\n2\n{ROOT_B64}")
    with pytest.raises(SignatureInvalidError):
        open_checkpoint(tampered, [tessera_signer.verifier()])
    signed = sign_checkpoint(Checkpoint(TESSERA_ORIGIN, 1, ROOT), [mldsa_signer])
    tampered = signed.replace(f"\n1\n{ROOT_B64}", f"\n2\n{ROOT_B64}")
    with pytest.raises(SignatureInvalidError):
        open_checkpoint(tampered, [mldsa_signer.verifier()])


def test_signed_note_that_is_not_a_checkpoint_is_rejected(tessera_signer: Signer) -> None:
    signed = sign_note(f"{TESSERA_ORIGIN}\nnot a size\n", [tessera_signer])
    with pytest.raises(MalformedCheckpointError):
        open_checkpoint(signed, [tessera_signer.verifier()])


def test_malformed_checkpoint_note_is_rejected(tessera_signer: Signer) -> None:
    signed = sign_checkpoint(Checkpoint(TESSERA_ORIGIN, 1, ROOT), [tessera_signer])
    with pytest.raises(MalformedNoteError):
        open_checkpoint(signed.rstrip("\n"), [tessera_signer.verifier()])


def test_sign_checkpoint_needs_a_signer() -> None:
    with pytest.raises(MalformedNoteError):
        sign_checkpoint(Checkpoint(TESSERA_ORIGIN, 1, ROOT), [])
