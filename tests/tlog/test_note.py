"""C2SP signed notes against Go's sumdb vectors, the C2SP examples and the Tessera log."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.mldsa import MLDSA44PublicKey

from cosignatory.tlog.errors import (
    MalformedKeyError,
    MalformedNoteError,
    SignatureInvalidError,
    UnverifiedNoteError,
)
from cosignatory.tlog.note import (
    MAX_NOTE_BYTES,
    MAX_SIGNATURES,
    KeyType,
    Note,
    Signature,
    Signer,
    Verifier,
    add_signatures,
    compute_key_id,
    generate_ed25519,
    generate_mldsa44,
    open_note,
    sign_note,
)

VECTORS = Path(__file__).resolve().parents[1] / "vectors"
GO = json.loads((VECTORS / "golang-mod-sumdb" / "note_vectors.json").read_bytes())
C2SP = json.loads((VECTORS / "c2sp-examples" / "spec_examples.json").read_bytes())
TESSERA_LOG = VECTORS / "tessera-testdata-log" / "log"
# Test-only keys published in transparency-dev/tessera testdata/build_log.sh.
TESSERA_VKEY = "example.com/log/testdata+33d7b496+AeHTu4Q3hEIMHNqc6fASMsq3rKNx280NI+oO5xCFkkSx"
TESSERA_SKEY = (
    "PRIVATE+KEY+example.com/log/testdata+33d7b496+AeymY/SZAX0jZcJ8enZ5FY1Dz+wTML2yWSkK+9DSF3eg"
)
# The example note at the top of C2SP signed-note.md (no public key is published for it).
QUASIMODO = (
    "Ognuno sta solo sul cuor della terra\n"
    "trafitto da un raggio di sole:\n"
    "\n"
    "ed è subito sera.\n"
    "\n"
    "— quasimodo.example/salvatore "
    "NnugSzTjtVAewIS+Z/iJhUPeFDkO/5QQ2i5ddnGITLlC+EhfLW9oJKONrMouFSQU0xMcXxj99ihAQwaqP3ZekRwNtIc=\n"
)

PETER = GO["keys"]["PeterNeumann"]
ENOCH = GO["keys"]["EnochRoot"]
TEXT = GO["text"]
MLDSA_SEED = bytes(range(32))
# ML-DSA-44 signs checkpoints only (tlog-cosignature §ML-DSA-44 signed message).
CHECKPOINT = "example.com/log\n5\n" + base64.b64encode(bytes(range(32))).decode() + "\n"


@pytest.fixture(scope="module")
def peter() -> Verifier:
    return Verifier.from_vkey(PETER["vkey"])


@pytest.fixture(scope="module")
def enoch() -> Verifier:
    return Verifier.from_vkey(ENOCH["vkey"])


@pytest.fixture(scope="module")
def mldsa() -> Signer:
    return Signer("example.com/pq", KeyType.MLDSA44, MLDSA_SEED)


def key_material(key_text: str) -> str:
    """The base64 part of a vkey or skey (base64 itself may contain '+')."""
    return key_text.removeprefix("PRIVATE+KEY+").split("+", 2)[2]


def flip_bit(data: bytes, bit: int) -> bytes:
    out = bytearray(data)
    out[bit // 8] ^= 1 << (bit % 8)
    return bytes(out)


# --- golang.org/x/mod/sumdb/note vectors -------------------------------------------------


@pytest.mark.parametrize("key", [PETER, ENOCH], ids=["PeterNeumann", "EnochRoot"])
def test_go_vkeys_parse_and_round_trip(key: dict[str, str]) -> None:
    verifier = Verifier.from_vkey(key["vkey"])
    assert verifier.name == key["vkey"].split("+")[0]
    assert verifier.key_id == int(key["key_id_hex"], 16)
    assert verifier.key_type is KeyType.ED25519
    assert verifier.type_name == "ed25519"
    assert verifier.to_vkey() == key["vkey"]
    assert Verifier.from_vkey(verifier.to_vkey()) == verifier


def test_go_skey_round_trips_and_matches_vkey() -> None:
    signer = Signer.from_skey(PETER["skey"])
    assert signer.to_skey() == PETER["skey"]
    assert signer.name == "PeterNeumann"
    assert signer.key_id == int(PETER["key_id_hex"], 16)
    assert signer.verifier().to_vkey() == PETER["vkey"]


def test_signing_reproduces_go_signature_byte_for_byte() -> None:
    assert sign_note(TEXT, [Signer.from_skey(PETER["skey"])]) == GO["signed_by_peter"]


def test_go_one_signature_note_opens(peter: Verifier) -> None:
    opened = open_note(GO["signed_by_peter"], [peter])
    assert opened.text == TEXT
    assert opened.verifiers == (peter,)


def test_go_two_signature_note_opens(peter: Verifier, enoch: Verifier) -> None:
    opened = open_note(GO["signed_by_peter_and_enoch"].encode(), [enoch, peter])
    assert opened.text == TEXT
    assert opened.verifiers == (peter, enoch)  # in signing order
    assert open_note(GO["signed_by_peter_and_enoch"], [enoch]).verifiers == (enoch,)


@pytest.mark.parametrize(
    "note",
    [*GO["malformed_notes_must_reject"], bytes.fromhex(GO["malformed_note_invalid_utf8_hex"])],
)
def test_go_malformed_notes_are_rejected(note: str | bytes, peter: Verifier) -> None:
    with pytest.raises(MalformedNoteError):
        Note.from_text(note)
    with pytest.raises(MalformedNoteError):
        open_note(note, [peter])


def test_go_corrupted_signature_from_known_key_is_rejected(
    peter: Verifier, enoch: Verifier
) -> None:
    with pytest.raises(SignatureInvalidError):
        open_note(GO["invalid_signature_for_known_key"], [peter])
    # A bad signature from a known key rejects the note even beside a good one.
    bad = Note.from_text(GO["invalid_signature_for_known_key"]).signatures
    good = Note.from_text(GO["signed_by_peter_and_enoch"]).signatures
    with pytest.raises(SignatureInvalidError):
        open_note(Note(TEXT, (good[1], *bad)).to_text(), [peter, enoch])


@pytest.mark.parametrize("vkey", GO["bad_vkeys_must_reject"])
def test_go_bad_vkeys_are_rejected(vkey: str) -> None:
    with pytest.raises(MalformedKeyError):
        Verifier.from_vkey(vkey)


def test_unknown_key_signatures_are_ignored(peter: Verifier) -> None:
    opened = open_note(GO["signed_by_peter_and_enoch"], [peter])
    assert opened.verifiers == (peter,)
    # Sharing the name or the ID, but not both, makes a key unknown (signed-note §Signatures).
    good = Note.from_text(GO["signed_by_peter"]).signatures[0]
    same_name = Signature(peter.name, peter.key_id ^ 1, b"\x00" * 64)
    same_id = Signature("PeterNeumann2", peter.key_id, b"\x00" * 64)
    opened = open_note(Note(TEXT, (same_name, same_id, good)).to_text(), [peter])
    assert opened.verifiers == (peter,)


def test_note_signed_only_by_unknown_keys_is_unverified(enoch: Verifier) -> None:
    with pytest.raises(UnverifiedNoteError):
        open_note(GO["signed_by_peter"], [enoch])
    with pytest.raises(UnverifiedNoteError):
        open_note(GO["signed_by_peter"], [])


def test_same_verifier_twice_is_harmless(peter: Verifier) -> None:
    assert open_note(GO["signed_by_peter"], [peter, peter]).verifiers == (peter,)


def test_add_signatures_appends_and_replaces(peter: Verifier) -> None:
    signer = Signer.from_skey(PETER["skey"])
    other = generate_ed25519("example.com/other")
    twice = add_signatures(GO["signed_by_peter"], [signer, other])
    note = Note.from_text(twice)
    assert [s.name for s in note.signatures] == ["PeterNeumann", "example.com/other"]
    assert note.signatures[0] == Note.from_text(GO["signed_by_peter"]).signatures[0]
    opened = open_note(twice, [peter, other.verifier()])
    assert opened.verifiers == (peter, other.verifier())
    # A corrupted signature by a signer being added is replaced by a good one.
    fixed = add_signatures(GO["invalid_signature_for_known_key"], [signer])
    assert fixed == GO["signed_by_peter"]


# --- C2SP examples ------------------------------------------------------------------------


def test_c2sp_signed_note_example_verifies() -> None:
    example = C2SP["signed_note_example"]
    verifier = Verifier.from_vkey(example["vkey"])
    opened = open_note(example["note"], [verifier])
    assert opened.text == "This is an example message.\n"
    assert opened.verifiers == (verifier,)


def test_c2sp_quasimodo_example_splits_at_last_blank_line() -> None:
    note = Note.from_text(QUASIMODO)
    assert note.text.endswith(":\n\ned è subito sera.\n")
    assert [s.name for s in note.signatures] == ["quasimodo.example/salvatore"]
    assert len(note.signatures[0].signature) == 64
    assert note.to_text() == QUASIMODO


# --- Tessera test log ---------------------------------------------------------------------

TESSERA_CHECKPOINTS = sorted(p.name for p in TESSERA_LOG.glob("checkpoint*"))


def test_tessera_checkpoints_are_present() -> None:
    assert "checkpoint" in TESSERA_CHECKPOINTS
    assert len(TESSERA_CHECKPOINTS) == 17


@pytest.mark.parametrize("name", TESSERA_CHECKPOINTS)
def test_tessera_checkpoints_resign_byte_for_byte_and_open(name: str) -> None:
    stored = (TESSERA_LOG / name).read_bytes().decode("utf-8")
    signer = Signer.from_skey(TESSERA_SKEY)
    verifier = Verifier.from_vkey(TESSERA_VKEY)
    assert signer.verifier() == verifier
    opened = open_note(stored, [verifier])
    assert opened.verifiers == (verifier,)
    assert sign_note(opened.text, [signer]) == stored


# --- ML-DSA-44 ----------------------------------------------------------------------------


def test_mldsa44_generate_sign_verify() -> None:
    signer = generate_mldsa44("example.com/log")
    verifier = signer.verifier()
    assert verifier.key_type is KeyType.MLDSA44
    assert verifier.type_name == "ml-dsa-44"
    assert len(verifier.public_key) == 1312
    sig = signer.sign(b"hello\n")
    assert len(sig) == 2420
    verifier.verify(b"hello\n", sig)
    # FIPS 204 pure ML-DSA-44 with an empty context string, checked independently.
    MLDSA44PublicKey.from_public_bytes(verifier.public_key).verify(sig, b"hello\n", context=b"")
    with pytest.raises(SignatureInvalidError):
        verifier.verify(b"hello!\n", sig)


def test_mldsa44_key_id_is_sha256_of_name_type_and_key(mldsa: Signer) -> None:
    public_key = mldsa.verifier().public_key
    digest = hashlib.sha256(b"example.com/pq\n\x06" + public_key).digest()
    assert mldsa.key_id == int.from_bytes(digest[:4], "big")
    assert compute_key_id("example.com/pq", KeyType.MLDSA44, public_key) == mldsa.key_id


def test_mldsa44_skey_and_vkey_round_trip(mldsa: Signer) -> None:
    skey = mldsa.to_skey()
    assert skey.startswith(f"PRIVATE+KEY+example.com/pq+{mldsa.key_id:08x}+")
    assert base64.b64decode(key_material(skey)) == b"\x06" + MLDSA_SEED
    again = Signer.from_skey(skey)
    assert again.verifier() == mldsa.verifier()
    assert again.to_skey() == skey
    vkey = mldsa.verifier().to_vkey()
    assert base64.b64decode(key_material(vkey))[0] == 0x06
    assert Verifier.from_vkey(vkey) == mldsa.verifier()
    assert Verifier.from_vkey(vkey).to_vkey() == vkey


# The signature bytes are u64 timestamp || 2420-byte ML-DSA-44 signature: bits in both.
@pytest.mark.parametrize("bit", [0, 7, 8 * 7, 8 * 8, 8 * 1008 + 3, 8 * 2427 + 7])
def test_mldsa44_flipped_signature_bit_is_rejected(mldsa: Signer, bit: int) -> None:
    note = Note.from_text(sign_note(CHECKPOINT, [mldsa]))
    sig = note.signatures[0]
    assert len(sig.signature) == 8 + 2420
    flipped = Signature(sig.name, sig.key_id, flip_bit(sig.signature, bit))
    with pytest.raises(SignatureInvalidError):
        open_note(Note(CHECKPOINT, (flipped,)).to_text(), [mldsa.verifier()])
    assert open_note(note.to_text(), [mldsa.verifier()]).verifiers == (mldsa.verifier(),)


def test_mixed_ed25519_and_mldsa44_note(mldsa: Signer, peter: Verifier) -> None:
    signed = sign_note(CHECKPOINT, [Signer.from_skey(PETER["skey"]), mldsa])
    # The Ed25519 signature is the one the key makes alone: ML-DSA-44 leaves it untouched.
    alone = sign_note(CHECKPOINT, [Signer.from_skey(PETER["skey"])])
    assert Note.from_text(signed).signatures[0] == Note.from_text(alone).signatures[0]
    assert open_note(signed, [mldsa.verifier()]).verifiers == (mldsa.verifier(),)
    assert open_note(signed, [peter]).verifiers == (peter,)
    assert open_note(signed, [mldsa.verifier(), peter]).verifiers == (peter, mldsa.verifier())


@pytest.mark.parametrize("key_type", [KeyType.ED25519, KeyType.MLDSA44])
def test_wrong_length_signature_is_rejected(key_type: KeyType) -> None:
    verifier = Signer("n", key_type, MLDSA_SEED).verifier()
    for sig in (b"", b"\x00" * 63, b"\x00" * 2421):
        with pytest.raises(SignatureInvalidError):
            verifier.verify(b"m", sig)


def test_signer_repr_hides_private_key(mldsa: Signer) -> None:
    signer = Signer.from_skey(PETER["skey"])
    for s in (signer, mldsa):
        material = key_material(s.to_skey())
        assert material not in repr(s)
        assert s.name in repr(s)
    assert "AYEKFALV" not in repr(signer)


# --- key texts that must be rejected ------------------------------------------------------

_PETER_B64 = key_material(PETER["vkey"])
_PETER_SEED_B64 = key_material(PETER["skey"])
_PETER_RAW = base64.b64decode(_PETER_B64)


@pytest.mark.parametrize(
    "vkey",
    [
        "",
        "PeterNeumann",
        "PeterNeumann+c74f20a3",
        f"+c74f20a3+{_PETER_B64}",  # empty name
        f"PeterNeumann+C74F20A3+{_PETER_B64}",  # hex must be lowercase
        f"PeterNeumann+c74f20a+{_PETER_B64}",  # seven hex digits
        f"PeterNeumann+c74f20a4+{_PETER_B64}",  # key ID does not match
        f"Peter Neumann+c74f20a3+{_PETER_B64}",  # space in name
        f"Peter\u3000Neumann+c74f20a3+{_PETER_B64}",  # ideographic space in name
        f"PeterNeumann+c74f20a3+{_PETER_B64}\n",  # trailing newline
        f" PeterNeumann+c74f20a3+{_PETER_B64}",
        f"PeterNeumann+c74f20a3+{_PETER_B64[:-2]}",  # not base64
        f"PeterNeumann+c74f20a3+{_PETER_B64}==",
        "PeterNeumann+c74f20a3+" + base64.b64encode(_PETER_RAW[:-1]).decode(),  # short key
        "PeterNeumann+c74f20a3+" + base64.b64encode(_PETER_RAW + b"\x00").decode(),
        "PeterNeumann+c74f20a3+" + base64.b64encode(b"\x02" + b"\x01" * 32).decode(),
        "PeterNeumann+c74f20a3+" + base64.b64encode(b"\x06" + b"\x01" * 32).decode(),
        "PeterNeumann+c74f20a3+",
        PETER["skey"],
    ],
)
def test_bad_vkeys_are_rejected(vkey: str) -> None:
    with pytest.raises(MalformedKeyError):
        Verifier.from_vkey(vkey)


@pytest.mark.parametrize(
    "skey",
    [
        PETER["vkey"],
        PETER["skey"].replace("PRIVATE+KEY+", "PRIVATE+KEY+X"),  # ID no longer matches
        PETER["skey"].replace("c74f20a3", "c74f20a4"),
        PETER["skey"].lower(),
        "PRIVATE+KEY+PeterNeumann+c74f20a3+" + base64.b64encode(b"\x01" * 31).decode(),
        "PRIVATE+KEY+PeterNeumann+c74f20a3+" + base64.b64encode(b"\x03" + b"\x01" * 32).decode(),
        f"PRIVATE+KEY+PeterNeumann+c74f20a3+{_PETER_SEED_B64}=",
    ],
)
def test_bad_skeys_are_rejected(skey: str) -> None:
    with pytest.raises(MalformedKeyError):
        Signer.from_skey(skey)


def test_bad_signer_arguments_are_rejected() -> None:
    with pytest.raises(MalformedKeyError):
        Signer("a b", KeyType.ED25519, MLDSA_SEED)
    with pytest.raises(MalformedKeyError):
        Signer("a", KeyType.ED25519, b"short")
    with pytest.raises(MalformedKeyError):
        generate_ed25519("a+b")


# --- note format edge cases ---------------------------------------------------------------


def _signature_line(name: str = "a", raw: bytes = b"\x00" * 68) -> str:
    return f"— {name} {base64.b64encode(raw).decode()}\n"


@pytest.mark.parametrize(
    "note",
    [
        "text\n\n" + _signature_line().replace("—", "-"),  # hyphen, not em dash
        "text\n\n" + _signature_line().replace("— ", "—  "),  # two spaces
        "text\n\n" + _signature_line().rstrip("\n") + " \n",  # trailing space
        "text\n\n" + _signature_line("a b"),
        "text\n\n" + _signature_line("a\xa0b"),  # no-break space in name
        "text\n\n" + _signature_line("a+b"),
        "text\n\n— a AAA=\n",  # two bytes: fewer than a key ID
        "text\n\n— a AAAAAA\n",  # missing padding
        "text\n\n— a AAAAAB==\n",  # non-zero trailing bits: not canonical
        "text\n\n— a AAAA AAAA\n",
        "text\n\n— a \n",
        "text\n\n—  AAAAAA==\n",  # empty name
        "text\n\n" + _signature_line() + "\n",  # ends in a blank line
        "text\n\n" + _signature_line() + _signature_line().rstrip("\n"),
        "te\txt\n\n" + _signature_line(),  # tab
        "text\r\n\n" + _signature_line(),  # carriage return
        "text\n\n" + _signature_line().replace("\n", "\r\n"),
        "te\ud800xt\n\n" + _signature_line(),  # lone surrogate: not UTF-8
        "\n" + _signature_line(),
        "",
    ],
)
def test_malformed_notes_are_rejected(note: str) -> None:
    with pytest.raises(MalformedNoteError):
        Note.from_text(note)


def test_four_byte_signature_parses_and_fails_verification(peter: Verifier) -> None:
    key_id = base64.b64encode(peter.key_id.to_bytes(4, "big")).decode()
    note = Note.from_text(f"text\n\n— PeterNeumann {key_id}\n")
    assert note.signatures[0].signature == b""
    assert note.signatures[0].key_id == peter.key_id
    with pytest.raises(SignatureInvalidError):
        open_note(note.to_text(), [peter])


def test_empty_text_note_parses() -> None:
    note = Note.from_text("\n\n" + _signature_line())
    assert note.text == "\n"


def test_sixteen_signatures_are_accepted() -> None:
    signers = [generate_ed25519(f"example.com/w{i}") for i in range(16)]
    signed = sign_note(TEXT, signers)
    opened = open_note(signed, [s.verifier() for s in reversed(signers)])
    assert opened.verifiers == tuple(s.verifier() for s in signers)


def test_signature_limit() -> None:
    lines = "".join(_signature_line(f"k{i}") for i in range(MAX_SIGNATURES))
    assert len(Note.from_text("t\n\n" + lines).signatures) == MAX_SIGNATURES
    with pytest.raises(MalformedNoteError):
        Note.from_text("t\n\n" + lines + _signature_line("extra"))
    sig = Signature("k", 0, b"")
    with pytest.raises(MalformedNoteError):
        Note("t\n", (sig,) * (MAX_SIGNATURES + 1))
    with pytest.raises(MalformedNoteError):
        Note("t\n", ())


def test_size_limit() -> None:
    big = "x" * (MAX_NOTE_BYTES - 200) + "\n"
    signed = sign_note(big, [Signer.from_skey(PETER["skey"])])
    assert len(signed.encode()) <= MAX_NOTE_BYTES
    assert Note.from_text(signed).text == big
    too_big = "é" * (MAX_NOTE_BYTES // 2) + "\n"
    with pytest.raises(MalformedNoteError):
        Note.from_text(too_big + "\n" + _signature_line())
    with pytest.raises(MalformedNoteError):
        Note.from_text((too_big + "\n" + _signature_line()).encode())
    with pytest.raises(MalformedNoteError):
        sign_note(too_big, [Signer.from_skey(PETER["skey"])])


def test_signature_values_are_checked() -> None:
    with pytest.raises(MalformedNoteError):
        Signature("a", 1 << 32, b"")
    with pytest.raises(MalformedNoteError):
        Signature("a", -1, b"")
    with pytest.raises(MalformedNoteError):
        Signature("", 0, b"")
    sig = Signature("a", 0xC74F20A3, b"\x01\x02")
    assert Signature.from_line(sig.to_line()) == sig


@pytest.mark.parametrize("text", ["no newline", "a\x00b\n", "a\rb\n", "x\ud800\n"])
def test_sign_note_rejects_bad_text(text: str) -> None:
    with pytest.raises(MalformedNoteError):
        sign_note(text, [Signer.from_skey(PETER["skey"])])


def test_sign_note_needs_a_signer() -> None:
    with pytest.raises(MalformedNoteError):
        sign_note(TEXT, [])
