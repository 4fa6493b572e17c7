"""C2SP tlog-policy: which logs and witnesses a verifier trusts, and the witness quorum.

A policy (https://c2sp.org/tlog-policy) is a text file of lines::

    log <vkey> [<url>]
    witness <name> <vkey> [<url>]
    group <name> all|any|<k> <name>...
    quorum <name>|none

A checkpoint is valid under a policy if one of the listed logs signed it and the
witnesses that cosigned it satisfy the quorum: a witness is satisfied by its
cosignature, a group by at least ``k`` of its members (tlog-policy §Defining a witness
group). :meth:`Policy.open_checkpoint` checks exactly that.

Log keys are signed-note Ed25519 (0x01) or ML-DSA-44 (0x06) keys named after the
log's origin; witness keys are tlog-cosignature Ed25519 (0x04) or ML-DSA-44 (0x06).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from cosignatory.tlog.checkpoint import Checkpoint
from cosignatory.tlog.errors import MalformedKeyError, TlogError, UnverifiedNoteError
from cosignatory.tlog.note import KeyType, Verifier, open_note

__all__ = [
    "MAX_POLICY_BYTES",
    "MalformedPolicyError",
    "Policy",
    "WitnessQuorumError",
    "WitnessedCheckpoint",
]

MAX_POLICY_BYTES = 1 << 20
NONE = "none"
"""The predefined quorum name that requires no cosignature."""

LOG_KEY_TYPES = (KeyType.ED25519, KeyType.MLDSA44)
WITNESS_KEY_TYPES = (KeyType.COSIGNATURE_ED25519, KeyType.MLDSA44)

# tlog-policy §Character set: tab, newline, 0x20-0x7E and any octet with the high bit.
_BAD_OCTET = re.compile(rb"[\x00-\x08\x0b-\x1f\x7f]")
_DECIMAL = re.compile(r"[1-9][0-9]{0,5}")


class MalformedPolicyError(TlogError):
    """A tlog-policy file does not follow C2SP tlog-policy."""

    code = "E_POLICY_MALFORMED"


class WitnessQuorumError(TlogError):
    """The witnesses that cosigned a checkpoint do not satisfy the policy's quorum."""

    code = "E_WITNESS_QUORUM"


@dataclass(frozen=True)
class Group:
    """A witness group: satisfied when at least ``threshold`` of ``members`` are."""

    threshold: int
    members: tuple[str, ...]


@dataclass(frozen=True)
class WitnessedCheckpoint:
    """A checkpoint verified under a policy: who signed it as the log, who cosigned it."""

    checkpoint: Checkpoint
    log_keys: tuple[Verifier, ...]
    witnesses: tuple[str, ...]
    """The names (in the policy) of the witnesses whose cosignatures verified."""


