"""C2SP tlog-cosignature ML-DSA-44 (type 0x06) cosignatures, checked against the spec.

The expected bytes here are built by hand from the ``timestamped_signature`` and
``cosigned_message`` structs of tlog-cosignature (§Format, §ML-DSA-44 signed message),
and signatures are checked with ``cryptography`` directly, not through our Verifier.
"""

from __future__ import annotations

import base64
import hashlib
import time
from collections.abc import Callable

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.mldsa import MLDSA44PrivateKey, MLDSA44PublicKey
from hypothesis import given, settings
from hypothesis import strategies as st

from cosignatory.tlog.checkpoint import Checkpoint, open_checkpoint, sign_checkpoint
from cosignatory.tlog.cosignature import MAX_TIMESTAMP, SUBTREE_LABEL, cosigned_message
from cosignatory.tlog.errors import (
    MalformedCheckpointError,
    MalformedNoteError,
    SignatureInvalidError,
)
from cosignatory.tlog.note import (
    KeyType,
    Note,
    Signature,
    Signer,
    Verifier,
    add_signatures,
    open_note,
    sign_note,
)

ORIGIN = "example.com/log"
SEED = bytes(range(32))
ROOT = bytes(range(32))
ROOT_B64 = base64.b64encode(ROOT).decode()
CHECKPOINT = f"{ORIGIN}\n5\n{ROOT_B64}\n"
SIG_LEN = 8 + 2420  # timestamped_signature: u64 timestamp || ML-DSA-44 signature
# tlog-cosignature's example checkpoint and cosignature time, with a made-up cosigner.
SOFA_ORIGIN = "example.com/behind-the-sofa"
SOFA_SIZE = 20852163
SOFA_ROOT = base64.b64decode("CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=")
SOFA_TIME = 1679315147


@pytest.fixture(scope="module")
def pq() -> Signer:
    return Signer(ORIGIN, KeyType.MLDSA44, SEED)


@pytest.fixture(scope="module")
def ed() -> Signer:
    return Signer(ORIGIN, KeyType.ED25519, SEED)


def opaque8(value: bytes) -> bytes:
    """RFC 8446 §3.4 ``opaque<1..2^8-1>``: one length byte, then the bytes."""
    return len(value).to_bytes(1, "big") + value


def u64(value: int) -> bytes:
    return value.to_bytes(8, "big")


def by_hand(name: str, timestamp: int, origin: str, start: int, end: int, root: bytes) -> bytes:
    """tlog-cosignature §ML-DSA-44 signed message, field by field."""
    return (
        b"subtree/v1\n\x00"
        + opaque8(name.encode())
        + u64(timestamp)
        + opaque8(origin.encode())
        + u64(start)
        + u64(end)
        + root
    )


def signature_of(note_text: str, index: int = 0) -> Signature:
    return Note.from_text(note_text).signatures[index]


def with_byte(data: bytes, index: int, value: int) -> bytes:
    out = bytearray(data)
    out[index] = value
    return bytes(out)


# --- cosigned_message ---------------------------------------------------------------------


def test_label_and_timestamp_limit() -> None:
    assert SUBTREE_LABEL == b"subtree/v1\n\x00"
    assert len(SUBTREE_LABEL) == 12
    assert MAX_TIMESTAMP == 2**63 - 1


def test_cosigned_message_of_the_spec_example_checkpoint() -> None:
    # Every field written out: lengths 0x16 = 22 and 0x1b = 27, big-endian u64s.
    expected = (
        b"subtree/v1\n\x00"
        + b"\x16witness.example.com/w1"
        + b"\x00\x00\x00\x00\x64\x18\x50\xcb"  # 1679315147
        + b"\x1bexample.com/behind-the-sofa"
        + b"\x00\x00\x00\x00\x00\x00\x00\x00"  # start
        + b"\x00\x00\x00\x00\x01\x3e\x2d\xc3"  # end = 20852163
        + SOFA_ROOT
    )
    assert len(expected) == 12 + 1 + 22 + 8 + 1 + 27 + 8 + 8 + 32
    message = cosigned_message(
        "witness.example.com/w1", SOFA_TIME, SOFA_ORIGIN, 0, SOFA_SIZE, SOFA_ROOT
    )
    assert message == expected


