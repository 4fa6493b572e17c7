"""Ed25519 cosignatures (signed-note type 0x04, C2SP tlog-cosignature), as witnesses make."""

from __future__ import annotations

import base64
import json

import pytest

from cosignatory.tlog.checkpoint import Checkpoint, open_checkpoint
from cosignatory.tlog.cosignature import cosignature_v1_message
from cosignatory.tlog.errors import MalformedNoteError, SignatureInvalidError
from cosignatory.tlog.note import (
    KeyType,
    Note,
    Signature,
    Verifier,
    add_signatures,
    generate_cosigner,
    generate_ed25519,
    open_note,
    sign_note,
)
from tests.conftest import VECTORS

SPEC = json.loads((VECTORS / "c2sp-examples" / "spec_examples.json").read_text())
FORMATS = json.loads(
    (VECTORS / "transparency-dev-formats" / "cosignature_vectors.json").read_text()
)
BODY = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"


def test_the_signed_message_is_the_specs_example() -> None:
    assert (
        cosignature_v1_message(1679315147, BODY).decode()
        == (SPEC["cosignature_v1_signed_message_example"])
    )


def test_published_0x04_vkey_parses_with_its_key_id() -> None:
    verifier = Verifier.from_vkey(FORMATS["valid_vkeys"]["type_0x04_cosignature_v1"])
    assert verifier.key_type is KeyType.COSIGNATURE_ED25519
    assert verifier.type_name == "ed25519-cosignature"


def test_published_blob_carries_its_timestamp() -> None:
    raw = base64.b64decode(FORMATS["cosignature_v1_sig_b64"])
    assert len(raw) == 4 + 8 + 64
    assert int.from_bytes(raw[4:12], "big") == FORMATS["cosignature_v1_expected_timestamp"]


def test_a_witness_cosignature_verifies_and_returns_its_time() -> None:
    log = generate_ed25519("example.com/behind-the-sofa")
    witness = generate_cosigner("witness.example/w1")
    note = sign_note(BODY, [log])
    cosigned = add_signatures(note, [witness])
    verified = open_note(cosigned, [log.verifier(), witness.verifier()])
    assert verified.verifiers == (log.verifier(), witness.verifier())
    parsed = Note.from_text(cosigned)
    sig = parsed.signatures[1].signature
    assert witness.verifier().verify_note(parsed.text, sig) is not None
    # A log verifier that does not know the witness ignores its line.
    assert open_checkpoint(cosigned, [log.verifier()]).size == 20852163


def test_timestamp_and_every_byte_of_the_body_are_signed() -> None:
    witness = generate_cosigner("witness.example/w1")
    sig = witness.sign_note(BODY, timestamp=1679315147)
    assert witness.verifier().verify_note(BODY, sig) == 1679315147
    tampered_time = (1679315148).to_bytes(8, "big") + sig[8:]
    with pytest.raises(SignatureInvalidError):
        witness.verifier().verify_note(BODY, tampered_time)
    # Unlike ML-DSA-44 cosignatures, cosignature/v1 covers extension lines.
    with pytest.raises(SignatureInvalidError):
        witness.verifier().verify_note(BODY + "extension\n", sig)


def test_a_0x04_key_signs_only_checkpoints() -> None:
    witness = generate_cosigner("witness.example/w1")
    with pytest.raises(MalformedNoteError):
        sign_note("not a checkpoint\n", [witness])
    bogus = Note("not a checkpoint\n", (Signature(witness.name, witness.key_id, b"\0" * 72),))
    with pytest.raises(SignatureInvalidError):
        open_note(bogus.to_text(), [witness.verifier()])


def test_0x04_and_0x01_keys_of_one_name_are_different_keys() -> None:
    cp = Checkpoint("example.com/log", 5, b"\1" * 32)
    plain = generate_ed25519("example.com/w")
    cosigner = generate_cosigner("example.com/w")
    assert plain.key_id != cosigner.key_id
    note = sign_note(cp.to_text(), [plain, cosigner])
    assert len(open_note(note, [plain.verifier(), cosigner.verifier()]).verifiers) == 2