@dataclass(frozen=True)
class Policy:
    """A parsed trust policy. Build with :meth:`from_text` or :meth:`from_keys`.

    Building one raises MalformedPolicyError if two logs or two witnesses share a
    public key, a key has the wrong type for its role, or the quorum or a group names
    something not defined.
    """

    logs: tuple[Verifier, ...]
    witnesses: Mapping[str, Verifier] = field(default_factory=dict)
    groups: Mapping[str, Group] = field(default_factory=dict)
    quorum: str = NONE

    def __post_init__(self) -> None:
        object.__setattr__(self, "logs", tuple(self.logs))
        object.__setattr__(self, "witnesses", dict(self.witnesses))
        object.__setattr__(self, "groups", dict(self.groups))
        if not self.logs:
            raise MalformedPolicyError("a policy for verifying a checkpoint names a log")
        for log in self.logs:
            if log.key_type not in LOG_KEY_TYPES:
                raise MalformedPolicyError(f"log key {log.name} is a {log.type_name} key")
        for name, witness in self.witnesses.items():
            if witness.key_type not in WITNESS_KEY_TYPES:
                raise MalformedPolicyError(
                    f"witness {name} has a {witness.type_name} key, not a cosignature key"
                )
        # "Two vkeys are considered duplicate if they wrap the same underlying public key."
        for what, keys in (("log", self.logs), ("witness", tuple(self.witnesses.values()))):
            raw = [key.public_key for key in keys]
            if len(set(raw)) != len(raw):
                raise MalformedPolicyError(f"two {what} lines have the same public key")
        if self.quorum not in (NONE, *self.witnesses, *self.groups):
            raise MalformedPolicyError(f"the quorum names {self.quorum!r}, not defined")
        defined: set[str] = set(self.witnesses)
        for name, group in self.groups.items():
            if name in defined or name == NONE:
                raise MalformedPolicyError(f"the name {name!r} is defined twice")
            # Members are defined before the group (tlog-policy §Structure): no cycles.
            for member in group.members:
                if member not in defined:
                    raise MalformedPolicyError(f"group {name}'s member {member!r} is not defined")
            defined.add(name)
            if not 1 <= group.threshold <= len(group.members):
                raise MalformedPolicyError(f"group {name}'s threshold is not 1 to its size")
            if len(set(group.members)) != len(group.members):
                raise MalformedPolicyError(f"group {name} lists a member twice")

    # -- building ---------------------------------------------------------------------

    @classmethod
    def from_keys(
        cls,
        logs: Sequence[Verifier],
        witnesses: Sequence[Verifier] = (),
        min_witnesses: int | None = None,
    ) -> Policy:
        """Return the policy "one of ``logs``, and ``min_witnesses`` of ``witnesses``".

        Witnesses are named by their key names. ``min_witnesses`` defaults to all of
        them (none if there are none). Raises MalformedPolicyError if it is outside
        1..len(witnesses) while witnesses are given, or positive while none are.
        """
        named: dict[str, Verifier] = {}
        for witness in witnesses:
            if named.setdefault(witness.name, witness) != witness:
                raise MalformedPolicyError(f"two witness keys are named {witness.name}")
        if not named:
            if min_witnesses:
                raise MalformedPolicyError("--min-witnesses needs --witness keys")
            return cls(tuple(logs))
        threshold = len(named) if min_witnesses is None else min_witnesses
        if not 1 <= threshold <= len(named):
            raise MalformedPolicyError(f"the witness threshold must be 1 to {len(named)}")
        group = Group(threshold, tuple(named))
        name = "witnesses"
        while name in named:
            name += "'"
        return cls(tuple(logs), named, {name: group}, name)

    @classmethod
    def from_text(cls, text: str | bytes) -> Policy:
        """Parse a tlog-policy file. Returns the Policy.

        Raises MalformedPolicyError for a disallowed octet, an unknown keyword, a line
        with missing or extra items, a name defined twice or used before it is
        defined, a member listed twice in a group, a bad threshold, anything but
        exactly one quorum line, or no log line; MalformedKeyError for a bad vkey.
        """
        if isinstance(text, str):
            try:
                raw = text.encode("utf-8", "surrogateescape")
            except UnicodeEncodeError:
                # A lone surrogate that no file's bytes could have decoded to.
                raise MalformedPolicyError("a policy is text with no lone surrogates") from None
        else:
            raw = text
        if len(raw) > MAX_POLICY_BYTES:
            raise MalformedPolicyError(f"a policy is at most {MAX_POLICY_BYTES} bytes")
        if _BAD_OCTET.search(raw):
            raise MalformedPolicyError("a policy has no control characters but tab and newline")
        # Non-ASCII octets are opaque (names compare as octets): surrogateescape keeps
        # them one-to-one in str.
        body = raw.decode("utf-8", "surrogateescape")
        logs: list[Verifier] = []
        witnesses: dict[str, Verifier] = {}
        groups: dict[str, Group] = {}
        quorum: str | None = None
        for number, line in enumerate(body.split("\n"), start=1):
            items = line.replace("\t", " ").split()
            if not items or items[0].startswith("#"):
                continue
            keyword, args = items[0], items[1:]
            where = f"policy line {number}"
            if keyword == "log" and len(args) in (1, 2):
                logs.append(_vkey(args[0], where))
            elif keyword == "witness" and len(args) in (2, 3):
                _new_name(args[0], witnesses, groups, where)
                witnesses[args[0]] = _vkey(args[1], where)
            elif keyword == "group" and len(args) >= 3:
                _new_name(args[0], witnesses, groups, where)
                groups[args[0]] = _group(args[1], args[2:], witnesses, groups, where)
            elif keyword == "quorum" and len(args) == 1:
                if quorum is not None:
                    raise MalformedPolicyError(f"{where}: a policy has exactly one quorum line")
                if args[0] != NONE and args[0] not in witnesses and args[0] not in groups:
                    raise MalformedPolicyError(f"{where}: {args[0]!r} is not defined before")
                quorum = args[0]
            else:
                raise MalformedPolicyError(f"{where}: not a log, witness, group or quorum line")
        if quorum is None:
            raise MalformedPolicyError("a policy has exactly one quorum line")
        return cls(tuple(logs), witnesses, groups, quorum)

    def to_text(self) -> str:
        """Return a policy file that :meth:`from_text` parses back to this policy."""
        lines = [f"log {log.to_vkey()}" for log in self.logs]
        lines.extend(f"witness {name} {key.to_vkey()}" for name, key in self.witnesses.items())
        for name, group in self.groups.items():
            lines.append(f"group {name} {group.threshold} {' '.join(group.members)}")
        lines.append(f"quorum {self.quorum}")
        return "".join(line + "\n" for line in lines)

    # -- checking -----------------------------------------------------------------------

    def satisfied_by(self, cosigned: set[str]) -> bool:
        """True if the witnesses named in ``cosigned`` satisfy the quorum."""
        # Groups in definition order: every member is a witness or a group defined
        # before (checked when built), so one pass decides them all, with no recursion
        # however deeply a policy nests its groups.
        holds: dict[str, bool] = {NONE: True}
        holds.update((name, name in cosigned) for name in self.witnesses)
        for name, group in self.groups.items():
            holds[name] = sum(holds[member] for member in group.members) >= group.threshold
        return holds[self.quorum]

    def describe_quorum(self) -> str:
        """The quorum in words, for error messages ("2 of w1, w2, w3")."""
        if self.quorum == NONE:
            return "no cosignature"
        if self.quorum in self.witnesses:
            return f"a cosignature by {self.quorum}"
        group = self.groups[self.quorum]
        return f"{group.threshold} of {', '.join(group.members)}"

    def open_checkpoint(
        self, note_text: str | bytes, origin: str | None = None
    ) -> WitnessedCheckpoint:
        """Verify a signed checkpoint under this policy and parse it.

        Every signature by a key of the policy must verify; signatures by other keys
        are ignored (signed-note). Returns the WitnessedCheckpoint. Raises
        MalformedNoteError or MalformedCheckpointError for a malformed note,
        SignatureInvalidError if a known key's signature does not verify,
        UnverifiedNoteError if no listed log key named as the checkpoint's origin
        signed it (or ``origin`` is given and differs), and WitnessQuorumError if the
        cosignatures do not satisfy the quorum.
        """
        verified = open_note(note_text, [*self.logs, *self.witnesses.values()])
        checkpoint = Checkpoint.from_text(verified.text)
        if origin is not None and checkpoint.origin != origin:
            raise UnverifiedNoteError(f"checkpoint is for {checkpoint.origin!r}, not {origin!r}")
        # tlog-policy §Defining a log: the log key's name is the log's origin.
        log_keys = tuple(
            v for v in verified.verifiers if v in self.logs and v.name == checkpoint.origin
        )
        if not log_keys:
            raise UnverifiedNoteError(
                f"no trusted log key named {checkpoint.origin!r} signed the checkpoint"
            )
        cosigned = tuple(name for name, key in self.witnesses.items() if key in verified.verifiers)
        if not self.satisfied_by(set(cosigned)):
            have = ", ".join(cosigned) if cosigned else "no witness"
            raise WitnessQuorumError(
                f"the checkpoint is cosigned by {have}; the policy needs {self.describe_quorum()}"
            )
        return WitnessedCheckpoint(checkpoint, log_keys, cosigned)