_field = st.text(st.characters(codec="utf-8"), min_size=1, max_size=255).filter(
    lambda s: len(s.encode()) <= 255
)


@given(
    name=_field,
    origin=_field,
    timestamp=st.integers(0, MAX_TIMESTAMP),
    start=st.integers(0, 2**64 - 1),
    length=st.integers(0, 2**64 - 1),
    root=st.binary(min_size=32, max_size=32),
)
def test_cosigned_message_layout(
    name: str, origin: str, timestamp: int, start: int, length: int, root: bytes
) -> None:
    end = min(start + length, 2**64 - 1)
    if start:
        timestamp = 0  # a subtree with a non-zero start carries no timestamp
    message = cosigned_message(name, timestamp, origin, start, end, root)
    assert message == by_hand(name, timestamp, origin, start, end, root)


@pytest.mark.parametrize(
    ("name", "timestamp", "origin", "start", "end"),
    [
        ("n" * 255, MAX_TIMESTAMP, "o" * 255, 0, 2**64 - 1),
        ("é" * 127 + "e", 0, "é" * 127 + "e", 0, 0),  # 255 bytes each; the empty tree
        ("n", 0, "o", 7, 9),  # a subtree: start > 0 with timestamp 0
    ],
)
def test_cosigned_message_accepts_its_bounds(
    name: str, timestamp: int, origin: str, start: int, end: int
) -> None:
    message = cosigned_message(name, timestamp, origin, start, end, ROOT)
    assert message == by_hand(name, timestamp, origin, start, end, ROOT)


@pytest.mark.parametrize(
    ("name", "timestamp", "origin", "start", "end", "root"),
    [
        ("", 0, "o", 0, 1, ROOT),  # empty cosigner name
        ("n" * 256, 0, "o", 0, 1, ROOT),
        ("é" * 128, 0, "o", 0, 1, ROOT),  # 128 characters, 256 bytes
        ("n", 0, "", 0, 1, ROOT),  # empty origin
        ("n", 0, "o" * 256, 0, 1, ROOT),
        ("n", 0, "é" * 128, 0, 1, ROOT),
        ("n", 0, "o", 0, 1, ROOT[:31]),
        ("n", 0, "o", 0, 1, ROOT + b"\x00"),
        ("n", 0, "o", 0, 1, b""),
        ("n", 1, "o", 1, 2, ROOT),  # timestamp beside a non-zero start
        ("n", 2**63, "o", 0, 1, ROOT),  # timestamp > 2^63 - 1
        ("n", -1, "o", 0, 1, ROOT),
        ("n", 0, "o", 2, 1, ROOT),  # start after end
        ("n", 0, "o", -1, 1, ROOT),
        ("n", 0, "o", 0, 2**64, ROOT),  # end does not fit a u64
    ],
)
def test_cosigned_message_refuses_out_of_range_fields(
    name: str, timestamp: int, origin: str, start: int, end: int, root: bytes
) -> None:
    with pytest.raises(MalformedCheckpointError):
        cosigned_message(name, timestamp, origin, start, end, root)


# --- independent checks of what the Signer produces -----------------------------------------


