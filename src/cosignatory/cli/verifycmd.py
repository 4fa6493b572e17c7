"""``cosignatory verify BUNDLE``: check a letter's bundle offline, print its signatories.

It uses only ``core`` and ``tlog`` (no Django, no settings, no database): a verifier
can install the package and run it anywhere. The network is used only when asked,
with ``--server``, to read the tiles a consistency proof is computed from; what the
server sends is checked like everything else. See ``docs/bundle.md``.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import itertools
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import IO

from cosignatory.cli.common import CommandError, print_json_with_list, read_text_argument
from cosignatory.core.bundle import read_lines
from cosignatory.core.events import format_time
from cosignatory.core.verify import (
    BundleSignatory,
    ConsistencyError,
    VerifiedBundle,
    check_consistency,
    consistency_sizes,
    open_older_checkpoint,
    verify_bundle,
)
from cosignatory.tlog.errors import MalformedTileError
from cosignatory.tlog.hashing import HASH_SIZE
from cosignatory.tlog.note import Verifier
from cosignatory.tlog.policy import Policy
from cosignatory.tlog.proofs import consistency_proof
from cosignatory.tlog.tiled import TiledTree
from cosignatory.tlog.tiles import TILE_HEIGHT, TILE_WIDTH, HashTile, split_hash_tile

_TIMEOUT = 30
_USER_AGENT = "cosignatory-verify"


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    verify = commands.add_parser(
        "verify",
        help="verify a letter's bundle offline and print its signatories",
        description="Verify a bundle (from `cosignatory export bundle` or "
        "/api/v1/letters/ID/bundle) without the network: the checkpoint's signature and "
        "witness cosignatures, every inclusion proof, every event by the register's rules "
        "(seals, self-signed signatures, attestations, the letter's lifecycle) and the "
        "registrar's seal on the list of entries. Then print the signatory list as of "
        "the checkpoint. Any failure is one line naming the check, with exit code 1. "
        "A large letter's state is kept in a temporary file (in SQLITE_TMPDIR or "
        "TMPDIR, about 250 bytes a signature) that has no name from the start, so its "
        "space is freed when the verifier ends, even if killed. See docs/bundle.md.",
    )
    verify.add_argument("bundle", metavar="BUNDLE", help="the bundle file, or - for stdin")
    verify.add_argument(
        "--log-key",
        action="append",
        default=[],
        metavar="VKEY",
        help="a log verifier key, or a file of them one a line (repeatable)",
    )
    verify.add_argument(
        "--witness",
        action="append",
        default=[],
        metavar="VKEY",
        help="a witness's cosignature verifier key, or a file of them (repeatable)",
    )
    verify.add_argument(
        "--min-witnesses",
        type=int,
        metavar="K",
        help="cosignatures required from the --witness keys (default: all of them)",
    )
    verify.add_argument(
        "--policy",
        metavar="FILE",
        help="a C2SP tlog-policy file: trusted logs, witnesses and quorum (instead of "
        "--log-key, --witness and --min-witnesses)",
    )
    verify.add_argument(
        "--consistency",
        metavar="CHECKPOINT",
        help="an older signed checkpoint of the log: prove the log only grew since",
    )
    source = verify.add_mutually_exclusive_group()
    source.add_argument(
        "--consistency-proof",
        metavar="FILE",
        help="the consistency proof, one base64 hash a line (`cosignatory log "
        "prove-consistency OLD NEW`)",
    )
    source.add_argument(
        "--server",
        metavar="URL",
        help="the register's URL: compute the consistency proof from its /log/tile/ tiles",
    )
    verify.add_argument("--json", action="store_true", help="print the result as JSON")
    verify.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="processes that check the lines' proofs and signatures ahead of the rules "
        "(default: one per core; 1: this process alone)",
    )
    verify.set_defaults(handler=verify_command)


def verify_command(args: argparse.Namespace) -> None:
    policy = _policy(args)
    if (args.consistency_proof or args.server) and not args.consistency:
        raise CommandError("--consistency-proof and --server go with --consistency CHECKPOINT")
    if args.workers is not None and args.workers < 1:
        raise CommandError("--workers must be at least 1")
    older_text = _read_file(args.consistency, "checkpoint") if args.consistency else None
    result = _verify_file(args.bundle, policy, args.workers)
    consistency = None
    if older_text is not None:
        older = open_older_checkpoint(older_text, result.checkpoint, policy.logs)
        sizes = consistency_sizes(older, result.checkpoint)
        proof = None
        if sizes is not None:
            if args.consistency_proof:
                proof = _proof_file(args.consistency_proof)
            elif args.server:
                proof = server_consistency_proof(args.server, *sizes)
        check_consistency(older, result.checkpoint, proof)
        consistency = older.size
    if args.json:
        _print_json(result, consistency)
    else:
        _print_result(result, consistency)


# -- inputs -------------------------------------------------------------------------------


def _read_file(name: str, what: str) -> str:
    try:
        return Path(name).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise CommandError(f"cannot read the {what} {name}: {error}") from None


def _vkeys(values: Iterable[str]) -> list[Verifier]:
    """Each value is a vkey or a file of vkeys, one a line."""
    keys: list[Verifier] = []
    for value in values:
        text = read_text_argument(value, "vkey")
        keys.extend(Verifier.from_vkey(line.strip()) for line in text.splitlines() if line.strip())
    return keys


def _policy(args: argparse.Namespace) -> Policy:
    if args.policy:
        if args.log_key or args.witness or args.min_witnesses is not None:
            raise CommandError("--policy replaces --log-key, --witness and --min-witnesses")
        try:
            return Policy.from_text(Path(args.policy).read_bytes())
        except OSError as error:
            raise CommandError(f"cannot read the policy {args.policy}: {error}") from None
    if not args.log_key:
        raise CommandError("give the log's verifier key with --log-key VKEY (or --policy FILE)")
    return Policy.from_keys(_vkeys(args.log_key), _vkeys(args.witness), args.min_witnesses)


def _verify_file(name: str, policy: Policy, workers: int | None) -> VerifiedBundle:
    from tqdm import tqdm

    stream: IO[bytes]
    if name == "-":
        stream, total = sys.stdin.buffer, None
    else:
        try:
            stream = open(name, "rb")  # noqa: SIM115 (closed below)
        except OSError as error:
            raise CommandError(f"cannot read the bundle {name}: {error.strerror}") from None
        total = Path(name).stat().st_size
    # On a terminal only (disable=None): a pipe or a log file gets no bar.
    bar = tqdm(total=total, unit="B", unit_scale=True, file=sys.stderr, disable=None, leave=False)
    try:
        with bar:
            return verify_bundle(read_lines(stream), policy, progress=bar.update, workers=workers)
    finally:
        if stream is not sys.stdin.buffer:
            stream.close()


def _proof_file(name: str) -> list[bytes]:
    hashes = []
    for number, line in enumerate(_read_file(name, "consistency proof").splitlines(), 1):
        try:
            raw = base64.b64decode(line.strip(), validate=True)
        except (binascii.Error, ValueError):
            raw = b""
        if len(raw) != HASH_SIZE:
            raise ConsistencyError(f"{name}: line {number} is not base64 of a 32-byte hash")
        hashes.append(raw)
    return hashes


# -- a consistency proof from a server's tiles --------------------------------------------


def _tile_width(size: int, level: int, index: int) -> int:
    """The number of hashes tile ``index`` at ``level`` holds in a tree of ``size``."""
    hashes = size >> (TILE_HEIGHT * level)
    return max(0, min(TILE_WIDTH, hashes - index * TILE_WIDTH))


def _get(url: str) -> bytes | None:
    """GET ``url``; return the body, or None for 404. Raises CommandError otherwise."""
    request = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=_TIMEOUT) as response:  # noqa: S310
            body: bytes = response.read(TILE_WIDTH * HASH_SIZE + 1)
            return body
    except urllib.error.HTTPError as error:
        if error.code == 404:
            return None
        raise CommandError(f"cannot read {url}: HTTP {error.code}") from None
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise CommandError(f"cannot read {url}: {reason}") from None


def server_consistency_proof(url: str, old_size: int, new_size: int) -> list[bytes]:
    """Compute the consistency proof from ``old_size`` to ``new_size`` from the tiles a
    tlog-tiles server serves under ``<url>/log/``.

    The proof is not trusted: :func:`check_consistency` verifies it against the two
    signed roots. Raises CommandError if the URL is not http(s) or a tile cannot be
    read, MalformedTileError if a tile is malformed.
    """
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise CommandError(f"--server {url!r} is not an http:// or https:// URL")
    prefix = url.rstrip("/") + "/log/"

    def read(keys: Iterable[tuple[int, int]]) -> Mapping[tuple[int, int], bytes]:
        tiles = {}
        for level, index in keys:
            width = _tile_width(new_size, level, index)
            if not width:
                continue
            body = _get(prefix + HashTile(level, index, width).path)
            if body is None and width < TILE_WIDTH:
                # tlog-tiles: a partial tile may be gone once the full one exists.
                body = _get(prefix + HashTile(level, index).path)
            if body is None:
                raise CommandError(f"{prefix}{HashTile(level, index, width).path} is not found")
            hashes = split_hash_tile(body)
            if len(hashes) < width:
                raise MalformedTileError(f"tile {level}/{index} has fewer than {width} hashes")
            tiles[(level, index)] = b"".join(hashes[:width])
        return tiles

    tree = TiledTree(new_size, read)
    tree.prefetch_for(old_size - 1, old_size)
    return consistency_proof(old_size, new_size, tree.range_hash)


# -- output -------------------------------------------------------------------------------


def _status(row: BundleSignatory) -> str:
    if row.voided:
        status = "voided (dispute upheld)"
    elif row.withdrawn_at is not None:
        status = f"withdrawn {format_time(row.withdrawn_at)}"
    else:
        status = "active"
    if row.on_earlier_version:
        status += ", earlier version"
    if row.key_revoked_at is not None:
        status += f", made before its key's revocation {format_time(row.key_revoked_at)}"
    return status


_HEADER = ("party", "name", "action", "version", "at", "evidence", "status")


def _cells(row: BundleSignatory) -> tuple[str, ...]:
    return (
        row.party,
        row.party_name(),
        row.action,
        str(row.version),
        format_time(row.at),
        row.evidence,
        _status(row),
    )


def _print_result(result: VerifiedBundle, consistency: int | None) -> None:
    cp = result.checkpoint
    witnessed = f", cosigned by {', '.join(result.witnesses)}" if result.witnesses else ""
    print(
        f"verified: letter {result.letter}, {result.entries} entries, checkpoint "
        f"{cp.origin} size {cp.size}{witnessed}"
    )
    if consistency is not None:
        print(f"consistent with the checkpoint of size {consistency}: the log only grew")
    # Two passes over the rows, the column widths first, and no table kept: a
    # million-signature letter's table took half again the memory of the replay.
    widths = [len(cell) for cell in _HEADER[:-1]]
    count = active = 0
    for row in result.iter_signatories():
        widths = [max(width, len(cell)) for width, cell in zip(widths, _cells(row), strict=False)]
        count += 1
        active += row.active
    print()
    for line in itertools.chain([_HEADER], map(_cells, result.iter_signatories())):
        cells = [cell.ljust(width) for cell, width in zip(line, widths, strict=False)]
        print("  ".join([*cells, line[-1]]))
    print(f"\n{count} signatories, {active} active")


def _print_json(result: VerifiedBundle, consistency: int | None) -> None:
    """Print :meth:`VerifiedBundle.to_json` (with ``consistent_with_size``), one row at
    a time."""
    count = active = 0
    for row in result.iter_signatories():
        count += 1
        active += row.active
    head = result.json_head(count, active)
    if consistency is not None:
        head["consistent_with_size"] = consistency
    rows = (row.to_json() for row in result.iter_signatories())
    print_json_with_list(head, "signatories", rows)