def _vkey(text: str, where: str) -> Verifier:
    try:
        return Verifier.from_vkey(text)
    except MalformedKeyError as error:
        raise MalformedKeyError(f"{where}: {error}") from None


def _new_name(
    name: str, witnesses: Mapping[str, object], groups: Mapping[str, object], where: str
) -> None:
    if name == NONE or name in witnesses or name in groups:
        raise MalformedPolicyError(f"{where}: the name {name!r} is reserved or defined already")


def _group(
    threshold: str,
    members: Sequence[str],
    witnesses: Mapping[str, object],
    groups: Mapping[str, object],
    where: str,
) -> Group:
    for member in members:
        if member not in witnesses and member not in groups:
            raise MalformedPolicyError(f"{where}: member {member!r} is not defined before")
    if len(set(members)) != len(members):
        raise MalformedPolicyError(f"{where}: a name is listed twice in the group")
    if threshold == "all":
        k = len(members)
    elif threshold == "any":
        k = 1
    elif _DECIMAL.fullmatch(threshold):
        k = int(threshold)
    else:
        raise MalformedPolicyError(f"{where}: the threshold is all, any or a decimal number")
    if not 1 <= k <= len(members):
        raise MalformedPolicyError(f"{where}: the threshold must be 1 to {len(members)}")
    return Group(k, tuple(members))