def test_signed_checkpoint_verifies_with_cryptography_directly(pq: Signer) -> None:
    cp = Checkpoint(ORIGIN, 5, ROOT, ("an extension",))
    before = int(time.time())
    signed = sign_checkpoint(cp, [pq])
    after = int(time.time())

    # Parse the note by hand: body, blank line, one signature line.
    body, blank, line, end = signed.rsplit("\n", 3)
    assert body + "\n" == cp.to_text()
    assert (blank, end) == ("", "")
    prefix = f"\u2014 {ORIGIN} "
    assert line.startswith(prefix)
    raw = base64.b64decode(line[len(prefix) :], validate=True)
    assert len(raw) == 4 + 8 + 2420
    key_id, timestamp, sig = raw[:4], int.from_bytes(raw[4:12], "big"), raw[12:]

    public_key = MLDSA44PrivateKey.from_seed_bytes(SEED).public_key().public_bytes_raw()
    assert len(public_key) == 1312
    assert pq.verifier().public_key == public_key
    assert key_id == hashlib.sha256(ORIGIN.encode() + b"\n\x06" + public_key).digest()[:4]
    assert before <= timestamp <= after

    # FIPS 204 pure ML-DSA-44, empty context, over the cosigned_message; no extension line.
    message = by_hand(ORIGIN, timestamp, ORIGIN, 0, 5, ROOT)
    key = MLDSA44PublicKey.from_public_bytes(public_key)
    key.verify(sig, message)
    key.verify(sig, message, context=b"")
    for wrong in (signed.encode(), (body + "\n").encode(), message[:-1]):
        with pytest.raises(InvalidSignature):
            key.verify(sig, wrong)
    with pytest.raises(InvalidSignature):
        key.verify(sig, message, context=b"x")


def test_cosignature_built_with_cryptography_opens(pq: Signer) -> None:
    # The other direction: a cosignature made without our Signer opens with our Verifier.
    timestamp = SOFA_TIME
    sig = MLDSA44PrivateKey.from_seed_bytes(SEED).sign(
        by_hand(ORIGIN, timestamp, ORIGIN, 0, 5, ROOT)
    )
    key_id = pq.key_id.to_bytes(4, "big")
    line = f"\u2014 {ORIGIN} " + base64.b64encode(key_id + u64(timestamp) + sig).decode()
    note = CHECKPOINT + "\n" + line + "\n"
    assert open_checkpoint(note, [pq.verifier()], origin=ORIGIN) == Checkpoint(ORIGIN, 5, ROOT)
    assert pq.verifier().verify_note(CHECKPOINT, u64(timestamp) + sig) == timestamp


# --- timestamps -----------------------------------------------------------------------------


@pytest.mark.parametrize("timestamp", [0, 1, SOFA_TIME, MAX_TIMESTAMP])
def test_timestamp_is_embedded_and_returned(pq: Signer, timestamp: int) -> None:
    sig = pq.sign_note(CHECKPOINT, timestamp=timestamp)
    assert len(sig) == SIG_LEN
    assert sig[:8] == u64(timestamp)
    assert pq.verifier().verify_note(CHECKPOINT, sig) == timestamp
    note = Note(CHECKPOINT, (Signature(pq.name, pq.key_id, sig),)).to_text()
    assert open_note(note, [pq.verifier()]).verifiers == (pq.verifier(),)


def test_default_timestamp_is_now(pq: Signer) -> None:
    before = int(time.time())
    sig = pq.sign_note(CHECKPOINT)
    after = int(time.time())
    timestamp = pq.verifier().verify_note(CHECKPOINT, sig)
    assert timestamp is not None
    assert before <= timestamp <= after


@pytest.mark.parametrize("timestamp", [-1, MAX_TIMESTAMP + 1])
def test_out_of_range_timestamp_is_not_signed(pq: Signer, timestamp: int) -> None:
    with pytest.raises(MalformedNoteError):
        pq.sign_note(CHECKPOINT, timestamp=timestamp)


@pytest.mark.parametrize("index", range(8))
def test_changed_timestamp_byte_fails(pq: Signer, index: int) -> None:
    sig = pq.sign_note(CHECKPOINT, timestamp=SOFA_TIME)
    changed = with_byte(sig, index, sig[index] ^ 0x01)
    with pytest.raises(SignatureInvalidError):
        pq.verifier().verify_note(CHECKPOINT, changed)
    note = Note(CHECKPOINT, (Signature(pq.name, pq.key_id, changed),)).to_text()
    with pytest.raises(SignatureInvalidError):
        open_note(note, [pq.verifier()])


def test_timestamp_above_the_limit_fails(pq: Signer) -> None:
    sig = pq.sign_note(CHECKPOINT, timestamp=0)
    with pytest.raises(SignatureInvalidError):
        pq.verifier().verify_note(CHECKPOINT, with_byte(sig, 0, 0x80))


# --- what a 0x06 cosignature does and does not cover ------------------------------------------


