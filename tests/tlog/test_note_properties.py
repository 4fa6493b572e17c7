"""Properties of signed notes: round-trips, tamper evidence, and total parsing."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cosignatory.tlog.errors import SignatureInvalidError, TlogError
from cosignatory.tlog.note import (
    KeyType,
    Note,
    Signature,
    Signer,
    Verifier,
    open_note,
    sign_note,
)

# Control characters other than newline may not appear in a note (signed-note §Format).
_CONTROLS = "".join(chr(c) for c in range(0x20) if c != 0x0A)

names = st.text(
    st.characters(
        codec="utf-8", exclude_categories=("Cc", "Zs", "Zl", "Zp"), exclude_characters="+"
    ),
    min_size=1,
    max_size=20,
)
texts = st.text(st.characters(codec="utf-8", exclude_characters=_CONTROLS), max_size=200).map(
    lambda t: t + "\n"
)
signatures = st.builds(
    Signature,
    name=names,
    key_id=st.integers(0, 2**32 - 1),
    signature=st.binary(max_size=80),
)
# Text over the characters that matter to the parser, so examples reach deep paths.
note_like = st.text(
    st.sampled_from(["\u2014", " ", "\n", "+", "=", "/", "A", "Q", "a", "0", "\x01", "\u3000"]),
    max_size=80,
)

ED25519 = Signer("example.com/log", KeyType.ED25519, bytes(range(32)))
MLDSA44 = Signer("example.com/log", KeyType.MLDSA44, bytes(range(32, 64)))
VERIFIERS = [ED25519.verifier(), MLDSA44.verifier()]
# Ed25519 signs any text; this one has a blank line, so the split must be at the last one.
TEXT = "example.com/log\n42\n" + "A" * 43 + "=\nan extension\n\nwith a blank line\n"
# ML-DSA-44 signs checkpoints only (tlog-cosignature), which have no blank line.
CHECKPOINT = "example.com/log\n42\n" + "A" * 43 + "=\n"
CHECKPOINT_EXT = CHECKPOINT + "an extension\n"
SIGNED = {
    "ed25519": (TEXT, sign_note(TEXT, [ED25519]).encode()),
    "ed25519-checkpoint": (CHECKPOINT_EXT, sign_note(CHECKPOINT_EXT, [ED25519]).encode()),
    "mldsa44": (CHECKPOINT, sign_note(CHECKPOINT, [MLDSA44]).encode()),
    "both": (CHECKPOINT, sign_note(CHECKPOINT, [ED25519, MLDSA44]).encode()),
    "both-ext": (CHECKPOINT_EXT, sign_note(CHECKPOINT_EXT, [ED25519, MLDSA44]).encode()),
}


def flip_bit(data: bytes, bit: int) -> bytes:
    out = bytearray(data)
    out[bit // 8] ^= 1 << (bit % 8)
    return bytes(out)


@given(text=texts, sigs=st.lists(signatures, min_size=1, max_size=20))
def test_note_round_trips(text: str, sigs: list[Signature]) -> None:
    note = Note(text, tuple(sigs))
    rendered = note.to_text()
    assert Note.from_text(rendered) == note
    assert Note.from_text(rendered.encode("utf-8")) == note
    assert Note.from_text(rendered).to_text() == rendered


@given(sig=signatures)
def test_signature_line_round_trips(sig: Signature) -> None:
    assert Signature.from_line(sig.to_line()) == sig


@pytest.mark.parametrize("which", ["ed25519", "ed25519-checkpoint", "mldsa44"])
@given(data=st.data())
@settings(max_examples=300)
def test_single_flipped_bit_never_verifies(which: str, data: st.DataObject) -> None:
    _, signed = SIGNED[which]
    bit = data.draw(st.integers(0, len(signed) * 8 - 1), label="bit")
    with pytest.raises(TlogError):
        open_note(flip_bit(signed, bit), VERIFIERS)


@pytest.mark.parametrize("which", ["both", "both-ext"])
@given(data=st.data())
@settings(max_examples=300)
def test_flipped_bit_in_dual_signed_note_never_changes_the_text(
    which: str, data: st.DataObject
) -> None:
    # A flip in one signature line's name or key ID makes it an unknown key's signature,
    # which is ignored; the other signature then still vouches for the unchanged text.
    text, signed = SIGNED[which]
    bit = data.draw(st.integers(0, len(signed) * 8 - 1), label="bit")
    try:
        opened = open_note(flip_bit(signed, bit), VERIFIERS)
    except TlogError:
        return
    assert opened.text == text
    assert len(opened.verifiers) == 1


@given(data=st.data())
@settings(max_examples=300)
def test_flipped_bit_never_changes_what_an_mldsa44_cosignature_vouches_for(
    data: st.DataObject,
) -> None:
    # tlog-cosignature: the ML-DSA-44 message leaves out extension lines, so a flip there
    # may verify; the origin, size and root it vouches for can never change.
    signed = sign_note(CHECKPOINT_EXT, [MLDSA44]).encode()
    bit = data.draw(st.integers(0, len(signed) * 8 - 1), label="bit")
    try:
        opened = open_note(flip_bit(signed, bit), VERIFIERS)
    except TlogError:
        return
    assert opened.verifiers == (MLDSA44.verifier(),)
    assert opened.text.startswith(CHECKPOINT)
    assert opened.text.count("\n") == CHECKPOINT_EXT.count("\n")


@pytest.mark.parametrize("signer", [ED25519, MLDSA44], ids=["ed25519", "mldsa44"])
@given(text=st.one_of(texts, st.just(CHECKPOINT), st.just(CHECKPOINT_EXT)), raw=st.binary())
@settings(max_examples=200)
def test_arbitrary_signature_from_a_known_key_is_rejected(
    signer: Signer, text: str, raw: bytes
) -> None:
    # Any bytes, over any text (checkpoint or not), under a trusted name and key ID.
    forged = Note(text, (Signature(signer.name, signer.key_id, raw),)).to_text()
    with pytest.raises(SignatureInvalidError):
        open_note(forged, VERIFIERS)


@given(text=st.one_of(st.text(), note_like))
def test_note_from_arbitrary_text_parses_or_raises_tlog_error(text: str) -> None:
    try:
        note = Note.from_text(text)
    except TlogError:
        return
    assert note.to_text() == text


@given(raw=st.binary())
def test_note_from_arbitrary_bytes_parses_or_raises_tlog_error(raw: bytes) -> None:
    try:
        note = Note.from_text(raw)
    except TlogError:
        return
    assert note.to_text().encode("utf-8") == raw


@given(
    text=st.one_of(
        st.text(),
        st.tuples(
            st.text(max_size=10),
            st.text("0123456789abcdefABCDEF+", max_size=10),
            st.binary(max_size=40).map(lambda b: base64.b64encode(b).decode()),
        ).map("+".join),
        st.tuples(
            names,
            st.sampled_from([0x01, 0x02, 0x06, 0xFF]),
            st.binary(min_size=30, max_size=34),
        ).map(lambda t: f"{t[0]}+00000000+" + base64.b64encode(bytes([t[1]]) + t[2]).decode()),
        # ML-DSA-44-sized key material, and real vkeys with one character changed.
        st.binary(min_size=1311, max_size=1313).map(
            lambda b: "example.com/log+00000000+" + base64.b64encode(b"\x06" + b).decode()
        ),
        st.tuples(
            st.sampled_from([v.to_vkey() for v in VERIFIERS]),
            st.integers(0, 2000),
            st.sampled_from("+/=Aa0 \n\u3000"),
        ).map(lambda t: t[0][: t[1]] + t[2] + t[0][t[1] + 1 :]),
    )
)
def test_key_parsers_accept_or_raise_tlog_error(text: str) -> None:
    try:
        verifier = Verifier.from_vkey(text)
    except TlogError:
        pass
    else:
        assert verifier.to_vkey() == text
    skey = "PRIVATE+KEY+" + text
    try:
        signer = Signer.from_skey(skey)
    except TlogError:
        pass
    else:
        assert signer.to_skey() == skey


@given(
    name=names, key_type=st.sampled_from(list(KeyType)), seed=st.binary(min_size=32, max_size=32)
)
@settings(max_examples=50)
def test_keys_round_trip(name: str, key_type: KeyType, seed: bytes) -> None:
    signer = Signer(name, key_type, seed)
    assert Signer.from_skey(signer.to_skey()).verifier() == signer.verifier()
    assert Verifier.from_vkey(signer.verifier().to_vkey()) == signer.verifier()
