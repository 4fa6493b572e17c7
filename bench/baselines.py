"""The limits every figure is compared with, measured in the same run on the same machine.

Raw Ed25519 verification with ``cryptography`` (what the register and ``cosignatory
verify`` use) and with PyNaCl (libsodium), and bare ``hashlib.sha256`` calls. Each is
timed on one core, best of the run's rounds.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bench import report
from bench.run import Run

MESSAGE_BYTES = 220
"""About the size of a signed statement's canonical JSON."""


@dataclass(frozen=True)
class Limits:
    """Operations per second on one core."""

    ed25519_cryptography: float
    ed25519_pynacl: float | None
    sha256: float

    @property
    def ed25519(self) -> float:
        """The verify limit the register's own library reaches (``cryptography``)."""
        return self.ed25519_cryptography

    def to_json(self) -> dict[str, Any]:
        return {
            "ed25519_verify_per_s_cryptography": round(self.ed25519_cryptography),
            "ed25519_verify_per_s_pynacl": (
                None if self.ed25519_pynacl is None else round(self.ed25519_pynacl)
            ),
            "sha256_calls_per_s": round(self.sha256),
        }


def _best_rate(count: int, work: Callable[[], object], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - t0)
    return count / best


def _samples(count: int) -> list[tuple[bytes, bytes, bytes]]:
    """``count`` (public key, message, signature) triples, each with its own key."""
    found = []
    for n in range(count):
        key = Ed25519PrivateKey.from_private_bytes(hashlib.sha256(b"k%d" % n).digest())
        message = hashlib.sha256(b"m%d" % n).digest() * (MESSAGE_BYTES // 32 + 1)
        message = message[:MESSAGE_BYTES]
        found.append((key.public_key().public_bytes_raw(), message, key.sign(message)))
    return found


def ed25519_cryptography(count: int, repeat: int) -> float:
    """Verifications per second with ``cryptography``, loading each public key as the
    verifier of a bundle does."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    samples = _samples(count)

    def work() -> None:
        for public, message, signature in samples:
            Ed25519PublicKey.from_public_bytes(public).verify(signature, message)

    return _best_rate(count, work, repeat)


def ed25519_pynacl(count: int, repeat: int) -> float | None:
    """Verifications per second with PyNaCl (libsodium), or None if it is not installed."""
    try:
        from nacl.signing import VerifyKey
    except ImportError:
        return None
    samples = _samples(count)

    def work() -> None:
        for public, message, signature in samples:
            VerifyKey(public).verify(message, signature)

    return _best_rate(count, work, repeat)


def sha256(count: int, repeat: int) -> float:
    """Bare ``hashlib.sha256(x).digest()`` calls per second on 166-byte inputs."""
    data = bytes(166)
    digest = hashlib.sha256

    def work() -> None:
        for _ in range(count):
            digest(data).digest()

    return _best_rate(count, work, repeat)


def measure_limits(repeat: int = 3, signatures: int = 5_000) -> Limits:
    """Measure every limit, best of ``repeat`` rounds."""
    return Limits(
        ed25519_cryptography(signatures, repeat),
        ed25519_pynacl(signatures, repeat),
        sha256(200_000, repeat),
    )


def bench_limits(run: Run) -> dict[str, Any]:
    """Print the limits the other benchmarks compare with."""
    limits = run.limits
    print("\n## limits: raw operations per second on one core, this machine, this run\n")
    rows = [
        ["Ed25519 verify, cryptography (the register's library)", report.count(limits.ed25519)],
        [
            "Ed25519 verify, PyNaCl (libsodium)",
            "not installed"
            if limits.ed25519_pynacl is None
            else report.count(limits.ed25519_pynacl),
        ],
        ["hashlib.sha256(166 bytes).digest()", report.count(limits.sha256)],
    ]
    print(report.table(["operation", "per second"], rows))
    return limits.to_json()