@pytest.mark.parametrize(
    "other",
    [
        f"{ORIGIN}\n6\n{ROOT_B64}\n",  # other size
        f"{ORIGIN}\n5\n{base64.b64encode(bytes(32)).decode()}\n",  # other root
        f"example.com/other\n5\n{ROOT_B64}\n",  # other origin
        f"{ORIGIN}\n50\n{ROOT_B64}\n",
    ],
)
def test_cosignature_moved_to_another_checkpoint_fails(pq: Signer, other: str) -> None:
    sig = signature_of(sign_note(CHECKPOINT, [pq]))
    with pytest.raises(SignatureInvalidError):
        open_note(Note(other, (sig,)).to_text(), [pq.verifier()])


def test_cosignature_commits_to_the_cosigner_name(pq: Signer, ed: Signer) -> None:
    # tlog-cosignature: the ML-DSA-44 message names the cosigner; Ed25519's does not.
    sig = pq.sign_note(CHECKPOINT, timestamp=SOFA_TIME)
    renamed = Verifier("example.com/renamed", KeyType.MLDSA44, pq.verifier().public_key)
    with pytest.raises(SignatureInvalidError):
        renamed.verify_note(CHECKPOINT, sig)
    ed_renamed = Verifier("example.com/renamed", KeyType.ED25519, ed.verifier().public_key)
    assert ed_renamed.verify_note(CHECKPOINT, ed.sign_note(CHECKPOINT)) is None


@pytest.mark.parametrize(
    "changed",
    [
        CHECKPOINT + "another extension\n",  # changed
        CHECKPOINT,  # removed
        CHECKPOINT + "an extension\nand one more\n",  # added
    ],
    ids=["changed", "removed", "added"],
)
def test_extension_lines_are_not_covered_by_mldsa44(pq: Signer, ed: Signer, changed: str) -> None:
    # tlog-cosignature §ML-DSA-44 signed message: "checkpoint extension lines are not
    # included in the signed message for ML-DSA-44 cosignatures"; Ed25519 signs the text.
    cp = Checkpoint(ORIGIN, 5, ROOT, ("an extension",))
    signatures = Note.from_text(sign_checkpoint(cp, [ed, pq])).signatures
    note = Note(changed, signatures).to_text()
    opened = open_note(note, [pq.verifier()])
    assert opened.text == changed
    assert open_checkpoint(note, [pq.verifier()]) == Checkpoint.from_text(changed)
    with pytest.raises(SignatureInvalidError):
        open_note(note, [ed.verifier()])
    with pytest.raises(SignatureInvalidError):
        open_note(note, [ed.verifier(), pq.verifier()])


# --- refusals ---------------------------------------------------------------------------------

NOT_CHECKPOINTS = [
    "hello\n",
    "If you think cryptography is the answer to your problem,\n",
    f"{ORIGIN}\n5\n",  # two lines
    f"{ORIGIN}\n05\n{ROOT_B64}\n",  # size not canonical
    f"{ORIGIN}\n5\n{ROOT_B64.rstrip('=')}\n",  # root not canonical base64
    f"{ORIGIN}\n5\n{base64.b64encode(ROOT[:31]).decode()}\n",  # root of 31 bytes
    f"{ORIGIN}\n5\n{ROOT_B64}\n\nafter a blank line\n",  # empty extension line
    f"{'o' * 256}\n5\n{ROOT_B64}\n",  # origin too long to cosign
]


@pytest.mark.parametrize("text", NOT_CHECKPOINTS)
def test_mldsa44_key_refuses_to_sign_a_note_that_is_not_a_checkpoint(
    pq: Signer, ed: Signer, text: str
) -> None:
    with pytest.raises(MalformedNoteError):
        pq.sign_note(text)
    with pytest.raises(MalformedNoteError):
        sign_note(text, [pq])
    with pytest.raises(MalformedNoteError):
        sign_note(text, [ed, pq])
    signed_by_ed = sign_note(text, [ed])  # Ed25519 signs any note text
    assert open_note(signed_by_ed, [ed.verifier()]).text == text
    with pytest.raises(MalformedNoteError):
        add_signatures(signed_by_ed, [pq])


