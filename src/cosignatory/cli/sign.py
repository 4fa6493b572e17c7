"""``cosignatory sign``: a representative signs a letter's text with their own key.

The command reads the letter's text version from the register's database, shows the
exact text and its hash, signs a :class:`cosignatory.core.statements.Statement` with
the Ed25519 key in a C2SP skey file, and writes the signed statement file
(``docs/formats/`` and :class:`~cosignatory.core.statements.SignedStatement`). With
``--submit`` it records the statement in this register through
:func:`cosignatory.web.register.services.submit_statement`; submitting to a remote
register's JSON API comes with the API.
"""

from __future__ import annotations

import argparse
import os
import sys
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cosignatory.cli.common import CommandError, print_json, setup_django
from cosignatory.core.statements import SignedStatement, Statement
from cosignatory.tlog.note import KeyType, Signer


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "sign",
        help="sign a letter's text version with your key; write a signed statement file",
        description="Sign LETTER's current text version (for --action withdraw: the version "
        "your party's signature is on) for PARTY, as REPRESENTATIVE, with the Ed25519 key in "
        "an skey file (see `cosignatory keygen`; the registrar registers its public key as "
        "KEY_ID). The text and its SHA-256 hash are shown on standard error before signing. "
        "The signed statement goes to --output, or to standard output. With --submit it is "
        "also recorded in this register (submitting the same statement again changes "
        "nothing); a refusal prints its reason and code and records nothing.",
    )
    parser.add_argument("letter", metavar="LETTER", help="the letter's identifier")
    parser.add_argument("--skey", required=True, metavar="FILE", help="your private key file")
    parser.add_argument("--party", required=True, help="the party you sign for, e.g. FRA")
    parser.add_argument("--representative", required=True, help="your representative id")
    parser.add_argument("--key", required=True, metavar="KEY_ID", help="your key's register id")
    parser.add_argument(
        "--action", choices=("sign", "accede", "withdraw"), default="sign", help="(sign)"
    )
    parser.add_argument("--output", metavar="FILE", help="write the statement file here")
    parser.add_argument(
        "--submit", action="store_true", help="record the statement in this register"
    )
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.set_defaults(handler=sign_letter)


@dataclass(frozen=True)
class _Text:
    version: int
    text_hash: str
    texts: dict[str, str]


def sign_letter(args: argparse.Namespace) -> None:
    signer = _read_signer(args.skey)
    output = Path(args.output) if args.output else None
    if output is not None and output.exists():
        raise CommandError(f"{output} exists; refusing to overwrite it")
    if output is not None and not output.parent.is_dir():
        raise CommandError(f"no such folder: {output.parent}")
    setup_django()
    text = _text_to_sign(args.letter, args.party, args.action)
    _check_key(args.key, signer)
    # from_json validates every field (identifiers, hash, time), as a server would.
    statement = Statement.from_json(
        Statement(
            args.action,
            args.letter,
            text.version,
            text.text_hash,
            args.party,
            args.representative,
            args.key,
            datetime.now(UTC),
        ).to_json()
    )
    if not args.json:
        _show(statement, text)
    signature = signer.sign(statement.signed_bytes())
    statement.verify(signature, signer.verifier().public_key)
    signed = SignedStatement(statement, signature)
    result: dict[str, Any] = {
        "statement": signed.to_json(),
        "file": str(output) if output else None,
        "submitted": False,
    }
    if args.submit:
        from cosignatory.web.register.services import submit_statement

        recorded = submit_statement(signed)
        result.update(submitted=True, log_index=recorded.log_index, new=recorded.new)
    if output is not None:
        _write_new(output, signed.to_text())
    if args.json:
        print_json(result)
        return
    if output is None:
        sys.stdout.write(signed.to_text())
    else:
        print(f"wrote {output}")
    if args.submit:
        if result["new"]:
            print(f"recorded as entry {result['log_index']} of the log")
        else:
            print(f"recorded already, as entry {result['log_index']} of the log: nothing changed")


def _read_signer(path: str) -> Signer:
    try:
        text = Path(path).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as error:
        raise CommandError(f"cannot read the key file {path}: {error}") from error
    signer = Signer.from_skey(text)
    if signer.key_type is not KeyType.ED25519:
        raise CommandError(f"{path} is not an Ed25519 key: statements are signed with Ed25519")
    return signer


def _text_to_sign(letter_id: str, party: str, action: str) -> _Text:
    """The text version a statement names: the current one, or the one being withdrawn."""
    from cosignatory.core.canonical import text_hash
    from cosignatory.core.errors import (
        LifecycleError,
        NotSignedError,
        TextVersionError,
        UnknownEntityError,
    )
    from cosignatory.web.register import models as m

    letter = m.Letter.objects.filter(pk=letter_id).first()
    if letter is None:
        raise UnknownEntityError(f"no letter {letter_id!r}")
    version = letter.current_version
    if action == "withdraw":
        active = m.Signature.objects.filter(letter=letter, party_id=party, active=True).first()
        if active is None:
            raise NotSignedError(f"{party} has no signature on {letter_id} to withdraw")
        version = active.version
    row = m.TextVersion.objects.filter(letter=letter, version=version).first()
    if row is None:
        raise LifecycleError(f"letter {letter_id} has no text to sign yet")
    # What is shown must be what the hash covers: recompute it from the texts shown.
    if text_hash(row.texts) != row.text_hash:
        raise TextVersionError(f"the stored text of {letter_id} version {version} is not its hash")
    return _Text(version, row.text_hash, dict(row.texts))


def _check_key(key_id: str, signer: Signer) -> None:
    """Refuse early if this register knows KEY_ID as another public key."""
    from cosignatory.tlog.errors import SignatureInvalidError
    from cosignatory.web.register import models as m

    registered = m.Key.objects.filter(pk=key_id).values_list("public_key", flat=True).first()
    if registered is not None and bytes(registered) != signer.verifier().public_key:
        raise SignatureInvalidError(f"the key file is not the key registered as {key_id}")


def _show(statement: Statement, text: _Text) -> None:
    """Show on standard error exactly what is about to be signed."""
    err = sys.stderr
    print(
        f"Signing: {statement.action} letter {statement.letter}, text version "
        f"{statement.version}, for {statement.party} as {statement.representative} "
        f"with key {statement.key}",
        file=err,
    )
    print(f"Text hash (SHA-256 of the canonical texts): {statement.text_hash}", file=err)
    hidden = False
    for lang, body in sorted(text.texts.items()):
        shown = _visible(body)
        hidden = hidden or shown != body
        print(f"----- text ({lang}) -----", file=err)
        print(shown, file=err)
    print("----- end of text -----", file=err)
    if hidden:
        print(
            "Note: the text holds invisible formatting characters (such as bidirectional "
            "controls), shown above as <U+XXXX>; they are part of what you sign.",
            file=err,
        )


def _visible(text: str) -> str:
    """``text`` with every invisible format character (Unicode Cf) shown as ``<U+XXXX>``.

    Bidirectional controls can make a text display differently from what it says, and
    what is signed must be what is seen.
    """
    return "".join(f"<U+{ord(ch):04X}>" if unicodedata.category(ch) == "Cf" else ch for ch in text)


def _write_new(path: Path, text: str) -> None:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except OSError as error:
        raise CommandError(f"cannot write {path}: {error.strerror}") from error
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
