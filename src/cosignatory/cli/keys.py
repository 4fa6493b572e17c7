"""``cosignatory keygen``: make a signing key pair (C2SP signed-note skey/vkey files)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from cosignatory.cli.common import CommandError, print_json
from cosignatory.tlog.note import generate_cosigner, generate_ed25519, generate_mldsa44

# cosigner: an Ed25519 key of signature type 0x04, as C2SP tlog-cosignature witnesses use.
_GENERATORS = {
    "ed25519": generate_ed25519,
    "mldsa44": generate_mldsa44,
    "cosigner": generate_cosigner,
}


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "keygen",
        help="make a key pair: NAME.skey (secret, mode 0600) and NAME.vkey",
        description=(
            "Make a signing key pair in C2SP signed-note text form. The secret key goes to "
            "OUT.skey (readable by you alone), the verifier key to OUT.vkey. Existing files "
            "are never overwritten."
        ),
    )
    parser.add_argument("name", help="the key name, e.g. example.org/log (no spaces or '+')")
    parser.add_argument(
        "--type",
        choices=sorted(_GENERATORS),
        default="ed25519",
        help="algorithm (ed25519); cosigner for a witness",
    )
    parser.add_argument(
        "--out", help="path prefix for the two files (default: the name with '/' as '_')"
    )
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.set_defaults(handler=keygen)


def keygen(args: argparse.Namespace) -> None:
    signer = _GENERATORS[args.type](args.name)
    prefix = Path(args.out or args.name.replace("/", "_"))
    skey_path = prefix.with_name(prefix.name + ".skey")
    vkey_path = prefix.with_name(prefix.name + ".vkey")
    for path in (skey_path, vkey_path):
        if path.exists():
            raise CommandError(f"{path} exists; refusing to overwrite a key")
    vkey = signer.verifier().to_vkey()
    try:
        fd = os.open(skey_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as error:
        raise CommandError(f"cannot write {skey_path}: {error.strerror}") from error
    with os.fdopen(fd, "w") as handle:
        handle.write(signer.to_skey() + "\n")
    vkey_path.write_text(vkey + "\n")
    if args.json:
        print_json({"skey_file": str(skey_path), "vkey_file": str(vkey_path), "vkey": vkey})
    else:
        print(f"wrote {skey_path} (secret) and {vkey_path}")
        print(vkey)