def test_mldsa44_key_with_a_name_over_255_bytes_cannot_sign() -> None:
    signer = Signer("n" * 256, KeyType.MLDSA44, SEED)
    with pytest.raises(MalformedNoteError):
        signer.sign_note(CHECKPOINT)


@pytest.mark.parametrize("text", NOT_CHECKPOINTS)
def test_mldsa44_signature_on_a_note_that_is_not_a_checkpoint_fails(
    pq: Signer, ed: Signer, text: str
) -> None:
    real = pq.sign_note(CHECKPOINT, timestamp=SOFA_TIME)
    for sig in (bytes(SIG_LEN), real):
        with pytest.raises(SignatureInvalidError):
            pq.verifier().verify_note(text, sig)
        note = Note(text, (Signature(pq.name, pq.key_id, sig),)).to_text()
        with pytest.raises(SignatureInvalidError):
            open_note(note, [pq.verifier()])
        # Beside a good Ed25519 signature it still rejects the note, unless ML-DSA-44 is
        # not trusted (unknown keys are ignored).
        mixed = add_signatures(note, [ed])
        with pytest.raises(SignatureInvalidError):
            open_note(mixed, [ed.verifier(), pq.verifier()])
        assert open_note(mixed, [ed.verifier()]).verifiers == (ed.verifier(),)


@pytest.mark.parametrize(
    "cut",
    [
        lambda s: s[:-1],  # one byte short
        lambda s: s[:8],  # a timestamp and no signature
        lambda s: s[:7],  # not even a timestamp
        lambda s: b"",
        lambda s: s + b"\x00",  # one byte long
        lambda s: s[8:],  # the signature without its timestamp
        lambda s: s[:8] + b"\x00" + s[8:],  # a byte between timestamp and signature
    ],
    ids=["short-1", "timestamp-only", "7-bytes", "empty", "long+1", "no-timestamp", "inserted"],
)
def test_truncated_or_padded_signature_fails(pq: Signer, cut: Callable[[bytes], bytes]) -> None:
    sig = pq.sign_note(CHECKPOINT, timestamp=SOFA_TIME)
    bad = cut(sig)
    note = Note(CHECKPOINT, (Signature(pq.name, pq.key_id, bad),)).to_text()
    with pytest.raises(SignatureInvalidError):
        open_note(note, [pq.verifier()])
    with pytest.raises(SignatureInvalidError):
        pq.verifier().verify_note(CHECKPOINT, bad)


# --- Ed25519 is unchanged ---------------------------------------------------------------------


@pytest.mark.parametrize("text", [CHECKPOINT, "hello\n"])
def test_ed25519_note_signature_is_plain_and_untimestamped(ed: Signer, text: str) -> None:
    sig = ed.sign_note(text, timestamp=SOFA_TIME)
    assert sig == ed.sign(text.encode())
    assert len(sig) == 64
    assert ed.verifier().verify_note(text, sig) is None


# --- properties -------------------------------------------------------------------------------

_origins = st.text(
    st.characters(codec="utf-8", exclude_characters="".join(chr(c) for c in range(0x20))),
    min_size=1,
    max_size=60,
)


@given(
    origin=_origins,
    size=st.integers(0, 2**63 - 1),
    root=st.binary(min_size=32, max_size=32),
    extensions=st.lists(_origins, max_size=3).map(tuple),
    timestamp=st.integers(0, MAX_TIMESTAMP),
)
@settings(max_examples=50)
def test_any_checkpoint_round_trips_through_a_cosignature(
    pq: Signer,
    origin: str,
    size: int,
    root: bytes,
    extensions: tuple[str, ...],
    timestamp: int,
) -> None:
    text = Checkpoint(origin, size, root, extensions).to_text()
    sig = pq.sign_note(text, timestamp=timestamp)
    assert pq.verifier().verify_note(text, sig) == timestamp
    message = by_hand(ORIGIN, timestamp, origin, 0, size, root)
    MLDSA44PublicKey.from_public_bytes(pq.verifier().public_key).verify(sig[8:], message)
